"""Progress against the plan as of a date: completion, time progress and the gap.

Definitions (all values Decimal fractions, 4 decimal places):

* **time progress** of a period at date *d* = days elapsed (inclusive of *d*) / days in the period,
  clipped to [0, 1]. 2017-06-30 in the year 2017 → 181/365 = 0.4959.
* **completion** of a *minimum* target (enrolment, collection, clearance rate, subsidy growth)
  = actual / target (may exceed 1).
* **completion** of a *maximum* target (new-arrears ratio, a ceiling) = max(0, 2 − actual/limit):
  exactly at the limit → 1 (100%), no new arrears at all → 2 (200%), twice the limit or more → 0.
  It is linear, bounded and defined when actual is 0 (limit/actual is not).
* **benchmark**: cumulative indicators (enrolled.*, collected.*) are compared with time progress;
  rates and ratios are judged against their target at any date, so their benchmark is 1.
* **gap** = completion − benchmark; negative means behind.
* **met** = the target itself is already reached (actual ≥ target, or ≤ for a maximum).

Enrolment targets in the plan are year-end stocks (截至2017年底参保人数), so completion of an
enrolment stock is high early in the year; the gap to time progress is still the figure the
bureau's 通报 uses.

Key-group targets (重点群体, :mod:`canbao.plan.key_groups`) are computed the same way from the
key-group actuals and kept apart (:attr:`Progress.group_rows`): they are shown in their own
section and never enter the ranking or the composite score.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from canbao.plan.actuals import ActualsMap, GroupActualsMap
from canbao.plan.indicators import Indicator, indicator
from canbao.plan.model import Period, Phase, Plan, Target
from canbao.standards.money import round_half_up

Q = Decimal("0.0001")
ONE = Decimal(1)


def q(value: Decimal) -> Decimal:
    return round_half_up(value, Q)


def time_progress(period: Period, as_of: date) -> Decimal:
    elapsed = (as_of - period.start).days + 1
    share = Decimal(max(0, min(elapsed, period.days))) / Decimal(period.days)
    return q(share)


def completion(ind: Indicator, target: Decimal, actual: Decimal) -> Decimal:
    if ind.direction == "minimum":
        if target == 0:
            return ONE
        return q(actual / target)
    if target == 0:
        return ONE if actual <= 0 else Decimal(0)
    return q(max(Decimal(0), 2 - actual / target))


def is_met(ind: Indicator, target: Decimal, actual: Decimal) -> bool:
    return actual >= target if ind.direction == "minimum" else actual <= target


@dataclass(frozen=True)
class ProgressRow:
    unit: str
    indicator: str
    period: str
    target: Decimal
    actual: Decimal | None
    completion: Decimal | None
    benchmark: Decimal  # time progress (cumulative) or 1 (rates)
    gap: Decimal | None
    met: bool | None
    group: str | None = None  # a key group's code: a 重点群体 target

    @property
    def ind(self) -> Indicator:
        return indicator(self.indicator)

    @property
    def behind(self) -> bool:
        return self.gap is not None and self.gap < 0


@dataclass(frozen=True)
class Progress:
    plan_code: str
    as_of: date
    period: Period
    time_progress: Decimal
    phase: Phase | None
    rows: tuple[ProgressRow, ...]
    actuals_label: str = ""
    group_rows: tuple[ProgressRow, ...] = ()  # key-group targets (not ranked, not scored)

    def row(self, unit: str, indicator_code: str) -> ProgressRow | None:
        for r in self.rows:
            if r.unit == unit and r.indicator == indicator_code:
                return r
        return None

    def for_unit(self, unit: str) -> list[ProgressRow]:
        return [r for r in self.rows if r.unit == unit]

    @property
    def has_actuals(self) -> bool:
        return any(r.actual is not None for r in self.rows)

    def to_records(self) -> list[dict[str, object]]:
        return [
            {
                "unit": r.unit,
                "indicator": r.indicator,
                "period": r.period,
                "target": r.target,
                "actual": r.actual,
                "completion": r.completion,
                "benchmark": r.benchmark,
                "gap": r.gap,
                "met": r.met,
            }
            for r in self.rows
        ]


def compute_progress(
    plan: Plan,
    actuals: ActualsMap,
    as_of: date,
    *,
    period: str | None = None,
    actuals_label: str = "",
    group_actuals: GroupActualsMap | None = None,
) -> Progress:
    """Progress of every target of ``period`` (default: the plan's) given ``actuals``; the
    key-group targets against ``group_actuals`` ({(unit, indicator, group): value})."""
    per = plan.period
    if period is not None and period != per.code:
        raise ValueError(f"only the plan period {per.code} is supported, not {period}")
    tp = time_progress(per, as_of)
    rows = tuple(_row(t, actuals.get((t.unit, t.indicator)), tp) for t in _targets(plan, per.code))
    grouped = group_actuals or {}
    group_rows = tuple(
        _row(t, grouped.get((t.unit, t.indicator, t.group)), tp)
        for t in plan.group_targets
        if t.period == per.code and t.group is not None
    )
    return Progress(
        plan.code, as_of, per, tp, plan.phase_at(as_of), rows, actuals_label, group_rows
    )


def _row(t: Target, actual: Decimal | None, tp: Decimal) -> ProgressRow:
    ind = t.ind
    bench = tp if ind.cumulative else ONE
    if actual is None:
        return ProgressRow(
            t.unit, t.indicator, t.period, t.value, None, None, bench, None, None, t.group
        )
    comp = completion(ind, t.value, actual)
    return ProgressRow(
        t.unit,
        t.indicator,
        t.period,
        t.value,
        actual,
        comp,
        bench,
        q(comp - bench),
        is_met(ind, t.value, actual),
        t.group,
    )


def _targets(plan: Plan, period: str) -> Iterable[Target]:
    """The plan's own targets of ``period`` (key-group targets apart)."""
    return (t for t in plan.targets if t.period == period and t.group is None)
