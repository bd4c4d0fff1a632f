"""争资: the subsidy register (workbook import, duplicates, growth, the plan's actual)."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest
from openpyxl import load_workbook

from canbao.cli import run
from canbao.collection import subsidy_workbook as wbk
from canbao.collection.subsidies import (
    Receipt,
    SubsidyActuals,
    growth_ratio,
    growth_table,
    load_receipts,
    receipts_frame,
    register_path,
    subsidy_actuals_source,
    year_back,
)
from canbao.errors import DataError
from canbao.profile import load_profile

PROFILE = load_profile("jiujiang")
PLAN = SimpleNamespace(period=SimpleNamespace(start=dt.date(2017, 1, 1), end=dt.date(2017, 12, 31)))


def _r(
    doc: str, fen: int, day: dt.date, unit: str | None = None, level: str = "central"
) -> Receipt:
    return Receipt(doc, "财政部", level, "resident_pension", fen, day, unit)


# Known answer: last year 1,000,000.00 yuan for the city (600,000.00 of it for 市本级), this year
# 1,055,000.00 by 30 September (市本级 636,000.00) and 100,000.00 more in November.
RECEIPTS = [
    _r("财社〔2016〕1号", 40_000_000, dt.date(2016, 3, 10)),
    _r("省财社〔2016〕2号", 60_000_000, dt.date(2016, 11, 2), "city_level", "provincial"),
    _r("财社〔2017〕1号", 41_900_000, dt.date(2017, 2, 28)),
    _r("省财社〔2017〕2号", 63_600_000, dt.date(2017, 9, 30), "city_level", "provincial"),
    _r("省财社〔2017〕3号", 10_000_000, dt.date(2017, 11, 15), "city_level", "provincial"),
]


def test_growth_known_answer() -> None:
    t = growth_table(
        receipts_frame(RECEIPTS), dt.date(2017, 1, 1), dt.date(2017, 12, 31), dt.date(2017, 9, 30)
    )
    rows = {d["unit"]: d for d in t.iter_rows(named=True)}
    assert set(rows) == {"city", "city_level"}
    city, lvl = rows["city"], rows["city_level"]
    assert (city["this_year"], city["last_year"]) == (105_500_000, 100_000_000)
    assert (city["this_year_central"], city["this_year_provincial"]) == (41_900_000, 63_600_000)
    assert city["last_year_to_date"] == 40_000_000  # 2016-01-01..2016-09-30
    assert Decimal(city["growth"]) == Decimal("0.055")  # exactly the plan's 5.5%
    assert Decimal(lvl["growth"]) == Decimal("0.06")  # 市本级: exactly 6%
    # by the year's end the November receipt counts too
    end = growth_table(
        receipts_frame(RECEIPTS), dt.date(2017, 1, 1), dt.date(2017, 12, 31), dt.date(2017, 12, 31)
    )
    assert Decimal(end.filter(unit="city")["growth"][0]) == Decimal("0.155")


def test_growth_edges() -> None:
    assert growth_ratio(5, 0) is None  # no receipt last year: no growth, no division by zero
    assert growth_ratio(0, 3) == Decimal("-1")
    assert growth_ratio(2, 3) == Decimal("-0.333333")
    assert growth_ratio(1_000_001, 1_000_000) == Decimal("0.000001")
    assert year_back(dt.date(2016, 2, 29)) == dt.date(2015, 2, 28)
    only_now = [_r("x", 100, dt.date(2017, 5, 1), "360404")]
    t = growth_table(receipts_frame(only_now), dt.date(2017, 1, 1), dt.date(2017, 12, 31),
                     dt.date(2017, 12, 31))  # fmt: skip
    assert t["growth"].to_list() == [None, None]


def _book(tmp_path: Path, receipts: list[Receipt], name: str = "登记.xlsx") -> Path:
    return wbk.write_template(tmp_path / name, PROFILE, receipts)


def test_workbook_round_trip_and_idempotent_import(tmp_path: Path) -> None:
    data = tmp_path / "data"
    book = _book(tmp_path, RECEIPTS)
    s = wbk.import_workbook(book, data, PROFILE)
    assert (s.added, s.replaced, s.unchanged, s.total) == (5, 0, 0, 5)
    got = load_receipts(data, PROFILE)
    fields = ("document_no", "unit", "amount_fen", "received_on", "level", "scheme", "source")
    assert sorted(tuple(str(getattr(r, f)) for f in fields) for r in got) == sorted(
        tuple(str(getattr(r, f)) for f in fields) for r in RECEIPTS
    )
    doc = json.loads(register_path(data).read_text(encoding="utf-8"))
    assert doc["format"] == "canbao-subsidies/1" and doc["profile"] == "jiujiang"
    again = wbk.import_workbook(book, data, PROFILE)
    assert (again.added, again.unchanged, again.total) == (0, 5, 5)


def test_changed_amount_needs_replace(tmp_path: Path) -> None:
    data = tmp_path / "data"
    wbk.import_workbook(_book(tmp_path, RECEIPTS), data, PROFILE)
    changed = [*RECEIPTS[:4], _r("省财社〔2017〕3号", 12_000_000, dt.date(2017, 11, 15),
                                  "city_level", "provincial")]  # fmt: skip
    book = _book(tmp_path, changed, "更正.xlsx")
    with pytest.raises(DataError, match="省财社〔2017〕3号.*已登记 100,000.00 元.*--replace"):
        wbk.import_workbook(book, data, PROFILE)
    s = wbk.import_workbook(book, data, PROFILE, replace=True)
    assert (s.added, s.replaced, s.total) == (0, 1, 5)
    fen = {r.document_no: r.amount_fen for r in load_receipts(data, PROFILE)}
    assert fen["省财社〔2017〕3号"] == 12_000_000


def test_bad_cells_and_duplicates_named(tmp_path: Path) -> None:
    book = _book(tmp_path, RECEIPTS[:3])
    wb = load_workbook(book)
    ws = wb.active
    ws["C6"] = "市级"  # level
    ws["D5"] = "住房公积金"  # scheme
    ws["E5"] = "-5"  # amount
    ws["F6"] = "去年"  # date
    ws.append(["财社〔2017〕1号", "财政部", "中央", "城乡居民养老保险", 1, "2017-03-01", "火星县"])
    ws.append(["财社〔2016〕1号", "财政部", "中央", "城乡居民养老保险", 1, "2016-03-01", ""])
    ws.append(["", "", "", "", None, None, None, "备注里有字"])
    wb.save(book)
    with pytest.raises(DataError) as ei:
        wbk.read_workbook(book, PROFILE)
    msg = ei.value.message_zh
    assert "C6 级别“市级”应为 中央 或 省级" in msg
    assert "D5 险种“住房公积金”无法识别" in msg and "E5 金额不是正数：“-5”" in msg
    assert "F6 到账日期无法识别：“去年”" in msg and "G7 未知单位“火星县”" in msg
    assert "A8 文号“财社〔2016〕1号”重复（同一单位、险种已在第 4 行）" in msg
    assert "A9 文号为空" in msg and "B9 来源为空" in msg
    assert ei.value.details["cells"].startswith("D5,E5,C6,F6,G7,A8,")


def test_header_variants_yuan_and_units(tmp_path: Path) -> None:
    """Columns in any order under a title; 元 amounts; county, 市本级 and zone names."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["2017年争资到账情况"])
    ws.append(["到账日期", "金额（元）", "单位名称", "文号", "资金来源", "级别", "险种", "说明"])
    ws.append(["2017/3/5", "1,234.565", "九江县", "A1", "财政部", "中央级", "城乡居民养老", ""])
    ws.append(["20170405", 99.5, "市本级", "A2", "省财政厅", "省", "工伤", ""])
    ws.append(["2017年5月6日", 10, "经开区", "A3", "省财政厅", "省级", "综合", "x"])
    ws.append(["2017-06-07", 20, "全市", "A4", "省财政厅", "省级", "其他", ""])
    book = tmp_path / "free.xlsx"
    wb.save(book)
    got = {r.document_no: r for r in wbk.read_workbook(book, PROFILE)}
    assert got["A1"].amount_fen == 123_457 and got["A1"].unit == "360404"  # half-up to fen
    assert got["A1"].received_on == dt.date(2017, 3, 5) and got["A1"].level == "central"
    assert got["A2"].amount_fen == 9_950 and got["A2"].unit == "city_level"
    assert got["A2"].scheme == "work_injury" and got["A2"].level == "provincial"
    assert got["A3"].unit == "devzone" and got["A3"].scheme == "other" and got["A3"].note == "x"
    assert got["A4"].unit is None


def test_actuals_source(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert subsidy_actuals_source(data) is None and not data.exists()  # looking is not writing
    wbk.import_workbook(_book(tmp_path, RECEIPTS), data, PROFILE)
    src = subsidy_actuals_source(data)
    assert isinstance(src, SubsidyActuals)
    frame = src.actuals(PLAN, dt.date(2017, 9, 30))
    got = {(u, i): Decimal(v) for u, i, v in frame.select("unit", "indicator", "value").iter_rows()}
    assert got == {("city", "subsidy_growth"): Decimal("0.055"),
                   ("city_level", "subsidy_growth"): Decimal("0.06")}  # fmt: skip


def test_register_of_another_profile_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    wbk.import_workbook(_book(tmp_path, RECEIPTS), data, PROFILE)
    ganzhou = load_profile(
        Path(__file__).resolve().parents[1] / "profile" / "data" / "ganzhou.toml"
    )
    with pytest.raises(DataError, match="争资登记簿属于地区配置“jiujiang”"):
        load_receipts(data, ganzhou)


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    tpl = tmp_path / "模板.xlsx"
    assert run(["plan", "subsidies", "template", "--out", str(tpl), "--data-dir", str(data)]) == 0
    assert load_workbook(tpl).active["A3"].value == "文号"
    assert run(["plan", "subsidies", "list", "--data-dir", str(data)]) == 0
    assert "争资登记簿为空" in capsys.readouterr().out
    book = _book(tmp_path, RECEIPTS)
    assert run(["plan", "subsidies", "import", str(book), "--data-dir", str(data)]) == 0
    assert "新增 5 条" in capsys.readouterr().out
    assert run(["plan", "subsidies", "list", "--data-dir", str(data)]) == 0
    out = capsys.readouterr().out
    assert "2016年合计：1,000,000.00 元" in out and "2017年合计：1,155,000.00 元" in out
    assert run(["plan", "subsidies", "import", str(tpl), "--data-dir", str(data)]) == 1
    assert "没有任何到账记录" in capsys.readouterr().err
