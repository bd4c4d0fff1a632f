"""One writer at a time: the data directory's writer lock, and what killed writers leave behind.

Unit tests of :mod:`canbao.warehouse.lock` (another writer is simulated by a second open file
description of the lock file, which ``flock`` treats as another holder), then the CLI: a writer
fails with the Chinese message while another process holds the lock, readers keep working, and
two first builds started together give one build equal to a single build.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

from canbao.cli import run
from canbao.errors import StateError, UsageError
from canbao.ingest.api import ingest_manifest
from canbao.registry import api, decisions, snapshot
from canbao.synth import generate
from canbao.warehouse import lock
from canbao.warehouse.datadir import DataLayout
from tests.scopes import SYSTEM

BUSY = "正在使用数据目录"
RETRY = "请等待其完成后重试"


def _other_holder(data: Path) -> int:
    """Take the lock as another writer would (a separate open file description)."""
    data.mkdir(parents=True, exist_ok=True)
    fd = os.open(data / ".lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    os.write(fd, b'{"pid": 4242, "task": "build"}')
    return fd


def test_second_writer_fails_fast_with_the_holders_task(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(lock.WAIT_ENV, raising=False)
    fd = _other_holder(tmp_path)
    try:
        started = time.monotonic()
        with pytest.raises(lock.DataDirBusy) as err, lock.writer_lock(tmp_path, "ingest"):
            pass
        assert time.monotonic() - started < 1.0
        assert BUSY in err.value.message_zh and RETRY in err.value.message_zh
        assert "构建登记库，进程 4242" in err.value.message_zh
        assert err.value.exit_code == 1
    finally:
        os.close(fd)
    with lock.writer_lock(tmp_path, "ingest"):  # released: free again
        assert lock.holds_lock(tmp_path)
    assert not lock.holds_lock(tmp_path)


def test_wait_for_the_other_writer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fd = _other_holder(tmp_path)
    threading.Timer(0.3, os.close, (fd,)).start()
    monkeypatch.setenv(lock.WAIT_ENV, "10")
    started = time.monotonic()
    with lock.writer_lock(tmp_path, "build"):
        assert 0.2 < time.monotonic() - started < 5
    fd = _other_holder(tmp_path)
    try:
        with pytest.raises(lock.DataDirBusy, match="已等待 0.2 秒"):
            with lock.writer_lock(tmp_path, "build", wait=0.2):
                pass
    finally:
        os.close(fd)
    monkeypatch.setenv(lock.WAIT_ENV, "soon")
    with pytest.raises(UsageError, match=lock.WAIT_ENV):
        with lock.writer_lock(tmp_path, "build"):
            pass


def test_reentrant_in_a_thread_exclusive_across_threads(tmp_path: Path) -> None:
    seen: list[BaseException | None] = []

    def other() -> None:
        try:
            with lock.writer_lock(tmp_path, "ingest", wait=0):
                seen.append(None)
        except lock.DataDirBusy as e:
            seen.append(e)

    with lock.writer_lock(tmp_path, "build"), lock.writer_lock(tmp_path, "ingest"):
        t = threading.Thread(target=other)
        t.start()
        t.join()
        assert lock.holds_lock(tmp_path)
    assert isinstance(seen[0], lock.DataDirBusy)
    assert (tmp_path / ".lock").read_text() == ""  # holder info cleared on release


def test_decorated_writers_take_the_lock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(lock.WAIT_ENV, raising=False)
    calls: list[bool] = []

    @lock.writes_data_dir("decide")
    def write(x: int, data_dir: Path) -> int:
        calls.append(lock.holds_lock(data_dir))
        return x + 1

    assert write(1, data_dir=tmp_path) == 2 and calls == [True]
    fd = _other_holder(tmp_path)
    try:
        with pytest.raises(lock.DataDirBusy):
            write(1, tmp_path)
    finally:
        os.close(fd)
    assert calls == [True]


def test_data_dir_that_is_a_file(tmp_path: Path) -> None:
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(StateError, match="不是目录"), lock.writer_lock(f, "build"):
        pass
    with pytest.raises(StateError, match="无法在数据目录"), lock.writer_lock(f / "sub", "build"):
        pass


def test_next_writer_removes_leftovers_and_dead_scratch(tmp_path: Path) -> None:
    layout = DataLayout(tmp_path)
    stale_dirs = [
        layout.batches / ".tmp-0123456789ab",
        layout.registry / "snapshots" / ".tmp-20250101T000000-abcdef",
        layout.registry / "cache" / "v1" / ".tmp-batch-1-0123",
    ]
    stale_files = [
        layout.registry / "model" / ".tmp-model.json",
        layout.registry / "CURRENT.tmp",
        layout.profiles / "src.json.tmp",
        tmp_path / "plans" / ".plan-x.json",
    ]
    kept = [
        layout.batches / "b1" / "batch.json",
        layout.registry / "snapshots" / "20250101T000000-abcdef" / "build.json",
        layout.registry / "cache" / "v1" / "batch-1" / "part-00000.parquet",
        layout.registry / "model" / "model.json",
        layout.registry / "CURRENT",
        tmp_path / "plans" / "p.json",
    ]
    for d in stale_dirs:
        d.mkdir(parents=True)
        (d / "part.parquet").write_text("x")
    for f in [*stale_files, *kept]:
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text("x")
    stale = [*stale_dirs, *stale_files]
    # scratch: a dead process's folder (owner file not locked), a folder without owner file,
    # and a live one (owner locked by another open file description)
    work = layout.work
    work.mkdir()
    (work / "111-dead").mkdir()
    (work / "111-dead" / "spill.tmp").write_text("personal data")
    (work / "111-dead.owner").write_text("")
    (work / "222-orphan").mkdir()
    live = lock.work_dir(tmp_path, "duckdb-")
    (live / "sink.parquet").write_text("in use")
    with lock.writer_lock(tmp_path, "build"):
        pass
    for p in stale:
        assert not p.exists(), p
    for p in kept:
        assert p.exists(), p
    assert sorted(p.name for p in work.iterdir() if p.is_dir()) == [live.parent.name]
    assert (live / "sink.parquet").exists()


def test_scratch_folder_goes_with_its_process(tmp_path: Path) -> None:
    code = (
        "import sys; from pathlib import Path; from canbao.warehouse import lock;"
        "p = lock.work_dir(Path(sys.argv[1]), 'x-'); (p / 'f').write_text('x'); print(p)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=True
    )
    made = Path(out.stdout.strip())
    assert made.parent.parent == tmp_path / ".work"
    assert not made.exists() and list((tmp_path / ".work").iterdir()) == []


# -- the CLI -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(200, 21, tmp_path_factory.mktemp("lock-city") / "city").parent


@pytest.fixture(scope="module")
def ingested(city: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("lock-ingested")
    for _f, res in ingest_manifest(data, city):
        assert not isinstance(res, Exception), res
    return data


@pytest.fixture(scope="module")
def built(ingested: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A single build of the ingested city (the reference)."""
    data = tmp_path_factory.mktemp("lock-built") / "data"
    shutil.copytree(ingested, data)
    api.build(data)
    return data


@pytest.fixture
def held(built: Path) -> Iterator[int]:
    """Another process holds the writer lock of ``built`` (as a running build does)."""
    code = (
        "import sys; from pathlib import Path; from canbao.warehouse.lock import writer_lock\n"
        "with writer_lock(Path(sys.argv[1]), 'build'):\n"
        "    print('held', flush=True); sys.stdin.read()\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(built)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    try:
        yield proc.pid
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=30)


def share_secret(src: Path, dst: Path) -> None:
    """Person keys are keyed with a secret of each data directory: compared ones share it."""
    for f in (src / "registry").glob("*.secret"):
        (dst / "registry").mkdir(parents=True, exist_ok=True)
        shutil.copy2(f, dst / "registry" / f.name)


def _joined(text: str) -> str:
    """Terminal output without the line breaks Rich wraps long lines at."""
    return text.replace("\n", "")


def tables(data: Path) -> dict[str, pl.DataFrame]:
    snap = snapshot.require_current(data)
    out = {}
    for t in ("links", "persons", "nodes", "pairs", "review_items", "employers", "enrollments"):
        frame = snap.scan(t).collect()
        scalar = [c for c, d in frame.schema.items() if not isinstance(d, pl.List | pl.Struct)]
        out[t] = frame.sort(scalar)
    return out


def test_writers_wait_readers_work_while_a_build_runs(
    built: Path,
    held: int,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(lock.WAIT_ENV, raising=False)
    before = snapshot.require_current(built).build_id
    dd = ["--data-dir", str(built)]
    # writers: the Chinese message naming the running task, exit code 1, no traceback
    assert run(["build", *dd]) == 1
    err = _joined(capsys.readouterr().err)
    assert BUSY in err and RETRY in err and f"进程 {held}" in err and "Traceback" not in err
    one = tmp_path / "one.csv"
    one.write_text("姓名,公民身份号码\n", encoding="utf-8")
    code = run(["ingest", str(one), "--source", "s", "--kind", "population", *dd])
    assert code == 1 and BUSY in _joined(capsys.readouterr().err)
    # a review decision goes to the store, not the data directory: kept while a build runs
    decisions.record(built, "left", "right", "same")
    assert decisions.load(built).filter(pl.col("left_key") == "left").height == 1
    # readers: the published snapshot and batches
    assert run(["batches", "--json", *dd]) == 0
    assert '"batch_id"' in capsys.readouterr().out
    out = tmp_path / "persons.parquet"
    assert run(["export", "persons", "--out", str(out), *dd]) == 0
    assert pl.read_parquet(out).sort("person_key").equals(api.persons(built, SYSTEM, reveal=True))
    assert run(["gaps", "--out", str(tmp_path / "gaps.xlsx"), *dd]) == 0
    assert (tmp_path / "gaps.xlsx").stat().st_size > 0
    capsys.readouterr()
    assert snapshot.require_current(built).build_id == before
    assert lock.DataDirBusy.code == "busy"


def test_two_first_builds_at_once(ingested: Path, built: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(ingested, data)
    share_secret(built, data)
    env = {**os.environ, "TMPDIR": str(tmp_path), lock.WAIT_ENV: "0"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "canbao", "build", "--data-dir", str(data)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(2)
    ]
    results = [(p.wait(timeout=300), *p.communicate()) for p in procs]
    codes = sorted(code for code, _out, _err in results)
    assert codes == [0, 1], [err[-2000:] for _c, _o, err in results]
    loser = _joined(next(err for code, _out, err in results if code == 1))
    assert BUSY in loser and RETRY in loser and "Traceback" not in loser
    assert len(list((data / "registry" / "snapshots").iterdir())) == 1
    got, want = tables(data), tables(built)
    for t in want:
        assert got[t].equals(want[t]), t
    assert list(DataLayout(data).leftovers()) == []
    assert list((data / ".work").iterdir()) == []
