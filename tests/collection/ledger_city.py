"""A tiny hand-made data directory for the ledger tests: four employers, their declarations,
payments (with and without transaction numbers, some in two files) and an opening-arrears list,
ingested like any delivery and linked by the registry build.

The figures each test expects are worked by hand from these rows (test_ledger.py).

- A 甲 private, 360402, active — employee pension. Declared 2017-01 1000.00, 2017-02 1000.00
  (corrected to 1050.00 by a later batch), 2017-04 in two parts 700.00 + 534.55; 2017-03 and
  2017-05 are not declared. Paid: 2017-01 on time, 2017-02 ten days late, 2017-04 600.00 on the
  due date and 300.00 twenty days late, 2017-03 on 2017-07-05 (after the as-of date).
  T002 is also in a second file (``si_pay_resent``).
- B 乙 state, 360423 — employee pension. Opening arrears (as of 2016-12-31): 2016-10 800.00,
  2016-11 500.00 and 2017-01 999.00 (declared: ignored). Declared 2017-01..06 2000.00 each.
  Pays at a county counter (no transaction numbers): 2016-10 in full on 2017-03-15, 2016-11
  200.00 on 2016-12-20 (before the list's date: already netted) and 100.00 on 2017-02-10,
  2017-01..04 on the 20th of the next month, 2017-05 in two equal rows of 1000.00 on
  2017-06-20. ``si_counter_copy`` repeats the 2016-10 payment and one 2017-05 row.
- C 丙 individual, 360402, cancelled (注销) — employee medical 2017-01 and 02 300.00, unpaid.
- D 丁 collective, 360423, managed by 市本级 — work injury 2017-01..05 100.00. Paid 2017-01
  250.00 on 2017-02-15 (150.00 overpaid), 2017-04 on time, 2017-05 without a payment date in a
  batch as of 2017-06-30, and 100.00 for 2017-06 (nothing assessed) on 2017-06-28.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from canbao.ingest.batches import ingest_file
from canbao.registry import api
from canbao.standards import credit_code

AS_OF = dt.date(2017, 6, 30)


def codes() -> dict[str, str]:
    return {
        "A": credit_code.make_uscc("9", "1", "360402", "MA35A0010"[:8]),
        "B": credit_code.make_uscc("9", "1", "360423", "MA35B002"),
        "C": credit_code.make_uscc("9", "2", "360402", "MA35C003"),
        "D": credit_code.make_uscc("9", "1", "360423", "MA35D004"),
    }


NAMES = {"A": "甲贸易有限公司", "B": "乙机械厂", "C": "丙小吃店", "D": "丁建筑队"}


def _write(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def _files(root: Path) -> dict[str, tuple[Path, str, str]]:
    """file → (path, kind, as_of) per source."""
    cc, n = codes(), NAMES
    f = root / "files"
    f.mkdir(parents=True, exist_ok=True)

    def who(k: str) -> str:
        return f"{cc[k]},{n[k]}"

    out: dict[str, tuple[Path, str, str]] = {}
    out["si_employer"] = (
        _write(f / "单位登记.csv", "统一社会信用代码,单位名称,经济类型,行政区划代码,登记状态,社保经办机构", [
            f"{who('A')},私营企业,360402,存续,",
            f"{who('B')},国有企业,360423,存续,",
            f"{who('C')},个体工商户,360402,注销,",
            f"{who('D')},集体企业,360423,存续,市本级",
        ]), "employer", "2017-06-30",
    )  # fmt: skip
    decl = [
        f"{who('A')},2017-01,养老保险,1000.00",
        f"{who('A')},2017-02,养老保险,1000.00",
        f"{who('A')},2017-04,养老保险,700.00",
        f"{who('A')},2017-04,养老保险,534.55",
    ]
    decl += [f"{who('B')},2017-0{m},养老保险,2000.00" for m in range(1, 7)]
    decl += [f"{who('C')},2017-0{m},医疗保险,300.00" for m in (1, 2)]
    decl += [f"{who('D')},2017-0{m},工伤保险,100.00" for m in range(1, 6)]  # fmt: skip
    header = "统一社会信用代码,单位名称,费款所属期,险种,应缴金额"
    out["si_decl"] = (_write(f / "申报.csv", header, decl), "declaration", "2017-06-15")
    out["si_decl_fix"] = (
        _write(f / "申报更正.csv", header, [f"{who('A')},2017-02,养老保险,1050.00"]),
        "declaration", "2017-06-30",
    )  # fmt: skip
    pay_h = "统一社会信用代码,单位名称,费款所属期,险种,实缴金额,到账日期,缴费流水号"
    out["si_pay"] = (
        _write(f / "到账.csv", pay_h, [
            f"{who('A')},2017-01,养老保险,1000.00,2017-02-20,T001",
            f"{who('A')},2017-02,养老保险,1050.00,2017-04-10,T002",
            f"{who('A')},2017-04,养老保险,600.00,2017-05-31,T003",
            f"{who('A')},2017-04,养老保险,300.00,2017-06-20,T004",
            f"{who('A')},2017-03,养老保险,1155.00,2017-07-05,T005",
            f"{who('D')},2017-01,工伤保险,250.00,2017-02-15,T101",
            f"{who('D')},2017-04,工伤保险,100.00,2017-05-20,T102",
            f"{who('D')},2017-06,工伤保险,100.00,2017-06-28,T104",
        ]), "payment", "2017-07-10",
    )  # fmt: skip
    out["si_pay_resent"] = (
        _write(f / "到账重发.csv", pay_h, [
            f"{who('A')},2017-02,养老保险,\"1,050.00\",2017-04-10,T002",
        ]), "payment", "2017-07-10",
    )  # fmt: skip
    out["si_pay_undated"] = (
        _write(f / "到账补录.csv", pay_h, [f"{who('D')},2017-05,工伤保险,100.00,,T103"]),
        "payment", "2017-06-30",
    )  # fmt: skip
    counter_h = "统一社会信用代码,单位名称,费款所属期,险种,实缴金额,到账日期"
    b = who("B")
    out["si_counter"] = (
        _write(f / "柜台缴费.csv", counter_h, [
            f"{b},2016-10,养老保险,800.00,2017-03-15",
            f"{b},2016-11,养老保险,200.00,2016-12-20",
            f"{b},2016-11,养老保险,100.00,2017-02-10",
            *(f"{b},2017-0{m},养老保险,2000.00,2017-0{m + 1}-20" for m in range(1, 5)),
            f"{b},2017-05,养老保险,1000.00,2017-06-20",
            f"{b},2017-05,养老保险,1000.00,2017-06-20",
        ]), "payment", "2017-06-30",
    )  # fmt: skip
    out["si_counter_copy"] = (
        _write(f / "柜台缴费副本.csv", counter_h, [
            f"{b},2016-10,养老保险,800.00,2017-03-15",
            f"{b},2017-05,养老保险,1000.00,2017-06-20",
        ]), "payment", "2017-06-30",
    )  # fmt: skip
    out["si_arrears"] = (
        _write(f / "期初欠费.csv", "统一社会信用代码,单位名称,险种,欠费所属期,欠费金额,截止日期", [
            f"{b},养老保险,2016-10,800.00,2016-12-31",
            f"{b},养老保险,2016-11,500.00,2016-12-31",
            f"{b},养老保险,2017-01,999.00,2016-12-31",
        ]), "arrears", "2017-01-10",
    )  # fmt: skip
    return out


def make_data(root: Path) -> Path:
    """Ingest every file into ``root/data`` and build the registry; returns the data dir."""
    data = root / "data"
    for source, (path, kind, as_of) in _files(root).items():
        res = ingest_file(data, path, source=source, kind=kind, as_of=as_of)
        assert res.batch.quarantined == 0, (source, res.report["quarantine"])
    api.build(data)
    return data
