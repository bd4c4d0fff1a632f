"""Backup and restore: the round trip on SQLite and PostgreSQL (and across them), a tampered
backup refused, a non-empty store protected, the registry pointer restored only when its
snapshot is there."""

from __future__ import annotations

import datetime as dt
import json
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import select

from canbao.cli import run
from canbao.collection import agreements, dunning
from canbao.errors import DataError, StateError
from canbao.registry import decisions
from canbao.store import Actor, Store, accounts, audit_log, open_store
from canbao.store.backup import backup, restore
from canbao.store.models import ReviewDecision, User
from tests.scopes import SYSTEM
from tests.store.conftest import url_for

ADMIN = Actor("root_admin", "admin")


def populate(store: Store, data: Path) -> None:
    accounts.add_user(store, ADMIN, "li_si", "county_staff", "Xiangmu2017ok", ["360402"])
    accounts.add_key(store, ADMIN, "tax_bureau")
    decisions.record(data, "B:1", "A:2", "same", "同一人，见户籍", store=store)
    # collection state (dates, money, schedules): a dunning case and an instalment agreement
    employer = dunning.Employer("E:1", "某某建材有限公司", "91360400MA35XXXX0X", "360402")
    case = dunning.start(store, ADMIN, SYSTEM, employer, ["employee_pension"], 1_234_56,
                         on=dt.date(2017, 3, 1), note="欠缴两个月")  # fmt: skip
    agreements.propose(store, ADMIN, SYSTEM, employer, ["employee_pension"], "instalment",
                       1_234_56, guarantee_note="法定代表人担保", instalments=3,
                       first_due=dt.date(2017, 4, 30), case_id=case.id)  # fmt: skip
    (data / "registry" / "snapshots" / "b1").mkdir(parents=True)
    (data / "registry" / "CURRENT").write_text("b1", encoding="utf-8")
    (data / "region-profile.json").write_text('{"name": "jiujiang"}', encoding="utf-8")


def snapshot_of(store: Store) -> tuple[list[tuple[str, str]], list[object], int]:
    with store.sessions() as s:
        users = [(u.name, u.password_hash) for u in s.execute(select(User)).scalars()]
        dec: list[object] = [
            (d.left_key, d.decided_by) for d in s.execute(select(ReviewDecision)).scalars()
        ]
    dec += [
        (c.state, c.amount_fen, [(x.kind, x.taken_on, x.note) for x in c.steps])
        for c in dunning.cases(store, SYSTEM)
    ]
    dec += [
        (a.status, a.principal_fen, [(i.due_date, i.amount_fen) for i in a.instalments])
        for a in agreements.agreements(store, SYSTEM)
    ]
    return users, dec, audit_log.head(store)[0]


@pytest.mark.parametrize("target", ["sqlite", "postgresql"])
def test_round_trip(backend: str, target: str, tmp_path: Path) -> None:
    src_dir, dst_dir = tmp_path / "src", tmp_path / "dst"
    src_dir.mkdir(), dst_dir.mkdir()
    src = open_store(src_dir, url_for(backend, src_dir), upgrade=True)
    populate(src, src_dir)
    before = snapshot_of(src)
    assert len(before[1]) == 3  # a decision, a dunning case, an agreement
    summary = backup(src, src_dir, tmp_path / "b.zip")
    assert summary.rows["users"] == 1 and summary.rows["review_decisions"] == 1
    assert set(summary.files) == {"registry/CURRENT", "region-profile.json"}
    src.dispose()
    dst_url = url_for(target, dst_dir)  # resets PostgreSQL when the target is it
    dst = open_store(dst_dir, dst_url, upgrade=True)
    (dst_dir / "registry" / "snapshots" / "b1").mkdir(parents=True)
    result = restore(dst, tmp_path / "b.zip", dst_dir)
    assert result.skipped == [] and (dst_dir / "registry" / "CURRENT").read_text() == "b1"
    users, dec, head = snapshot_of(dst)
    assert (users, dec) == before[:2] and head == before[2] + 1  # + the restore entry
    assert audit_log.verify(dst)[1] == []
    # the restored accounts work, and new rows get fresh ids
    assert accounts.authenticate(dst, "li_si", "Xiangmu2017ok").counties == ("360402",)
    accounts.add_user(dst, ADMIN, "wang", "leader", "Another2017pw")
    # a second restore into the now non-empty store needs --replace
    with pytest.raises(StateError, match="--replace"):
        restore(dst, tmp_path / "b.zip", dst_dir)
    restore(dst, tmp_path / "b.zip", dst_dir, replace=True)
    assert snapshot_of(dst)[0] == before[0]
    dst.dispose()


def test_a_tampered_backup_is_refused(store: Store, tmp_path: Path) -> None:
    populate(store, tmp_path)
    good = tmp_path / "b.zip"
    backup(store, tmp_path, good)
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(good) as zin, zipfile.ZipFile(bad, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item)
            if item.filename == "tables/audit_log.jsonl":
                rows = [json.loads(x) for x in data.decode().split("\n")]
                rows[0]["actor"] = "nobody"
                data = "\n".join(json.dumps(r, ensure_ascii=False) for r in rows).encode()
            zout.writestr(item, data)
    target = tmp_path / "other"
    target.mkdir()
    other = open_store(target)
    with pytest.raises(DataError, match="审计日志校验未通过"):
        restore(other, bad, target)
    other.dispose()


def test_the_pointer_waits_for_its_snapshot(store: Store, tmp_path: Path) -> None:
    populate(store, tmp_path)
    backup(store, tmp_path, tmp_path / "b.zip")
    target = tmp_path / "fresh"
    target.mkdir()
    other = open_store(target)
    result = restore(other, tmp_path / "b.zip", target)
    assert not (target / "registry" / "CURRENT").exists()
    assert any("快照 b1 不在数据目录中" in s for s in result.skipped)
    assert (target / "region-profile.json").exists()
    other.dispose()


def test_cli_backup_and_restore(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src, dst = tmp_path / "a", tmp_path / "b"
    src.mkdir()
    store = open_store(src)
    populate(store, src)
    store.dispose()
    assert run(["backup", "--out", str(tmp_path / "b.zip"), "--data-dir", str(src)]) == 0
    assert run(["restore", str(tmp_path / "b.zip"), "--data-dir", str(dst)]) == 0
    out = capsys.readouterr().out
    assert "审计日志校验通过" in out and "快照 b1" in out
    assert run(["restore", str(tmp_path / "missing.zip"), "--data-dir", str(dst)]) == 1
    assert "无法读取备份文件" in capsys.readouterr().err
