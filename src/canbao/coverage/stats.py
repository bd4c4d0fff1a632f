"""Coverage statistics per county × scheme × month, and coverage rates against the eligible
population.

- ``enrolled``: distinct persons with an active record at each month end (January up to the
  as-of month), by the record's pooling area (county code) and scheme; ``city`` rows count each
  person once per scheme in the whole city.
- ``rates``: per county of residence (the master person's county) and month end: residents
  (identified, alive and not moved out at the month end), the pension-eligible (aged at least the
  policy's minimum at the as-of date, not presumed students), those with employee or resident
  pension, and everybody with employee or resident medical.
"""

from __future__ import annotations

import calendar
import datetime as dt

import polars as pl

from canbao.coverage.segments import build_person_facts
from canbao.coverage.session import Session
from canbao.coverage.status import record_status_sql

CITY = "city"


def month_ends(as_of: dt.date) -> list[tuple[str, dt.date]]:
    out = []
    for m in range(1, as_of.month + 1):
        last = dt.date(as_of.year, m, calendar.monthrange(as_of.year, m)[1])
        out.append((f"{as_of.year:04d}-{m:02d}", min(last, as_of)))
    return out


def _months_sql(s: Session) -> str:
    rows = ", ".join(f"('{m}', DATE '{d.isoformat()}')" for m, d in month_ends(s.as_of))
    return f"SELECT * FROM (VALUES {rows}) AS t(month, d)"


def build_monthly(s: Session) -> None:
    s.ensure("person_facts", build_person_facts)
    s.con.execute(
        f"""
        CREATE OR REPLACE TABLE monthly_active AS
        WITH m AS ({_months_sql(s)})
        SELECT DISTINCT e.person_key, e.scheme, e.county_code, m.month
        FROM enrollments e CROSS JOIN m
        WHERE ({record_status_sql("m.d")}) = 'active'
        """
    )
    s.con.execute(
        f"""
        CREATE OR REPLACE TABLE coverage_enrolled AS
        SELECT county_code, scheme, month, count(DISTINCT person_key) AS enrolled
        FROM monthly_active GROUP BY county_code, scheme, month
        UNION ALL
        SELECT '{CITY}' AS county_code, scheme, month, count(DISTINCT person_key) AS enrolled
        FROM monthly_active GROUP BY scheme, month
        """
    )
    p = s.policy
    s.con.execute(
        f"""
        CREATE OR REPLACE TABLE coverage_rates AS
        WITH m AS ({_months_sql(s)}),
        cov AS (
            SELECT person_key, month,
                   max(CASE WHEN scheme IN ('employee_pension', 'resident_pension') THEN 1 ELSE 0 END)
                       AS pension,
                   max(CASE WHEN scheme IN ('employee_medical', 'resident_medical') THEN 1 ELSE 0 END)
                       AS medical
            FROM monthly_active GROUP BY person_key, month
        ), res AS (
            SELECT f.person_key, f.county_code, m.month,
                   CASE WHEN coalesce(f.age, {p.pension_min_age}) >= {p.pension_min_age}
                             AND f.student = 0 THEN 1 ELSE 0 END AS pension_eligible
            FROM person_facts f CROSS JOIN m
            WHERE f.identified = 1
              AND (f.death_date IS NULL OR f.death_date > m.d)
              AND (f.moved_date IS NULL OR f.moved_date > m.d)
        ), j AS (
            SELECT r.county_code, r.month, r.pension_eligible,
                   coalesce(c.pension, 0) AS pension, coalesce(c.medical, 0) AS medical
            FROM res r LEFT JOIN cov c ON c.person_key = r.person_key AND c.month = r.month
        ), g AS (
            SELECT county_code, month, count(*) AS residents,
                   sum(pension_eligible) AS pension_eligible,
                   sum(CASE WHEN pension_eligible = 1 THEN pension ELSE 0 END) AS pension_covered,
                   sum(medical) AS medical_covered
            FROM j GROUP BY county_code, month
            UNION ALL
            SELECT '{CITY}' AS county_code, month, count(*) AS residents,
                   sum(pension_eligible) AS pension_eligible,
                   sum(CASE WHEN pension_eligible = 1 THEN pension ELSE 0 END) AS pension_covered,
                   sum(medical) AS medical_covered
            FROM j GROUP BY month
        )
        SELECT *,
               round(CAST(pension_covered AS DOUBLE) / nullif(pension_eligible, 0), 4)
                   AS pension_rate,
               round(CAST(medical_covered AS DOUBLE) / nullif(residents, 0), 4) AS medical_rate
        FROM g
        """
    )


def enrolled(s: Session) -> pl.DataFrame:
    s.ensure("monthly", build_monthly)
    return s.frame("SELECT * FROM coverage_enrolled ORDER BY county_code, scheme, month")


def rates(s: Session) -> pl.DataFrame:
    s.ensure("monthly", build_monthly)
    return s.frame("SELECT * FROM coverage_rates ORDER BY county_code, month")
