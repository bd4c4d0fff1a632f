"""Enrolment actuals (``enrolled.*`` per unit and for the whole city) from the registry, as of
the report date: a source for the plan's 通报 that does not import the plan.

The plan's contract (:mod:`canbao.plan.actuals`): an object with a ``label`` and
``actuals(plan, as_of)`` returning a frame of ``unit, indicator, value, as_of``; it is a
structural protocol, so :class:`CoverageActuals` satisfies it by shape. The indicator codes are
the plan's (``enrolled.employee_pension`` …, listed in :data:`INDICATOR_SCHEMES`; a test checks
them against the plan's catalogue); the units are the region profile's.

Counts are distinct persons with an active record on the date, per unit. A record's unit (one
rule, shared with :mod:`canbao.collection.actuals`; docs/plan.md, "Actuals"):

1. its managing agency (the enrolment's ``agency_code``, 参保经办机构 / 统筹区) when the profile
   maps that agency to a unit that is not a county — 市本级 or a zone
   (:meth:`canbao.profile.Profile.agency_units` with ``counties=False``). Such a record counts
   for 市本级 or the zone and **not** for the county it lies in, as the plan splits its targets
   (全市 = 市本级 + the counties + the zones);
2. else its county or pooling area (``county_code``) through the profile's area table
   (:meth:`canbao.profile.Profile.area_units`: a county's current and retired codes, the
   pooling areas that count for a unit), as before agencies were known;
3. else the agency when it is a county's (a county's agency is known by its code: an extract
   with only 统筹区编码).

A record no rule places counts for the whole city only. The whole city (``city``) counts every
active record once per person. A person active in two units (two pooling areas) counts in each.
``enrolled.medical`` (城镇基本医疗) is employee plus resident medical (each counted per scheme,
as the bureau reports them).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from canbao.coverage.session import Session, open_session
from canbao.coverage.status import build_record_status
from canbao.profile import CITY, Profile, name_key, profile_for, record_unit
from canbao.warehouse.scope import Scope

# a batch job for the plan's 通报 (city-wide counts per unit, nothing personal)
PLAN_ACTUALS = Scope.system("plan actuals: enrolment per unit")

INDICATOR_SCHEMES = {
    "enrolled.employee_pension": ("employee_pension",),
    "enrolled.medical": ("employee_medical", "resident_medical"),
    "enrolled.work_injury": ("work_injury",),
    "enrolled.maternity": ("maternity",),
    "enrolled.unemployment": ("unemployment",),
    "enrolled.resident_pension": ("resident_pension",),
}


@dataclass
class CoverageActuals:
    """Enrolment actuals of the data directory. ``units``: {area code: unit code}; ``agencies``:
    {agency code or name: unit code} of the agencies that take a record away from its county
    (see the module docstring); each defaults to the data directory's region profile's
    (:meth:`~canbao.profile.Profile.area_units`, :meth:`~canbao.profile.Profile.agency_units`
    with ``counties=False``)."""

    data_dir: Path
    label: str = "参保登记库"
    engine: str | None = None  # duckdb | spark (default $CANBAO_ENGINE)
    spark_master: str | None = None
    units: Mapping[str, str] | None = None
    agencies: Mapping[str, str] | None = None

    def unit_table(self) -> dict[str, str]:
        if self.units is not None:
            return dict(self.units)
        return profile_for(self.data_dir, remember=False).profile.area_units()

    def agency_table(self) -> dict[str, str]:
        if self.agencies is not None:
            return {name_key(k): u for k, u in self.agencies.items()}
        return profile_for(self.data_dir, remember=False).profile.agency_units(counties=False)

    def actuals(self, plan: object, as_of: dt.date) -> pl.DataFrame:
        """The enrolment frame (``plan`` is not needed: any value will do)."""
        s = open_session(
            self.data_dir, PLAN_ACTUALS, engine=self.engine, spark_master=self.spark_master
        )
        try:
            day = min(as_of, s.as_of)
            if day != s.as_of:
                s.close()
                s = open_session(
                    self.data_dir,
                    PLAN_ACTUALS,
                    day,
                    engine=self.engine,
                    spark_master=self.spark_master,
                )
            per = active_per_unit(s, self.unit_table(), self.agency_table())
        finally:
            s.close()
        rows = []
        for ind, schemes in INDICATOR_SCHEMES.items():
            sub = (
                per.filter(pl.col("scheme").is_in(list(schemes)))
                .group_by("unit")
                .agg(value=pl.col("n").sum())
            )
            rows.append(sub.with_columns(indicator=pl.lit(ind)))
        out = pl.concat(rows).select(
            "unit", "indicator", pl.col("value").cast(pl.Utf8), pl.lit(day).alias("as_of")
        )
        self.label = f"参保登记库（截至 {day.isoformat()}）"
        return out.sort("unit", "indicator")


def unit_pairs(
    pairs: pl.DataFrame, units: Mapping[str, str], agencies: Mapping[str, str]
) -> pl.DataFrame:
    """``county_code, agency_code`` (distinct pairs) → ``+ unit`` by :func:`record_unit`, with
    ``ck`` / ``ak``: the codes with '' for null (join keys). Runs once per distinct pair."""
    rows = [
        (c or "", a or "", record_unit(c, a, units, agencies))
        for c, a in pairs.select("county_code", "agency_code").iter_rows()
    ]
    return pl.DataFrame(rows, schema={"ck": pl.Utf8, "ak": pl.Utf8, "unit": pl.Utf8}, orient="row")


def active_per_unit(
    s: Session, units: Mapping[str, str], agencies: Mapping[str, str]
) -> pl.DataFrame:
    """``scheme, unit, n``: distinct persons with an active record on the session's date, per
    scheme and unit, plus the whole city (``city``). Set-based: the unit of each distinct
    (county, agency) pair is decided once and joined back."""
    s.ensure("record_status", build_record_status)
    s.execute(
        """
        CREATE OR REPLACE TABLE actuals_records AS
        SELECT r.person_key, r.scheme, coalesce(r.county_code, '') AS ck,
               coalesce(e.agency_code, '') AS ak
        FROM record_status r
        LEFT JOIN cov_enrollment e ON e.batch_id = r.batch_id AND e."row" = r."row"
        WHERE r.eff_status = 'active'
        """
    )
    pairs = s.frame("SELECT DISTINCT ck, ak FROM actuals_records").select(
        pl.col("ck").replace("", None).alias("county_code"),
        pl.col("ak").replace("", None).alias("agency_code"),
    )
    s.eng.read_frame(
        "actuals_units",
        unit_pairs(pairs, units, agencies).filter(pl.col("unit").is_not_null()).lazy(),
    )
    return s.frame(
        f"""
        SELECT r.scheme, u.unit, count(DISTINCT r.person_key) AS n
        FROM actuals_records r JOIN actuals_units u ON u.ck = r.ck AND u.ak = r.ak
        GROUP BY r.scheme, u.unit
        UNION ALL
        SELECT scheme, '{CITY}' AS unit, count(DISTINCT person_key) AS n
        FROM actuals_records GROUP BY scheme
        """
    )


def coverage_actuals_source(
    data_dir: Path | None, profile: Profile | None = None
) -> CoverageActuals | None:
    """A source when ``data_dir`` holds a built registry, else None; units from ``profile``
    (default: the data directory's)."""
    if data_dir is None:
        return None
    from canbao.registry import snapshot

    if snapshot.current(data_dir) is None:
        return None
    if profile is None:
        return CoverageActuals(data_dir)
    return CoverageActuals(
        data_dir, units=profile.area_units(), agencies=profile.agency_units(counties=False)
    )
