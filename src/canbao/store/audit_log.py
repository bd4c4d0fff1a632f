"""The audit log of personal data and changes: append-only, numbered without gaps, chained.

What is logged (the callers' rule): every read that reveals a full ID number, phone or address
(``fields`` names what was revealed), every export, every sign-in (and failed sign-in), every
change of state. An entry says who (``actor``, ``role``), when (UTC), what (``action``,
``object_type``, ``object_keys``), which fields and from where (``client``).

**The chain.** Entry *n* stores the hash of entry *n−1* (``prev_hash``) and its own ``hash`` =
SHA-256 of its canonical JSON (every column, ``prev_hash`` included). Appending locks the one
row of ``audit_head`` (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite serialises writers), takes
the next number and moves the head. :func:`verify` walks the log: an edited entry no longer
matches its hash, a deleted entry leaves a gap in the numbers or a broken link, a deleted tail
leaves the head pointing past the end. (Whoever can rewrite the whole table *and* the head can
forge a consistent chain: ship :func:`head` elsewhere — a printed report, another system — to
anchor it.)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from canbao.errors import StateError
from canbao.store.db import Store
from canbao.store.models import AuditEntry, AuditHead, utcnow

GENESIS = "0" * 64


@dataclass(frozen=True)
class Event:
    """What to log (the store fills in number, time and hashes)."""

    actor: str
    role: str
    action: str
    object_type: str = ""
    object_keys: Sequence[str] = ()
    fields: Sequence[str] = ()
    client: str = ""
    detail: dict[str, Any] = field(default_factory=dict)


def _digest(entry: AuditEntry) -> str:
    doc = {
        "id": entry.id,
        "at": entry.at.isoformat(),
        "actor": entry.actor,
        "role": entry.role,
        "action": entry.action,
        "object_type": entry.object_type,
        "object_keys": list(entry.object_keys),
        "fields": list(entry.fields),
        "client": entry.client,
        "detail": entry.detail,
        "prev_hash": entry.prev_hash,
    }
    text = json.dumps(doc, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _lock_head(session: Session) -> AuditHead:
    head = session.execute(
        select(AuditHead).where(AuditHead.id == 1).with_for_update()
    ).scalar_one_or_none()
    if head is None:  # created by the first migration; gone only if someone deleted it
        raise StateError(
            "审计日志的链头记录缺失，日志可能被篡改；请运行 canbao audit-log verify 并从备份恢复",
            "audit_head row missing",
        )
    return head


def append(session: Session, events: Iterable[Event]) -> list[int]:
    """Append ``events`` in the caller's transaction (so a change and its entry commit
    together): their numbers."""
    head = _lock_head(session)
    ids = []
    for ev in events:
        entry = AuditEntry(
            id=head.last_id + 1,
            at=utcnow(),
            actor=ev.actor,
            role=ev.role,
            action=ev.action,
            object_type=ev.object_type,
            object_keys=[str(k) for k in ev.object_keys],
            fields=list(ev.fields),
            client=ev.client,
            detail=dict(ev.detail),
            prev_hash=head.last_hash,
            hash="",
        )
        entry.hash = _digest(entry)
        session.add(entry)
        head.last_id, head.last_hash = entry.id, entry.hash
        ids.append(entry.id)
    return ids


def log(store: Store, *events: Event) -> list[int]:
    """Append ``events`` (kept together) and return once they are committed: through the
    store's group-commit writer (:mod:`canbao.store.audit_writer`), so concurrent callers
    share transactions."""
    return store.audit_writer().submit(events)


def log_export(
    data_dir: Path,
    actor: Any,
    what: str,
    target: str,
    rows: int,
    fields: Sequence[str] = (),
) -> None:
    """One ``export`` entry in the data directory's store (every export a person takes away
    is logged: what, to which file name, how many rows, which personal fields in full).
    ``actor``: an :class:`canbao.store.accounts.Actor` (name, role, client)."""
    from canbao.store.db import open_store

    store = open_store(data_dir)
    try:
        log(
            store,
            Event(actor.name, actor.role, "export", what, (target,), tuple(fields), actor.client,
                  {"rows": rows}),
        )  # fmt: skip
    finally:
        store.dispose()


@dataclass(frozen=True)
class Problem:
    entry: int
    kind: str  # edited | missing | broken_link | head
    message_zh: str


def verify(store: Store, batch: int = 5000) -> tuple[int, list[Problem]]:
    """(entries checked, problems found), walking the whole log in order."""
    problems: list[Problem] = []
    expected_id, prev = 1, GENESIS
    checked = 0
    with store.sessions() as s:
        last = 0
        while True:
            rows = (
                s.execute(
                    select(AuditEntry).where(AuditEntry.id > last).order_by(AuditEntry.id)
                    .limit(batch)
                ).scalars().all()
            )  # fmt: skip
            if not rows:
                break
            for e in rows:
                checked += 1
                if e.id != expected_id:
                    problems.append(
                        Problem(expected_id, "missing",
                                f"第 {expected_id}–{e.id - 1} 条日志缺失（被删除）")
                    )  # fmt: skip
                if e.prev_hash != prev:
                    problems.append(
                        Problem(e.id, "broken_link", f"第 {e.id} 条日志与前一条的链接不符")
                    )
                if _digest(e) != e.hash:
                    problems.append(Problem(e.id, "edited", f"第 {e.id} 条日志内容被改动"))
                expected_id, prev = e.id + 1, e.hash
                last = e.id
            s.expunge_all()
        head = s.get(AuditHead, 1)
    if head is not None and (head.last_id != expected_id - 1 or head.last_hash != prev):
        problems.append(
            Problem(head.last_id, "head",
                    f"日志末尾缺失：应有 {head.last_id} 条，实有 {expected_id - 1} 条")
        )  # fmt: skip
    return checked, problems


def head(store: Store) -> tuple[int, str]:
    """(number, hash) of the last entry: the value to keep elsewhere to anchor the chain."""
    with store.sessions() as s:
        h = s.get(AuditHead, 1)
        return (h.last_id, h.last_hash) if h else (0, GENESIS)


def entries(
    store: Store,
    *,
    actor: str | None = None,
    since: dt.datetime | None = None,
    action: str | None = None,
    limit: int = 200,
) -> list[AuditEntry]:
    """The latest entries first, filtered."""
    q = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if actor:
        q = q.where(AuditEntry.actor == actor)
    if since:
        q = q.where(AuditEntry.at >= since)
    if action:
        q = q.where(AuditEntry.action == action)
    with store.sessions() as s:
        return list(s.execute(q).scalars().all())
