"""Everything a 通报 shows, computed once and rendered as xlsx, HTML and PDF."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import polars as pl

from canbao.plan import fmt
from canbao.plan.indicators import Indicator, indicators
from canbao.plan.model import Plan
from canbao.plan.narrative import Paragraph, narrative
from canbao.plan.progress import Progress, ProgressRow
from canbao.plan.ranking import COMPLETION_CAP, RankedUnit, rank_units
from canbao.plan.report import cases as case_section
from canbao.plan.report import groups
from canbao.plan.report import land_farmers as land_section
from canbao.plan.report import subsidies as subsidy_section
from canbao.plan.report.svg import Bar, bar_chart
from canbao.plan.units import CITY, CITY_LEVEL


@dataclass(frozen=True)
class Chart:
    title: str
    svg: str
    compact: bool = False


@dataclass
class ReportData:
    plan: Plan
    progress: Progress
    ranking: list[RankedUnit]
    paragraphs: list[Paragraph]
    title: str
    subtitle: str
    illustrative: bool
    charts: list[Chart] = field(default_factory=list)
    subsidy_amounts: pl.DataFrame | None = None  # the subsidy register's growth table
    case_figures: case_section.CaseFigures | None = None  # 入户核查进度 (None: no section)

    @property
    def main_charts(self) -> list[Chart]:
        return [c for c in self.charts if not c.compact]

    @property
    def small_charts(self) -> list[Chart]:
        return [c for c in self.charts if c.compact]

    @property
    def as_of(self) -> date:
        return self.progress.as_of

    def unit_name(self, code: str) -> str:
        return self.plan.unit(code).name

    def group_name(self, code: str) -> str:
        g = self.plan.supervision_group_of(code)
        return g.name if g else ""

    def ranking_rows(self) -> list[dict[str, Any]]:
        tp = self.progress.time_progress
        rows = []
        for r in self.ranking:
            flag = (
                "后三位·通报"
                if r.bottom
                else (
                    "前列·表扬"
                    if r.top and r.score and r.score >= tp
                    else ("前列" if r.top else "")
                )
            )
            rows.append(
                {
                    "rank": r.rank,
                    "unit": self.unit_name(r.unit),
                    "group": self.group_name(r.unit),
                    "score": r.score,
                    "time_progress": tp if r.score is not None else None,
                    "gap": (r.score - tp) if r.score is not None else None,
                    "n": r.n_indicators,
                    "flag": flag,
                    "top": r.top,
                    "bottom": r.bottom,
                }
            )
        return rows

    def detail_rows(self, units: list[str] | None = None) -> list[ProgressRow]:
        order = {u.code: i for i, u in enumerate(self.plan.units)}
        ind_order = {ind.code: i for i, ind in enumerate(indicators())}
        rows = [r for r in self.progress.rows if units is None or r.unit in units]
        return sorted(rows, key=lambda r: (order.get(r.unit, 999), ind_order[r.indicator]))

    def city_rows(self) -> list[ProgressRow]:
        return self.detail_rows([CITY, CITY_LEVEL])

    @property
    def has_groups(self) -> bool:
        """The plan sets key-group targets: the 重点群体 section is shown."""
        return bool(self.progress.group_rows)

    def group_rows(self) -> list[dict[str, Any]]:
        return groups.table_rows(self.plan, self.progress)

    def group_definitions(self) -> list[tuple[str, str]]:
        return groups.definitions(self.plan, self.progress)

    @property
    def has_land_farmers(self) -> bool:
        """The plan has 附件3 targets: the 被征地农民参保 section is shown."""
        return bool(self.land_farmer_rows())

    def land_farmer_rows(self) -> list[land_section.LandFarmerRow]:
        return land_section.rows(self.plan, self.progress)

    def land_farmer_chart(self) -> str | None:
        return land_section.chart(self.plan, self.progress)

    @property
    def has_subsidies(self) -> bool:
        """A subsidy_growth target or register receipts: the 争资 section is shown."""
        return bool(self.subsidy_rows())

    def subsidy_rows(self) -> list[subsidy_section.SubsidyRow]:
        return subsidy_section.rows(self.plan, self.progress, self.subsidy_amounts)

    @property
    def has_cases_section(self) -> bool:
        """The report is made for a data directory: the 入户核查进度 section is shown (saying
        尚无核查个案 when there are none)."""
        return self.case_figures is not None

    def case_rows(self) -> list[list[object]]:
        return case_section.table(self.case_figures) if self.case_figures is not None else []

    def county_indicators(self) -> list[Indicator]:
        """附件1 indicators with a target for at least one ranked unit (the columns of the
        matrix; 附件3's land farmers have their own section)."""
        ranked = {u.code for u in self.plan.ranked_units()}
        have = {r.indicator for r in self.progress.rows if r.unit in ranked}
        return [i for i in indicators() if i.code in have and i.attachment == 1]

    def matrix(
        self, inds: list[Indicator] | None = None
    ) -> list[tuple[str, list[ProgressRow | None]]]:
        inds = self.county_indicators() if inds is None else inds
        out = []
        for u in self.plan.ranked_units():
            out.append((u.name, [self.progress.row(u.code, i.code) for i in inds]))
        return out

    def matrix_groups(self) -> list[tuple[str, list[Indicator]]]:
        """The county matrix split so each table fits an A4 page: 参保人数, 基金征缴, 比率."""
        inds = self.county_indicators()
        groups = [
            ("参保人数完成率", [i for i in inds if i.category == "enrolled"]),
            ("基金征缴完成率", [i for i in inds if i.category == "collected"]),
            ("清欠率、新欠比例与争资完成率", [i for i in inds if not i.cumulative]),
        ]
        return [(title, g) for title, g in groups if g]


def _kind(r: RankedUnit) -> str:
    return "bottom" if r.bottom else ("top" if r.top else "normal")


def build_report(
    plan: Plan,
    progress: Progress,
    *,
    illustrative: bool = False,
    n_bottom: int | None = None,
    subsidy_amounts: pl.DataFrame | None = None,
    case_figures: case_section.CaseFigures | None = None,
) -> ReportData:
    """Rank, narrate and chart ``progress``; ``n_bottom`` defaults to the plan's rule (后3位);
    ``subsidy_amounts``: the subsidy register's growth table for the 争资 section
    (:func:`canbao.plan.report.subsidies.amounts_for`); ``case_figures``: the 入户核查进度
    section's (:func:`canbao.plan.report.cases.figures_for`; None: no section)."""
    if n_bottom is None:
        n_bottom = int(plan.document.get("bottom_n", 3))
    units = [u.code for u in plan.ranked_units()]
    ranking = rank_units(progress, units, n_bottom=n_bottom) if progress.has_actuals else []
    label = progress.period.label or progress.period.code
    title = f"{label}全市社会保险扩面征缴工作进展情况通报"
    d = progress.as_of
    subtitle = f"截至{d.year}年{d.month}月{d.day}日"
    if illustrative:
        title += "（示例数据）"
        subtitle += "　示例数据：合成城市，非真实统计"
    if progress.actuals_label:
        subtitle += f"　完成数来源：{progress.actuals_label}"
    paragraphs = narrative(plan, progress, ranking)
    group_text = groups.paragraph(plan, progress)
    if group_text is not None:  # before the closing 说明, if any
        at = len(paragraphs) - (paragraphs[-1].heading == "说明")
        paragraphs.insert(at, group_text)
    for extra in (
        land_section.paragraph(plan, progress),
        subsidy_section.paragraph(plan, progress, subsidy_amounts),
        case_section.paragraph(case_figures),
    ):
        if extra is not None:  # before the closing 说明, if any
            paragraphs.insert(len(paragraphs) - (paragraphs[-1].heading == "说明"), extra)
    data = ReportData(
        plan,
        progress,
        ranking,
        paragraphs,
        title,
        subtitle,
        illustrative,
        [],
        subsidy_amounts,
        case_figures,
    )
    tp = progress.time_progress
    if ranking:
        bars = [Bar(plan.unit(r.unit).name, r.score, _kind(r)) for r in ranking]
        data.charts.append(
            Chart(
                "综合完成率",
                bar_chart(
                    f"各县（市、区）综合完成率（单项封顶{fmt.pct(COMPLETION_CAP, 0)}）",
                    bars,
                    reference=tp,
                ),
            )
        )
        for ind in data.county_indicators():
            if not ind.cumulative:
                continue
            rows = [(u, progress.row(u.code, ind.code)) for u in plan.ranked_units()]
            vals = [(u, r) for u, r in rows if r is not None and r.completion is not None]
            if not vals:
                continue
            vals.sort(key=lambda x: -(x[1].completion or Decimal(0)))
            bars = [Bar(u.name, r.completion, "behind" if r.behind else "normal") for u, r in vals]
            svg = bar_chart(f"{ind.name}完成率", bars, reference=tp, compact=True)
            data.charts.append(Chart(ind.name, svg, compact=True))
    return data
