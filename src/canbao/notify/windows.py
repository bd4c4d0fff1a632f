"""Payment windows of the resident schemes (缴费期) as policy data per region
(``canbao/notify/data/reminder_policy.json``; the region is the profile's ``policy_region``,
falling back like the contribution policy: county, prefecture, province, national default)."""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from canbao.collection.policy import fallback_chain
from canbao.errors import DataError

RESIDENT_SCHEMES = ("resident_pension", "resident_medical")
_MMDD = re.compile(r"(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])")


@dataclass(frozen=True)
class Window:
    region: str
    scheme: str
    start: tuple[int, int]  # month, day
    end: tuple[int, int]
    year_offset: int
    example: bool

    def open_on(self, day: dt.date) -> tuple[int, dt.date] | None:
        """(contribution year, last day) when the window is open on ``day``, else None."""
        start = dt.date(day.year, *self.start)
        end = dt.date(day.year, *self.end)
        return (day.year + self.year_offset, end) if start <= day <= end else None


def _bad(where: str, what: str) -> DataError:
    return DataError(f"缴费期参数文件有误（{where}）：{what}", f"reminder policy: bad {where}")


def _mmdd(raw: Any, where: str) -> tuple[int, int]:
    m = _MMDD.fullmatch(raw) if isinstance(raw, str) else None
    if m is None:
        raise _bad(where, f"应为 MM-DD，实为 {raw!r}")
    try:
        dt.date(2001, int(m.group(1)), int(m.group(2)))  # not 02-29: every year must have it
    except ValueError:
        raise _bad(where, f"日期不存在：{raw}") from None
    return int(m.group(1)), int(m.group(2))


def parse_windows(doc: Any) -> list[Window]:
    if not isinstance(doc, dict) or not isinstance(doc.get("regions"), list):
        raise _bad("文件", "应有 regions 列表")
    out: list[Window] = []
    for i, reg in enumerate(doc["regions"], start=1):
        region = reg.get("region") if isinstance(reg, dict) else None
        if not isinstance(region, str) or not re.fullmatch(r"[0-9]{6}", region):
            raise _bad(f"regions[{i}].region", "应为6位行政区划代码")
        for j, w in enumerate(reg.get("windows", []), start=1):
            where = f"{region}.windows[{j}]"
            if not isinstance(w, dict) or w.get("scheme") not in RESIDENT_SCHEMES:
                raise _bad(where, f"scheme 应为 {' | '.join(RESIDENT_SCHEMES)}")
            start, end = (
                _mmdd(w.get("start"), where + ".start"),
                _mmdd(w.get("end"), where + ".end"),
            )
            if start > end:
                raise _bad(where, "start 应不晚于 end（同一年内）")
            offset = w.get("year_offset", 0)
            if offset not in (0, 1):
                raise _bad(where, "year_offset 应为 0 或 1")
            out.append(
                Window(region, w["scheme"], start, end, offset, bool(reg.get("example", False)))
            )
    return out


def load_windows(path: Path | None = None) -> list[Window]:
    try:
        if path is None:
            text = (
                resources.files("canbao.notify")
                .joinpath("data/reminder_policy.json")
                .read_text("utf-8")
            )
        else:
            text = path.read_text(encoding="utf-8")
        doc = json.loads(text)
    except (OSError, ValueError) as e:
        raise DataError(f"无法读取缴费期参数文件：{e}", "reminder policy unreadable") from e
    return parse_windows(doc)


def windows_for(region: str, path: Path | None = None) -> dict[str, Window]:
    """Per resident scheme, the window of the most specific region that has one."""
    found = load_windows(path)
    out: dict[str, Window] = {}
    for code in reversed(fallback_chain(region)):  # general first, specific overrides
        for w in found:
            if w.region == code:
                out[w.scheme] = w
    return out
