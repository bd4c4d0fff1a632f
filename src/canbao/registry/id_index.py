"""The ID index beside a snapshot: the master persons sorted by citizen ID in small row groups.

A look-up by ID (:func:`canbao.registry.api.person`, the web's search) reads the Parquet footer,
skips every row group whose min/max statistics exclude the ID and reads one group of
:data:`ROW_GROUP` rows: a few milliseconds on a city of millions, where a scan of ``persons``
takes hundreds.

The index follows the layers of ``persons`` (:mod:`canbao.registry.snapshot_layers`):

- ``persons_by_id.parquet`` indexes the ``persons`` base. An incremental build that layers
  ``persons`` hard-links it from the previous build (the base is the same file), instead of
  sorting every person again;
- ``persons_by_id.delta.parquet`` (only beside a layered ``persons``) indexes its delta rows;
  the base's rows whose ``person_key`` is in ``persons.gone.parquet`` no longer hold.

A look-up is then the base's row group, less the gone keys, plus the delta's row group. A
snapshot written before the index was layered has no delta index, and its
``persons_by_id.parquet`` indexes the whole table; one without an index is read by a scan of
``persons``. Written by :func:`canbao.registry.snapshot.publish` (:func:`publish`).
"""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl

from canbao.registry.snapshot_layers import layer_files, link_or_copy

FILE = "persons_by_id.parquet"
DELTA_FILE = "persons_by_id.delta.parquet"
ROW_GROUP = 8192


def write(persons: pl.LazyFrame, out: Path) -> Path | None:
    """Write the index of ``persons`` (every row with an ID, sorted by it) to ``out``; a
    temporary name first, so a crash never leaves a half-written index. None (no index) for a
    table without IDs."""
    if "id18" not in persons.collect_schema().names():
        return None
    tmp = out.with_suffix(".tmp")
    (
        persons.filter(pl.col("id18").is_not_null())
        .sort("id18")
        .collect()
        .write_parquet(tmp, row_group_size=ROW_GROUP, statistics=True)
    )
    tmp.replace(out)
    return out


def _indexes_base(snapshot_dir: Path) -> bool:
    """The snapshot's index is exactly the index of its ``persons`` base: it has a delta
    index, or ``persons`` is not layered there."""
    return (snapshot_dir / FILE).exists() and (
        (snapshot_dir / DELTA_FILE).exists()
        or not layer_files(snapshot_dir, "persons")["delta"].exists()
    )


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def publish(snapshot_dir: Path, prev_dir: Path | None, *, reused: bool, layered: bool) -> None:
    """Write the index of the ``persons`` table already in ``snapshot_dir``.

    ``reused``: ``persons`` is the previous build's (its index files are linked);
    ``layered``: ``persons`` is stored as base + delta + gone. The base's index is linked from
    the previous build when that base is the same file (hard-linked) and the previous index is
    the base's; else it is written (a full build, a compaction). A delta index is written for
    a layered table (its delta is small: at most a fifth of the base)."""
    if reused and prev_dir is not None and (prev_dir / FILE).exists():
        for name in (FILE, DELTA_FILE):
            if (prev_dir / name).exists():
                link_or_copy(prev_dir / name, snapshot_dir / name)
        return
    files = layer_files(snapshot_dir, "persons")
    if not files["base"].exists():
        return
    prev_base = layer_files(prev_dir, "persons")["base"] if prev_dir is not None else None
    if (
        prev_dir is not None
        and prev_base is not None
        and _indexes_base(prev_dir)
        and _same_file(prev_base, files["base"])
    ):
        link_or_copy(prev_dir / FILE, snapshot_dir / FILE)
    elif write(pl.scan_parquet(files["base"], glob=False), snapshot_dir / FILE) is None:
        return
    if layered:
        write(pl.scan_parquet(files["delta"], glob=False), snapshot_dir / DELTA_FILE)


def current_rows(snapshot_dir: Path, base_rows: pl.DataFrame, id18: str) -> pl.DataFrame:
    """The persons with this ID, from the rows the base index holds for it (read by the
    caller): the rows of gone keys dropped and the delta index's rows added, when the index is
    layered."""
    delta = snapshot_dir / DELTA_FILE
    if not delta.exists():
        return base_rows
    gone = layer_files(snapshot_dir, "persons")["gone"]
    if base_rows.height and gone.exists():
        dropped = (
            pl.scan_parquet(gone, glob=False)
            .filter(pl.col("person_key").is_in(base_rows["person_key"].implode()))
            .collect()["person_key"]
        )
        base_rows = base_rows.filter(~pl.col("person_key").is_in(dropped.implode()))
    added = pl.scan_parquet(delta, glob=False).filter(pl.col("id18") == id18).collect()
    return pl.concat([base_rows, added.select(base_rows.columns)], how="vertical_relaxed")


def find(snapshot_dir: Path, persons: pl.LazyFrame, id18: str) -> pl.DataFrame:
    """The persons with this (normalised, 18-character) ID: through the index when the
    snapshot has one, else by a scan of ``persons``."""
    path = snapshot_dir / FILE
    if not path.exists():
        return persons.filter(pl.col("id18") == id18).collect()
    base_rows = pl.scan_parquet(path, glob=False).filter(pl.col("id18") == id18).collect()
    return current_rows(snapshot_dir, base_rows, id18)
