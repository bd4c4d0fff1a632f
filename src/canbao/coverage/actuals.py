"""Enrolment actuals for the plan (``enrolled.*`` per county unit and the city) from the
registry, as of the report date: the :class:`canbao.plan.actuals.ActualsSource` seam.

Counts are distinct persons with an active record on the date, by the record's pooling area;
``enrolled.medical`` (城镇基本医疗) is employee plus resident medical (each counted per scheme,
as the bureau reports them). 市本级 and 开发区 have no division code and get no actuals.
Collection indicators are not computed here (no collection module yet).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from canbao.coverage.session import open_session
from canbao.coverage.status import build_person_scheme

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
    data_dir: Path
    label: str = "参保登记库"
    engine: str | None = None  # duckdb | spark (default $CANBAO_ENGINE)
    spark_master: str | None = None

    def actuals(self, plan: Any, as_of: dt.date) -> pl.DataFrame:
        from canbao.plan.units import jiujiang_units

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
                """
                SELECT scheme, county_code, count(DISTINCT person_key) AS n
                FROM record_status WHERE eff_status = 'active'
                GROUP BY scheme, county_code
                UNION ALL
                SELECT scheme, 'city' AS county_code, count(DISTINCT person_key) AS n
                FROM record_status WHERE eff_status = 'active' GROUP BY scheme
                """
            )
        finally:
            s.close()
        from canbao.standards.divisions import jiujiang_successor

        codes = [c for c in per["county_code"].unique().to_list() if c and c != "city"]
        successor = {c: jiujiang_successor(c) for c in codes}  # a few codes: per unique value
        successor["city"] = "city"
        per = per.with_columns(
            unit=pl.col("county_code").replace_strict(successor, default=None, return_dtype=pl.Utf8)
        ).filter(pl.col("unit").is_not_null())
        units = {u.code for u in jiujiang_units() if u.kind in ("city", "county")}
        rows = []
        for ind, schemes in INDICATOR_SCHEMES.items():
            sub = (
                per.filter(pl.col("scheme").is_in(list(schemes)))
                .group_by("unit")
                .agg(value=pl.col("n").sum())
                .filter(pl.col("unit").is_in(list(units)))
            )
            rows.append(sub.with_columns(indicator=pl.lit(ind)))
        out = pl.concat(rows).select(
            "unit", "indicator", pl.col("value").cast(pl.Utf8), pl.lit(day).alias("as_of")
        )
        self.label = f"参保登记库（截至 {day.isoformat()}）"
        return out.sort("unit", "indicator")


def coverage_actuals_source(data_dir: Path | None) -> CoverageActuals | None:
    """A source when ``data_dir`` holds a built registry, else None."""
    if data_dir is None:
        return None
    from canbao.registry import snapshot

    if snapshot.current(data_dir) is None:
        return None
    return CoverageActuals(data_dir)
