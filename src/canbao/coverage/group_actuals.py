"""Key-group enrolment actuals (重点群体扩面): ``enrolled.*`` counted within each key group of
the plan, per unit and for the whole city, as of the report date — a source for the 通报 that
does not import the plan.

The plan's contract (:mod:`canbao.plan.actuals`): ``label`` and ``actuals(plan, as_of)``
returning ``unit, indicator, value, as_of`` and here also ``group`` (a key group's code). The
indicator codes are those of :data:`canbao.coverage.actuals.INDICATOR_SCHEMES`; the group codes
are :data:`GROUPS` (a test checks both against the plan's catalogues).

Who is in a group on the date D (the same facts as :mod:`canbao.coverage.segments`):

- ``flexible_worker`` (灵活就业): a special-group record ``flexible_worker`` running on D, or an
  active enrolment whose 人员类别 says 灵活就业;
- ``land_expropriated`` (失地农民), ``village_cadre`` (村干部): a special-group record of that
  group running on D (started on or before D — 认定日期, else the list's extract date — and not
  ended on or before D);
- ``park`` (园区企业): the enrolment's employer is flagged as a park enterprise (``park = yes``);
- ``private`` (民营私企): the enrolment's employer is private or an individual business
  (ownership ``private`` / ``individual``, as collection's 民营私营).

A group's actual for an indicator is the number of distinct persons of the group with an active
record of the indicator's schemes on D (status as everywhere in coverage,
:mod:`canbao.coverage.status`), per unit by the record's unit — its managing agency when that is
市本级's or a zone's, else its county or pooling area — exactly as the ``enrolled.*`` actuals
count (:func:`canbao.coverage.actuals.unit_pairs`, :func:`canbao.profile.record_unit`);
``enrolled.medical`` is employee plus resident medical, each counted per scheme. For ``park``
and ``private`` the person is in the group through the record itself (the employer of that
record).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from canbao.coverage.actuals import INDICATOR_SCHEMES, unit_pairs
from canbao.coverage.session import Session, open_session
from canbao.coverage.status import build_record_status
from canbao.profile import CITY, Profile, name_key, profile_for
from canbao.warehouse.scope import Scope

# a batch job for the plan's 通报 (city-wide counts per unit, nothing personal)
PLAN_ACTUALS = Scope.system("plan actuals: key groups per unit")

GROUPS = ("park", "private", "flexible_worker", "land_expropriated", "village_cadre")
PERSON_GROUPS = ("flexible_worker", "land_expropriated", "village_cadre")  # special-group lists
PRIVATE_OWNERSHIP = ("private", "individual")
_COUNTS = {"grp": pl.Utf8, "scheme": pl.Utf8, "unit": pl.Utf8, "n": pl.Int64}


def group_records_sql(s: Session) -> str:
    """SQL: one row per (group, scheme, ck, ak, person_key) active on the session's date (``ck``,
    ``ak``: the record's county and agency codes, '' for none)."""
    day = s.day
    listed = ", ".join(f"'{g}'" for g in PERSON_GROUPS)
    private = ", ".join(f"'{o}'" for o in PRIVATE_OWNERSHIP)
    return f"""
        WITH act AS (
            SELECT r.person_key, r.scheme, r.employer_key, r.person_type,
                   coalesce(r.county_code, '') AS ck, coalesce(e.agency_code, '') AS ak
            FROM record_status r
            LEFT JOIN cov_enrollment e ON e.batch_id = r.batch_id AND e."row" = r."row"
            WHERE r.eff_status = 'active'
        ), members AS (
            SELECT DISTINCT l.person_key, r."group" AS grp
            FROM cov_special_group r
            JOIN links l ON l.batch_id = r.batch_id AND l."row" = r."row"
            WHERE r."group" IN ({listed})
              AND coalesce(r.start_date, r.as_of) <= {day}
              AND (r.end_date IS NULL OR r.end_date > {day})
            UNION
            SELECT DISTINCT person_key, 'flexible_worker' AS grp
            FROM act WHERE person_type LIKE '%灵活就业%'
        )
        SELECT m.grp, a.scheme, a.ck, a.ak, a.person_key
        FROM act a JOIN members m ON m.person_key = a.person_key
        UNION
        SELECT 'park' AS grp, a.scheme, a.ck, a.ak, a.person_key
        FROM act a JOIN employers e ON e.employer_key = a.employer_key
        WHERE e.park = 'yes'
        UNION
        SELECT 'private' AS grp, a.scheme, a.ck, a.ak, a.person_key
        FROM act a JOIN employers e ON e.employer_key = a.employer_key
        WHERE e.ownership IN ({private})
    """


def group_counts(s: Session, units: Mapping[str, str], agencies: Mapping[str, str]) -> pl.DataFrame:
    """``grp, scheme, unit, n`` (distinct persons) per unit (the record's, see the module
    docstring) and for the whole city (``city``: every record once per person)."""
    s.ensure("record_status", build_record_status)
    s.execute(f"CREATE OR REPLACE TABLE group_records AS {group_records_sql(s)}")
    pairs = s.frame("SELECT DISTINCT ck, ak FROM group_records").select(
        pl.col("ck").replace("", None).alias("county_code"),
        pl.col("ak").replace("", None).alias("agency_code"),
    )
    s.eng.read_frame(
        "group_record_units",
        unit_pairs(pairs, units, agencies).filter(pl.col("unit").is_not_null()).lazy(),
    )
    return s.frame(
        f"""
        SELECT r.grp, r.scheme, u.unit, count(DISTINCT r.person_key) AS n
        FROM group_records r JOIN group_record_units u ON u.ck = r.ck AND u.ak = r.ak
        GROUP BY r.grp, r.scheme, u.unit
        UNION ALL
        SELECT grp, scheme, '{CITY}' AS unit, count(DISTINCT person_key) AS n
        FROM group_records GROUP BY grp, scheme
        """
    )


def to_actuals(counts: pl.DataFrame, day: dt.date) -> pl.DataFrame:
    """The long frame ``unit, indicator, group, value, as_of`` of :func:`group_counts`."""
    frames = [
        counts.filter(pl.col("scheme").is_in(list(schemes)))
        .group_by("unit", "grp")
        .agg(value=pl.col("n").sum())
        .with_columns(indicator=pl.lit(ind))
        for ind, schemes in INDICATOR_SCHEMES.items()
    ]
    schema = {"unit": pl.Utf8, "indicator": pl.Utf8, "group": pl.Utf8, "value": pl.Utf8}
    out = pl.concat(frames)
    if out.height == 0:
        return pl.DataFrame(schema=schema).with_columns(as_of=pl.lit(day))
    return out.select(
        "unit",
        "indicator",
        pl.col("grp").alias("group"),
        pl.col("value").cast(pl.Utf8),
        pl.lit(day).alias("as_of"),
    ).sort("group", "unit", "indicator")


@dataclass
class GroupActuals:
    """Key-group enrolment actuals of the data directory (the contract: module docstring), as
    of min(report date, data date). ``units`` ({area code: unit code}) and ``agencies`` ({agency
    code or name: unit code} of 市本级's and the zones' agencies) as in
    :class:`canbao.coverage.actuals.CoverageActuals`; default: the data directory's profile's."""

    data_dir: Path
    label: str = "参保登记库（重点群体）"
    engine: str | None = None  # duckdb | spark (default $CANBAO_ENGINE)
    spark_master: str | None = None
    units: Mapping[str, str] | None = None
    agencies: Mapping[str, str] | None = None

    def tables(self) -> tuple[dict[str, str], dict[str, str]]:
        """(area table, agency table) of the records' units."""
        if self.units is not None and self.agencies is not None:
            return dict(self.units), {name_key(k): u for k, u in self.agencies.items()}
        prof = profile_for(self.data_dir, remember=False).profile
        units = dict(self.units) if self.units is not None else prof.area_units()
        if self.agencies is not None:
            return units, {name_key(k): u for k, u in self.agencies.items()}
        return units, prof.agency_units(counties=False)

    def actuals(self, plan: object, as_of: dt.date) -> pl.DataFrame:
        """The key-group frame. Of ``plan`` only ``group_targets`` is read, when it has one:
        a plan without key-group targets needs no key-group actuals (an empty frame)."""
        if not getattr(plan, "group_targets", True):
            return to_actuals(pl.DataFrame(schema=_COUNTS), as_of)
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
            counts = group_counts(s, *self.tables())
        finally:
            s.close()
        return to_actuals(counts, day)


def group_actuals_source(
    data_dir: Path | None, profile: Profile | None = None
) -> GroupActuals | None:
    """A source when ``data_dir`` holds a built registry, else None; units from ``profile``
    (default: the data directory's)."""
    if data_dir is None:
        return None
    from canbao.registry import snapshot

    if snapshot.current(data_dir) is None:
        return None
    if profile is None:
        return GroupActuals(data_dir)
    return GroupActuals(
        data_dir, units=profile.area_units(), agencies=profile.agency_units(counties=False)
    )
