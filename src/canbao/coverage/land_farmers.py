"""被征地农民: land-expropriated farmers and their basic pension, as of a date — the actuals of the
plan's 附件3 (``land_farmer.pension``) and the work list of those without pension.

Definitions (``docs/coverage.md``, "Land-expropriated farmers"):

- **land-expropriated farmer on D**: a master person with a special-group record of group
  ``land_expropriated`` (被征地农民 / 失地农民, from the land department's list) that has started
  on D (认定日期, else the list's extract date) and not ended before it (退出日期 after D or none).
  Being land-expropriated is a status the list confers; the person need not be in the hukou data.
- **their unit**: the county of the list record (户籍地区划 as the land department delivers it;
  with several records the most recent one, ties by code), else the person's registry county —
  mapped to a plan unit through the region profile's area table (retired codes count for their
  successors); the city counts everyone.
- **enrolled** (the actual): an active employee-pension or resident-pension record on D (status
  as everywhere in coverage, :mod:`canbao.coverage.status`), whatever else is known of the
  person — the same rule as the ``enrolled.*`` actuals.
- **without pension** (the work list ``land_farmers_uninsured``): a land-expropriated farmer on
  D without such a record who is alive and has not moved out, has a trusted ID (others go to the
  ``identity_to_verify`` list, as for 应保未保) and whose pension is not likely held by a record
  without ID, and is aged ``pension_min_age`` (policy: 16) or more on D. There is no upper age:
  the land farmers' scheme (九府厅发〔2014〕60号 in the seed plan's city) lets those above
  retirement age join with a lump-sum payment and draw a pension. Presumed students are *not* left
  out here (unlike 应保未保): the list itself says who they are. Priority 1 below the statutory
  retirement age (can contribute now), 2 above it (lump sum: verify eligibility), 3 age unknown.

This module provides the plan's actuals contract (``label`` and ``actuals(plan, as_of)`` →
``unit, indicator, value, as_of``) without importing the plan.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from canbao.coverage.gaps import build_unlinked_cover
from canbao.coverage.segments import build_person_facts
from canbao.coverage.session import Session, open_session
from canbao.coverage.status import build_person_scheme
from canbao.profile import CITY, Profile, profile_for
from canbao.warehouse.scope import Scope

# a batch job for the plan's 通报 (city-wide counts per unit, nothing personal)
PLAN_ACTUALS = Scope.system("plan actuals: land-expropriated farmers per unit")

INDICATOR = "land_farmer.pension"
GROUP = "land_expropriated"


def build_land_farmers(s: Session) -> None:
    """``land_farmers``: one row per land-expropriated farmer on the session's date, with the
    area code they count for and whether they have an active pension (``ep``, ``rp``,
    ``pension`` as 1/0)."""
    s.ensure("person_scheme", build_person_scheme)
    day = s.day
    s.execute(
        f"""
        CREATE OR REPLACE TABLE land_farmers AS
        WITH g AS (
            SELECT l.person_key, r.county_code, r.township,
                   coalesce(r.start_date, r.as_of) AS since,
                   row_number() OVER (
                       PARTITION BY l.person_key
                       ORDER BY coalesce(r.start_date, r.as_of) DESC, r.county_code, r.township
                   ) AS rk
            FROM cov_special_group r
            JOIN links l ON l.batch_id = r.batch_id AND l."row" = r."row"
            WHERE r."group" = '{GROUP}'
              AND coalesce(r.start_date, r.as_of) <= {day}
              AND (r.end_date IS NULL OR r.end_date > {day})
        ), pen AS (
            SELECT person_key,
                   max(CASE WHEN scheme = 'employee_pension' THEN 1 ELSE 0 END) AS ep,
                   max(CASE WHEN scheme = 'resident_pension' THEN 1 ELSE 0 END) AS rp
            FROM person_scheme
            WHERE status = 'active' AND scheme IN ('employee_pension', 'resident_pension')
            GROUP BY person_key
        )
        SELECT g.person_key, coalesce(g.county_code, p.county_code) AS area_code,
               coalesce(g.township, p.township) AS list_township, g.since,
               coalesce(pen.ep, 0) AS ep, coalesce(pen.rp, 0) AS rp,
               CASE WHEN pen.person_key IS NULL THEN 0 ELSE 1 END AS pension
        FROM g
        JOIN persons p ON p.person_key = g.person_key
        LEFT JOIN pen ON pen.person_key = g.person_key
        WHERE g.rk = 1
        """
    )


def counts_by_area(s: Session) -> pl.DataFrame:
    """``area_code, farmers, enrolled`` (area code null: neither list nor registry has one)."""
    s.ensure("land_farmers", build_land_farmers)
    return s.frame(
        """
        SELECT area_code, count(*) AS farmers, CAST(sum(pension) AS BIGINT) AS enrolled
        FROM land_farmers GROUP BY area_code
        """
    )


def counts_by_unit(by_area: pl.DataFrame, units: Mapping[str, str]) -> pl.DataFrame:
    """``unit, farmers, enrolled`` per plan unit of ``units`` ({area code: unit code}) and for
    the city (every farmer, also those whose area maps to no unit)."""
    mapped = (
        by_area.with_columns(
            unit=pl.col("area_code").replace_strict(dict(units), default=None, return_dtype=pl.Utf8)
        )
        .filter(pl.col("unit").is_not_null())
        .group_by("unit")
        .agg(pl.col("farmers").sum(), pl.col("enrolled").sum())
    )
    city = by_area.select(
        pl.lit(CITY).alias("unit"), pl.col("farmers").sum(), pl.col("enrolled").sum()
    )
    return pl.concat([mapped, city.cast(mapped.schema)]).sort("unit")


def uninsured_list_sql(s: Session) -> str:
    """The work list: land-expropriated farmers without basic pension (see the module doc)."""
    s.ensure("land_farmers", build_land_farmers)
    s.ensure("person_facts", build_person_facts)
    s.ensure("unlinked_cover", build_unlinked_cover)
    m = s.policy.pension_min_age
    return f"""
        SELECT f.area_code AS county_code, f.list_township AS township, s.segment,
               CASE WHEN s.age IS NULL THEN 3 WHEN s.age < s.retirement_age THEN 1 ELSE 2 END
                   AS priority,
               CASE WHEN s.age IS NULL THEN '被征地农民、未参加基本养老保险：出生日期不详，先核实身份'
                    WHEN s.age >= s.retirement_age
                        THEN '被征地农民、已达退休年龄、未参加基本养老保险：核实可否按被征地农民政策一次性缴费后领取待遇'
                    WHEN s.working = 1
                        THEN '被征地农民、有工资收入但未参加职工养老：督促单位参保，或按被征地农民政策参加居民养老'
                    ELSE '被征地农民、未参加基本养老保险：按被征地农民政策纳入城乡居民或职工养老保险' END
                   AS reason,
               s.person_key, s.id18, s.name, s.sex, s.age, s.age_band, s.address, s.phone,
               f.since AS land_since
        FROM land_farmers f
        JOIN person_segments s ON s.person_key = f.person_key
        LEFT JOIN unlinked_cover c ON c.person_key = f.person_key
        WHERE f.pension = 0 AND s.resident = 1 AND s.identified = 1
          AND coalesce(c.pension_elsewhere, 0) = 0
          AND (s.age IS NULL OR s.age >= {m})
    """


@dataclass
class LandFarmerActuals:
    """``land_farmer.pension`` per unit of ``units`` ({area code: unit code}; default: the data
    directory's region profile's :meth:`~canbao.profile.Profile.area_units`) and for the city,
    as of min(report date, data date)."""

    data_dir: Path
    label: str = "被征地农民名单与参保登记库"
    engine: str | None = None  # duckdb | spark (default $CANBAO_ENGINE)
    spark_master: str | None = None
    units: Mapping[str, str] | None = None

    def actuals(self, plan: object, as_of: dt.date) -> pl.DataFrame:
        """The land farmers' pension actuals (``plan`` is not needed: any value will do)."""
        units = (
            dict(self.units)
            if self.units is not None
            else profile_for(self.data_dir, remember=False).profile.area_units()
        )
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
            by_area = counts_by_area(s)
        finally:
            s.close()
        self.label = f"被征地农民名单与参保登记库（截至 {day.isoformat()}）"
        if by_area.height == 0:  # no land-expropriated list ingested: no actual, not zero
            return pl.DataFrame(
                schema={"unit": pl.Utf8, "indicator": pl.Utf8, "value": pl.Utf8, "as_of": pl.Date}
            )
        return counts_by_unit(by_area, units).select(
            "unit",
            pl.lit(INDICATOR).alias("indicator"),
            pl.col("enrolled").cast(pl.Utf8).alias("value"),
            pl.lit(day).alias("as_of"),
        )


def land_farmer_actuals_source(
    data_dir: Path | None, profile: Profile | None = None
) -> LandFarmerActuals | None:
    """A source when ``data_dir`` holds a built registry, else None; units from ``profile``
    (default: the data directory's)."""
    if data_dir is None:
        return None
    from canbao.registry import snapshot

    if snapshot.current(data_dir) is None:
        return None
    return LandFarmerActuals(data_dir, units=profile.area_units() if profile else None)
