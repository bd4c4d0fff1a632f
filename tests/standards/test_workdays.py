"""The working-day calendar: known answers from the State Council's notices, properties of
add / count / is_workday, and the refusal of an unknown year."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from canbao.errors import DataError, UsageError
from canbao.standards import workdays
from canbao.standards.workdays import calendar

D = dt.date
CAL = calendar()
# far enough from the calendar's last year (2026) for the spans and additions below
KNOWN = st.dates(min_value=D(2016, 1, 1), max_value=D(2026, 10, 31))


@pytest.mark.parametrize("day", [D(2017, 10, 1) + dt.timedelta(days=i) for i in range(8)])
def test_national_day_2017_is_eight_days_off(day: dt.date) -> None:
    assert not CAL.is_workday(day)


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (D(2017, 9, 30), True),  # 调休: a working Saturday
        (D(2017, 10, 9), True),
        (D(2017, 9, 29), True),
        (D(2017, 1, 22), True),  # 春节调休 Sunday
        (D(2017, 1, 27), False),  # 除夕
        (D(2016, 12, 31), False),  # 元旦 2017 starts on a Saturday
        (D(2017, 1, 2), False),  # 元旦补休 Monday
        (D(2017, 6, 3), False),  # an ordinary Saturday
        (D(2017, 6, 5), True),  # an ordinary Monday
        (D(2020, 1, 31), False),  # the 2020 Spring Festival extension
        (D(2026, 2, 23), False),
        (D(2026, 2, 28), True),
    ],
)
def test_known_days(day: dt.date, expected: bool) -> None:
    assert CAL.is_workday(day) is expected


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        (D(2017, 9, 29), 1, D(2017, 9, 30)),
        (D(2017, 9, 30), 1, D(2017, 10, 9)),
        (D(2017, 9, 28), 5, D(2017, 10, 11)),  # 29, 30, 9, 10, 11: the 5th is 11 Oct
        (D(2017, 6, 5), 5, D(2017, 6, 12)),
        (D(2017, 6, 5), 10, D(2017, 6, 19)),
        (D(2017, 6, 3), 0, D(2017, 6, 3)),
    ],
)
def test_add_known_answers(start: dt.date, n: int, expected: dt.date) -> None:
    assert CAL.add(start, n) == expected
    assert workdays.add_workdays(start, n) == expected


def test_count_known_answers() -> None:
    assert CAL.count(D(2017, 9, 29), D(2017, 10, 9)) == 2
    assert CAL.count(D(2017, 10, 1), D(2017, 10, 8)) == 0
    assert CAL.count(D(2017, 6, 5), D(2017, 6, 5)) == 0
    # 2017: 365 days, 104 weekend days, 11 holiday weekdays off, 5 adjusted working days … the
    # year had 249 working days (2017-01-01 itself is a holiday).
    assert CAL.count(D(2016, 12, 31), D(2017, 12, 31)) == 249


def test_unknown_year_is_refused_in_chinese() -> None:
    with pytest.raises(UsageError, match="没有 2030 年"):
        CAL.is_workday(D(2030, 1, 2))
    with pytest.raises(UsageError, match="2015"):
        CAL.add(D(2015, 6, 1), 1)
    with pytest.raises(UsageError, match="2027"):
        CAL.add(D(2026, 12, 30), 5)  # runs into a year not yet announced


@given(KNOWN, st.integers(min_value=0, max_value=20))
def test_add_lands_on_a_workday_and_counts_back(day: dt.date, n: int) -> None:
    out = CAL.add(day, n)
    assert out >= day
    assert CAL.count(day, out) == n
    if n:
        assert CAL.is_workday(out)
        assert CAL.add(day, n - 1) < out


@given(KNOWN, st.integers(min_value=0, max_value=10), st.integers(min_value=0, max_value=10))
def test_add_composes(day: dt.date, a: int, b: int) -> None:
    assert CAL.add(CAL.add(day, a), b) == CAL.add(day, a + b)


@given(KNOWN, st.integers(min_value=0, max_value=40))
def test_count_is_the_sum_of_is_workday(day: dt.date, span: int) -> None:
    end = day + dt.timedelta(days=span)
    expected = sum(CAL.is_workday(day + dt.timedelta(days=i)) for i in range(1, span + 1))
    assert CAL.count(day, end) == expected


@given(KNOWN)
def test_a_plain_week_outside_holidays(day: dt.date) -> None:
    """A weekday that no notice touches is a working day, a weekend day without 调休 is not."""
    if day in CAL.holidays or day in CAL.workdays:
        return
    assert CAL.is_workday(day) is (day.weekday() < 5)


def test_every_adjusted_working_day_is_a_weekend_day() -> None:
    assert all(d.weekday() >= 5 for d in CAL.workdays)
    assert not CAL.holidays & CAL.workdays


def test_own_file_and_its_errors(tmp_path: Path) -> None:
    own = tmp_path / "workdays.toml"
    own.write_text(
        'format = "canbao-workdays/1"\n[years.2030]\nholidays = ["2030-01-01"]\n'
        'workdays = ["2030-01-05"]\n',
        encoding="utf-8",
    )
    cal = calendar(own)
    assert not cal.is_workday(D(2030, 1, 1))
    assert cal.is_workday(D(2030, 1, 5))
    own.write_text(
        'format = "canbao-workdays/1"\n[years.2030]\nworkdays = ["2030-01-07"]\n', encoding="utf-8"
    )
    with pytest.raises(DataError, match="不是周末"):
        calendar(own)
