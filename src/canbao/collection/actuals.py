"""Collection actuals for the plan's 通报: fund collected per scheme and the new-arrears ratio by
ownership type, per county unit and for the whole city, as of a date.

Definitions (one place; ``docs/plan.md`` links here):

- ``collected.<scheme>``: the sum of ``paid`` (实缴金额) of payment records whose contribution
  month (费款所属期) is in the plan year and whose payment was received (到账日期) on or before
  the as-of date, in yuan. ``collected.medical`` is employee medical insurance (resident medical
  premiums are not in the payment extracts). ``collected.resident_pension`` has no source yet and
  is not produced.
- ``new_arrears_ratio.private`` / ``.public``: for the plan year's contribution months up to the
  as-of month, the amount due and not received by the as-of date, divided by the amount due
  (新欠 ÷ 当年应缴额). private = private enterprises and individual businesses (民营私营);
  public = state and collective enterprises and public institutions (国有集体企业和事业单位).
- ``clearance_rate.*`` (清欠率) needs the arrears outstanding at the start of the year, which no
  extract carries yet: not produced.

A payment's unit is its employer's (payments are made by employers), by the one rule
:func:`canbao.profile.record_unit` (docs/plan.md, "Actuals"): the employer's managing agency
(``agency_code`` of its records in the employer registries, the newest extract first) when the
profile maps it to 市本级 or a zone — the payment then counts there and **not** for the
employer's county, so that the counties, 市本级 and the zones add up to the city; else the
master employer's county or pooling area through the profile's area table
(:meth:`canbao.profile.Profile.area_units`: a retired code counts for its successor); else a
county agency's code. The city (``city``) is every employer.

This module provides the plan's actuals contract (:mod:`canbao.plan.actuals`: ``label`` and
``actuals(plan, as_of)`` returning ``unit, indicator, value, as_of``) without importing the plan:
:class:`CollectionActuals` has that shape, and reads of the plan only ``plan.period.start``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Protocol

import polars as pl

from canbao.profile import CITY, Profile, name_key, profile_for, record_unit
from canbao.warehouse.scope import Scope

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


def _units(data_dir: Path, units: Mapping[str, str] | None) -> Mapping[str, str]:
    if units is not None:
        return units
    return profile_for(data_dir, remember=False).profile.area_units()


def _agencies(data_dir: Path, agencies: Mapping[str, str] | None) -> Mapping[str, str]:
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


def _with_units(
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


def payments(
    data_dir: Path,
    units: Mapping[str, str] | None = None,
    agencies: Mapping[str, str] | None = None,
) -> pl.DataFrame:
    """Payment records with their master employer's unit and ownership group. ``units``: {area
    code: unit code}, ``agencies``: {agency code or name: unit code} of 市本级 and the zones
    (default: the data directory's profile's :meth:`~canbao.profile.Profile.area_units` and
    :meth:`~canbao.profile.Profile.agency_units` with ``counties=False``)."""
    from canbao.ingest import api as ingest_api
    from canbao.registry import api as registry_api
    from canbao.registry import snapshot

    if not ingest_api.current_batches(data_dir, kind="payment"):
        return pl.DataFrame()
    pay = ingest_api.current_records(data_dir, "payment").select(
        "batch_id", "row", "period", "scheme", "due", "paid", "paid_date"
    )
    links = (
        snapshot.require_current(data_dir)
        .scan("employer_links")
        .select("batch_id", "row", "employer_key")
    )
    emp = (
        registry_api.employers(data_dir, Scope.system("collection actuals"))
        .lazy()
        .select("employer_key", "county_code", "ownership")
    )
    frame = (
        pay.join(links, on=["batch_id", "row"], how="left")
        .join(emp, on="employer_key", how="left")
        .join(employer_agencies(data_dir, links), on="employer_key", how="left")
        .with_columns(group=pl.col("ownership").replace_strict(OWNERSHIP_GROUP, default=None))
        .collect()
    )
    return _with_units(frame, _units(data_dir, units), _agencies(data_dir, agencies))


def collection_actuals(
    data_dir: Path,
    year: int,
    as_of: dt.date,
    units: Mapping[str, str] | None = None,
    agencies: Mapping[str, str] | None = None,
) -> pl.DataFrame:
    """Long frame unit, indicator, value (Decimal as text: yuan or a fraction), as_of; units
    and agencies as in :func:`payments`."""
    pay = payments(data_dir, units, agencies)
    if pay.height == 0:
        return pl.DataFrame(schema={"unit": pl.Utf8, "indicator": pl.Utf8, "value": pl.Utf8})
    as_of_period = f"{as_of:%Y-%m}"
    in_year = pay.filter(
        pl.col("period").str.starts_with(f"{year}-") & (pl.col("period") <= as_of_period)
    )
    received = pl.col("paid_date").is_not_null() & (pl.col("paid_date") <= as_of)
    paid_now = pl.when(received).then(pl.col("paid").fill_null(0)).otherwise(0)
    in_year = in_year.with_columns(paid_now=paid_now)
    rows: list[dict[str, str]] = []

    def add(frame: pl.DataFrame, unit_col: str | None) -> None:
        keys = [unit_col] if unit_col else []
        coll = frame.filter(pl.col("scheme").is_in(list(SCHEME_INDICATORS)))
        for r in (
            coll.group_by([*keys, "scheme"]).agg(fen=pl.col("paid_now").sum()).iter_rows(named=True)
        ):
            if unit_col and r[unit_col] is None:
                continue
            rows.append(
                {
                    "unit": r[unit_col] if unit_col else CITY,
                    "indicator": SCHEME_INDICATORS[r["scheme"]],
                    "value": str(Decimal(int(r["fen"])) / 100),
                }
            )
        arrears = (
            frame.filter(pl.col("group").is_not_null())
            .group_by([*keys, "group"])
            .agg(
                due=pl.col("due").fill_null(0).sum(),
                owed=(pl.col("due").fill_null(0) - pl.col("paid_now")).clip(lower_bound=0).sum(),
            )
        )
        for r in arrears.iter_rows(named=True):
            if (unit_col and r[unit_col] is None) or not r["due"]:
                continue
            ratio = (Decimal(int(r["owed"])) / Decimal(int(r["due"]))).quantize(Decimal("0.0001"))
            rows.append(
                {
                    "unit": r[unit_col] if unit_col else CITY,
                    "indicator": f"new_arrears_ratio.{r['group']}",
                    "value": str(ratio),
                }
            )

    add(in_year, "unit")
    add(in_year, None)
    return pl.DataFrame(
        rows, schema={"unit": pl.Utf8, "indicator": pl.Utf8, "value": pl.Utf8}
    ).with_columns(as_of=pl.lit(as_of))


@dataclass
class CollectionActuals:
    """Collection actuals for the plan's 通报 (the contract: module docstring); ``units`` as in
    :func:`payments`."""

    data_dir: Path
    label: str = "缴费到账数据（征缴）"
    units: Mapping[str, str] | None = None
    agencies: Mapping[str, str] | None = None

    def actuals(self, plan: PlanPeriod, as_of: dt.date) -> pl.DataFrame:
        return collection_actuals(
            self.data_dir, plan.period.start.year, as_of, self.units, self.agencies
        )


def collection_actuals_source(
    data_dir: Path | None, profile: Profile | None = None
) -> CollectionActuals | None:
    """A source when ``data_dir`` holds a built registry and payment batches, else None; units
    from ``profile`` (default: the data directory's)."""
    if data_dir is None:
        return None
    from canbao.ingest import api as ingest_api
    from canbao.registry import snapshot

    if snapshot.current(data_dir) is None or not ingest_api.current_batches(data_dir, "payment"):
        return None
    if profile is None:
        return CollectionActuals(data_dir)
    return CollectionActuals(
        data_dir, units=profile.area_units(), agencies=profile.agency_units(counties=False)
    )
