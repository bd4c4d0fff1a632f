"""Merge-on-read ("layered") snapshot tables.

A big table ``T`` with key columns ``K`` (:data:`LAYERED`) may be stored in a snapshot as three
files: ``T.parquet`` (the base, hard-linked from build to build), ``T.delta.parquet`` (rows added
since the base, cumulative) and ``T.gone.parquet`` (the ``K`` columns of base keys that no longer
hold, cumulative). The table's rows are the base rows whose key is not gone, then the delta rows.
An incremental build thus writes only what changed; once the delta outgrows
:data:`COMPACT_SHARE` of the base, the merged table is written in full as the new base.

The SQL here is DuckDB's dialect and also runs on Spark through :mod:`canbao.registry.engine`.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import pyarrow.parquet as pq

from canbao.errors import StateError
from canbao.registry.engine import Engine, sql_read_path

# key columns of the tables that may be layered
LAYERED: dict[str, tuple[str, ...]] = {
    "links": ("rec_key",),
    "node_members": ("rec_key",),
    "nodes": ("node_id",),
    "pairs": ("node_id_l", "node_id_r"),
    "persons": ("person_key",),
    "id_anchor": ("id18",),
    "b_cluster": ("node_id",),
    "enrollments": ("batch_id", "row"),
    "employer_links": ("batch_id", "row"),
    "id_corrections": ("batch_id", "row"),
}
# a delta larger than this share of the base is folded into a new base (compaction)
COMPACT_SHARE = 0.2


def layer_files(folder: Path, table: str) -> dict[str, Path]:
    return {
        "base": folder / f"{table}.parquet",
        "delta": folder / f"{table}.delta.parquet",
        "gone": folder / f"{table}.gone.parquet",
    }


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def parquet_source(path: Path) -> str:
    return f"read_parquet({sql_read_path(path.resolve())})"


def columns_of(path: Path) -> list[str]:
    """The column names of a Parquet file (its footer only)."""
    return list(pq.read_schema(path).names)


def merged_sql(
    base: str, delta: str, gone: str, keys: Sequence[str], columns: Sequence[str]
) -> str:
    """SELECT of the merged rows; ``base``/``delta``/``gone`` are FROM sources (table names or
    ``read_parquet(…)``). Base rows whose key is gone are dropped (anti-join on every key
    column, written as NOT EXISTS: a hash anti join on both engines), then delta rows follow."""
    match = " AND ".join(f"g.{quote(k)} = b.{quote(k)}" for k in keys)
    from_base = ", ".join(f"b.{quote(c)}" for c in columns)
    from_delta = ", ".join(quote(c) for c in columns)
    return (
        f"SELECT {from_base} FROM {base} AS b "
        f"WHERE NOT EXISTS (SELECT 1 FROM {gone} AS g WHERE {match}) "
        f"UNION ALL SELECT {from_delta} FROM {delta}"
    )


def link_or_copy(src: Path, dst: Path) -> None:
    """Hard-link ``src`` to ``dst`` (snapshots share unchanged files); copy where the file
    system cannot link."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def publish_changes(
    eng: Engine, table: str, prev_dir: Path, prev_entry: dict[str, int] | None, out_dir: Path
) -> dict[str, int] | None:
    """Write ``table`` into ``out_dir`` from the previous snapshot's layers plus the engine's
    ``{table}__rows`` (current rows of every changed or new key) and ``{table}__gone`` (keys whose
    rows changed or disappeared). Returns the build.json ``layers`` entry, or None when the
    table is written plain (unchanged, or compacted into a new base)."""
    keys = LAYERED[table]
    prev = layer_files(prev_dir, table)
    out = layer_files(out_dir, table)
    rows, gone_in = f"{table}__rows", f"{table}__gone"
    if not prev["base"].exists():  # nothing to layer on: the changed rows are the table
        eng.write_parquet(rows, out["base"])
        return None
    columns = columns_of(prev["base"])
    have = list(eng.fetch(f"SELECT * FROM {rows} LIMIT 0").columns)
    if sorted(have) != sorted(columns):
        raise StateError(
            f"登记库表 {table} 的列与上一版本不同，无法增量发布，请全量重建（canbao build --full）",
            f"columns of {table}__rows {sorted(have)} differ from the previous snapshot's "
            f"{sorted(columns)}: rebuild in full",
        )
    layered = prev_entry is not None
    p_base, p_delta, p_gone = (f"{table}__prev_{x}" for x in ("base", "delta", "gone"))
    n_delta, n_gone, d_new, g_new = f"{table}__new_delta", f"{table}__new_gone", "", ""
    eng.parquet_view(p_base, [prev["base"]])
    key_list = ", ".join(quote(k) for k in keys)
    col_list = ", ".join(quote(c) for c in columns)
    match = " AND ".join(f"g.{quote(k)} = d.{quote(k)}" for k in keys)
    if layered:
        eng.parquet_view(p_delta, [prev["delta"]])
        eng.parquet_view(p_gone, [prev["gone"]])
        g_new = f"SELECT {key_list} FROM {p_gone} UNION ALL "
        d_new = (
            f"SELECT {col_list} FROM {p_delta} AS d "
            f"WHERE NOT EXISTS (SELECT 1 FROM {gone_in} AS g WHERE {match}) UNION ALL "
        )
    eng.execute(
        f"CREATE OR REPLACE TABLE {n_gone} AS SELECT DISTINCT {key_list} "
        f"FROM ({g_new}SELECT {key_list} FROM {gone_in}) AS u"
    )
    eng.execute(f"CREATE OR REPLACE TABLE {n_delta} AS {d_new}SELECT {col_list} FROM {rows}")
    n_base = (
        int(prev_entry["base"])
        if prev_entry is not None
        else int(eng.scalar(f"SELECT count(*) FROM {p_base}"))
    )
    entry = {
        "delta": int(eng.scalar(f"SELECT count(*) FROM {n_delta}")),
        "gone": int(eng.scalar(f"SELECT count(*) FROM {n_gone}")),
        "base": n_base,
    }
    result: dict[str, int] | None = entry
    if entry["delta"] > COMPACT_SHARE * n_base:
        merged = f"{table}__merged"
        eng.create_view(merged, merged_sql(p_base, n_delta, n_gone, keys, columns))
        eng.write_parquet(merged, out["base"])
        eng.drop(merged)
        result = None
    elif entry["delta"] == 0 and entry["gone"] == 0:
        link_or_copy(prev["base"], out["base"])
        result = None
    else:
        link_or_copy(prev["base"], out["base"])
        eng.write_parquet(n_delta, out["delta"])
        eng.write_parquet(n_gone, out["gone"])
    eng.drop(n_delta, n_gone, p_base, p_delta, p_gone)
    return result
