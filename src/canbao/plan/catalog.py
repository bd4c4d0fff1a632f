"""Shipped example plans and plans stored in a data directory.

Shipped plans live as JSON under ``canbao/plan/data/`` (``<city>-2017`` ↔ ``<city>_2017.json``),
each naming its region profile; their targets keep the plan text's own units (万人, 亿元, 万元, %)
and are converted to base measures on load. ``canbao plan import`` stores the merged plan as
``<data-dir>/plans/<code>.json`` (base measures); a stored plan shadows the shipped one. Which
plan a command uses when none is named is the region profile's ``default_plan``.
"""

from __future__ import annotations

import json
import os
import tempfile
from importlib import resources
from pathlib import Path

from canbao.errors import DataError, NotFoundError, UsageError
from canbao.plan.model import Plan
from canbao.profile import Profile, default_profile


def default_plan(profile: Profile | None = None) -> str:
    """The plan a command uses when none is named: the profile's ``default_plan``."""
    p = profile or default_profile()
    if not p.default_plan:
        raise UsageError(
            f"地区配置“{p.name}”没有默认计划，请用 --plan 指定计划名称",
            f"profile {p.name!r} names no default plan; pass --plan",
        )
    return p.default_plan


def shipped_codes() -> list[str]:
    files = resources.files("canbao.plan").joinpath("data")
    return sorted(
        f.name.removesuffix(".json").replace("_", "-")
        for f in files.iterdir()
        if f.name.endswith(".json")
    )


def shipped(code: str, profile: Profile | None = None) -> Plan:
    """The shipped plan ``code`` (with ``profile``: checked to be that profile's plan)."""
    name = code.replace("-", "_") + ".json"
    res = resources.files("canbao.plan").joinpath("data").joinpath(name)
    if not res.is_file():
        raise NotFoundError(
            f"没有名为“{code}”的示例计划（可用：{'、'.join(shipped_codes())}）",
            f"no shipped plan {code!r}",
        )
    return Plan.from_dict(json.loads(res.read_text(encoding="utf-8")), profile)


def stored_path(data_dir: Path, code: str) -> Path:
    if not code or any(c in code for c in "/\\") or code.startswith("."):
        raise DataError(f"计划名称不合法：{code!r}", "invalid plan code")
    return data_dir / "plans" / f"{code}.json"


def load(code: str, data_dir: Path | None = None, profile: Profile | None = None) -> Plan:
    """The plan stored in ``data_dir`` if there is one, else the shipped plan of that name;
    read against ``profile`` when given (see :meth:`Plan.from_dict`)."""
    if data_dir is not None:
        path = stored_path(data_dir, code)
        if path.is_file():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError) as e:
                raise DataError(f"无法读取计划文件 {path}", f"cannot read plan: {e}") from e
            return Plan.from_dict(data, profile)
    return shipped(code, profile)


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
