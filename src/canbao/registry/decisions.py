"""Review decisions ("same" / "different" on a pair of the review queue), kept in the store
(:class:`canbao.store.models.ReviewDecision`, append-only: for a pair the latest decision wins)
with their author — a signed-in user, or the command line's operator — and an audit-log entry.

Recording a decision does not take the data directory's writer lock: a decision made while a
build runs is kept and applies from the next build (the build reads the decisions once, at its
start).

**Migration.** Before the store, decisions were appended to ``DATA/registry/decisions.jsonl``.
The first time the store is used with such a file, its lines are imported (author
``legacy:<who>``, the original time; a line torn by a crash is dropped) and the file is renamed
``decisions.jsonl.migrated``; the import and its audit entry commit together, so it happens once.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Literal

import polars as pl
from sqlalchemy import select
from sqlalchemy.orm import Session

from canbao.errors import DataError, UsageError
from canbao.store import Actor, Store, open_store
from canbao.store.audit_log import append
from canbao.store.models import ReviewDecision

Decision = Literal["same", "different"]
DECISION_LABELS = {"same": "同一人", "different": "不同人"}
LEGACY = "decisions.jsonl"
SCHEMA = {"left_key": pl.Utf8, "right_key": pl.Utf8, "decision": pl.Utf8}


def legacy_path(data_dir: Path) -> Path:
    return data_dir / "registry" / LEGACY


def _open(data_dir: Path, store: Store | None) -> tuple[Store, bool]:
    return (store, False) if store is not None else (open_store(data_dir), True)


def check_decision(decision: str) -> str:
    if decision not in DECISION_LABELS:
        raise UsageError(
            f"决定只能是 same（同一人）或 different（不同人），而不是 {decision!r}",
            "decision must be 'same' or 'different'",
        )
    return decision


def add(
    session: Session, who: Actor, left_key: str, right_key: str, decision: str, note: str = ""
) -> ReviewDecision:
    """Add a decision and its audit-log entry in the caller's transaction (the case machinery
    records a review case's outcome and its decision together: :mod:`canbao.cases.effects`)."""
    row = ReviewDecision(
        left_key=left_key, right_key=right_key, decision=check_decision(decision), note=note,
        decided_by=who.name,
    )  # fmt: skip
    session.add(row)
    append(session, [who.event("review.decide", "review_pair", [left_key, right_key],
                               decision=decision)])  # fmt: skip
    session.flush()
    return row


def record(
    data_dir: Path,
    left_key: str,
    right_key: str,
    decision: str,
    note: str = "",
    *,
    actor: Actor | None = None,
    store: Store | None = None,
) -> dict[str, str]:
    check_decision(decision)
    who = actor or Actor.operator()
    st, mine = _open(data_dir, store)
    try:
        migrate_legacy(data_dir, st)
        with st.transaction() as s:
            at = add(s, who, left_key, right_key, decision, note).decided_at
    finally:
        if mine:
            st.dispose()
    return {
        "left_key": left_key,
        "right_key": right_key,
        "decision": decision,
        "decided_at": at.isoformat(timespec="seconds"),
        "decided_by": who.name,
        "note": note,
    }


def load(data_dir: Path, store: Store | None = None) -> pl.DataFrame:
    """The decision in force for every decided pair (latest wins)."""
    st, mine = _open(data_dir, store)
    try:
        migrate_legacy(data_dir, st)
        with st.sessions() as s:
            rows = s.execute(
                select(
                    ReviewDecision.id, ReviewDecision.left_key, ReviewDecision.right_key,
                    ReviewDecision.decision,
                ).order_by(ReviewDecision.id)
            ).all()  # fmt: skip
    finally:
        if mine:
            st.dispose()
    if not rows:
        return pl.DataFrame(schema=SCHEMA)
    df = pl.DataFrame([tuple(r) for r in rows], orient="row", schema=["_seq", *SCHEMA])
    return (
        df.sort("_seq")
        .group_by("left_key", "right_key", maintain_order=True)
        .agg(pl.col("decision").last())
        .select(list(SCHEMA))
    )


def migrate_legacy(data_dir: Path, store: Store) -> int:
    """Import ``decisions.jsonl`` once (see the module docstring): the number of decisions."""
    p = legacy_path(data_dir)
    if not p.exists():
        return 0
    rows = _legacy_rows(p)
    with store.transaction() as s:
        done = s.execute(
            select(ReviewDecision.id).where(ReviewDecision.migrated_from == LEGACY).limit(1)
        ).first()
        if done is None:
            for r in rows:
                s.add(
                    ReviewDecision(
                        left_key=str(r["left_key"]), right_key=str(r["right_key"]),
                        decision=str(r["decision"]), note=str(r.get("note") or ""),
                        decided_by=f"legacy:{r.get('decided_by') or 'unknown'}"[:64],
                        decided_at=_when(r.get("decided_at")), migrated_from=LEGACY,
                    )
                )  # fmt: skip
            op = Actor.operator()
            append(s, [op.event("review.migrate", "review_decisions", [LEGACY], rows=len(rows))])
    os.replace(p, p.with_name(LEGACY + ".migrated"))
    return len(rows) if done is None else 0


def _when(text: object) -> dt.datetime:
    try:
        return dt.datetime.fromisoformat(str(text)).replace(microsecond=0)
    except ValueError:
        return dt.datetime(1970, 1, 1)


def _legacy_rows(p: Path) -> list[dict[str, object]]:
    text = p.read_text(encoding="utf-8", errors="replace")
    lines = text.split("\n")
    if lines and lines[-1]:
        lines = lines[:-1]  # a line without its newline was torn by a crash: never recorded
    rows = []
    for i, line in enumerate(lines, start=1):
        if not line:
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataError(
                f"复核决定文件“{p}”第 {i} 行已损坏，请从备份恢复或删除该行后重试",
                f"corrupt decision line {i}",
            ) from e
        if row.get("decision") in DECISION_LABELS and row.get("left_key") and row.get("right_key"):
            rows.append(row)
    return rows
