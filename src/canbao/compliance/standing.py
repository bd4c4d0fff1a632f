"""The standing index: one row per employer credit code of the current registry build — what the
compliance API answers from the data (the live parts come from the store per request:
:mod:`canbao.compliance.live`).

Columns: ``credit_code``, ``employer_key``, ``employer_name``, ``registered`` (the social-insurance
employer registry knows the employer: ``si_registered``), ``schemes`` (the schemes of its ledger
rows), ``arrears_band`` (the band of its arrears principal, :mod:`canbao.compliance.bands`; the
amount itself is not kept), ``oldest_period`` and ``months_in_arrears`` (distinct contribution
periods with arrears). Arrears are what :func:`canbao.collection.api.compliance_in` counts: ledger
rows with a positive balance past their due date (``balance > 0 AND days_past_due > 0``).

**Where it comes from.** The ledger ``canbao build`` publishes beside the snapshot
(``DATA/ledger/<build>/ledger.parquet``, :mod:`canbao.collection.published`) when it is of the
current build; otherwise the ledger is computed city-wide once, in an engine session at the data's
as-of date. Either way the index is made set-based (Polars group-by and join) once per build,
written to ``DATA/compliance/<build>/standing.parquet`` (atomically, with ``standing.json``: build,
as-of date, source) so other worker processes and restarts read it instead, and held in memory
as a dict by credit code: a look-up is a hash probe. A credit code held by two master employers
(not expected: the registry links by credit code) answers with the smallest ``employer_key``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import polars as pl

from canbao.collection import published
from canbao.compliance.bands import band_expr
from canbao.errors import StateError
from canbao.registry import snapshot
from canbao.warehouse.scope import Scope

FORMAT = 1
DIR = "compliance"
SYSTEM = Scope.system("compliance API: the standing index of a build")
COLUMNS = (
    "credit_code", "employer_key", "employer_name", "county_code", "registered", "schemes",
    "arrears_band", "oldest_period", "months_in_arrears",
)  # fmt: skip


class Entry(NamedTuple):
    """One employer's standing from the data (no amount: its band)."""

    credit_code: str
    employer_key: str
    employer_name: str
    county_code: str | None
    registered: bool
    schemes: tuple[str, ...]
    arrears_band: str
    oldest_period: str | None
    months_in_arrears: int


@dataclass(frozen=True)
class Index:
    build_id: str
    as_of: dt.date
    source: str  # published | computed
    entries: dict[str, Entry]

    def get(self, credit_code: str) -> Entry | None:
        return self.entries.get(credit_code)


def _ledger_rows(data_dir: Path, build_id: str) -> tuple[pl.LazyFrame, dt.date, str]:
    """(employer_key, scheme, period, balance, days_past_due) of the build's ledger, its as-of
    date and where it came from."""
    base = published.root(data_dir)
    pointer = base / "CURRENT"
    if pointer.exists() and pointer.read_text(encoding="utf-8").strip() == build_id:
        meta = json.loads((base / build_id / "published.json").read_text(encoding="utf-8"))
        frame = published.scan(base / build_id)
        if "known" in frame.collect_schema().names():
            frame = frame.filter(pl.col("known"))
        cols = frame.select("employer_key", "scheme", "period", "balance", "days_past_due")
        return cols, dt.date.fromisoformat(meta["as_of"]), "published"
    day = published.data_as_of(data_dir)
    if day is None:
        raise StateError(
            "尚未导入申报、缴费或欠费数据，无法回答单位缴费情况",
            "no payment, declaration or arrears extract: no ledger",
        )
    from canbao.collection.ledger import build_ledger_at, ledger_policy
    from canbao.coverage.api import session

    with session(data_dir, SYSTEM, day) as s:
        s.ensure("ledger", lambda x: build_ledger_at(x, x.as_of, "ledger", ledger_policy(x), None))
        got = s.frame("SELECT employer_key, scheme, period, balance, days_past_due FROM ledger")
    return got.lazy(), day, "computed"


def compute(data_dir: Path, snap: snapshot.Snapshot) -> tuple[pl.DataFrame, dt.date, str]:
    """The index's rows (:data:`COLUMNS`), the as-of date and the ledger's source."""
    rows, as_of, source = _ledger_rows(data_dir, snap.build_id)
    owed = (pl.col("balance") > 0) & (pl.col("days_past_due") > 0)
    per = rows.group_by("employer_key").agg(
        schemes=pl.col("scheme").unique().sort(),
        arrears_fen=pl.col("balance").filter(owed).sum(),
        oldest_period=pl.col("period").filter(owed).min(),
        months_in_arrears=pl.col("period").filter(owed).n_unique().cast(pl.Int32),
    )
    employers = (
        snap.scan("employers")
        .filter(pl.col("credit_code").is_not_null() & (pl.col("credit_code") != ""))
        .select(
            "credit_code",
            "employer_key",
            pl.col("name").alias("employer_name"),
            "county_code",
            pl.col("si_registered").fill_null(False).alias("registered"),
        )  # fmt: skip
        .sort("credit_code", "employer_key")
        .unique("credit_code", keep="first", maintain_order=True)
    )
    out = (
        employers.join(per, on="employer_key", how="left")
        .with_columns(
            schemes=pl.col("schemes").fill_null(pl.lit([], dtype=pl.List(pl.Utf8))),
            arrears_band=band_expr("arrears_fen"),
            months_in_arrears=pl.col("months_in_arrears").fill_null(0),
        )
        .select(COLUMNS)
        .collect()
    )
    return out, as_of, source


def _folder(data_dir: Path, build_id: str) -> Path:
    return data_dir / DIR / build_id


def _read(folder: Path) -> tuple[pl.DataFrame, dt.date, str] | None:
    meta_path = folder / "standing.json"
    if not meta_path.exists():
        return None
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    if meta.get("format") != FORMAT:
        return None
    frame = pl.read_parquet(folder / "standing.parquet")
    return frame, dt.date.fromisoformat(meta["as_of"]), str(meta["source"])


def _write(folder: Path, frame: pl.DataFrame, as_of: dt.date, source: str) -> None:
    tmp = folder.with_name(f".tmp-{folder.name}-{uuid.uuid4().hex[:8]}")
    tmp.mkdir(parents=True)
    frame.write_parquet(tmp / "standing.parquet")
    meta = {"format": FORMAT, "build_id": folder.name, "as_of": as_of.isoformat(),
            "source": source, "rows": frame.height}  # fmt: skip
    (tmp / "standing.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    try:
        os.replace(tmp, folder)
    except OSError:  # another process published it first: theirs holds the same rows
        shutil.rmtree(tmp, ignore_errors=True)
    for old in folder.parent.iterdir():  # older builds' indexes
        if old.name != folder.name and not old.name.startswith(".tmp-"):
            shutil.rmtree(old, ignore_errors=True)


def to_index(build_id: str, frame: pl.DataFrame, as_of: dt.date, source: str) -> Index:
    entries = {
        r[0]: Entry(r[0], r[1], r[2] or "", r[3], bool(r[4]), tuple(r[5] or ()), r[6], r[7],
                    int(r[8] or 0))
        for r in frame.select(COLUMNS).iter_rows()
    }  # fmt: skip
    return Index(build_id, as_of, source, entries)


def load(data_dir: Path) -> Index:
    """The current build's index: read from its folder, else computed and written."""
    snap = snapshot.require_current(data_dir)
    folder = _folder(data_dir, snap.build_id)
    found = _read(folder)
    if found is None:
        found = compute(data_dir, snap)
        _write(folder, *found)
    return to_index(snap.build_id, *found)


class Standings:
    """The index of each data directory's current build, held by one process (made once per
    build under a lock; a new build replaces it)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[Path, Index] = {}

    def ready(self, data_dir: Path) -> bool:
        """True when the current build's index is held (a look-up will not make it)."""
        snap = snapshot.current(data_dir)
        held = self._held.get(data_dir)
        return snap is not None and held is not None and held.build_id == snap.build_id

    def current(self, data_dir: Path) -> Index:
        snap = snapshot.require_current(data_dir)
        held = self._held.get(data_dir)
        if held is not None and held.build_id == snap.build_id:
            return held
        with self._lock:
            held = self._held.get(data_dir)
            if held is None or held.build_id != snap.build_id:
                held = load(data_dir)
                self._held[data_dir] = held
            return held


STANDINGS = Standings()
