"""The 通报's 入户核查进度 section: the field work on the work lists (:mod:`canbao.cases`) per plan
unit — cases opened, worked, resolved, confirmed by the data, open, overdue — and the uninsured
on the latest list split into unexplained / awaiting confirmation / explained by an outcome, with
those whose enrolment the data confirmed; a paragraph for the narrative.

Shown whenever the report is made for a data directory (whose store holds the cases): with
figures when cases exist, and saying plainly 尚无核查个案 when there are none (no store yet, or a
store without cases). A report without a data directory (``--actuals FILE`` alone) has no such
section. The figures are the store's state when the report is made (cases have no history by
date): the note says so; overdue means open for more than ``sla_days`` on that day.

Units: a case's county (the person's county of residence, the employer's county) maps to its
plan unit through the region profile (:meth:`canbao.profile.Profile.area_units`); a case of a
code the profile does not know counts for 全市 only. Counts only: nothing personal.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field, fields
from decimal import Decimal
from pathlib import Path

import polars as pl

from canbao import cases
from canbao.cases.progress import DEFAULT_SLA_DAYS
from canbao.plan import fmt
from canbao.plan.model import Plan
from canbao.plan.narrative import Paragraph
from canbao.plan.units import CITY
from canbao.store import Store, open_store
from canbao.store.db import ENV_URL, SQLITE_NAME
from canbao.warehouse.scope import Scope

SECTION = "入户核查进度"
SHEET = "入户核查进度"
NONE = "尚无核查个案"
NONE_TEXT = f"{NONE}：尚未由工作清单开案（canbao cases open），入户核查进度自开案后的通报起列示。"
NOTE = (
    "个案由工作清单（应保未保、重复参保、死亡仍参保、未参保登记单位、欠费单位、疑似同一人复核等）"
    "逐行开案，数字为生成通报时数据库中的状态。已办理：已登记联系情况、处理结果或上报；已办结：处理结果成立"
    "（含数据确认）；数据确认：下一期数据中缺口已消除；逾期：开案或重新打开后超过{sla}天仍未办结。"
    "应保未保（养老、医疗合计，人次）按最新清单：未核实为个案未办结；待数据确认为已登记“已参保”等"
    "可由数据核验的结果、数据尚未反映；已说明原因为在外地参保、在校学生、不符合参保条件、拒绝参保、"
    "联系不上等数据无法核验的结果，单列，不计为已参保；数据确认已参保为已不在清单、结果经数据确认的人次。"
)
REPORT = Scope.system("通报：入户核查进度（只读计数）")
COUNTS = ("opened", "open", "worked", "resolved", "confirmed", "gone", "overdue")
SPLIT = ("listed", "unexplained", "awaiting", "explained")


@dataclass(frozen=True)
class CaseRow:
    unit: str  # name
    code: str
    opened: int = 0
    open: int = 0
    worked: int = 0
    resolved: int = 0
    confirmed: int = 0
    gone: int = 0
    overdue: int = 0
    listed: int = 0  # uninsured (pension + medical cases) on the latest list
    unexplained: int = 0
    awaiting: int = 0
    explained: int = 0
    enrolled_confirmed: int = 0  # off the list, enrolment confirmed by the data

    @property
    def resolved_rate(self) -> Decimal | None:
        return None if not self.opened else Decimal(self.resolved) / Decimal(self.opened)


@dataclass(frozen=True)
class CaseFigures:
    rows: list[CaseRow]  # 全市 first, then the units in report order
    outcomes: list[tuple[str, int]] = field(default_factory=list)  # 全市, most first
    sla_days: int = DEFAULT_SLA_DAYS
    taken_on: dt.date | None = None

    @property
    def has_cases(self) -> bool:
        return bool(self.rows) and self.rows[0].opened > 0

    @property
    def note(self) -> str:
        return NOTE.format(sla=self.sla_days)


def _store_of(data_dir: Path) -> Store | None:
    """The data directory's store, or None when it has none yet (its own SQLite file is not
    there and no ``$CANBAO_DATABASE_URL`` names another): then there are no cases."""
    if not os.environ.get(ENV_URL) and not (data_dir / SQLITE_NAME).is_file():
        return None
    return open_store(data_dir)


def _by_unit(frame: pl.DataFrame, units: dict[str, str], cols: list[str]) -> pl.DataFrame:
    """Sum ``cols`` per plan unit (``unit``) and for 全市 (``CITY``)."""
    mapped = frame.with_columns(
        pl.col("county_code").replace_strict(units, default=None).alias("unit")
    )
    per = mapped.filter(pl.col("unit").is_not_null()).group_by("unit").agg(pl.col(cols).sum())
    city = mapped.select(pl.col(cols).sum()).with_columns(pl.lit(CITY).alias("unit"))
    return pl.concat([per, city.select(per.columns)])


def read_figures(plan: Plan, store: Store, *, sla_days: int = DEFAULT_SLA_DAYS) -> CaseFigures:
    """The section's figures from ``store`` (city-wide, counts only)."""
    p = cases.progress(store, REPORT, sla_days=sla_days)
    units = plan.profile.area_units()
    counts = _by_unit(p.summary, units, list(COUNTS))
    split = _by_unit(
        p.uninsured.rename({"confirmed": "enrolled_confirmed"}), units,
        [*SPLIT, "enrolled_confirmed"],
    )  # fmt: skip
    got: dict[str, dict[str, int]] = {}
    for frame in (counts, split):
        for r in frame.iter_rows(named=True):
            got.setdefault(r.pop("unit"), {}).update({k: int(v or 0) for k, v in r.items()})
    rows = []
    for u in plan.units:  # 全市 first, then report order; ranked units always, others with cases
        if u.code in got or u.code == CITY or u.ranked:
            rows.append(CaseRow(u.name, u.code, **got.get(u.code, {})))
    by_outcome = p.outcomes.group_by("outcome_label").agg(pl.col("cases").sum())
    top = sorted(((str(r[0]), int(r[1])) for r in by_outcome.iter_rows()), key=lambda x: -x[1])
    return CaseFigures(rows, top, sla_days, dt.date.today())


def figures_for(
    plan: Plan,
    data_dir: Path | None,
    *,
    store: Store | None = None,
    sla_days: int = DEFAULT_SLA_DAYS,
) -> CaseFigures | None:
    """The section's figures for a report made on ``data_dir`` (or from ``store``); None
    without either (no section); figures without rows' cases when the store has none."""
    if store is not None:
        return read_figures(plan, store, sla_days=sla_days)
    if data_dir is None:
        return None
    found = _store_of(data_dir)
    if found is None:
        empty = [CaseRow(u.name, u.code) for u in plan.units if u.code == CITY or u.ranked]
        return CaseFigures(empty, [], sla_days, dt.date.today())
    try:
        return read_figures(plan, found, sla_days=sla_days)
    finally:
        found.dispose()


def paragraph(figures: CaseFigures | None) -> Paragraph | None:
    """入户核查进度: the city's figures, the uninsured split, the units resolving least."""
    if figures is None:
        return None
    if not figures.has_cases:
        return Paragraph(SECTION, NONE_TEXT)
    c = figures.rows[0]
    text = (
        f"截至通报生成时，全市扩面核查个案累计开案{c.opened:,}个，已入户核查（联系、登记结果或上报）"
        f"{c.worked:,}个，已办结{c.resolved:,}个（其中经下一期数据确认{c.confirmed:,}个），"
        f"办结率{fmt.pct(c.resolved_rate)}；待办{c.open:,}个，其中超过{figures.sla_days}天未办结"
        f"{c.overdue:,}个。"
    )
    if c.listed or c.enrolled_confirmed:
        text += (
            f"最新应保未保清单（养老、医疗合计）{c.listed:,}人次：尚未核实{c.unexplained:,}人次，"
            f"已登记参保待数据确认{c.awaiting:,}人次，已说明原因（在外地参保、在校学生等，单列，"
            f"不计为已参保）{c.explained:,}人次；另经数据确认已参保{c.enrolled_confirmed:,}人次。"
        )
    worked = [r for r in figures.rows[1:] if r.opened]
    # below the city's rate, lowest first; ties: the larger backlog, then report order
    below = [r for r in worked if (r.resolved_rate or 0) < (c.resolved_rate or 0)]
    low = sorted(below, key=lambda r: (r.resolved_rate or Decimal(0), -r.open))[:3]
    if len(worked) > 3 and low:
        shown = "、".join(f"{r.unit}（{fmt.pct(r.resolved_rate)}）" for r in low)
        text += f"办结率较低的有{shown}，请加快入户核查、及时登记处理结果。"
    return Paragraph(SECTION, text)


def table(figures: CaseFigures) -> list[list[object]]:
    """The section's table rows: unit, the counts, 办结率, the uninsured split."""
    names = [f.name for f in fields(CaseRow)][2:]
    return [[r.unit, *(getattr(r, n) for n in names), r.resolved_rate] for r in figures.rows]


HEADERS = (
    "单位", "开案", "待办", "已办理", "已办结", "数据确认", "已不在清单", "逾期", "应保未保在清单",
    "未核实", "待数据确认", "已说明原因", "数据确认已参保", "办结率",
)  # fmt: skip
