"""The generated text of the 通报: overall progress, 表扬 for the top units, 通报 for the bottom.

Rules (documented in docs/plan.md):

* 表扬 — the top-ranked units (see :mod:`canbao.plan.ranking`) whose composite score is at least
  the time progress; top units below time progress are named but not praised.
* 通报 — the bottom-ranked units (排名后3位, ties included), with their gap to time progress and the
  supervision group responsible. From the 督导验收 phase on (or after the period) the text says
  the result goes to the local Party committee and government, as the plan requires.
"""

from __future__ import annotations

from dataclasses import dataclass

from canbao.plan import fmt
from canbao.plan.indicators import indicator
from canbao.plan.model import Plan
from canbao.plan.progress import Progress
from canbao.plan.ranking import RankedUnit
from canbao.plan.units import CITY


@dataclass(frozen=True)
class Paragraph:
    heading: str
    text: str


def _date_zh(d: object) -> str:
    from datetime import date

    assert isinstance(d, date)
    return f"{d.year}年{d.month}月{d.day}日"


def _names(plan: Plan, ranked: list[RankedUnit]) -> str:
    return "、".join(f"{plan.unit(r.unit).name}（{fmt.pct(r.score)}）" for r in ranked)


def narrative(plan: Plan, progress: Progress, ranking: list[RankedUnit]) -> list[Paragraph]:
    tp = progress.time_progress
    out: list[Paragraph] = []
    phase = progress.phase
    phase_text = (
        f"工作处于{phase.name}（{phase.start.month}月{phase.start.day}日至{phase.end.month}月{phase.end.day}日）"
        if phase
        else "不在方案规定的实施阶段内"
    )
    head = f"截至{_date_zh(progress.as_of)}，{progress.period.label or progress.period.code}时间进度为{fmt.pct(tp)}，{phase_text}。"
    if not progress.has_actuals:
        out.append(
            Paragraph(
                "总体情况",
                head
                + "本期暂无实际完成数据（参保、征缴数据尚未接入），仅列示目标任务与时间进度，不作排名。",
            )
        )
        return out
    city = [r for r in progress.for_unit(CITY) if r.actual is not None]
    parts = []
    for row in city:
        ind = row.ind
        if ind.attachment != 1:  # 附件3 (land farmers): a paragraph of its own
            continue
        if ind.cumulative:
            verb = "参保" if ind.category == "enrolled" else "征缴"
            parts.append(
                f"{ind.label}{verb}{fmt.value(ind, row.actual)}，完成年度目标（{fmt.value(ind, row.target)}）的{fmt.pct(row.completion)}"
            )
        else:
            cmp = "不低于" if ind.direction == "minimum" else "不超过"
            state = "已达标" if row.met else "未达标"
            parts.append(
                f"{ind.name}为{fmt.value(ind, row.actual)}（目标{cmp}{fmt.value(ind, row.target)}，{state}）"
            )
    text = head
    if parts:
        text += "全市" + "；".join(parts) + "。"
    behind_city = [c for c in city if c.behind]
    if city:
        if behind_city:
            names = "、".join(c.ind.name for c in behind_city)
            text += f"其中{names}落后于进度要求。"
        else:
            text += "全市各项指标均达到进度要求。"
    out.append(Paragraph("总体情况", text))

    ranked = [r for r in ranking if r.rank is not None]
    top = [r for r in ranked if r.top]
    bottom = [r for r in ranked if r.bottom]
    praised = [r for r in top if r.score is not None and r.score >= tp]
    not_praised = [r for r in top if r not in praised]
    if ranked:
        t = ""
        if praised:
            t += f"{_names(plan, praised)}综合完成率位居全市前列，高于时间进度，工作积极、措施得力，予以通报表扬。"
        if not_praised:
            t += f"{_names(plan, not_praised)}综合完成率排名靠前，但仍低于时间进度，本期不予表扬。"
        if not top:
            t += "各单位综合完成率相同，本期不作表扬。"
        out.append(Paragraph("表扬", t))
    if bottom:
        details = []
        for r in bottom:
            assert r.score is not None
            gap = r.score - tp
            rel = f"落后时间进度{fmt.points(gap)}" if gap < 0 else f"高于时间进度{fmt.points(gap)}"
            g = plan.supervision_group_of(r.unit)
            by = f"，由{g.name}督导" if g else ""
            details.append(f"{plan.unit(r.unit).name}（综合完成率{fmt.pct(r.score)}，{rel}{by}）")
        t = f"综合完成率排名后{len(bottom)}位的是" + "、".join(details) + "，予以通报。"
        final = (
            phase is not None
            and phase.code == "acceptance"
            or progress.as_of >= progress.period.end
        )
        if final:
            t += "按照方案要求，任务完成排名后3位的情况通报至当地党委和政府。"
        else:
            t += "请上述单位对照目标任务和时间节点查找原因、加大力度；请相关督导组加强督导。年终任务完成排名后3位将通报至当地党委和政府。"
        out.append(Paragraph("通报", t))
    lagging = []
    for r in ranked:
        behind = [x for x in progress.for_unit(r.unit) if x.behind]
        if behind:
            lagging.append(f"{plan.unit(r.unit).name}{len(behind)}项")
    if lagging:
        out.append(
            Paragraph(
                "落后指标", "落后于进度要求的指标项数：" + "、".join(lagging) + "（明细见附表）。"
            )
        )
    unranked = [r for r in ranking if r.rank is None]
    if unranked:
        names = "、".join(plan.unit(r.unit).name for r in unranked)
        out.append(Paragraph("说明", f"{names}暂无目标或完成数据，未参与排名。"))
    return out


def indicator_name(code: str) -> str:
    return indicator(code).name
