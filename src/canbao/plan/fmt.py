"""Chinese display of plan values: 万人, 万元/亿元, percentages (Decimal in, str out)."""

from __future__ import annotations

from decimal import Decimal

from canbao.plan.indicators import Indicator
from canbao.standards.money import round_half_up


def _fixed(value: Decimal, places: int) -> str:
    quantum = Decimal(1).scaleb(-places)
    return f"{round_half_up(value, quantum):,f}"


def pct(value: Decimal | None, places: int = 1) -> str:
    """0.7479 → 74.8%"""
    if value is None:
        return "—"
    return _fixed(value * 100, places) + "%"


def points(value: Decimal | None) -> str:
    """A gap as 百分点: 0.0123 → 1.2个百分点 (absolute value)."""
    if value is None:
        return "—"
    return _fixed(abs(value) * 100, 1) + "个百分点"


def _trim(text: str) -> str:
    return text.rstrip("0").rstrip(".") if "." in text else text


def value(ind: Indicator, v: Decimal | None) -> str:
    """A base-measure value with a readable unit: 908000 persons → 90.8万人."""
    if v is None:
        return "—"
    if ind.measure == "persons" and ind.display_unit == "人":  # small counts (land farmers)
        return _fixed(v, 0) + "人"
    if ind.measure == "persons":
        return _trim(_fixed(v / 10_000, 2)) + "万人"
    if ind.measure == "yuan":
        if abs(v) >= 100_000_000:
            return _trim(_fixed(v / 100_000_000, 2)) + "亿元"
        return _trim(_fixed(v / 10_000, 1)) + "万元"
    return _trim(_fixed(v * 100, 2)) + "%"
