"""Due dates and late fees (滞纳金): the one definition, in Python and as SQL for the ledger.

**Due date** of contribution period ``YYYY-MM`` — rule ``end_of_next_month`` (the default): the
last day of the following month (2017-01 → 2017-02-28). 社会保险法 art. 60 has employers pay on
time and MOHRSS Order No. 20 (2013) has them declare and pay monthly by the deadline the
agency sets; the end of the following month is the usual deadline (a policy setting:
:mod:`canbao.collection.policy`).

**Days charged** — from a start day up to an end day, both counted (days = end − start + 1),
never negative, less the days an approved deferral (缓缴) covers:

* ``after_due`` (the default): start = the day after the due date, end = the payment date
  (for unpaid principal: the as-of date), so days = until − due. Paying on the due date costs
  nothing, one day late costs one day. Source: 社会保险法 art. 86 "自欠缴之日起，按日加收万分之五"
  — the contribution is in arrears from the day after it was due.
* ``second_month_start``: the rule of the common collection system (domain-rules §4): start =
  the 1st of the second month after the contribution month (with the default due date: the
  1st of the month after the due date's month), end = the day before the payment is posted,
  so days = until − last day of the due date's month − 1. January contributions posted on
  10 April 2017: 1 March – 9 April = 31 + 9 = 40 days.

**Fee** = principal (fen) × days × rate ÷ 10,000 — simple interest at 5 per 10,000 per day
(0.05%, art. 86) — computed exactly in integers and rounded half-up to the fen once
(:func:`canbao.standards.money.div_half_up`). The ledger sums principal × days per employer ×
scheme × period and rounds the sum once (:func:`fee_from_principal_days_sql`).

The SQL twins are DuckDB SQL built from functions Spark SQL also has (``make_date``,
``last_day``, ``date_diff`` → ``DATEDIFF``, ``greatest``, ``//`` → ``DIV``), so that the Spark
engine's sqlglot transpilation (:func:`canbao.registry.engine.to_spark_sql`) carries them over.
The integer expressions are BIGINT: principal × days × rate must stay below 9.2·10¹⁸.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass

from canbao.errors import DataError, UsageError
from canbao.standards.money import div_half_up

DUE_RULES = ("end_of_next_month",)
DAY_RULES = ("after_due", "second_month_start")
DEFAULT_DUE_RULE = "end_of_next_month"
DEFAULT_DAY_RULE = "after_due"
DEFAULT_RATE = 5  # per 10,000 per day (社会保险法 art. 86)
PER = 10_000

_PERIOD = re.compile(r"([0-9]{4})-(0[1-9]|1[0-2])", re.ASCII)

Deferral = tuple[dt.date, dt.date]  # an approved deferral, first and last day, both counted


@dataclass(frozen=True)
class LateFee:
    days: int  # days charged
    fee_fen: int


def _rule(rule: str, known: tuple[str, ...]) -> str:
    if rule not in known:
        what = "缴费期限规则" if known is DUE_RULES else "滞纳金计息天数规则"
        kind = "due-date" if known is DUE_RULES else "late-fee day"
        raise UsageError(
            f"未知的{what}：{rule}（可选：{'、'.join(known)}）", f"unknown {kind} rule {rule!r}"
        )
    return rule


def _rate(rate: int) -> int:
    if isinstance(rate, bool) or not isinstance(rate, int) or rate < 0:
        raise UsageError(f"滞纳金费率应为非负整数（每日万分之几）：{rate}", f"bad rate {rate!r}")
    return rate


def parse_period(period: str) -> tuple[int, int]:
    """``"2017-01"`` → (2017, 1); anything else → :class:`DataError`."""
    m = _PERIOD.fullmatch(period) if isinstance(period, str) else None
    if m is None:
        raise DataError(f"缴费所属期应为 YYYY-MM：{period!r}", f"bad period {period!r}")
    return int(m.group(1)), int(m.group(2))


def _month_end(year: int, month: int) -> dt.date:
    return dt.date(year, month, calendar.monthrange(year, month)[1])


def due_date(period: str, rule: str = DEFAULT_DUE_RULE) -> dt.date:
    """The due date of contribution period ``YYYY-MM``: 2017-01 → 2017-02-28."""
    _rule(rule, DUE_RULES)
    year, month = parse_period(period)
    year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return _month_end(year, month)


def due_date_sql(period_col: str, rule: str = DEFAULT_DUE_RULE) -> str:
    """SQL twin of :func:`due_date` for a ``YYYY-MM`` text column (a DATE)."""
    _rule(rule, DUE_RULES)
    y = f"CAST(substr({period_col}, 1, 4) AS INTEGER)"
    m = f"CAST(substr({period_col}, 6, 2) AS INTEGER)"
    # the 1st of the following month, then its last day
    return f"last_day(make_date({y} + {m} // 12, {m} % 12 + 1, 1))"


def _charged_span(due: dt.date, until: dt.date, rule: str) -> tuple[dt.date, dt.date]:
    """First and last charged day (the span is empty when last < first)."""
    _rule(rule, DAY_RULES)
    if rule == "after_due":
        return due + dt.timedelta(days=1), until
    return _month_end(due.year, due.month) + dt.timedelta(days=1), until - dt.timedelta(days=1)


def _covered(first: dt.date, last: dt.date, deferrals: Iterable[Deferral]) -> int:
    """Days of [first, last] inside at least one deferral (overlapping deferrals count once)."""
    spans = []
    for start, end in deferrals:
        if end < start:
            raise DataError(
                f"缓缴期间的结束日早于开始日：{start} 至 {end}", f"deferral {start}..{end}"
            )
        lo, hi = max(start, first), min(end, last)
        if lo <= hi:
            spans.append((lo, hi))
    covered, reached = 0, first - dt.timedelta(days=1)
    for lo, hi in sorted(spans):
        lo = max(lo, reached + dt.timedelta(days=1))
        if lo <= hi:
            covered += (hi - lo).days + 1
            reached = hi
    return covered


def late_days(
    due: dt.date, until: dt.date, rule: str = DEFAULT_DAY_RULE, deferrals: Iterable[Deferral] = ()
) -> int:
    """Days charged for principal due on ``due`` and paid (or still unpaid) on ``until``, less
    the days approved deferrals cover; never negative."""
    first, last = _charged_span(due, until, rule)
    if last < first:
        return 0
    return (last - first).days + 1 - _covered(first, last, deferrals)


def days_sql(due_col: str, until_col: str, rule: str = DEFAULT_DAY_RULE) -> str:
    """SQL twin of :func:`late_days` without deferrals (an INTEGER/BIGINT expression)."""
    _rule(rule, DAY_RULES)
    if rule == "after_due":
        return f"greatest(date_diff('day', {due_col}, {until_col}), 0)"
    return f"greatest(date_diff('day', last_day({due_col}), {until_col}) - 1, 0)"


def late_fee_fen(principal_fen: int, days: int, rate_per_10000_per_day: int = DEFAULT_RATE) -> int:
    """principal × days × rate ÷ 10,000, exact, rounded half-up to the fen once:
    (100000, 41, 5) → 100000 × 41 × 5 / 10000 = 2050 fen."""
    if isinstance(days, bool) or not isinstance(days, int) or days < 0:
        raise UsageError(f"滞纳天数应为非负整数：{days}", f"bad days {days!r}")
    return div_half_up(principal_fen * days * _rate(rate_per_10000_per_day), PER)


def late_fee(
    principal_fen: int,
    period: str,
    until: dt.date,
    rule: str = DEFAULT_DAY_RULE,
    deferrals: Iterable[Deferral] = (),
    *,
    due_rule: str = DEFAULT_DUE_RULE,
    rate_per_10000_per_day: int = DEFAULT_RATE,
) -> LateFee:
    """The late fee on ``principal_fen`` of contribution period ``period`` paid (or still unpaid)
    on ``until``; no fee on a principal of zero or less (a credit)."""
    days = late_days(due_date(period, due_rule), until, rule, deferrals)
    fee = late_fee_fen(principal_fen, days, rate_per_10000_per_day) if principal_fen > 0 else 0
    return LateFee(days, fee)


def fee_numerator_sql(sum_principal_days_col: str, rate: int = DEFAULT_RATE) -> str:
    """SQL: a (summed) principal-fen × days → the exact, unrounded fee in 1/10,000 fen
    (principal × days × the rate's numerator over :data:`PER`; a BIGINT)."""
    return f"(CAST({sum_principal_days_col} AS BIGINT) * {_rate(rate)})"


def fee_from_numerator_sql(numerator_col: str) -> str:
    """SQL: an exact fee in 1/10,000 fen (:func:`fee_numerator_sql`) → the fee in fen, half-up
    once (a BIGINT): the integer arithmetic of :func:`late_fee_fen`
    (:func:`canbao.standards.money.div_half_up` by :data:`PER`), a half away from zero for
    negative values."""
    n = f"CAST({numerator_col} AS BIGINT)"
    half = PER // 2
    return f"(CASE WHEN {n} >= 0 THEN ({n} + {half}) // {PER} ELSE -(({half} - {n}) // {PER}) END)"


def fee_from_principal_days_sql(sum_principal_days_col: str, rate: int = DEFAULT_RATE) -> str:
    """SQL: a (summed) principal-fen × days → the fee in fen, half-up once (a BIGINT)."""
    return fee_from_numerator_sql(fee_numerator_sql(sum_principal_days_col, rate))


def late_fee_sql(principal_fen_col: str, days_col: str, rate: int = DEFAULT_RATE) -> str:
    """SQL twin of :func:`late_fee_fen` on a principal column and a days column."""
    return fee_from_principal_days_sql(
        f"CAST({principal_fen_col} AS BIGINT) * CAST({days_col} AS BIGINT)", rate
    )
