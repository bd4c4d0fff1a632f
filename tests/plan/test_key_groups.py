"""Key-group targets (重点群体): the plan model, its JSON, the 附件1's 重点群体任务 sheet, actuals
with a group and the 通报's section — shown where a plan has such targets, omitted otherwise."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from openpyxl import load_workbook

from canbao.errors import DataError
from canbao.plan import catalog, group_xlsx, xlsx_io
from canbao.plan.actuals import FileActuals, FrameActuals, normalize_all
from canbao.plan.api import make_report, targets_json
from canbao.plan.key_groups import KEY_GROUPS, resolve_key_group
from canbao.plan.model import Plan
from canbao.plan.progress import compute_progress

AS_OF = date(2017, 9, 30)


def _with_groups(plan: Plan) -> Plan:
    """The shipped plan plus a few key-group targets, given as the JSON would give them."""
    d = plan.to_dict()
    d["targets"] += [
        {"unit": "修水县", "indicator": "enrolled.employee_pension", "value": "1200",
         "group": "灵活就业"},
        {"unit": "全市", "indicator": "enrolled.employee_pension", "value": "3.5",
         "display_unit": "万人", "group": "flexible_worker"},
        {"unit": "360404", "indicator": "enrolled.resident_pension", "value": "800",
         "group": "被征地农民"},
        {"unit": "city", "indicator": "enrolled.employee_pension", "value": "52000",
         "group": "民营、私营企业"},
    ]  # fmt: skip
    return Plan.from_dict(d)


@pytest.fixture(scope="module")
def plan() -> Plan:
    return _with_groups(catalog.shipped("jiujiang-2017"))


def test_the_plan_names_its_key_groups() -> None:
    shipped = catalog.shipped("jiujiang-2017")
    assert [g.name for g in shipped.key_groups] == [
        "园区企业",
        "民营私企",
        "灵活就业",
        "失地农民",
        "村干部",
    ]
    assert shipped.group_targets == ()  # the seed gives no numbers for them
    assert resolve_key_group("灵活就业人员").code == "flexible_worker"  # type: ignore[union-attr]
    assert resolve_key_group("失地农民").code == "land_expropriated"  # type: ignore[union-attr]
    assert resolve_key_group("火星人") is None
    assert len({g.code for g in KEY_GROUPS}) == 5


def test_group_targets_parse_from_json_and_round_trip(plan: Plan) -> None:
    g = plan.target("360424", "enrolled.employee_pension", group="flexible_worker")
    assert g is not None and g.value == Decimal(1200)
    assert plan.target("city", "enrolled.employee_pension", group="flexible_worker").value == 35000  # type: ignore[union-attr]
    assert plan.target("360404", "enrolled.resident_pension", group="land_expropriated") is not None
    # the unit's own target is not the group's
    own = plan.target("city", "enrolled.employee_pension")
    assert own is not None and own.value == 908000 and own.group is None
    assert plan.target("360424", "enrolled.employee_pension") is None
    assert len(plan.group_targets) == 4
    assert all(t.unit != "360424" for t in plan.targets_for("360424"))
    again = Plan.from_dict(plan.to_dict())
    assert again.targets == plan.targets
    rows = [r for r in targets_json(plan) if "group" in r]
    assert {(r["unit"], r["group"], r["value"]) for r in rows} >= {
        ("360424", "flexible_worker", 1200)
    }
    assert not any("group" in r for r in targets_json(catalog.shipped("jiujiang-2017")))


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ({"group": "火星人"}, "未知重点群体"),
        ({"group": "灵活就业", "indicator": "collected.employee_pension"}, "只能下达参保人数"),
    ],
)
def test_bad_group_targets_are_data_errors(target: dict[str, str], message: str) -> None:
    d = catalog.shipped("jiujiang-2017").to_dict()
    d["targets"].append(
        {"unit": "修水县", "indicator": "enrolled.employee_pension", "value": "1", **target}
    )
    with pytest.raises(DataError, match=message):
        Plan.from_dict(d)


def test_group_targets_round_trip_through_the_task_table(plan: Plan, tmp_path: Path) -> None:
    path = xlsx_io.write_template(tmp_path / "t.xlsx", plan)
    wb = load_workbook(path)
    assert wb.sheetnames == ["任务分解表", group_xlsx.SHEET_NAME, "填表说明"]
    ws = wb[group_xlsx.SHEET_NAME]
    assert ws["A3"].value == "单位代码" and ws["C3"].value == "园区企业"
    assert ws["C6"].value == "park:enrolled.employee_pension" and ws["C5"].value == "人"
    res = xlsx_io.read_targets(path, units=plan.units)
    got = {t.key: t.value for t in res.targets if t.group}
    assert got == {t.key: t.value for t in plan.group_targets}
    merged, _, _ = catalog.shipped("jiujiang-2017").with_targets(res.targets)
    assert {t.key: t.value for t in merged.group_targets} == got
    assert all(t.source == "附件1:t.xlsx" for t in merged.group_targets)


def test_a_hand_made_group_sheet_without_codes(tmp_path: Path) -> None:
    """Headers as a bureau writes them: group names, scheme labels, 人 in the header; no code
    row, no code column."""
    path = xlsx_io.write_template(tmp_path / "t.xlsx")
    wb = load_workbook(path)
    del wb[group_xlsx.SHEET_NAME]
    ws = wb.create_sheet(group_xlsx.SHEET_NAME, 1)
    ws.append(["2017年重点群体扩面任务"])
    ws.append(["单位", "灵活就业人员", "被征地农民"])
    ws.append([None, "城镇职工基本养老保险（人）", "城乡居民养老保险（人）"])
    ws.append(["九江县", 120, None])
    ws.append(["都昌县", "1,050", 35])
    wb.save(path)
    res = xlsx_io.read_targets(path)
    got = {(t.unit, t.indicator, t.group): t.value for t in res.targets}
    assert got == {
        ("360404", "enrolled.employee_pension", "flexible_worker"): 120,
        ("360428", "enrolled.employee_pension", "flexible_worker"): 1050,
        ("360428", "enrolled.resident_pension", "land_expropriated"): 35,
    }


def test_bad_group_cells_are_named_with_their_sheet(plan: Plan, tmp_path: Path) -> None:
    path = xlsx_io.write_template(tmp_path / "t.xlsx", plan)
    wb = load_workbook(path)
    ws = wb[group_xlsx.SHEET_NAME]
    ws["D9"] = "很多"
    ws["B10"] = "火星县"
    ws["E4"] = "基金征缴"  # a group column that is not an enrolment target
    ws["E6"] = None
    wb.save(path)
    with pytest.raises(DataError) as ei:
        xlsx_io.read_targets(path, units=plan.units)
    cells = str(ei.value.details["cells"])
    assert "重点群体任务!D9" in cells and "重点群体任务!B10" in cells
    assert "不是数字" in ei.value.message_zh and "未知单位“火星县”" in ei.value.message_zh


def test_actuals_with_a_group_column(tmp_path: Path, plan: Plan) -> None:
    csv = tmp_path / "完成数.csv"
    csv.write_text(
        "单位,指标,重点群体,完成数\n"
        "修水县,城镇职工基本养老保险参保人数,灵活就业,900\n"
        "修水县,城镇职工基本养老保险参保人数,,30000\n"
        "全市,enrolled.employee_pension,flexible_worker,36000\n",
        encoding="utf-8",
    )
    frame = FileActuals(csv).actuals(plan, AS_OF)
    own, grouped = normalize_all(frame, AS_OF, units=plan.units)
    assert own == {("360424", "enrolled.employee_pension"): Decimal(30000)}
    assert grouped == {
        ("360424", "enrolled.employee_pension", "flexible_worker"): Decimal(900),
        ("city", "enrolled.employee_pension", "flexible_worker"): Decimal(36000),
    }
    csv.write_text(
        "单位,指标,重点群体,完成数\n修水县,enrolled.medical,火星人,1\n", encoding="utf-8"
    )
    with pytest.raises(DataError, match="未知重点群体"):
        normalize_all(FileActuals(csv).actuals(plan, AS_OF), AS_OF, units=plan.units)


def _actuals(with_groups: bool) -> FrameActuals:
    rows = [("360424", "enrolled.employee_pension", None, "30000")]
    if with_groups:
        rows += [
            ("360424", "enrolled.employee_pension", "flexible_worker", "900"),
            ("city", "enrolled.employee_pension", "private", "26000"),
        ]
    return FrameActuals(
        pl.DataFrame(rows, schema=["unit", "indicator", "group", "value"], orient="row"), "测试"
    )


def test_progress_keeps_group_targets_apart(plan: Plan) -> None:
    own, grouped = normalize_all(_actuals(True).frame, AS_OF, units=plan.units)
    p = compute_progress(plan, own, AS_OF, group_actuals=grouped)
    assert all(r.group is None for r in p.rows) and len(p.group_rows) == 4
    flex = next(r for r in p.group_rows if r.unit == "360424")
    assert flex.actual == 900 and flex.completion == Decimal("0.75")
    private = next(r for r in p.group_rows if r.group == "private")
    assert private.completion == Decimal("0.5") and private.behind  # 50% < 74.8%
    land = next(r for r in p.group_rows if r.group == "land_expropriated")
    assert land.actual is None and land.completion is None
    plain = compute_progress(catalog.shipped("jiujiang-2017"), own, AS_OF)
    assert [r for r in p.rows] == [r for r in plain.rows]  # not ranked, not scored


def test_report_shows_the_group_section_where_the_plan_has_group_targets(
    plan: Plan, tmp_path: Path
) -> None:
    files = make_report(plan, AS_OF, tmp_path / "g", actuals=_actuals(True), pdf=False)
    html = files.html.read_text("utf-8")
    assert "重点群体扩面目标完成情况" in html
    assert "1,200人" in html and "900人" in html and "75.0%" in html
    assert "重点群体。</b>" in html  # the narrative's paragraph
    assert "无数据" in html  # 失地农民 in 柴桑区: no actual
    wb = load_workbook(files.xlsx)
    assert "重点群体" in wb.sheetnames
    ws = wb["重点群体"]
    rows = list(ws.iter_rows(min_row=4, values_only=True))
    assert ("灵活就业", "修水县") in {(r[0], r[1]) for r in rows}
    assert any(r[4] == "无数据" for r in rows)

    shipped = catalog.shipped("jiujiang-2017")
    files = make_report(shipped, AS_OF, tmp_path / "n", actuals=_actuals(False), pdf=False)
    html = files.html.read_text("utf-8")
    assert "重点群体扩面目标完成情况" not in html and "重点群体。" not in html
    assert "重点群体" not in load_workbook(files.xlsx).sheetnames


def test_a_target_without_actual_shows_no_data(tmp_path: Path) -> None:
    shipped = catalog.shipped("jiujiang-2017")
    assert shipped.target("city", "clearance_rate.private") is not None
    files = make_report(shipped, AS_OF, tmp_path, actuals=_actuals(False), pdf=False)
    html = files.html.read_text("utf-8")
    assert "无数据" in html
    detail = load_workbook(files.xlsx)["完成情况明细"]
    row = next(
        r for r in detail.iter_rows(min_row=4, values_only=True)
        if r[0] == "全市" and r[1] == "民营私营企业清欠率"
    )  # fmt: skip
    assert row[5] == "无数据" and row[6] == "—"
