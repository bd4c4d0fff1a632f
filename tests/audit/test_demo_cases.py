"""The audit-case demo step on a small synthetic city (after the collection step, as ``canbao
demo`` runs it): the two documents under OUT/audit/ and the finding in the ledger — the month's
due and balance up by the finding, its late fee up too."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from canbao.audit.demo_cases import run_audit_cases_demo
from canbao.collection.demo import run_collection_demo
from canbao.registry import api as registry
from tests.registry.city import ingest, make_city


def test_the_demo_step(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CANBAO_DATABASE_URL", raising=False)  # the demo's own store in OUT/data
    city = make_city(tmp_path, persons=600, seed=29)
    ingest(city, tmp_path / "data")
    registry.build(tmp_path / "data")
    run_collection_demo(tmp_path)
    where = run_audit_cases_demo(tmp_path)
    assert len(where) == 3 and all(Path(v).is_file() for v in where.values())
    assert all(Path(v).parent == tmp_path / "audit" for v in where.values())
    summary = json.loads((tmp_path / "audit" / "ledger_assessment.json").read_text("utf-8"))
    before, after, n = summary["ledger_before"], summary["ledger_after"], summary["finding_fen"]
    assert n == 150_000 * 2700 // 10_000
    assert int(after["due"]) == int(before["due"]) + n
    assert int(after["balance"]) == int(before["balance"]) + n
    assert int(after["late_fee"]) > int(before["late_fee"])
    assert summary["concluded"] <= summary["opinion_due"]
