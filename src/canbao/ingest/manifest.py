"""``DIR/manifest.json`` (format ``canbao-manifest/1``, see docs/manifest.md): the list of files
of one delivery with their source, kind, scheme, encoding claim, as-of date, sheet and map."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from canbao.errors import DataError, InputFileError

FORMAT = "canbao-manifest/1"


@dataclass
class ManifestFile:
    path: Path
    source: str
    kind: str
    scheme: str | None = None
    encoding: str | None = None
    as_of: str | None = None
    sheet: str | None = None
    map: dict[str, str] = field(default_factory=dict)


@dataclass
class Manifest:
    root: Path
    as_of: str | None
    files: list[ManifestFile]
    raw: dict[str, Any]


def load(directory: Path) -> Manifest:
    path = directory / "manifest.json"
    if not path.exists():
        raise InputFileError(
            f"目录“{directory}”中没有 manifest.json（文件清单）", f"no manifest.json in {directory}"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputFileError(
            f"文件清单“{path}”不是有效的 JSON", f"invalid manifest JSON: {e}"
        ) from e
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise DataError(
            f"文件清单“{path}”的 format 应为 {FORMAT}", f"manifest format must be {FORMAT}"
        )
    files = []
    for i, f in enumerate(data.get("files") or []):
        if not isinstance(f, dict) or not f.get("path") or not f.get("source") or not f.get("kind"):
            raise DataError(
                f"文件清单第 {i + 1} 项缺少 path、source 或 kind",
                f"manifest entry {i + 1} incomplete",
            )
        files.append(
            ManifestFile(
                path=directory / f["path"],
                source=f["source"],
                kind=f["kind"],
                scheme=f.get("scheme"),
                encoding=f.get("encoding"),
                as_of=f.get("as_of") or data.get("as_of"),
                sheet=f.get("sheet"),
                map=dict(f.get("map") or {}),
            )
        )
    return Manifest(directory, data.get("as_of"), files, data)
