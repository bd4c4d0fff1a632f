"""GB/T 2260 administrative division codes, current and historical.

The history comes from python-stdnum's ``cn/loc.dat`` (used as an installed dependency, not
bundled), which lists every code with the years each of its names was in force, e.g.
``361128 = [2000-2002]波阳县, [2003-]鄱阳县``. A code is *valid for a citizen ID* if it existed at
any time: people keep the ID issued under a retired code (e.g. 360721 赣县, 360782 南康市).

Which codes make up a city, and which retired codes its units took over, is not here: that is
the region profile's business (:mod:`canbao.profile`).
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
        """Province + prefecture + county, e.g. 江西省赣州市章贡区."""
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
