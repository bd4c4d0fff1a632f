"""Public coverage API (the CLI and the plan are thin layers over it).

```python
from canbao.coverage import api
lists = api.gap_lists(data_dir, scope, kind="uninsured", county=code_or_name)  # {name: frame}
api.write_gap_lists(lists, Path("gaps.xlsx"))
api.coverage_export(data_dir, scope)   # one row per master person: schemes and flags
api.statistics(data_dir, scope)        # {"enrolled": ..., "rates": ..., "uninsured": ...}
api.analyse(data_dir, scope)           # all analytics in one session (bench, demo; city-wide)
api.coverage_export(data_dir, scope, engine="spark", spark_master="local[4]")  # on Spark
```

Every read takes a :class:`~canbao.warehouse.scope.Scope` (required, never defaulted): the
analyses run city-wide in the engine (set-based, as the batch jobs do) and what a function returns
holds only rows of the reader's counties (``county_code``). Lists of persons and the export need
a scope that may see personal data (a department client gets the employer lists only); asking for
a county outside the scope is refused; :func:`analyse` and :func:`evaluate` are city-wide jobs.

``county`` must be a GB/T 2260 division code (6 digits) that occurs in the data (the persons,
employers and enrolment records of the registry snapshot), or the name of one of the region
profile's counties (name, short name, former name: :meth:`canbao.profile.Profile.resolve_county`);
anything else is a :class:`~canbao.errors.UsageError` that lists the counties the data hold (a
typo never gives empty lists).

Every function takes ``engine`` (``duckdb`` or ``spark``; default ``$CANBAO_ENGINE``, else
DuckDB) and ``spark_master`` (default ``$CANBAO_SPARK_MASTER``, else ``local[*]``).
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from canbao.coverage import deceased, duplicates, employers, gaps, land_farmers, stats, worklist
from canbao.coverage.segments import build_person_facts
from canbao.coverage.session import Session, open_session, string_agg
from canbao.errors import UsageError
from canbao.outputs import WriteSummary
from canbao.profile import Profile, profile_for
from canbao.registry import snapshot
from canbao.standards import divisions
from canbao.warehouse.scope import Scope
from canbao.warehouse.sql import sql_read_path

KINDS = ("uninsured", "duplicates", "deceased", "employers", "land_farmers")
FLAGS = (
    "duplicate_medical",
    "duplicate_pension",
    "duplicate_area",
    "deceased_enrolled",
    "uninsured_pension",
    "uninsured_medical",
)
SCHEME_ORDER = (
    "employee_pension", "resident_pension", "employee_medical", "resident_medical",
    "work_injury", "maternity", "unemployment",
)  # fmt: skip


@contextmanager
def session(
    data_dir: Path,
    scope: Scope,
    as_of: dt.date | None = None,
    policy_path: Path | None = None,
    *,
    engine: str | None = None,
    spark_master: str | None = None,
) -> Iterator[Session]:
    s = open_session(data_dir, scope, as_of, policy_path, engine=engine, spark_master=spark_master)
    try:
        yield s
    finally:
        s.close()


def _person_lists(s: Session, kind: str) -> dict[str, pl.DataFrame]:
    if kind == "uninsured":
        return {
            "uninsured": s.frame(gaps.uninsured_list_sql(s)),
            "missing_employee_pension": s.frame(gaps.missing_employee_pension_sql(s)),
            "identity_to_verify": s.frame(gaps.identity_to_verify_sql(s)),
            "presumed_students": s.frame(gaps.presumed_students_sql(s)),
        }
    if kind == "duplicates":
        return {"duplicates": s.frame(duplicates.duplicates_list_sql(s))}
    if kind == "deceased":
        return {"deceased": s.frame(deceased.deceased_list_sql(s))}
    if kind == "land_farmers":
        return {"land_farmers_uninsured": s.frame(land_farmers.uninsured_list_sql(s))}
    return {}


def _employer_lists(s: Session) -> dict[str, pl.DataFrame]:
    s.ensure("compliance", employers.build_compliance)
    cols = "e.county_code, e.employer_key, e.name AS employer_name, e.credit_code, e.ownership"
    unreg = s.frame(
        f"""
        SELECT {cols}, 1 AS priority,
               CASE WHEN u.in_business_registry = 1
                    THEN '市场主体登记存续、个税有工资发放，但未办理社保登记：应责令限期登记'
                    ELSE '个税有工资发放但未办理社保登记（市场主体登记中未找到，核实是否为分支机构）'
                    END AS reason,
               u.staff, u.person_months, u.tax_months, u.first_period, u.last_period, u.wages,
               u.declared_months, u.in_business_registry
        FROM unregistered_employers u JOIN employers e ON e.employer_key = u.employer_key
        """
    )
    under = s.frame(
        f"""
        SELECT {cols}, CASE WHEN u.kind LIKE 'headcount%' THEN 1 ELSE 2 END AS priority,
               CASE u.kind WHEN 'headcount+base' THEN '申报人数少于个税发薪人数，且申报基数低于工资'
                           WHEN 'headcount' THEN '申报人数少于个税发薪人数：疑似漏报人员'
                           ELSE '申报基数低于个税工资（已按上下限调整）：疑似瞒报基数' END AS reason,
               u.scheme, u.kind AS under_kind, u.tax_person_months, u.declared_person_months,
               u.tax_base, u.declared_base, u.months_short, u.max_gap
        FROM under_reporters u JOIN employers e ON e.employer_key = u.employer_key
        """
    )
    months = s.frame(
        f"""
        SELECT {cols}, h.scheme, h.period, h.tax_headcount, h.declared_headcount, h.gap,
               h.tax_base, h.declared_base, h.base_gap
        FROM headcount_month h
        JOIN under_reporters u ON u.employer_key = h.employer_key AND u.scheme = h.scheme
        JOIN employers e ON e.employer_key = h.employer_key
        ORDER BY e.county_code, e.employer_key, h.scheme, h.period
        """
    )
    selective = s.frame(
        f"""
        SELECT {cols}, x.priority,
               CASE WHEN x.priority = 1 THEN '未申报养老、医疗或工伤中的险种：选择性参保'
                    ELSE '未申报生育或失业保险：选择性参保' END AS reason,
               x.n_schemes, x.declared_schemes
        FROM selective_employers x JOIN employers e ON e.employer_key = x.employer_key
        """
    )
    return {
        "unregistered_employers": unreg,
        "under_reporters": under,
        "headcount_months": months,
        "selective_employers": selective,
    }


# The tax rows of build_tax_rows (segments) for the employers of ``employer_links`` only: in an
# employer session that view holds one employer's links, so this is that employer's rows of the
# city-wide table (an inner join where the city-wide one keeps unlinked rows with no employer).
_EMPLOYER_TAX_ROWS = """
    CREATE OR REPLACE TABLE tax_rows AS
    SELECT l.person_key, el.employer_key, r.period, max(r.wage) AS wage
    FROM employer_links el
    JOIN cov_employment r ON r.batch_id = el.batch_id AND r."row" = el."row"
    JOIN links l ON l.batch_id = r.batch_id AND l."row" = r."row"
    WHERE r.period IS NOT NULL
    GROUP BY l.person_key, el.employer_key, r.period
"""


@contextmanager
def employer_session(
    data_dir: Path,
    scope: Scope,
    employer_key: str,
    as_of: dt.date | None = None,
    policy_path: Path | None = None,
    *,
    links: Path | None = None,
) -> Iterator[Session]:
    """A DuckDB session over one master employer: its ``employer_links`` view holds that
    employer's links only, so what is built on it — the employer lists
    (:func:`employer_lists_in`), the months of :func:`employer_months_in`, the ledger of
    :func:`canbao.collection.api.compliance_in` — is the employer's part of the city-wide
    tables, read in a fraction of the time (the web's employer page). The caller checks that the
    employer is in ``scope``. ``links``: a copy of the session's build's ``employer_links``
    (same columns) sorted by employer key, read instead of the snapshot's table (the web's
    per-build copies: only the row groups that can hold the employer are read)."""
    s = open_session(data_dir, scope, as_of, policy_path, engine="duckdb")
    try:
        snap = snapshot.load(data_dir, s.build_id)
        key = employer_key.replace("'", "''")
        source = (
            f"read_parquet({sql_read_path(links)})" if links else f"({snap.sql('employer_links')})"
        )
        s.eng.create_view(
            "employer_links", f"SELECT * FROM {source} x WHERE employer_key = '{key}'"
        )
        s.ensure("tax_rows", lambda x: x.execute(_EMPLOYER_TAX_ROWS))
        yield s
    finally:
        s.close()


def employer_lists_in(s: Session) -> dict[str, pl.DataFrame]:
    """The employer work lists of :func:`gap_lists` (``unregistered_employers``,
    ``under_reporters``, ``headcount_months``, ``selective_employers``) in an
    :func:`employer_session`: the employer's rows, as in the city-wide lists."""
    return {k: s.scope.filter(v, "county_code") for k, v in _employer_lists(s).items()}


def employer_months_in(s: Session) -> dict[str, pl.DataFrame]:
    """In an :func:`employer_session`, the employer's months of the as-of year (January to the
    as-of month) as the compliance checks count them (:mod:`canbao.coverage.employers`):
    ``tax`` (period, tax_headcount: distinct persons with wages, tax_wage, tax_base, fen) and
    ``declared`` (period, scheme, declared_headcount, declared_base, declared_due, fen)."""
    s.ensure("activity", employers.build_activity)
    return {
        "tax": s.frame(
            "SELECT period, tax_headcount, tax_wage, tax_base FROM employer_tax_month"
            " ORDER BY period"
        ),
        "declared": s.frame(
            "SELECT period, scheme, declared_headcount, declared_base, declared_due"
            " FROM employer_decl_month ORDER BY period, scheme"
        ),
    }


COUNTIES_LISTED = 40  # at most this many counties named in the error message


def data_counties(s: Session) -> list[str]:
    """The county codes the data hold (persons, employers, enrolment records), sorted."""
    frame = s.frame(
        """
        SELECT county_code FROM persons WHERE county_code IS NOT NULL
        UNION SELECT county_code FROM employers WHERE county_code IS NOT NULL
        UNION SELECT county_code FROM enrollments WHERE county_code IS NOT NULL
        """
    )
    return sorted(frame["county_code"].to_list())


def check_county(s: Session, county: str, profile: Profile | None = None) -> str:
    """The division code ``county`` names (surrounding spaces removed; a county name of
    ``profile``, default the data directory's, stands for its code) if it is present in the
    data; else a :class:`UsageError` naming the counties that are."""
    code = county.strip()
    if not re.fullmatch(r"\d{6}", code):
        p = profile or profile_for(s.data_dir, remember=False).profile
        named = p.resolve_county(code)
        code = named.code if named is not None else code
    present = data_counties(s)
    if code in present:
        return code
    shown = code if len(code) <= 20 else code[:20] + "…"
    if not re.fullmatch(r"\d{6}", code) or not divisions.existed(code):
        what, reason = f"区县代码 {shown} 不存在", "is not a GB/T 2260 division code"
    else:
        what = f"数据中没有区县 {code} {divisions.name_of(code)}"
        reason = "is a division code but not in the data"
    names = [f"{c} {divisions.name_of(c) or ''}".rstrip() for c in present[:COUNTIES_LISTED]]
    more = f" 等 {len(present)} 个" if len(present) > COUNTIES_LISTED else ""
    listing = "、".join(names) + more if names else "（无）"
    raise UsageError(
        f"{what}；数据中的区县：{listing}",
        f"county {shown!r} {reason}; the data hold {len(present)} counties",
    )


PERSON_KINDS = tuple(k for k in KINDS if k != "employers")


def _kinds_for(scope: Scope, kind: str | None) -> tuple[str, ...]:
    """The list kinds to compute: ``kind``, or all the scope may see (no person lists for a
    reader without personal data; asking for one is refused)."""
    if kind is not None and kind not in KINDS:
        raise UsageError(
            f"未知的清单类型：{kind}（可用 {' | '.join(KINDS)}）", f"unknown gap kind {kind!r}"
        )
    if kind is None:
        return KINDS if scope.personal else ("employers",)
    if kind in PERSON_KINDS:
        scope.require_personal()
    return (kind,)


def gap_lists_in(
    s: Session,
    kind: str | None = None,
    county: str | None = None,
    profile: Profile | None = None,
) -> dict[str, pl.DataFrame]:
    """The work lists of ``kind`` (all kinds the scope may see when None) in ``scope``, of one
    county when ``county`` is given (checked by :func:`check_county` and against the scope
    before anything is computed): the session's scope."""
    scope = s.scope
    kinds = _kinds_for(scope, kind)
    if county is not None:
        county = check_county(s, county, profile)
        scope.require_county(county)
    out: dict[str, pl.DataFrame] = {}
    for k in kinds:
        out.update(_employer_lists(s) if k == "employers" else _person_lists(s, k))
    if county is not None:
        out = {k: v.filter(pl.col("county_code") == county) for k, v in out.items()}
    return {k: scope.filter(v, "county_code") for k, v in out.items()}


def gap_lists(
    data_dir: Path,
    scope: Scope,
    kind: str | None = None,
    county: str | None = None,
    as_of: dt.date | None = None,
    policy_path: Path | None = None,
    *,
    engine: str | None = None,
    spark_master: str | None = None,
    profile: Profile | None = None,
) -> dict[str, pl.DataFrame]:
    """The work lists (unmasked frames; :func:`write_gap_lists` masks them)."""
    with session(
        data_dir, scope, as_of, policy_path, engine=engine, spark_master=spark_master
    ) as s:
        return gap_lists_in(s, kind, county, profile)


def write_gap_lists(lists: dict[str, pl.DataFrame], out: Path) -> WriteSummary:
    """Masked, for people, through the safe writer (see :mod:`canbao.outputs`)."""
    return worklist.write(lists, out)


def coverage_export_in(s: Session) -> pl.DataFrame:
    scope = s.scope
    scope.require_personal()
    s.ensure("uninsured", gaps.build_uninsured)
    s.ensure("duplicates", duplicates.build_duplicates)
    s.ensure("deceased_enrolled", deceased.build_deceased)
    scheme_o = " ".join(f"WHEN '{x}' THEN {i}" for i, x in enumerate(SCHEME_ORDER))
    flag_o = " ".join(f"WHEN '{x}' THEN {i}" for i, x in enumerate(FLAGS))
    agg_s = string_agg(s.dialect, "scheme", "o")
    agg_f = string_agg(s.dialect, "flag", "o")
    frame = s.frame(
        f"""
        WITH sch AS (
            SELECT person_key, {agg_s} AS schemes
            FROM (SELECT person_key, scheme, CASE scheme {scheme_o} ELSE 99 END AS o
                  FROM person_scheme WHERE status = 'active') x
            GROUP BY person_key
        ), fl AS (
            SELECT person_key, {agg_f} AS flags
            FROM (
                SELECT person_key, flag, CASE flag {flag_o} END AS o FROM (
                    SELECT DISTINCT person_key, kind AS flag FROM duplicates
                    WHERE kind IN ('duplicate_medical', 'duplicate_pension', 'duplicate_area')
                    UNION ALL SELECT DISTINCT person_key, 'deceased_enrolled' FROM deceased_enrolled
                    UNION ALL SELECT person_key, 'uninsured_pension' FROM uninsured
                    WHERE pension_gap = 1
                    UNION ALL SELECT person_key, 'uninsured_medical' FROM uninsured
                    WHERE medical_gap = 1
                ) y
            ) x
            GROUP BY person_key
        )
        SELECT p.person_key, p.id18, p.name, p.county_code,
               coalesce(sch.schemes, '') AS schemes, coalesce(fl.flags, '') AS flags
        FROM persons p
        LEFT JOIN sch ON sch.person_key = p.person_key
        LEFT JOIN fl ON fl.person_key = p.person_key
        WHERE {scope.sql("p.county_code")}
        ORDER BY p.person_key
        """
    )
    return frame


def coverage_export(
    data_dir: Path,
    scope: Scope,
    as_of: dt.date | None = None,
    *,
    engine: str | None = None,
    spark_master: str | None = None,
) -> pl.DataFrame:
    """One row per master person: person_key, id18, name, county_code, schemes, flags."""
    with session(data_dir, scope, as_of, engine=engine, spark_master=spark_master) as s:
        return coverage_export_in(s)


def statistics(
    data_dir: Path,
    scope: Scope,
    as_of: dt.date | None = None,
    *,
    engine: str | None = None,
    spark_master: str | None = None,
    outcomes: pl.DataFrame | None = None,
) -> dict[str, pl.DataFrame]:
    """Enrolled counts and coverage rates by county, scheme and month, and the uninsured by
    county and scheme split by what the field recorded (counts, nothing personal): the scope's
    counties only. ``outcomes``: the field's standing outcomes per person and scheme, passed in
    as data (:data:`canbao.coverage.stats.OUTCOME_COLUMNS`; e.g.
    :func:`canbao.cases.progress.uninsured_outcomes`); without it the split is null."""
    with session(data_dir, scope, as_of, engine=engine, spark_master=spark_master) as s:
        return {
            "enrolled": scope.filter(stats.enrolled(s), "county_code"),
            "rates": scope.filter(stats.rates(s), "county_code"),
            "uninsured": scope.filter(stats.uninsured(s, outcomes), "county_code"),
        }


@dataclass
class Analysis:
    as_of: dt.date
    lists: dict[str, pl.DataFrame]
    export: pl.DataFrame
    enrolled: pl.DataFrame
    rates: pl.DataFrame
    frames: dict[str, pl.DataFrame]  # keyed analysis tables (for quality evaluation)


def analyse(
    data_dir: Path,
    scope: Scope,
    as_of: dt.date | None = None,
    timings: dict[str, float] | None = None,
    *,
    engine: str | None = None,
    spark_master: str | None = None,
) -> Analysis:
    """Every analytic in one session: lists, export, statistics and the keyed tables.

    ``timings``, when given, receives the seconds of each step (benchmarks). City-wide: the
    scope must see the whole city."""
    scope.require_city_wide("全市参保分析")
    clock = {"t": time.perf_counter()}

    def lap(name: str) -> None:
        now = time.perf_counter()
        if timings is not None:
            timings[name] = round(now - clock["t"], 2)
        clock["t"] = now

    with session(data_dir, scope, as_of, engine=engine, spark_master=spark_master) as s:
        s.ensure("person_facts", build_person_facts)
        lap("status_segments")
        s.ensure("uninsured", gaps.build_uninsured)
        s.ensure("duplicates", duplicates.build_duplicates)
        s.ensure("deceased_enrolled", deceased.build_deceased)
        lap("gaps_duplicates_deceased")
        s.ensure("compliance", employers.build_compliance)
        lap("employers")
        enrolled, rates = stats.enrolled(s), stats.rates(s)
        lap("statistics")
        lists = gap_lists_in(s)
        lap("work_lists")
        export = coverage_export_in(s)
        lap("export")
        frames = {
            t: s.frame(f"SELECT * FROM {t}")
            for t in ("uninsured", "duplicates", "deceased_enrolled", "unregistered_employers",
                      "under_reporters")
        }  # fmt: skip
        return Analysis(s.as_of, lists, export, enrolled, rates, frames)


def evaluate(
    data_dir: Path, city: Path, scope: Scope, analysis: Analysis | None = None
) -> dict[str, dict[str, float | int]]:
    """Precision and recall of the gap lists against a synthetic city's truth (city-wide)."""
    from canbao.coverage import quality

    scope.require_city_wide("清单质量评估")
    a = analysis or analyse(data_dir, scope)
    from canbao.registry import snapshot

    snap = snapshot.require_current(data_dir)
    return quality.evaluate(
        city,
        snap.scan("links").collect(),
        snap.scan("employer_links").collect(),
        a.frames["uninsured"],
        a.lists["presumed_students"],
        a.frames["duplicates"],
        a.frames["deceased_enrolled"],
        a.frames["unregistered_employers"],
        a.frames["under_reporters"],
    )
