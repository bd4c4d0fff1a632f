"""``outbox.send_now`` (the self-service one-time codes) keeps its behaviour: sent at once,
idempotent by key, no quiet hours, no opt-out, the file sender's JSON line fields."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import func, select

from canbao.notify import contacts
from canbao.notify.outbox import send_now
from canbao.notify.senders import sent_file
from canbao.store.db import Store
from canbao.store.models import OutboxMessage
from tests.notify.conftest import STAFF


def _send(store: Store, data: Path, key: str) -> OutboxMessage:
    return send_now(
        store, data, idem_key=key, reason="otp", recipient_type="person",
        recipient_key="P1", phone="13900002222", template="otp_login",
        params={"code": "123456", "minutes": "5"}, county_code="360424",
    )  # fmt: skip


def test_send_now_sends_once_and_writes_the_line(store: Store, tmp_path: Path) -> None:
    contacts.set_opt_out(store, STAFF, "person", "P1")  # a refusal of reminders: codes still go
    row = _send(store, tmp_path, "otp:abc")
    assert (row.state, row.mode, row.provider) == ("sent", "test", "file")
    assert row.provider_id and row.sent_at is not None and row.county_code == "360424"
    again = _send(store, tmp_path, "otp:abc")
    assert again.id == row.id and again.provider_id == row.provider_id
    lines = [json.loads(x) for x in sent_file(tmp_path).read_text("utf-8").splitlines()]
    assert len(lines) == 1
    assert set(lines[0]) >= {"out_id", "phone", "template", "params", "provider_id"}
    assert lines[0]["out_id"] == "otp:abc" and lines[0]["provider_id"] == row.provider_id
    assert lines[0]["params"] == {"code": "123456", "minutes": "5"}
    with store.sessions() as s:
        assert s.scalar(select(func.count()).select_from(OutboxMessage)) == 1
