"""What the workflow store says about employers in arrears: the agreement in force and the
state of the open dunning case, per master employer, for the arrears list and the compliance
status (the ledger's figures come from the data; these come from what staff recorded).

- ``agreement_status``: the label of the employer's latest agreement that is proposed, approved
  or breached (:data:`canbao.collection.agreements.STATUS_LABELS`); completed or cancelled
  agreements no longer say anything about the debt;
- ``dunning_state``: the label of the state of the employer's latest open dunning case
  (:data:`canbao.collection.dunning.STATE_LABELS`: 已发催缴通知, 已责令限期缴纳, 协议履行中,
  已移送劳动监察, 已申请强制执行).

Reads go through the reader's scope (county staff: their counties' cases and agreements).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from canbao.collection import agreements, dunning
from canbao.store import Store, open_store
from canbao.warehouse.scope import Scope

IN_FORCE = ("proposed", "approved", "breached")
SCHEMA = {"employer_key": pl.Utf8, "agreement_status": pl.Utf8, "dunning_state": pl.Utf8}


def states(
    data_dir: Path,
    scope: Scope,
    *,
    store: Store | None = None,
    employer_key: str | None = None,
) -> pl.DataFrame:
    """employer_key, agreement_status, dunning_state (labels; None where nothing is recorded)
    of every employer in ``scope`` that has either (only ``employer_key`` when given), read
    through ``store`` when the caller holds one, else the data directory's store."""
    own = open_store(data_dir) if store is None else None
    try:
        db = store if store is not None else own
        assert db is not None
        deals = agreements.agreements(db, scope, employer_key=employer_key)
        cases = dunning.cases(db, scope, employer_key=employer_key, open_only=True)
    finally:
        if own is not None:
            own.dispose()
    deal: dict[str, str] = {}
    for a in sorted(deals, key=lambda a: a.id):
        if a.status in IN_FORCE:
            deal[a.employer_key] = agreements.STATUS_LABELS[a.status]
    case: dict[str, str] = {}
    for c in sorted(cases, key=lambda c: c.id):
        case[c.employer_key] = dunning.STATE_LABELS[c.state]
    keys = sorted(set(deal) | set(case))
    return pl.DataFrame(
        {
            "employer_key": keys,
            "agreement_status": [deal.get(k) for k in keys],
            "dunning_state": [case.get(k) for k in keys],
        },
        schema=SCHEMA,
    )


def with_states(frame: pl.DataFrame, data_dir: Path, scope: Scope) -> pl.DataFrame:
    """``frame`` (an arrears list) with its agreement_status and dunning_state filled in from
    the store, columns in the same order."""
    found = states(data_dir, scope)
    return (
        frame.drop("agreement_status", "dunning_state")
        .join(found, on="employer_key", how="left")
        .select(frame.columns)
    )
