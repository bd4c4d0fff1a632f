"""The ledger's pass over approved agreements: the payments the data show for each agreement
are checked against its schedule (:func:`canbao.collection.agreements.check_all`), so a missed
instalment breaches the agreement and dunning resumes without anyone typing the payments in.

An agreement's payments are the ledger's de-duplicated payments (``ledger_payments``: by
transaction id, else by content) of its employer and schemes, received from the day it was
approved up to the as-of date, for the contribution periods it names — or, when it names none,
for the periods due before it was approved (the debt it settles; the employer's current
contributions are not instalments).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from canbao.collection import agreements
from canbao.collection.late_fees import due_date
from canbao.collection.ledger import build_inputs
from canbao.coverage.session import open_session
from canbao.store import Actor, open_store
from canbao.warehouse.scope import Scope


def _payments(frame: pl.DataFrame, a: agreements.AgreementView) -> list[tuple[dt.date, int]]:
    since = a.approved_on or a.created_at.date()
    rows = frame.filter(
        (pl.col("employer_key") == a.employer_key)
        & pl.col("scheme").is_in(list(a.schemes))
        & (pl.col("received") >= since)
    )
    if a.periods:
        rows = rows.filter(pl.col("period").is_in(list(a.periods)))
    else:
        owed = [p for p in rows["period"].unique().to_list() if due_date(p) < since]
        rows = rows.filter(pl.col("period").is_in(owed))
    return [(d, int(f)) for d, f in rows.sort("received").select("received", "amount").iter_rows()]


def check_agreements(
    data_dir: Path,
    actor: Actor,
    scope: Scope,
    as_of: dt.date,
    *,
    engine: str | None = None,
    spark_master: str | None = None,
    database_url: str | None = None,
) -> list[agreements.CheckResult]:
    """Check every approved agreement in ``scope`` against the ledger's payments as of
    ``as_of`` (see the module docstring); the results, one per agreement. ``database_url``:
    the store's (default: the data directory's, or ``$CANBAO_DATABASE_URL``)."""
    store = open_store(data_dir, database_url)
    try:
        deals = agreements.agreements(store, scope, status="approved")
        if not deals:
            return []
        keys = sorted({a.employer_key for a in deals})
        s = open_session(data_dir, scope, as_of, engine=engine, spark_master=spark_master)
        try:
            build_inputs(s)
            listed = ", ".join("'" + k.replace("'", "''") + "'" for k in keys)
            frame = s.frame(
                "SELECT employer_key, scheme, period, amount, received FROM ledger_payments "
                f"WHERE employer_key IN ({listed}) AND received <= {s.day}"
            )
        finally:
            s.close()
        found = {a.id: _payments(frame, a) for a in deals}
        return agreements.check_all(store, actor, scope, found, as_of)
    finally:
        store.dispose()
