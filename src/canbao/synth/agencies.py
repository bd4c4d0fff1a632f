"""Managing agencies (参保经办机构) of the synthetic city: which employers the city-level agency
(市本级) and the development zone's agency manage, and how the extracts write an agency.

The agencies and their names and codes come from the region profile (the synthetic city is
Jiujiang: the shipped ``jiujiang`` profile). Every employer has one agency:

- 市本级: state enterprises and public institutions most often, larger and urban employers more
  often, until they employ ``Behaviour.city_level_share`` of all employees (the seed plan gives
  市本级 26 of 90.8 万 employee-pension enrolees and 9.71 of 30.96 亿元 collected);
- the zone (开发区): park employers in the counties the zone lies in (:data:`ZONE_COUNTIES`),
  each with probability ``Behaviour.zone_park_share`` (the largest one when none is drawn);
- every other employer: its county's agency.

Employee enrolments carry their employer's agency; the other enrolments (retirees, flexible
workers, residents) their county's. ``agency_unit`` in ``truth/employers.parquet`` and
``truth/enrollments.parquet`` is the plan unit: ``city_level``, the zone's code or a county code.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import polars as pl

from canbao.profile import Profile, load_profile
from canbao.synth._rng import stream
from canbao.synth.config import SynthConfig

ZONE_COUNTIES = ("360402", "360404")  # 九江经开区 lies between 濂溪区 and 柴桑区
URBAN = ("360402", "360403")
# preference for the city-level agency by ownership (individual businesses: never)
CITY_LEVEL_PREFERENCE = {
    "state": 8.0,
    "public_institution": 6.0,
    "collective": 2.0,
    "private": 1.0,
    "individual": 0.0,
}
COUNTY_AGENCY_SUFFIX = "社会保险事业管理局"  # how a county's agency is named


@cache
def profile() -> Profile:
    """The synthetic city's region profile (the shipped default: Jiujiang)."""
    return load_profile()


def units(p: Profile | None = None) -> tuple[str, str]:
    """(city-level unit code, zone unit code) of the profile."""
    p = p or profile()
    city_level = p.city_level_unit
    if city_level is None or not p.zones:
        raise ValueError(f"profile {p.name} has no 市本级 or no zone")
    return city_level.code, p.zones[0].code


def assign_agencies(
    cfg: SynthConfig, employers: pl.DataFrame, spells: pl.DataFrame
) -> pl.DataFrame:
    """``employers`` + ``agency_unit`` (see the module docstring; ``spells``: the employment
    spells, whose distinct persons per employer are its staff); its own random stream, so
    nothing else of the city changes."""
    rng = stream(cfg.seed, "agencies")
    city_level, zone = units()
    n = employers.height
    county = employers["county_code"].to_numpy().astype(str)
    own = employers["ownership"].to_numpy().astype(str)
    staff = spells.group_by("eid").agg(n=pl.col("pid").n_unique())
    weight = (
        employers.select("eid")
        .join(staff, on="eid", how="left", maintain_order="left")["n"]
        .fill_null(0)
        .to_numpy()
        .astype(float)
    )
    ordinary = np.ones(n, dtype=bool)
    if "skew_role" in employers.columns:  # a skewed city's big employers and accounts: county
        ordinary = employers["skew_role"].is_null().to_numpy()
    park = employers["park"].to_numpy().astype(bool)
    in_zone = park & np.isin(county, ZONE_COUNTIES) & ordinary
    zone_pick = in_zone & (rng.random(n) < cfg.behaviour.zone_park_share)
    if in_zone.any() and not zone_pick.any():  # a small city still has a zone employer
        zone_pick[np.flatnonzero(in_zone)[np.argmax(weight[in_zone])]] = True
    pref = np.array([CITY_LEVEL_PREFERENCE.get(o, 0.0) for o in own])
    pref = pref * np.where(np.isin(county, URBAN), 2.0, 1.0) * np.log1p(weight)
    pref = pref * ordinary * ~zone_pick
    order = np.argsort(rng.exponential(size=n) / np.maximum(pref, 1e-12) + (pref == 0) * 1e12)
    target = cfg.behaviour.city_level_share * weight[ordinary].sum()
    # greedy fill in preference order, skipping employers that would overshoot (one step per
    # employer, as for maternity and unemployment in synth.insurance)
    city = np.zeros(n, dtype=bool)
    total = 0.0
    for e in order[pref[order] > 0].tolist():
        if total + weight[e] <= target:
            city[e] = True
            total += weight[e]
    unit = np.where(city, city_level, np.where(zone_pick, zone, county))
    return employers.with_columns(agency_unit=pl.Series(unit, dtype=pl.Utf8))


def enrolment_agencies(enrollments: pl.DataFrame, employers: pl.DataFrame) -> pl.DataFrame:
    """``enrollments`` + ``agency_unit``: the employer's for a record with one, else the
    record's county (row order kept)."""
    ag = employers.select("eid", pl.col("agency_unit").alias("_ag"))
    return (
        enrollments.join(ag, on="eid", how="left", maintain_order="left")
        .with_columns(agency_unit=pl.coalesce("_ag", "county_code"))
        .drop("_ag")
    )


def agency_text(unit: pl.Expr, style: str, p: Profile | None = None) -> pl.Expr:
    """How an extract writes the agency of ``unit`` (a county code, 市本级's or a zone's code):
    ``name`` — the agency's name (a county's: ``<county name>社会保险事业管理局``); ``code`` —
    its code as the profile has it (a county's code; an agency without a code: its name)."""
    p = p or profile()
    texts: dict[str, str] = {}
    for c in p.counties:
        texts[c.code] = c.code if style == "code" else c.name + COUNTY_AGENCY_SUFFIX
    for a in p.agencies:
        texts.setdefault(a.unit, (a.code or a.name) if style == "code" else a.name)
    return unit.replace_strict(texts, default=None, return_dtype=pl.Utf8)
