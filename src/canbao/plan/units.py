"""Units of the plan: 全市, 市本级, the 13 county units and 开发区.

County units are keyed by their GB/T 2260 division code (end of 2017, from
:func:`canbao.standards.divisions.jiujiang_counties`). 全市 (``city``), 市本级 (``city_level``)
and 开发区 (``devzone``, 九江经济技术开发区) have no division code of their own: they are units
of the plan only. Names as the plan text writes them (九江县, 庐山市(含庐山局), 星子县 …) resolve to
the current unit through :func:`resolve_unit`.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from typing import Literal

from canbao.standards.divisions import jiujiang_counties

UnitKind = Literal["city", "city_level", "county", "zone"]

CITY = "city"
CITY_LEVEL = "city_level"
DEVZONE = "devzone"


@dataclass(frozen=True)
class PlanUnit:
    code: str
    name: str  # display name, e.g. 柴桑区
    kind: UnitKind
    division_code: str | None
    aliases: tuple[str, ...] = ()  # other names the bureau's documents use

    @property
    def ranked(self) -> bool:
        """County units and 开发区 are ranked against each other; 全市 and 市本级 are not."""
        return self.kind in ("county", "zone")


# Names the plan text and older documents use for the county units.
_COUNTY_ALIASES: dict[str, tuple[str, ...]] = {
    "360402": ("庐山区",),
    "360404": ("九江县",),
    "360483": ("庐山市(含庐山局)", "星子县", "庐山市含庐山局"),
}


@cache
def jiujiang_units() -> tuple[PlanUnit, ...]:
    """All units of a Jiujiang plan in report order: 全市, 市本级, counties, 开发区."""
    units = [
        PlanUnit(CITY, "全市", "city", None, ("九江市", "合计", "总计", "全市合计")),
        PlanUnit(CITY_LEVEL, "市本级", "city_level", None, ("本级", "九江市本级", "市直")),
    ]
    for c in jiujiang_counties():
        aliases = (c.short, *_COUNTY_ALIASES.get(c.code, ()))
        units.append(PlanUnit(c.code, c.name, "county", c.code, aliases))
    units.append(
        PlanUnit(
            DEVZONE,
            "开发区",
            "zone",
            None,
            ("九江经济技术开发区", "经济技术开发区", "经开区", "九江经开区"),
        )
    )
    return tuple(units)


def _key(text: str) -> str:
    t = unicodedata.normalize("NFKC", text)
    return re.sub(r"\s+", "", t)


@cache
def _index() -> dict[str, PlanUnit]:
    idx: dict[str, PlanUnit] = {}
    for u in jiujiang_units():
        for k in (u.code, u.name, *u.aliases):
            idx[_key(k)] = u
    return idx


def resolve_unit(text: object) -> PlanUnit | None:
    """The unit named or coded by ``text`` (code, name, short name or historical name)."""
    if text is None:
        return None
    return _index().get(_key(str(text)))


def unit(code: str) -> PlanUnit:
    u = resolve_unit(code)
    if u is None:
        raise KeyError(code)
    return u


def unit_name(code: str) -> str:
    u = resolve_unit(code)
    return u.name if u else code
