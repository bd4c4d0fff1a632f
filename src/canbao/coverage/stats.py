"""Coverage statistics per county × scheme × month, and coverage rates against the eligible
population.

- ``enrolled``: distinct persons with an active record at each month end (January up to the
  as-of month; the last month is the as-of date itself), by the record's pooling area (county
  code) and scheme; ``city`` rows count each person once per scheme in the whole city.
- ``rates``: per county of residence (the master person's county) and month end: residents
  (identified, alive and not moved out at the month end), the pension-eligible (aged at least the
  policy's minimum at the as-of date, not presumed students), those of them with employee or
  resident pension, and the residents with employee or resident medical.
- ``uninsured`` (:func:`uninsured`): per county of residence and scheme (pension, medical) at the
  as-of date, the persons on the uninsured work list, split by what the field recorded about
  them when that is given (``outcomes``, see below): ``unexplained``, ``awaiting`` (an outcome
  the data will confirm, e.g. 已参保, not yet seen in the data), ``explained`` (an outcome the
  data cannot see — 已在外地参保, 在校学生, 不符合参保条件, 拒绝参保, 联系不上 — counted apart,
  never as insured) and ``confirmed`` (off the list now, their enrolment confirmed by the data).

**What the field recorded is passed in as data.** Coverage does not read the cases (the cases
sit above coverage: :mod:`canbao.cases` imports it). The caller — a face, e.g. the cases demo
step or the web — passes ``outcomes``, one row per person and scheme with a standing outcome:
:data:`OUTCOME_COLUMNS` (``category``: ``awaiting``, ``explained`` or ``confirmed``; the
``county_code`` of the case, for the confirmed who are no longer listed), as
:func:`canbao.cases.progress.uninsured_outcomes` gives it. Without it the split columns are null
(unknown), never zero.

Set-based and linear in the number of records: each record's active months form a range (the
status rule of :mod:`canbao.coverage.status` evaluated at month ends), ranges are merged per
person, scheme and area (their hull: a gap of a few months between two records of the same
person, scheme and area counts as enrolled), and monthly counts come from +1/−1 events summed by
a window. The as-of month is counted exactly from the status on the as-of date.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from canbao.coverage.gaps import build_uninsured
from canbao.coverage.segments import build_person_facts
from canbao.coverage.session import Session
from canbao.coverage.status import build_person_scheme
from canbao.errors import UsageError

CITY = "city"
OUTCOME_COLUMNS = {"person_key": pl.Utf8, "scheme": pl.Utf8, "category": pl.Utf8,
                   "county_code": pl.Utf8}  # fmt: skip
CATEGORIES = ("awaiting", "explained", "confirmed")
SPLIT = ("unexplained", "awaiting", "explained", "confirmed")
UNINSURED_SCHEMES = ("pension", "medical")


def _mi(s: Session, expr: str) -> str:
    """Month index of a date relative to the as-of year (January = 1)."""
    return f"((year({expr}) - {s.as_of.year}) * 12 + month({expr}))"


def _until(s: Session, expr: str) -> str:
    """Last month index m whose month end is on or before ``expr`` (date >= month end)."""
    return f"({_mi(s, expr)} - CASE WHEN {expr} = last_day({expr}) THEN 0 ELSE 1 END)"


def _months(s: Session) -> str:
    rows = ", ".join(f"({m}, '{s.as_of.year:04d}-{m:02d}')" for m in range(1, s.as_of.month + 1))
    return f"SELECT * FROM (VALUES {rows}) AS t(m, month)"


def build_monthly(s: Session) -> None:
    s.ensure("person_scheme", build_person_scheme)
    s.ensure("person_facts", build_person_facts)
    last = s.as_of.month - 1  # months before the as-of month come from ranges
    rec_m = _mi(s, "as_of")
    end_m = _until(s, "end_date")
    start_m = _mi(s, "coalesce(start_date, as_of)")
    s.execute(
        f"""
        CREATE OR REPLACE TABLE record_ranges AS
        WITH r AS (
            SELECT person_key, scheme, county_code,
                   -- history (before the extract's month): running between start and end
                   CASE WHEN status = 'ended' AND end_date IS NULL THEN NULL
                        ELSE greatest(1, {start_m}) END AS h_lo,
                   least({rec_m} - 1, coalesce({end_m}, 12), {last}) AS h_hi,
                   -- from the extract's month on: the recorded status
                   CASE WHEN coalesce(status, 'active') = 'active'
                        THEN greatest(1, {rec_m}) END AS r_lo,
                   least(coalesce({end_m}, 12), {last}) AS r_hi
            FROM enrollments
        ), u AS (
            SELECT person_key, scheme, county_code, h_lo AS lo, h_hi AS hi FROM r
            WHERE h_lo IS NOT NULL AND h_lo <= h_hi
            UNION ALL
            SELECT person_key, scheme, county_code, r_lo AS lo, r_hi AS hi FROM r
            WHERE r_lo IS NOT NULL AND r_lo <= r_hi
        )
        SELECT person_key, scheme, county_code, min(lo) AS lo, max(hi) AS hi
        FROM u GROUP BY person_key, scheme, county_code
        """
    )
    as_of_month = f"'{s.as_of.year:04d}-{s.as_of.month:02d}'"
    s.execute(
        f"""
        CREATE OR REPLACE TABLE coverage_enrolled AS
        WITH city AS (
            SELECT person_key, scheme, min(lo) AS lo, max(hi) AS hi
            FROM record_ranges GROUP BY person_key, scheme
        ), ev AS (
            SELECT county_code, scheme, lo AS m, 1 AS d FROM record_ranges
            UNION ALL SELECT county_code, scheme, hi + 1 AS m, -1 AS d FROM record_ranges
            UNION ALL SELECT '{CITY}', scheme, lo, 1 FROM city
            UNION ALL SELECT '{CITY}', scheme, hi + 1, -1 FROM city
        ), keys AS (SELECT DISTINCT county_code, scheme FROM ev),
        grid AS (
            SELECT k.county_code, k.scheme, m.m, m.month
            FROM keys k CROSS JOIN ({_months(s)}) m WHERE m.m <= {max(last, 0)}
        ), agg AS (SELECT county_code, scheme, m, sum(d) AS d FROM ev GROUP BY county_code, scheme, m),
        hist AS (
            SELECT g.county_code, g.scheme, g.month,
                   sum(coalesce(a.d, 0)) OVER (PARTITION BY g.county_code, g.scheme ORDER BY g.m
                                               ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
                       AS enrolled
            FROM grid g
            LEFT JOIN agg a ON a.county_code = g.county_code AND a.scheme = g.scheme AND a.m = g.m
        ), now AS (
            SELECT county_code, scheme, {as_of_month} AS month,
                   count(DISTINCT person_key) AS enrolled
            FROM record_status WHERE eff_status = 'active' GROUP BY county_code, scheme
            UNION ALL
            SELECT '{CITY}', scheme, {as_of_month}, count(DISTINCT person_key)
            FROM record_status WHERE eff_status = 'active' GROUP BY scheme
        )
        SELECT county_code, scheme, month, CAST(enrolled AS BIGINT) AS enrolled FROM hist
        UNION ALL
        SELECT county_code, scheme, month, CAST(enrolled AS BIGINT) FROM now
        """
    )
    p = s.policy
    death_m = _mi(s, "death_date")
    moved_m = _mi(s, "moved_date")
    s.execute(
        f"""
        CREATE OR REPLACE TABLE coverage_rates AS
        WITH cov AS (
            SELECT person_key,
                   min(CASE WHEN scheme IN ('employee_pension', 'resident_pension') THEN lo END)
                       AS p_lo,
                   max(CASE WHEN scheme IN ('employee_pension', 'resident_pension') THEN hi END)
                       AS p_hi,
                   min(CASE WHEN scheme IN ('employee_medical', 'resident_medical') THEN lo END)
                       AS m_lo,
                   max(CASE WHEN scheme IN ('employee_medical', 'resident_medical') THEN hi END)
                       AS m_hi
            FROM record_ranges GROUP BY person_key
        ), res AS (
            SELECT f.person_key, f.county_code,
                   least({last}, coalesce({death_m} - 1, 12), coalesce({moved_m} - 1, 12)) AS r_hi,
                   CASE WHEN coalesce(f.age, {p.pension_min_age}) >= {p.pension_min_age}
                             AND f.student = 0 THEN 1 ELSE 0 END AS pe,
                   f.resident, f.ep, f.rp, f.em, f.rm
            FROM person_facts f WHERE f.identified = 1
        ), j AS (
            SELECT r.*, c.p_lo, least(c.p_hi, r.r_hi) AS p_hi, c.m_lo,
                   least(c.m_hi, r.r_hi) AS m_hi
            FROM res r LEFT JOIN cov c ON c.person_key = r.person_key
        ), ev AS (
            SELECT county_code, 1 AS m, 1 AS res, pe AS pel, 0 AS pc, 0 AS mc FROM j WHERE r_hi >= 1
            UNION ALL SELECT county_code, r_hi + 1, -1, -pe, 0, 0 FROM j WHERE r_hi >= 1
            UNION ALL SELECT county_code, p_lo, 0, 0, 1, 0 FROM j WHERE pe = 1 AND p_lo <= p_hi
            UNION ALL SELECT county_code, p_hi + 1, 0, 0, -1, 0 FROM j WHERE pe = 1 AND p_lo <= p_hi
            UNION ALL SELECT county_code, m_lo, 0, 0, 0, 1 FROM j WHERE m_lo <= m_hi
            UNION ALL SELECT county_code, m_hi + 1, 0, 0, 0, -1 FROM j WHERE m_lo <= m_hi
        ), ev2 AS (
            SELECT county_code, m, res, pel, pc, mc FROM ev
            UNION ALL SELECT '{CITY}', m, res, pel, pc, mc FROM ev
        ), agg AS (
            SELECT county_code, m, sum(res) AS res, sum(pel) AS pel, sum(pc) AS pc, sum(mc) AS mc
            FROM ev2 GROUP BY county_code, m
        ), keys AS (SELECT DISTINCT county_code FROM ev2),
        grid AS (
            SELECT k.county_code, m.m, m.month FROM keys k CROSS JOIN ({_months(s)}) m
            WHERE m.m <= {max(last, 0)}
        ), hist AS (
            SELECT g.county_code, g.month,
                   sum(coalesce(a.res, 0)) OVER w AS residents,
                   sum(coalesce(a.pel, 0)) OVER w AS pension_eligible,
                   sum(coalesce(a.pc, 0)) OVER w AS pension_covered,
                   sum(coalesce(a.mc, 0)) OVER w AS medical_covered
            FROM grid g LEFT JOIN agg a ON a.county_code = g.county_code AND a.m = g.m
            WINDOW w AS (PARTITION BY g.county_code ORDER BY g.m
                         ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
        ), now AS (
            SELECT county_code, {as_of_month} AS month, count(*) AS residents, sum(pe) AS pension_eligible,
                   sum(CASE WHEN pe = 1 AND ep + rp > 0 THEN 1 ELSE 0 END) AS pension_covered,
                   sum(CASE WHEN em + rm > 0 THEN 1 ELSE 0 END) AS medical_covered
            FROM res WHERE resident = 1 GROUP BY county_code
            UNION ALL
            SELECT '{CITY}', {as_of_month}, count(*), sum(pe),
                   sum(CASE WHEN pe = 1 AND ep + rp > 0 THEN 1 ELSE 0 END),
                   sum(CASE WHEN em + rm > 0 THEN 1 ELSE 0 END)
            FROM res WHERE resident = 1
        ), g AS (
            SELECT county_code, month, CAST(residents AS BIGINT) AS residents,
                   CAST(pension_eligible AS BIGINT) AS pension_eligible,
                   CAST(pension_covered AS BIGINT) AS pension_covered,
                   CAST(medical_covered AS BIGINT) AS medical_covered
            FROM hist
            UNION ALL
            SELECT county_code, month, CAST(residents AS BIGINT), CAST(pension_eligible AS BIGINT),
                   CAST(pension_covered AS BIGINT), CAST(medical_covered AS BIGINT)
            FROM now
        )
        SELECT *,
               round(CAST(pension_covered AS DOUBLE) / nullif(pension_eligible, 0), 4)
                   AS pension_rate,
               round(CAST(medical_covered AS DOUBLE) / nullif(residents, 0), 4) AS medical_rate
        FROM g
        """
    )


def month_ends(as_of: dt.date) -> list[str]:
    return [f"{as_of.year:04d}-{m:02d}" for m in range(1, as_of.month + 1)]


def enrolled(s: Session) -> pl.DataFrame:
    s.ensure("monthly", build_monthly)
    return s.frame("SELECT * FROM coverage_enrolled ORDER BY county_code, scheme, month")


def rates(s: Session) -> pl.DataFrame:
    s.ensure("monthly", build_monthly)
    return s.frame("SELECT * FROM coverage_rates ORDER BY county_code, month")


def _listed(s: Session) -> pl.DataFrame:
    """One row per person and scheme on the uninsured list: person_key, county_code, scheme."""
    s.ensure("uninsured", build_uninsured)
    wide = s.frame(
        """
        SELECT g.person_key, f.county_code, g.pension_gap, g.medical_gap
        FROM uninsured g JOIN person_segments f ON f.person_key = g.person_key
        """
    )
    parts = [
        wide.filter(pl.col(f"{scheme}_gap") == 1).select(
            pl.col("person_key").cast(pl.Utf8), pl.col("county_code").cast(pl.Utf8),
            pl.lit(scheme).alias("scheme"),
        )
        for scheme in UNINSURED_SCHEMES
    ]  # fmt: skip
    return pl.concat(parts)


def _check_outcomes(outcomes: pl.DataFrame) -> pl.DataFrame:
    missing = [c for c in OUTCOME_COLUMNS if c not in outcomes.columns]
    if missing:
        raise UsageError(
            f"核查结果数据缺少列：{'、'.join(missing)}", f"outcomes: missing columns {missing}"
        )
    bad = outcomes.filter(~pl.col("category").is_in(CATEGORIES)).height
    if bad:
        raise UsageError(f"核查结果数据有 {bad} 行类别无效", f"outcomes: {bad} bad categories")
    return outcomes.select(pl.col(c).cast(t) for c, t in OUTCOME_COLUMNS.items()).unique(
        ["person_key", "scheme"], keep="first"
    )


def uninsured(s: Session, outcomes: pl.DataFrame | None = None) -> pl.DataFrame:
    """county_code (and ``city``), scheme, ``uninsured`` and the split (module docstring):
    ``unexplained + awaiting + explained = uninsured``; ``confirmed`` counts people off the list."""
    listed = _listed(s)
    keys = ["county_code", "scheme"]
    if outcomes is None:
        counts = listed.group_by(keys).agg(pl.len().cast(pl.Int64).alias("uninsured"))
        counts = counts.with_columns(pl.lit(None, pl.Int64).alias(c) for c in SPLIT)
    else:
        said = _check_outcomes(outcomes)
        on = listed.join(said.drop("county_code"), on=["person_key", "scheme"], how="left")
        cat = pl.col("category")
        counts = on.group_by(keys).agg(
            pl.len().cast(pl.Int64).alias("uninsured"),
            cat.is_in(["awaiting", "confirmed"]).sum().cast(pl.Int64).alias("awaiting"),
            (cat == "explained").sum().cast(pl.Int64).alias("explained"),
        )
        off = said.filter(pl.col("category") == "confirmed").join(
            listed.select("person_key", "scheme"), on=["person_key", "scheme"], how="anti"
        )
        confirmed = off.group_by(keys).agg(pl.len().cast(pl.Int64).alias("confirmed"))
        counts = counts.join(confirmed, on=keys, how="full", coalesce=True).with_columns(
            pl.col("uninsured", "awaiting", "explained", "confirmed").fill_null(0)
        ).with_columns(
            (pl.col("uninsured") - pl.col("awaiting") - pl.col("explained")).alias("unexplained")
        )  # fmt: skip
    cols = ["uninsured", *SPLIT]
    city = (
        counts.group_by("scheme")
        .agg(pl.col(cols).sum())
        .with_columns(pl.lit(CITY).alias("county_code"))
    )
    if outcomes is None:
        city = city.with_columns(pl.lit(None, pl.Int64).alias(c) for c in SPLIT)
    out = pl.concat([counts.select(*keys, *cols), city.select(*keys, *cols)])
    return out.sort("county_code", "scheme")
