"""The region profile as plain frozen data (built and checked by :mod:`canbao.profile.loader`).

A profile says what "the city" is for everything that names places or plan units: its county
units with their GB/T 2260 codes and the retired codes their people still carry, the plan's
non-geographic units (全市, 市本级, development zones), the managing agencies (经办机构) and
pooling areas (统筹区) records are mapped through, the region whose policy tables apply and the
letterhead of the bureau's documents. See docs/profile.md.

Two profiles are equal when their name and digest (a hash of their checked content) are.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

UnitKind = Literal["city", "city_level", "zone"]

CITY = "city"
"""Code of the whole-city unit (全市) in every profile."""
CITY_LEVEL = "city_level"
"""Code of the city-level unit (市本级) in every profile that has one."""


def name_key(text: object) -> str:
    """The form names are compared in: NFKC (full-width brackets → ASCII), no whitespace."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(text)))


def record_unit(
    county_code: str | None,
    agency_code: str | None,
    units: Mapping[str, str],
    agencies: Mapping[str, str],
) -> str | None:
    """The plan unit an employer's or enrolment's record counts for; None: the whole city only.

    1. its managing agency's unit when ``agencies`` (:meth:`Profile.agency_units` with
       ``counties=False``: agencies of 市本级 and the zones, keyed by :func:`name_key`) has it —
       such a record counts there and not for the county it lies in;
    2. else its county or pooling area (``county_code``) through ``units``
       (:meth:`Profile.area_units`);
    3. else its agency through ``units``: a county's agency is known by the county's code (an
       extract whose only area column is 统筹区编码)."""
    if agency_code:
        unit = agencies.get(name_key(agency_code))
        if unit is not None:
            return unit
    if county_code and county_code in units:
        return units[county_code]
    if agency_code:
        return units.get(name_key(agency_code))
    return None


@dataclass(frozen=True)
class City:
    code: str  # prefecture code, e.g. 360400 (see the shipped profiles)
    name: str  # the prefecture's name as the documents write it
    short: str = ""


@dataclass(frozen=True)
class County:
    """A county unit (县、市、区): the plan ranks it; its code is its current division code."""

    code: str
    name: str
    short: str
    predecessors: tuple[str, ...] = ()  # retired codes whose people now live under this unit
    aliases: tuple[str, ...] = ()  # other names the bureau's documents use (former names …)
    population: int | None = None


@dataclass(frozen=True)
class Unit:
    """A unit of the plan without a division code of its own: 全市, 市本级, a zone (开发区)."""

    code: str
    name: str
    kind: UnitKind
    aliases: tuple[str, ...] = ()
    population: int | None = None


@dataclass(frozen=True)
class Agency:
    """A managing agency (参保经办机构) and the plan unit its employers and enrolments count for.

    ``code`` is the agency code extracts carry (None when only the name is known); ``aliases``
    are other names of the agency in extracts."""

    code: str | None
    name: str
    unit: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class AgencyMatch:
    """What an extract's agency value resolved to (:meth:`Profile.resolve_agency`): ``key`` is
    the canonical value (an agency's code, else its name; a pooling area's or a county's code)
    and ``unit`` the plan unit its records count for (a county's code, 市本级, a zone; None: a
    pooling area that counts for the whole city only)."""

    key: str
    unit: str | None


@dataclass(frozen=True)
class PoolingArea:
    """A pooling-area code (统筹区编码) extracts carry that is not a county unit's own code."""

    code: str
    name: str
    unit: str | None  # the plan unit its records count for; None: the whole city only


@dataclass(frozen=True)
class Letterhead:
    issuer: str  # 发文机关, e.g. the city's 人力资源和社会保障局
    document_prefix: str  # 发文字号 prefix, e.g. the bureau's 〇人社字
    addressees: str = ""  # 主送 of the bureau's notices to the counties

    def document_no(self, year: int, number: int) -> str:
        """A document number in the bureau's form: ``<prefix>〔<year>〕<number>号``."""
        return f"{self.document_prefix}〔{year}〕{number}号"


@dataclass(frozen=True, eq=False)
class Profile:
    name: str
    city: City
    year: int  # the year the county list describes (its end)
    counties: tuple[County, ...]
    units: tuple[Unit, ...]
    agencies: tuple[Agency, ...]
    pooling_areas: tuple[PoolingArea, ...]
    policy_region: str
    letterhead: Letterhead
    default_plan: str | None
    digest: str  # sha256 of the checked content (hex)
    source: str = "shipped"  # "shipped" or the file's absolute path
    notes: tuple[str, ...] = ()
    population_source: str = ""
    demo_county: str | None = None  # the demo's county user works here (canbao demo)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Profile):
            return NotImplemented
        return (self.name, self.digest) == (other.name, other.digest)

    def __hash__(self) -> int:
        return hash((self.name, self.digest))

    # --- look-ups ---------------------------------------------------------------------------
    @property
    def label(self) -> str:
        """``九江市（jiujiang）`` style: the city and the profile's name."""
        return f"{self.city.name}（{self.name}）"

    @property
    def short_digest(self) -> str:
        return self.digest[:12]

    @property
    def city_unit(self) -> Unit:
        return next(u for u in self.units if u.kind == "city")

    @property
    def city_level_unit(self) -> Unit | None:
        return next((u for u in self.units if u.kind == "city_level"), None)

    @property
    def zones(self) -> tuple[Unit, ...]:
        return tuple(u for u in self.units if u.kind == "zone")

    def county(self, code: str) -> County | None:
        """The county unit whose current code or retired predecessor code is ``code``."""
        for c in self.counties:
            if code == c.code or code in c.predecessors:
                return c
        return None

    def unit_name(self, code: str) -> str | None:
        for c in self.counties:
            if c.code == code:
                return c.name
        for u in self.units:
            if u.code == code:
                return u.name
        return None

    def area_units(self) -> dict[str, str]:
        """{area code: unit code}: each county's code and predecessors, then the pooling areas
        that count for a unit. The code of an employer's or enrolment's county or pooling area
        maps to its plan unit through this table; a code not in it counts for the whole city
        only."""
        out: dict[str, str] = {}
        for c in self.counties:
            out[c.code] = c.code
            for p in c.predecessors:
                out[p] = c.code
        for a in self.pooling_areas:
            if a.unit is not None:
                out[a.code] = a.unit
        return out

    def agency_units(self, counties: bool = True) -> dict[str, str]:
        """{agency code or name (:func:`name_key` form): unit code}: every county code and
        retired code (a county's agency is known by its county's code), the pooling areas that
        count for a unit, then the agencies listed in the profile by code and by every name.

        ``counties=False`` keeps only the entries whose unit is not a county (市本级, the
        zones): the table actuals use to take a record away from its county (docs/plan.md,
        "Actuals": 市本级 and the zones)."""
        out: dict[str, str] = {c: u for c, u in self.area_units().items()}
        for a in self.agencies:
            for key in (a.code, a.name, *a.aliases):
                if key:
                    out[name_key(key)] = a.unit
        if not counties:
            county_codes = {c.code for c in self.counties}
            out = {k: u for k, u in out.items() if u not in county_codes}
        return out

    def resolve_agency(self, text: str) -> AgencyMatch | None:
        """The managing agency an extract's 参保经办机构 / 统筹区 value names, or None.

        Tried in order: an agency's code, name or alias, a pooling area's code, a county's
        current or retired code (a 12-digit statistical code by its first six digits), a
        county's name, short name or alias, the name or alias of a unit with exactly one agency
        (经开区 → the zone's agency); then the longest of those names the value starts with
        (``修水县社会保险事业管理局`` → 修水县, ``九江经济技术开发区社保分局`` → the zone's
        agency). Spaces and full-width forms are ignored. The match's ``key`` is the canonical value ingest stores: the agency's code
        (its name when it has none), the pooling area's code, the county's current code."""
        key = name_key(text)
        if not key:
            return None
        exact, prefixes = self._agency_keys
        if key in exact:
            return exact[key]
        if len(key) == 12 and key.isdigit() and key[:6] in exact:
            return exact[key[:6]]
        for prefix, match in prefixes:
            if key.startswith(prefix):
                return match
        return None

    @cached_property
    def _agency_keys(self) -> tuple[dict[str, AgencyMatch], list[tuple[str, AgencyMatch]]]:
        """(exact keys → match, [(name prefix, match)] longest first), built once."""
        exact: dict[str, AgencyMatch] = {}
        names: dict[str, AgencyMatch] = {}
        for c in self.counties:
            m = AgencyMatch(c.code, c.code)
            for code in (c.code, *c.predecessors):
                exact.setdefault(code, m)
            for n in (c.name, c.short, *c.aliases):
                names.setdefault(name_key(n), m)
        for area in self.pooling_areas:
            exact.setdefault(area.code, AgencyMatch(area.code, area.unit))
        for a in self.agencies:
            m = AgencyMatch(a.code or a.name, a.unit)
            if a.code:
                exact[name_key(a.code)] = m
            for n in (a.name, *a.aliases):
                names[name_key(n)] = m
        # a unit's own names (开发区, 经开区) name its agency when it has exactly one
        for u in self.units:
            own = [a for a in self.agencies if a.unit == u.code]
            if len(own) == 1:
                m = AgencyMatch(own[0].code or own[0].name, u.code)
                for n in (u.name, *u.aliases):
                    names.setdefault(name_key(n), m)
        for k, m in names.items():
            exact.setdefault(k, m)
        prefixes = sorted(
            ((k, m) for k, m in names.items() if len(k) >= 2), key=lambda x: -len(x[0])
        )
        return exact, prefixes

    def resolve_county(self, text: str) -> County | None:
        """The county named or coded by ``text``: current or retired code, name, short name or
        alias (spaces and full-width forms ignored)."""
        key = name_key(text)
        for c in self.counties:
            if key in (c.code, *c.predecessors) or key in (
                name_key(n) for n in (c.name, c.short, *c.aliases)
            ):
                return c
        return None
