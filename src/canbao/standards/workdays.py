"""Working days (工作日) on the Chinese calendar: Monday to Friday, except the public holidays,
plus the weekend days made working days (调休上班) — as data, one table per year from the State
Council's yearly notice (``data/cn_workdays.toml``; a bureau may name its own file).

A date of a year the calendar does not hold is an error in Chinese, never a guess from the day of
the week: a deadline counted in working days must be right or refused.

```python
from canbao.standards import workdays
cal = workdays.calendar()
cal.is_workday(date(2017, 9, 30))                 # True: a 调休 Saturday
cal.add(date(2017, 9, 29), 1)                     # 2017-09-30
cal.add(date(2017, 9, 30), 1)                     # 2017-10-09 (国庆、中秋 1–8 October)
cal.count(date(2017, 9, 29), date(2017, 10, 9))   # 2: working days after the first, up to the last
```
"""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from canbao.errors import DataError, InputFileError, UsageError

FORMAT = "canbao-workdays/1"
SHIPPED = "cn_workdays.toml"
ONE = dt.timedelta(days=1)


@dataclass(frozen=True)
class Calendar:
    """Known years, their holidays and their adjusted working days."""

    years: frozenset[int]
    holidays: frozenset[dt.date]
    workdays: frozenset[dt.date]
    source: str = ""
    origin: str = SHIPPED

    def require(self, day: dt.date) -> None:
        if day.year not in self.years:
            known = f"{min(self.years)}–{max(self.years)}" if self.years else "无"
            raise UsageError(
                f"工作日历中没有 {day.year} 年的节假日安排（{self.origin}，已有年份：{known}）；"
                "请在国务院办公厅发布该年节假日安排通知后补充工作日历",
                f"working-day calendar has no year {day.year}",
                field="date",
            )

    def is_workday(self, day: dt.date) -> bool:
        """Is ``day`` a working day (its year must be known)?"""
        self.require(day)
        if day in self.workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays

    def add(self, day: dt.date, n: int) -> dt.date:
        """The ``n``-th working day after ``day`` (``n`` ≥ 0; 0: ``day`` itself). 稽核结论
        within 5 working days of a visit on D: on or before ``add(D, 5)``."""
        if n < 0:
            raise UsageError(f"工作日数不能为负：{n}", f"negative working days {n}")
        out = day
        self.require(out)
        while n:
            out += ONE
            if self.is_workday(out):
                n -= 1
        return out

    def count(self, start: dt.date, end: dt.date) -> int:
        """Working days after ``start`` up to and including ``end`` (0 when ``end`` ≤
        ``start``): ``add(start, count(start, end)) <= end`` and it is the largest such."""
        if end <= start:
            self.require(start)
            return 0
        n, day = 0, start
        self.require(start)
        while day < end:
            day += ONE
            n += self.is_workday(day)
        return n

    def next_workday(self, day: dt.date) -> dt.date:
        """``day`` when it is a working day, else the next one."""
        while not self.is_workday(day):
            day += ONE
        return day


def _dates(value: Any, where: str) -> list[dt.date]:
    if not isinstance(value, list):
        raise DataError(f"工作日历 {where} 应为日期列表", f"{where}: not a list")
    out: list[dt.date] = []
    for item in value:
        text = item.isoformat() if isinstance(item, dt.date) else str(item)
        first, _, last = text.partition("..")
        try:
            a = dt.date.fromisoformat(first.strip())
            b = dt.date.fromisoformat(last.strip()) if last else a
        except ValueError:
            raise DataError(
                f"工作日历 {where} 中的日期无效：“{text}”（应为 YYYY-MM-DD 或 A..B）",
                f"{where}: bad date {text!r}",
            ) from None
        if b < a or (b - a).days > 31:
            raise DataError(f"工作日历 {where} 中的日期区间无效：“{text}”", f"{where}: {text!r}")
        out += [a + dt.timedelta(days=i) for i in range((b - a).days + 1)]
    return out


def parse(doc: dict[str, Any], origin: str = SHIPPED) -> Calendar:
    """A calendar from the TOML document (see ``data/cn_workdays.toml``)."""
    if doc.get("format") != FORMAT:
        raise DataError(
            f"工作日历 {origin} 的 format 应为 {FORMAT}", f"{origin}: format is not {FORMAT}"
        )
    years_doc = doc.get("years")
    if not isinstance(years_doc, dict) or not years_doc:
        raise DataError(f"工作日历 {origin} 没有任何年份", f"{origin}: no years")
    years: set[int] = set()
    holidays: set[dt.date] = set()
    workdays: set[dt.date] = set()
    for key, entry in years_doc.items():
        if not str(key).isdigit() or not isinstance(entry, dict):
            raise DataError(f"工作日历 {origin} 的年份无效：{key}", f"{origin}: bad year {key!r}")
        year = int(key)
        off = _dates(entry.get("holidays", []), f"{year}.holidays")
        on = _dates(entry.get("workdays", []), f"{year}.workdays")
        both = set(off) & set(on)
        wrong = [d for d in on if d.weekday() < 5]
        if both or wrong:
            shown = sorted(both | set(wrong))[0]
            raise DataError(
                f"工作日历 {origin} 的 {year} 年有误：{shown} 既是假日又是调休工作日，"
                "或调休工作日不是周末",
                f"{origin}: {year}: inconsistent day {shown}",
            )
        years.add(year)
        holidays.update(off)
        workdays.update(on)
    return Calendar(
        frozenset(years), frozenset(holidays), frozenset(workdays), str(doc.get("source", "")),
        origin,
    )  # fmt: skip


@cache
def _shipped() -> Calendar:
    text = resources.files("canbao.standards").joinpath("data", SHIPPED).read_text("utf-8")
    return parse(tomllib.loads(text))


def calendar(path: Path | None = None) -> Calendar:
    """The shipped calendar, or the one in ``path`` (a bureau's own file, same format)."""
    if path is None:
        return _shipped()
    try:
        doc = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise InputFileError(f"无法读取工作日历文件：{path}", str(e)) from e
    return parse(doc, str(path))


def is_workday(day: dt.date) -> bool:
    return calendar().is_workday(day)


def add_workdays(day: dt.date, n: int) -> dt.date:
    return calendar().add(day, n)


def count_workdays(start: dt.date, end: dt.date) -> int:
    return calendar().count(start, end)
