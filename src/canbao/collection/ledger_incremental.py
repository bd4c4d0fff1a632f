"""The incremental ledger: the ledger at a new as-of date D2 from the one published at D1,
recomputing only the rows whose value can differ from the old row carried to D2 — exactly the
rows :func:`canbao.collection.ledger.build_ledger_at` would compute (tests/collection prove it
row for row; docs/ledger.md, "Incremental ledger").

**State.** What the published ledger keeps (:mod:`canbao.collection.published`) is registered
in the session as ``prev_ledger`` (every column of the ledger table ``ledger_exact``, among
them ``fee_e4``: the exact late fee in 1/10,000 fen, before rounding), ``prev_accounts``
(employer_key, scheme, last_declared, last_due, active: per account with a declaration, its
latest declared period and that period's due, and whether the employer was active) and
``prev_linked_<kind>`` (the linked rows of every batch of the kinds ``payment``,
``declaration`` and ``arrears``, :func:`canbao.collection.ledger_inputs.linked_sql`).

**A row carried** keeps its due, paid, balance, ``estimated`` and ``source``; its exact fee
moves on by the unpaid principal × the days charged between D1 and D2 (the rate's numerator
from the policy, over 10,000):
``fee_e4(D2) = fee_e4(D1) + max(balance, 0) × rate × (days(D2) − days(D1))``, rounded half-up
once (:func:`canbao.collection.late_fees.fee_from_numerator_sql`); ``days_past_due`` and the
ageing bucket are those of D2. That is the full computation's figure for every row whose
payments, assessment and deferrals are unchanged: the paid part of the fee depends on the
payments only, the unpaid part on the balance and the date.

**Touched rows** (employer × scheme × period), recomputed:

1. keys of the linked rows of added batches and of superseded (removed) batches, and of rows
   whose master employer changed in the registry build (old and new key; found by comparing
   the kept batches' stored links with ``employer_links``);
2. keys whose inputs start to count between D1 and D2: payments received in (D1, D2] or naming
   a month after D1's; declarations and opening arrears of months after D1's (up to D2's);
3. for an account whose declarations changed (1 or 2) from period m on: every month after the
   latest declared month before m (every month from m when there is none) up to D2's month —
   the months whose 110 % estimate hangs on those declarations;
4. for an account with declarations whose employer is active, the months after its last
   declaration that fall due between D1 and D2 (a new estimate each);
5. every month of the accounts whose employer's activity changed (an estimate after the last
   declaration exists only while active) and of the accounts with an approved deferral (the
   deferred days of the unpaid principal depend on the date).

Audit findings (:mod:`canbao.collection.ledger_audits`) are the same at both dates (a change
makes the publish a full one): a carried row keeps them in its due; a recomputed row gets them
from the store again, and the declared dues read from the previous rows are taken without them.

They are computed by the full build's SQL (:func:`canbao.collection.ledger.build_assessed_ledger`)
on their own inputs — the payments and opening arrears of their keys, the declarations of the
changed keys — and the declared months that decide their estimates (the latest declared month
before each, and whether one follows), taken from the previous ledger's declared rows.

:func:`update` declines (returns :class:`Declined`; the caller builds in full) when most rows would be
recomputed anyway, or when the registry relinked many rows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from canbao.collection import late_fees, ledger_audits, ledger_deferrals
from canbao.collection.ledger import (
    LEDGER_COLUMNS,
    _closed_sql,
    ageing_sql,
    build_assessed_ledger,
)
from canbao.collection.ledger_inputs import (
    LINKED,
    build_arrears,
    build_declared,
    build_payments,
    counts_sql,
    day_sql,
    linked_sql,
    month_index_sql,
    month_of,
    months_table,
    period_of,
    sql_list,
)
from canbao.collection.policy import ContributionPolicy
from canbao.coverage.session import RECORD_COLUMNS, Session

KINDS = ("payment", "declaration", "arrears")
ACCOUNT_COLUMNS = ("employer_key", "scheme", "last_declared", "last_due", "active")
MAX_TOUCHED_SHARE = 0.5  # more of the previous rows touched than this: a full build is cheaper
MAX_RELINKED_SHARE = 0.1  # of the stored linked rows

_KEYS = "employer_key, scheme, period"


def _on(a: str, b: str, cols: tuple[str, ...] = ("employer_key", "scheme", "period")) -> str:
    return " AND ".join(f"{a}.{c} = {b}.{c}" for c in cols)


def _acct(a: str, b: str) -> str:
    return _on(a, b, ("employer_key", "scheme"))


def _mi(period: str) -> int:
    return int(period[:4]) * 12 + int(period[5:7]) - 1


def last_due_month(day: dt.date, policy: ContributionPolicy) -> int:
    """The month index (year × 12 + month − 1) of the last contribution month whose due date
    is on or before ``day`` (the ledger's ``last_mi`` when its calendar reaches that far)."""
    mi = day.year * 12 + day.month - 1
    while late_fees.due_date(period_of(mi), policy.due_date_rule) > day:
        mi -= 1
    return mi


_NO_CHANGE = (
    'SELECT CAST(NULL AS VARCHAR) AS batch_id, CAST(NULL AS BIGINT) AS "row", '
    "CAST(NULL AS VARCHAR) AS old_key, CAST(NULL AS VARCHAR) AS new_key WHERE 1 = 0"
)


def _changed_sql(kind: str, batch_id: str) -> str:
    """The rows of a kept batch whose master employer differs between the stored linked rows
    and ``employer_links`` (old_key or new_key NULL: a link lost or gained)."""
    b = sql_list([batch_id])
    return f"""
        SELECT {b} AS batch_id, coalesce(p."row", el."row") AS "row",
               p.employer_key AS old_key, el.employer_key AS new_key
        FROM (SELECT "row", employer_key FROM prev_linked_{kind} WHERE batch_id = {b}) p
        FULL OUTER JOIN (SELECT "row", employer_key FROM employer_links WHERE batch_id = {b}) el
          ON el."row" = p."row"
        WHERE p.employer_key IS NULL OR el.employer_key IS NULL
           OR p.employer_key <> el.employer_key"""


def linked_columns(kind: str) -> dict[str, str]:
    """Column → SQL type of the linked rows of ``kind``."""
    types = RECORD_COLUMNS[kind]
    out = {"employer_key": "VARCHAR", "batch_id": "VARCHAR", "row": "BIGINT"}
    out.update({c: types[c] for c in LINKED[kind]})
    return out


def empty_linked_sql(kind: str) -> str:
    """A SELECT of no linked rows of ``kind`` (their columns and types)."""
    cols = ", ".join(f'CAST(NULL AS {t}) AS "{c}"' for c, t in linked_columns(kind).items())
    return f"SELECT {cols} WHERE 1 = 0"


def build_accounts(s: Session, decl: str, out: str = "ledger_accounts") -> None:
    """``out`` (:data:`ACCOUNT_COLUMNS`) from a declared-rows table ``decl`` (employer_key,
    scheme, period, due) and the registry's ``employers``."""
    s.execute(
        f"""
        CREATE OR REPLACE TABLE {out} AS
        WITH r AS (
            SELECT employer_key, scheme, period, due, row_number() OVER (
                PARTITION BY employer_key, scheme ORDER BY period DESC) AS rn
            FROM {decl}
        )
        SELECT r.employer_key, r.scheme, r.period AS last_declared,
               CAST(r.due AS BIGINT) AS last_due, {_active_sql("e")} AS active
        FROM r LEFT JOIN employers e ON e.employer_key = r.employer_key
        WHERE r.rn = 1
        """
    )


def _active_sql(e: str) -> str:
    """1 when the registry's employer ``e`` (LEFT JOINed: may be missing) is active."""
    return (
        f"(CASE WHEN {e}.status IS NOT NULL AND ({_closed_sql(f'{e}.status')}) THEN 0 ELSE 1 END)"
    )


@dataclass(frozen=True)
class Declined:
    """Why the ledger is built in full instead (English for published.json, Chinese for the
    terminal)."""

    reason: str
    reason_zh: str


@dataclass
class Update:
    """What :func:`update` did: ``touched`` keys (employer × scheme × period) recomputed, of
    ``previous`` rows of the published ledger; ``relinked`` stored rows whose master employer
    changed, and per kind the kept batches holding them (``rewrite``: their files are written
    again)."""

    touched: int
    previous: int
    relinked: int
    rewrite: dict[str, list[str]] = field(default_factory=dict)


def update(
    s: Session,
    prev_day: dt.date,
    day: dt.date,
    policy: ContributionPolicy,
    prev_batches: Mapping[str, list[str]],
    current_batches: Mapping[str, list[str]],
    first_period: str | None,
    delivered: Mapping[str, Mapping[str, list[str]]] | None = None,
    fresh: Mapping[str, list[str]] | None = None,
    may_relink: Collection[str] | None = None,
) -> Update | Declined:
    """Build ``ledger_exact`` / ``ledger`` at ``day`` from the state at ``prev_day`` (tables
    above), ``ledger_accounts`` and, per kind, the view ``inc_linked_<kind>`` (the linked rows
    of the current batches: ``inc_keep_<kind>`` and ``inc_new_<kind>``). ``prev_batches`` /
    ``current_batches``: the batch ids per kind of the state and now; ``first_period``: the
    state's earliest contribution month; ``delivered``: per kind, each current delivered batch
    (file) and the batches of its rows' identities; ``fresh``: per kind, the delivered batches
    the state did not have (the added batches' rows are read from their files only; None: every
    file is read); ``may_relink``: the batches whose rows the registry may have linked to another
    master employer since the state's build (None: every kept batch's links are compared).
    Returns :class:`Declined` instead when a full build
    should be done (a full build in the same session replaces what was built so far)."""
    if day < prev_day:
        return Declined(
            f"the as-of date {day} is before the published ledger's {prev_day}",
            f"截至日期 {day} 早于已发布台账的 {prev_day}",
        )
    changed_total = 0
    stored_total = 0
    rewrite: dict[str, list[str]] = {}
    for kind in KINDS:
        prev, now = set(prev_batches.get(kind, [])), set(current_batches.get(kind, []))
        added, removed, kept = sorted(now - prev), sorted(prev - now), sorted(prev & now)
        files = None if fresh is None else list(fresh.get(kind, []))
        s.execute(
            f"CREATE OR REPLACE TABLE inc_added_{kind} AS "
            f"SELECT * FROM {linked_sql(kind, batches=added, files=files)} x"
        )
        # rows of kept batches whose master employer changed, lost or gained a link (batch by
        # batch: a join on the row number alone)
        s.execute(
            f"CREATE OR REPLACE TABLE inc_changed_{kind} AS "
            + " UNION ALL ".join(
                [_changed_sql(kind, b) for b in kept if may_relink is None or b in may_relink]
                or [_NO_CHANGE]
            )
        )
        n_changed = int(s.eng.scalar(f"SELECT count(*) FROM inc_changed_{kind}"))
        changed_total += n_changed
        stored_total += int(s.eng.scalar(f"SELECT count(*) FROM prev_linked_{kind}"))
        cols = ", ".join(f'p."{c}"' for c in linked_columns(kind) if c != "employer_key")
        if n_changed:
            rewrite[kind] = sorted(
                s.frame(f"SELECT DISTINCT batch_id FROM inc_changed_{kind}")["batch_id"]
            )
            s.execute(
                f"""
                CREATE OR REPLACE TABLE inc_keep_{kind} AS
                SELECT p.* FROM prev_linked_{kind} p
                LEFT JOIN inc_changed_{kind} c ON c.batch_id = p.batch_id AND c."row" = p."row"
                WHERE p.batch_id IN ({sql_list(kept)}) AND c.batch_id IS NULL
                """
            )
            source = f"cov_{kind}"
            if delivered is not None:  # only the files holding those identities
                hold = [
                    f for f, ids in delivered.get(kind, {}).items() if set(ids) & set(rewrite[kind])
                ]
                source = f"(SELECT * FROM cov_{kind} WHERE file_batch IN ({sql_list(hold)}))"
            relinked = (
                f"UNION ALL SELECT c.new_key AS employer_key, {cols} "
                f"FROM inc_changed_{kind} c JOIN {source} p "
                f'ON p.batch_id = c.batch_id AND p."row" = c."row" WHERE c.new_key IS NOT NULL'
            )
            gone_relinked = (
                f"UNION ALL SELECT c.old_key AS employer_key, {cols} "
                f"FROM inc_changed_{kind} c JOIN prev_linked_{kind} p "
                f'ON p.batch_id = c.batch_id AND p."row" = c."row" WHERE c.old_key IS NOT NULL'
            )
        else:
            s.eng.create_view(
                f"inc_keep_{kind}",
                f"SELECT * FROM prev_linked_{kind} WHERE batch_id IN ({sql_list(kept)})",
            )
            relinked = gone_relinked = ""
        s.execute(
            f"""
            CREATE OR REPLACE TABLE inc_new_{kind} AS
            SELECT * FROM inc_added_{kind} {relinked}
            """
        )
        s.execute(
            f"""
            CREATE OR REPLACE TABLE inc_gone_{kind} AS
            SELECT * FROM prev_linked_{kind} WHERE batch_id IN ({sql_list(removed)})
            {gone_relinked}
            """
        )
        s.eng.create_view(
            f"inc_linked_{kind}",
            f"SELECT * FROM inc_keep_{kind} UNION ALL SELECT * FROM inc_new_{kind}",
        )
    if stored_total and changed_total > MAX_RELINKED_SHARE * stored_total:
        return Declined(
            f"the registry relinked {changed_total:,} of {stored_total:,} payment, declaration "
            "and arrears rows to other master employers",
            f"登记库将 {changed_total:,}/{stored_total:,} 条缴费、申报、欠费记录改挂到其他主单位",
        )
    previous = int(s.eng.scalar("SELECT count(*) FROM prev_ledger"))
    _touched_keys(s, prev_day, day, policy, first_period)
    touched = int(s.eng.scalar("SELECT count(*) FROM inc_t"))
    if previous and touched > MAX_TOUCHED_SHARE * previous:
        return Declined(
            f"{touched:,} of {previous:,} rows would be recomputed: a full build is cheaper",
            f"需重算 {touched:,}/{previous:,} 行，全量计算更快",
        )
    _recompute(s, day, policy)
    _merge(s, prev_day, day, policy)
    _accounts(s)
    return Update(touched, previous, changed_total, rewrite)


def _touched_keys(
    s: Session,
    prev_day: dt.date,
    day: dt.date,
    policy: ContributionPolicy,
    first_period: str | None,
) -> None:
    """``inc_m`` (declaration keys that changed), ``inc_macct`` (their accounts: the earliest
    changed month ``mmin`` and ``lb``, the latest declared month before it) and ``inc_t`` (every
    touched key, with ``ranged``: inside its account's range of rule 3)."""
    m1, m2 = month_of(prev_day), month_of(day)
    recv = "coalesce(r.paid_date, r.as_of)"
    counted1 = f"({recv} <= {day_sql(prev_day)} AND r.period <= '{m1}')"
    counted2 = f"({recv} <= {day_sql(day)} AND r.period <= '{m2}')"
    parts = []
    for kind in KINDS:
        is_decl = "TRUE" if kind == "declaration" else "FALSE"
        for table in (f"inc_new_{kind}", f"inc_gone_{kind}"):
            parts.append(
                f"SELECT r.employer_key, r.scheme, r.period, {is_decl} AS decl FROM {table} r "
                f"WHERE {counts_sql(kind, 'r')} AND r.period <= '{m2}'"
            )
        start = (
            f"{counted2} AND NOT {counted1}"
            if kind == "payment"
            else f"r.period > '{m1}' AND r.period <= '{m2}'"
        )
        parts.append(
            f"SELECT r.employer_key, r.scheme, r.period, {is_decl} FROM inc_keep_{kind} r "
            f"WHERE {counts_sql(kind, 'r')} AND {start}"
        )
    s.execute("CREATE OR REPLACE TABLE inc_k AS " + " UNION ALL ".join(parts))
    s.execute(f"CREATE OR REPLACE TABLE inc_m AS SELECT DISTINCT {_KEYS} FROM inc_k WHERE decl")
    s.execute(
        f"""
        CREATE OR REPLACE TABLE inc_macct AS
        WITH m AS (
            SELECT employer_key, scheme, min(period) AS mmin FROM inc_m
            GROUP BY employer_key, scheme
        ), hard AS (
            SELECT m.employer_key, m.scheme, m.mmin
            FROM m JOIN prev_accounts a ON {_acct("a", "m")}
            WHERE a.last_declared >= m.mmin
        ), hl AS (
            SELECT h.employer_key, h.scheme, max(l.period) AS lb
            FROM hard h JOIN prev_ledger l ON {_acct("l", "h")}
            WHERE l.source = 'declared' AND l.period < h.mmin
            GROUP BY h.employer_key, h.scheme
        )
        SELECT m.employer_key, m.scheme, m.mmin,
               CASE WHEN a.last_declared IS NULL OR a.last_declared < m.mmin
                    THEN a.last_declared ELSE hl.lb END AS lb
        FROM m
        LEFT JOIN prev_accounts a ON {_acct("a", "m")}
        LEFT JOIN hl ON {_acct("hl", "m")}
        """
    )
    # the months the ranges (rule 3), the new estimates (4) and whole accounts (5) may need
    due1, due2 = last_due_month(prev_day, policy), last_due_month(day, policy)
    low = s.eng.scalar("SELECT min(coalesce(lb, mmin)) FROM inc_macct")
    starts = [_mi(p) for p in (low, first_period) if isinstance(p, str)] + [due1 + 1]
    last = _mi(m2)
    months = list(range(min(*starts, last), last + 1))
    months_table(s, "inc_months", months)
    deferred = ledger_deferrals.load(s, "inc")
    whole = [
        f"""
        SELECT a.employer_key, a.scheme FROM prev_accounts a
        LEFT JOIN employers e ON e.employer_key = a.employer_key
        WHERE a.active <> {_active_sql("e")}
        """
    ]
    if deferred:
        whole.append("SELECT DISTINCT employer_key, scheme FROM inc_deferrals")
    s.execute(
        f"""
        CREATE OR REPLACE TABLE inc_t0 AS
        SELECT employer_key, scheme, period FROM inc_k
        UNION ALL
        SELECT x.employer_key, x.scheme, c.period
        FROM inc_macct x JOIN inc_months c
          ON (x.lb IS NULL AND c.period >= x.mmin) OR (x.lb IS NOT NULL AND c.period > x.lb)
        UNION ALL
        SELECT a.employer_key, a.scheme, c.period
        FROM prev_accounts a
        JOIN inc_months c ON c.mi > {due1} AND c.mi <= {due2} AND c.period > a.last_declared
        LEFT JOIN employers e ON e.employer_key = a.employer_key
        WHERE {_active_sql("e")} = 1
        UNION ALL
        SELECT w.employer_key, w.scheme, c.period
        FROM ({" UNION ".join(whole)}) w CROSS JOIN inc_months c
        """
    )
    s.execute(
        f"""
        CREATE OR REPLACE TABLE inc_t AS
        SELECT t.employer_key, t.scheme, t.period,
               CASE WHEN x.employer_key IS NOT NULL AND (
                   (x.lb IS NULL AND t.period >= x.mmin) OR (x.lb IS NOT NULL AND t.period > x.lb)
               ) THEN TRUE ELSE FALSE END AS ranged
        FROM (SELECT DISTINCT {_KEYS} FROM inc_t0 WHERE period <= '{m2}') t
        LEFT JOIN inc_macct x ON {_acct("x", "t")}
        """
    )


def _recompute(s: Session, day: dt.date, policy: ContributionPolicy) -> None:
    """``ledger_inc_exact``: the full build's rows for the touched keys (and a few others,
    computed without all their context: :func:`_merge` keeps the touched ones only)."""
    for kind in ("payment", "arrears"):
        s.execute(
            f"""
            CREATE OR REPLACE TABLE inc_src_{kind} AS
            SELECT r.* FROM inc_linked_{kind} r JOIN inc_t t ON {_on("t", "r")}
            """
        )
    s.execute(
        """
        CREATE OR REPLACE TABLE inc_src_declaration AS
        SELECT r.* FROM inc_linked_declaration r JOIN inc_m t ON """
        + _on("t", "r")
    )
    build_payments(s, source="inc_src_payment")
    build_arrears(s, source="inc_src_arrears")
    build_declared(s, "inc_mdecl", day, source="inc_src_declaration")
    # the previous rows' due without the audit findings (the same ones: their digest is part of
    # the published state), the due their declarations alone assessed
    audited = ledger_audits.load(s, "inc", day)
    ledger_audits.base_due_view(s, "prev_ledger", "inc", "inc_prev_base", audited)
    # the declared months that decide the touched keys' estimates: from each changed account's
    # latest declared month before its first change on; every declared month of an account
    # with a touched key outside that range that was not declared; the touched keys' own
    s.execute(
        f"""
        CREATE OR REPLACE TABLE inc_tprev AS
        SELECT t.employer_key, t.scheme, t.period, t.ranged, l.source, l.due
        FROM inc_t t LEFT JOIN inc_prev_base l ON {_on("l", "t")}
        """
    )
    s.execute(
        f"""
        CREATE OR REPLACE TABLE ledger_inc_decl AS
        WITH req AS (
            SELECT employer_key, scheme, coalesce(lb, '') AS lo FROM inc_macct
            UNION ALL
            SELECT DISTINCT employer_key, scheme, '' FROM inc_tprev
            WHERE NOT ranged AND (source IS NULL OR source <> 'declared')
        ), r AS (
            SELECT employer_key, scheme, min(lo) AS lo FROM req GROUP BY employer_key, scheme
        ), d1 AS (
            SELECT l.employer_key, l.scheme, l.period, l.due
            FROM inc_prev_base l JOIN r ON {_acct("r", "l")}
            WHERE l.source = 'declared' AND l.period >= r.lo
            UNION
            SELECT employer_key, scheme, period, due FROM inc_tprev WHERE source = 'declared'
        )
        SELECT d1.employer_key, d1.scheme, d1.period, {month_index_sql("d1.period")} AS mi,
               CAST(d1.due AS BIGINT) AS due
        FROM d1 LEFT JOIN inc_m m ON {_on("m", "d1")}
        WHERE m.employer_key IS NULL
        UNION ALL
        SELECT employer_key, scheme, period, mi, due FROM inc_mdecl_decl
        """
    )
    build_assessed_ledger(s, day, "ledger_inc", policy)


def carried_sql(source: str, prev_day: dt.date, day: dt.date, policy: ContributionPolicy) -> str:
    """SELECT of the rows of ``source`` (ledger rows at ``prev_day``: :data:`LEDGER_COLUMNS`
    and ``fee_e4``) whose key was not touched (``inc_t``), carried to ``day``: the unpaid
    principal's late fee moves on by the days between the two dates, and the days past due and
    the ageing bucket are those of ``day``."""
    rule, rate = policy.late_fee.day_rule, policy.late_fee.rate_per_10000_per_day
    more = (
        f"({late_fees.days_sql('due_date', day_sql(day), rule)}"
        f" - {late_fees.days_sql('due_date', day_sql(prev_day), rule)})"
    )
    past_due = f"greatest(date_diff('day', due_date, {day_sql(day)}), 0)"
    return f"""
        SELECT employer_key, scheme, period, due_date, due, paid, balance,
               CAST({late_fees.fee_from_numerator_sql("fee_e4")} AS BIGINT) AS late_fee,
               days_past_due, {ageing_sql(policy, "days_past_due")} AS ageing, estimated,
               source, fee_e4
        FROM (
            SELECT p.employer_key, p.scheme, p.period, p.due_date, p.due, p.paid, p.balance,
                   p.estimated, p.source,
                   CAST(p.fee_e4 + greatest(p.balance, 0) * {rate} * {more} AS BIGINT)
                       AS fee_e4,
                   CAST(CASE WHEN p.balance > 0 THEN {past_due} ELSE 0 END AS BIGINT)
                       AS days_past_due
            FROM {source} p LEFT JOIN inc_t t ON {_on("t", "p")}
            WHERE t.employer_key IS NULL
        ) c"""


def recomputed_sql() -> str:
    """SELECT of the recomputed rows of the touched keys (:data:`LEDGER_COLUMNS` and
    ``fee_e4``)."""
    cols = ", ".join(f"i.{c}" for c in LEDGER_COLUMNS)
    return f"SELECT {cols}, i.fee_e4 FROM ledger_inc_exact i JOIN inc_t t ON {_on('t', 'i')}"


def _merge(s: Session, prev_day: dt.date, day: dt.date, policy: ContributionPolicy) -> None:
    """The views ``ledger_exact`` and ``ledger``: the previous rows not touched, carried to
    ``day``, and the recomputed touched rows."""
    # a view: publishing writes it once (no table of the whole city in between)
    s.eng.create_view(
        "ledger_exact",
        f"{carried_sql('prev_ledger', prev_day, day, policy)} UNION ALL {recomputed_sql()}",
    )
    s.eng.create_view("ledger", f"SELECT {', '.join(LEDGER_COLUMNS)} FROM ledger_exact")


def _accounts(s: Session) -> None:
    """``ledger_accounts`` at the new date: the previous accounts without a changed
    declaration (their employer's activity as now), and the changed ones from the declared
    months the recomputation saw (every declared month from before the first change on)."""
    s.execute(
        f"""
        CREATE OR REPLACE TABLE inc_macct_decl AS
        SELECT d.employer_key, d.scheme, d.period, d.due
        FROM ledger_inc_decl d JOIN inc_macct x ON {_acct("x", "d")}
        """
    )
    build_accounts(s, "inc_macct_decl", "inc_accounts_changed")
    s.execute(
        f"""
        CREATE OR REPLACE TABLE ledger_accounts AS
        SELECT a.employer_key, a.scheme, a.last_declared, a.last_due, {_active_sql("e")} AS active
        FROM prev_accounts a
        LEFT JOIN inc_macct x ON {_acct("x", "a")}
        LEFT JOIN employers e ON e.employer_key = a.employer_key
        WHERE x.employer_key IS NULL
        UNION ALL
        SELECT * FROM inc_accounts_changed
        """
    )
