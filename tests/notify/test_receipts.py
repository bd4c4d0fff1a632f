"""Delivery receipts of both providers in one vocabulary, reconciled to the outbox by
provider id or out id; unknown and unreadable receipts reported, never fatal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from canbao.cli import run
from canbao.notify import receipts
from canbao.notify.outbox import send_now
from canbao.store.db import Store
from canbao.store.models import OutboxMessage


def _queue(store: Store, data: Path, key: str) -> OutboxMessage:
    return send_now(
        store, data, idem_key=key, reason="otp", recipient_type="person", recipient_key=key,
        phone="13900003333", template="otp_login", params={"code": "1", "minutes": "5"},
    )  # fmt: skip


def _states(store: Store) -> dict[str, tuple[str, str]]:
    with store.sessions() as s:
        rows = s.execute(select(OutboxMessage.idem_key, OutboxMessage.state, OutboxMessage.error))
        return {k: (st, e) for k, st, e in rows}


def test_aliyun_and_tencent_receipts(store: Store, tmp_path: Path) -> None:
    a, b, c, d = (_queue(store, tmp_path, k) for k in ("k-a", "k-b", "k-c", "k-d"))
    doc = [
        {"phone_number": "13900003333", "send_time": "2017-12-20 10:00:00",
         "report_time": "2017-12-20 10:00:05", "success": True, "err_code": "DELIVERED",
         "err_msg": "用户接收成功", "sms_size": "1", "biz_id": a.provider_id, "out_id": "k-a"},
        {"phone_number": "13900003333", "success": False, "err_code": "MK:0001",
         "biz_id": "", "out_id": "k-b"},  # matched by out_id
        {"user_receive_time": "2017-12-20 10:00:09", "nationcode": "86", "mobile": "13900003333",
         "report_status": "SUCCESS", "errmsg": "DELIVRD", "description": "用户短信送达成功",
         "sid": c.provider_id},
        {"mobile": "13900003333", "report_status": "FAIL", "errmsg": "MN:0017",
         "description": "空号", "sid": d.provider_id},
        {"report_status": "SUCCESS", "sid": "no-such-serial"},
        {"hello": "world"},
        "not a receipt",
    ]  # fmt: skip
    found, bad = receipts.parse(doc)
    assert [r.provider for r in found] == ["aliyun", "aliyun", "tencent", "tencent", "tencent"]
    assert bad == [6, 7]
    res = receipts.reconcile(store, found)
    assert (res.delivered, res.failed, res.unknown) == (2, 2, ["no-such-serial"])
    states = _states(store)
    assert states["k-a"] == ("delivered", "") and states["k-c"] == ("delivered", "")
    assert states["k-b"] == ("failed", "MK:0001") and states["k-d"] == ("failed", "MN:0017")
    with store.sessions() as s:
        at = s.scalar(select(OutboxMessage.delivered_at).where(OutboxMessage.idem_key == "k-a"))
    assert str(at) == "2017-12-20 02:00:05"  # China time → naive UTC


def test_receipts_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from canbao.store import open_store

    store = open_store(tmp_path)
    try:
        row = _queue(store, tmp_path, "k-cli")
    finally:
        store.dispose()
    f = tmp_path / "report.json"
    f.write_text(json.dumps([
        {"success": "true", "err_code": "DELIVERED", "biz_id": row.provider_id, "out_id": "k-cli"},
        {"success": "true", "err_code": "DELIVERED", "biz_id": "zzz", "out_id": "unknown-key"},
    ]), encoding="utf-8")  # fmt: skip
    assert run(["remind", "receipts", str(f), "--data-dir", str(tmp_path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out == {"delivered": 1, "failed": 0, "unknown": ["zzz"], "unreadable": []}
    (tmp_path / "bad.json").write_text("{", encoding="utf-8")
    assert run(["remind", "receipts", str(tmp_path / "bad.json"), "--data-dir", str(tmp_path)]) == 1
    assert "不是有效的 JSON" in capsys.readouterr().err
