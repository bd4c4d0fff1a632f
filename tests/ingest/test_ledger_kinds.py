"""The contribution ledger's ingest: the payment's transaction number (txn_id) and the opening
arrears kind (期初欠费明细 / 附件2 重点欠费单位明细表), through to the registry and the session views."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import polars as pl
import pytest
from openpyxl import Workbook

from canbao.cli import run
from canbao.coverage.session import RECORD_COLUMNS, open_session, records_view_sql
from canbao.errors import DataError
from canbao.ingest import api, headers, kinds, validate
from canbao.ingest.batches import ingest_file
from canbao.registry import api as registry
from canbao.registry import snapshot
from canbao.standards import credit_code
from tests.ingest.helpers import write_csv
from tests.scopes import SYSTEM

# fictional employers with valid codes
CC_A = credit_code.make_uscc("9", "1", "360402", "MA35L1XG")
CC_B = credit_code.make_uscc("9", "1", "360403", "12345678")
CC_C = credit_code.make_uscc("1", "2", "360424", "87654321")
ARREARS_HEADER = "单位名称,统一社会信用代码,险种,费款所属期,欠费金额,截止日期,所属区县代码"


def _chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def _records(data: Path, kind: str) -> pl.DataFrame:
    return api.current_records(data, kind).collect().sort("row")


def test_arrears_and_transaction_headers_map_to_their_fields() -> None:
    m = headers.map_columns("arrears", ARREARS_HEADER.split(","))
    assert m.columns == {
        "单位名称": "employer_name", "统一社会信用代码": "credit_code", "险种": "scheme",
        "费款所属期": "period", "欠费金额": "amount", "截止日期": "arrears_as_of",
        "所属区县代码": "county_code",
    }  # fmt: skip
    for h in ("欠缴金额", "欠费本金", "欠费总额"):
        assert headers.map_columns("arrears", ["单位名称", h]).columns[h] == "amount"
    assert headers.map_columns("arrears", ["单位名称", "统计截止日期"]).columns == {
        "单位名称": "employer_name", "统计截止日期": "arrears_as_of",
    }  # fmt: skip
    for h in ("缴费流水号", "票据号", "交易流水号", "业务流水号", "电子票据号码", "缴款书号"):
        assert headers.map_columns("payment", ["单位名称", h]).columns[h] == "txn_id"
    assert "arrears" in kinds.EMPLOYER_KINDS and kinds.KIND_LABELS_ZH["arrears"] == "期初欠费"


def test_arrears_rows_are_typed_money_in_fen(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "a.csv",
        [
            ARREARS_HEADER,
            f"甲商贸有限公司,{CC_A},养老保险,201605,1，234.56,2016-12-31,360402",
            f"甲商贸有限公司,{CC_A},医疗保险,2016年6月,￥12.3,2016/12/31,360402",
            f"乙建材有限公司,{CC_B},工伤,2016-07,12.345,20161231,360403",
            f"乙建材有限公司,{CC_B},失业保险,201608,1234元,,",
            f"丙中学,{CC_C},生育保险,201609,0.005,2016-12,360424",
        ],
    )
    ingest_file(tmp_path / "data", path, source="s", kind="arrears", as_of="2017-12-31")
    rec = _records(tmp_path / "data", "arrears")
    assert rec["amount"].to_list() == [123456, 1230, 1235, 123400, 1]
    assert rec["period"].to_list() == ["2016-05", "2016-06", "2016-07", "2016-08", "2016-09"]
    assert rec["scheme"].to_list() == [
        "employee_pension", "employee_medical", "work_injury", "unemployment", "maternity",
    ]  # fmt: skip
    day = dt.date(2016, 12, 31)
    assert rec["arrears_as_of"].to_list() == [day, day, day, None, dt.date(2016, 12, 1)]
    assert "arrears_as_of_partial" in rec["warnings"][4]
    assert rec["county_code"].to_list() == ["360402", "360402", "360403", None, "360424"]
    assert rec["as_of"].unique().to_list() == [dt.date(2017, 12, 31)]  # the delivery's
    assert (rec["credit_code"] == pl.Series([CC_A, CC_A, CC_B, CC_B, CC_C])).all()
    assert rec["cc_valid"].all()


def test_bad_arrears_rows_are_quarantined_with_a_chinese_reason(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "a.csv",
        [
            ARREARS_HEADER,
            f"甲商贸有限公司,{CC_A},养老保险,201605,100.00,2016-12-31,360402",
            f"甲商贸有限公司,{CC_A},养老保险,,100.00,2016-12-31,360402",
            f"甲商贸有限公司,{CC_A},养老保险,2016-13,100.00,2016-12-31,360402",
            f"甲商贸有限公司,{CC_A},养老保险,201606,,2016-12-31,360402",
            f"甲商贸有限公司,{CC_A},养老保险,201607,一百元,2016-12-31,360402",
            f"甲商贸有限公司,{CC_A},养老保险,201608,-5.00,2016-12-31,360402",
            ",,养老保险,201609,100.00,2016-12-31,360402",
            "合计,,,,500.00,,",
        ],
    )
    res = ingest_file(tmp_path / "data", path, source="s", kind="arrears", as_of="2017-12-31")
    assert (res.batch.accepted, res.batch.quarantined) == (1, 7)
    q = api.current_quarantine(tmp_path / "data", "arrears").collect().sort("row")
    assert q["reason"].to_list() == [
        "period_invalid", "period_invalid", "amount_invalid", "amount_invalid",
        "amount_negative", "no_employer", "summary_row",
    ]  # fmt: skip
    for code, text in q.select("reason", "reason_zh").iter_rows():
        assert text == validate.QUARANTINE_REASONS[code] and _chinese(text)
    assert "欠费金额" in validate.QUARANTINE_REASONS["amount_invalid"]


FULLWIDTH = "36040220170105000002".translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789"})


def test_transaction_numbers_are_cleaned_and_mangled_ones_dropped(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text(
        "缴费流水号,统一社会信用代码,费款所属期,险种,实缴金额,到账日期\n"
        f" 3604 0220 1701 0500 0001 ,{CC_A},201701,养老保险,10.00,2017-01-05\n"
        f"{FULLWIDTH},{CC_A},201701,医疗保险,10.00,2017-01-05\n"
        f"jf-001,{CC_A},201701,工伤保险,10.00,2017-01-05\n"
        f"无,{CC_A},201702,养老保险,10.00,2017-02-05\n"
        f",{CC_A},201702,医疗保险,10.00,2017-02-05\n"
        f"3.6040220170105E+19,{CC_A},201702,工伤保险,10.00,2017-02-05\n",
        encoding="utf-8",
    )
    ingest_file(tmp_path / "data", path, source="s", kind="payment", as_of="2017-12-31")
    rec = _records(tmp_path / "data", "payment")
    assert rec["txn_id"].to_list() == [
        "36040220170105000001", "36040220170105000002", "JF-001", None, None, None,
    ]  # fmt: skip
    warned = [("txn_id_invalid" in w) for w in rec["warnings"].to_list()]
    assert warned == [False, False, False, False, False, True]  # a placeholder is just absent
    assert _chinese(validate.warning_label("txn_id_invalid"))


def test_a_long_transaction_number_excel_stored_as_a_number_is_dropped(tmp_path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["票据号", "统一社会信用代码", "费款所属期", "险种", "实缴金额", "到账日期"])
    ws.append([36040220170105000001, CC_A, "201701", "养老保险", "10.00", "2017-01-05"])
    ws.append([123456789012, CC_A, "201701", "医疗保险", "10.00", "2017-01-05"])
    ws.append(["36040220170105000003", CC_A, "201701", "工伤保险", "10.00", "2017-01-05"])
    wb.save(tmp_path / "p.xlsx")
    ingest_file(tmp_path / "data", tmp_path / "p.xlsx", source="s", kind="payment",
                as_of="2017-12-31")  # fmt: skip
    rec = _records(tmp_path / "data", "payment")
    assert rec["txn_id"].to_list() == [None, "123456789012", "36040220170105000003"]
    assert "txn_id_excel_number" in rec["warnings"][0]
    assert not any(
        "txn_id" in w for w in rec["warnings"][1].to_list() + rec["warnings"][2].to_list()
    )


def _annex2(path: Path) -> Path:
    """A 附件2 重点欠费单位明细表 as a county sends it: titles, a merged title row, a total."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws["A1"] = "附件2"
    ws["A2"] = "某市重点欠费单位明细表"
    ws.merge_cells("A2:F2")
    ws["A3"] = "统计截止日期：2016年12月31日    金额单位：元"
    ws.append(["单位名称", "统一社会信用代码", "险种", "欠费所属期", "欠缴金额", "统计截止日期"])
    ws.append(["甲商贸有限公司", CC_A, "养老保险", "201605", 1234.5, "2016-12-31"])
    ws.append(["乙建材有限公司", CC_B, "工伤保险", "201606", "88.00", "2016-12-31"])
    ws.append(["合计", None, None, None, 1322.5, None])
    wb.save(path)
    return path


def test_canbao_ingest_reads_an_annex2_workbook(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    path = _annex2(tmp_path / "fujian2.xlsx")
    args = ["ingest", str(path), "--source", "county_arrears", "--kind", "arrears",
            "--as-of", "2017-12-31", "--data-dir", str(data)]  # fmt: skip
    assert run(args) == 0
    out = capsys.readouterr().out
    assert "接收 2 行" in out and "隔离 1 行" in out
    rec = _records(data, "arrears")
    assert rec.select("period", "amount", "scheme").rows() == [
        ("2016-05", 123450, "employee_pension"), ("2016-06", 8800, "work_injury"),
    ]  # fmt: skip
    # a list for one scheme without a 险种 column takes --scheme
    one = write_csv(
        tmp_path / "one.csv", ["单位名称,费款所属期,欠费金额", "甲商贸有限公司,201610,5"]
    )
    assert run(["ingest", str(one), "--source", "pension_arrears", "--kind", "arrears",
                "--scheme", "employee_pension", "--as-of", "2017-12-31",
                "--data-dir", str(data)]) == 0  # fmt: skip
    capsys.readouterr()
    rows = _records(data, "arrears").filter(pl.col("source") == "pension_arrears")
    assert rows["scheme"].to_list() == ["employee_pension"]


def _employer_data(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    reg = write_csv(
        tmp_path / "e.csv",
        ["统一社会信用代码,单位名称,经济类型,行政区划代码",
         f"{CC_A},甲商贸有限公司,私营企业,360402", f"{CC_B},乙建材有限公司,国有企业,360403"],
    )  # fmt: skip
    arrears = write_csv(
        tmp_path / "a.csv",
        [ARREARS_HEADER, f"甲商贸有限公司,{CC_A},养老保险,201605,100.00,2016-12-31,360402",
         "乙建材有限公司,,工伤保险,201606,5.50,2016-12-31,360403"],
    )  # fmt: skip
    pay = write_csv(
        tmp_path / "p.csv",
        ["缴费流水号,统一社会信用代码,单位名称,费款所属期,险种,实缴金额,到账日期",
         f"T1,{CC_A},甲商贸有限公司,201605,养老保险,100.00,2017-03-01"],
    )  # fmt: skip
    for path, source, kind in ((reg, "si_employer", "employer"), (arrears, "si_arrears", "arrears"),
                               (pay, "si_payment", "payment")):  # fmt: skip
        ingest_file(data, path, source=source, kind=kind, as_of="2017-12-31")
    return data


def test_the_registry_links_arrears_and_payment_rows(tmp_path: Path) -> None:
    data = _employer_data(tmp_path)
    registry.build(data)
    links = snapshot.require_current(data).scan("employer_links").collect()
    key = dict(links.filter(pl.col("kind") == "employer").select("row", "employer_key").rows())
    arrears = links.filter(pl.col("kind") == "arrears").sort("row")
    # by credit code, and by name within the county where the row has no code
    assert arrears["employer_key"].to_list() == [key[1], key[2]]
    assert links.filter(pl.col("kind") == "payment")["employer_key"].to_list() == [key[1]]
    s = open_session(data, SYSTEM, dt.date(2017, 12, 31))
    try:
        got = s.frame('SELECT * FROM cov_arrears ORDER BY "row"')
        pay = s.frame("SELECT * FROM cov_payment")
    finally:
        s.close()
    assert got.columns == [*RECORD_COLUMNS["arrears"], "file_batch"]
    assert got["amount"].to_list() == [10000, 550]
    assert got["arrears_as_of"].to_list() == [dt.date(2016, 12, 31)] * 2
    assert pay.columns == [*RECORD_COLUMNS["payment"], "file_batch"]
    assert pay["txn_id"].to_list() == ["T1"]


def test_a_kind_never_ingested_is_an_empty_view_with_its_columns() -> None:
    con = duckdb.connect()
    for kind in ("arrears", "payment"):
        con.execute(records_view_sql(kind, None))
        rel = con.execute(f"SELECT * FROM cov_{kind}")
        assert [d[0] for d in rel.description] == [*RECORD_COLUMNS[kind], "file_batch"]
        assert rel.fetchall() == []
    # a payment batch written before txn_id existed reads it as NULL
    con.execute("CREATE TABLE records_payment AS SELECT 'b' AS batch_id, 1::BIGINT AS \"row\"")
    con.execute(records_view_sql("payment", {"batch_id", "row"}))
    assert con.execute("SELECT txn_id FROM cov_payment").fetchall() == [(None,)]


def test_an_arrears_list_ingested_after_a_build_is_linked_by_the_next_build(
    tmp_path: Path,
) -> None:
    data = _employer_data(tmp_path)
    registry.build(data)
    later = write_csv(
        tmp_path / "a2.csv",
        [ARREARS_HEADER, f"甲商贸有限公司,{CC_A},医疗保险,201607,9.00,2016-12-31,360402"],
    )
    ingest_file(data, later, source="county_arrears", kind="arrears", as_of="2017-12-31")
    assert registry.build(data).mode == "incremental"
    links = snapshot.require_current(data).scan("employer_links").collect()
    assert links.filter(pl.col("source") == "county_arrears").height == 1


def test_amount_headers_naming_a_unit_map_and_scale() -> None:
    m = headers.map_columns(
        "payment",
        ["单位名称", "实缴金额（元）", "应缴金额(元)", "费款所属期（YYYYMM）", "缴费时间"],
    )
    assert m.columns == {
        "单位名称": "employer_name", "实缴金额（元）": "paid", "应缴金额(元)": "due",
        "费款所属期（YYYYMM）": "period", "缴费时间": "paid_date",
    }  # fmt: skip
    assert m.money_units() == {}  # 元: the text is read as it is
    big = headers.map_columns("arrears", ["单位名称", "欠费金额【万元】"])
    assert big.columns["欠费金额【万元】"] == "amount"
    assert big.money_units() == {"amount": 1_000_000}
    # a qualifier that is not a unit: not the row's amount
    part = headers.map_columns("payment", ["单位名称", "实缴金额（个人部分）"])
    assert "实缴金额（个人部分）" in part.unmapped
    # the exact header wins over a qualified one of the same field
    both = headers.map_columns("payment", ["单位名称", "实缴金额（万元）", "实缴金额"])
    assert both.columns["实缴金额"] == "paid" and both.money_units() == {}
    # in a declaration, 缴费金额 is what was declared due; in a payment, what was paid
    assert headers.map_columns("declaration", ["单位名称", "缴费金额"]).columns["缴费金额"] == "due"
    assert headers.map_columns("payment", ["单位名称", "缴费金额"]).columns["缴费金额"] == "paid"


def test_amounts_in_wan_yuan_are_scaled_to_fen_and_the_report_says_so(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "a.csv",
        [
            "单位名称,统一社会信用代码,险种,欠费所属期,欠费金额（万元）,截止日期",
            f"甲商贸有限公司,{CC_A},养老保险,201605,1.2345,2016-12-31",
            f"乙建材有限公司,{CC_B},工伤保险,201606,0.00000049,2016-12-31",
            f"丙中学,{CC_C},医疗保险,201607,12,2016-12-31",
        ],
    )
    res = ingest_file(tmp_path / "data", path, source="s", kind="arrears", as_of="2017-12-31")
    rec = _records(tmp_path / "data", "arrears")
    # 1.2345 万元 = 12,345.00 元; 0.00000049 万元 = 0.0049 元 → 0 fen; 12 万元 = 120,000 元
    assert rec["amount"].to_list() == [1_234_500, 0, 12_000_000]
    notes = res.report["notes"]
    assert any("欠费金额（万元）" in n and "万元" in n for n in notes)


def test_ledger_files_without_their_amount(tmp_path: Path) -> None:
    arrears = write_csv(
        tmp_path / "a.csv",
        ["单位名称,统一社会信用代码,险种,欠费所属期,金额", f"甲,{CC_A},养老保险,201605,1"],
    )
    with pytest.raises(DataError, match="欠费金额") as err:
        ingest_file(tmp_path / "data", arrears, source="s", kind="arrears", as_of="2017-12-31")
    assert "--map" in str(err.value)
    payments = write_csv(
        tmp_path / "p.csv",
        [
            "单位名称,统一社会信用代码,险种,费款所属期,到账日期",
            f"甲,{CC_A},养老保险,201605,2016-06-05",
        ],
    )
    res = ingest_file(tmp_path / "data", payments, source="s", kind="payment", as_of="2017-12-31")
    assert res.batch.accepted == 1  # still a record that the employer paid
    notes = res.report["notes"]
    assert any("实缴金额" in n and "不计入征缴台账" in n for n in notes)
