"""Header-mapping profiles saved per source (DATA/profiles/<source>.json): the ``--map``
overrides given once are reused for the next extract of the same source."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from canbao.errors import DataError
from canbao.warehouse.datadir import DataLayout


def load(data_dir: Path, source: str, kind: str) -> dict[str, str]:
    path = DataLayout(data_dir).profile(source)
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise DataError(
            f"映射配置文件“{path}”格式错误", f"invalid mapping profile JSON: {e}"
        ) from e
    return dict(data.get("kinds", {}).get(kind, {}).get("map", {}))


def save(data_dir: Path, source: str, kind: str, overrides: Mapping[str, str]) -> Path:
    layout = DataLayout(data_dir).ensure()
    path = layout.profile(source)
    data: dict[str, Any] = {"source": source, "kinds": {}}
    if path.exists():
        data = json.loads(path.read_text(encoding="utf-8"))
    entry = data.setdefault("kinds", {}).setdefault(kind, {"map": {}})
    entry["map"] = {**entry.get("map", {}), **overrides}
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    tmp.replace(path)
    return path
