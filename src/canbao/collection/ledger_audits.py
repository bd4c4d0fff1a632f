"""Audit findings in the ledger: supplementary assessments (稽核补缴) with late fees from each
month's original due date (社会保险法 art. 86: 自欠缴之日起).

An audit case's findings (:class:`canbao.store.models.AuditFinding`, recorded by
:mod:`canbao.audit.cases`) count from the day the case is finished (``assessed_on``): the ledger
at D adds, per employer × scheme × period, the unpaid contributions of the findings assessed on
or before D (periods up to D's month) to that row's due — a declared, estimated or opening row
keeps its source; a period with nothing else assessed becomes a row of source ``audit``. The
row's balance, arrears ageing and late fee then follow from the ledger's own rules: the added
principal is unpaid from the period's due date.

The findings are read from the store (a decision people recorded, never recomputed) into the
session as ``<name>_audit`` (employer_key, scheme, period, amount, case_ids). What the published
ledger applied is :func:`digest`: a change of the assessed findings makes the next publish a
full one (:mod:`canbao.collection.published`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import defaultdict
from pathlib import Path

import polars as pl
from sqlalchemy import select

from canbao.collection.ledger_inputs import month_of
from canbao.coverage.session import Session
from canbao.store import Store, open_store
from canbao.store.models import AuditFinding

SOURCE = "audit"
_KEYS = ("employer_key", "scheme", "period")


def assessed(
    store: Store, day: dt.date, employer: str | None = None
) -> list[tuple[str, str, str, int, int, dt.date]]:
    """(employer_key, scheme, period, unpaid_fen, case_id, assessed_on) of every finding
    assessed on or before ``day`` for a period up to ``day``'s month, in a stable order."""
    q = select(
        AuditFinding.employer_key, AuditFinding.scheme, AuditFinding.period,
        AuditFinding.unpaid_fen, AuditFinding.case_id, AuditFinding.assessed_on,
    ).where(
        AuditFinding.assessed_on.is_not(None), AuditFinding.assessed_on <= day,
        AuditFinding.period <= month_of(day),
    )  # fmt: skip
    if employer is not None:
        q = q.where(AuditFinding.employer_key == employer)
    with store.sessions() as s:
        rows = [
            (str(a), str(b), str(c), int(d), int(e), f)
            for a, b, c, d, e, f in s.execute(q)
            if f is not None
        ]
    return sorted(rows)


def _read(
    data_dir: Path, day: dt.date, employer: str | None
) -> list[tuple[str, str, str, int, int, dt.date]]:
    store = open_store(data_dir)
    try:
        return assessed(store, day, employer)
    finally:
        store.dispose()


def digest(data_dir: Path, day: dt.date) -> str:
    """A digest of the findings the ledger at ``day`` assesses ("" when there is none)."""
    rows = _read(data_dir, day, None)
    if not rows:
        return ""
    text = json.dumps([[*r[:5], r[5].isoformat()] for r in rows])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def load(s: Session, name: str, day: dt.date, employer: str | None = None) -> bool:
    """Create ``<name>_audit`` from the store; False (and no table) when no finding counts."""
    rows = _read(s.data_dir, day, employer)
    if not rows:
        return False
    amount: dict[tuple[str, str, str], int] = defaultdict(int)
    cases: dict[tuple[str, str, str], set[int]] = defaultdict(set)
    for emp, scheme, period, fen, case_id, _on in rows:
        amount[(emp, scheme, period)] += fen
        cases[(emp, scheme, period)].add(case_id)
    keys = sorted(amount)
    # through Polars: pyarrow's constructors import pandas (0.2 s a process)
    frame = pl.DataFrame(
        [(*k, amount[k], ",".join(map(str, sorted(cases[k])))) for k in keys],
        schema={"employer_key": pl.Utf8, "scheme": pl.Utf8, "period": pl.Utf8,
                "amount": pl.Int64, "case_ids": pl.Utf8},
        orient="row",
    )  # fmt: skip
    s.eng.create_table_from_arrow(f"{name}_audit", frame.to_arrow())
    return True


def _on(a: str, b: str) -> str:
    return " AND ".join(f"{a}.{c} = {b}.{c}" for c in _KEYS)


def merge(s: Session, name: str) -> None:
    """``<name>_assessed`` with ``<name>_audit`` added to the due of its keys (a key assessed
    by nothing else: a row of source ``audit``)."""
    s.execute(f"CREATE OR REPLACE TABLE {name}_assessed_base AS SELECT * FROM {name}_assessed")
    s.execute(
        f"""
        CREATE OR REPLACE TABLE {name}_assessed AS
        SELECT coalesce(a.employer_key, x.employer_key) AS employer_key,
               coalesce(a.scheme, x.scheme) AS scheme, coalesce(a.period, x.period) AS period,
               CAST(coalesce(a.due, 0) + coalesce(x.amount, 0) AS BIGINT) AS due,
               coalesce(a.source, '{SOURCE}') AS source, a.opening_as_of
        FROM {name}_assessed_base a FULL OUTER JOIN {name}_audit x ON {_on("a", "x")}
        """
    )


def base_due_view(s: Session, prev: str, name: str, out: str, loaded: bool) -> None:
    """View ``out``: the rows of ``prev`` (a previous ledger) with ``due`` less the audit
    amounts of ``<name>_audit`` (``loaded``: :func:`load` found some) — the due the
    declarations alone assessed, what the incremental update reads to recompute estimates."""
    if not loaded:
        s.eng.create_view(out, f"SELECT employer_key, scheme, period, source, due FROM {prev}")
        return
    s.eng.create_view(
        out,
        f"""
        SELECT p.employer_key, p.scheme, p.period, p.source,
               CAST(p.due - coalesce(x.amount, 0) AS BIGINT) AS due
        FROM {prev} p LEFT JOIN {name}_audit x ON {_on("p", "x")}
        """,
    )
