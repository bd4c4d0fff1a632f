"""Due dates and late fees: known answers worked by hand per rule, Python = DuckDB (= Spark: in
tests/registry/test_spark_equivalence.py, on the module's one Spark session),
fees never decrease with time, nothing to pay on or before the due date."""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb
import pytest
from hypothesis import given
from hypothesis import strategies as st

from canbao.collection.late_fees import (
    DAY_RULES,
    LateFee,
    days_sql,
    due_date,
    due_date_sql,
    fee_from_principal_days_sql,
    late_days,
    late_fee,
    late_fee_fen,
    late_fee_sql,
)
from canbao.errors import DataError, UsageError
from canbao.standards.money import div_half_up

D = dt.date


_CON = duckdb.connect()  # in memory, for the whole module


def _sql(sql: str) -> list[tuple[Any, ...]]:
    return _CON.execute(sql).fetchall()


# --- due dates ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("period", "due"),
    [
        ("2017-01", D(2017, 2, 28)),  # the last day of the following month
        ("2016-01", D(2016, 2, 29)),  # a leap year
        ("2017-11", D(2017, 12, 31)),
        ("2017-12", D(2018, 1, 31)),  # December → next January
        ("2017-03", D(2017, 4, 30)),
    ],
)
def test_due_date_known(period: str, due: dt.date) -> None:
    assert due_date(period) == due
    assert _sql(f"SELECT {due_date_sql(repr(period))}") == [(due,)]


@pytest.mark.parametrize("period", ["2017-13", "2017-00", "2017-1", "201701", "", "2017-01-01"])
def test_bad_period_is_a_chinese_data_error(period: str) -> None:
    with pytest.raises(DataError, match="缴费所属期"):
        due_date(period)


def test_unknown_rules_are_refused() -> None:
    with pytest.raises(UsageError, match="缴费期限规则"):
        due_date("2017-01", "whenever")
    with pytest.raises(UsageError, match="计息天数规则"):
        late_days(D(2017, 2, 28), D(2017, 4, 10), "whenever")
    with pytest.raises(UsageError):
        days_sql("due", "until", "whenever")


# --- days: known answers -----------------------------------------------------------------------

JAN_DUE = D(2017, 2, 28)  # January 2017 contributions are due on 28 February 2017


@pytest.mark.parametrize(
    ("until", "after_due", "second_month_start"),
    [
        # after_due: days = until − due; second_month_start: 1 March … the day before posting
        (D(2017, 2, 1), 0, 0),  # early: nothing
        (D(2017, 2, 28), 0, 0),  # on the due date: nothing
        (D(2017, 3, 1), 1, 0),  # one day late = 1 day; posted 1 March: end 28 Feb < start 1 Mar
        (D(2017, 3, 2), 2, 1),  # 1 March only
        (D(2017, 3, 31), 31, 30),  # 1–30 March
        # 10 April: after_due 31 (March) + 10 (1–10 April) = 41;
        # second_month_start 1 March – 9 April = 31 + 9 = 40 (end − start + 1: 9 Apr − 1 Mar = 39,
        # + 1 = 40; domain-rules §4 prints 39 for this example, which forgets the + 1)
        (D(2017, 4, 10), 41, 40),
        (D(2018, 2, 28), 365, 364),  # a whole year
    ],
)
def test_days_known(until: dt.date, after_due: int, second_month_start: int) -> None:
    assert late_days(JAN_DUE, until) == after_due  # after_due is the default
    assert late_days(JAN_DUE, until, "second_month_start") == second_month_start


def test_days_less_deferrals_known() -> None:
    # January 2017 paid 10 April: 41 days (above); deferral 10–19 March = 10 days → 31
    assert late_days(JAN_DUE, D(2017, 4, 10), deferrals=[(D(2017, 3, 10), D(2017, 3, 19))]) == 31
    # overlapping deferrals count once: 10–19 and 15–25 March = 10–25 March = 16 days → 25
    both = [(D(2017, 3, 15), D(2017, 3, 25)), (D(2017, 3, 10), D(2017, 3, 19))]
    assert late_days(JAN_DUE, D(2017, 4, 10), deferrals=both) == 25
    # a deferral reaching back before the due date covers only charged days: 1–5 March → 36
    assert late_days(JAN_DUE, D(2017, 4, 10), deferrals=[(D(2017, 1, 1), D(2017, 3, 5))]) == 36
    # a deferral over the whole span: nothing; one after the payment: no effect
    assert late_days(JAN_DUE, D(2017, 4, 10), deferrals=[(D(2017, 3, 1), D(2017, 12, 31))]) == 0
    assert late_days(JAN_DUE, D(2017, 4, 10), deferrals=[(D(2017, 5, 1), D(2017, 5, 9))]) == 41
    # second_month_start charges 1 March – 9 April; a deferral on 9–10 April removes 1 day → 39
    assert (
        late_days(JAN_DUE, D(2017, 4, 10), "second_month_start", [(D(2017, 4, 9), D(2017, 4, 10))])
        == 39
    )
    with pytest.raises(DataError, match="缓缴期间"):
        late_days(JAN_DUE, D(2017, 4, 10), deferrals=[(D(2017, 3, 19), D(2017, 3, 10))])


# --- fees: known answers -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("principal", "days", "fee"),
    [
        (100_000, 41, 2050),  # 1,000.00 yuan × 41 × 5/10,000 = 20.50 yuan = 2,050 fen exactly
        (1_000, 1, 1),  # 10.00 × 0.0005 = 0.005 yuan = 0.5 fen → 1 (half-up)
        (999, 1, 0),  # 9.99 × 0.0005 = 0.4995 fen → 0
        (123_457, 3, 185),  # 123,457 × 3 × 5 / 10,000 = 185.1855 fen → 185
        (123_450, 1, 62),  # 1,234.50 × 0.0005 = 0.61725 yuan = 61.725 fen → 62
        (100_000, 0, 0),  # no day, no fee
        (-1_000, 1, -1),  # symmetric (a half away from zero) like the SQL twin
    ],
)
def test_late_fee_fen_known(principal: int, days: int, fee: int) -> None:
    assert late_fee_fen(principal, days) == fee
    assert _sql(f"SELECT {late_fee_sql(str(principal), str(days))}") == [(fee,)]


def test_late_fee_known() -> None:
    assert late_fee(100_000, "2017-01", D(2017, 4, 10)) == LateFee(41, 2050)
    # second_month_start: 40 days × 1,000.00 × 0.0005 = 20.00 yuan
    assert late_fee(100_000, "2017-01", D(2017, 4, 10), "second_month_start") == LateFee(40, 2000)
    # ten deferred days: 31 days × 0.50 yuan = 15.50
    deferral = [(D(2017, 3, 10), D(2017, 3, 19))]
    assert late_fee(100_000, "2017-01", D(2017, 4, 10), deferrals=deferral) == LateFee(31, 1550)
    # another rate: 2 per 10,000 over 41 days on 1,000.00 = 8.20 yuan
    assert late_fee(100_000, "2017-01", D(2017, 4, 10), rate_per_10000_per_day=2).fee_fen == 820
    assert late_fee(-5_000, "2017-01", D(2017, 4, 10)) == LateFee(41, 0)  # a credit costs nothing
    assert late_fee(100_000, "2017-01", D(2017, 2, 28)) == LateFee(0, 0)
    with pytest.raises(UsageError):
        late_fee_fen(100, -1)
    with pytest.raises(UsageError):
        late_fee_fen(100, 1, -5)
    with pytest.raises(UsageError):
        late_fee_sql("p", "d", "5; DROP TABLE x")  # type: ignore[arg-type]


# --- properties --------------------------------------------------------------------------------

periods = st.builds(lambda y, m: f"{y:04d}-{m:02d}", st.integers(1990, 2099), st.integers(1, 12))
days_around = st.dates(min_value=D(1989, 12, 1), max_value=D(2102, 12, 31))
principals = st.integers(-(10**9), 10**9)


@st.composite
def deferral_lists(draw: st.DrawFn) -> list[tuple[dt.date, dt.date]]:
    out = []
    for _ in range(draw(st.integers(0, 3))):
        start = draw(st.dates(min_value=D(2016, 12, 1), max_value=D(2018, 6, 30)))
        out.append((start, start + dt.timedelta(days=draw(st.integers(0, 120)))))
    return out


def _lit(d: dt.date) -> str:
    return f"DATE '{d.isoformat()}'"


@given(
    st.lists(
        st.tuples(periods, days_around, principals, st.integers(0, 40_000)), min_size=1, max_size=25
    )
)
def test_duckdb_agrees_with_python(rows: list[tuple[str, dt.date, int, int]]) -> None:
    values = ", ".join(f"('{p}', {_lit(u)}, {pr}, {d})" for p, u, pr, d in rows)
    due = due_date_sql("p")
    sql = (
        f"SELECT {due}, {days_sql(due, 'u', 'after_due')}, "
        f"{days_sql(due, 'u', 'second_month_start')}, {late_fee_sql('pr', 'd')}, "
        f"{late_fee_sql('pr', 'd', 2)} FROM (VALUES {values}) t(p, u, pr, d)"
    )
    got = _sql(sql)
    for (p, u, pr, d), row in zip(rows, got, strict=True):
        want = (
            due_date(p),
            late_days(due_date(p), u, "after_due"),
            late_days(due_date(p), u, "second_month_start"),
            late_fee_fen(pr, d),
            late_fee_fen(pr, d, 2),
        )
        assert tuple(row) == want, (p, u, pr, d)
    # the ledger sums principal × days and rounds once
    total = sum(pr * d for _, _, pr, d in rows)
    summed = _sql(
        f"SELECT {fee_from_principal_days_sql('sum(CAST(pr AS BIGINT) * d)')} FROM (VALUES {values}) t(p, u, pr, d)"
    )
    assert summed == [(div_half_up(total * 5, 10_000),)]


@given(
    periods,
    days_around,
    days_around,
    st.integers(1, 10**9),
    deferral_lists(),
    st.sampled_from(DAY_RULES),
)
def test_fee_never_decreases_as_until_grows(
    period: str,
    a: dt.date,
    b: dt.date,
    principal: int,
    deferrals: list[tuple[dt.date, dt.date]],
    rule: str,
) -> None:
    early, late = min(a, b), max(a, b)
    first = late_fee(principal, period, early, rule, deferrals)
    second = late_fee(principal, period, late, rule, deferrals)
    assert 0 <= first.days <= second.days
    assert 0 <= first.fee_fen <= second.fee_fen


@given(periods, days_around, st.integers(0, 10**9))
def test_nothing_on_or_before_the_due_date(period: str, until: dt.date, principal: int) -> None:
    due = due_date(period)
    fee = late_fee(principal, period, until)  # after_due
    if until <= due:
        assert fee == LateFee(0, 0)
    else:
        assert fee.days == (until - due).days  # days = until − due
    # second_month_start charges one day less (it stops the day before the payment is posted)
    assert late_days(due, until, "second_month_start") == max(0, fee.days - 1)


@given(deferral_lists(), st.dates(min_value=D(2017, 1, 1), max_value=D(2018, 12, 31)))
def test_deferred_days_are_not_charged(
    deferrals: list[tuple[dt.date, dt.date]], until: dt.date
) -> None:
    # reference: the charged days one by one, less every day inside a deferral
    charged = {JAN_DUE + dt.timedelta(days=i) for i in range(1, (until - JAN_DUE).days + 1)}
    deferred = {s + dt.timedelta(days=i) for s, e in deferrals for i in range((e - s).days + 1)}
    assert late_days(JAN_DUE, until, deferrals=deferrals) == len(charged - deferred)
