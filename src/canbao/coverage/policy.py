"""Coverage policy as versioned data: retirement ages, age limits, wage floor and ceiling.

The values live in ``data/policy.json`` (or a file the caller names), one entry per version with
its ``valid_from`` date; :func:`policy_for` picks the version in force on a date. Nothing here is
a constant of the code: a bureau changes the file, not the program.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, fields
from importlib import resources
from pathlib import Path
from typing import Any

from canbao.errors import DataError, InputFileError, NotFoundError


@dataclass(frozen=True)
class Policy:
    valid_from: dt.date
    retirement_age_male: int
    retirement_age_female_worker: int
    retirement_age_female_cadre: int
    pension_min_age: int
    student_min_age: int
    student_max_age: int
    avg_wage_prev_year_fen: int
    base_floor_bp: int  # share of the average wage, in basis points (6000 = 60%)
    base_ceiling_bp: int
    worker_recent_months: int  # tax withholding within this many months counts as "working now"
    deceased_end_grace_days: int  # a record ended this long after the death is administrative lag
    # A declared base short of the tax base by no more than the larger of these is not flagged
    # (rounding of bases to whole yuan or tens of yuan, a fen of difference): relative, in basis
    # points of the tax base (100 = 1%), and absolute, in fen.
    base_tolerance_bp: int
    base_tolerance_min_fen: int
    source: str = ""

    @property
    def base_floor_fen(self) -> int:
        return self.avg_wage_prev_year_fen * self.base_floor_bp // 10000

    @property
    def base_ceiling_fen(self) -> int:
        return self.avg_wage_prev_year_fen * self.base_ceiling_bp // 10000


def _parse(entry: dict[str, Any], origin: str) -> Policy:
    known = {f.name for f in fields(Policy)}
    missing = sorted(known - set(entry) - {"source"})
    if missing:
        raise DataError(
            f"参保政策参数缺少字段：{'、'.join(missing)}（{origin}）",
            f"policy entry lacks {missing}",
        )
    try:
        values: dict[str, Any] = {k: entry[k] for k in known if k in entry}
        values["valid_from"] = dt.date.fromisoformat(str(entry["valid_from"]))
        for k, v in values.items():
            if k not in ("valid_from", "source") and (not isinstance(v, int) or v < 0):
                raise ValueError(f"{k} must be a non-negative integer")
        return Policy(**values)
    except (ValueError, TypeError) as e:
        raise DataError(f"参保政策参数有误（{origin}）：{e}", str(e)) from e


def load_policies(path: Path | None = None) -> list[Policy]:
    """All versions, oldest first (the shipped file unless ``path`` is given)."""
    try:
        if path is None:
            text = (
                resources.files("canbao.coverage").joinpath("data/policy.json").read_text("utf-8")
            )
            origin = "policy.json"
        else:
            text = path.read_text(encoding="utf-8")
            origin = str(path)
        doc = json.loads(text)
    except (OSError, ValueError) as e:
        raise InputFileError(f"无法读取参保政策参数文件：{path}", str(e)) from e
    versions = doc.get("versions") if isinstance(doc, dict) else None
    if not isinstance(versions, list) or not versions:
        raise DataError(f"参保政策参数文件没有 versions 列表（{origin}）", "no versions")
    return sorted((_parse(v, origin) for v in versions), key=lambda p: p.valid_from)


def policy_for(day: dt.date, path: Path | None = None) -> Policy:
    """The version in force on ``day``."""
    versions = [p for p in load_policies(path) if p.valid_from <= day]
    if not versions:
        raise NotFoundError(
            f"{day} 没有适用的参保政策参数（最早版本晚于该日期）",
            f"no policy version in force on {day}",
        )
    return versions[-1]
