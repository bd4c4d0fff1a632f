"""The ledger published with each build: ``canbao build`` computes the contribution ledger at
the data's as-of date (the newest payment, declaration or opening-arrears extract) and keeps it
beside the registry snapshot, so the ledger export, the web's employer pages and other per-request
reads at that date read a file instead of recomputing a city's ledger.

Layout: ``DATA/ledger/<build_id>/ledger.parquet`` (the columns of
:func:`canbao.collection.api.ledger`, the whole city) and ``published.json`` (build, as-of date,
rows, seconds, the digest of the approved deferrals it applied); ``DATA/ledger/CURRENT`` names
the newest, replaced atomically. A published ledger is used only when it is of the current
registry build, of the date asked for, under the default policy, and the approved deferrals in
the store are still those it applied; otherwise the ledger is computed as before.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from canbao.collection import agreements
from canbao.ingest import api as ingest_api
from canbao.registry import snapshot
from canbao.store import open_store
from canbao.warehouse.scope import Scope

PUBLISH = Scope.system("canbao build: the ledger at the data's as-of date")
KINDS = ("payment", "declaration", "arrears")


@dataclass(frozen=True)
class Published:
    build_id: str
    as_of: dt.date
    rows: int
    seconds: float
    path: Path


def root(data_dir: Path) -> Path:
    return data_dir / "ledger"


def data_as_of(data_dir: Path) -> dt.date | None:
    """The as-of date of the newest current payment, declaration or arrears batch."""
    days = [b.as_of for k in KINDS for b in ingest_api.current_batches(data_dir, k)]
    return max(days) if days else None


def deferrals_digest(data_dir: Path) -> str:
    """A digest of the approved deferrals in the store (what the ledger's late fees depend on
    besides the data)."""
    store = open_store(data_dir)
    try:
        found = agreements.deferrals(store, PUBLISH)
    finally:
        store.dispose()
    text = json.dumps(
        sorted((d.employer_key, d.scheme, list(d.periods), str(d.start), str(d.end)) for d in found)
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def publish(
    data_dir: Path, *, engine: str | None = None, spark_master: str | None = None
) -> Published | None:
    """Compute and publish the ledger of the current build at the data's as-of date; None when
    the data hold no payment, declaration or arrears extract."""
    from canbao.collection import api

    day = data_as_of(data_dir)
    if day is None:
        return None
    build_id = snapshot.require_current(data_dir).build_id
    t0 = time.perf_counter()
    digest = deferrals_digest(data_dir)
    frame = api.ledger(data_dir, PUBLISH, day, engine=engine, spark_master=spark_master)
    seconds = round(time.perf_counter() - t0, 2)
    base = root(data_dir)
    tmp, final = base / f".tmp-{build_id}", base / build_id
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    frame.write_parquet(tmp / "ledger.parquet")
    meta = {"build_id": build_id, "as_of": day.isoformat(), "rows": frame.height,
            "seconds": seconds, "deferrals": digest}  # fmt: skip
    (tmp / "published.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    pointer = base / "CURRENT"
    pointer.with_suffix(".tmp").write_text(build_id, encoding="utf-8")
    os.replace(pointer.with_suffix(".tmp"), pointer)
    return Published(build_id, day, frame.height, seconds, final / "ledger.parquet")


def read(data_dir: Path, scope: Scope, as_of: dt.date) -> pl.DataFrame | None:
    """The published ledger in ``scope`` when it answers ``as_of`` for the current build (see
    the module docstring), else None."""
    pointer = root(data_dir) / "CURRENT"
    current = snapshot.current(data_dir)
    if not pointer.exists() or current is None:
        return None
    build_id = pointer.read_text(encoding="utf-8").strip()
    meta_path = root(data_dir) / build_id / "published.json"
    if build_id != current.build_id or not meta_path.exists():
        return None
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    if meta["as_of"] != as_of.isoformat() or meta["deferrals"] != deferrals_digest(data_dir):
        return None
    frame = pl.scan_parquet(meta_path.parent / "ledger.parquet", glob=False)
    return scope.lazy(frame, "county_code").collect()
