"""Crash harness: ``canbao ingest`` and ``canbao build`` killed (SIGKILL) at random points.

A small synthetic city is ingested and built twice: undisturbed, in a process of its own (the
reference), and in subprocesses that are killed at seeded random points — when the k-th batch
appears, while a batch or a snapshot is being written, while the derivation cache fills or the
model trains, or after a random delay. After every kill the published state must be intact
(every listed batch complete, the current snapshot readable and equal to the last good one);
the next undisturbed run must remove what the killed ones left (``.tmp-*`` folders, scratch
folders with personal data) and produce exactly the reference's batches and tables. Nothing may
be left in ``$TMPDIR`` or in the working directory.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

from canbao.ingest.api import ingest_file, ingest_manifest
from canbao.registry import api, snapshot
from canbao.synth import generate
from canbao.synth.month import new_enrolment_extract
from canbao.warehouse import catalog
from canbao.warehouse.datadir import DataLayout

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SEED = int(os.environ.get("CANBAO_CRASH_SEED", "20240614"))
TABLES = ("links", "persons", "nodes", "pairs", "review_items", "employers", "enrollments")

Tables = dict[str, pl.DataFrame]
Ready = Callable[[], bool]


def tables(data: Path) -> Tables | None:
    """The current snapshot's tables (None before the first build)."""
    snap = snapshot.current(data)
    return None if snap is None else snapshot_tables(snap)


def snapshot_tables(snap: snapshot.Snapshot) -> Tables:
    """A snapshot's tables in a canonical order."""
    out = {}
    for t in TABLES:
        frame = snap.scan(t).collect()
        scalar = [c for c, d in frame.schema.items() if not isinstance(d, pl.List | pl.Struct)]
        out[t] = frame.sort(scalar)
    return out


def same(a: Tables | None, b: Tables | None) -> bool:
    if a is None or b is None:
        return a is b
    return all(a[t].equals(b[t]) for t in TABLES)


def batches(data: Path) -> dict[str, int]:
    """Listed batches and their accepted rows; each must be complete and readable."""
    out = {}
    layout = DataLayout(data)
    for b in catalog.list_batches(data):
        folder = layout.batch(b.batch_id)
        for name in ("records.parquet", "quarantine.parquet", "report.json", "report.xlsx"):
            assert (folder / name).is_file(), (b.batch_id, name)
        assert pl.scan_parquet(folder / "records.parquet").select(pl.len()).collect().item() == (
            b.accepted
        )
        out[b.batch_id] = b.accepted
    return out


class Harness:
    def __init__(self, root: Path, data: Path) -> None:
        self.data = data
        self.tmp = root / "tmpdir"
        self.cwd = root / "cwd"
        self.tmp.mkdir()
        self.cwd.mkdir()
        self.env = {**os.environ, "TMPDIR": str(self.tmp), "CANBAO_LOCK_WAIT": "0"}
        self.killed = 0
        self.leftovers: set[Path] = set()  # what killed runs left behind

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "canbao", *args, "--data-dir", str(self.data)],
            cwd=self.cwd,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def run(self, *args: str) -> None:
        proc = self.start(*args)
        _out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err.decode("utf-8", "replace")[-3000:]

    def kill_when(self, args: tuple[str, ...], ready: Ready, delay: float) -> bool:
        """Run ``canbao args`` and SIGKILL it ``delay`` seconds after ``ready()`` holds; False
        when it finished first (then it must have succeeded)."""
        proc = self.start(*args)
        deadline = time.monotonic() + 300
        while not ready() and proc.poll() is None:
            assert time.monotonic() < deadline, "no kill point reached"
            time.sleep(0.002)
        time.sleep(delay)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            self.killed += 1
            layout = DataLayout(self.data)
            self.leftovers |= set(layout.leftovers())
            self.leftovers |= set(layout.work.iterdir()) if layout.work.is_dir() else set()
            return True
        assert proc.returncode == 0, proc.communicate()[1].decode("utf-8", "replace")[-3000:]
        return False

    def assert_clean(self) -> None:
        """Nothing a killed run left behind survives the next run."""
        assert [p for p in self.leftovers if p.exists()] == []
        assert list(DataLayout(self.data).leftovers()) == []
        work = DataLayout(self.data).work
        assert not work.exists() or list(work.iterdir()) == []
        assert list(self.tmp.iterdir()) == []
        assert list(self.cwd.iterdir()) == []


def next_month(city: Path, data: Path, files: Path) -> None:
    """5 % of residents newly in resident medical insurance (an incremental update)."""
    extract = new_enrolment_extract(city, files / "jumin_yibao_2018_01.csv", share=0.05)
    ingest_file(
        data, extract, source="si_resident_medical_m2", kind="enrollment",
        scheme="resident_medical", as_of="2018-01-31",
    )  # fmt: skip


def share_secret(src: Path, dst: Path) -> None:
    """Person keys are keyed with a secret of each data directory: compared ones share it."""
    for f in (src / "registry").glob("*.secret"):
        (dst / "registry").mkdir(parents=True, exist_ok=True)
        shutil.copy2(f, dst / "registry" / f.name)


def appeared(folder: Path, pattern: str, at_least: int = 1) -> Ready:
    return lambda: folder.is_dir() and len(list(folder.glob(pattern))) >= at_least


def after(seconds: float) -> Ready:
    """Ready ``seconds`` after its first call (the process's start)."""
    start: list[float] = []

    def ready() -> bool:
        start.append(time.monotonic())
        return start[-1] - start[0] >= seconds

    return ready


def reference(city: str, data: str, month2: str) -> None:
    """The undisturbed run (in its own process, alongside the killed ingests): prints the
    batches after the first ingest and the first build's id as JSON."""
    for _f, res in ingest_manifest(Path(data), Path(city)):
        assert not isinstance(res, Exception), res
    first = batches(Path(data))
    build_id = api.build(Path(data)).build_id
    next_month(Path(city), Path(data), Path(month2))
    api.build(Path(data))
    sys.stdout.write(json.dumps({"batches": first, "first": build_id}) + "\n")


def test_killed_ingest_and_build_leave_the_last_good_state(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    city = generate(200, 31, tmp_path / "city").parent
    month2 = tmp_path / "month2"

    # the reference: undisturbed, in a process of its own while the ingests below are killed
    ref_data = tmp_path / "reference"
    (tmp_path / "refcwd").mkdir()
    ref = subprocess.Popen(
        [sys.executable, "-c", f"from {__name__} import reference; import sys; "
         "reference(*sys.argv[1:])", str(city), str(ref_data), str(month2)],
        cwd=tmp_path / "refcwd",
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )  # fmt: skip

    data = tmp_path / "data"
    h = Harness(tmp_path, data)
    layout = DataLayout(data)
    snaps = layout.registry / "snapshots"
    ingest = ("ingest", str(city))
    build = ("build",)

    # 1. ingest killed: when the k-th batch is complete, while a batch is written, at random
    kill_points = [
        (appeared(layout.batches, "*/batch.json", rng.randint(1, 8)), 0.0),
        (appeared(layout.batches, ".tmp-*"), rng.uniform(0, 0.05)),
        (after(rng.uniform(1.5, 2.5)), 0.0),
    ]
    seen: list[dict[str, int]] = []
    for ready, delay in kill_points:
        h.kill_when(ingest, ready, delay)
        seen.append(batches(data))  # each listed batch complete
    assert h.killed >= 2
    h.run(*ingest)
    out, err = ref.communicate(timeout=300)
    assert ref.returncode == 0, err.decode("utf-8", "replace")[-3000:]
    done = json.loads(out.decode().strip().splitlines()[-1])
    ref_batches: dict[str, int] = done["batches"]
    for got in seen:
        assert got.items() <= ref_batches.items()
    assert batches(data) == ref_batches
    h.assert_clean()
    ref1 = snapshot_tables(snapshot.load(ref_data, done["first"]))
    ref2 = tables(ref_data)
    assert ref2 is not None and not same(ref1, ref2)

    share_secret(ref_data, data)

    # 2. the first build killed while deriving records and while training the model
    cache = layout.registry / "cache"
    h.killed = 0
    kill_points = [
        (appeared(cache, "*/[!.]*", rng.randint(1, 3)), 0.0),
        (appeared(layout.registry, "model"), rng.uniform(0, 0.3)),
    ]
    for ready, delay in kill_points:
        h.kill_when(build, ready, delay)
        assert snapshot.current(data) is None
    assert h.killed == 2
    h.run(*build)
    assert same(tables(data), ref1)
    h.assert_clean()

    # 3. the next month's incremental build killed while publishing, and at random: the
    # month-1 snapshot stays current (or the month-2 one is complete)
    next_month(city, data, month2)
    assert batches(data) == batches(ref_data)
    h.killed = 0
    for ready, delay in [
        (appeared(snaps, ".tmp-*"), rng.uniform(0, 0.05)),
        (after(rng.uniform(1.5, 3.0)), 0.0),
    ]:
        h.kill_when(build, ready, delay)
        got = tables(data)
        assert same(got, ref1) or same(got, ref2)
    assert h.killed >= 1
    h.run(*build)
    assert same(tables(data), ref2)
    h.assert_clean()
    # the kills did leave work behind (killed builds' scratch folders at least), now gone
    assert any(p.parent == layout.work for p in h.leftovers)
