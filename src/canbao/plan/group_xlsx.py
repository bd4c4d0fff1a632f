"""The 附件1's key-group sheet (重点群体任务): enrolment targets per unit and key group.

A second sheet of the 附件1 workbook, written by :func:`canbao.plan.xlsx_io.write_template` and
read by :func:`canbao.plan.xlsx_io.read_targets` when present (a workbook without it has no
key-group targets). Layout, like the main sheet's:

====  ==============================================================================
row   content
====  ==============================================================================
1     title (merged)
2     ``计划：<plan>　期间：<period>``
3     A 单位代码, B 单位名称, then the key group over its columns (园区企业, 民营私企 …, merged)
4     the enrolment indicator of the column (城镇职工基本养老保险 …)
5     unit of measure: 人 (or 万人)
6     codes ``<group>:<indicator>`` (``flexible_worker:enrolled.employee_pension``), for machines
7…    one row per unit; values from column C
====  ==============================================================================

Import: the header is found by 单位名称 (or 单位/地区); a column is its code, else its key group
(name or alias: 灵活就业人员, 被征地农民 …) and its indicator label (a scheme of 参保人数), and its
unit of measure (人/万人, also inside a header like ``灵活就业（人）``). Only enrolment indicators
take a key group. Bad cells are reported with the sheet and address (``重点群体任务!D9``).
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from canbao.plan import xlsx_io as x
from canbao.plan import xlsx_style as st
from canbao.plan.indicators import Indicator, factor, indicator, normalize_base, resolve_indicator
from canbao.plan.key_groups import KEY_GROUPS, KeyGroup, key_group, resolve_key_group
from canbao.plan.model import Plan, Target
from canbao.plan.units import PlanUnit, resolve_unit

SHEET_NAME = "重点群体任务"
CODE_SEP = ":"
FIRST_DATA_ROW = 7
DISPLAY_UNIT = "人"
NOTES = [
    "6. 工作表“重点群体任务”：按重点群体（园区企业、民营私企、灵活就业、失地农民、村干部）下达的"
    "参保人数目标，填人数；不下达的留空。",
]

Column = tuple[KeyGroup, Indicator]


def columns(plan: Plan | None = None) -> list[Column]:
    """The sheet's columns: each key group's template indicators, plus any the plan sets."""
    cols = [(g, indicator(code)) for g in KEY_GROUPS for code in g.indicators]
    if plan is not None:
        have = {(g.code, i.code) for g, i in cols}
        for t in plan.group_targets:
            assert t.group is not None
            if (t.group, t.indicator) not in have:
                cols.append((key_group(t.group), indicator(t.indicator)))
                have.add((t.group, t.indicator))
        order = {g.code: n for n, g in enumerate(KEY_GROUPS)}
        cols.sort(key=lambda c: order[c[0].code])  # stable: template order within a group
    return cols


def write_sheet(
    wb: Workbook, units: tuple[PlanUnit, ...], plan: Plan | None, period: str, title: str
) -> Worksheet:
    """Add the key-group sheet to ``wb`` (with ``plan``: its key-group targets filled in)."""
    ws = wb.create_sheet(SHEET_NAME)
    cols = columns(plan)
    last = 2 + len(cols)
    ws.cell(row=1, column=1, value=title).font = st.TITLE_FONT
    ws.cell(row=1, column=1).alignment = st.CENTER
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=last)
    ws.row_dimensions[1].height = 30
    meta = f"计划：{plan.code if plan else '-'}　期间：{period}"
    ws.cell(row=2, column=1, value=meta).font = st.GREY
    for col, label in ((1, "单位代码"), (2, "单位名称")):
        st.header_cell(ws, 3, col, label)
        ws.merge_cells(start_row=3, start_column=col, end_row=5, end_column=col)
    st.header_cell(ws, 6, 1, "指标代码")
    st.header_cell(ws, 6, 2, "（系统识别用，请勿修改）")
    for c in (1, 2):
        ws.cell(row=6, column=c).font = st.GREY
        ws.cell(row=6, column=c).fill = st.CODE_FILL
    start = 3
    for i, (g, ind) in enumerate(cols):
        c = 3 + i
        st.header_cell(ws, 3, c, g.name)
        st.header_cell(ws, 4, c, ind.label)
        st.header_cell(ws, 5, c, DISPLAY_UNIT)
        code = ws.cell(row=6, column=c, value=f"{g.code}{CODE_SEP}{ind.code}")
        code.font, code.fill = st.GREY, st.CODE_FILL
        code.border, code.alignment = st.BORDER, st.CENTER
        nxt = cols[i + 1][0] if i + 1 < len(cols) else None
        if nxt is None or nxt.code != g.code:
            if c > start:
                ws.merge_cells(start_row=3, start_column=start, end_row=3, end_column=c)
            start = c + 1
        ws.column_dimensions[get_column_letter(c)].width = 14
    ws.column_dimensions["A"].width = 12
    ws.column_dimensions["B"].width = 18
    ws.row_dimensions[4].height = 45
    for r, u in enumerate(units, start=FIRST_DATA_ROW):
        st.body_cell(ws, r, 1, u.code)
        st.body_cell(ws, r, 2, u.name)
        ws.cell(row=r, column=2).font = st.BOLD
        for i, (g, ind) in enumerate(cols):
            t = plan.target(u.code, ind.code, period, g.code) if plan else None
            st.body_cell(ws, r, 3 + i, int(t.value) if t else None, "#,##0")
    ws.freeze_panes = ws.cell(row=FIRST_DATA_ROW, column=3)
    return ws


def read_sheet(
    path: Path, period: str, units: tuple[PlanUnit, ...]
) -> tuple[list[Target], list[str]]:
    """The key-group targets of the workbook at ``path`` and the errors found (each starting
    with the cell, ``重点群体任务!C7``); nothing when it has no key-group sheet."""
    wb = load_workbook(path, data_only=True)
    if SHEET_NAME not in wb.sheetnames:
        return [], []
    ws = wb[SHEET_NAME]
    sh = x._Sheet(ws)
    errors: list[str] = []

    def cell(r: int, c: int) -> str:
        return f"{SHEET_NAME}!{x._addr(r, c)}"

    found = _header(sh, ws)
    if found is None:
        return [], [f"{SHEET_NAME}!A1 缺少“单位名称”表头"]
    header_row, name_col, code_col, first = found
    key_cols = {name_col} | ({code_col} if code_col else set())
    cols: dict[int, tuple[str, Indicator, Decimal]] = {}
    seen: dict[tuple[str, str], str] = {}
    for c in range(1, ws.max_column + 1):
        if c in key_cols:
            continue
        heads = [(r, x._norm(sh.value(r, c))) for r in range(header_row, first)]
        heads = [(r, t) for r, t in heads if t]
        if not heads:
            if any(sh.raw(r, c) not in (None, "") for r in range(first, ws.max_row + 1)):
                errors.append(f"{cell(header_row, c)} 列有数据但没有表头")
            continue
        where = cell(heads[-1][0], c)
        col = _column(heads)
        if isinstance(col, str):
            errors.append(f"{where} {col}")
            continue
        g, ind, f = col
        if (g.code, ind.code) in seen:
            errors.append(f"{where} “{g.name}{ind.name}”重复（已在 {seen[(g.code, ind.code)]} 列）")
            continue
        seen[(g.code, ind.code)] = get_column_letter(c)
        cols[c] = (g.code, ind, f)
    targets = _rows(sh, ws, first, name_col, code_col, cols, units, period, path, errors, cell)
    return targets, errors


def _header(sh: Any, ws: Worksheet) -> tuple[int, int, int | None, int] | None:
    """(header row, name column, code column, first data row), or None without 单位名称."""
    header_row = name_col = code_col = None
    for r in range(1, min(ws.max_row, 20) + 1):
        for c in range(1, min(ws.max_column, 4) + 1):
            text = x._norm(sh.raw(r, c))
            if text in x.UNIT_HEADERS and name_col is None:
                header_row, name_col = r, c
            elif text in x.CODE_HEADERS and code_col is None:
                code_col = c
        if header_row is not None:
            break
    if header_row is None or name_col is None:
        return None
    keys = [name_col] + ([code_col] if code_col else [])
    first = header_row + 1
    while first <= ws.max_row:
        texts = [x._norm(sh.raw(first, c)) for c in keys]
        if not any(texts) or any(
            t in (x.CODE_ROW_LABEL, *x.UNIT_HEADERS, *x.CODE_HEADERS) for t in texts
        ):
            first += 1
            continue
        break
    return header_row, name_col, code_col, first


def _column(heads: list[tuple[int, str]]) -> tuple[KeyGroup, Indicator, Decimal] | str:
    """A column's key group, indicator and factor to persons from its header cells, or the
    error text."""
    g: KeyGroup | None = None
    ind: Indicator | None = None
    for _, t in heads:
        if CODE_SEP in t:
            left, _, right = t.partition(CODE_SEP)
            g2, i2 = resolve_key_group(left), resolve_indicator(right)
            if g2 is not None and i2 is not None:
                g, ind = g2, i2
    labels = [re.sub(r"[(（][^)）]*[)）]", "", t) for _, t in heads if x._measure_token(t) != t]
    for t in labels:
        g = g or resolve_key_group(t)
    for t in labels:
        ind = ind or resolve_indicator(t, "参保人数") or resolve_indicator(t)
    shown = "/".join(t for _, t in heads)
    if g is None:
        return f"未知重点群体“{shown}”"
    if ind is None:
        return f"未知指标“{shown}”"
    if ind.category != "enrolled":
        return f"重点群体只能下达参保人数目标，不能下达“{ind.name}”"
    unit_text = next((tok for _, t in heads if (tok := x._measure_token(t)) is not None), None)
    if unit_text is None:
        return f"“{g.name}{ind.name}”缺少计量单位（如 {DISPLAY_UNIT}）"
    f = factor(ind.measure, unit_text)
    if f is None:
        return f"计量单位“{unit_text}”不适用于“{ind.name}”"
    return g, ind, f


def _rows(
    sh: Any,
    ws: Worksheet,
    first: int,
    name_col: int,
    code_col: int | None,
    cols: dict[int, tuple[str, Indicator, Decimal]],
    units: tuple[PlanUnit, ...],
    period: str,
    path: Path,
    errors: list[str],
    cell: Any,
) -> list[Target]:
    out: list[Target] = []
    seen: dict[str, int] = {}
    for r in range(first, ws.max_row + 1):
        code_val = x._norm(sh.raw(r, code_col)) if code_col else ""
        name_val = x._norm(sh.raw(r, name_col))
        if not code_val and not name_val:
            if any(sh.raw(r, c) not in (None, "") for c in cols):
                errors.append(f"{cell(r, name_col)} 有数据但没有单位名称")
            continue
        if re.match(r"^(注|说明|备注|填表)", name_val or code_val):
            continue
        by_code = resolve_unit(code_val, units) if code_val else None
        by_name = resolve_unit(name_val, units) if name_val else None
        if (code_val and by_code is None) or (name_val and by_name is None):
            bad, col = (
                (code_val, code_col) if code_val and by_code is None else (name_val, name_col)
            )
            errors.append(f"{cell(r, col)} 未知单位“{bad}”")
            continue
        if by_code is not None and by_name is not None and by_code.code != by_name.code:
            errors.append(f"{cell(r, name_col)} 单位名称“{name_val}”与代码“{code_val}”不符")
            continue
        u = by_code or by_name
        assert u is not None
        if u.code in seen:
            errors.append(f"{cell(r, name_col)} 单位“{u.name}”重复（已在第 {seen[u.code]} 行）")
            continue
        seen[u.code] = r
        for c, (g, ind, f) in cols.items():
            raw = sh.raw(r, c)
            try:
                num = x.parse_number(raw, ind)
            except ValueError:
                errors.append(f"{cell(r, c)} 不是数字：“{raw}”")
                continue
            if num is None:
                continue
            if num < 0:
                errors.append(f"{cell(r, c)} 不能为负数：{num}")
                continue
            value = normalize_base(ind.measure, num * f)
            out.append(Target(u.code, ind.code, period, value, f"附件1:{path.name}", g))
    return out
