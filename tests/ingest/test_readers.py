from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest

from canbao.ingest import api, encoding, readers
from canbao.ingest.batches import ingest_file
from tests.ingest.helpers import ID_A, ID_B, ID_C, population_lines, write_csv, write_xlsx_titled

FIXTURES = Path(__file__).parent / "fixtures"


def _ingest(tmp_path: Path, path: Path, kind: str = "population", **kw: object) -> pl.DataFrame:
    data = tmp_path / "data"
    res = ingest_file(
        data, path, source=kw.pop("source", "src"), kind=kind, as_of="2017-12-31", **kw
    )  # type: ignore[arg-type]
    assert res.batch.accepted + res.batch.quarantined == res.batch.rows
    return api.current_records(data, kind, kw.get("scheme")).collect().sort("row")  # type: ignore[arg-type]


@pytest.mark.parametrize("enc", ["gb18030", "utf-8-sig", "utf-8"])
def test_csv_encodings_detected(tmp_path: Path, enc: str) -> None:
    path = write_csv(tmp_path / "huji.csv", population_lines(), encoding=enc)
    raw = readers.read_table(path, "population")
    assert raw.encoding == enc
    assert raw.data.columns[:2] == ["姓名", "公民身份号码"]
    df = _ingest(tmp_path, path)
    assert df["name"].to_list() == ["张三", "李四", "王五"]
    assert df["id18"].to_list() == [ID_A, ID_B, ID_C]
    assert df["birth_date"].to_list() == ["1949-12", "1990-01-01", "1985-03-12"]
    assert df["birth_date_value"].to_list() == [None, dt.date(1990, 1, 1), dt.date(1985, 3, 12)]
    assert df["sex"].to_list() == ["F", "M", "F"]


def test_gbk_only_characters_decode_with_gb18030() -> None:
    # 㐀 is outside GBK but in GB18030 (4-byte sequence): a "gbk" claim still decodes.
    data = "姓名,身份证号码\n王㐀,1\n".encode("gb18030")
    assert encoding.decode(data, "gbk").text.startswith("姓名")
    assert encoding.decode(data).encoding == "gb18030"


@pytest.mark.parametrize("sep", ["\t", ";", "|", ","])
def test_delimiter_sniffed(tmp_path: Path, sep: str) -> None:
    path = write_csv(tmp_path / "huji.txt", population_lines(), sep=sep)
    raw = readers.read_table(path, "population")
    assert raw.delimiter == sep
    assert raw.data.height == 3 and raw.data.width == 5


def test_csv_title_rows_above_header(tmp_path: Path) -> None:
    lines = ["九江市户籍人口名单", "制表日期：2017年12月31日", *population_lines()]
    path = write_csv(tmp_path / "huji.csv", lines, encoding="gb18030")
    raw = readers.read_table(path, "population")
    assert raw.header_row == 3
    assert raw.title_rows == ["九江市户籍人口名单", "制表日期：2017年12月31日"]
    df = _ingest(tmp_path, path)
    assert df["row"].to_list() == [1, 2, 3]


def test_ids_stay_text_with_leading_zeros(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "p.csv", ["姓名,身份证号码,联系电话", "甲,0012345,013800000000"])
    df = _ingest(tmp_path, path)
    assert df["id_raw"].to_list() == ["0012345"]
    assert df["phone"].to_list() == ["013800000000"]


def test_xlsx_title_rows_and_merged_two_row_header(tmp_path: Path) -> None:
    path = write_xlsx_titled(tmp_path / "enr.xlsx")
    raw = readers.read_table(path, "enrollment")
    assert raw.header_row == 4
    assert raw.data.columns == ["姓名", "身份证号码", "缴费基数", "参保日期", "参保状态"]
    assert raw.title_rows[0] == "九江市城镇职工基本养老保险参保人员名单"
    df = _ingest(tmp_path, path, kind="enrollment", scheme="employee_pension")
    assert df["base"].to_list() == [300050, 420000, 123450]
    assert df["start_date"].to_list() == [dt.date(2015, 1, 1), dt.date(2016, 3, 1), None]
    # no status in the extract: enrolled as of the as-of date
    assert df["status"].to_list() == ["active", "suspended", "active"]
    assert df["as_of"].unique().to_list() == [dt.date(2017, 12, 31)]
    assert df["id_valid"].all()


def test_xlsx_numeric_id_column_marked_damaged(tmp_path: Path) -> None:
    path = write_xlsx_titled(tmp_path / "enr.xlsx", numeric_id=True)
    df = _ingest(tmp_path, path, kind="enrollment", scheme="employee_pension")
    # ID_A ends in X and stays text; the other two were typed in as numbers
    assert df["id_valid"].to_list() == [True, False, False]
    assert ["excel_number" in e for e in df["id_errors"].to_list()] == [False, True, True]
    assert df["id18"].to_list() == [ID_A, None, None]
    assert df.filter(pl.col("row") > 1)["warnings"].to_list() == [["id_invalid"], ["id_invalid"]]


def test_xlsx_named_sheet(tmp_path: Path) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws0 = wb.active
    assert ws0 is not None
    ws0.append(["说明：数据在第二个工作表"])
    ws1 = wb.create_sheet("名单")
    ws1.append(["姓名", "身份证号"])
    ws1.append(["张三", ID_A])
    path = tmp_path / "two.xlsx"
    wb.save(path)
    raw = readers.read_table(path, "death", sheet="名单")
    assert raw.sheet == "名单" and raw.data["身份证号"].to_list() == [ID_A]


def test_xls_fixture(tmp_path: Path) -> None:
    df = _ingest(tmp_path, FIXTURES / "deaths.xls", kind="death")
    assert df["name"].to_list() == ["赵一", "钱二", "孙三"]
    assert df["death_date"].to_list() == [
        dt.date(2017, 3, 5),
        dt.date(2017, 4, 1),
        dt.date(2017, 5, 1),
    ]
    assert df["warnings"][2].to_list() == ["death_date_partial", "id_invalid"]
    # 钱二's 15-digit ID was stored as a number cell; 孙三's has a wrong check character
    assert df["id_errors"].to_list() == [[], ["excel_number"], ["checksum"]]


def test_parquet_reader(tmp_path: Path) -> None:
    path = tmp_path / "deaths.parquet"
    pl.DataFrame(
        {"姓名": ["甲", "乙"], "身份证号码": [ID_A, None], "死亡日期": ["2017-01-02", "x"]}
    ).write_parquet(path)
    df = _ingest(tmp_path, path, kind="death")
    assert df["death_date"].to_list() == [dt.date(2017, 1, 2), None]
    assert df["warnings"].to_list() == [[], ["death_date_invalid", "id_missing"]]


def test_xlsx_date_cells_stored_as_serial_numbers(tmp_path: Path) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["姓名", "身份证号码", "出生日期", "死亡日期"])
    old = (dt.date(1920, 5, 1) - dt.date(1899, 12, 30)).days  # 7427: a 4-digit serial
    ws.append(["甲", ID_A, old, 43000])
    ws.append(["乙", ID_B, "1920-05-01", "2017-09-22"])
    ws.append(["丙", ID_C, "7427", None])  # text, not a number: not a date
    path = tmp_path / "d.xlsx"
    wb.save(path)
    df = _ingest(tmp_path, path, kind="death")
    assert df["death_date"].to_list() == [dt.date(2017, 9, 22), dt.date(2017, 9, 22), None]
    raw = readers.read_table(path, "death")
    assert raw.numeric_cells("出生日期") is not None
    recs = _ingest(tmp_path / "p", path, kind="population")
    assert recs["birth_date"].to_list() == ["1920-05-01", "1920-05-01", None]
    assert "birth_date_invalid" in recs["warnings"][2].to_list()


@pytest.mark.parametrize("enc", ["utf-8-sig", "gb18030"])
def test_crlf_title_rows_and_padded_cells(tmp_path: Path, enc: str) -> None:
    lines = ["九江市户籍人口名单,,,,", *population_lines()]
    lines[2] = lines[2].replace("李四", "  李四 ")
    path = tmp_path / "p.csv"
    path.write_bytes("\r\n".join(lines).encode(enc) + b"\r\n")
    df = _ingest(tmp_path, path)
    assert df["name"].to_list() == ["张三", "李四", "王五"]
    assert df["row"].to_list() == [1, 2, 3]
    assert df["address"].to_list() == ["浔阳区甘棠街1号", "濂溪区", "德安县"]


def test_id_raw_is_as_delivered(tmp_path: Path) -> None:
    fullwidth = ID_B.translate({ord(d): 0xFF10 + int(d) for d in "0123456789"})
    path = write_csv(
        tmp_path / "p.csv", ["姓名,身份证号码", f"甲,{fullwidth}", f"乙,{ID_A.lower()}"]
    )
    df = _ingest(tmp_path, path)
    assert df["id_raw"].to_list() == [fullwidth, ID_A.lower()]
    assert df["id18"].to_list() == [ID_B, ID_A]


@pytest.mark.parametrize("enc", ["utf-8", "gb18030"])
def test_short_long_and_blank_lines(tmp_path: Path, enc: str) -> None:
    path = tmp_path / "d.csv"
    text = (
        f"名单\n姓名,身份证号码,死亡日期\n张三\n\n李四,{ID_B},2017-01-02,多余\n王五,{ID_C},\n"
        f'"赵,六",{ID_A},2017-01-03\n'
    )
    path.write_bytes(text.encode(enc))
    raw = readers.read_table(path, "death")
    assert raw.data.rows() == [
        ("张三", None, None),
        ("李四", ID_B, "2017-01-02"),
        ("王五", ID_C, None),
        ("赵,六", ID_A, "2017-01-03"),
    ]
    assert any("extra_fields" in n for n in raw.notes)
    assert raw.extra_lines is not None
    assert raw.extra_lines.to_list() == [None, f"李四,{ID_B},2017-01-02,多余", None, None]
    data = tmp_path / "data"
    res = ingest_file(data, path, source="civil", kind="death", as_of="2017-12-31")
    assert (res.batch.rows, res.batch.accepted, res.batch.quarantined) == (4, 3, 1)
    q = api.current_quarantine(data).collect()
    assert q["reason"].to_list() == ["extra_fields"] and q["row"].to_list() == [2]
    assert json.loads(q["original"][0])["原始行"] == f"李四,{ID_B},2017-01-02,多余"
    blank = tmp_path / "b.csv"
    blank.write_bytes("姓名,身份证号码\n\n\n".encode(enc))
    assert readers.read_table(blank, "death").data.height == 0
