"""The 附件1 task-decomposition table (任务分解表) as xlsx: template export and import.

Layout written by :func:`write_template` (and accepted, with some slack, by :func:`read_targets`):

====  ==============================================================================
row   content
====  ==============================================================================
1     title (merged)
2     ``计划：<plan>　期间：<period>`` — the period of the targets
3     A 单位代码, B 单位名称, then category headers (参保人数, 基金征缴, 清欠率 …, merged)
4     column labels (城镇职工基本养老保险 …, 民营私营企业 …)
5     unit of measure per column: 万人, 万元 (or 亿元/元), %
6     indicator codes (``enrolled.employee_pension`` …), for machines; may be removed
7…    one row per unit: code and/or name, values
====  ==============================================================================

Import resolves units by code, name or historical name (the region profile's aliases, e.g. a
county's name before it became a district), indicators by code or by (category, label), reads the unit of measure of each column (万人/人, 亿元/万元/元, %) and
converts to base measures with Decimal. Any unknown unit, unknown indicator, unit of measure that
does not fit, or non-numeric cell is reported with its cell address (e.g. ``C7``).

Key-group targets (重点群体) are on a second sheet, 重点群体任务 (:mod:`canbao.plan.group_xlsx`):
the template always has it; import reads it when the workbook has it.
"""

from __future__ import annotations

import re
import unicodedata
import zipfile
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.worksheet.worksheet import Worksheet

from canbao import outputs
from canbao.errors import DataError, InputFileError
from canbao.plan import xlsx_style as st
from canbao.plan.indicators import (
    CATEGORY_LABELS,
    UNIT_FACTORS,
    Indicator,
    factor,
    from_base,
    indicator,
    indicators,
    normalize_base,
    resolve_indicator,
)
from canbao.plan.model import Plan, Target
from canbao.plan.units import PlanUnit, plan_units, resolve_unit
from canbao.profile import Profile, default_profile

SHEET_NAME = "任务分解表"
FIRST_DATA_ROW = 7
UNIT_HEADERS = {"单位名称", "单位", "地区", "县(市、区)", "县市区", "县(市、区、山)", "地区名称"}
CODE_HEADERS = {"单位代码", "代码", "区划代码", "行政区划代码"}
CODE_ROW_LABEL = "指标代码"
_BLANK_MARKS = {"", "-", "—", "--", "/", "／", "无"}
_MEASURE_TOKENS = sorted({u for m in UNIT_FACTORS.values() for u in m}, key=len, reverse=True)


def _norm(value: Any) -> str:
    if value is None:
        return ""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(value)))


def _addr(row: int, col: int) -> str:
    return f"{get_column_letter(col)}{row}"


# --- export ----------------------------------------------------------------------------------


def template_columns() -> list[Indicator]:
    """The 附件1's indicators (the land farmers' one is 附件3's: :mod:`.land_farmer_table`)."""
    return [i for i in indicators() if i.attachment == 1]


def default_title(period: str, profile: Profile) -> str:
    return f"{period}年度{profile.city.name}社会保险扩面征缴任务分解表"


def _notes(profile: Profile, units: tuple[PlanUnit, ...]) -> list[str]:
    """The 填表说明 sheet: the unit codes and two examples of former names, from the profile."""
    others = "、".join(f"{u.code}（{u.name}）" for u in units if u.kind != "county")
    examples = [(c.aliases[0], c) for c in profile.counties if c.predecessors and c.aliases] or [
        (c.aliases[0], c) for c in profile.counties if c.aliases
    ]
    shown = "，".join(f"“{a}”即{c.name} {c.code}" for a, c in examples[:2])
    return [
        f"1. 每行一个单位：单位代码为行政区划代码（县级）或 {others}。",
        f"   单位名称可写现名或原名（如{shown}）。" if shown else "   单位名称可写现名或简称。",
        "2. 每列一个指标；第5行为计量单位：参保人数 万人/人，基金征缴 亿元/万元/元，比率 %。",
        "3. 第6行为指标代码，供系统识别；请勿修改。",
        "4. 单元格只填数字；不下达的指标留空或填“-”。导入时出错会给出单元格位置（如 C7）。",
        "5. 清欠率、争取补助资金增长为下限（不低于），新欠比例为上限（不超过）。",
    ]


def write_template(
    path: Path,
    plan: Plan | None = None,
    *,
    units: tuple[PlanUnit, ...] | None = None,
    title: str | None = None,
    period: str | None = None,
    profile: Profile | None = None,
) -> Path:
    """Write the 附件1 template; with ``plan`` the cells hold its targets (in display units).

    Units, title and notes come from the plan's region profile (or ``profile``, default: the
    default profile) unless given."""
    profile = plan.profile if plan else (profile or default_profile())
    units = units or (plan.units if plan else plan_units(profile))
    period = period or (plan.period.code if plan else str(profile.year))
    cols = template_columns()
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = SHEET_NAME
    last = 2 + len(cols)
    ws.cell(row=1, column=1, value=title or default_title(period, profile))
    ws.cell(row=1, column=1).font = st.TITLE_FONT
    ws.cell(row=1, column=1).alignment = st.CENTER
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=last)
    ws.row_dimensions[1].height = 30
    meta = f"计划：{plan.code if plan else '-'}　期间：{period}"
    ws.cell(row=2, column=1, value=meta).font = st.GREY
    ws.cell(
        row=2,
        column=8,
        value="填表说明：参保人数填万人，基金征缴填万元（也可把第5行改为亿元或元），比率填百分数（90 表示90%）；不下达的指标留空。",
    ).font = st.GREY
    for col, label in ((1, "单位代码"), (2, "单位名称")):
        st.header_cell(ws, 3, col, label)
        ws.merge_cells(start_row=3, start_column=col, end_row=5, end_column=col)
    st.header_cell(ws, 6, 1, CODE_ROW_LABEL)
    st.header_cell(ws, 6, 2, "（系统识别用，请勿修改）")
    for r in (6,):
        for c in (1, 2):
            ws.cell(row=r, column=c).font = st.GREY
            ws.cell(row=r, column=c).fill = st.CODE_FILL
    # category headers, merged over their columns
    col = 3
    start = col
    for i, ind in enumerate(cols):
        c = col + i
        st.header_cell(ws, 3, c, CATEGORY_LABELS[ind.category])
        st.header_cell(ws, 4, c, ind.label)
        st.header_cell(ws, 5, c, ind.display_unit)
        code_cell = ws.cell(row=6, column=c, value=ind.code)
        code_cell.font = st.GREY
        code_cell.fill = st.CODE_FILL
        code_cell.border = st.BORDER
        code_cell.alignment = st.CENTER
        nxt = cols[i + 1] if i + 1 < len(cols) else None
        if nxt is None or nxt.category != ind.category:
            if c > start:
                ws.merge_cells(start_row=3, start_column=start, end_row=3, end_column=c)
            start = c + 1
        ws.column_dimensions[get_column_letter(c)].width = 13
    ws.column_dimensions["A"].width = 12
    ws.column_dimensions["B"].width = 18
    ws.row_dimensions[4].height = 45
    for r, u in enumerate(units, start=FIRST_DATA_ROW):
        st.body_cell(ws, r, 1, u.code)
        st.body_cell(ws, r, 2, u.name)
        ws.cell(row=r, column=2).font = st.BOLD
        for i, ind in enumerate(cols):
            t = plan.target(u.code, ind.code, period) if plan else None
            value = from_base(ind, t.value) if t else None
            fmt = "0.0###" if ind.measure != "ratio" else "0.0#"
            st.body_cell(ws, r, 3 + i, value, fmt)
    ws.freeze_panes = ws.cell(row=FIRST_DATA_ROW, column=3)
    from canbao.plan import group_xlsx  # the key-group sheet (重点群体任务)

    group_title = f"{period}年度{profile.city.name}重点群体扩面任务分解表"
    group_xlsx.write_sheet(wb, units, plan, period, group_title)
    notes = wb.create_sheet("填表说明")
    for i, line in enumerate([*_notes(profile, units), *group_xlsx.NOTES], start=1):
        notes.cell(row=i, column=1, value=line).font = st.PLAIN
    notes.column_dimensions["A"].width = 100
    path.parent.mkdir(parents=True, exist_ok=True)
    outputs.save_openpyxl(wb, path)
    return path


# --- import ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportResult:
    targets: tuple[Target, ...]
    period: str
    sheet: str
    columns: dict[str, str]  # indicator code → display unit used in the sheet
    units: tuple[str, ...]  # unit codes with at least one target


class _Sheet:
    """Cell values with merged ranges filled from their top-left cell."""

    def __init__(self, ws: Worksheet) -> None:
        self.ws = ws
        self.merged: dict[tuple[int, int], tuple[int, int]] = {}
        for rng in ws.merged_cells.ranges:
            for r in range(rng.min_row, rng.max_row + 1):
                for c in range(rng.min_col, rng.max_col + 1):
                    self.merged[(r, c)] = (rng.min_row, rng.min_col)

    def raw(self, r: int, c: int) -> Any:
        return self.ws.cell(row=r, column=c).value

    def value(self, r: int, c: int) -> Any:
        rr, cc = self.merged.get((r, c), (r, c))
        return self.ws.cell(row=rr, column=cc).value


def _measure_token(text: str) -> str | None:
    t = text.strip("()（）")
    if t in _MEASURE_TOKENS:
        return t
    m = re.search(r"[(（](" + "|".join(map(re.escape, _MEASURE_TOKENS)) + r")[)）]", text)
    if m:
        return m.group(1)
    m = re.search(r"单位[:：](" + "|".join(map(re.escape, _MEASURE_TOKENS)) + r")", text)
    return m.group(1) if m else None


def parse_number(value: Any, ind: Indicator) -> Decimal | None:
    """A cell value as Decimal in the sheet's unit; None for blank; ValueError if not numeric."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError("boolean")
    if isinstance(value, int | Decimal):
        return Decimal(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("not finite")
        return Decimal(repr(value))
    if not isinstance(value, str):
        raise ValueError(type(value).__name__)
    text = _norm(value).replace(",", "").replace("，", "")
    if text in _BLANK_MARKS:
        return None
    if ind.measure == "ratio" and text.endswith("%"):
        text = text[:-1]
    try:
        out = Decimal(text)
    except InvalidOperation:
        raise ValueError(text) from None
    if not out.is_finite():
        raise ValueError(text)
    return out


def _open(path: Path) -> Worksheet:
    if not path.is_file():
        raise InputFileError(f"文件不存在：{path}", "file not found", path=str(path))
    try:
        wb = load_workbook(path, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError) as e:
        raise InputFileError(
            f"无法作为 xlsx 读取：{path.name}", f"not a readable xlsx file: {e}", path=str(path)
        ) from e
    if SHEET_NAME in wb.sheetnames:
        return wb[SHEET_NAME]
    ws = wb.worksheets[0]
    return ws


def read_targets(
    path: Path,
    default_period: str = "2017",
    *,
    units: tuple[PlanUnit, ...] | None = None,
    max_errors: int = 20,
) -> ImportResult:
    """Read a 附件1 xlsx into targets (base measures) of ``units`` (default: the default
    profile's plan units). Raises DataError naming bad cells."""
    known = units if units is not None else plan_units()
    ws = _open(path)
    sh = _Sheet(ws)
    max_row, max_col = ws.max_row, ws.max_column
    errors: list[str] = []

    def fail() -> None:
        shown = "；".join(errors[:max_errors])
        more = f"；另有 {len(errors) - max_errors} 处" if len(errors) > max_errors else ""
        raise DataError(
            f"任务分解表有误（{path.name}，工作表“{ws.title}”）：{shown}{more}",
            f"{len(errors)} bad cell(s) in task table",
            cells=",".join(e.split(" ", 1)[0] for e in errors[:max_errors]),
        )

    # 1. header row and the unit columns
    header_row = name_col = None
    code_col: int | None = None
    for r in range(1, min(max_row, 20) + 1):
        for c in range(1, min(max_col, 4) + 1):
            text = _norm(sh.raw(r, c))
            if text in UNIT_HEADERS and name_col is None:
                header_row, name_col = r, c
            elif text in CODE_HEADERS and code_col is None:
                code_col = c
        if header_row is not None:
            break
    if header_row is None or name_col is None:
        raise DataError(
            f"任务分解表缺少“单位名称”表头（{path.name}）",
            "no header cell 单位名称/单位/地区 in the first 20 rows",
        )
    key_cols = {name_col} | ({code_col} if code_col else set())

    # 2. first data row: after the header block (merged header cells have empty raw values)
    first = header_row + 1
    while first <= max_row:
        texts = [_norm(sh.raw(first, c)) for c in key_cols]
        if any(t == CODE_ROW_LABEL for t in texts) or not any(texts):
            first += 1
            continue
        if any(t in UNIT_HEADERS | CODE_HEADERS for t in texts):
            first += 1
            continue
        break
    header_rows = range(header_row, first)

    # period from the meta line, if any
    period = default_period
    for r in range(1, header_row):
        for c in range(1, min(max_col, 10) + 1):
            m = re.search(r"期间[:：]\s*(\S+)", _norm(sh.raw(r, c)))
            if m:
                period = m.group(1).rstrip("年")

    # 3. indicator columns
    columns: dict[int, tuple[Indicator, Decimal, str]] = {}
    seen: dict[str, str] = {}
    for c in range(1, max_col + 1):
        if c in key_cols:
            continue
        heads = [(r, _norm(sh.value(r, c))) for r in header_rows]
        heads = [(r, t) for r, t in heads if t]
        if not heads:
            if any(sh.raw(r, c) not in (None, "") for r in range(first, max_row + 1)):
                errors.append(f"{_addr(header_row, c)} 列有数据但没有指标表头")
            continue
        ind: Indicator | None = None
        for _, t in heads:
            try:
                ind = indicator(t)
                break
            except KeyError:
                pass
        labels = [t for _, t in heads if _measure_token(t) != t and t != CODE_ROW_LABEL]
        if ind is None:
            stripped = [re.sub(r"[(（][^)）]*[)）]", "", t) for t in labels]
            for i in range(len(stripped)):
                for j in range(len(stripped)):
                    if ind is None and i != j:
                        ind = resolve_indicator(stripped[j], stripped[i])
            for t in stripped:
                ind = ind or resolve_indicator(t)
        label_cell = _addr(heads[-1][0], c)
        if ind is None:
            shown = "/".join(t for _, t in heads)
            errors.append(f"{label_cell} 未知指标“{shown}”")
            continue
        if ind.code in seen:
            errors.append(f"{label_cell} 指标“{ind.name}”重复（已在 {seen[ind.code]} 列）")
            continue
        seen[ind.code] = get_column_letter(c)
        unit_text = None
        unit_row = header_row
        for r, t in heads:
            tok = _measure_token(t)
            if tok is not None:
                unit_text, unit_row = tok, r
        if unit_text is None:
            errors.append(f"{label_cell} 指标“{ind.name}”缺少计量单位（如 {ind.display_unit}）")
            continue
        f = factor(ind.measure, unit_text)
        if f is None:
            errors.append(f"{_addr(unit_row, c)} 计量单位“{unit_text}”不适用于“{ind.name}”")
            continue
        columns[c] = (ind, f, unit_text)

    # 4. data rows
    targets: list[Target] = []
    unit_rows: dict[str, str] = {}
    for r in range(first, max_row + 1):
        code_val = _norm(sh.raw(r, code_col)) if code_col else ""
        name_val = _norm(sh.raw(r, name_col))
        has_values = any(sh.raw(r, c) not in (None, "") for c in columns)
        if not code_val and not name_val:
            if has_values:
                errors.append(f"{_addr(r, name_col)} 有数据但没有单位名称")
            continue
        if re.match(r"^(注|说明|备注|填表)", name_val or code_val):
            continue
        u = resolve_unit(code_val, known) if code_val else None
        by_name = resolve_unit(name_val, known) if name_val else None
        where = _addr(r, code_col) if (code_col and code_val) else _addr(r, name_col)
        if code_val and u is None:
            errors.append(f"{where} 未知单位“{code_val}”")
            continue
        if name_val and by_name is None:
            errors.append(f"{_addr(r, name_col)} 未知单位“{name_val}”")
            continue
        if u is not None and by_name is not None and by_name.code != u.code:
            errors.append(f"{_addr(r, name_col)} 单位名称“{name_val}”与代码“{code_val}”不符")
            continue
        u = u or by_name
        assert u is not None
        if u.code in unit_rows:
            errors.append(f"{where} 单位“{u.name}”重复（已在第 {unit_rows[u.code]} 行）")
            continue
        unit_rows[u.code] = str(r)
        for c, (ind, f, _) in columns.items():
            raw = sh.raw(r, c)
            try:
                num = parse_number(raw, ind)
            except ValueError:
                errors.append(f"{_addr(r, c)} 不是数字：“{raw}”")
                continue
            if num is None:
                continue
            if num < 0 and ind.measure != "ratio":
                errors.append(f"{_addr(r, c)} 不能为负数：{num}")
                continue
            value = normalize_base(ind.measure, num * f)
            targets.append(Target(u.code, ind.code, period, value, f"附件1:{path.name}"))
    from canbao.plan import group_xlsx  # the key-group sheet, when the workbook has one

    group_targets, group_errors = group_xlsx.read_sheet(path, period, known)
    targets.extend(group_targets)
    errors.extend(group_errors)
    if errors:
        fail()
    if not targets:
        raise DataError(f"任务分解表中没有任何目标数（{path.name}）", "no target values found")
    return ImportResult(
        tuple(targets),
        period,
        ws.title,
        {ind.code: unit for ind, _, unit in columns.values()},
        tuple(dict.fromkeys(t.unit for t in targets)),
    )


def import_into(plan: Plan, path: Path) -> tuple[Plan, ImportResult, int, int]:
    """Merge the targets of a 附件1 xlsx into ``plan`` (imported numbers win)."""
    result = read_targets(path, plan.period.code, units=plan.units)
    merged, added, replaced = plan.with_targets(result.targets)
    return merged, result, added, replaced
