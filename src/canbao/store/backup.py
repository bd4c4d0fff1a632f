"""Backup and restore: the store (every table, portable between SQLite and PostgreSQL) and the
data directory's small state files — the registry's ``CURRENT`` pointer (which snapshot is
published), the region profile in use, imported plans and the ingest header-mapping profiles.

The batches and snapshots themselves are not in the backup (they are large, and the extracts
reproduce them); back up the data directory's ``batches/`` and ``registry/snapshots/`` with the
file system. A restore points ``CURRENT`` back at the saved snapshot only when that snapshot is
present.

The backup is one zip: ``manifest.json`` (format, time, schema revision, row counts, the audit
log's head) and one JSON-lines file per table. :func:`restore` refuses a store that already
holds data unless ``replace=True``, checks the revision, inserts the rows, and verifies the
restored audit chain against the head saved in the manifest (a backup edited after the fact
fails the check); it then appends a ``store.restore`` entry.
"""

from __future__ import annotations

import datetime as dt
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, insert, select, text

from canbao.errors import DataError, InputFileError, StateError
from canbao.store import audit_log
from canbao.store.accounts import Actor
from canbao.store.db import Store, head_revision
from canbao.store.models import Base

FORMAT = "canbao-backup/1"
# every table of the store, parents before children (the restore order): a new table is backed
# up without anyone remembering to list it
TABLES = tuple(Base.metadata.sorted_tables)
# ids from a sequence (PostgreSQL): integer primary keys ``id`` the database numbers; the audit
# log numbers its entries itself (gapless) and the chain's head is one row
SERIAL = tuple(
    t.name
    for t in TABLES
    if "id" in t.c
    and t.c["id"].primary_key
    and t.c["id"].autoincrement in (True, "auto")
    and t.name not in ("audit_log", "audit_head")
)
STATE_FILES = ("registry/CURRENT", "region-profile.json")
STATE_GLOBS = ("plans/*.json", "profiles/*.json")


@dataclass
class BackupSummary:
    path: Path
    rows: dict[str, int]
    files: list[str]
    audit_head: tuple[int, str]


@dataclass
class RestoreSummary:
    rows: dict[str, int]
    files: list[str]
    skipped: list[str] = field(default_factory=list)  # state files not restored, with why


def _encode(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return {"$dt": value.isoformat()}
    if isinstance(value, dt.date):
        return {"$d": value.isoformat()}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"$dt"}:
        return dt.datetime.fromisoformat(value["$dt"])
    if isinstance(value, dict) and set(value) == {"$d"}:
        return dt.date.fromisoformat(value["$d"])
    return value


def backup(store: Store, data_dir: Path | None, out: Path) -> BackupSummary:
    rows: dict[str, int] = {}
    files: list[str] = []
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z, store.engine.connect() as conn:
        with conn.begin():  # one consistent read of every table
            for table in TABLES:
                lines = []
                for r in conn.execute(select(table).order_by(*table.primary_key)):
                    lines.append(json.dumps({k: _encode(v) for k, v in r._mapping.items()},
                                            ensure_ascii=False))  # fmt: skip
                z.writestr(f"tables/{table.name}.jsonl", "\n".join(lines))
                rows[table.name] = len(lines)
        if data_dir is not None:
            for rel in _state_files(data_dir):
                z.write(data_dir / rel, f"data/{rel}")
                files.append(rel)
        head = audit_log.head(store)
        manifest = {
            "format": FORMAT,
            "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "revision": store.revision(),
            "source_dialect": store.dialect,
            "rows": rows,
            "files": files,
            "audit_head": list(head),
        }
        z.writestr("manifest.json", json.dumps(manifest, ensure_ascii=False, indent=1))
    tmp.replace(out)
    return BackupSummary(out, rows, files, head)


def _state_files(data_dir: Path) -> list[str]:
    found = [rel for rel in STATE_FILES if (data_dir / rel).is_file()]
    for pattern in STATE_GLOBS:
        found += sorted(str(p.relative_to(data_dir)) for p in data_dir.glob(pattern))
    return found


def _read_manifest(z: zipfile.ZipFile, path: Path) -> dict[str, Any]:
    try:
        manifest = json.loads(z.read("manifest.json"))
    except (KeyError, ValueError) as e:
        raise InputFileError(
            f"“{path.name}”不是 Canbao 备份文件（缺少 manifest.json）", str(e)
        ) from e
    if manifest.get("format") != FORMAT:
        raise InputFileError(
            f"“{path.name}”的备份格式（{manifest.get('format')}）不受支持", "unknown format"
        )
    if manifest.get("revision") != head_revision():
        raise StateError(
            f"备份的数据库结构版本（{manifest.get('revision')}）与程序（{head_revision()}）不同，"
            "请用相同版本的程序恢复",
            "revision mismatch",
        )
    return manifest


def restore(
    store: Store,
    path: Path,
    data_dir: Path | None,
    *,
    replace: bool = False,
    actor: Actor | None = None,
) -> RestoreSummary:
    try:
        z = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as e:
        raise InputFileError(f"无法读取备份文件“{path.name}”", str(e)) from e
    with z:
        manifest = _read_manifest(z, path)
        rows = _restore_tables(store, z, replace)
        files, skipped = _restore_files(z, manifest, data_dir)
    if rows != manifest["rows"]:
        raise DataError(
            "备份文件中的行数与清单不符，文件可能已损坏", f"{rows} vs {manifest['rows']}"
        )
    checked, problems = audit_log.verify(store)
    if problems or list(audit_log.head(store)) != manifest["audit_head"]:
        raise DataError(
            "恢复后的审计日志校验未通过：备份文件可能被改动过（"
            + "；".join(p.message_zh for p in problems[:3])
            + "）",
            "audit chain does not verify after restore",
        )
    who = actor or Actor.operator()
    audit_log.log(store, who.event("store.restore", "backup", [path.name], rows=rows))
    return RestoreSummary(rows, files, skipped)


def _restore_tables(store: Store, z: zipfile.ZipFile, replace: bool) -> dict[str, int]:
    rows: dict[str, int] = {}
    with store.engine.begin() as conn:
        present = sum(
            conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in TABLES
            if t.name != "audit_head"  # the chain's head row exists in every store
        )
        if present and not replace:
            raise StateError(
                f"目标数据库已有 {present} 行数据；确认要覆盖时请加 --replace", "store not empty"
            )
        for table in reversed(TABLES):
            conn.execute(delete(table))
        for table in TABLES:
            name = f"tables/{table.name}.jsonl"
            try:
                lines = [ln for ln in z.read(name).decode("utf-8").split("\n") if ln]
            except KeyError as e:
                raise InputFileError(f"备份文件缺少数据表 {table.name}", str(e)) from e
            batch = [{k: _decode(v) for k, v in json.loads(ln).items()} for ln in lines]
            if batch:
                conn.execute(insert(table), batch)
            rows[table.name] = len(batch)
        if conn.dialect.name == "postgresql":  # explicit ids were inserted: move the sequences on
            for name in SERIAL:
                conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                        f"coalesce((SELECT max(id) FROM {name}), 0) + 1, false)"
                    )
                )
    return rows


def _restore_files(
    z: zipfile.ZipFile, manifest: dict[str, Any], data_dir: Path | None
) -> tuple[list[str], list[str]]:
    files: list[str] = []
    skipped: list[str] = []
    for rel in manifest.get("files", []):
        if data_dir is None:
            skipped.append(f"{rel}：未指定数据目录")
            continue
        if ".." in Path(rel).parts or Path(rel).is_absolute():
            raise InputFileError(f"备份中的文件路径不安全：{rel}", "unsafe path in backup")
        content = z.read(f"data/{rel}")
        if rel == "registry/CURRENT":
            build = content.decode("utf-8").strip()
            if not (data_dir / "registry" / "snapshots" / build).is_dir():
                skipped.append(f"{rel}：快照 {build} 不在数据目录中，未恢复发布指针")
                continue
        target = data_dir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".restore-tmp")
        tmp.write_bytes(content)
        tmp.replace(target)
        files.append(rel)
    return files, skipped
