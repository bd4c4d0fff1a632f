"""The 通报's 重点群体 section: key-group targets (园区企业, 民营私企, 灵活就业, 失地农民, 村干部)
with their actuals, a paragraph for the narrative and the rows of the table. A plan without
key-group targets has no such section."""

from __future__ import annotations

from decimal import Decimal

from canbao.plan import fmt
from canbao.plan.key_groups import KEY_GROUPS, key_group
from canbao.plan.model import Plan
from canbao.plan.narrative import Paragraph
from canbao.plan.progress import Progress, ProgressRow
from canbao.plan.units import CITY

NO_DATA = "无数据"
SECTION = "重点群体扩面目标完成情况"


def persons(v: Decimal | None) -> str:
    """Key-group counts are small: shown in persons (1,234人), not 万人."""
    return NO_DATA if v is None else f"{int(v):,}人"


def sorted_rows(plan: Plan, progress: Progress) -> list[ProgressRow]:
    """The key-group rows by group (catalogue order), unit (report order), indicator."""
    g_order = {g.code: i for i, g in enumerate(KEY_GROUPS)}
    u_order = {u.code: i for i, u in enumerate(plan.units)}
    return sorted(
        progress.group_rows,
        key=lambda r: (g_order.get(r.group or "", 99), u_order.get(r.unit, 999), r.indicator),
    )


def table_rows(plan: Plan, progress: Progress) -> list[dict[str, object]]:
    """One dict per key-group target, display-ready (counts in persons, 无数据 for no actual)."""
    out: list[dict[str, object]] = []
    for r in sorted_rows(plan, progress):
        out.append(
            {
                "group": key_group(r.group).name if r.group else "",
                "unit": plan.unit(r.unit).name,
                "indicator": r.ind.name,
                "target": persons(r.target),
                "actual": persons(r.actual),
                "completion": r.completion,
                "benchmark": r.benchmark,
                "gap": r.gap,
                "behind": r.behind,
                "row": r,
            }
        )
    return out


def paragraph(plan: Plan, progress: Progress) -> Paragraph | None:
    """重点群体: the city's key-group results and how many key-group targets are behind."""
    rows = sorted_rows(plan, progress)
    if not rows:
        return None
    with_actual = [r for r in rows if r.actual is not None]
    if not with_actual:
        return Paragraph("重点群体", f"方案明确的重点群体扩面目标{len(rows)}项，本期暂无完成数据。")
    city = [r for r in with_actual if r.unit == CITY]
    parts = [
        f"{key_group(r.group).name}{r.ind.label}参保{persons(r.actual)}，"
        f"完成目标（{persons(r.target)}）的{fmt.pct(r.completion)}"
        for r in city
        if r.group
    ]
    text = ("全市" + "；".join(parts) + "。") if parts else ""
    behind = [r for r in with_actual if r.behind]
    if behind:
        late = {r.unit for r in behind}
        names = [u.name for u in plan.units if u.code in late and u.code != CITY]
        where = f"（涉及{'、'.join(names)}）" if names else ""
        text += f"重点群体目标{len(rows)}项中{len(behind)}项落后于进度要求{where}，明细见附表。"
    else:
        text += f"重点群体目标{len(rows)}项均达到进度要求。"
    missing = len(rows) - len(with_actual)
    if missing:
        text += f"另有{missing}项暂无完成数据。"
    return Paragraph("重点群体", text)


def definitions(plan: Plan, progress: Progress) -> list[tuple[str, str]]:
    """Who each key group of the section counts (shown under its table)."""
    codes = {r.group for r in progress.group_rows}
    return [(g.name, g.description) for g in KEY_GROUPS if g.code in codes]
