"""The batch catalog: one ``batch.json`` per batch directory (written last, inside the temporary
directory that is renamed into place, so a listed batch is always complete).

Which batches are *current*: for each (source, kind, scheme), the batches with the latest as-of
date. Among those, a later ingest of a file with the same name replaces the earlier one (a
corrected re-delivery); files with different names at the same as-of are parts of one delivery
and are all current. Superseded batches stay on disk for history.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from canbao.warehouse.datadir import DataLayout, require_dir
from canbao.warehouse.sql import duckdb_connect, sql_read_path


@dataclass
class BatchInfo:
    batch_id: str
    source: str
    kind: str
    scheme: str | None
    as_of: dt.date
    file_name: str
    file_path: str
    sha256: str
    format: str
    rows: int
    accepted: int
    quarantined: int
    warned: int
    ingested_at: str
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    header_row: int = 0
    mapping: dict[str, str] = field(default_factory=dict)
    as_of_given: bool = True  # False: no --as-of was given, the as-of date is the ingest date
    # a re-delivery: its difference with the batches it superseded when ingested
    # (canbao.ingest.redelivery.Changes.to_json); None when it superseded none
    changes: dict[str, Any] | None = None
    # what its rows' normalisation depended on (canbao.ingest.reuse.context): a later
    # re-delivery of the same context reuses the normalised values of unchanged rows
    norm_context: str | None = None
    superseded_by: str | None = None  # filled when listing

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["as_of"] = self.as_of.isoformat()
        d.pop("superseded_by")
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> BatchInfo:
        d = dict(d)
        d["as_of"] = dt.date.fromisoformat(d["as_of"])
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in d.items() if k in known})

    @property
    def current(self) -> bool:
        return self.superseded_by is None


def _resolve(batches: list[BatchInfo]) -> list[BatchInfo]:
    groups: dict[tuple[str, str, str | None], list[BatchInfo]] = {}
    for b in batches:
        groups.setdefault((b.source, b.kind, b.scheme), []).append(b)
    for members in groups.values():
        latest = max(b.as_of for b in members)
        newest_by_file: dict[str, BatchInfo] = {}
        for b in sorted(members, key=lambda b: b.ingested_at):
            if b.as_of == latest:
                newest_by_file[b.file_name] = b
        heads = list(newest_by_file.values())
        for b in members:
            if b in heads:
                b.superseded_by = None
            elif b.as_of == latest:
                b.superseded_by = newest_by_file[b.file_name].batch_id
            else:
                b.superseded_by = heads[-1].batch_id if heads else None
    return batches


def list_batches(root: Path) -> list[BatchInfo]:
    require_dir(root)
    layout = DataLayout(root)
    out: list[BatchInfo] = []
    if not layout.batches.is_dir():
        return out
    for meta in sorted(layout.batches.glob("*/batch.json")):
        if meta.parent.name.startswith("."):
            continue
        out.append(BatchInfo.from_json(json.loads(meta.read_text(encoding="utf-8"))))
    out.sort(key=lambda b: (b.ingested_at, b.batch_id))
    return _resolve(out)


def would_supersede(
    root: Path, source: str, kind: str, scheme: str | None, as_of: dt.date, file_name: str
) -> list[BatchInfo] | None:
    """The current batches a new batch with these fields would supersede (by the rules of
    :func:`_resolve`), or None when the new batch would not itself be current (an as-of date
    older than the group's latest)."""
    heads = [
        b
        for b in list_batches(root)
        if b.current and (b.source, b.kind, b.scheme) == (source, kind, scheme)
    ]
    if not heads:
        return []
    latest = max(b.as_of for b in heads)
    if as_of < latest:
        return None
    if as_of > latest:
        return heads
    return [b for b in heads if b.file_name == file_name]


def find(root: Path, sha256: str, source: str) -> BatchInfo | None:
    for b in list_batches(root):
        if b.sha256 == sha256 and b.source == source:
            return b
    return None


def batches_frame(batches: list[BatchInfo]) -> pl.DataFrame:
    schema = {
        "batch_id": pl.Utf8, "source": pl.Utf8, "kind": pl.Utf8, "scheme": pl.Utf8,
        "as_of": pl.Date, "file_name": pl.Utf8, "sha256": pl.Utf8, "format": pl.Utf8,
        "rows": pl.Int64, "accepted": pl.Int64, "quarantined": pl.Int64, "warned": pl.Int64,
        "ingested_at": pl.Utf8, "as_of_given": pl.Boolean, "current": pl.Boolean,
        "superseded_by": pl.Utf8,
    }  # fmt: skip
    rows = [
        {k: getattr(b, k) for k in schema if k != "current"} | {"current": b.current}
        for b in batches
    ]
    return pl.DataFrame(rows, schema=schema)


def connect(root: Path, database: str = ":memory:") -> duckdb.DuckDBPyConnection:
    """A DuckDB connection (:func:`canbao.registry.engine.duckdb_connect`: memory cap, spill
    files in the data directory's scratch folder) with the views of :func:`add_views`."""
    con = duckdb_connect(root, database)
    try:
        add_views(con, root)
    except BaseException:
        con.close()
        raise
    return con


def add_views(con: duckdb.DuckDBPyConnection, root: Path) -> None:
    """Views over the data directory: ``batches`` and, per kind with current batches,
    ``records_<kind>`` and ``quarantine_<kind>`` (current batches only)."""
    batches = list_batches(root)
    frame = batches_frame(batches)
    con.register("batches_frame", frame.to_arrow())
    con.execute("CREATE OR REPLACE VIEW batches AS SELECT * FROM batches_frame")
    layout = DataLayout(root)
    for kind in sorted({b.kind for b in batches if b.current}):
        current = [layout.batch(b.batch_id) for b in batches if b.current and b.kind == kind]
        records = ", ".join(sql_read_path(d / "records.parquet") for d in current)
        quarantine = ", ".join(sql_read_path(d / "quarantine.parquet") for d in current)
        con.execute(
            f"CREATE OR REPLACE VIEW records_{kind} AS "
            f"SELECT * FROM read_parquet([{records}], union_by_name = true)"
        )
        con.execute(
            f"CREATE OR REPLACE VIEW quarantine_{kind} AS SELECT batch_id, source, kind, scheme, "
            f"as_of, row, reason, reason_zh, original "
            f"FROM read_parquet([{quarantine}], union_by_name = true)"
        )
