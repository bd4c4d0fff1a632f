"""The ID index beside a snapshot: the master persons sorted by citizen ID in small row groups.

A look-up by ID (:func:`canbao.registry.api.person`, the web's search) reads the Parquet footer,
skips every row group whose min/max statistics exclude the ID and reads one group of
:data:`ROW_GROUP` rows: a few milliseconds on a city of millions, where a scan of ``persons``
takes hundreds. Written by :func:`canbao.registry.snapshot.publish` for every build (hard-linked
from the previous build when ``persons`` is reused); a snapshot without one (an older build) is
read by a scan of ``persons``.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from canbao.registry.snapshot_layers import link_or_copy

FILE = "persons_by_id.parquet"
ROW_GROUP = 8192


def write(persons: pl.LazyFrame, snapshot_dir: Path) -> Path | None:
    """Write the index of ``persons`` (every row with an ID, sorted by it) into the snapshot's
    directory; a temporary name first, so a crash never leaves a half-written index. None (no
    index) for a table without IDs."""
    if "id18" not in persons.collect_schema().names():
        return None
    out = snapshot_dir / FILE
    tmp = out.with_suffix(".tmp")
    (
        persons.filter(pl.col("id18").is_not_null())
        .sort("id18")
        .collect()
        .write_parquet(tmp, row_group_size=ROW_GROUP, statistics=True)
    )
    tmp.replace(out)
    return out


def reuse(prev_dir: Path, snapshot_dir: Path) -> bool:
    """Link the previous build's index (its persons are unchanged); False when it has none."""
    src = prev_dir / FILE
    if not src.exists():
        return False
    link_or_copy(src, snapshot_dir / FILE)
    return True


def find(snapshot_dir: Path, persons: pl.LazyFrame, id18: str) -> pl.DataFrame:
    """The persons with this (normalised, 18-character) ID: through the index when the
    snapshot has one, else by a scan of ``persons``."""
    path = snapshot_dir / FILE
    source = pl.scan_parquet(path, glob=False) if path.exists() else persons
    return source.filter(pl.col("id18") == id18).collect()
