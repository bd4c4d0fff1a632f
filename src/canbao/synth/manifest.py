"""``DIR/manifest.json`` (format ``canbao-manifest/1``, see docs/manifest.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from canbao.synth.render import Extract

FORMAT = "canbao-manifest/1"


def file_entry(spec: Extract, as_of: str) -> dict[str, Any]:
    return {
        "path": spec.path,
        "source": spec.source,
        "kind": spec.kind,
        "scheme": spec.scheme,
        "encoding": None if spec.xlsx else spec.encoding,
        "as_of": as_of,
        "sheet": (spec.sheet or "Sheet1") if spec.xlsx else None,
        "map": {},
    }


def write_manifest(
    root: Path, year: int, generator: dict[str, Any], specs: list[Extract], extra: dict[str, Any]
) -> Path:
    as_of = f"{year}-12-31"
    data = {
        "format": FORMAT,
        "city": "360400",
        "year": year,
        "as_of": as_of,
        "generator": generator,
        "files": [file_entry(s, as_of) for s in specs],
        **extra,
    }
    path = root / "manifest.json"
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path
