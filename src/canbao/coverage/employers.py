"""Employer compliance, with the evidence for each employer.

- ``unregistered``: paying wages in the year (tax withholding) but not registered for social
  insurance: no social-insurance employer record (the registry's ``si_registered``), no
  declaration and no insured employee under it; with its tax headcount and whether the business
  registry knows it;
- ``headcount_month``: per employer, scheme and month, the tax-withholding headcount (distinct
  persons with wages) against the declared headcount. Every declaration row counts: two
  identical rows (two employees declared alike, or one employer's declaration in two parts) are
  two declarations; a record is one (batch, row), and only that identity is ever de-duplicated;
- ``under_reporters``: per employer and scheme over the year's declared months: declared
  person-months below the tax person-months (``headcount``) and/or the declared base below the
  tax wages after the policy's floor and ceiling (``base``) by more than the policy's tolerance:
  the larger of ``base_tolerance_bp`` of the tax base (1 %) and ``base_tolerance_min_fen``
  (1 yuan) — a base rounded to whole yuan, or a fen short, is not under-reporting;
- ``selective``: registered employers declaring some of the five employee schemes only.
"""

from __future__ import annotations

from canbao.coverage.policy import Policy
from canbao.coverage.segments import build_tax_rows
from canbao.coverage.session import Session, string_agg

EMPLOYEE_SCHEMES = (
    "employee_pension",
    "employee_medical",
    "work_injury",
    "maternity",
    "unemployment",
)
CORE_SCHEMES = ("employee_pension", "employee_medical", "work_injury")


def base_short_sql(p: Policy, tax_base: str, declared_base: str) -> str:
    """SQL condition: the declared base is short of the tax base by more than the policy's
    tolerance, max(``base_tolerance_bp`` of the tax base, ``base_tolerance_min_fen``). Integer
    arithmetic (no division): exact at the boundary, the same on DuckDB and Spark."""
    gap = f"({tax_base} - {declared_base})"
    return (
        f"({gap} > {p.base_tolerance_min_fen}"
        f" AND {gap} * 10000 > {tax_base} * {p.base_tolerance_bp})"
    )


def _months(s: Session) -> tuple[str, str]:
    return f"'{s.as_of.year:04d}-01'", f"'{s.as_of.year:04d}-{s.as_of.month:02d}'"


def build_activity(s: Session) -> None:
    s.ensure("tax_rows", build_tax_rows)
    first, last = _months(s)
    floor, ceil = s.policy.base_floor_fen, s.policy.base_ceiling_fen
    s.execute(
        f"""
        CREATE OR REPLACE TABLE employer_tax_month AS
        WITH t AS (
            SELECT employer_key, period, person_key, max(wage) AS wage
            FROM tax_rows
            WHERE employer_key IS NOT NULL AND period BETWEEN {first} AND {last}
            GROUP BY employer_key, period, person_key
        )
        SELECT employer_key, period, count(*) AS tax_headcount,
               sum(coalesce(wage, 0)) AS tax_wage,
               sum(least(greatest(coalesce(wage, 0), {floor}), {ceil})) AS tax_base
        FROM t GROUP BY employer_key, period
        """
    )
    s.execute(
        f"""
        CREATE OR REPLACE TABLE employer_decl_month AS
        WITH d AS (
            -- one row per declaration record (batch_id, row): identical rows are separate
            -- declarations and all count
            SELECT el.employer_key, r.period, r.scheme, r.headcount, r.base, r.due
            FROM cov_declaration r
            JOIN employer_links el ON el.batch_id = r.batch_id AND el."row" = r."row"
            WHERE r.period BETWEEN {first} AND {last} AND r.scheme IS NOT NULL
        )
        SELECT employer_key, period, scheme, sum(coalesce(headcount, 0)) AS declared_headcount,
               sum(coalesce(base, 0)) AS declared_base, sum(coalesce(due, 0)) AS declared_due
        FROM d GROUP BY employer_key, period, scheme
        """
    )


def build_compliance(s: Session) -> None:
    s.ensure("activity", build_activity)
    s.execute(
        """
        CREATE OR REPLACE TABLE unregistered_employers AS
        WITH tax AS (
            SELECT employer_key, max(tax_headcount) AS staff, sum(tax_headcount) AS person_months,
                   count(*) AS months, min(period) AS first_period, max(period) AS last_period,
                   sum(tax_wage) AS wages
            FROM employer_tax_month GROUP BY employer_key
        ), decl AS (
            SELECT employer_key, count(DISTINCT period) AS declared_months
            FROM employer_decl_month GROUP BY employer_key
        )
        SELECT e.employer_key, coalesce(t.staff, 0) AS staff,
               coalesce(t.person_months, 0) AS person_months, coalesce(t.months, 0) AS tax_months,
               t.first_period, t.last_period, coalesce(t.wages, 0) AS wages,
               coalesce(d.declared_months, 0) AS declared_months,
               CASE WHEN list_contains(e.sources, 'amr_registry') THEN 1 ELSE 0 END
                   AS in_business_registry
        FROM employers e
        LEFT JOIN tax t ON t.employer_key = e.employer_key
        LEFT JOIN decl d ON d.employer_key = e.employer_key
        WHERE NOT coalesce(e.si_registered, false)
          AND t.employer_key IS NOT NULL AND d.employer_key IS NULL
          AND e.employer_key NOT IN (
              SELECT employer_key FROM enrollments WHERE employer_key IS NOT NULL)
        """.replace(
            "list_contains(e.sources, 'amr_registry')",
            s.dialect.array_contains("e.sources", "'amr_registry'"),
        )
    )
    s.execute(
        """
        CREATE OR REPLACE TABLE headcount_month AS
        SELECT d.employer_key, d.scheme, d.period, coalesce(t.tax_headcount, 0) AS tax_headcount,
               d.declared_headcount, coalesce(t.tax_headcount, 0) - d.declared_headcount AS gap,
               coalesce(t.tax_base, 0) AS tax_base, d.declared_base,
               coalesce(t.tax_base, 0) - d.declared_base AS base_gap
        FROM employer_decl_month d
        LEFT JOIN employer_tax_month t ON t.employer_key = d.employer_key AND t.period = d.period
        """
    )
    s.execute(
        f"""
        CREATE OR REPLACE TABLE under_reporters AS
        WITH y AS (
            SELECT employer_key, scheme, sum(tax_headcount) AS tax_person_months,
                   sum(declared_headcount) AS declared_person_months,
                   sum(tax_base) AS tax_base, sum(declared_base) AS declared_base,
                   sum(CASE WHEN gap > 0 THEN 1 ELSE 0 END) AS months_short,
                   max(gap) AS max_gap
            FROM headcount_month GROUP BY employer_key, scheme
        ), f AS (
            SELECT y.*,
                   CASE WHEN declared_person_months < tax_person_months THEN 1 ELSE 0 END
                       AS headcount_short,
                   CASE WHEN {base_short_sql(s.policy, "tax_base", "declared_base")} THEN 1 ELSE 0 END
                       AS base_short
            FROM y
        )
        SELECT employer_key, scheme, tax_person_months, declared_person_months, tax_base,
               declared_base, months_short, max_gap,
               CASE WHEN headcount_short = 1 AND base_short = 1 THEN 'headcount+base'
                    WHEN headcount_short = 1 THEN 'headcount'
                    ELSE 'base' END AS kind
        FROM f
        WHERE headcount_short = 1 OR base_short = 1
        """
    )
    schemes = ", ".join(f"'{x}'" for x in EMPLOYEE_SCHEMES)
    core = ", ".join(f"'{x}'" for x in CORE_SCHEMES)
    s.execute(
        f"""
        CREATE OR REPLACE TABLE selective_employers AS
        WITH d AS (
            SELECT DISTINCT employer_key, scheme FROM employer_decl_month
            WHERE scheme IN ({schemes})
        ), a AS (
            SELECT employer_key, count(*) AS n_schemes,
                   sum(CASE WHEN scheme IN ({core}) THEN 1 ELSE 0 END) AS n_core,
                   {string_agg(s.dialect, "scheme", "scheme")} AS declared_schemes
            FROM d GROUP BY employer_key
        )
        SELECT a.*, CASE WHEN n_core < {len(CORE_SCHEMES)} THEN 1 ELSE 2 END AS priority
        FROM a JOIN employers e ON e.employer_key = a.employer_key
        WHERE coalesce(e.si_registered, false) AND n_schemes < {len(EMPLOYEE_SCHEMES)}
        """
    )
