"""The risk model's weights as data: ``data/risk_weights.toml`` (or a bureau's own file).

A signal scores ``min(cap, points_per_unit × value)`` when its value reaches ``threshold`` (else
0); the employer's score is the sum over signals. The industry and size signals take their value
from the tables ``industry_points`` and ``size_bands``; ``[ability]`` holds the thresholds of the
ability to pay (:mod:`canbao.audit.ability`) and ``[plan]`` the audit plan's defaults
(:mod:`canbao.audit.targets`). A file that breaks a rule is a :class:`~canbao.errors.DataError`
naming the field.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from canbao.errors import DataError, InputFileError

FORMAT = "canbao-audit-weights/1"
SIGNALS = (
    "base_short", "headcount_short", "money_at_stake", "selective", "late_enrolment",
    "arrears", "agreement_breach", "industry", "size",
)  # fmt: skip
DUNNING_STATES = ("notice", "order", "agreement", "referred", "enforcement")


@dataclass(frozen=True)
class Signal:
    name: str
    label: str
    unit: str
    points_per_unit: float
    cap: float
    threshold: float


@dataclass(frozen=True)
class Ability:
    trend_months: int
    growth_good: float
    growth_poor: float
    paid_good: float
    paid_poor: float
    closed_status: tuple[str, ...]


@dataclass(frozen=True)
class PlanDefaults:
    top_per_county: int
    audits_per_auditor_month: int
    lookback_months: int
    enforcement_states: tuple[str, ...]
    min_score: float


@dataclass(frozen=True)
class Weights:
    signals: dict[str, Signal]
    industry_points: dict[str, float]
    size_bands: tuple[tuple[int, float], ...]  # (min_staff, points), ascending
    enrolment_days: int
    ability: Ability
    plan: PlanDefaults
    source: str


def _need(table: dict[str, Any], key: str, where: str) -> Any:
    if key not in table:
        raise DataError(f"稽核权重文件缺少字段 {where}.{key}", f"weights: missing {where}.{key}")
    return table[key]


def _number(v: Any, where: str, lo: float = 0.0) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or v < lo:
        raise DataError(
            f"稽核权重文件字段 {where} 应为不小于 {lo:g} 的数，实为 {v!r}",
            f"weights: {where} must be a number >= {lo}",
        )
    return float(v)


def _int(v: Any, where: str, lo: int = 0) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < lo:
        raise DataError(
            f"稽核权重文件字段 {where} 应为不小于 {lo} 的整数，实为 {v!r}",
            f"weights: {where} must be an integer >= {lo}",
        )
    return v


def _signal(name: str, raw: Any) -> Signal:
    where = f"signals.{name}"
    if not isinstance(raw, dict):
        raise DataError(f"稽核权重文件缺少 [{where}]", f"weights: missing [{where}]")
    return Signal(
        name,
        str(_need(raw, "label", where)),
        str(raw.get("unit", "")),
        _number(_need(raw, "points_per_unit", where), f"{where}.points_per_unit"),
        _number(_need(raw, "cap", where), f"{where}.cap"),
        _number(_need(raw, "threshold", where), f"{where}.threshold"),
    )


def _ability(raw: dict[str, Any]) -> Ability:
    a = Ability(
        _int(_need(raw, "trend_months", "ability"), "ability.trend_months", 1),
        _number(_need(raw, "growth_good", "ability"), "ability.growth_good"),
        _number(_need(raw, "growth_poor", "ability"), "ability.growth_poor"),
        _number(_need(raw, "paid_good", "ability"), "ability.paid_good"),
        _number(_need(raw, "paid_poor", "ability"), "ability.paid_poor"),
        tuple(str(x) for x in _need(raw, "closed_status", "ability")),
    )
    if a.growth_poor > a.growth_good or a.paid_poor > a.paid_good:
        raise DataError(
            "稽核权重文件 [ability]：“较差”的界限不能高于“正常”的界限",
            "weights: ability poor thresholds above good ones",
        )
    return a


def _plan(raw: dict[str, Any]) -> PlanDefaults:
    states = tuple(str(x) for x in _need(raw, "enforcement_states", "plan"))
    bad = [x for x in states if x not in DUNNING_STATES]
    if bad:
        raise DataError(
            f"稽核权重文件 plan.enforcement_states 含未知的催缴状态：{'、'.join(bad)}"
            f"（可选：{'、'.join(DUNNING_STATES)}）",
            f"weights: unknown dunning states {bad}",
        )
    return PlanDefaults(
        _int(_need(raw, "top_per_county", "plan"), "plan.top_per_county", 1),
        _int(_need(raw, "audits_per_auditor_month", "plan"), "plan.audits_per_auditor_month", 1),
        _int(_need(raw, "lookback_months", "plan"), "plan.lookback_months", 0),
        states,
        _number(_need(raw, "min_score", "plan"), "plan.min_score"),
    )


def parse(data: dict[str, Any], source: str) -> Weights:
    """The weights of a parsed TOML document (checked)."""
    if data.get("format") != FORMAT:
        raise DataError(
            f"稽核权重文件格式应为 {FORMAT}：{source}", f"weights: format must be {FORMAT}"
        )
    raw_signals = data.get("signals", {})
    signals = {name: _signal(name, raw_signals.get(name)) for name in SIGNALS}
    unknown = sorted(set(raw_signals) - set(SIGNALS))
    if unknown:
        raise DataError(
            f"稽核权重文件含未知信号：{'、'.join(unknown)}", f"weights: unknown signals {unknown}"
        )
    industry = {
        str(k): _number(v, f"industry_points.{k}")
        for k, v in data.get("industry_points", {}).items()
    }
    bands = sorted(
        (
            _int(_need(b, "min_staff", "size_bands"), "size_bands.min_staff", 1),
            _number(_need(b, "points", "size_bands"), "size_bands.points"),
        )
        for b in data.get("size_bands", [])
    )
    money = data.get("money", {})
    return Weights(
        signals,
        industry,
        tuple(bands),
        _int(_need(money, "enrolment_days", "money"), "money.enrolment_days", 1),
        _ability(_need(data, "ability", "")),
        _plan(_need(data, "plan", "")),
        source,
    )


def load(path: Path | None = None) -> Weights:
    """The weights of ``path``, else the shipped ``data/risk_weights.toml``."""
    if path is None:
        text = resources.files("canbao.audit").joinpath("data/risk_weights.toml").read_text("utf-8")
        source = "canbao/audit/data/risk_weights.toml"
    else:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise InputFileError(
                f"无法读取稽核权重文件：{path}（{e}）", f"cannot read weights {path}: {e}"
            ) from e
        source = str(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise DataError(f"稽核权重文件不是有效的 TOML：{source}（{e}）", f"bad TOML: {e}") from e
    return parse(data, source)
