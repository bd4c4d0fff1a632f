from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from canbao.ingest import api, normalize
from canbao.ingest.batches import ingest_file
from canbao.standards import credit_code
from tests.ingest.helpers import write_csv


def test_money_known_answers() -> None:
    s = pl.DataFrame(
        {"m": ["3000", "3,000.5", "￥12.345", "12.344", "-1.2", "1.2.3", "abc", None, "0.07元"]}
    )
    got = s.select(normalize.parse_money(pl.col("m"))).to_series().to_list()
    assert got == [300000, 300050, 1235, 1234, -120, None, None, None, 7]


@given(st.decimals(min_value=Decimal("-1e9"), max_value=Decimal("1e9"), places=2))
def test_money_exact_for_two_decimals(d: Decimal) -> None:
    got = pl.DataFrame({"m": [str(d)]}).select(normalize.parse_money(pl.col("m"))).item()
    assert got == int(d * 100)


def test_dates_and_periods() -> None:
    s = pl.DataFrame(
        {
            "d": [
                "2017-3-5",
                "2017年3月5日",
                "20170305",
                "2017/03/05 00:00:00",
                "42799",
                "2017-02-30",
                "2017-03",
                None,
            ]
        }
    )
    dates = s.select(normalize.parse_date(pl.col("d"))).to_series().to_list()
    d = dt.date(2017, 3, 5)
    assert dates == [d, d, d, d, d, None, None, None]
    p = pl.DataFrame(
        {
            "p": [
                "201703",
                "2017-3",
                "2017年03月",
                "2017.03",
                "2017-03-01",
                "201713",
                "x",
                "2017年3月份",
            ]
        }
    )
    assert p.select(normalize.parse_period(pl.col("p"))).to_series().to_list() == [
        "2017-03", "2017-03", "2017-03", "2017-03", "2017-03", None, None, "2017-03",
    ]  # fmt: skip


def test_payment_file_with_org_codes(tmp_path: Path) -> None:
    uscc = credit_code.make_uscc("9", "1", "360402", "MA35X000")
    org_only = "MA35X001" + credit_code.compute_org_check("MA35X001")
    path = write_csv(tmp_path / "pay.csv", [
        "单位名称,统一社会信用代码,组织机构代码,费款所属期,险种,应缴金额,实缴金额,到账日期",
        f"九江甲有限公司,{uscc},,201703,企业职工基本养老保险,1000.00,800,2017-04-10",
        f"九江乙厂,,{org_only[:8]}-{org_only[8]},2017年3月,工伤保险,50,50,",
        "九江丙公司,,,,失业,1,1,",  # no period: quarantined
        "合计,,,,,1051,851,",
    ], encoding="gb18030")  # fmt: skip
    data = tmp_path / "data"
    res = ingest_file(data, path, source="tax_si", kind="payment", as_of="2017-04-30")
    assert (res.batch.accepted, res.batch.quarantined) == (2, 2)
    df = api.current_records(data, "payment").collect().sort("row")
    assert df["credit_code"].to_list() == [uscc, None]
    assert df["org_code"].to_list() == [uscc[8:17], org_only]
    assert df["cc_valid"].to_list() == [True, False]  # absent credit code: not valid
    assert df["scheme"].to_list() == ["employee_pension", "work_injury"]
    assert df["due"].to_list() == [100000, 5000] and df["paid"].to_list() == [80000, 5000]
    assert df["period"].to_list() == ["2017-03", "2017-03"]
    assert df["employer_name_key"][0] is not None
    q = api.current_quarantine(data, "payment").collect().sort("row")
    assert q["reason"].to_list() == ["period_invalid", "summary_row"]


@given(st.lists(st.sampled_from(["91360402MA35X0000K", "600037341", "", "x", None]), max_size=60))
def test_by_distinct_equals_direct(values: list[str | None]) -> None:
    s = pl.Series("v", values, dtype=pl.Utf8)
    assert normalize.by_distinct(s, credit_code.check_frame).equals(credit_code.check_frame(s))


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("私营企业", "private"),
        ("有限责任公司（自然人独资）", "private"),
        ("股份有限公司(非上市、自然人投资或控股)", "private"),
        ("有限责任公司（非自然人投资或控股的法人独资）", None),  # a subsidiary: unknown
        ("股份有限公司（上市、国有控股）", "state"),
        ("全民所有制", "state"),
        ("集体所有制（股份合作）", "collective"),
        ("个人独资企业", "private"),
        ("普通合伙企业", "private"),
        ("个体工商户", "individual"),
        ("有限责任公司（台港澳法人独资）", "other"),
        ("中外合资经营企业", "other"),
        ("事业单位", "public_institution"),
        ("173", "private"),
        ("151", "state"),
        ("农民专业合作社", None),
        ("其他有限责任公司", None),
    ],
)
def test_ownership_of_business_registry_types(text: str, code: str | None) -> None:
    frame = pl.DataFrame({"x": [text, f" {text} "]})
    assert frame.select(normalize.parse_ownership(pl.col("x")))["x"].to_list() == [code, code]


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("养老保险", "employee_pension"),
        ("城镇职工基本医疗保险", "employee_medical"),
        ("企业职工基本养老保险（单位缴纳）", "employee_pension"),  # 征收品目 of the tax bureau
        ("机关事业单位工作人员基本养老保险", "employee_pension"),
        ("基本养老保险费", "employee_pension"),  # 征收项目
        ("职工基本医疗保险(含生育保险)", "employee_medical"),
        ("工伤保险费", "work_injury"),
        ("失业保险费", "unemployment"),
        ("生育保险费", "maternity"),
        ("城乡居民基本养老保险", "resident_pension"),
        ("新型农村合作医疗", "resident_medical"),
        ("职工大额医疗费用补助", None),  # not a scheme of its own
        ("补充医疗保险", None),
        ("职业年金", None),
        ("410", "work_injury"),
    ],
)
def test_scheme_words(text: str, code: str | None) -> None:
    frame = pl.DataFrame({"x": [text, f" {text}"]})
    assert frame.select(normalize.parse_scheme(pl.col("x")))["x"].to_list() == [code, code]
