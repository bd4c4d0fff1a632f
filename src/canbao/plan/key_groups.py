"""The plan's key groups (重点群体) and the targets set per group.

The plan names groups the counties must enrol (方案：重点对民营、私营企业、园区企业、失地农民、村干部和
灵活就业人员的参保登记展开工作……分别明确扩面目标). A :class:`~canbao.plan.model.Target` with a
``group`` is such a target: unit × enrolment indicator × period × group, e.g. 柴桑区 ·
城镇职工基本养老保险参保人数 · 2017 · 灵活就业 → 1,200 persons. Only enrolment indicators
(``enrolled.*``) take a group: the plan's words are 扩面目标.

Codes are the data's own (:mod:`canbao.ingest.kinds`): ``park`` (the employer field 园区企业),
``private`` (the ownership codes ``private`` and ``individual``, as collection's 民营私营),
``flexible_worker``, ``land_expropriated``, ``village_cadre`` (``SPECIAL_GROUPS``). What counts
as a group's enrolment is the actuals source's definition (:mod:`canbao.coverage.group_actuals`).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache

from canbao.errors import DataError


@dataclass(frozen=True)
class KeyGroup:
    code: str
    name: str  # as the plan writes it: 园区企业, 民营私企 …
    description: str  # who is counted (shown in the report's definitions)
    indicators: tuple[str, ...]  # the enrolment indicators of the template's columns
    aliases: tuple[str, ...] = ()


KEY_GROUPS: tuple[KeyGroup, ...] = (
    KeyGroup(
        "park",
        "园区企业",
        "登记为园区企业的用人单位的参保职工",
        ("enrolled.employee_pension", "enrolled.work_injury"),
        ("园区企业职工", "园区"),
    ),
    KeyGroup(
        "private",
        "民营私企",
        "民营、私营企业和个体工商户的参保职工",
        ("enrolled.employee_pension", "enrolled.work_injury"),
        ("民营、私营企业", "民营私营企业", "民营企业", "私营企业", "民营"),
    ),
    KeyGroup(
        "flexible_worker",
        "灵活就业",
        "以灵活就业人员身份参保的人员（重点人群名单或参保人员类别为灵活就业）",
        ("enrolled.employee_pension", "enrolled.medical"),
        ("灵活就业人员",),
    ),
    KeyGroup(
        "land_expropriated",
        "失地农民",
        "被征地农民名单中的人员",
        ("enrolled.employee_pension", "enrolled.resident_pension"),
        ("被征地农民",),
    ),
    KeyGroup(
        "village_cadre",
        "村干部",
        "村（社区）干部名单中的人员",
        ("enrolled.employee_pension", "enrolled.resident_pension"),
        ("村(社区)干部", "村（社区）干部"),
    ),
)


def _key(text: object) -> str:
    return re.sub(r"[\s、，,]+", "", unicodedata.normalize("NFKC", str(text)))


@cache
def _index() -> dict[str, KeyGroup]:
    out: dict[str, KeyGroup] = {}
    for g in KEY_GROUPS:
        for k in (g.code, g.name, *g.aliases):
            out[_key(k)] = g
    return out


def key_group(code: str) -> KeyGroup:
    """The key group of ``code`` (KeyError if there is none)."""
    for g in KEY_GROUPS:
        if g.code == code:
            return g
    raise KeyError(code)


def resolve_key_group(text: object) -> KeyGroup | None:
    """A key group by code, name or alias (民营、私营企业 → private; 被征地农民 → land_expropriated)."""
    if text is None:
        return None
    return _index().get(_key(text))


def group_code(text: object, where: str = "") -> str:
    """The code of the key group ``text`` names; DataError naming it otherwise."""
    g = resolve_key_group(text)
    if g is None:
        names = "、".join(x.name for x in KEY_GROUPS)
        raise DataError(
            f"{where}未知重点群体“{text}”（可用：{names}）".strip(),
            f"unknown key group {text!r}",
        )
    return g.code


def check_group_indicator(indicator_code: str, group: str, where: str = "") -> None:
    """Group targets are enrolment targets (扩面目标): anything else is a DataError."""
    if not indicator_code.startswith("enrolled."):
        raise DataError(
            f"{where}重点群体“{key_group(group).name}”只能下达参保人数目标，"
            f"不能下达“{indicator_code}”".strip(),
            f"group targets must be enrolled.*, not {indicator_code!r}",
        )
