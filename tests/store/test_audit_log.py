"""The audit log's chain: an edited, deleted or cut-off entry is found; concurrent writers on
PostgreSQL keep the numbering gapless and the chain whole."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import text

from canbao.cli import run
from canbao.store import Store, audit_log, open_store
from canbao.store.audit_log import Event
from tests.store.conftest import PG_URL, reset_pg, url_for


def fill(store: Store, n: int = 10) -> None:
    for i in range(n):
        audit_log.log(store, Event("li_si", "county_staff", "person.reveal", "person",
                                   (f"P{i:04d}",), ("id18", "phone"), "10.0.0.8"))  # fmt: skip


def kinds(store: Store) -> list[str]:
    return [p.kind for p in audit_log.verify(store)[1]]


def test_an_untouched_log_verifies(store: Store) -> None:
    fill(store)
    checked, problems = audit_log.verify(store, batch=3)  # across batch boundaries
    assert (checked, problems) == (10, [])
    assert audit_log.head(store)[0] == 10
    e = audit_log.entries(store, limit=1)[0]
    assert (e.id, e.fields, e.object_keys) == (10, ["id18", "phone"], ["P0009"])


def test_an_edited_entry_is_found(store: Store) -> None:
    fill(store)
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET actor = 'someone' WHERE id = 4"))
    problems = audit_log.verify(store)[1]
    assert [(p.entry, p.kind) for p in problems] == [(4, "edited")]
    assert "第 4 条" in problems[0].message_zh


def test_a_deleted_entry_is_found(store: Store) -> None:
    fill(store)
    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE id = 6"))
    assert kinds(store) == ["missing", "broken_link"]


def test_a_cut_tail_is_found(store: Store) -> None:
    fill(store)
    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE id >= 9"))
    assert kinds(store) == ["head"]


def test_a_rehashed_forgery_breaks_the_link(store: Store) -> None:
    """Editing an entry and recomputing its own hash still breaks the next entry's link."""
    fill(store)
    with store.sessions() as s:
        e = s.get(audit_log.AuditEntry, 3)
        assert e is not None
        e.fields = []
        e.hash = audit_log._digest(e)
        s.commit()
    assert kinds(store) == ["broken_link"]


def test_cli_verify_and_show(
    backend: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = url_for(backend, tmp_path)
    store = open_store(tmp_path, url, upgrade=True)
    fill(store, 3)
    db = ["--database-url", url, "--data-dir", str(tmp_path)]
    assert run(["audit-log", "verify", *db]) == 0
    assert "校验通过：共 3 条" in capsys.readouterr().out
    assert run(["audit-log", "show", "--user", "li_si", "--since", "2020-01-01", *db]) == 0
    assert run(["audit-log", "show", "--since", "yesterday", *db]) == 2
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET client = 'x' WHERE id = 2"))
    capsys.readouterr()
    assert run(["audit-log", "verify", *db]) == 1
    assert "第 2 条日志内容被改动" in capsys.readouterr().out
    store.dispose()


def test_concurrent_writers_on_postgresql(tmp_path: Path) -> None:
    reset_pg()
    stores = [open_store(tmp_path, PG_URL, upgrade=True)]
    stores += [open_store(tmp_path, PG_URL) for _ in range(3)]
    errors: list[BaseException] = []

    def write(store: Store, who: str) -> None:
        try:
            for i in range(40):
                audit_log.log(store, Event(who, "city_staff", "export", "list", (str(i),)))
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=write, args=(s, f"u{i}")) for i, s in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert audit_log.verify(stores[0]) == (160, [])
    with stores[0].engine.connect() as conn:
        ids = [r[0] for r in conn.execute(text("SELECT id FROM audit_log ORDER BY id"))]
    assert ids == list(range(1, 161))
    for s in stores:
        s.dispose()


def test_group_commit_shares_transactions_and_keeps_each_callers_entries(store: Store) -> None:
    """Eight threads log through one store's group-commit writer: every caller gets the numbers
    of its own entries (in its order, adjacent when logged together), the numbering is gapless,
    the chain verifies, and fewer transactions than entries were committed; a caller whose
    entry cannot be stored gets the error, the others are not affected."""
    commits = {"n": 0}
    original = store.transaction

    def counting():  # type: ignore[no-untyped-def]
        commits["n"] += 1
        return original()

    store.transaction = counting  # type: ignore[method-assign]
    got: dict[str, list[list[int]]] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def write(who: str) -> None:
        start.wait()
        try:
            for i in range(25):
                pair = (Event(who, "city_staff", "export", "list", (f"{i}a",)),
                        Event(who, "city_staff", "export", "list", (f"{i}b",)))  # fmt: skip
                got.setdefault(who, []).append(audit_log.log(store, *pair))
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=write, args=(f"u{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert audit_log.verify(store) == (400, [])
    for who, calls in got.items():
        assert all(b == a + 1 for a, b in calls), who  # a caller's two entries stay together
        flat = [x for c in calls for x in c]
        assert flat == sorted(flat), who  # and in the order it logged them
    with store.sessions() as s:
        rows = s.execute(text("SELECT id, actor, object_keys FROM audit_log ORDER BY id")).all()
    owner = {i: who for who, calls in got.items() for c in calls for i in c}
    assert [r[0] for r in rows] == list(range(1, 401))
    assert all(owner[r[0]] == r[1] for r in rows)
    assert commits["n"] < 200, commits  # 200 calls: some shared a transaction
    bad = Event("u9", "city_staff", "export", "list", ("x",), detail={"oops": {1, 2}})
    with pytest.raises(TypeError):
        audit_log.log(store, bad)
    assert audit_log.log(store, Event("u9", "city_staff", "export", "list", ("y",))) == [401]
    assert audit_log.verify(store) == (401, [])
