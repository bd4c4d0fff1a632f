"""附件3, the land-expropriated farmers' task table (被征地农民参加基本养老保险任务分解表): the
number of land-expropriated farmers each unit is to enrol in basic pension, as xlsx template and
import. Its targets are the plan's ``land_farmer.pension`` (persons).

Template (sheet 任务分解表, plus 填表说明):

====  ==========================================================================
row   content
====  ==========================================================================
1     title (merged)
2     ``计划：<plan>　期间：<period>``
3     单位代码 · 单位名称 · 参保任务数（人） · 备注
4…    one row per county unit and zone (the region profile's), values from column C
====  ==========================================================================

Import finds the header row by its words (title rows above it are skipped; 单位代码 or
单位名称 may be missing, not both), reads the unit of measure of the task column from its header
(``（人）`` by default, ``（万人）`` accepted), resolves units like the 附件1 (code, name, former
name; ``合计`` / ``全市`` is the whole city) and rejects, naming every bad cell: unknown unit,
code and name that disagree, a unit listed twice, non-numeric, negative or fractional numbers.
Without a 合计 row the city's target is the sum of the rows. Importing replaces the plan's
previous 附件3 targets of that period (a new table is a new decomposition, not an addition).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from pathlib import Path

from openpyxl import Workbook
from openpyxl.worksheet.worksheet import Worksheet

from canbao import outputs
from canbao.errors import DataError
from canbao.ingest.forms import addr, find_header, norm, open_form
from canbao.plan import catalog
from canbao.plan import xlsx_style as st
from canbao.plan.indicators import indicator, normalize_base
from canbao.plan.model import Period, Plan, Target
from canbao.plan.units import CITY, PlanUnit, plan_units, resolve_unit
from canbao.plan.xlsx_io import CODE_HEADERS, UNIT_HEADERS, parse_number
from canbao.profile import Profile, default_profile, profile_for, remember
from canbao.warehouse.lock import writes_data_dir

INDICATOR = "land_farmer.pension"
SHEET_NAME = "任务分解表"
WHAT = "被征地农民参保任务分解表"
TASK_HEADERS = (
    "参保任务数", "任务数", "被征地农民参保任务数", "被征地农民参加基本养老保险任务数",
    "参加基本养老保险任务数", "目标任务数", "参保任务", "任务",
)  # fmt: skip
TOTAL_NAMES = {"合计", "总计", "全市合计", "全市"}
FACTORS = {"人": Decimal(1), "万人": Decimal(10_000)}
MAX_ERRORS = 20


def default_title(period: str, profile: Profile) -> str:
    return f"{period}年度{profile.city.name}被征地农民参加基本养老保险任务分解表"


def template_units(profile: Profile) -> tuple[PlanUnit, ...]:
    """The rows of the template: the ranked units (counties, zones)."""
    return tuple(u for u in plan_units(profile) if u.ranked)


def write_template(
    path: Path,
    plan: Plan | None = None,
    *,
    profile: Profile | None = None,
    title: str | None = None,
    values: dict[str, int] | None = None,
) -> Path:
    """Write the 附件3 template, empty or with ``plan``'s land-farmer targets (or ``values``:
    {unit code: persons}) filled in."""
    profile = plan.profile if plan else (profile or default_profile())
    period = plan.period.code if plan else str(profile.year)
    ind = indicator(INDICATOR)
    filled: dict[str, int] = dict(values or {})
    if plan is not None and not filled:
        filled = {
            t.unit: int(t.value)
            for t in plan.targets
            if t.indicator == INDICATOR and t.period == period
        }
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = SHEET_NAME
    ws.cell(row=1, column=1, value=title or default_title(period, profile)).font = st.TITLE_FONT
    ws.cell(row=1, column=1).alignment = st.CENTER
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=4)
    ws.row_dimensions[1].height = 30
    ws.cell(
        row=2, column=1, value=f"计划：{plan.code if plan else '-'}　期间：{period}"
    ).font = st.GREY
    for c, (label, width) in enumerate(
        (
            ("单位代码", 12),
            ("单位名称", 18),
            (f"参保任务数（{ind.display_unit}）", 18),
            ("备注", 30),
        ),
        start=1,
    ):
        st.header_cell(ws, 3, c, label)
        ws.column_dimensions[chr(64 + c)].width = width
    for r, u in enumerate(template_units(profile), start=4):
        st.body_cell(ws, r, 1, u.code)
        st.body_cell(ws, r, 2, u.name)
        st.body_cell(ws, r, 3, filled.get(u.code), "#,##0")
        st.body_cell(ws, r, 4, None)
    ws.freeze_panes = "C4"
    notes = wb.create_sheet("填表说明")
    for i, line in enumerate(
        [
            "1. 每行一个单位：单位代码为县级行政区划代码或开发区等单位的代码，单位名称可写现名或原名。",
            "2. 参保任务数：本年度应参加基本养老保险（职工养老或城乡居民养老）的被征地农民人数，填整数（人）。",
            "3. 不下达任务的单位留空或填“-”；可在最后加一行“合计”作为全市任务数，不填则按各行之和计。",
            "4. 导入：canbao plan land-farmers import 本表.xlsx；出错时会给出单元格位置（如 C7）。",
        ],
        start=1,
    ):
        notes.cell(row=i, column=1, value=line).font = st.PLAIN
    notes.column_dimensions["A"].width = 100
    path.parent.mkdir(parents=True, exist_ok=True)
    outputs.save_openpyxl(wb, path)
    return path


@dataclass(frozen=True)
class LandFarmerTable:
    targets: tuple[Target, ...]  # the rows' targets and the city's (given or summed)
    period: str
    city_summed: bool  # True: no 合计 row, the city's target is the sum of the rows


def _period(ws: Worksheet, header_row: int, default: str) -> str:
    for r in range(1, header_row):
        for c in range(1, 6):
            m = re.search(r"期间[:：]\s*(\d{4})", norm(ws.cell(row=r, column=c).value))
            if m:
                return m.group(1)
    return default


def read_table(path: Path, default_period: str, units: tuple[PlanUnit, ...]) -> LandFarmerTable:
    """The targets of a filled 附件3 (base measure: persons). Raises :class:`DataError` naming
    every bad cell (``details["cells"]``)."""
    ws = open_form(path, SHEET_NAME, what=WHAT)
    fields = {"task": TASK_HEADERS, "name": tuple(UNIT_HEADERS), "code": tuple(CODE_HEADERS)}
    head, cols = find_header(ws, fields, ("task",), what=WHAT, file_name=path.name)
    if "name" not in cols and "code" not in cols:
        raise DataError(f"{WHAT}缺少表头“单位名称”或“单位代码”（{path.name}）", "no unit column")
    header_text = norm(ws.cell(row=head, column=cols["task"]).value)
    unit_text = next((u for u in ("万人", "人") if f"({u})" in header_text), "人")
    factor = FACTORS[unit_text]
    period = _period(ws, head, default_period)
    ind = indicator(INDICATOR)
    errors: list[str] = []
    seen: dict[str, int] = {}
    values: dict[str, Decimal] = {}
    source = f"附件3:{path.name}"
    for r in range(head + 1, ws.max_row + 1):
        code = norm(ws.cell(row=r, column=cols["code"]).value) if "code" in cols else ""
        name = norm(ws.cell(row=r, column=cols["name"]).value) if "name" in cols else ""
        raw = ws.cell(row=r, column=cols["task"]).value
        if not code and not name:
            if raw not in (None, ""):
                errors.append(f"{addr(r, cols['task'])} 有数据但没有单位")
            continue
        if re.match(r"^(注|说明|备注|填表)", name or code):
            continue
        where = addr(r, cols["code"] if code else cols["name"])
        u = _unit(code, name, units)
        if isinstance(u, tuple):  # (what is wrong, the column to name)
            errors.append(f"{addr(r, cols[u[1]])} {u[0]}")
            continue
        if u.code in seen:
            errors.append(f"{where} 单位“{u.name}”重复（已在第 {seen[u.code]} 行）")
            continue
        seen[u.code] = r
        try:
            num = parse_number(raw, ind)
        except ValueError:
            errors.append(f"{addr(r, cols['task'])} 不是数字：“{raw}”")
            continue
        if num is None:
            continue
        persons = num * factor
        if persons < 0:
            errors.append(f"{addr(r, cols['task'])} 不能为负数：{num}")
        elif persons != persons.to_integral_value():
            errors.append(f"{addr(r, cols['task'])} 人数须为整数：{num}{unit_text}")
        else:
            values[u.code] = normalize_base("persons", persons)
    if errors:
        shown = "；".join(errors[:MAX_ERRORS])
        more = f"；另有 {len(errors) - MAX_ERRORS} 处" if len(errors) > MAX_ERRORS else ""
        raise DataError(
            f"{WHAT}有误（{path.name}，工作表“{ws.title}”）：{shown}{more}",
            f"{len(errors)} bad cell(s) in the land-farmer task table",
            cells=",".join(e.split(" ", 1)[0] for e in errors[:MAX_ERRORS]),
        )
    parts = {k: v for k, v in values.items() if k != CITY}
    if not parts:
        raise DataError(f"{WHAT}中没有任何任务数（{path.name}）", "no task values found")
    summed = CITY not in values
    if summed:
        values[CITY] = sum(parts.values(), Decimal(0))
    targets = tuple(
        Target(u, INDICATOR, period, v, source + ("（各单位合计）" if u == CITY and summed else ""))
        for u, v in values.items()
    )
    return LandFarmerTable(targets, period, summed)


def _unit(code: str, name: str, units: tuple[PlanUnit, ...]) -> PlanUnit | tuple[str, str]:
    """The row's unit, or what is wrong with it (Chinese) and the column to name."""
    city = next(u for u in units if u.code == CITY)
    by_code = resolve_unit(code, units) if code else None
    by_name = (city if name in TOTAL_NAMES else resolve_unit(name, units)) if name else None
    if code and by_code is None:
        return f"未知单位“{code}”", "code"
    if name and by_name is None:
        return f"未知单位“{name}”", "name"
    if by_code is not None and by_name is not None and by_code.code != by_name.code:
        return f"单位名称“{name}”与代码“{code}”不符", "name"
    out = by_code or by_name
    assert out is not None
    return out


def merge_into(plan: Plan, table: LandFarmerTable) -> tuple[Plan, int]:
    """``plan`` with its 附件3 targets of the table's period replaced by the table's; returns
    (plan, number of previous 附件3 targets removed)."""
    keep = tuple(
        t for t in plan.targets if not (t.indicator == INDICATOR and t.period == table.period)
    )
    merged, _, _ = replace(plan, targets=keep).with_targets(table.targets)
    return merged, len(plan.targets) - len(keep)


@dataclass(frozen=True)
class LandFarmerImport:
    path: Path  # the stored plan
    plan: Plan
    table: LandFarmerTable
    removed: int


@writes_data_dir("plan")
def import_table(
    xlsx: Path, data_dir: Path, plan_code: str | None = None, profile: Profile | None = None
) -> LandFarmerImport:
    """Import a filled 附件3 into the plan (stored or shipped; a new plan if neither) and store
    it under ``data_dir`` (like ``canbao plan import``; the data directory remembers the
    profile)."""
    if profile is None:
        profile = profile_for(data_dir).profile
    plan_code = plan_code or catalog.default_plan(profile)
    if catalog.exists(plan_code, data_dir):
        base = catalog.load(plan_code, data_dir, profile)
    else:
        table = read_table(xlsx, str(profile.year), plan_units(profile))
        year = int(table.period)
        base = Plan(
            code=plan_code,
            title=f"{plan_code}（由任务分解表导入）",
            period=Period(str(year), date(year, 1, 1), date(year, 12, 31), f"{year}年"),
            profile=profile,
        )
    table = read_table(xlsx, base.period.code, base.units)
    merged, removed = merge_into(base, table)
    path = catalog.save(merged, data_dir)
    remember(data_dir, profile)
    return LandFarmerImport(path, merged, table, removed)
