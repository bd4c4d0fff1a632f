"""``canbao ledger export``, ``canbao arrears`` and ``canbao kpi``: the CLI contract on the
hand-made data directory (figures: test_ledger.py's EXPECTED, test_ledger_kpi.py)."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import polars as pl
import pytest

from canbao.cli import run
from canbao.store import audit_log, open_store
from tests.collection.ledger_city import NAMES, codes, make_data


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_data(tmp_path_factory.mktemp("ledger-cli"))


def test_ledger_export_csv(data: Path, tmp_path: Path) -> None:
    out = tmp_path / "台账.csv"
    code = run(["ledger", "export", "--as-of", "2017-06-30", "--out", str(out),
                "--data-dir", str(data)])  # fmt: skip
    assert code == 0
    text = out.read_text("utf-8")
    header = text.splitlines()[0]
    assert header == ("employer_key,credit_code,employer_name,county_code,ownership,scheme,"
                      "period,due_date,due,paid,balance,late_fee,estimated")  # fmt: skip
    frame = pl.read_csv(out, infer_schema_length=0)
    assert frame.height == 21
    a4 = frame.filter((pl.col("credit_code") == codes()["A"]) & (pl.col("period") == "2017-04"))
    assert a4.select("due_date", "due", "paid", "balance", "late_fee", "estimated").row(0) == (
        "2017-05-31", "1234.55", "900.00", "334.55", "8.02", "false"
    )  # fmt: skip
    a3 = frame.filter((pl.col("credit_code") == codes()["A"]) & (pl.col("period") == "2017-03"))
    assert a3.select("due", "late_fee", "estimated").row(0) == ("1155.00", "35.23", "true")
    d1 = frame.filter((pl.col("credit_code") == codes()["D"]) & (pl.col("period") == "2017-01"))
    assert d1["balance"][0] == "-150.00"
    assert a3["employer_name"][0] == NAMES["A"]
    assert all(len(v.split(".")[1]) == 2 for v in frame["due"])
    store = open_store(data)
    entry = audit_log.entries(store, action="export", limit=1)[0]
    assert (entry.object_type, entry.object_keys, entry.detail["rows"]) == (
        "ledger",
        [out.name],
        21,
    )
    store.dispose()


def test_arrears_xlsx_and_csv(data: Path, tmp_path: Path) -> None:
    xlsx = tmp_path / "欠费.xlsx"
    assert run(["arrears", "--as-of", "2017-06-30", "--out", str(xlsx),
                "--data-dir", str(data)]) == 0  # fmt: skip
    ws = openpyxl.load_workbook(xlsx).active
    assert ws is not None
    rows = list(ws.iter_rows(values_only=True))
    head = list(rows[0])
    assert "欠费金额(元)" in head and "欠费1–90天(元)" in head and "滞纳金(元)" in head
    first = dict(zip(head, rows[1], strict=True))
    # most urgent first: B owes 400.00 for 2016-11, 181 days; its fees 42.00 + 38.25
    assert (first["单位名称"], first["欠费金额(元)"], first["滞纳金(元)"]) == (
        NAMES["B"], "400.00", "80.25"
    )  # fmt: skip
    assert first["欠费险种"] == "城镇职工基本养老保险" and first["经济类型"] == "国有企业"
    csv = tmp_path / "欠费.csv"
    assert run(["arrears", "--as-of", "2017-06-30", "--county", "360402", "--out", str(csv),
                "--data-dir", str(data)]) == 0  # fmt: skip
    frame = pl.read_csv(csv, infer_schema_length=0)
    assert frame["employer_name"].to_list() == [NAMES["C"], NAMES["A"]]
    assert frame["arrears"].to_list() == ["600.00", "1489.55"]
    assert frame["schemes"].to_list() == ["employee_medical", "employee_pension"]


def test_kpi_json(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["kpi", "--year", "2017", "--as-of", "2017-06-30", "--json",
                "--data-dir", str(data)]) == 0  # fmt: skip
    got = json.loads(capsys.readouterr().out)
    assert all(set(r) == {"unit", "indicator", "value"} for r in got)
    values = {(r["unit"], r["indicator"]): r["value"] for r in got}
    assert values[("city", "collected.employee_pension")] == "13850.00"
    assert values[("city", "new_arrears_ratio.private")] == "0.5389"
    assert values[("city", "clearance_rate.public")] == "0.6923"
    assert values[("city_level", "new_arrears_ratio.public")] == "0.4000"


@pytest.mark.parametrize(
    "args",
    [
        ["ledger", "export", "--as-of", "2017-13-01", "--out", "x.csv"],
        ["ledger", "export", "--as-of", "20170630", "--out", "x.csv"],
        ["arrears", "--as-of", "yesterday", "--out", "x.xlsx"],
        ["kpi", "--year", "2017", "--as-of", "2017/06/30"],
    ],
)
def test_bad_dates_are_chinese_usage_errors(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    args = [str(tmp_path / a) if a.startswith("x.") else a for a in args]
    assert run([*args, "--data-dir", str(data)]) == 2
    assert "日期无效" in capsys.readouterr().err


def test_bad_formats_and_years(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dd = ["--data-dir", str(data)]
    assert run(["ledger", "export", "--as-of", "2017-06-30", "--out", str(tmp_path / "x.xlsx"),
                *dd]) == 2  # fmt: skip
    assert "csv" in capsys.readouterr().err
    assert run(["arrears", "--as-of", "2017-06-30", "--out", str(tmp_path / "x.pdf"), *dd]) == 2
    capsys.readouterr()
    assert run(["kpi", "--year", "2018", "--as-of", "2017-06-30", *dd]) == 2
    assert "早于" in capsys.readouterr().err


def test_the_ledger_on_a_day_before_the_coverage_policy(data: Path, tmp_path: Path) -> None:
    """The opening balances as of 2016-12-31, a day no version of the coverage policy covers
    (it starts 2017-01-01): the ledger does not use it, so the export works; the gap lists,
    which do, still refuse with the policy's message."""
    out = tmp_path / "期初.csv"
    dd = ["--data-dir", str(data)]
    assert run(["ledger", "export", "--as-of", "2016-12-31", "--out", str(out), *dd]) == 0
    frame = pl.read_csv(out, infer_schema_length=0).filter(pl.col("credit_code") == codes()["B"])
    # B's opening list: 2016-10 800.00 due 2016-11-30, 31 days × 0.05 % by 2016-12-31; 2016-11
    # 500.00 due that day (its 200.00 paid on 2016-12-20 is already netted); 2017-01 not yet
    assert frame.select("period", "balance", "late_fee").rows() == [
        ("2016-10", "800.00", "12.40"), ("2016-11", "500.00", "0.00"),
    ]  # fmt: skip
    code = run(["gaps", "--kind", "uninsured", "--as-of", "2016-12-31",
                "--out", str(tmp_path / "g.xlsx"), *dd])  # fmt: skip
    assert code != 0 and not (tmp_path / "g.xlsx").exists()
