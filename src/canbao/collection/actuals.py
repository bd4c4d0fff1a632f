"""The plan's collection vocabulary and the rule that places an employer's money in a plan unit.

The figures themselves (``collected.*``, ``new_arrears_ratio.*``, ``clearance_rate.*``) come from
the contribution ledger: :mod:`canbao.collection.kpi` (definitions there and in docs/ledger.md).
This module holds what the KPIs, the plan and its tests share:

- :data:`SCHEME_INDICATORS`: scheme → the plan's ``collected.<scheme>`` indicator code
  (``collected.medical`` is employee medical insurance);
- :data:`OWNERSHIP_GROUP`: ownership → ``private`` (private enterprises and individual
  businesses, 民营私营) or ``public`` (state and collective enterprises, public institutions,
  国有集体企业和事业单位);
- the unit rule. An employer's unit is decided by the one rule :func:`canbao.profile.record_unit`
  (docs/plan.md, "Actuals"): the employer's managing agency (``agency_code`` of its records in
  the employer registries, the newest extract first) when the profile maps it to 市本级 or a
  zone — its money then counts there and **not** for the employer's county, so that the
  counties, 市本级 and the zones add up to the city; else the master employer's county or
  pooling area through the profile's area table (:meth:`canbao.profile.Profile.area_units`: a
  retired code counts for its successor); else a county agency's code. The city (``city``) is
  every employer.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

import polars as pl

from canbao.profile import name_key, profile_for, record_unit

SCHEME_INDICATORS = {
    "employee_pension": "collected.employee_pension",
    "employee_medical": "collected.medical",
    "work_injury": "collected.work_injury",
    "maternity": "collected.maternity",
    "unemployment": "collected.unemployment",
}
OWNERSHIP_GROUP = {
    "private": "private",
    "individual": "private",
    "state": "public",
    "collective": "public",
    "public_institution": "public",
}


class _Period(Protocol):
    @property
    def start(self) -> dt.date: ...


class PlanPeriod(Protocol):
    """What collection reads of the plan it reports for: the start of its period."""

    @property
    def period(self) -> _Period: ...


def unit_table(data_dir: Path, units: Mapping[str, str] | None) -> Mapping[str, str]:
    if units is not None:
        return units
    return profile_for(data_dir, remember=False).profile.area_units()


def agency_table(data_dir: Path, agencies: Mapping[str, str] | None) -> Mapping[str, str]:
    if agencies is not None:
        return {name_key(k): u for k, u in agencies.items()}
    return profile_for(data_dir, remember=False).profile.agency_units(counties=False)


def employer_agencies(data_dir: Path, links: pl.LazyFrame) -> pl.LazyFrame:
    """``employer_key, agency_code``: each master employer's managing agency, from its records
    in the employer registries (kind ``employer``) that carry one — the newest extract first,
    then the smallest value (deterministic)."""
    from canbao.ingest import api as ingest_api

    if not ingest_api.current_batches(data_dir, kind="employer"):
        return pl.LazyFrame(schema={"employer_key": pl.Utf8, "agency_code": pl.Utf8})
    rec = (
        ingest_api.current_records(data_dir, "employer")
        .select("batch_id", "row", "as_of", "agency_code")
        .filter(pl.col("agency_code").is_not_null())
    )
    return (
        rec.join(links, on=["batch_id", "row"])
        .sort(
            "employer_key", pl.col("as_of"), pl.col("agency_code"), descending=[False, True, False]
        )
        .group_by("employer_key", maintain_order=True)
        .agg(pl.col("agency_code").first())
    )


def with_units(
    frame: pl.DataFrame, units: Mapping[str, str], agencies: Mapping[str, str]
) -> pl.DataFrame:
    """``+ unit`` by :func:`canbao.profile.record_unit`, decided once per distinct (county,
    agency) pair and joined back."""
    pairs = frame.select("county_code", "agency_code").unique()
    table = pl.DataFrame(
        [(c, a, record_unit(c, a, units, agencies)) for c, a in pairs.iter_rows()],
        schema={"county_code": pl.Utf8, "agency_code": pl.Utf8, "unit": pl.Utf8},
        orient="row",
    )
    return frame.join(table, on=["county_code", "agency_code"], how="left", nulls_equal=True)
