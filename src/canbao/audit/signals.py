"""The compliance signals of every registered employer, set-based on a coverage session.

Built on what coverage and the ledger already compute (:mod:`canbao.coverage.employers`:
``employer_tax_month``, ``employer_decl_month``, ``headcount_month``, ``under_reporters``,
``selective_employers``; :mod:`canbao.collection.ledger`: ``ledger``), these tables are added:

- ``audit_population``: the employers the audit looks at: registered for social insurance
  (the registry's ``si_registered``) or declaring in the as-of year. Employers paying wages
  without any registration are a registration matter (``canbao gaps --kind employers``,
  责令限期登记), not an audit target;
- ``audit_under``: per employer, the largest shortfall over the declared employee schemes of
  the declared base *per declared person-month* against the tax base per tax person-month
  (``base_short_pct``, in percentage points) and of the declared person-months against the tax
  person-months (``headcount_short_pct``);
- ``audit_money``: the contributions that would be assessed if the signals are right, per
  employer and scheme: ``basis`` ``under_reporting`` (schemes in ``under_reporters``: the
  months' positive gaps of tax base over declared base) or ``selective`` (an employee scheme a
  selectively enrolled employer does not declare: the tax base of its tax months), × the
  scheme's total rate (employer + employee; work injury at the employer's risk class, the
  lowest class where the class is unknown) of the contribution policy, rounded half-up to the
  fen per month; with ``months`` and ``persons`` (the largest monthly headcount gap, or the
  staff for a base or a missing scheme) behind it;
- ``audit_new_hires``: persons first paid by the employer after its first tax month of the year
  (hired during the year) and how many were not enrolled in employee pension at that employer
  within ``enrolment_days`` of the first day of their first wage month;
- ``audit_ledger``: per employer, months in arrears (past due, not paid in full), the arrears,
  and the share of the ledger's due months that are paid in full (``paid_share``);
- ``audit_signals``: one row per employer of the population with every signal's value.
"""

from __future__ import annotations

from canbao.collection.ledger import build_ledger_at
from canbao.collection.ledger_inputs import half_up_div_sql
from canbao.collection.policy import BP, ContributionPolicy
from canbao.coverage import employers
from canbao.coverage.employers import EMPLOYEE_SCHEMES
from canbao.coverage.session import Session
from canbao.registry.dialect import Dialect


def rate_sql(policy: ContributionPolicy, scheme: str, risk_class: str) -> str:
    """SQL: the total rate (bp) of ``scheme`` (a column) for an employer of ``risk_class`` (a
    text column '1'…'8'; work injury at level 100%, the lowest class when unknown)."""
    flat = " ".join(f"WHEN '{k}' THEN {v.total_bp}" for k, v in sorted(policy.rates.items()))
    classes = " ".join(f"WHEN '{c.risk_class}' THEN {c.rate_at(100)}" for c in policy.work_injury)
    lowest = min(c.rate_at(100) for c in policy.work_injury)
    injury = f"CASE trim({risk_class}) {classes} ELSE {lowest} END"
    return f"(CASE {scheme} WHEN 'work_injury' THEN {injury} {flat} ELSE 0 END)"


def _first_day(d: Dialect, period: str) -> str:
    """Epoch days of the first day of a ``YYYY-MM`` period."""
    return d.epoch_days(d.parse_date_text(f"replace({period}, '-', '') || '01'"))


def build_population(s: Session) -> None:
    s.ensure("compliance", employers.build_compliance)
    s.execute(
        """
        CREATE OR REPLACE TABLE audit_population AS
        SELECT e.employer_key, e.county_code, e.name AS employer_name, e.credit_code,
               e.ownership, e.industry, e.risk_class, e.status,
               coalesce(e.si_registered, false) AS si_registered
        FROM employers e
        WHERE coalesce(e.si_registered, false)
           OR e.employer_key IN (SELECT employer_key FROM employer_decl_month)
        """
    )


def build_under(s: Session) -> None:
    s.ensure("audit_population", build_population)
    schemes = ", ".join(f"'{x}'" for x in EMPLOYEE_SCHEMES)
    s.execute(
        f"""
        CREATE OR REPLACE TABLE audit_under AS
        WITH y AS (
            SELECT employer_key, scheme, sum(tax_headcount) AS tax_pm,
                   sum(declared_headcount) AS decl_pm, sum(tax_base) AS tax_base,
                   sum(declared_base) AS decl_base
            FROM headcount_month WHERE scheme IN ({schemes})
            GROUP BY employer_key, scheme
        ), r AS (
            SELECT employer_key,
                   CASE WHEN tax_pm > 0 AND decl_pm > 0 AND tax_base > 0
                        THEN 100.0 * (1.0 - (CAST(decl_base AS DOUBLE) / decl_pm)
                                          / (CAST(tax_base AS DOUBLE) / tax_pm))
                        ELSE 0.0 END AS base_short_pct,
                   CASE WHEN tax_pm > 0
                        THEN 100.0 * (tax_pm - decl_pm) / CAST(tax_pm AS DOUBLE)
                        ELSE 0.0 END AS headcount_short_pct
            FROM y
        )
        SELECT employer_key, greatest(max(base_short_pct), 0.0) AS base_short_pct,
               greatest(max(headcount_short_pct), 0.0) AS headcount_short_pct
        FROM r GROUP BY employer_key
        """
    )


def build_money(s: Session, policy: ContributionPolicy) -> None:
    s.ensure("audit_population", build_population)
    rate = rate_sql(policy, "m.scheme", "p.risk_class")
    amount = half_up_div_sql(f"m.gap * {rate}", BP)
    schemes = " UNION ALL ".join(f"SELECT '{x}' AS scheme" for x in EMPLOYEE_SCHEMES)
    s.execute(
        f"""
        CREATE OR REPLACE TABLE audit_money AS
        WITH under AS (
            SELECT h.employer_key, h.scheme, h.period,
                   greatest(h.tax_base - h.declared_base, 0) AS gap,
                   greatest(h.tax_headcount - h.declared_headcount, 0) AS persons_short,
                   h.tax_headcount
            FROM headcount_month h
            JOIN under_reporters u ON u.employer_key = h.employer_key AND u.scheme = h.scheme
        ), missing AS (
            SELECT x.employer_key, sc.scheme
            FROM selective_employers x CROSS JOIN ({schemes}) sc
            WHERE NOT EXISTS (
                SELECT 1 FROM employer_decl_month d
                WHERE d.employer_key = x.employer_key AND d.scheme = sc.scheme)
        ), sel AS (
            SELECT t.employer_key, mi.scheme, t.period, t.tax_base AS gap,
                   t.tax_headcount AS persons_short, t.tax_headcount
            FROM missing mi JOIN employer_tax_month t ON t.employer_key = mi.employer_key
        ), m AS (
            SELECT 'under_reporting' AS basis, * FROM under WHERE gap > 0
            UNION ALL SELECT 'selective' AS basis, * FROM sel WHERE gap > 0
        )
        SELECT m.employer_key, m.scheme, m.basis, CAST(count(*) AS BIGINT) AS months,
               CAST(CASE WHEN m.basis = 'under_reporting' AND max(m.persons_short) > 0
                         THEN max(m.persons_short) ELSE max(m.tax_headcount) END AS BIGINT)
                   AS persons,
               CAST(sum(m.gap) AS BIGINT) AS base_gap, CAST(sum({amount}) AS BIGINT) AS amount,
               min(m.period) AS first_period, max(m.period) AS last_period
        FROM m JOIN audit_population p ON p.employer_key = m.employer_key
        GROUP BY m.employer_key, m.scheme, m.basis
        """
    )


def build_new_hires(s: Session, enrolment_days: int) -> None:
    s.ensure("audit_population", build_population)
    d = s.dialect
    first, last = f"'{s.as_of.year:04d}-01'", f"'{s.as_of.year:04d}-{s.as_of.month:02d}'"
    hire = _first_day(d, "h.first_period")
    start = d.epoch_days("en.start_date")
    s.execute(
        f"""
        CREATE OR REPLACE TABLE audit_new_hires AS
        WITH t AS (
            SELECT employer_key, person_key, min(period) AS first_period
            FROM tax_rows
            WHERE employer_key IS NOT NULL AND person_key IS NOT NULL
              AND period BETWEEN {first} AND {last}
            GROUP BY employer_key, person_key
        ), f AS (
            SELECT employer_key, min(first_period) AS employer_first FROM t GROUP BY employer_key
        ), h AS (
            SELECT t.* FROM t JOIN f ON f.employer_key = t.employer_key
            WHERE t.first_period > f.employer_first
        ), ok AS (
            SELECT DISTINCT h.employer_key, h.person_key
            FROM h JOIN enrollments en
              ON en.person_key = h.person_key AND en.employer_key = h.employer_key
            WHERE en.scheme = 'employee_pension' AND en.start_date IS NOT NULL
              AND {start} <= {hire} + {enrolment_days}
        )
        SELECT h.employer_key, CAST(count(*) AS BIGINT) AS new_hires,
               CAST(sum(CASE WHEN ok.person_key IS NULL THEN 1 ELSE 0 END) AS BIGINT) AS late
        FROM h LEFT JOIN ok ON ok.employer_key = h.employer_key AND ok.person_key = h.person_key
        GROUP BY h.employer_key
        """
    )


def build_ledger_signals(s: Session, policy: ContributionPolicy) -> None:
    s.ensure("ledger", lambda x: build_ledger_at(x, x.as_of, "ledger", policy))
    s.execute(
        f"""
        CREATE OR REPLACE TABLE audit_ledger AS
        SELECT employer_key,
               CAST(sum(CASE WHEN balance > 0 AND days_past_due > 0 THEN 1 ELSE 0 END) AS BIGINT)
                   AS arrears_months,
               CAST(sum(CASE WHEN balance > 0 AND days_past_due > 0 THEN balance ELSE 0 END)
                    AS BIGINT) AS arrears,
               CAST(sum(CASE WHEN due_date <= {s.day} THEN 1 ELSE 0 END) AS BIGINT) AS due_months,
               CAST(sum(CASE WHEN due_date <= {s.day} AND balance <= 0 THEN 1 ELSE 0 END)
                    AS BIGINT) AS paid_months
        FROM ledger GROUP BY employer_key
        """
    )


def build_signals(s: Session, policy: ContributionPolicy, enrolment_days: int) -> None:
    """``audit_signals`` and the tables it is made of (see the module docstring)."""
    s.ensure("audit_under", build_under)
    s.ensure("audit_money", lambda x: build_money(x, policy))
    s.ensure("audit_new_hires", lambda x: build_new_hires(x, enrolment_days))
    s.ensure("audit_ledger", lambda x: build_ledger_signals(x, policy))
    s.execute(
        f"""
        CREATE OR REPLACE TABLE audit_signals AS
        WITH money AS (
            SELECT employer_key,
                   CAST(sum(CASE WHEN basis = 'under_reporting' THEN amount ELSE 0 END) AS BIGINT)
                       AS money_under,
                   CAST(sum(CASE WHEN basis = 'selective' THEN amount ELSE 0 END) AS BIGINT)
                       AS money_selective
            FROM audit_money GROUP BY employer_key
        ), missing AS (
            SELECT x.employer_key,
                   {len(employers.CORE_SCHEMES)} - x.n_core AS missing_core,
                   {len(EMPLOYEE_SCHEMES)} - x.n_schemes
                       - ({len(employers.CORE_SCHEMES)} - x.n_core) AS missing_other
            FROM selective_employers x
        ), staff AS (
            SELECT employer_key, max(tax_headcount) AS staff, count(*) AS tax_months
            FROM employer_tax_month GROUP BY employer_key
        )
        SELECT p.*, coalesce(st.staff, 0) AS staff, coalesce(st.tax_months, 0) AS tax_months,
               coalesce(u.base_short_pct, 0.0) AS base_short_pct,
               coalesce(u.headcount_short_pct, 0.0) AS headcount_short_pct,
               coalesce(mo.money_under, 0) AS money_under,
               coalesce(mo.money_selective, 0) AS money_selective,
               coalesce(mi.missing_core, 0) AS missing_core,
               coalesce(mi.missing_other, 0) AS missing_other,
               coalesce(nh.new_hires, 0) AS new_hires, coalesce(nh.late, 0) AS late_hires,
               coalesce(l.arrears_months, 0) AS arrears_months, coalesce(l.arrears, 0) AS arrears,
               l.due_months, l.paid_months
        FROM audit_population p
        LEFT JOIN staff st ON st.employer_key = p.employer_key
        LEFT JOIN audit_under u ON u.employer_key = p.employer_key
        LEFT JOIN money mo ON mo.employer_key = p.employer_key
        LEFT JOIN missing mi ON mi.employer_key = p.employer_key
        LEFT JOIN audit_new_hires nh ON nh.employer_key = p.employer_key
        LEFT JOIN audit_ledger l ON l.employer_key = p.employer_key
        """
    )
