"""Enrolment actuals (``enrolled.*`` per unit and for the whole city) from the registry, as of
the report date: a source for the plan's 通报 that does not import the plan.

The plan's contract (:mod:`canbao.plan.actuals`): an object with a ``label`` and
``actuals(plan, as_of)`` returning a frame of ``unit, indicator, value, as_of``; it is a
structural protocol, so :class:`CoverageActuals` satisfies it by shape. The indicator codes are
the plan's (``enrolled.employee_pension`` …, listed in :data:`INDICATOR_SCHEMES`; a test checks
them against the plan's catalogue); the units are the region profile's.

Counts are distinct persons with an active record on the date, by the record's county or pooling
area (``county_code``), mapped to a unit through the profile's area table
(:meth:`canbao.profile.Profile.area_units`: a county's current and retired codes, the pooling
areas that count for a unit); the whole city (``city``) counts every active record.
``enrolled.medical`` (城镇基本医疗) is employee plus resident medical (each counted per scheme,
as the bureau reports them). A unit without a code of its own (市本级, a zone) gets actuals only
through a pooling area or agency the profile maps to it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from canbao.coverage.session import open_session
from canbao.coverage.status import build_person_scheme
from canbao.profile import CITY, Profile, profile_for

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
    """Enrolment actuals of the data directory, per unit of ``units`` ({area code: unit code};
    default: the data directory's region profile's :meth:`~canbao.profile.Profile.area_units`)."""

    data_dir: Path
    label: str = "参保登记库"
    engine: str | None = None  # duckdb | spark (default $CANBAO_ENGINE)
    spark_master: str | None = None
    units: Mapping[str, str] | None = None

    def unit_table(self) -> dict[str, str]:
        if self.units is not None:
            return dict(self.units)
        return profile_for(self.data_dir, remember=False).profile.area_units()

    def actuals(self, plan: object, as_of: dt.date) -> pl.DataFrame:
        """The enrolment frame (``plan`` is not needed: any value will do)."""
        s = open_session(self.data_dir, engine=self.engine, spark_master=self.spark_master)
        try:
            day = min(as_of, s.as_of)
            if day != s.as_of:
                s.close()
                s = open_session(
                    self.data_dir, day, engine=self.engine, spark_master=self.spark_master
                )
            s.ensure("person_scheme", build_person_scheme)
            per = s.frame(
                f"""
                SELECT scheme, county_code, count(DISTINCT person_key) AS n
                FROM record_status WHERE eff_status = 'active'
                GROUP BY scheme, county_code
                UNION ALL
                SELECT scheme, '{CITY}' AS county_code, count(DISTINCT person_key) AS n
                FROM record_status WHERE eff_status = 'active' GROUP BY scheme
                """
            )
        finally:
            s.close()
        table = self.unit_table()
        codes = [c for c in per["county_code"].unique().to_list() if c and c != CITY]
        unit_of: dict[str, str | None] = {c: table.get(c) for c in codes}
        unit_of[CITY] = CITY
        per = per.with_columns(
            unit=pl.col("county_code").replace_strict(unit_of, default=None, return_dtype=pl.Utf8)
        ).filter(pl.col("unit").is_not_null())
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
    return CoverageActuals(data_dir, units=profile.area_units() if profile else None)
