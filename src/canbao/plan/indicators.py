"""Indicators of the plan, their measure (persons, yuan, ratio) and direction.

Values are stored in base measures: enrolment in persons, collection in yuan, rates and ratios as
fractions (``Decimal("0.9")`` for 90%). Display units (万人, 万元, 亿元, %) are converted with
:func:`to_base` / :func:`from_base`, always in :class:`~decimal.Decimal`.

Direction: a *minimum* target is met when the actual is at least the target (enrolment,
collection, clearance rate, subsidy growth); a *maximum* is a ceiling (new arrears as a share of
the year's amount due).

Attachment: the plan's task tables. 附件1 (任务分解表) holds every indicator but one;
``land_farmer.pension`` (被征地农民参加基本养老保险人数, in persons) is the one of 附件3
(被征地农民参加基本养老保险任务分解表, :mod:`canbao.plan.land_farmer_table`).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Literal

Measure = Literal["persons", "yuan", "ratio"]
Direction = Literal["minimum", "maximum"]
Category = Literal[
    "enrolled", "collected", "clearance_rate", "new_arrears_ratio", "subsidy_growth", "land_farmer"
]


@dataclass(frozen=True)
class Indicator:
    code: str
    category: Category
    label: str  # column label within its category (scheme or ownership type)
    measure: Measure
    direction: Direction
    display_unit: str  # unit of measure in the 附件1 and in reports
    attachment: int = 1  # the plan's task table that sets it: 附件1, or 附件3 (land farmers)

    @property
    def name(self) -> str:
        """Full Chinese name, e.g. 城镇职工基本养老保险参保人数."""
        return f"{self.label}{CATEGORY_SUFFIX[self.category]}"

    @property
    def cumulative(self) -> bool:
        """Enrolment (land farmers' too) and collection grow through the year; rates do not
        (no time progress)."""
        return self.category in ("enrolled", "collected", "land_farmer")


CATEGORY_LABELS: dict[str, str] = {
    "enrolled": "参保人数",
    "collected": "基金征缴",
    "clearance_rate": "清欠率",
    "new_arrears_ratio": "新欠占当年应缴额比例",
    "subsidy_growth": "争取补助资金增长",
    "land_farmer": "被征地农民参保",
}
CATEGORY_SUFFIX: dict[str, str] = {
    "enrolled": "参保人数",
    "collected": "基金征缴",
    "clearance_rate": "清欠率",
    "new_arrears_ratio": "新欠比例",
    "subsidy_growth": "",
    "land_farmer": "人数",
}

_SCHEMES = (
    ("employee_pension", "城镇职工基本养老保险"),
    ("medical", "城镇基本医疗保险"),  # employee plus urban resident medical
    ("work_injury", "工伤保险"),
    ("maternity", "生育保险"),
    ("unemployment", "失业保险"),
    ("resident_pension", "城乡居民养老保险"),
)
_OWNERSHIP = (("private", "民营私营企业"), ("public", "国有集体企业和事业单位"))


@cache
def indicators() -> tuple[Indicator, ...]:
    out: list[Indicator] = []
    for code, label in _SCHEMES:
        out.append(Indicator(f"enrolled.{code}", "enrolled", label, "persons", "minimum", "万人"))
    for code, label in _SCHEMES:
        out.append(Indicator(f"collected.{code}", "collected", label, "yuan", "minimum", "万元"))
    for code, label in _OWNERSHIP:
        out.append(
            Indicator(f"clearance_rate.{code}", "clearance_rate", label, "ratio", "minimum", "%")
        )
    for code, label in _OWNERSHIP:
        out.append(
            Indicator(
                f"new_arrears_ratio.{code}", "new_arrears_ratio", label, "ratio", "maximum", "%"
            )
        )
    out.append(
        Indicator("subsidy_growth", "subsidy_growth", "争取补助资金增长率", "ratio", "minimum", "%")
    )
    out.append(
        Indicator(
            "land_farmer.pension",
            "land_farmer",
            "被征地农民参加基本养老保险",
            "persons",
            "minimum",
            "人",
            attachment=3,
        )
    )
    return tuple(out)


@cache
def _by_code() -> dict[str, Indicator]:
    return {i.code: i for i in indicators()}


def _key(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


@cache
def _by_name() -> dict[str, Indicator]:
    idx: dict[str, Indicator] = {}
    for i in indicators():
        for k in (i.code, i.name, f"{CATEGORY_LABELS[i.category]}{i.label}"):
            idx[_key(k)] = i
        idx[_key(f"{i.label}{CATEGORY_LABELS[i.category]}")] = i
    return idx


def indicator(code: str) -> Indicator:
    try:
        return _by_code()[code]
    except KeyError:
        raise KeyError(code) from None


def resolve_indicator(text: object, category_label: object = None) -> Indicator | None:
    """Find an indicator by code, full name, or (category label, column label) as in a 附件1."""
    if text is None:
        return None
    key = _key(str(text))
    if category_label is not None:
        cat = _key(str(category_label))
        hit = _by_name().get(cat + key) or _by_name().get(key + cat)
        if hit is not None:
            return hit
    return _by_name().get(key)


# --- units of measure ------------------------------------------------------------------------

# factor from the display unit to the base measure
UNIT_FACTORS: dict[Measure, dict[str, Decimal]] = {
    "persons": {"人": Decimal(1), "万人": Decimal(10_000)},
    "yuan": {"元": Decimal(1), "万元": Decimal(10_000), "亿元": Decimal(100_000_000)},
    "ratio": {"%": Decimal("0.01"), "％": Decimal("0.01"), "百分比": Decimal("0.01")},
}
_QUANTUM: dict[Measure, Decimal] = {
    "persons": Decimal(1),
    "yuan": Decimal("0.01"),
    "ratio": Decimal("0.000001"),
}


def factor(measure: Measure, display_unit: str) -> Decimal | None:
    return UNIT_FACTORS[measure].get(_key(display_unit).strip("()（）"))


def normalize_base(measure: Measure, value: Decimal) -> Decimal:
    """Round to the measure's resolution (whole persons, fen, 1e-6) and drop trailing zeros."""
    q = value.quantize(_QUANTUM[measure])
    if q == q.to_integral_value():
        return q.quantize(Decimal(1))
    return q.normalize()


def to_base(ind: Indicator, value: Decimal, display_unit: str | None = None) -> Decimal:
    """A value in ``display_unit`` (default: the indicator's) → base measure."""
    f = factor(ind.measure, display_unit or ind.display_unit)
    if f is None:
        raise ValueError(f"unit {display_unit!r} does not fit {ind.measure}")
    return normalize_base(ind.measure, value * f)


def from_base(ind: Indicator, value: Decimal, display_unit: str | None = None) -> Decimal:
    f = factor(ind.measure, display_unit or ind.display_unit)
    if f is None:
        raise ValueError(f"unit {display_unit!r} does not fit {ind.measure}")
    out = value / f
    return out.normalize() if out != out.to_integral_value() else out.quantize(Decimal(1))
