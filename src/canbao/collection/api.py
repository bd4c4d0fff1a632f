"""Public collection API: the ledger, the collectors' arrears list, the KPIs and an employer's
compliance status (the CLI, the plan and the web workspace are thin layers over it).

```python
from canbao.collection import api
api.ledger(data_dir, scope, date(2017, 12, 31))              # one row per employer × scheme × period
api.arrears(data_dir, scope, date(2017, 12, 31), county="360402")   # the work list
api.kpis(data_dir, scope, 2017, date(2017, 12, 31))          # unit, indicator, value
api.compliance(data_dir, scope, "E0123…", date(2017, 12, 31))  # {registered, schemes, arrears…}
```

Every read takes a :class:`~canbao.warehouse.scope.Scope` (required): the ledger is built
city-wide in the engine and what is returned holds the reader's counties only (the master
employer's ``county_code``). Money is integer fen (yuan text only at the edges: the CLI).
Nothing here is personal: employers only. ``engine`` / ``spark_master`` as in
:mod:`canbao.coverage.api`; ``policy`` replaces the contribution policy of the data directory's
region (:func:`canbao.collection.ledger.ledger_policy`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import polars as pl

from canbao.collection import kpi as kpi_mod
from canbao.collection import published, workflow_state
from canbao.collection.ledger import (
    LEDGER_COLUMNS,
    PUBLISHED_VIEW,
    build_ledger_at,
    ledger_policy,
)
from canbao.collection.policy import ContributionPolicy
from canbao.coverage.api import check_county, session
from canbao.coverage.session import Session, string_agg
from canbao.errors import NotFoundError
from canbao.standards.money import yuan_text
from canbao.store import Store
from canbao.warehouse.scope import Scope

LEDGER_EXPORT_COLUMNS = (
    "employer_key", "credit_code", "employer_name", "county_code", "ownership", "scheme",
    "period", "due_date", "due", "paid", "balance", "late_fee", "estimated",
)  # fmt: skip
ARREARS_COLUMNS = (
    "county_code", "employer_key", "credit_code", "employer_name", "ownership", "priority",
    "schemes", "arrears", "oldest_period", "days_past_due", "ageing", "periods",
    "estimated_periods", "late_fee", "credit", "agreement_status", "dunning_state",
)  # fmt: skip


def yuan_column(column: str) -> pl.Expr:
    """A fen column as yuan text with exactly two decimals (the vectorised
    :func:`canbao.standards.money.yuan_text`: 123450 → "1234.50", −5 → "-0.05")."""
    fen = pl.col(column).cast(pl.Int64)
    sign = pl.when(fen < 0).then(pl.lit("-")).otherwise(pl.lit(""))
    whole = (fen.abs() // 100).cast(pl.Utf8)
    cents = (fen.abs() % 100).cast(pl.Utf8).str.zfill(2)
    text = pl.concat_str(sign, whole, pl.lit("."), cents)
    return pl.when(fen.is_null()).then(None).otherwise(text).alias(column)


def _build(s: Session, policy: ContributionPolicy | None, employer: str | None = None) -> None:
    """The session's ``ledger`` table: the ledger ``canbao build`` published when it answers
    the session's date (the region's policy, every employer), else computed here."""

    def make(x: Session) -> None:
        answers = policy is None and employer is None
        path = published.answering(x.data_dir, x.as_of) if answers else None
        if path is None:
            build_ledger_at(x, x.as_of, "ledger", policy or ledger_policy(x), employer)
            return
        x.ensure(PUBLISHED_VIEW, lambda y: published.register(y.eng, PUBLISHED_VIEW, path))
        names = ", ".join(LEDGER_COLUMNS)
        x.eng.create_view("ledger", f"SELECT {names} FROM {PUBLISHED_VIEW} WHERE known")

    s.ensure("ledger", make)


def ledger_in(s: Session, policy: ContributionPolicy | None = None) -> pl.DataFrame:
    """The ledger at the session's as-of date, in the session's scope (columns
    :data:`LEDGER_EXPORT_COLUMNS`; money in fen)."""
    _build(s, policy)
    return s.frame(
        f"""
        SELECT l.employer_key, e.credit_code, e.name AS employer_name, e.county_code,
               e.ownership, l.scheme, l.period, l.due_date, l.due, l.paid, l.balance,
               l.late_fee, l.estimated
        FROM ledger l JOIN employers e ON e.employer_key = l.employer_key
        WHERE {s.scope.sql("e.county_code")}
        ORDER BY l.employer_key, l.scheme, l.period
        """
    )


def ledger(
    data_dir: Path,
    scope: Scope,
    as_of: dt.date,
    *,
    engine: str | None = None,
    spark_master: str | None = None,
    policy: ContributionPolicy | None = None,
) -> pl.DataFrame:
    """One row per master employer × scheme × contribution period at ``as_of``:
    employer_key, credit_code, employer_name, county_code, ownership, scheme, period
    (``YYYY-MM``), due_date, due, paid, balance, late_fee (fen), estimated (definitions:
    :mod:`canbao.collection.ledger`). The ledger ``canbao build`` published is read when it
    answers the question (:mod:`canbao.collection.published`)."""
    if policy is None:
        found = published.read(data_dir, scope, as_of)
        if found is not None:
            return found
    with session(data_dir, scope, as_of, engine=engine, spark_master=spark_master) as s:
        return ledger_in(s, policy)


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _arrears_sql(s: Session, policy: ContributionPolicy) -> str:
    buckets = list(policy.ageing)
    owed = ",\n".join(
        f"CAST(sum(CASE WHEN ageing = {_lit(b.label)} THEN balance ELSE 0 END) AS BIGINT)"
        f" AS owed_{i + 1}"
        for i, b in enumerate(buckets)
    )
    # priority by the age of the oldest arrears: 1 for the oldest bucket
    prio = " ".join(
        f"WHEN {f'x.days_past_due <= {b.to_days}' if b.to_days is not None else 'TRUE'}"
        f" THEN {len(buckets) - i}"
        for i, b in enumerate(buckets)
    )
    oldest_bucket = " ".join(
        f"WHEN x.days_past_due >= {b.from_days} THEN {_lit(b.label)}" for b in reversed(buckets)
    )
    sch = string_agg(s.dialect, "scheme", "scheme", "、")
    return f"""
        WITH p AS (SELECT * FROM ledger WHERE balance > 0 AND days_past_due > 0),
        sc AS (
            SELECT employer_key, {sch} AS schemes
            FROM (SELECT DISTINCT employer_key, scheme FROM p) q GROUP BY employer_key
        ), x AS (
            SELECT employer_key, CAST(sum(balance) AS BIGINT) AS arrears,
                   min(period) AS oldest_period, max(days_past_due) AS days_past_due,
                   CAST(count(*) AS BIGINT) AS periods,
                   CAST(sum(CASE WHEN estimated THEN 1 ELSE 0 END) AS BIGINT)
                       AS estimated_periods,
                   {owed}
            FROM p GROUP BY employer_key
        ), t AS (
            SELECT employer_key, CAST(sum(late_fee) AS BIGINT) AS late_fee,
                   CAST(sum(CASE WHEN balance < 0 THEN -balance ELSE 0 END) AS BIGINT) AS credit
            FROM ledger GROUP BY employer_key
        )
        SELECT e.county_code, x.employer_key, e.credit_code, e.name AS employer_name,
               e.ownership, CASE {prio} END AS priority, sc.schemes, x.arrears,
               x.oldest_period, x.days_past_due, CASE {oldest_bucket} END AS ageing,
               x.periods, x.estimated_periods, t.late_fee, t.credit,
               CAST(NULL AS VARCHAR) AS agreement_status, CAST(NULL AS VARCHAR) AS dunning_state,
               {", ".join(f"x.owed_{i + 1}" for i in range(len(buckets)))}
        FROM x
        JOIN employers e ON e.employer_key = x.employer_key
        JOIN t ON t.employer_key = x.employer_key
        JOIN sc ON sc.employer_key = x.employer_key
        WHERE {s.scope.sql("e.county_code")}
        ORDER BY priority, x.arrears DESC, x.employer_key
    """


def arrears_in(
    s: Session, county: str | None = None, policy: ContributionPolicy | None = None
) -> pl.DataFrame:
    """The collectors' work list at the session's as-of date (see :func:`arrears`)."""
    if county is not None:
        county = check_county(s, county)
        s.scope.require_county(county)
    pol = policy or ledger_policy(s)
    _build(s, policy)
    frame = s.frame(_arrears_sql(s, pol))
    if county is not None:
        frame = frame.filter(pl.col("county_code") == county)
    return frame


def arrears(
    data_dir: Path,
    scope: Scope,
    as_of: dt.date,
    county: str | None = None,
    *,
    engine: str | None = None,
    spark_master: str | None = None,
    policy: ContributionPolicy | None = None,
) -> pl.DataFrame:
    """Employers in arrears at ``as_of`` (positive balances past their due date), most urgent
    first: :data:`ARREARS_COLUMNS` then ``owed_1`` … ``owed_N``, the arrears per ageing bucket
    of the policy (1–90, 91–180, 181–365, over 365 days by default). ``arrears``: Σ of the
    positive balances past due (fen); ``oldest_period`` / ``days_past_due`` / ``ageing``: of the
    oldest of them; ``periods``: how many, ``estimated_periods`` of them assessed at 110 %;
    ``late_fee``: Σ of the late fees of all the employer's rows; ``credit``: Σ of its
    overpayments (negative balances, not netted); ``priority``: 1 for arrears in the oldest
    bucket, 2 the next … ; ``agreement_status`` / ``dunning_state``: what the workflow store
    holds (:mod:`canbao.collection.workflow_state`; :func:`arrears_in` leaves them empty). ``county``: a county code or name of the data (checked as in
    :func:`canbao.coverage.api.check_county`)."""
    with session(data_dir, scope, as_of, engine=engine, spark_master=spark_master) as s:
        frame = arrears_in(s, county, policy)
    return workflow_state.with_states(frame, data_dir, scope)


def kpis(
    data_dir: Path,
    scope: Scope,
    year: int,
    as_of: dt.date,
    *,
    by: kpi_mod.By = "unit",
    units: Mapping[str, str] | None = None,
    agencies: Mapping[str, str] | None = None,
    engine: str | None = None,
    spark_master: str | None = None,
    policy: ContributionPolicy | None = None,
) -> pl.DataFrame:
    """unit, indicator, value (text) of :mod:`canbao.collection.kpi` for ``year`` as of
    ``as_of`` (31 December when later; a date before the year is refused), per plan unit
    (``by="unit"``: ``units`` / ``agencies`` as in :func:`canbao.collection.kpi.employer_units`)
    or per county (``by="county"``), and ``city``."""
    day = kpi_mod.kpi_day(year, as_of)
    with session(data_dir, scope, day, engine=engine, spark_master=spark_master) as s:
        return kpi_mod.kpis_in(s, by, units, agencies, policy)


def kpi_parts(
    data_dir: Path,
    scope: Scope,
    year: int,
    as_of: dt.date,
    *,
    by: kpi_mod.By = "unit",
    units: Mapping[str, str] | None = None,
    agencies: Mapping[str, str] | None = None,
    engine: str | None = None,
    spark_master: str | None = None,
    policy: ContributionPolicy | None = None,
) -> pl.DataFrame:
    """unit, group, dues_in_year, new_arrears, opening_arrears, recovered (fen): the parts of
    the ratios of :func:`kpis` (same arguments)."""
    day = kpi_mod.kpi_day(year, as_of)
    with session(data_dir, scope, day, engine=engine, spark_master=spark_master) as s:
        return s.scope.filter(kpi_mod.kpi_parts_in(s, by, units, agencies, policy), "unit")


def _employer(s: Session, employer_key: str) -> dict[str, Any]:
    key = employer_key.replace("'", "''")
    found = s.frame(
        "SELECT employer_key, credit_code, name, county_code, ownership, status, si_registered"
        f" FROM employers WHERE employer_key = '{key}'"
    )
    if found.height == 0:
        raise NotFoundError(f"没有找到单位：{employer_key[:40]}", "no such master employer")
    row = found.row(0, named=True)
    s.scope.require_county(row["county_code"])
    return row


def employer_ledger_in(
    s: Session, employer_key: str, policy: ContributionPolicy | None = None
) -> pl.DataFrame:
    """The ledger rows of one master employer at the session's as-of date, every column of the
    ledger (:data:`canbao.collection.ledger.LEDGER_COLUMNS`: also ``days_past_due``, ``ageing``
    and ``source``), by scheme and period; the same rows as the employer's in :func:`ledger`.
    The ledger is built for this employer only: use a session for it (as :func:`compliance`
    does). An employer outside the scope is refused."""
    emp = _employer(s, employer_key)
    _build(s, policy or ledger_policy(s), emp["employer_key"])
    return s.frame("SELECT * FROM ledger ORDER BY scheme, period")


def overdue(rows: pl.DataFrame) -> pl.DataFrame:
    """The ledger rows in arrears: a positive balance past its due date (what the compliance
    status, the arrears list's figures and a new dunning case count)."""
    return rows.filter((pl.col("balance") > 0) & (pl.col("days_past_due") > 0))


def compliance_in(
    s: Session,
    employer_key: str,
    policy: ContributionPolicy | None = None,
    *,
    store: Store | None = None,
) -> dict[str, Any]:
    """:func:`compliance` in an open session (one for this employer); the workflow states are
    read through ``store`` when given, else the data directory's store."""
    emp = _employer(s, employer_key)
    rows = employer_ledger_in(s, employer_key, policy)
    owed = overdue(rows)
    oldest = owed.sort("period").head(1)
    recorded = workflow_state.states(
        s.data_dir, s.scope, store=store, employer_key=emp["employer_key"]
    )
    arrears_fen = int(owed["balance"].sum())
    fee = int(rows["late_fee"].sum())
    credit = int(-rows.filter(pl.col("balance") < 0)["balance"].sum())
    return {
        "employer_key": emp["employer_key"],
        "credit_code": emp["credit_code"],
        "employer_name": emp["name"],
        "county_code": emp["county_code"],
        "ownership": emp["ownership"],
        "status": emp["status"],
        "registered": bool(emp["si_registered"]),
        "schemes": sorted(set(rows["scheme"].to_list())),
        "arrears_fen": arrears_fen,
        "arrears": yuan_text(arrears_fen),
        "arrears_periods": owed.height,
        "oldest_period": oldest["period"][0] if oldest.height else None,
        "days_past_due": int(oldest["days_past_due"][0]) if oldest.height else 0,
        "ageing": oldest["ageing"][0] if oldest.height else None,
        "estimated_periods": int(owed["estimated"].sum()),
        "late_fee_fen": fee,
        "late_fee": yuan_text(fee),
        "credit_fen": credit,
        "agreement_status": recorded["agreement_status"][0] if recorded.height else None,
        "enforcement_status": recorded["dunning_state"][0] if recorded.height else None,
        "as_of": s.as_of.isoformat(),
    }


def compliance(
    data_dir: Path,
    scope: Scope,
    employer_key: str,
    as_of: dt.date,
    *,
    engine: str | None = None,
    spark_master: str | None = None,
    policy: ContributionPolicy | None = None,
    store: Store | None = None,
) -> dict[str, Any]:
    """An employer's contribution status (参保缴费情况) at ``as_of``, nothing personal:
    employer_key, credit_code, employer_name, county_code, ownership, status (the registry's
    登记状态), registered (the social-insurance employer registry knows it), schemes (with
    ledger rows), arrears_fen and arrears (yuan text: positive balances past due),
    arrears_periods, oldest_period, days_past_due and ageing (of the oldest), estimated_periods,
    late_fee_fen / late_fee, credit_fen, agreement_status and enforcement_status (the labels
    the workflow store holds: :mod:`canbao.collection.workflow_state`, read through ``store``
    when given; None when nothing is recorded), as_of. An employer outside the scope is
    refused."""
    with session(data_dir, scope, as_of, engine=engine, spark_master=spark_master) as s:
        return compliance_in(s, employer_key, policy, store=store)
