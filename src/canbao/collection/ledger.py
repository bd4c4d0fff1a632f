"""Ledger facts (征缴台账): per master employer × scheme × contribution period, at an as-of date D,
what was assessed, what was paid, the balance, the late fee and the age of the arrears.

Set-based SQL on a coverage :class:`~canbao.coverage.session.Session` (DuckDB, or Spark through
the engine's transpilation). ``s.ensure("ledger", build_ledger)`` builds ``ledger`` at the
session's as-of date with the contribution policy of the data directory's region
(:func:`ledger_policy`); :func:`build_ledger_at` builds one at another date under another name
(the KPIs use the ledger of 31 December of the previous year). ``<name>`` is a view of the
:data:`LEDGER_COLUMNS` of table ``<name>_exact``, which also holds ``fee_e4``: the late fee
before rounding, exactly, in 1/10,000 fen (what the incremental update carries forward,
:mod:`canbao.collection.ledger_incremental`).

Definitions (docs/ledger.md, "Ledger facts"):

- **assessed due** (``source`` ``declared``): the declarations (kind ``declaration``, linked to
  master employers through ``employer_links``) of periods up to D's month; when several current
  batches hold the same employer × scheme × period, the newest batch's rows, summed;
- **estimated** (社会保险法 art. 62): a month without a declaration between two declared months,
  or after the last declared month while the employer is active (its registry status is not
  cancelled or closed, :data:`CLOSED_STATUS`) up to the last period whose due date is on or
  before D, is assessed at 110 % of the due of the latest declared month before it (not
  compounded; half-up to the fen), ``estimated`` true. A declaration that arrives replaces it;
- **opening** arrears (kind ``arrears``): a period without a declaration takes the amount of the
  arrears list; only payments received after the list's 截止日期 reduce it; a declared period
  ignores the arrears row for it;
- **payments** (:func:`canbao.collection.ledger_inputs.build_payments`: each payment once) go to
  the period they name; those received after D do not count. A period with payments and nothing
  assessed is a row with due 0 (``source`` ``payment``);
- ``due_date``: the policy's due-date rule (default: the last day of the following month);
  ``balance`` = due − paid (negative: a credit, which stays with its period unless the policy's
  ``apply_credits_to_oldest`` moves it to the oldest open periods of the employer and scheme);
- **audit** (:mod:`canbao.collection.ledger_audits`): the findings of finished audit cases,
  assessed on or before D, add their unpaid contributions to their period's due (a period with
  nothing else assessed: ``source`` ``audit``); the late fee runs from the period's due date;
- ``late_fee``: Σ over the payments in date order of the principal each settles (never beyond
  what is still unpaid) × its days charged (the policy's day rule: by default from the day after
  the due date up to and including the payment date), + the unpaid principal × the days up to D,
  × the daily rate (0.05 % by default), rounded half-up to the fen once per row;
- ``days_past_due`` (D − due date, for a positive balance) and ``ageing``: the policy's bucket.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path

from canbao.collection import late_fees, ledger_audits, ledger_deferrals
from canbao.collection.ledger_inputs import (
    build_arrears,
    build_calendar,
    build_declared,
    build_payments,
    day_sql,
    half_up_div_sql,
    month_of,
)
from canbao.collection.policy import ContributionPolicy, policy_for
from canbao.coverage.session import Session

ESTIMATE_PERCENT = 110  # art. 62: 110 % of the previous month's due
# registry status words (登记状态/经营状态) of an employer that no longer operates
CLOSED_STATUS = ("注销", "吊销", "撤销", "关闭", "歇业", "停业", "破产", "终止")
SOURCES = ("declared", "estimated", "opening", "payment", "audit")
# the session's name of the published ledger; when a session's ``ledger`` is read from it, the
# computation's working tables (``ledger_applied``, …) are not there
PUBLISHED_VIEW = "ledger_published"
LEDGER_COLUMNS = (
    "employer_key", "scheme", "period", "due_date", "due", "paid", "balance", "late_fee",
    "days_past_due", "ageing", "estimated", "source",
)  # fmt: skip

_ON = "{a}.employer_key = {b}.employer_key AND {a}.scheme = {b}.scheme AND {a}.period = {b}.period"


def on_keys(a: str, b: str) -> str:
    """The join condition of two tables on employer × scheme × period."""
    return _ON.format(a=a, b=b)


def region_policy(data_dir: Path, day: dt.date) -> ContributionPolicy:
    """The contribution policy in force on ``day`` for the data directory's region (its
    profile's ``policy_region``)."""
    from canbao.profile import profile_for

    return policy_for(profile_for(data_dir, remember=False).profile.policy_region, day)


def ledger_policy(s: Session, day: dt.date | None = None) -> ContributionPolicy:
    """:func:`region_policy` of the session's data directory on ``day`` (default: the
    session's as-of date)."""
    return region_policy(s.data_dir, day or s.as_of)


def build_ledger(s: Session) -> None:
    """Table ``ledger`` at the session's as-of date (the columns of :data:`LEDGER_COLUMNS`)."""
    build_ledger_at(s, s.as_of, "ledger", ledger_policy(s))


def build_inputs(
    s: Session, employer: str | None = None, sources: Mapping[str, str] | None = None
) -> None:
    """``ledger_payments`` and ``ledger_arrears`` (independent of the as-of date); ``sources``:
    kind → a table of linked rows to read instead of the current batches
    (:func:`canbao.collection.ledger_inputs.linked_sql`)."""
    src = sources or {}
    s.ensure("ledger_payments", lambda x: build_payments(x, employer, src.get("payment")))
    s.ensure("ledger_arrears", lambda x: build_arrears(x, employer, src.get("arrears")))


def build_ledger_at(
    s: Session,
    day: dt.date,
    name: str,
    policy: ContributionPolicy,
    employer: str | None = None,
    sources: Mapping[str, str] | None = None,
) -> None:
    """Table ``name`` (and its working tables ``name_*``): the ledger at ``day`` under
    ``policy``; ``employer``: one master employer only (a session for that employer: the
    shared input tables are built for it); ``sources``: as for :func:`build_inputs`."""
    build_inputs(s, employer, sources)
    build_declared(s, name, day, employer, (sources or {}).get("declaration"))
    build_assessed_ledger(s, day, name, policy, employer)


def build_assessed_ledger(
    s: Session, day: dt.date, name: str, policy: ContributionPolicy, employer: str | None = None
) -> None:
    """The rest of :func:`build_ledger_at` once ``ledger_payments``, ``ledger_arrears`` and
    ``<name>_decl`` exist (the incremental update, :mod:`canbao.collection.ledger_incremental`,
    gives it those of the rows it recomputes)."""
    due_sql = late_fees.due_date_sql("period", policy.due_date_rule)
    last_mi = build_calendar(s, name, day, due_sql)
    _assess(s, name, day, -1 if last_mi is None else last_mi)
    if ledger_audits.load(s, name, day, employer):
        ledger_audits.merge(s, name)
    _rows(s, name, day, due_sql)
    _steps(s, name, f"{name}_pay")
    if policy.late_fee.apply_credits_to_oldest:
        _apply_credits(s, name)
        _steps(s, name, f"{name}_applied")
    else:
        s.execute(f"CREATE OR REPLACE TABLE {name}_applied AS SELECT * FROM {name}_pay")
    deferred = ledger_deferrals.load(s, name, employer)
    if deferred:
        ledger_deferrals.build_effective(s, name)
    _final(s, name, day, policy, deferred)


def _closed_sql(status: str) -> str:
    return " OR ".join(f"{status} LIKE '%{w}%'" for w in CLOSED_STATUS)


def _assess(s: Session, name: str, day: dt.date, last_mi: int) -> None:
    """``<name>_assessed``: employer_key, scheme, period, due, source, opening_as_of."""
    estimate = half_up_div_sql(f"d.due * {ESTIMATE_PERCENT}", 100)
    s.execute(
        f"""
        CREATE OR REPLACE TABLE {name}_assessed AS
        WITH d AS (
            SELECT employer_key, scheme, period, mi, due,
                   lead(mi) OVER (PARTITION BY employer_key, scheme ORDER BY mi) AS next_mi
            FROM {name}_decl
        ), act AS (
            SELECT employer_key, CASE WHEN {_closed_sql("status")} THEN 0 ELSE 1 END AS active
            FROM employers
        ), est AS (
            SELECT d.employer_key, d.scheme, c.period, {estimate} AS due
            FROM d
            LEFT JOIN act ON act.employer_key = d.employer_key
            JOIN {name}_months c ON c.mi > d.mi AND c.mi < coalesce(
                d.next_mi,
                CASE WHEN coalesce(act.active, 1) = 1 THEN {last_mi} + 1 ELSE d.mi + 1 END)
        ), op AS (
            SELECT a.employer_key, a.scheme, a.period, a.amount, a.arrears_as_of
            FROM ledger_arrears a
            LEFT JOIN d ON {on_keys("d", "a")}
            WHERE d.employer_key IS NULL AND a.period <= '{month_of(day)}'
        )
        SELECT employer_key, scheme, period, due, 'declared' AS source,
               CAST(NULL AS DATE) AS opening_as_of
        FROM d
        UNION ALL
        SELECT employer_key, scheme, period, amount, 'opening', arrears_as_of FROM op
        UNION ALL
        SELECT e.employer_key, e.scheme, e.period, CAST(e.due AS BIGINT), 'estimated',
               CAST(NULL AS DATE)
        FROM est e LEFT JOIN op ON {on_keys("op", "e")}
        WHERE op.employer_key IS NULL
        """
    )


def _rows(s: Session, name: str, day: dt.date, due_sql: str) -> None:
    """``<name>_pay``: the payments that count at ``day`` (received by then; for an opening
    row, received after its list's date), ``ord`` 0; ``<name>_rows``: every assessed row and
    every period paid without an assessment (due 0), with its due date."""
    s.execute(
        f"""
        CREATE OR REPLACE TABLE {name}_pay AS
        SELECT p.employer_key, p.scheme, p.period, p.amount, p.received, p.pay_key, 0 AS ord
        FROM ledger_payments p
        LEFT JOIN {name}_assessed a ON {on_keys("a", "p")}
        WHERE p.received <= {day_sql(day)} AND p.period <= '{month_of(day)}'
          AND (a.opening_as_of IS NULL OR p.received > a.opening_as_of)
        """
    )
    s.execute(
        f"""
        CREATE OR REPLACE TABLE {name}_rows AS
        WITH extra AS (
            SELECT DISTINCT p.employer_key, p.scheme, p.period
            FROM {name}_pay p LEFT JOIN {name}_assessed a ON {on_keys("a", "p")}
            WHERE a.employer_key IS NULL
        ), x AS (
            SELECT employer_key, scheme, period, CAST(due AS BIGINT) AS due, source
            FROM {name}_assessed
            UNION ALL
            SELECT employer_key, scheme, period, CAST(0 AS BIGINT), 'payment' FROM extra
        )
        SELECT employer_key, scheme, period, due, source, source = 'estimated' AS estimated,
               {due_sql} AS due_date
        FROM x
        """
    )


def _steps(s: Session, name: str, applied: str) -> None:
    """``<name>_steps``: each applied payment with its row's due and due date and ``before``,
    what the row's earlier payments brought (payments in date order; transfers out of a credit,
    ``ord`` 1, come last)."""
    s.execute(
        f"""
        CREATE OR REPLACE TABLE {name}_steps AS
        SELECT a.employer_key, a.scheme, a.period, a.amount, a.received, a.pay_key, a.ord,
               r.due, r.due_date,
               CAST(coalesce(sum(a.amount) OVER (
                   PARTITION BY a.employer_key, a.scheme, a.period
                   ORDER BY a.ord, a.received, a.pay_key
                   ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS BIGINT) AS before
        FROM {applied} a JOIN {name}_rows r ON {on_keys("r", "a")}
        """
    )


def _apply_credits(s: Session, name: str) -> None:
    """``<name>_applied``: the payments plus the transfers of overpayments to the oldest open
    periods of the same employer and scheme (policy ``apply_credits_to_oldest``). Each
    overpaying payment's excess is a piece of credit dated on its payment date; pieces (in date
    order) settle the positive balances (oldest period first) by matching their cumulative
    ranges: a transfer into the open period on the piece's date (``ord`` 0, a payment there) and
    out of the credit's period (``ord`` 1, a negative payment, after its own payments)."""
    s.execute(
        f"""
        CREATE OR REPLACE TABLE {name}_applied AS
        WITH paid AS (
            SELECT r.employer_key, r.scheme, r.period, r.due,
                   coalesce(sum(st.amount), 0) AS paid
            FROM {name}_rows r LEFT JOIN {name}_steps st ON {on_keys("st", "r")}
            GROUP BY r.employer_key, r.scheme, r.period, r.due
        ), ex AS (
            SELECT st.employer_key, st.scheme, st.period, st.received, st.pay_key,
                   st.amount - greatest(least(st.amount, st.due - st.before), 0) AS excess,
                   p.paid - p.due AS credit
            FROM {name}_steps st JOIN paid p ON {on_keys("p", "st")}
            WHERE st.amount > 0 AND p.paid > p.due
        ), cum AS (
            SELECT *, sum(excess) OVER (
                PARTITION BY employer_key, scheme, period ORDER BY received, pay_key
                ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS upto
            FROM ex WHERE excess > 0
        ), pieces AS (
            SELECT employer_key, scheme, period, received, pay_key,
                   greatest(least(upto, credit) - (upto - excess), 0) AS amount
            FROM cum
        ), c AS (
            SELECT *, sum(amount) OVER (
                PARTITION BY employer_key, scheme ORDER BY received, period, pay_key
                ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS hi
            FROM pieces WHERE amount > 0
        ), d AS (
            SELECT employer_key, scheme, period, due - paid AS owed, sum(due - paid) OVER (
                PARTITION BY employer_key, scheme ORDER BY period
                ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS hi
            FROM paid WHERE due > paid
        ), m AS (
            SELECT c.employer_key, c.scheme, c.period AS from_period, d.period AS to_period,
                   c.received, c.pay_key,
                   least(c.hi, d.hi) - greatest(c.hi - c.amount, d.hi - d.owed) AS amount
            FROM c JOIN d ON d.employer_key = c.employer_key AND d.scheme = c.scheme
             AND c.hi - c.amount < d.hi AND d.hi - d.owed < c.hi
        )
        SELECT employer_key, scheme, period, amount, received, pay_key, ord FROM {name}_pay
        UNION ALL
        SELECT employer_key, scheme, to_period, CAST(amount AS BIGINT), received,
               concat('C:', from_period, ':', pay_key), 0
        FROM m
        UNION ALL
        SELECT employer_key, scheme, from_period, CAST(-amount AS BIGINT), received,
               concat('X:', to_period, ':', pay_key), 1
        FROM m
        """
    )


def ageing_sql(policy: ContributionPolicy, days: str) -> str:
    """The policy's ageing bucket label of ``days`` past due (NULL when not past due)."""
    whens = []
    for b in policy.ageing:
        upper = f" AND {days} <= {b.to_days}" if b.to_days is not None else ""
        label = b.label.replace("'", "''")
        whens.append(f"WHEN {days} >= {b.from_days}{upper} THEN '{label}'")
    return f"(CASE {' '.join(whens)} END)"


def _covered_ctes(name: str, day: dt.date, rule: str, deferred: bool) -> tuple[str, str, str]:
    """(CTEs, the covered days of a payment step ``st``, of the unpaid principal ``r``): the
    days approved deferrals cover inside each charged span (:mod:`ledger_deferrals`); zero,
    and no CTE, without deferrals."""
    if not deferred:
        return "", "0", "0"
    keys = "employer_key, scheme, period"
    on = "e.employer_key = k.employer_key AND e.scheme = k.scheme AND e.period = k.period"
    ctes = f"""
        sc AS (
            SELECT k.{keys.replace(", ", ", k.")}, k.received,
                   sum({ledger_deferrals.overlap_sql("k.due_date", "k.received", rule)}) AS cov
            FROM (SELECT DISTINCT {keys}, due_date, received FROM {name}_steps) k
            JOIN {name}_defer_eff e ON {on}
            GROUP BY k.employer_key, k.scheme, k.period, k.received
        ), rc AS (
            SELECT k.{keys.replace(", ", ", k.")},
                   sum({ledger_deferrals.overlap_sql("k.due_date", day_sql(day), rule)}) AS cov
            FROM {name}_rows k JOIN {name}_defer_eff e ON {on}
            GROUP BY k.employer_key, k.scheme, k.period
        ),"""
    return ctes, "coalesce(sc.cov, 0)", "coalesce(rc.cov, 0)"


def _final(
    s: Session, name: str, day: dt.date, policy: ContributionPolicy, deferred: bool = False
) -> None:
    rule, rate = policy.late_fee.day_rule, policy.late_fee.rate_per_10000_per_day
    settled = "greatest(least(st.amount, st.due - st.before), 0)"
    paid_days = late_fees.days_sql("st.due_date", "st.received", rule)
    unpaid_days = late_fees.days_sql("due_date", day_sql(day), rule)
    exact = late_fees.fee_numerator_sql(
        f"(pdays + greatest(due - paid, 0) * ({unpaid_days} - ucov))", rate
    )
    past_due = f"greatest(date_diff('day', due_date, {day_sql(day)}), 0)"
    ctes, step_cov, row_cov = _covered_ctes(name, day, rule, deferred)
    sc_join = (
        "LEFT JOIN sc ON sc.employer_key = st.employer_key AND sc.scheme = st.scheme "
        "AND sc.period = st.period AND sc.received = st.received"
        if deferred
        else ""
    )
    rc_join = f"LEFT JOIN rc ON {on_keys('rc', 'r')}" if deferred else ""
    s.execute(
        f"""
        CREATE OR REPLACE TABLE {name}_exact AS
        WITH {ctes} f AS (
            SELECT st.employer_key, st.scheme, st.period, CAST(sum(st.amount) AS BIGINT) AS paid,
                   CAST(sum({settled} * ({paid_days} - {step_cov})) AS BIGINT) AS pdays
            FROM {name}_steps st {sc_join}
            GROUP BY st.employer_key, st.scheme, st.period
        ), b AS (
            SELECT r.employer_key, r.scheme, r.period, r.due_date, r.due, r.estimated, r.source,
                   coalesce(f.paid, 0) AS paid, coalesce(f.pdays, 0) AS pdays,
                   {row_cov} AS ucov
            FROM {name}_rows r LEFT JOIN f ON {on_keys("f", "r")} {rc_join}
        ), g AS (
            SELECT *, CASE WHEN due - paid > 0 THEN {past_due} ELSE 0 END AS days_past_due,
                   CAST({exact} AS BIGINT) AS fee_e4
            FROM b
        )
        SELECT employer_key, scheme, period, due_date, due, paid,
               CAST(due - paid AS BIGINT) AS balance,
               CAST({late_fees.fee_from_numerator_sql("fee_e4")} AS BIGINT) AS late_fee,
               CAST(days_past_due AS BIGINT) AS days_past_due,
               {ageing_sql(policy, "days_past_due")} AS ageing, estimated, source, fee_e4
        FROM g
        """
    )
    s.eng.create_view(name, f"SELECT {', '.join(LEDGER_COLUMNS)} FROM {name}_exact")
