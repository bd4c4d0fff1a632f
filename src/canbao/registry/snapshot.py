"""Build snapshots: each build is written to its own directory and published atomically.

Layout: ``DATA/registry/snapshots/<build_id>/<table>.parquet`` plus ``build.json``; the file
``DATA/registry/CURRENT`` names the published build and is replaced with ``os.replace`` (atomic
on POSIX), so a crash mid-build never leaves a half-built registry and readers always see a
complete one. Older snapshots stay for history (as-of queries by build).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from canbao.errors import StateError
from canbao.registry.engine import Engine

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
    "enrollments",
)


@dataclass(frozen=True)
class Snapshot:
    build_id: str
    path: Path
    info: dict[str, Any]

    def table(self, name: str) -> Path:
        return self.path / f"{name}.parquet"


def registry_dir(data_dir: Path) -> Path:
    return data_dir / "registry"


def new_build_id() -> str:
    return dt.datetime.now().strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]


def publish(eng: Engine, data_dir: Path, build_id: str, info: dict[str, Any]) -> Snapshot:
    root = registry_dir(data_dir) / "snapshots"
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".tmp-{build_id}"
    final = root / build_id
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    for table in SNAPSHOT_TABLES:
        eng.write_parquet(table, tmp / (table + ".parquet"))
    (tmp / "build.json").write_text(json.dumps(info, ensure_ascii=False, indent=2), "utf-8")
    os.replace(tmp, final)
    pointer = registry_dir(data_dir) / "CURRENT"
    pointer_tmp = pointer.with_suffix(".tmp")
    pointer_tmp.write_text(build_id, encoding="utf-8")
    os.replace(pointer_tmp, pointer)
    return Snapshot(build_id, final, info)


def current(data_dir: Path) -> Snapshot | None:
    pointer = registry_dir(data_dir) / "CURRENT"
    if not pointer.exists():
        return None
    build_id = pointer.read_text(encoding="utf-8").strip()
    path = registry_dir(data_dir) / "snapshots" / build_id
    info = json.loads((path / "build.json").read_text(encoding="utf-8"))
    return Snapshot(build_id, path, info)


def require_current(data_dir: Path) -> Snapshot:
    snap = current(data_dir)
    if snap is None:
        raise StateError(
            "登记库尚未建立，请先运行 canbao build",
            "the registry has not been built yet: run `canbao build`",
        )
    return snap
