"""Units of the plan, from the region profile: 全市, 市本级, the county units and the zones.

County units are keyed by their GB/T 2260 division code; 全市 (``city``), 市本级
(``city_level``) and zones such as a development zone have no division code of their own: they
are units of the plan only (see :mod:`canbao.profile`). Names as the bureau's documents write
them (current names, short names, former names and aliases the profile lists) resolve to the
current unit through :func:`resolve_unit`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Literal

from canbao.profile import CITY, CITY_LEVEL, Profile, default_profile, name_key

UnitKind = Literal["city", "city_level", "county", "zone"]

__all__ = [
    "CITY",
    "CITY_LEVEL",
    "PlanUnit",
    "UnitKind",
    "plan_units",
    "resolve_unit",
    "unit",
    "unit_name",
]


@dataclass(frozen=True)
class PlanUnit:
    code: str
    name: str  # display name, e.g. the county's name
    kind: UnitKind
    division_code: str | None
    aliases: tuple[str, ...] = ()  # other names the bureau's documents use

    @property
    def ranked(self) -> bool:
        """County units and zones are ranked against each other; 全市 and 市本级 are not."""
        return self.kind in ("county", "zone")


@cache
def plan_units(profile: Profile | None = None) -> tuple[PlanUnit, ...]:
    """All units of a plan for ``profile`` (default: the default profile) in report order:
    全市, 市本级, the counties, the zones."""
    p = profile or default_profile()
    out: list[PlanUnit] = []
    for kind in ("city", "city_level"):
        for u in p.units:
            if u.kind == kind:
                out.append(PlanUnit(u.code, u.name, u.kind, None, u.aliases))
    for c in p.counties:
        out.append(PlanUnit(c.code, c.name, "county", c.code, (c.short, *c.aliases)))
    for u in p.zones:
        out.append(PlanUnit(u.code, u.name, "zone", None, u.aliases))
    return tuple(out)


@cache
def _index(units: tuple[PlanUnit, ...]) -> dict[str, PlanUnit]:
    idx: dict[str, PlanUnit] = {}
    for u in units:
        for k in (u.code, u.name, *u.aliases):
            idx[name_key(k)] = u
    return idx


def resolve_unit(text: object, units: Sequence[PlanUnit] | None = None) -> PlanUnit | None:
    """The unit of ``units`` (default: the default profile's) named or coded by ``text``: code,
    name, short name or historical name."""
    if text is None:
        return None
    return _index(tuple(units) if units is not None else plan_units()).get(name_key(str(text)))


def unit(code: str, units: Sequence[PlanUnit] | None = None) -> PlanUnit:
    u = resolve_unit(code, units)
    if u is None:
        raise KeyError(code)
    return u


def unit_name(code: str, units: Sequence[PlanUnit] | None = None) -> str:
    u = resolve_unit(code, units)
    return u.name if u else code
