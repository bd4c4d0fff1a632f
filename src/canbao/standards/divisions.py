"""GB/T 2260 administrative division codes, current and historical.

The history comes from python-stdnum's ``cn/loc.dat`` (used as an installed dependency, not
bundled), which lists every code with the years each of its names was in force, e.g.
``360402 = [1983-2015]庐山区, [2016-]濂溪区``. A code is *valid for a citizen ID* if it existed at
any time: people keep the ID issued under a retired code (360421 九江县, 360427 星子县).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Literal

Level = Literal["province", "prefecture", "county"]

_RANGE = re.compile(r"^\[(\d{4})?-(\d{4})?\](.*)$")


@dataclass(frozen=True)
class DivisionName:
    name: str
    valid_from: int | None  # first year in force; None = before the record starts
    valid_to: int | None  # last year in force; None = still current

    def covers(self, year: int) -> bool:
        return (self.valid_from is None or self.valid_from <= year) and (
            self.valid_to is None or year <= self.valid_to
        )


@dataclass(frozen=True)
class Division:
    code: str
    names: tuple[DivisionName, ...]

    @property
    def level(self) -> Level:
        if self.code[2:] == "0000":
            return "province"
        if self.code[4:] == "00":
            return "prefecture"
        return "county"

    @property
    def name(self) -> str:
        """The latest name (the current one if the code is still in use)."""
        return self.names[-1].name

    @property
    def current(self) -> bool:
        return self.names[-1].valid_to is None

    @property
    def valid_from(self) -> int | None:
        return self.names[0].valid_from

    @property
    def valid_to(self) -> int | None:
        return self.names[-1].valid_to

    @property
    def parent(self) -> str | None:
        if self.level == "province":
            return None
        if self.level == "county":
            pref = self.code[:4] + "00"
            if pref in _table():
                return pref
        return self.code[:2] + "0000"

    def name_in(self, year: int) -> str | None:
        for n in self.names:
            if n.covers(year):
                return n.name
        return None

    def full_name(self) -> str:
        """Province + prefecture + county, e.g. 江西省九江市濂溪区."""
        parts: list[str] = []
        code: str | None = self.code
        while code is not None:
            d = _table().get(code)
            if d is None:
                break
            parts.append(d.name)
            code = d.parent
        return "".join(reversed(parts))


def _parse_names(value: str) -> tuple[DivisionName, ...]:
    out: list[DivisionName] = []
    for part in value.split(","):
        m = _RANGE.match(part)
        if m:
            start, end, name = m.groups()
            out.append(DivisionName(name, int(start) if start else None, int(end) if end else None))
        else:
            out.append(DivisionName(part, None, None))
    return tuple(out)


@cache
def _table() -> dict[str, Division]:
    text = resources.files("stdnum").joinpath("cn/loc.dat").read_text(encoding="utf-8")
    table: dict[str, Division] = {}
    prefix = ""
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        key, _, attr = line.strip().partition(" ")
        value = attr.split("=", 1)[1].strip('"')
        if not line.startswith(" "):
            prefix = key
            code = key + "0000"
        else:
            code = prefix + key
        table[code] = Division(code, _parse_names(value))
    return table


def lookup(code: str) -> Division | None:
    """The division with this 6-digit code, current or historical; None if it never existed."""
    return _table().get(code)


def existed(code: str) -> bool:
    return code in _table()


def all_codes() -> frozenset[str]:
    """Every code that existed at any time (used to validate ID region codes)."""
    return frozenset(_table())


def name_of(code: str | None) -> str | None:
    d = _table().get(code or "")
    return d.name if d else None


# --- Jiujiang -------------------------------------------------------------------------------

JIUJIANG = "360400"


@dataclass(frozen=True)
class CountyUnit:
    code: str
    name: str
    short: str
    predecessors: tuple[str, ...]  # retired codes whose people now live under this unit


_JIUJIANG_UNITS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("360402", "濂溪", ()),  # renamed from 庐山区 in 2016, same code
    ("360403", "浔阳", ()),
    ("360404", "柴桑", ("360421", "362621")),  # 九江县
    ("360423", "武宁", ("362623",)),
    ("360424", "修水", ("362624",)),
    ("360425", "永修", ("362625",)),
    ("360426", "德安", ("362626",)),
    ("360428", "都昌", ("362628",)),
    ("360429", "湖口", ("362629",)),
    ("360430", "彭泽", ("362630",)),
    ("360481", "瑞昌", ("360422", "362622")),  # 瑞昌县 until 1989
    ("360482", "共青城", ()),
    ("360483", "庐山市", ("360427", "362627")),  # 星子县
)


def jiujiang_counties() -> tuple[CountyUnit, ...]:
    """The 13 county units of Jiujiang (end of 2017) with their retired predecessor codes."""
    out = []
    for code, short, preds in _JIUJIANG_UNITS:
        d = lookup(code)
        assert d is not None, code
        out.append(CountyUnit(code, d.name, short, tuple(p for p in preds if existed(p))))
    return tuple(out)


def jiujiang_successor(code: str) -> str | None:
    """Map any Jiujiang code (current or retired) to its current county unit, else None."""
    for unit in jiujiang_counties():
        if code == unit.code or code in unit.predecessors:
            return unit.code
    return None
