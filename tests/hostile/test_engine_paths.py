"""Odd characters in paths: SQL literals, globs, Rich markup, a data directory that is a file.

Every path reaches SQL through one helper (:func:`canbao.registry.engine.sql_path` for a path
taken as it is, :func:`~canbao.registry.engine.sql_read_path` for a file read, which DuckDB
would otherwise expand as a glob); Polars reads with ``glob=False``. A data directory and a
``$TMPDIR`` holding ``'``, spaces, ``[`` and Chinese then work from ingest to the exports, and
DuckDB's working files stay in the data directory's scratch folder.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import duckdb
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from canbao.cli import run
from canbao.errors import UsageError
from canbao.ingest import kinds
from canbao.ingest.batches import ingest_file
from canbao.registry import api, snapshot
from canbao.registry.engine import (
    DuckDBEngine,
    duckdb_connect,
    spark_read_path,
    sql_path,
    sql_read_path,
    sql_string,
)
from canbao.registry.snapshot_layers import parquet_source
from canbao.synth import generate
from canbao.warehouse import catalog
from tests.ingest.helpers import population_lines, write_csv
from tests.scopes import SYSTEM

ODD = "it's [x] 数据 a*b?c"
DECOY = "it's x 数据 aZZbQc"  # what the unescaped glob of ODD matches


def _joined(text: str) -> str:
    return text.replace("\n", "")


def test_sql_string_round_trips() -> None:
    con = duckdb.connect()

    @given(st.text(alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\0")))
    def check(text: str) -> None:
        assert con.execute(f"SELECT {sql_string(text)}").fetchone() == (text,)

    check()
    con.close()


def test_reads_take_the_path_literally_not_as_a_glob(tmp_path: Path) -> None:
    odd, decoy = tmp_path / ODD, tmp_path / DECOY
    with DuckDBEngine(data_dir=tmp_path) as eng:
        for folder, value in ((odd, 1), (decoy, 2)):
            folder.mkdir()
            eng.execute(f"CREATE OR REPLACE TABLE t AS SELECT {value} AS v")
            eng.write_parquet("t", folder / "f.parquet")  # COPY … TO the path as it is
        assert (odd / "f.parquet").is_file() and (decoy / "f.parquet").is_file()
        eng.parquet_view("one", [odd / "f.parquet"])
        assert eng.fetch("SELECT v FROM one")["v"].to_list() == [1]
        eng.parquet_view("two", [odd / "f.parquet", odd / "f.parquet"])
        assert eng.fetch("SELECT v FROM two")["v"].to_list() == [1, 1]
        assert eng.scalar(f"SELECT v FROM {parquet_source(odd / 'f.parquet')}") == 1
        # what an unescaped path would have done: read the decoy
        raw = "'" + str(odd / "f.parquet").replace("'", "''") + "'"
        assert eng.scalar(f"SELECT v FROM read_parquet({raw})") == 2
    assert sql_path(Path("rel") / "x'y") == sql_string(str(Path.cwd() / "rel" / "x'y"))
    assert sql_read_path("/a[1]*?") == "'/a[[]1][*][?]'"
    assert spark_read_path("/d[1]/{a,b}*?.parquet") == "/d\\[1\\]/\\{a,b\\}\\*\\?.parquet"


def test_duckdb_connections_have_the_memory_cap_and_private_spill(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / ODD
    data.mkdir()
    monkeypatch.setenv("CANBAO_DUCKDB_MEMORY", "300MB")
    con = duckdb_connect(data)
    limit = con.execute("SELECT current_setting('memory_limit')").fetchone()
    spill = con.execute("SELECT current_setting('temp_directory')").fetchone()
    progress = con.execute("SELECT current_setting('enable_progress_bar')").fetchone()
    con.close()
    assert limit is not None and limit[0] == "286.1 MiB"  # 300 MB
    assert spill is not None and Path(spill[0]).parent.parent == data / ".work"
    assert progress == (False,)
    for bad in ("lots", "8GB'; SELECT 1; --"):
        monkeypatch.setenv("CANBAO_DUCKDB_MEMORY", bad)
        with pytest.raises(UsageError, match="CANBAO_DUCKDB_MEMORY"):
            duckdb_connect(data)


def test_engine_work_dir_is_in_the_data_dir_and_removed(tmp_path: Path) -> None:
    eng = DuckDBEngine(data_dir=tmp_path)
    assert eng.work_dir.parent.parent == tmp_path / ".work"
    spill = eng.scalar("SELECT current_setting('temp_directory')")
    assert Path(spill).parent == eng.work_dir
    eng.read_frame("f", pl.LazyFrame({"a": [1, 2, 3]}))  # streamed through a file there
    assert eng.scalar("SELECT sum(a) FROM f") == 6
    assert list(eng.work_dir.glob("*.parquet"))
    eng.close()
    assert not eng.work_dir.exists()


def test_catalog_views_in_an_odd_data_dir(tmp_path: Path) -> None:
    data = tmp_path / ODD
    path = write_csv(tmp_path / "p.csv", population_lines())
    ingest_file(data, path, source="police", kind="population", as_of="2017-12-31")
    con = catalog.connect(data)
    assert con.execute("SELECT count(*) FROM records_population").fetchone() == (3,)
    assert con.execute("SELECT count(*) FROM quarantine_population").fetchone() == (0,)
    spill = con.execute("SELECT current_setting('temp_directory')").fetchone()
    con.close()
    assert spill is not None and Path(spill[0]).parent.parent == data / ".work"


def test_odd_data_dir_and_tmpdir_from_ingest_to_exports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    city = generate(200, 17, tmp_path / "city").parent
    data = tmp_path / f"data {ODD}"
    tmp = tmp_path / "tmp it's [t] 临时"
    out = tmp_path / "out [o] 'q'"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))
    monkeypatch.setattr(tempfile, "tempdir", None)
    dd = ["--data-dir", str(data)]
    assert run(["ingest", str(city), *dd]) == 0
    assert run(["build", *dd]) == 0
    assert run(["gaps", "--out", str(out / "gaps.xlsx"), *dd]) == 0
    assert run(["export", "coverage", "--out", str(out / "cov.csv"), *dd]) == 0
    assert run(["export", "persons", "--out", str(out / "persons.csv"), *dd]) == 0
    printed = _joined(capsys.readouterr().out)
    assert str(out / "gaps.xlsx") in printed  # paths printed as they are, [o] included
    # every accepted person-bearing record reached the registry (a glob would have lost them)
    records = sum(
        b.accepted for b in catalog.list_batches(data) if b.current and b.kind in kinds.PERSON_KINDS
    )
    snap = snapshot.require_current(data)
    assert snap.info["counts"]["person_records"] == records > 0
    assert api.persons(data, SYSTEM, reveal=True).height > 0
    cov = pl.read_csv(out / "cov.csv", glob=False)
    assert cov.height == api.persons(data, SYSTEM, reveal=True).height
    assert (out / "gaps.xlsx").stat().st_size > 0
    assert list(tmp.iterdir()) == []  # nothing in $TMPDIR
    assert [p for p in (data / ".work").iterdir() if p.is_dir() and any(p.iterdir())] == []


def test_cli_messages_are_not_read_as_markup(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    name = "g/data[12] [/x] [bold]y.csv"
    code = run(["ingest", str(tmp_path / name), "--source", "s", "--kind", "population"])
    err = _joined(capsys.readouterr().err)
    assert code == 1 and "data[12] [/x] [bold]y.csv" in err and "Traceback" not in err
    data = tmp_path / "d [red]x[/red]"
    path = write_csv(tmp_path / "p [b].csv", population_lines())
    assert (
        run(["ingest", str(path), "--source", "s", "--kind", "population", "--data-dir", str(data)])
        == 0
    )
    assert run(["batches", "--data-dir", str(data)]) == 0
    out = _joined(capsys.readouterr().out)
    assert "d [red]x[/red]" in out and "p [b].csv" in out


@pytest.mark.parametrize(
    "args",
    [
        ["build"],
        ["gaps", "--out", "{tmp}/g.xlsx"],
        ["batches"],
        ["ingest", "{tmp}/p.csv", "--source", "s", "--kind", "population"],
        ["ingest", "{tmp}"],
        ["export", "persons", "--out", "{tmp}/p.csv"],
        ["export", "coverage", "--out", "{tmp}/c.csv"],
        ["review", "list"],
        ["review", "decide", "x", "same"],
    ],
)
def test_data_dir_that_is_a_file(
    args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_csv(tmp_path / "p.csv", population_lines())
    (tmp_path / "manifest.json").write_text('{"files": []}', encoding="utf-8")
    file = tmp_path / "data"
    file.write_text("not a directory")
    argv = [a.replace("{tmp}", str(tmp_path)) for a in args] + ["--data-dir", str(file)]
    assert run(argv) == 1
    err = _joined(capsys.readouterr().err)
    assert "不是目录" in err and "Traceback" not in err
    assert file.read_text() == "not a directory"
