"""The 通报's 被征地农民参保 (附件3) and 争资 sections: present with their data, absent without."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from openpyxl import load_workbook

from canbao.collection import subsidy_workbook
from canbao.collection.subsidies import Receipt
from canbao.plan import catalog, land_farmer_table
from canbao.plan.actuals import FrameActuals
from canbao.plan.api import make_report
from canbao.plan.model import Plan, Target
from canbao.profile import load_profile

AS_OF = dt.date(2017, 9, 30)  # time progress 273/365 = 74.79%
LF = "land_farmer.pension"
LAND_TITLE = "被征地农民参加基本养老保险任务完成情况"
SUBSIDY_TITLE = "争取上级补助资金（争资）情况"


def _with_annex3(plan: Plan) -> Plan:
    table = land_farmer_table.LandFarmerTable(
        tuple(Target(u, LF, "2017", Decimal(v)) for u, v in
              (("360404", 100), ("360402", 50), ("city", 150))),
        "2017",
        True,
    )  # fmt: skip
    merged, _ = land_farmer_table.merge_into(plan, table)
    return merged


def _actuals(rows: list[tuple[str, str, str]]) -> FrameActuals:
    return FrameActuals(
        pl.DataFrame({"unit": [r[0] for r in rows], "indicator": [r[1] for r in rows],
                      "value": [r[2] for r in rows]}),
        "测试",
    )  # fmt: skip


def _text(path: Path) -> str:
    wb = load_workbook(path)
    return " ".join(
        str(c) for ws in wb.worksheets for row in ws.iter_rows(values_only=True) for c in row if c
    )


def test_land_farmer_section(tmp_path: Path) -> None:
    plan = _with_annex3(catalog.shipped("jiujiang-2017"))
    actuals = _actuals([("360404", LF, "80"), ("360402", LF, "20"), ("city", LF, "100")])
    files = make_report(plan, AS_OF, tmp_path, actuals=actuals, pdf=False)
    wb = load_workbook(files.xlsx)
    assert "被征地农民参保" in wb.sheetnames
    assert wb.sheetnames.index("被征地农民参保") < wb.sheetnames.index("指标口径")
    ws = wb["被征地农民参保"]
    rows = {r[0]: r[1:] for r in ws.iter_rows(min_row=4, max_row=6, values_only=True)}
    # unit: task, enrolled, completion, benchmark, gap, met
    assert rows["全市"][:3] == (150, 100, pytest.approx(0.6667))
    assert rows["柴桑区"][:3] == (100, 80, pytest.approx(0.8))
    assert rows["濂溪区"][:3] == (50, 20, pytest.approx(0.4))
    assert rows["濂溪区"][3] == pytest.approx(0.7479) and rows["濂溪区"][5] == "否"
    at = {ws.cell(row=r, column=1).value: r for r in range(4, 7)}
    assert list(at) == ["全市", "濂溪区", "柴桑区"]  # report order
    assert ws.cell(row=at["濂溪区"], column=6).fill.fgColor.rgb.endswith("FADBD8")  # behind
    assert ws.cell(row=at["柴桑区"], column=6).fill.fgColor.rgb.endswith("00000000")  # ahead
    # the county matrix and its charts stay 附件1's
    matrix = [c.value for c in wb["县区分项完成率"][3]]
    assert "被征地农民参加基本养老保险人数" not in matrix
    html = files.html.read_text(encoding="utf-8")
    assert LAND_TITLE in html and "各单位被征地农民参保任务完成率" in html
    assert "全市被征地农民参加基本养老保险100人，完成任务数（150人）的66.7%" in html
    assert "落后于时间进度的有濂溪区（40.0%）" in html and "柴桑区（80.0%）" not in html
    assert "被征地农民参加基本养老保险征缴" not in html  # not narrated as collection


def test_land_farmer_section_without_actuals(tmp_path: Path) -> None:
    plan = _with_annex3(catalog.shipped("jiujiang-2017"))
    files = make_report(plan, AS_OF, tmp_path, pdf=False)
    html = files.html.read_text(encoding="utf-8")
    assert LAND_TITLE in html and "本期暂无被征地农民参保数据" in html
    assert "全市任务数150人" in html


def test_no_annex3_no_land_farmer_section(tmp_path: Path) -> None:
    actuals = _actuals([("360404", LF, "80")])  # an actual without a target is not shown
    files = make_report(catalog.shipped("jiujiang-2017"), AS_OF, tmp_path, actuals=actuals,
                        pdf=False)  # fmt: skip
    assert "被征地农民参保" not in load_workbook(files.xlsx).sheetnames
    html = files.html.read_text(encoding="utf-8")
    assert LAND_TITLE not in html and "被征地农民参保。" not in html


def _register(data: Path, tmp_path: Path) -> None:
    def r(doc: str, fen: int, day: dt.date, unit: str | None, level: str) -> Receipt:
        return Receipt(doc, "财政部", level, "resident_pension", fen, day, unit)

    receipts = [
        r("财社〔2016〕1号", 40_000_000, dt.date(2016, 3, 10), None, "central"),
        r("省财社〔2016〕2号", 60_000_000, dt.date(2016, 11, 2), "city_level", "provincial"),
        r("财社〔2017〕1号", 41_900_000, dt.date(2017, 2, 28), None, "central"),
        r("省财社〔2017〕2号", 55_000_000, dt.date(2017, 9, 1), "city_level", "provincial"),
        r("财社〔2017〕9号", 30_000_000, dt.date(2017, 5, 1), "360404", "central"),
    ]
    book = subsidy_workbook.write_template(tmp_path / "r.xlsx", load_profile(), receipts)
    subsidy_workbook.import_workbook(book, data, load_profile())


def test_subsidy_section_from_the_register(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _register(data, tmp_path)
    # no registry: the register is the only source of actuals (subsidy_growth)
    files = make_report(catalog.shipped("jiujiang-2017"), AS_OF, tmp_path / "r", data_dir=data,
                        pdf=False)  # fmt: skip
    wb = load_workbook(files.xlsx)
    ws = wb["争资情况"]
    rows = {r[0]: r[1:] for r in ws.iter_rows(min_row=4, max_row=6, values_only=True)}
    # unit: this year, central, provincial, last year to date, last year, growth, target, met
    # 全市 this year 41.9 + 55 + 30 = 126.9万元 against 100万元 last year: +26.9%
    assert rows["全市"][:5] == (pytest.approx(126.9), pytest.approx(71.9), 55, 40, 100)
    assert rows["全市"][5:] == (pytest.approx(0.269), pytest.approx(0.055), "是")
    # 市本级 55 against 60: −8.33%, below its 6% target
    assert rows["市本级"][5:] == (pytest.approx(-0.083333), pytest.approx(0.06), "否")
    assert ws.cell(row=5, column=7).fill.fgColor.rgb.endswith("FADBD8")
    # 柴桑区: receipts this year only, no target: listed without growth
    assert rows["柴桑区"][4:] == (0, "—", "—", "—")
    html = files.html.read_text(encoding="utf-8")
    assert SUBSIDY_TITLE in html
    assert (
        "全市争取上级补助资金到账126.90万元（中央71.90万元、省级55.00万元），上年全年100.00万元，"
        "比上年增长26.9%（目标不低于5.5%，已达到目标）" in html
    )
    assert "市本级争取上级补助资金到账55.00万元，上年全年60.00万元，比上年减少8.3%" in html
    # the 完成情况明细 row is the same actual (the register is the source)
    assert "争取补助资金增长率为26.9%" in html


def test_subsidy_section_is_the_registers_view(tmp_path: Path) -> None:
    """Another source's subsidy_growth does not mix with the register's amounts in a row."""
    data = tmp_path / "data"
    _register(data, tmp_path)
    actuals = _actuals([("city", "subsidy_growth", "0.9")])
    files = make_report(catalog.shipped("jiujiang-2017"), AS_OF, tmp_path / "r", data_dir=data,
                        actuals=actuals, pdf=False)  # fmt: skip
    row = next(load_workbook(files.xlsx)["争资情况"].iter_rows(min_row=4, values_only=True))
    assert row[0] == "全市" and row[6] == pytest.approx(0.269)


def test_subsidy_section_shown_for_targets_absent_without(tmp_path: Path) -> None:
    shipped = catalog.shipped("jiujiang-2017")
    files = make_report(shipped, AS_OF, tmp_path / "a", pdf=False)
    html = files.html.read_text(encoding="utf-8")
    assert SUBSIDY_TITLE in html and "全市暂无到账数据（目标不低于5.5%）" in html
    no_target = replace(
        shipped, targets=tuple(t for t in shipped.targets if t.indicator != "subsidy_growth")
    )
    files = make_report(no_target, AS_OF, tmp_path / "b", pdf=False)
    assert "争资情况" not in load_workbook(files.xlsx).sheetnames
    html = files.html.read_text(encoding="utf-8")
    assert SUBSIDY_TITLE not in html and "争资情况。" not in html
    assert "争资情况" not in _text(files.xlsx)
