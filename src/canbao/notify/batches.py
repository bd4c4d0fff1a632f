"""Reminder batches: the rules' rows at an as-of date become a draft batch of outbox messages
that staff review, approve (or cancel) and send.

:func:`make_batch` holds back, and counts, every row whose recipient refused reminders
(``opted_out``), that has no usable mobile number (``no_phone``) or whose idempotency key
(reason:recipient_type:recipient_key:period) is already in the outbox (``duplicate``: a rule
run twice queues a message once). A message made outside the quiet hours gets ``not_before``
= the next window start. A dry run computes the same counts and stores nothing.

States: ``draft`` → ``approved`` (by another person than the one who made it) → ``sent`` (every message handed to the sender), or
``cancelled`` (its unsent messages are cancelled and their keys freed, so a later run can make
them again). A message is claimed (``sending``) before it is handed to the sender, so two sends
of one batch never send it twice; one left in ``sending`` by a crash is not retried (SendSms is
not idempotent): its delivery receipt decides. Every change needs ``reminders.manage`` and writes an audit-log entry.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import func, insert, select, update

from canbao.errors import NotFoundError, StateError
from canbao.notify import contacts, rules
from canbao.notify.config import NotifyConfig, load_config
from canbao.notify.quiet_hours import in_window, not_before
from canbao.notify.senders import Outgoing, TeamOnly, Transport, sender_for
from canbao.store import Actor, Store, roles
from canbao.store.audit_log import append
from canbao.store.models import OutboxMessage, ReminderBatch, utcnow

STATES = {"draft": "待审核", "approved": "已批准", "sent": "已发送", "cancelled": "已取消"}
MESSAGE_STATES = {
    "queued": "待发送",
    "sending": "发送中",
    "sent": "已发出",
    "delivered": "已送达",
    "failed": "发送失败",
    "cancelled": "已撤回",
}
HELD = {"opted_out": "本人拒收", "duplicate": "已提醒过（重复）", "no_phone": "无联系电话"}
_CHUNK = 1000


@dataclass
class BatchResult:
    batch_id: int | None
    as_of: dt.date
    mode: str
    reasons: dict[str, int] = field(default_factory=dict)
    held: dict[str, int] = field(default_factory=dict)
    not_before: dt.datetime | None = None

    @property
    def total(self) -> int:
        return sum(self.reasons.values())

    def counts(self) -> dict[str, Any]:
        return {"reasons": self.reasons, "held": self.held, "total": self.total}


def _region(data_dir: Path) -> str:
    from canbao.profile import profile_for

    return profile_for(data_dir, remember=False).profile.policy_region


def _existing_keys(store: Store, keys: list[str]) -> pl.Series:
    found: list[str] = []
    with store.sessions() as s:
        for i in range(0, len(keys), _CHUNK):
            chunk = keys[i : i + _CHUNK]
            found += s.scalars(
                select(OutboxMessage.idem_key).where(OutboxMessage.idem_key.in_(chunk))
            ).all()
    return pl.Series("idem_key", found, dtype=pl.Utf8)


def select_messages(store: Store, rows: pl.DataFrame) -> tuple[pl.DataFrame, dict[str, int]]:
    """The rows to queue (one per idempotency key) and the counts held back."""
    keyed = rows.with_columns(
        pl.concat_str("reason", "recipient_type", "recipient_key", "period", separator=":").alias(
            "idem_key"
        )
    ).unique("idem_key", keep="first", maintain_order=True)
    refused = contacts.opted_out(store)
    out = keyed.join(refused, on=["recipient_type", "recipient_key"], how="anti")
    held = {"opted_out": keyed.height - out.height}
    phone_ok = pl.col("phone").fill_null("").str.contains(contacts.PHONE_RE)
    held["no_phone"] = out.filter(~phone_ok).height
    out = out.filter(phone_ok)
    seen = _existing_keys(store, out["idem_key"].to_list())
    before = out.height
    out = out.filter(~pl.col("idem_key").is_in(seen.implode()))
    held["duplicate"] = before - out.height
    return out, held


def make_batch(
    store: Store,
    data_dir: Path,
    actor: Actor,
    as_of: dt.date,
    *,
    dry_run: bool = False,
    now: dt.datetime | None = None,
    config: NotifyConfig | None = None,
) -> BatchResult:
    """Run the rules at ``as_of`` and store a draft batch (or, ``dry_run``, only count)."""
    roles.require(actor.role, "reminders.manage", actor.name)
    cfg = config or load_config(data_dir)
    now = now or utcnow()
    rows = rules.candidates(store, data_dir, as_of, cfg, _region(data_dir))
    chosen, held = select_messages(store, rows)
    per_reason = chosen.group_by("reason").len().sort("reason")
    res = BatchResult(
        None, as_of, cfg.mode,
        {r: int(n) for r, n in per_reason.iter_rows()} if chosen.height else {},
        held, not_before(now, cfg),
    )  # fmt: skip
    if dry_run or chosen.height == 0:
        return res  # nothing new: no empty batch is stored
    with store.transaction() as s:
        batch = ReminderBatch(
            as_of=as_of, state="draft", mode=cfg.mode, counts=res.counts(),
            created_by=actor.name, created_at=now,
        )  # fmt: skip
        s.add(batch)
        s.flush()
        res.batch_id = batch.id
        base = {
            "batch_id": batch.id, "state": "queued", "mode": cfg.mode, "version": 1,
            "not_before": res.not_before, "created_at": now, "provider": "",
            "provider_id": "", "error": "",
        }  # fmt: skip
        values = [
            {**base, **r, "params": _params(r["params"])} for r in chosen.drop("period").to_dicts()
        ]
        for i in range(0, len(values), _CHUNK):
            s.execute(insert(OutboxMessage), values[i : i + _CHUNK])
        append(
            s,
            [actor.event("reminders.batch", "reminder_batch", [str(batch.id)],
                         as_of=as_of.isoformat(), total=res.total)],
        )  # fmt: skip
    return res


def _params(text: str) -> dict[str, str]:
    found = json.loads(text)
    return {str(k): str(v) for k, v in found.items()}


def _batch(s: Any, batch_id: int) -> ReminderBatch:
    batch = s.get(ReminderBatch, batch_id)
    if batch is None:
        raise NotFoundError(f"没有编号为 {batch_id} 的提醒批次", f"no reminder batch {batch_id}")
    return batch


def approve(store: Store, actor: Actor, batch_id: int) -> None:
    roles.require(actor.role, "reminders.manage", actor.name)
    with store.transaction() as s:
        batch = _batch(s, batch_id)
        if batch.state != "draft":
            raise StateError(
                f"提醒批次 {batch_id} 当前为“{STATES[batch.state]}”，只有待审核的批次可以批准",
                f"batch {batch_id} is {batch.state}",
            )
        if batch.created_by == actor.name:
            raise StateError(
                f"提醒批次 {batch_id} 由您本人生成，须由另一位工作人员审核批准",
                f"batch {batch_id}: the maker may not approve it",
            )
        batch.state, batch.approved_by, batch.approved_at = "approved", actor.name, utcnow()
        append(s, [actor.event("reminders.approve", "reminder_batch", [str(batch_id)])])


def cancel(store: Store, actor: Actor, batch_id: int) -> int:
    """Cancel a draft or approved batch; its unsent messages are cancelled (keys freed)."""
    roles.require(actor.role, "reminders.manage", actor.name)
    with store.transaction() as s:
        batch = _batch(s, batch_id)
        if batch.state not in ("draft", "approved"):
            raise StateError(
                f"提醒批次 {batch_id} 当前为“{STATES[batch.state]}”，不能取消",
                f"batch {batch_id} is {batch.state}",
            )
        batch.state = "cancelled"
        n = s.execute(  # type: ignore[attr-defined]
            update(OutboxMessage)
            .where(OutboxMessage.batch_id == batch_id, OutboxMessage.state == "queued")
            .values(
                state="cancelled",
                idem_key=OutboxMessage.idem_key + f"#cancelled-{batch_id}",
                version=OutboxMessage.version + 1,
            )
            .execution_options(synchronize_session=False)
        ).rowcount
        append(s, [actor.event("reminders.cancel", "reminder_batch", [str(batch_id)], n=n)])
    return int(n or 0)


def _claim(store: Store, message_id: int, before: str, after: str) -> bool:
    """Move one message from state ``before`` to ``after``; False when it was not in
    ``before`` (two sends of one batch never hand a message on twice)."""
    with store.transaction() as s:
        n = s.execute(  # type: ignore[attr-defined]
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id, OutboxMessage.state == before)
            .values(state=after, version=OutboxMessage.version + 1)
            .execution_options(synchronize_session=False)
        ).rowcount
    return bool(n)


@dataclass
class SendResult:
    sent: int = 0
    failed: int = 0
    waiting: int = 0  # not_before still ahead, or refused by mode team
    done: bool = False


def send_batch(
    store: Store,
    data_dir: Path,
    actor: Actor,
    batch_id: int,
    *,
    now: dt.datetime | None = None,
    transport: Transport | None = None,
    progress: Callable[[int, int], None] | None = None,
    config: NotifyConfig | None = None,
) -> SendResult:
    """Hand the approved batch's queued messages whose ``not_before`` has passed to the sender
    of the batch's mode; nothing goes outside the quiet hours."""
    roles.require(actor.role, "reminders.manage", actor.name)
    cfg = config or load_config(data_dir)
    now = now or utcnow()
    with store.sessions() as s:
        batch = _batch(s, batch_id)
        state, mode = batch.state, batch.mode
    if state != "approved":
        raise StateError(
            f"提醒批次 {batch_id} 当前为“{STATES.get(state, state)}”，须先批准才能发送",
            f"batch {batch_id} is {state}",
        )
    if not in_window(now, cfg):
        raise StateError(
            f"现在是免打扰时段（只在 {cfg.quiet_start:%H:%M}–{cfg.quiet_end:%H:%M} 发送），"
            "请在发送时段内再发送",
            "outside the sending hours",
        )
    sender = sender_for(data_dir, mode, config=cfg, transport=transport)
    due = (OutboxMessage.not_before.is_(None)) | (OutboxMessage.not_before <= now)
    with store.sessions() as s:
        todo = s.execute(
            select(OutboxMessage.id, OutboxMessage.idem_key, OutboxMessage.phone,
                   OutboxMessage.template, OutboxMessage.params)
            .where(OutboxMessage.batch_id == batch_id, OutboxMessage.state == "queued", due)
            .order_by(OutboxMessage.id)
        ).all()  # fmt: skip
    res = SendResult()
    for i, (mid, key, phone, tmpl, params) in enumerate(todo, start=1):
        if _claim(store, mid, "queued", "sending"):  # another run may have taken it
            got = sender.send(Outgoing(key, phone, tmpl, dict(params)))
            if not got.ok and got.error.startswith(TeamOnly.NOT_TEAM):
                _claim(store, mid, "sending", "queued")
            else:
                with store.transaction() as s:
                    row = s.get_one(OutboxMessage, mid)
                    row.provider, row.provider_id = sender.name, got.provider_id
                    row.state, row.error = ("sent" if got.ok else "failed"), got.error
                    row.sent_at = utcnow()
                res.sent += got.ok
                res.failed += not got.ok
        if progress is not None:
            progress(i, len(todo))
    with store.transaction() as s:
        left = s.scalar(
            select(func.count()).where(
                OutboxMessage.batch_id == batch_id, OutboxMessage.state == "queued"
            )
        )
        res.waiting = int(left or 0)
        if not left:
            _batch(s, batch_id).state = "sent"
            res.done = True
        append(
            s,
            [actor.event("reminders.send", "reminder_batch", [str(batch_id)],
                         sent=res.sent, failed=res.failed, mode=mode)],
        )  # fmt: skip
    return res


def list_batches(store: Store, limit: int = 100) -> list[ReminderBatch]:
    with store.sessions() as s:
        found = list(
            s.scalars(select(ReminderBatch).order_by(ReminderBatch.id.desc()).limit(limit))
        )
        s.expunge_all()
    return found


def get_batch(store: Store, batch_id: int) -> ReminderBatch:
    with store.sessions() as s:
        batch = _batch(s, batch_id)
        s.expunge(batch)
    return batch


def batch_messages(store: Store, batch_id: int) -> pl.DataFrame:
    """The batch's messages: reason, county_code, state, recipient_key, phone, template,
    params (for summaries; callers mask before showing)."""
    with store.sessions() as s:
        rows = s.execute(
            select(OutboxMessage.id, OutboxMessage.reason, OutboxMessage.county_code,
                   OutboxMessage.state, OutboxMessage.recipient_type,
                   OutboxMessage.recipient_key, OutboxMessage.phone, OutboxMessage.template,
                   OutboxMessage.params, OutboxMessage.not_before)
            .where(OutboxMessage.batch_id == batch_id)
            .order_by(OutboxMessage.id)
        ).all()  # fmt: skip
    schema = {
        "id": pl.Int64, "reason": pl.Utf8, "county_code": pl.Utf8, "state": pl.Utf8,
        "recipient_type": pl.Utf8, "recipient_key": pl.Utf8, "phone": pl.Utf8,
        "template": pl.Utf8, "params": pl.Object, "not_before": pl.Datetime,
    }  # fmt: skip
    return pl.DataFrame([tuple(r) for r in rows], schema=schema, orient="row")
