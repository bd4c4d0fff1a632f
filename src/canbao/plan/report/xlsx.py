"""The 通报 as a formatted workbook (Chinese sheet names, frozen headers, number formats)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from canbao import outputs
from canbao.plan import xlsx_style as st
from canbao.plan.indicators import Indicator, from_base
from canbao.plan.report import cases as case_section
from canbao.plan.report import land_farmers as land_section
from canbao.plan.report import subsidies as subsidy_section
from canbao.plan.report.data import ReportData
from canbao.plan.report.definitions import DEFINITIONS

PCT = "0.0%"
NUM = "#,##0.00##"


def _title(ws: Worksheet, data: ReportData, width: int, title: str) -> None:
    ws.cell(row=1, column=1, value=title).font = st.TITLE_FONT
    ws.cell(row=1, column=1).alignment = st.CENTER
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=width)
    ws.row_dimensions[1].height = 28
    ws.cell(row=2, column=1, value=data.subtitle).font = st.GREY
    ws.merge_cells(start_row=2, start_column=1, end_row=2, end_column=width)


def _headers(ws: Worksheet, row: int, headers: Sequence[tuple[str, float]]) -> None:
    for c, (h, w) in enumerate(headers, start=1):
        st.header_cell(ws, row, c, h)
        ws.column_dimensions[get_column_letter(c)].width = w
    ws.freeze_panes = ws.cell(row=row + 1, column=1)


def _sheet_text(ws: Worksheet, data: ReportData) -> None:
    _title(ws, data, 8, data.title)
    ws.column_dimensions["A"].width = 12
    for c in "BCDEFGH":
        ws.column_dimensions[c].width = 14
    r = 4
    tp = data.progress
    ws.cell(row=r, column=1, value="时间进度").font = st.BOLD
    ws.cell(row=r, column=2, value=tp.time_progress).number_format = PCT
    ws.cell(row=r, column=3, value="实施阶段").font = st.BOLD
    ws.cell(row=r, column=4, value=tp.phase.name if tp.phase else "—")
    r += 2
    for p in data.paragraphs:
        ws.cell(row=r, column=1, value=p.heading).font = st.BOLD
        cell = ws.cell(row=r, column=2, value=p.text)
        cell.font = st.PLAIN
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        ws.merge_cells(start_row=r, start_column=2, end_row=r, end_column=8)
        ws.row_dimensions[r].height = max(18, 15 * (len(p.text) // 48 + 1))
        r += 1
    ws.freeze_panes = "A3"


def _sheet_ranking(ws: Worksheet, data: ReportData) -> None:
    headers = [
        ("排名", 7), ("单位", 14), ("督导组", 13), ("综合完成率", 12), ("时间进度", 11),
        ("差距", 10), ("计入指标数", 11), ("标记", 14),
    ]  # fmt: skip
    _title(ws, data, len(headers), "各县（市、区）综合完成率排名")
    _headers(ws, 3, headers)
    for i, row in enumerate(data.ranking_rows(), start=4):
        vals = [
            (row["rank"], None), (row["unit"], None), (row["group"], None),
            (row["score"], PCT), (row["time_progress"], PCT), (row["gap"], PCT),
            (row["n"], "0"), (row["flag"], None),
        ]  # fmt: skip
        for c, (v, f) in enumerate(vals, start=1):
            st.body_cell(ws, i, c, v if v is not None else "—", f)
            if row["bottom"]:
                ws.cell(row=i, column=c).fill = st.RED_FILL
            elif row["top"]:
                ws.cell(row=i, column=c).fill = st.GREEN_FILL
    if not data.ranking:
        ws.cell(row=4, column=1, value="暂无完成数据，不作排名。")


def _shown(ind: Indicator, v: Decimal | None) -> object:
    """Display value: 万人/万元 for counts and money, the fraction itself for ratios (% format)."""
    if v is None:
        return "—"
    return v if ind.measure == "ratio" else from_base(ind, v)


def _sheet_detail(ws: Worksheet, data: ReportData) -> None:
    headers = [
        ("单位", 12), ("指标", 30), ("要求", 8), ("计量单位", 9), ("目标", 14), ("完成数", 14),
        ("完成率", 10), ("进度要求", 10), ("差距", 10), ("是否达标", 9),
    ]  # fmt: skip
    _title(ws, data, len(headers), "各单位各项指标完成情况")
    _headers(ws, 3, headers)
    for i, r in enumerate(data.detail_rows(), start=4):
        ind = r.ind
        ratio = ind.measure == "ratio"
        vals: list[tuple[object, str | None]] = [
            (data.unit_name(r.unit), None),
            (ind.name, None),
            ("不低于" if ind.direction == "minimum" else "不超过", None),
            (ind.display_unit, None),
            (_shown(ind, r.target), PCT if ratio else NUM),
            (_shown(ind, r.actual) if r.actual is not None else "无数据", PCT if ratio else NUM),
            (r.completion if r.completion is not None else "—", PCT),
            (r.benchmark, PCT),
            (r.gap if r.gap is not None else "—", PCT),
            ("—" if r.met is None else ("是" if r.met else "否"), None),
        ]
        for c, (v, f) in enumerate(vals, start=1):
            st.body_cell(ws, i, c, v, f)
        if r.behind:
            ws.cell(row=i, column=9).fill = st.RED_FILL


def _sheet_matrix(ws: Worksheet, data: ReportData) -> None:
    inds = data.county_indicators()
    headers = [("单位", 12)] + [(i.name, 14) for i in inds]
    _title(ws, data, max(2, len(headers)), "各县（市、区）分项完成率")
    _headers(ws, 3, headers)
    ws.row_dimensions[3].height = 45
    ws.freeze_panes = "B4"
    for i, (name, cells) in enumerate(data.matrix(), start=4):
        st.body_cell(ws, i, 1, name)
        for c, r in enumerate(cells, start=2):
            v = r.completion if r is not None and r.completion is not None else "—"
            st.body_cell(ws, i, c, v, PCT)
            if r is not None and r.behind:
                ws.cell(row=i, column=c).fill = st.RED_FILL


def _sheet_groups(ws: Worksheet, data: ReportData) -> None:
    """重点群体: key-group targets in persons (only when the plan has them)."""
    headers = [
        ("重点群体", 11), ("单位", 12), ("指标", 30), ("目标（人）", 12), ("完成数（人）", 12),
        ("完成率", 10), ("进度要求", 10), ("差距", 10), ("是否达标", 9),
    ]  # fmt: skip
    _title(ws, data, len(headers), "重点群体扩面目标完成情况")
    _headers(ws, 3, headers)
    for i, g in enumerate(data.group_rows(), start=4):
        r = g["row"]
        vals: list[tuple[object, str | None]] = [
            (g["group"], None),
            (g["unit"], None),
            (g["indicator"], None),
            (int(r.target), "#,##0"),
            (int(r.actual) if r.actual is not None else "无数据", "#,##0"),
            (r.completion if r.completion is not None else "—", PCT),
            (r.benchmark, PCT),
            (r.gap if r.gap is not None else "—", PCT),
            ("—" if r.met is None else ("是" if r.met else "否"), None),
        ]
        for c, (v, f) in enumerate(vals, start=1):
            st.body_cell(ws, i, c, v, f)
        if r.behind:
            ws.cell(row=i, column=8).fill = st.RED_FILL


def _note(ws: Worksheet, row: int, width: int, text: str) -> None:
    cell = ws.cell(row=row, column=1, value=text)
    cell.font = st.GREY
    cell.alignment = Alignment(wrap_text=True, vertical="top")
    ws.merge_cells(start_row=row, start_column=1, end_row=row, end_column=width)
    ws.row_dimensions[row].height = 15 * (len(text) // 60 + 1)


def _sheet_land_farmers(ws: Worksheet, data: ReportData) -> None:
    """被征地农民参保: the 附件3 task numbers against the land farmers enrolled in pension."""
    headers = [
        ("单位", 14), ("任务数（人）", 13), ("已参保（人）", 13), ("完成率", 10),
        ("进度要求", 10), ("差距", 10), ("是否完成任务", 12),
    ]  # fmt: skip
    _title(ws, data, len(headers), land_section.SECTION)
    _headers(ws, 3, headers)
    found = data.land_farmer_rows()
    for i, lf in enumerate(found, start=4):
        r = lf.row
        vals: list[tuple[object, str | None]] = [
            (lf.unit, None),
            (lf.target, "#,##0"),
            (lf.enrolled if lf.enrolled is not None else land_section.NO_DATA, "#,##0"),
            (r.completion if r.completion is not None else "—", PCT),
            (r.benchmark, PCT),
            (r.gap if r.gap is not None else "—", PCT),
            ("—" if r.met is None else ("是" if r.met else "否"), None),
        ]
        for c, (v, f) in enumerate(vals, start=1):
            st.body_cell(ws, i, c, v, f)
        if r.behind:
            ws.cell(row=i, column=6).fill = st.RED_FILL
    _note(ws, 5 + len(found), len(headers), land_section.NOTE)


def _sheet_subsidies(ws: Worksheet, data: ReportData) -> None:
    """争资: receipts this year against last year, growth against the target."""
    headers = [
        ("单位", 14), ("本年到账（万元）", 15), ("其中中央", 12), ("其中省级", 12),
        ("上年同期（万元）", 15), ("上年全年（万元）", 15), ("比上年增长", 11),
        ("增长目标（不低于）", 13), ("是否达标", 9),
    ]  # fmt: skip
    _title(ws, data, len(headers), subsidy_section.SECTION)
    _headers(ws, 3, headers)
    found = data.subsidy_rows()
    wan = subsidy_section.wan
    for i, sr in enumerate(found, start=4):
        vals: list[tuple[object, str | None]] = [
            (sr.unit, None),
            *((wan(v) if v is not None else "—", NUM) for v in (
                sr.this_year, sr.central, sr.provincial, sr.last_year_to_date, sr.last_year)),
            (sr.growth if sr.growth is not None else "—", PCT),
            (sr.target if sr.target is not None else "—", PCT),
            ("—" if sr.met is None else ("是" if sr.met else "否"), None),
        ]  # fmt: skip
        for c, (v, f) in enumerate(vals, start=1):
            st.body_cell(ws, i, c, v, f)
        if sr.behind:
            ws.cell(row=i, column=7).fill = st.RED_FILL
    _note(ws, 5 + len(found), len(headers), subsidy_section.NOTE)


def _sheet_cases(ws: Worksheet, data: ReportData) -> None:
    """入户核查进度: the field work on the work lists per unit (counts only)."""
    figures = data.case_figures
    assert figures is not None
    widths = [14, *([9] * (len(case_section.HEADERS) - 2)), 9]
    headers = list(zip(case_section.HEADERS, widths, strict=True))
    _title(ws, data, len(headers), case_section.SECTION)
    if not figures.has_cases:
        ws.cell(row=4, column=1, value=case_section.NONE_TEXT).font = st.BOLD
        return
    _headers(ws, 3, headers)
    rows = data.case_rows()
    for i, row in enumerate(rows, start=4):
        for c, v in enumerate(row, start=1):
            last = c == len(row)
            st.body_cell(ws, i, c, "—" if v is None else v, PCT if last else "#,##0")
    _note(ws, 5 + len(rows), len(headers), figures.note)


def _sheet_definitions(ws: Worksheet) -> None:
    st.header_cell(ws, 1, 1, "口径")
    st.header_cell(ws, 1, 2, "说明")
    ws.column_dimensions["A"].width = 16
    ws.column_dimensions["B"].width = 100
    for i, (k, v) in enumerate(DEFINITIONS, start=2):
        st.body_cell(ws, i, 1, k)
        st.body_cell(ws, i, 2, v)
        ws.cell(row=i, column=2).alignment = Alignment(wrap_text=True, vertical="top")
    ws.freeze_panes = "A2"


def write_xlsx(data: ReportData, path: Path) -> Path:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "通报"
    _sheet_text(ws, data)
    _sheet_ranking(wb.create_sheet("综合排名"), data)
    _sheet_detail(wb.create_sheet("完成情况明细"), data)
    _sheet_matrix(wb.create_sheet("县区分项完成率"), data)
    if data.has_groups:
        _sheet_groups(wb.create_sheet("重点群体"), data)
    if data.has_land_farmers:
        _sheet_land_farmers(wb.create_sheet(land_section.SHEET), data)
    if data.has_subsidies:
        _sheet_subsidies(wb.create_sheet(subsidy_section.SHEET), data)
    if data.has_cases_section:
        _sheet_cases(wb.create_sheet(case_section.SHEET), data)
    _sheet_definitions(wb.create_sheet("指标口径"))
    path.parent.mkdir(parents=True, exist_ok=True)
    outputs.save_openpyxl(wb, path)
    return path
