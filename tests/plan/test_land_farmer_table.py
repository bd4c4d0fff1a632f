"""附件3: the land-expropriated farmers' task table (template, import, errors, CLI)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook

from canbao.cli import run
from canbao.errors import DataError, InputFileError
from canbao.plan import catalog, land_farmer_table, xlsx_io
from canbao.plan.units import plan_units
from canbao.profile import load_profile

GANZHOU = Path(__file__).resolve().parents[1] / "profile" / "data" / "ganzhou.toml"
IND = "land_farmer.pension"


def _fill(path: Path, rows: dict[int, object], sheet: str = "任务分解表") -> Path:
    """Put values into column C of the given rows of a template."""
    wb = load_workbook(path)
    ws = wb[sheet]
    for r, v in rows.items():
        ws.cell(row=r, column=3, value=v)
    wb.save(path)
    return path


def _row_of(path: Path, name: str) -> int:
    ws = load_workbook(path)["任务分解表"]
    return next(r for r in range(4, ws.max_row + 1) if ws.cell(row=r, column=2).value == name)


def test_template_lists_the_profiles_ranked_units(tmp_path: Path) -> None:
    for prof in (load_profile("jiujiang"), load_profile(GANZHOU)):
        path = land_farmer_table.write_template(tmp_path / f"{prof.name}.xlsx", profile=prof)
        ws = load_workbook(path)["任务分解表"]
        assert ws["A3"].value == "单位代码" and ws["C3"].value == "参保任务数（人）"
        codes = [ws.cell(row=r, column=1).value for r in range(4, ws.max_row + 1)]
        assert codes == [u.code for u in plan_units(prof) if u.ranked]
        assert prof.city.name in ws["A1"].value and ws.freeze_panes == "C4"


def test_round_trip_and_city_sum(tmp_path: Path) -> None:
    plan = catalog.shipped("jiujiang-2017")
    values = {"360404": 120, "360402": 80, "devzone": 15}
    path = land_farmer_table.write_template(tmp_path / "a3.xlsx", plan, values=values)
    table = land_farmer_table.read_table(path, "2017", plan.units)
    got = {t.unit: t.value for t in table.targets}
    assert got == {"360404": 120, "360402": 80, "devzone": 15, "city": 215}
    assert table.city_summed and table.period == "2017"
    assert all(t.indicator == IND for t in table.targets)
    merged, removed = land_farmer_table.merge_into(plan, table)
    assert removed == 0 and merged.target("city", IND).value == Decimal(215)
    # pre-filled from the plan: the same numbers come back
    again = land_farmer_table.write_template(tmp_path / "again.xlsx", merged)
    table2 = land_farmer_table.read_table(again, "2017", plan.units)
    assert {t.unit: t.value for t in table2.targets} == got


def test_total_row_names_and_wan_ren(tmp_path: Path) -> None:
    """A 合计 row is the city's target as given; former names resolve; 万人 converts."""
    wb = Workbook()
    ws = wb.active
    ws.append(["九江市被征地农民参加基本养老保险任务分解表"])
    ws.append(["单位名称", "参保任务数（万人）"])
    ws.append(["九江县", 0.012])  # a former name of 柴桑区
    ws.append(["庐山区", "0.03"])  # 濂溪区
    ws.append(["合计", 0.05])
    ws.append(["注：本表为示例"])
    path = tmp_path / "a3.xlsx"
    wb.save(path)
    table = land_farmer_table.read_table(path, "2017", plan_units())
    assert {t.unit: t.value for t in table.targets} == {"360404": 120, "360402": 300, "city": 500}
    assert not table.city_summed


def test_bad_cells_are_named_in_chinese(tmp_path: Path) -> None:
    path = land_farmer_table.write_template(tmp_path / "bad.xlsx")
    ws_rows = {_row_of(path, "濂溪区"): "九十", _row_of(path, "柴桑区"): -5}
    ws_rows[_row_of(path, "修水县")] = 12.5
    _fill(path, ws_rows)
    wb = load_workbook(path)
    ws = wb["任务分解表"]
    last = ws.max_row
    ws.cell(row=last + 1, column=2, value="火星县")
    ws.cell(row=last + 1, column=3, value=3)
    ws.cell(row=last + 2, column=2, value="修水")  # 修水县 again, by its short name
    ws.cell(row=last + 2, column=3, value=4)
    ws.cell(row=last + 3, column=1, value="360404")
    ws.cell(row=last + 3, column=2, value="武宁县")
    wb.save(path)
    with pytest.raises(DataError) as ei:
        land_farmer_table.read_table(path, "2017", plan_units())
    msg = ei.value.message_zh
    r1, r2, r3 = _row_of(path, "濂溪区"), _row_of(path, "柴桑区"), _row_of(path, "修水县")
    assert f"C{r1} 不是数字：“九十”" in msg
    assert f"C{r2} 不能为负数" in msg
    assert f"C{r3} 人数须为整数" in msg
    assert f"B{last + 1} 未知单位“火星县”" in msg
    assert f"B{last + 2} 单位“修水县”重复" in msg
    assert f"B{last + 3} 单位名称“武宁县”与代码“360404”不符" in msg
    assert ei.value.details["cells"].split(",")[:2] == [f"C{r1}", f"C{r2}"]


def test_missing_header_empty_table_and_not_xlsx(tmp_path: Path) -> None:
    wb = Workbook()
    wb.active.append(["单位名称", "备注"])
    wb.active.append(["柴桑区", "x"])
    wb.save(tmp_path / "nohead.xlsx")
    with pytest.raises(DataError, match="缺少表头 “参保任务数”"):
        land_farmer_table.read_table(tmp_path / "nohead.xlsx", "2017", plan_units())
    empty = land_farmer_table.write_template(tmp_path / "empty.xlsx")
    with pytest.raises(DataError, match="没有任何任务数"):
        land_farmer_table.read_table(empty, "2017", plan_units())
    (tmp_path / "a3.xls").write_bytes(b"\xd0\xcf\x11\xe0not really")
    with pytest.raises(InputFileError, match="须为 .xlsx"):
        land_farmer_table.read_table(tmp_path / "a3.xls", "2017", plan_units())
    (tmp_path / "broken.xlsx").write_bytes(b"PK\x03\x04 broken")
    with pytest.raises(InputFileError, match="无法作为 xlsx 读取"):
        land_farmer_table.read_table(tmp_path / "broken.xlsx", "2017", plan_units())


def test_annex1_template_has_no_land_farmer_column(tmp_path: Path) -> None:
    path = xlsx_io.write_template(tmp_path / "a1.xlsx")
    ws = load_workbook(path)["任务分解表"]
    codes = {ws.cell(row=6, column=c).value for c in range(3, ws.max_column + 1)}
    assert IND not in codes and "subsidy_growth" in codes


def test_import_stores_and_replaces(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = land_farmer_table.write_template(
        tmp_path / "1.xlsx", values={"360404": 100, "360402": 50}
    )
    s = land_farmer_table.import_table(first, data, "jiujiang-2017")
    assert s.path == data / "plans" / "jiujiang-2017.json" and s.removed == 0
    stored = catalog.load("jiujiang-2017", data)
    assert stored.target("city", IND).value == 150
    assert stored.target("city", "enrolled.employee_pension") is not None  # the rest is kept
    second = land_farmer_table.write_template(tmp_path / "2.xlsx", values={"360404": 90})
    s2 = land_farmer_table.import_table(second, data, "jiujiang-2017")
    assert s2.removed == 3  # 柴桑区, 濂溪区, 全市: a new table replaces the old one
    stored = catalog.load("jiujiang-2017", data)
    assert {t.unit: t.value for t in stored.targets if t.indicator == IND} == {
        "360404": 90,
        "city": 90,
    }


def test_cli_template_and_import(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    out = tmp_path / "附件3.xlsx"
    assert (
        run(["plan", "land-farmers", "template", "--out", str(out), "--data-dir", str(data)]) == 0
    )
    _fill(out, {_row_of(out, "柴桑区"): 200, _row_of(out, "开发区"): 20})
    code = run(["plan", "land-farmers", "import", str(out), "--data-dir", str(data)])
    printed = capsys.readouterr().out
    assert code == 0 and "2 个单位，全市 220 人（各单位之和）" in printed
    assert run(["plan", "show", "--data-dir", str(data)]) == 0
    assert "被征地农民参加基本养老保险人数" in capsys.readouterr().out
    _fill(out, {_row_of(out, "濂溪区"): "很多"})
    assert run(["plan", "land-farmers", "import", str(out), "--data-dir", str(data)]) == 1
    err = capsys.readouterr().err
    assert "错误" in err and "不是数字" in err and "Traceback" not in err
