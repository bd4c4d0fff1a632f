"""The 通报's 争资 section: subsidy funds received this year against last year (from the subsidy
register, :mod:`canbao.collection.subsidies`) and the growth against the plan's
``subsidy_growth`` targets (the seed plan: 全市 5.5%, 市本级 6%), a paragraph for the narrative.

Shown when the plan has a ``subsidy_growth`` target or the register has receipts of the period
or the year before; otherwise the 通报 has no such section. The section is the register's view:
a unit's growth is the register's when it has receipts both years, so that amounts and growth
in a row always agree; without a register (``--actuals FILE``) it is the progress actual.
Whether the target is met is decided on that growth (:func:`canbao.plan.progress.is_met`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

import polars as pl

from canbao.collection.subsidies import (
    growth_table,
    load_receipts,
    receipts_frame,
    register_path,
)
from canbao.plan import fmt
from canbao.plan.indicators import indicator
from canbao.plan.model import Plan
from canbao.plan.narrative import Paragraph
from canbao.plan.progress import Progress, is_met
from canbao.plan.units import CITY

INDICATOR = "subsidy_growth"
SECTION = "争取上级补助资金（争资）情况"
SHEET = "争资情况"
NOTE = (
    "本年到账为考核期内截至通报日期的到账金额；比上年增长 = 本年到账 ÷ 上年全年到账 − 1，"
    "与方案的年度增长目标比较（年内按全年口径比较，年初偏低属正常，上年同期供参考）；"
    "数据来自争资登记簿（canbao plan subsidies import）。"
)
WAN = Decimal(1_000_000)  # fen per 万元
FEN_COLUMNS = (
    "this_year", "this_year_central", "this_year_provincial", "last_year_to_date", "last_year"
)  # fmt: skip


@dataclass(frozen=True)
class SubsidyRow:
    unit: str  # name
    code: str
    this_year: int | None  # fen
    central: int | None
    provincial: int | None
    last_year_to_date: int | None
    last_year: int | None
    growth: Decimal | None
    target: Decimal | None  # the unit's subsidy_growth target, if it has one
    met: bool | None  # None: no target or no growth

    @property
    def behind(self) -> bool:
        return self.met is False


def amounts_for(plan: Plan, as_of: date, data_dir: Path | None) -> pl.DataFrame | None:
    """The register's growth table for the plan's period as of ``as_of`` (None without a
    register)."""
    if data_dir is None or not register_path(data_dir).is_file():
        return None
    receipts = receipts_frame(load_receipts(data_dir, plan.profile))
    return growth_table(receipts, plan.period.start, plan.period.end, as_of)


def rows(plan: Plan, progress: Progress, amounts: pl.DataFrame | None) -> list[SubsidyRow]:
    """Units with a subsidy_growth target or receipts, in report order (全市 first)."""
    targets = {r.unit: r for r in progress.rows if r.indicator == INDICATOR}
    table = {} if amounts is None else {d["unit"]: d for d in amounts.iter_rows(named=True)}
    out: list[SubsidyRow] = []
    for u in plan.units:  # a few dozen units
        row, a = targets.get(u.code), table.get(u.code)
        if row is None and a is None:
            continue
        growth = row.actual if row is not None else None
        if a is not None and a["growth"] is not None:
            growth = Decimal(a["growth"])
        target = row.target if row is not None else None
        met = (
            None
            if target is None or growth is None
            else is_met(indicator(INDICATOR), target, growth)
        )
        fen = {k: None if a is None else int(a[k]) for k in FEN_COLUMNS}
        out.append(
            SubsidyRow(
                u.name,
                u.code,
                fen["this_year"],
                fen["this_year_central"],
                fen["this_year_provincial"],
                fen["last_year_to_date"],
                fen["last_year"],
                growth,
                target,
                met,
            )  # fmt: skip
        )
    return out


def wan(fen: int | None) -> Decimal | None:
    """Fen → 万元 (exact)."""
    return None if fen is None else Decimal(fen) / WAN


def wan_text(fen: int | None) -> str:
    return "—" if fen is None else f"{wan(fen):,.2f}万元"


def wan_number(fen: int | None) -> str:
    """For a table whose header says 万元: ``10,001.22``."""
    return "—" if fen is None else f"{wan(fen):,.2f}"


def paragraph(plan: Plan, progress: Progress, amounts: pl.DataFrame | None) -> Paragraph | None:
    """争资: the city's (and each targeted unit's) receipts, growth and target."""
    found = rows(plan, progress, amounts)
    if not found:
        return None
    parts: list[str] = []
    for r in found:
        if r.target is None and r.code != CITY:
            continue  # units without a target are in the table only
        text = f"{r.unit}"
        if r.this_year is not None:
            split = ""
            if r.central and r.provincial:
                split = f"（中央{wan_text(r.central)}、省级{wan_text(r.provincial)}）"
            text += f"争取上级补助资金到账{wan_text(r.this_year)}{split}，上年全年{wan_text(r.last_year)}"
        if r.growth is not None:
            change = "增长" if r.growth >= 0 else "减少"
            text += f"，比上年{change}{fmt.pct(abs(r.growth))}"
        elif r.this_year is not None:
            text += "，上年无到账记录，无法计算增长"
        else:
            text += "暂无到账数据"
        if r.target is not None:
            state = "" if r.met is None else ("，已达到目标" if r.met else "，未达到目标")
            text += f"（目标不低于{fmt.pct(r.target)}{state}）"
        parts.append(text)
    if not parts:
        return None
    return Paragraph("争资情况", "；".join(parts) + "。")
