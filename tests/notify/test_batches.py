"""Reminder batches on the synthetic city: counts, no duplicates across runs, opt-outs, quiet
hours, dry runs, approval, sending (file sender; team mode), cancellation."""

from __future__ import annotations

import datetime as dt
import json

import polars as pl
import pytest
from sqlalchemy import func, select

from canbao.errors import PermissionDenied, StateError
from canbao.notify import batches, contacts
from canbao.notify.config import NotifyConfig
from canbao.notify.senders import sent_file
from canbao.store import Actor
from canbao.store.db import Store
from canbao.store.models import AuditEntry, OutboxMessage, ReminderBatch
from tests.notify.conftest import COUNTY, DAY, NIGHT, STAFF, City

CHECKER = Actor("sun_city", "city_staff")  # approves what STAFF made (four eyes)

AS_OF = dt.date(2017, 12, 27)


def _outbox(store: Store) -> pl.DataFrame:
    with store.sessions() as s:
        rows = s.execute(
            select(OutboxMessage.idem_key, OutboxMessage.batch_id, OutboxMessage.state,
                   OutboxMessage.reason, OutboxMessage.recipient_type,
                   OutboxMessage.recipient_key, OutboxMessage.not_before, OutboxMessage.phone)
        ).all()  # fmt: skip
    cols = ["idem_key", "batch_id", "state", "reason", "recipient_type", "recipient_key",
            "not_before", "phone"]  # fmt: skip
    return pl.DataFrame([tuple(r) for r in rows], schema=cols, orient="row")


def _lines(city: City) -> list[dict]:
    path = sent_file(city.data)
    if not path.exists():
        return []
    return [json.loads(x) for x in path.read_text("utf-8").splitlines()]


def test_batch_counts_and_no_duplicates_across_runs(city: City, store: Store) -> None:
    first = batches.make_batch(store, city.data, STAFF, AS_OF, now=DAY)
    assert first.batch_id is not None and first.mode == "test"
    box = _outbox(store)
    assert box.height == first.total > 0
    assert box["idem_key"].n_unique() == box.height
    assert set(first.reasons) == {"resident_payment", "employer_due", "arrears_notice"}
    assert first.reasons == {r: n for r, n in box.group_by("reason").len().iter_rows()}
    assert first.held["no_phone"] > 0 and first.held["duplicate"] == 0
    assert box["phone"].str.contains(contacts.PHONE_RE).all()
    # employers without a registered contact number are held back
    assert not set(box["recipient_key"]) & set(city.no_contact)
    second = batches.make_batch(store, city.data, STAFF, AS_OF, now=DAY)
    assert second.batch_id is None  # nothing new: no empty batch
    assert second.held["duplicate"] == first.total and second.total == 0
    assert _outbox(store).height == box.height
    with store.sessions() as s:
        assert s.scalar(select(func.count()).select_from(ReminderBatch)) == 1
        actions = s.scalars(select(AuditEntry.action)).all()
    assert "reminders.batch" in actions


def test_dry_run_stores_nothing(city: City, store: Store) -> None:
    dry = batches.make_batch(store, city.data, STAFF, AS_OF, dry_run=True, now=DAY)
    assert dry.batch_id is None and dry.total > 0
    assert _outbox(store).height == 0
    real = batches.make_batch(store, city.data, STAFF, AS_OF, now=DAY)
    assert real.counts() == dry.counts()


def test_opt_outs_are_excluded(city: City, store: Store) -> None:
    dry = batches.make_batch(store, city.data, STAFF, AS_OF, dry_run=True, now=DAY)
    assert dry.held["opted_out"] == 0
    batches.make_batch(store, city.data, STAFF, dt.date(2017, 12, 20), now=DAY)
    box = _outbox(store)
    person = box.filter(pl.col("recipient_type") == "person")["recipient_key"][0]
    employer = box.filter(pl.col("recipient_type") == "employer")["recipient_key"][0]
    store2_rows = box.height
    contacts.set_opt_out(store, STAFF, "person", person, note="来电拒收")
    contacts.set_opt_out(store, STAFF, "employer", employer)
    with pytest.raises(PermissionDenied):
        contacts.set_opt_out(store, COUNTY, "person", person)
    res = batches.make_batch(store, city.data, STAFF, AS_OF, now=DAY)
    assert res.held["opted_out"] >= 2
    new = _outbox(store).filter(pl.col("batch_id") == res.batch_id)
    assert person not in set(new["recipient_key"]) and employer not in set(new["recipient_key"])
    assert _outbox(store).height > store2_rows
    contacts.set_opt_out(store, STAFF, "person", person, opted_out=False)
    again = batches.make_batch(store, city.data, STAFF, AS_OF, dry_run=True, now=DAY)
    assert again.held["opted_out"] < res.held["opted_out"]


def test_quiet_hours_set_not_before(city: City, store: Store) -> None:
    res = batches.make_batch(store, city.data, STAFF, AS_OF, now=NIGHT)
    morning = dt.datetime(2017, 12, 21, 0, 0)  # 08:00 in China
    assert res.not_before == morning
    assert set(_outbox(store)["not_before"]) == {morning}
    assert (
        batches.make_batch(store, city.data, STAFF, AS_OF, now=DAY, dry_run=True).not_before is None
    )
    cfg = NotifyConfig(quiet_start=dt.time(9, 30), quiet_end=dt.time(18, 0))
    early = dt.datetime(2017, 12, 20, 1, 0)  # 09:00 in China: before a 09:30 start
    got = batches.make_batch(store, city.data, STAFF, AS_OF, now=early, config=cfg, dry_run=True)
    assert got.not_before == dt.datetime(2017, 12, 20, 1, 30)


def test_approve_then_send(city: City, store: Store) -> None:
    res = batches.make_batch(store, city.data, STAFF, AS_OF, now=DAY)
    assert res.batch_id is not None
    with pytest.raises(StateError, match="须先批准"):
        batches.send_batch(store, city.data, STAFF, res.batch_id, now=DAY)
    with pytest.raises(PermissionDenied):
        batches.approve(store, COUNTY, res.batch_id)
    with pytest.raises(StateError, match="另一位工作人员"):
        batches.approve(store, STAFF, res.batch_id)
    batches.approve(store, CHECKER, res.batch_id)
    with pytest.raises(StateError, match="只有待审核"):
        batches.approve(store, CHECKER, res.batch_id)
    with pytest.raises(StateError, match="免打扰"):
        batches.send_batch(store, city.data, STAFF, res.batch_id, now=NIGHT)
    before = len(_lines(city))
    seen: list[tuple[int, int]] = []
    sent = batches.send_batch(
        store, city.data, STAFF, res.batch_id, now=DAY, progress=lambda i, n: seen.append((i, n))
    )
    assert (sent.sent, sent.failed, sent.waiting, sent.done) == (res.total, 0, 0, True)
    assert seen[-1] == (res.total, res.total)
    lines = _lines(city)[before:]
    box = _outbox(store)
    assert {x["out_id"] for x in lines} == set(box["idem_key"])
    assert set(box["state"]) == {"sent"}
    assert batches.get_batch(store, res.batch_id).state == "sent"


def test_not_before_holds_messages(city: City, store: Store) -> None:
    res = batches.make_batch(store, city.data, STAFF, AS_OF, now=NIGHT)
    assert res.batch_id is not None
    batches.approve(store, CHECKER, res.batch_id)
    waiting = batches.send_batch(
        store, city.data, STAFF, res.batch_id, now=DAY - dt.timedelta(hours=1)
    )
    assert (waiting.sent, waiting.waiting, waiting.done) == (0, res.total, False)
    assert batches.get_batch(store, res.batch_id).state == "approved"
    later = dt.datetime(2017, 12, 21, 2, 0)
    done = batches.send_batch(store, city.data, STAFF, res.batch_id, now=later)
    assert done.sent == res.total and done.done


def test_team_mode_sends_only_staff_numbers(city: City, store: Store) -> None:
    dry = batches.make_batch(store, city.data, STAFF, AS_OF, now=DAY, dry_run=True)
    assert dry.total > 1
    res = batches.make_batch(store, city.data, STAFF, AS_OF, now=DAY)
    assert res.batch_id is not None
    staff_phone = _outbox(store)["phone"][0]
    cfg = NotifyConfig(mode="team", team_numbers=(staff_phone,))
    # the batch's own mode picks the sender (it was made in mode test): made team here
    with store.transaction() as s:
        s.get_one(ReminderBatch, res.batch_id).mode = "team"
    batches.approve(store, CHECKER, res.batch_id)
    got = batches.send_batch(store, city.data, STAFF, res.batch_id, now=DAY, config=cfg)
    n_staff = int((_outbox(store)["phone"] == staff_phone).sum())
    assert got.sent == n_staff and got.waiting == res.total - n_staff and not got.done


def test_cancel_frees_the_keys(city: City, store: Store) -> None:
    res = batches.make_batch(store, city.data, STAFF, AS_OF, now=DAY)
    assert res.batch_id is not None
    assert batches.cancel(store, STAFF, res.batch_id) == res.total
    assert set(_outbox(store)["state"]) == {"cancelled"}
    with pytest.raises(StateError):
        batches.send_batch(store, city.data, STAFF, res.batch_id, now=DAY)
    with pytest.raises(StateError, match="不能取消"):
        batches.cancel(store, STAFF, res.batch_id)
    again = batches.make_batch(store, city.data, STAFF, AS_OF, now=DAY)
    assert again.total == res.total and again.held["duplicate"] == 0


def test_county_staff_may_not_make_batches(city: City, store: Store) -> None:
    with pytest.raises(PermissionDenied, match="没有权限"):
        batches.make_batch(store, city.data, COUNTY, AS_OF, now=DAY)


def test_a_message_another_run_holds_is_not_sent_twice(city: City, store: Store) -> None:
    res = batches.make_batch(store, city.data, STAFF, AS_OF, now=DAY)
    assert res.batch_id is not None
    batches.approve(store, CHECKER, res.batch_id)
    with store.transaction() as s:
        held = s.scalars(
            select(OutboxMessage).where(OutboxMessage.batch_id == res.batch_id)
        ).first()
        assert held is not None
        held.state, key = "sending", held.idem_key  # claimed by a concurrent send
    before = len(_lines(city))
    got = batches.send_batch(store, city.data, STAFF, res.batch_id, now=DAY)
    assert got.sent == res.total - 1
    assert key not in {x["out_id"] for x in _lines(city)[before:]}
    assert _outbox(store).filter(pl.col("idem_key") == key)["state"].item() == "sending"
