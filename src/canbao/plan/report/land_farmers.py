"""The 通报's 被征地农民参保 section: the 附件3 task numbers (``land_farmer.pension``) per unit
against the land-expropriated farmers enrolled in basic pension, a paragraph for the narrative
and a chart. A plan without 附件3 targets has no such section."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from canbao.plan import fmt
from canbao.plan.model import Plan
from canbao.plan.narrative import Paragraph
from canbao.plan.progress import Progress, ProgressRow
from canbao.plan.report.svg import Bar, bar_chart
from canbao.plan.units import CITY

INDICATOR = "land_farmer.pension"
SECTION = "被征地农民参加基本养老保险任务完成情况"
SHEET = "被征地农民参保"
NO_DATA = "无数据"
NOTE = (
    "任务数为附件3（被征地农民参加基本养老保险任务分解表）下达数；已参保人数为被征地农民名单中"
    "截至通报日期有正在参保的职工养老或城乡居民养老记录的人数，按名单所在区县归属；"
    "与时间进度比较。名单内未参保人员见工作清单（canbao gaps --kind land_farmers）。"
)


@dataclass(frozen=True)
class LandFarmerRow:
    unit: str  # unit name
    code: str
    target: int
    enrolled: int | None
    row: ProgressRow


def rows(plan: Plan, progress: Progress) -> list[LandFarmerRow]:
    """One row per unit with a 附件3 target, in report order (全市 first)."""
    order = {u.code: i for i, u in enumerate(plan.units)}
    found = sorted(
        (r for r in progress.rows if r.indicator == INDICATOR), key=lambda r: order.get(r.unit, 999)
    )
    return [
        LandFarmerRow(
            plan.unit(r.unit).name,
            r.unit,
            int(r.target),
            None if r.actual is None else int(r.actual),
            r,
        )
        for r in found
    ]


def persons(v: int | None) -> str:
    return NO_DATA if v is None else f"{v:,}人"


def paragraph(plan: Plan, progress: Progress) -> Paragraph | None:
    """被征地农民参保: the city's task and enrolment, the units behind time progress."""
    found = rows(plan, progress)
    if not found:
        return None
    city = next((r for r in found if r.code == CITY), None)
    parts = [r for r in found if r.code != CITY]
    if all(r.enrolled is None for r in found):
        total = f"全市任务数{persons(city.target)}，" if city else ""
        return Paragraph(
            "被征地农民参保",
            f"附件3下达被征地农民参加基本养老保险任务{len(parts)}个单位，{total}"
            "本期暂无被征地农民参保数据（需导入被征地农民名单并建立参保登记库）。",
        )
    text = ""
    if city is not None and city.enrolled is not None:
        r = city.row
        rel = "达到" if not r.behind else "落后于"
        text += (
            f"全市被征地农民参加基本养老保险{persons(city.enrolled)}，完成任务数"
            f"（{persons(city.target)}）的{fmt.pct(r.completion)}，{rel}时间进度"
            f"（{fmt.pct(r.benchmark)}）。"
        )
    behind = [r for r in parts if r.row.behind]
    if behind:
        shown = "、".join(f"{r.unit}（{fmt.pct(r.row.completion)}）" for r in behind)
        text += f"落后于时间进度的有{shown}，请抓紧将名单内未参保人员纳入基本养老保险。"
    elif any(r.enrolled is not None for r in parts):
        text += "各单位均达到时间进度。"
    missing = [r.unit for r in parts if r.enrolled is None]
    if missing:
        text += f"{'、'.join(missing)}暂无数据。"
    return Paragraph("被征地农民参保", text)


def chart(plan: Plan, progress: Progress) -> str | None:
    """Completion per unit (not 全市) against time progress, best first; None without data."""
    bars = [
        Bar(r.unit, r.row.completion, "behind" if r.row.behind else "normal")
        for r in rows(plan, progress)
        if r.code != CITY and r.row.completion is not None
    ]
    if not bars:
        return None
    bars.sort(key=lambda b: -(b.value or Decimal(0)))
    return bar_chart("各单位被征地农民参保任务完成率", bars, reference=progress.time_progress)
