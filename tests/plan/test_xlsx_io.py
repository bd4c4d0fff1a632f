from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from canbao.errors import DataError, InputFileError
from canbao.plan import catalog, sample, xlsx_io
from canbao.plan.indicators import indicator, to_base
from canbao.plan.model import Plan
from canbao.plan.units import plan_units


@pytest.fixture(scope="module")
def plan() -> Plan:
    p = catalog.shipped("jiujiang-2017")
    merged, _, _ = p.with_targets(sample.synthetic_task_table(p))
    return merged


def _key(p: Plan | xlsx_io.ImportResult) -> set[tuple[str, str, str, Decimal]]:
    return {(t.unit, t.indicator, t.period, t.value) for t in p.targets}


def test_round_trip_full_plan(plan: Plan, tmp_path: Path) -> None:
    path = xlsx_io.write_template(tmp_path / "t.xlsx", plan)
    res = xlsx_io.read_targets(path)
    assert _key(res) == _key(plan)
    assert len(res.targets) > 32 + 14 * 12
    assert res.period == "2017"


def test_empty_template_layout(tmp_path: Path) -> None:
    path = xlsx_io.write_template(tmp_path / "empty.xlsx")
    wb = load_workbook(path)
    ws = wb["任务分解表"]
    assert ws.freeze_panes == "C7"
    assert ws["A3"].value == "单位代码" and ws["B3"].value == "单位名称"
    assert ws["C3"].value == "参保人数" and ws["C4"].value == "城镇职工基本养老保险"
    assert ws["C5"].value == "万人" and ws["C6"].value == "enrolled.employee_pension"
    assert ws["I5"].value == "万元" and ws["O5"].value == "%"
    assert ws["B7"].value == "全市" and ws["B8"].value == "市本级" and ws["B22"].value == "开发区"
    assert ws["C7"].font.b is False and ws["C3"].font.b is True
    with pytest.raises(DataError, match="没有任何目标数"):
        xlsx_io.read_targets(path)


def _blank(tmp_path: Path) -> tuple[Path, object]:
    path = xlsx_io.write_template(tmp_path / "t.xlsx")
    wb = load_workbook(path)
    return path, wb


def test_conversion_units_edited_to_yiyuan_and_persons(tmp_path: Path) -> None:
    path, wb = _blank(tmp_path)
    ws = wb["任务分解表"]  # type: ignore[index]
    ws["I5"] = "亿元"  # collected.employee_pension
    ws["C5"] = "人"
    ws["I7"] = 30.96
    ws["C7"] = "908,000"
    ws["O7"] = "90%"  # clearance rate as text with percent sign
    ws["S7"] = 5.5  # subsidy growth in %
    ws["J9"] = 1234.5678  # 万元 → yuan with fen
    wb.save(path)  # type: ignore[attr-defined]
    got = {(t.unit, t.indicator): t.value for t in xlsx_io.read_targets(path).targets}
    assert got[("city", "collected.employee_pension")] == Decimal(3_096_000_000)
    assert got[("city", "enrolled.employee_pension")] == Decimal(908_000)
    assert got[("city", "clearance_rate.private")] == Decimal("0.9")
    assert got[("city", "subsidy_growth")] == Decimal("0.055")
    assert got[("360402", "collected.medical")] == Decimal("12345678")
    assert to_base(indicator("collected.work_injury"), Decimal("7900"), "万元") == 79_000_000


@pytest.mark.parametrize(
    ("cell", "value", "expect"),
    [
        ("C7", "九十万", "C7 不是数字"),
        ("D9", True, "D9 不是数字"),
        ("B10", "火星县", "B10 未知单位"),
        ("A10", "999999", "A10 未知单位"),
        ("E4", "养老金发放", None),  # label edited but code row still identifies the column
        ("E6", "enrolled.pets", "E6 未知指标"),
        ("C5", "亿元", "C5 计量单位“亿元”不适用"),
        ("B9", "浔阳区", "B9 单位名称“浔阳区”与代码“360402”不符"),
    ],
)
def test_bad_sheets_name_the_cell(
    tmp_path: Path, cell: str, value: object, expect: str | None
) -> None:
    path, wb = _blank(tmp_path)
    ws = wb["任务分解表"]  # type: ignore[index]
    ws["C8"] = 26  # one good value so the sheet is not empty
    ws[cell] = value
    if cell == "E6":
        ws["E4"] = "养老金发放"  # neither the code nor the label is known
    wb.save(path)  # type: ignore[attr-defined]
    if expect is None:
        assert xlsx_io.read_targets(path).targets
        return
    with pytest.raises(DataError) as ei:
        xlsx_io.read_targets(path)
    assert expect in ei.value.message_zh
    assert ei.value.details["cells"].split(",")[0] == expect.split(" ")[0]


def test_not_an_xlsx(tmp_path: Path) -> None:
    bad = tmp_path / "x.xlsx"
    bad.write_text("hello", encoding="utf-8")
    with pytest.raises(InputFileError):
        xlsx_io.read_targets(bad)
    with pytest.raises(InputFileError):
        xlsx_io.read_targets(tmp_path / "missing.xlsx")


def test_import_into_merges_and_counts(tmp_path: Path) -> None:
    base = catalog.shipped("jiujiang-2017")
    path, wb = _blank(tmp_path)
    ws = wb["任务分解表"]  # type: ignore[index]
    ws["C7"] = 91  # 全市 employee pension changed from 90.8 to 91万人
    ws["C9"] = 5.5  # 濂溪区 new
    wb.save(path)  # type: ignore[attr-defined]
    merged, _, added, replaced = xlsx_io.import_into(base, path)
    assert (added, replaced) == (1, 1)
    assert merged.target("city", "enrolled.employee_pension").value == 910_000  # type: ignore[union-attr]
    assert merged.target("360402", "enrolled.employee_pension").value == 55_000  # type: ignore[union-attr]
    assert len(merged.targets) == len(base.targets) + 1


def test_hand_typed_fujian1_without_code_row(tmp_path: Path) -> None:
    """A 附件1 as a clerk would type it: 地区 column, units of measure in the category header."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "Sheet1"
    ws["A1"] = "2017年度九江市社会保险扩面征缴任务分解表"
    ws["A2"] = "地区"
    ws.merge_cells("A2:A3")
    ws["B2"] = "参保人数（万人）"
    ws.merge_cells("B2:C2")
    ws["B3"] = "城镇职工基本养老保险"
    ws["C3"] = "失业保险"
    ws["D2"] = "基金征缴（亿元）"
    ws["D3"] = "城镇职工基本养老保险"
    ws["E2"] = "清欠率(%)"
    ws.merge_cells("E2:F2")
    ws["E3"] = "民营私营企业"
    ws["F3"] = "国有集体企业和事业单位"
    rows = [
        ("九江县", 3.1, 1.2, 0.85, 90, "-"),
        ("庐山市(含庐山局)", 2.2, "0.9", 0.5, 88.5, 80),
        ("开发区", 1, None, 0.3, None, None),
        ("注：九江县即柴桑区。", None, None, None, None, None),
    ]
    for r in rows:
        ws.append(list(r))
    path = tmp_path / "fujian1.xlsx"
    wb.save(path)
    got = {(t.unit, t.indicator): t.value for t in xlsx_io.read_targets(path).targets}
    assert got == {
        ("360404", "enrolled.employee_pension"): Decimal(31_000),
        ("360404", "enrolled.unemployment"): Decimal(12_000),
        ("360404", "collected.employee_pension"): Decimal(85_000_000),
        ("360404", "clearance_rate.private"): Decimal("0.9"),
        ("360483", "enrolled.employee_pension"): Decimal(22_000),
        ("360483", "enrolled.unemployment"): Decimal(9_000),
        ("360483", "collected.employee_pension"): Decimal(50_000_000),
        ("360483", "clearance_rate.private"): Decimal("0.885"),
        ("360483", "clearance_rate.public"): Decimal("0.8"),
        ("devzone", "enrolled.employee_pension"): Decimal(10_000),
        ("devzone", "collected.employee_pension"): Decimal(30_000_000),
    }


_IND_CODES = [i.code for i in xlsx_io.template_columns()]  # 附件1's (附件3: its own table)
_UNIT_CODES = [u.code for u in plan_units()]


@st.composite
def _targets(draw: st.DrawFn) -> list[tuple[str, str, Decimal]]:
    keys = draw(
        st.lists(
            st.tuples(st.sampled_from(_UNIT_CODES), st.sampled_from(_IND_CODES)),
            min_size=1,
            max_size=25,
            unique=True,
        )
    )
    out = []
    for unit, code in keys:
        measure = indicator(code).measure
        if measure == "persons":
            v = Decimal(draw(st.integers(0, 50_000_000)))
        elif measure == "yuan":
            v = Decimal(draw(st.integers(0, 10**12))) / 100  # fen precision
        else:
            v = Decimal(draw(st.integers(0, 2_000_000))) / 1_000_000
        out.append((unit, code, v))
    return out


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(_targets())
def test_round_trip_property(tmp_path: Path, targets: list[tuple[str, str, Decimal]]) -> None:
    from canbao.plan.indicators import normalize_base
    from canbao.plan.model import Period, Target

    plan = Plan(
        code="p",
        title="p",
        period=Period("2019", date(2019, 1, 1), date(2019, 12, 31)),
        targets=tuple(Target(u, c, "2019", v) for u, c, v in targets),
    )
    path = xlsx_io.write_template(tmp_path / "p.xlsx", plan)
    got = {(t.unit, t.indicator, t.period): t.value for t in xlsx_io.read_targets(path).targets}
    want = {(u, c, "2019"): normalize_base(indicator(c).measure, v) for u, c, v in targets}
    assert got == want
