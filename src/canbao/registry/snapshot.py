"""Build snapshots: each build is written to its own directory and published atomically.

Layout: ``DATA/registry/snapshots/<build_id>/<table>.parquet`` plus ``build.json``; the file
``DATA/registry/CURRENT`` names the published build and is replaced with ``os.replace`` (atomic
on POSIX), so a crash mid-build never leaves a half-built registry and readers always see a
complete one. Older snapshots stay for history (as-of queries by build).

Big tables may be *layered* (base + delta + gone files, see :mod:`canbao.registry.snapshot_layers`)
so an incremental build writes only what changed; ``build.json`` then has ``"layers": {table:
{"delta": n, "gone": n, "base": n}}``. Read snapshot tables ONLY through :meth:`Snapshot.scan`,
:meth:`Snapshot.sql` or :meth:`Snapshot.register`, which merge the layers.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from canbao.errors import StateError, UsageError
from canbao.registry import id_index
from canbao.registry.engine import Engine
from canbao.registry.snapshot_layers import (
    LAYERED,
    columns_of,
    layer_files,
    link_or_copy,
    merged_sql,
    parquet_source,
    publish_changes,
)
from canbao.warehouse.datadir import require_dir

__all__ = [
    "LAYERED",
    "SNAPSHOT_TABLES",
    "Last",
    "Snapshot",
    "current",
    "load",
    "new_build_id",
    "publish",
    "registry_dir",
    "require_current",
]

# The records' linkage fields stay in the derivation cache (``registry/cache``); ``links`` carries
# what readers need of them (source, row, kind, name pinyin, birth date as delivered).
SNAPSHOT_TABLES = (
    "nodes",
    "node_members",
    "pairs",
    "persons",
    "links",
    "review_items",
    "id_corrections",
    "employers",
    "employer_links",
    "employer_vkeys",  # each employer variant's master employer (incremental builds start here)
    "enrollments",
    "id_anchor",  # an ID's anchor name and owner's household (incremental builds start here)
    "b_cluster",  # the cluster of each B node (unresolved records' nodes)
    "decisions",  # the review decisions this build applied
    "likely_owners",  # identified persons a record without ID most likely belongs to (owners)
    "hot_keys",  # the hot blocking values and their node counts (registry.hotkeys)
)


@dataclass(frozen=True)
class Snapshot:
    build_id: str
    path: Path
    info: dict[str, Any]

    def layers(self, name: str) -> dict[str, int] | None:
        """The table's layer row counts when it is stored as base + delta + gone, else None."""
        entry = self.info.get("layers", {}).get(name)
        return dict(entry) if entry is not None else None

    def has(self, name: str) -> bool:
        """True when the snapshot holds the table (older builds lack newer tables)."""
        return (self.path / f"{name}.parquet").exists()

    def table(self, name: str) -> Path:
        """The table's Parquet file; only for plain (not layered) tables — prefer
        :meth:`scan`, :meth:`sql` or :meth:`register`, which work for both."""
        if self.layers(name) is not None:
            raise StateError(
                f"登记库表 {name} 以增量分层方式存储，不能直接读取单个文件",
                f"table {name} of build {self.build_id} is layered (base + delta + gone): "
                "read it with Snapshot.scan, Snapshot.sql or Snapshot.register",
            )
        return self._base(name)

    def _base(self, name: str) -> Path:
        path = self.path / f"{name}.parquet"
        if not path.exists():
            raise StateError(
                f"登记库版本 {self.build_id} 中没有表 {name}，请重新运行 canbao build",
                f"build {self.build_id} has no table {name}: run `canbao build`",
            )
        return path

    def scan(self, name: str) -> pl.LazyFrame:
        """The table's rows as a Polars LazyFrame (layers merged)."""
        # glob=False: a data directory may have [ * ? in its path
        base = pl.scan_parquet(self._base(name), glob=False)
        if self.layers(name) is None:
            return base
        files = layer_files(self.path, name)
        schema = base.collect_schema()
        keys = list(LAYERED[name])
        gone = pl.scan_parquet(files["gone"], glob=False).select(
            pl.col(k).cast(schema[k]) for k in keys
        )
        delta = pl.scan_parquet(files["delta"], glob=False).select(schema.names())
        return pl.concat([base.join(gone, on=keys, how="anti"), delta], how="vertical_relaxed")

    def find_id(self, id18: str) -> pl.DataFrame:
        """The master persons with this normalised ID, through the ID index
        (:mod:`canbao.registry.id_index`)."""
        return id_index.find(self.path, self.scan("persons"), id18)

    def sql(self, name: str) -> str:
        """A DuckDB SELECT over the table (layers merged; absolute paths), usable as a
        subquery or a view's body."""
        base = self._base(name)
        if self.layers(name) is None:
            return f"SELECT * FROM {parquet_source(base)}"
        files = layer_files(self.path, name)
        return merged_sql(
            parquet_source(base),
            parquet_source(files["delta"]),
            parquet_source(files["gone"]),
            LAYERED[name],
            columns_of(base),
        )

    def register(self, eng: Engine, name: str, as_name: str | None = None) -> None:
        """Make the table a view ``as_name`` (default ``name``) of the engine: nothing is loaded
        (DuckDB view, Spark temporary view; the files are read where the view is used)."""
        view = as_name or name
        base = self._base(name)
        if self.layers(name) is None:
            eng.parquet_view(view, [base])
            return
        files = layer_files(self.path, name)
        parts = {part: f"{view}__layer_{part}" for part in ("base", "delta", "gone")}
        for part, part_view in parts.items():
            eng.parquet_view(part_view, [files[part]])
        eng.create_view(
            view,
            merged_sql(
                parts["base"], parts["delta"], parts["gone"], LAYERED[name], columns_of(base)
            ),
        )


def registry_dir(data_dir: Path) -> Path:
    return data_dir / "registry"


def new_build_id() -> str:
    return dt.datetime.now().strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]


@dataclass(frozen=True)
class Last:
    """The last step of a publish: ``run`` is given the snapshot being written, whose other
    tables can then be read (:meth:`Snapshot.register`: their files, one layer over each base),
    and returns more of the build's info; then ``tables`` are written from the engine."""

    tables: tuple[str, ...]
    run: Callable[[Snapshot], dict[str, Any]]


def publish(
    eng: Engine,
    data_dir: Path,
    build_id: str,
    info: dict[str, Any],
    *,
    prev: Snapshot | None = None,
    changes: Iterable[str] = (),
    reuse: Iterable[str] = (),
    last: Last | None = None,
) -> Snapshot:
    """Write the snapshot of build ``build_id`` and make it the current one (atomically).

    - a table in ``reuse`` is taken unchanged from ``prev`` (its files hard-linked);
    - a table in ``changes`` (one of :data:`LAYERED`) is ``prev``'s table updated by the engine's
      ``{T}__rows`` (the current rows of every changed or new key, the columns of ``T``) and
      ``{T}__gone`` (the key columns of every key whose rows changed or disappeared; a key that
      was in ``prev``'s table and has rows in ``{T}__rows`` MUST be in ``{T}__gone``): only the
      delta is written, or the whole table when the delta has outgrown the base (compaction);
    - every other table is written in full from the engine table of that name;
    - ``last``'s tables after its step has run over the others (:class:`Last`).
    """
    changes, reuse = tuple(changes), tuple(reuse)
    _check_publish(prev, changes, reuse)
    root = registry_dir(data_dir) / "snapshots"
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".tmp-{build_id}"
    final = root / build_id
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    layers: dict[str, dict[str, int]] = {}
    for table in SNAPSHOT_TABLES:
        entry = None
        if last is not None and table in last.tables:
            continue
        if table in reuse:
            assert prev is not None
            prev._base(table)  # raises StateError when prev has no such table
            entry = prev.layers(table)
            for src, dst in zip(
                layer_files(prev.path, table).values(),
                layer_files(tmp, table).values(),
                strict=True,
            ):
                if src.exists():
                    link_or_copy(src, dst)
        elif table in changes:
            assert prev is not None
            entry = publish_changes(eng, table, prev.path, prev.layers(table), tmp)
        else:
            eng.write_parquet(table, tmp / (table + ".parquet"))
        if entry is not None:
            layers[table] = entry
    info = {k: v for k, v in info.items() if k != "layers"}
    if layers:
        info["layers"] = layers
    if last is not None:
        info.update(last.run(Snapshot(build_id, tmp, info)))
        for table in last.tables:
            eng.write_parquet(table, tmp / (table + ".parquet"))
    id_index.publish(
        tmp, prev.path if prev else None, reused="persons" in reuse, layered="persons" in layers
    )
    (tmp / "build.json").write_text(json.dumps(info, ensure_ascii=False, indent=2), "utf-8")
    os.replace(tmp, final)
    pointer = registry_dir(data_dir) / "CURRENT"
    pointer_tmp = pointer.with_suffix(".tmp")
    pointer_tmp.write_text(build_id, encoding="utf-8")
    os.replace(pointer_tmp, pointer)
    return Snapshot(build_id, final, info)


def _check_publish(prev: Snapshot | None, changes: tuple[str, ...], reuse: tuple[str, ...]) -> None:
    unknown = sorted({*changes, *reuse} - set(SNAPSHOT_TABLES)) or sorted(
        set(changes) - set(LAYERED)
    )
    both = sorted(set(changes) & set(reuse))
    if unknown or both or (prev is None and (changes or reuse)):
        raise UsageError(
            "发布登记库版本的参数有误（增量表须为可分层的表，且须给出上一版本）",
            f"publish: tables not layerable or unknown {unknown}, both changed and reused {both}, "
            f"previous snapshot given: {prev is not None}",
        )


def current(data_dir: Path) -> Snapshot | None:
    require_dir(data_dir)
    pointer = registry_dir(data_dir) / "CURRENT"
    if not pointer.exists():
        return None
    return load(data_dir, pointer.read_text(encoding="utf-8").strip())


def load(data_dir: Path, build_id: str) -> Snapshot:
    """The published snapshot of build ``build_id`` (current or older)."""
    path = registry_dir(data_dir) / "snapshots" / build_id
    meta = path / "build.json"
    if build_id.startswith(".") or "/" in build_id or not meta.is_file():
        raise StateError(
            f"登记库中没有版本 {build_id}，请重新运行 canbao build",
            f"no published snapshot {build_id!r}",
        )
    return Snapshot(build_id, path, json.loads(meta.read_text(encoding="utf-8")))


def require_current(data_dir: Path) -> Snapshot:
    snap = current(data_dir)
    if snap is None:
        raise StateError(
            "登记库尚未建立，请先运行 canbao build",
            "the registry has not been built yet: run `canbao build`",
        )
    return snap
