"""Shipped example plans and plans stored in a data directory.

Shipped plans live as JSON under ``canbao/plan/data/`` (``jiujiang-2017`` ↔
``jiujiang_2017.json``); their targets keep the plan text's own units (万人, 亿元, 万元, %) and
are converted to base measures on load. ``canbao plan import`` stores the merged plan as
``<data-dir>/plans/<code>.json`` (base measures); a stored plan shadows the shipped one.
"""

from __future__ import annotations

import json
import os
import tempfile
from importlib import resources
from pathlib import Path

from canbao.errors import DataError, NotFoundError
from canbao.plan.model import Plan

DEFAULT_PLAN = "jiujiang-2017"


def shipped_codes() -> list[str]:
    files = resources.files("canbao.plan").joinpath("data")
    return sorted(
        f.name.removesuffix(".json").replace("_", "-")
        for f in files.iterdir()
        if f.name.endswith(".json")
    )


def shipped(code: str) -> Plan:
    name = code.replace("-", "_") + ".json"
    res = resources.files("canbao.plan").joinpath("data").joinpath(name)
    if not res.is_file():
        raise NotFoundError(
            f"没有名为“{code}”的示例计划（可用：{'、'.join(shipped_codes())}）",
            f"no shipped plan {code!r}",
        )
    return Plan.from_dict(json.loads(res.read_text(encoding="utf-8")))


def stored_path(data_dir: Path, code: str) -> Path:
    if not code or any(c in code for c in "/\\") or code.startswith("."):
        raise DataError(f"计划名称不合法：{code!r}", "invalid plan code")
    return data_dir / "plans" / f"{code}.json"


def load(code: str, data_dir: Path | None = None) -> Plan:
    """The plan stored in ``data_dir`` if there is one, else the shipped plan of that name."""
    if data_dir is not None:
        path = stored_path(data_dir, code)
        if path.is_file():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError) as e:
                raise DataError(f"无法读取计划文件 {path}", f"cannot read plan: {e}") from e
            return Plan.from_dict(data)
    return shipped(code)


def exists(code: str, data_dir: Path | None = None) -> bool:
    if data_dir is not None and stored_path(data_dir, code).is_file():
        return True
    return code in shipped_codes()


def save(plan: Plan, data_dir: Path) -> Path:
    """Write the plan atomically to ``<data_dir>/plans/<code>.json``."""
    path = stored_path(data_dir, plan.code)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".plan-", suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(plan.to_dict(), f, ensure_ascii=False, indent=1)
    os.replace(tmp, path)
    return path
