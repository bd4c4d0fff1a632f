"""CLI contract: canbao build / review / export on files ingested one by one (no manifest)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from canbao.cli import run
from canbao.ingest import manifest
from tests.registry.city import make_city


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    city = make_city(tmp_path_factory.mktemp("cli-city"), persons=1500, seed=5)
    data = tmp_path_factory.mktemp("cli-data")
    for f in manifest.load(city).files:  # one by one, as a user would without a manifest
        args = ["ingest", str(f.path), "--source", f.source, "--kind", f.kind]
        args += ["--data-dir", str(data)]
        if f.scheme:
            args += ["--scheme", f.scheme]
        if f.as_of:
            args += ["--as-of", f.as_of]
        if f.encoding:
            args += ["--encoding", f.encoding]
        assert run(args) == 0, f.path
    return data


def test_build_and_export_links(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["build", "--data-dir", str(data)]) == 0
    out = tmp_path / "links.csv"
    assert run(["export", "links", "--out", str(out), "--data-dir", str(data)]) == 0
    links = pl.read_csv(out, infer_schema_length=0)
    assert links.columns == ["source", "row", "person_key"]
    assert links["person_key"].null_count() == 0
    for kind in ("persons", "employers"):
        path = tmp_path / f"{kind}.xlsx"
        assert run(["export", kind, "--out", str(path), "--data-dir", str(data)]) == 0
        assert path.stat().st_size > 0
    captured = capsys.readouterr()
    assert "登记库已更新" in captured.out


def test_second_build_is_incremental(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["build", "--data-dir", str(data)]) == 0
    assert "增量" in capsys.readouterr().out


def test_review_list_and_bad_decision(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["review", "list", "--data-dir", str(data)]) == 0
    out = capsys.readouterr().out
    assert "复核" in out
    assert run(["review", "decide", "nope", "same", "--data-dir", str(data)]) == 1
    assert "复核队列中没有编号" in capsys.readouterr().err
    assert run(["review", "decide", "nope", "maybe", "--data-dir", str(data)]) != 0


def test_export_errors(data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = run(["export", "persons", "--out", str(tmp_path / "x.txt"), "--data-dir", str(data)])
    assert code == 2 and "不支持的导出格式" in capsys.readouterr().err
    empty = tmp_path / "empty"
    code = run(["export", "links", "--out", str(tmp_path / "l.csv"), "--data-dir", str(empty)])
    assert code == 1 and "canbao build" in capsys.readouterr().err


def test_every_export_is_an_audit_log_entry(data: Path, tmp_path: Path) -> None:
    from canbao.store import audit_log, open_store

    dd = ["--data-dir", str(data)]
    assert run(["export", "persons", "--out", str(tmp_path / "p.parquet"), *dd]) == 0
    assert run(["export", "employers", "--out", str(tmp_path / "e.csv"), *dd]) == 0
    assert run(["gaps", "--kind", "deceased", "--out", str(tmp_path / "g.xlsx"), *dd]) == 0
    store = open_store(data)
    logged = {e.object_type: e for e in reversed(audit_log.entries(store, action="export"))}
    assert {"persons", "employers", "gaps"} <= set(logged)
    persons = logged["persons"]
    assert persons.object_keys == ["p.parquet"] and "id18" in persons.fields
    assert persons.detail["rows"] == pl.read_parquet(tmp_path / "p.parquet").height
    assert logged["employers"].fields == [] and persons.actor.startswith("system:")
    assert audit_log.verify(store)[1] == []
    store.dispose()
