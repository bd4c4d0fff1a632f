"""Meaning is coded once, at ingest, and rules read codes (issue 14, items 9 and 10).

A tiny hand-built city with known answers: 待遇状态 written as departments write it (领取中,
正常发放, 停发), employers whose declarations are a fen short, 20 % short, or two identical rows
of two employees, and a county filter given a typo. All people and codes are fictional.
"""

from __future__ import annotations

import datetime as dt
import json
import unicodedata
from pathlib import Path

import duckdb
import polars as pl
import pytest

from canbao.cli import run
from canbao.coverage import api
from canbao.coverage.employers import base_short_sql, build_compliance
from canbao.coverage.policy import policy_for
from canbao.coverage.segments import build_person_facts
from canbao.errors import UsageError
from canbao.ingest import api as ingest_api
from canbao.ingest import kinds, normalize
from canbao.ingest.batches import ingest_file
from canbao.registry import api as registry
from canbao.standards import citizen_id, credit_code
from canbao.warehouse.datadir import DataLayout
from tests.scopes import SYSTEM

AS_OF = "2017-12-31"
LIANXI, XIUSHUI = "360402", "360424"  # the two counties of the fixture (濂溪区, 修水县)


def _id(region: str, birth: str, seq: int) -> str:
    body = f"{region}{birth}{seq:03d}"
    return body + citizen_id.compute_check_char(body)


def _cc(body8: str) -> str:
    return credit_code.make_uscc("9", "1", LIANXI, body8)


# Pensioners (died 2017-03-01 unless alive) and their 待遇状态 as delivered.
PENSIONERS = {
    "赵甲": (_id(LIANXI, "19400101", 11), "领取中", True),
    "钱乙": (_id(LIANXI, "19410202", 13), "正常发放", True),
    "孙丙": (_id(XIUSHUI, "19420303", 15), "停发", True),
    "李丁": (_id(XIUSHUI, "19430404", 17), "领取中", False),
    "周戊": (_id(LIANXI, "19440505", 19), "待核", False),  # not a known word
}
# Employees: name → (id, employer key in EMPLOYERS, monthly wage in yuan)
EMPLOYEES = {
    "吴一": (_id(LIANXI, "19870101", 21), "one_fen", "5000.00"),
    "郑二": (_id(LIANXI, "19880202", 23), "fifth", "5000.00"),
    "王三": (_id(LIANXI, "19890303", 25), "twins", "5000.00"),
    "冯四": (_id(LIANXI, "19900404", 27), "twins", "5000.00"),
}
# Employers: key → (credit code, name, 园区企业, declaration rows (headcount, base in yuan))
EMPLOYERS = {
    "one_fen": (_cc("10000001"), "九江甲乙科技有限公司", "九江经济技术开发区", [("1", "4999.99")]),
    "fifth": (_cc("10000002"), "九江丙丁商贸有限公司", "否", [("1", "4000.00")]),
    "twins": (_cc("10000003"), "九江戊己机械有限公司", "是", [("1", "5000.00"), ("1", "5000.00")]),
}


def _write(path: Path, rows: list[list[str]]) -> Path:
    path.write_text("\n".join(",".join(r) for r in rows) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    files = tmp_path_factory.mktemp("semantics-files")
    data = tmp_path_factory.mktemp("semantics-data")
    everyone = {n: v[0] for n, v in PENSIONERS.items()} | {n: v[0] for n, v in EMPLOYEES.items()}
    pop = [["姓名", "公民身份号码", "行政区划代码", "住址"]]
    pop += [[n, i, i[:6], "某街1号"] for n, i in everyone.items()]
    deaths = [["姓名", "公民身份号码", "死亡日期"]]
    deaths += [[n, i, "2017-03-01"] for n, (i, _b, dead) in PENSIONERS.items() if dead]
    enrol = [["姓名", "公民身份号码", "参保状态", "参保日期", "待遇状态", "行政区划代码"]]
    enrol += [[n, i, "参保缴费", "2000-01-01", b, i[:6]] for n, (i, b, _d) in PENSIONERS.items()]
    emp = [["统一社会信用代码", "单位名称", "行政区划代码", "单位社保编号", "园区企业"]]
    emp += [[cc, name, LIANXI, f"SB{k}", park] for k, (cc, name, park, _d) in EMPLOYERS.items()]
    tax = [["公民身份号码", "姓名", "统一社会信用代码", "单位名称", "所得所属期", "收入额"]]
    tax += [
        [i, n, EMPLOYERS[e][0], EMPLOYERS[e][1], "2017-12", wage]
        for n, (i, e, wage) in EMPLOYEES.items()
    ]
    decl = [["统一社会信用代码", "单位名称", "费款所属期", "险种", "申报人数", "缴费基数"]]
    decl += [
        [cc, name, "2017-12", "企业职工基本养老保险", h, base]
        for cc, name, _p, rows in EMPLOYERS.values()
        for h, base in rows
    ]
    for name, rows, kind, scheme in (
        ("hukou.csv", pop, "population", None),
        ("deaths.csv", deaths, "death", None),
        ("pension.csv", enrol, "enrollment", "employee_pension"),
        ("employers.csv", emp, "employer", None),
        ("tax.csv", tax, "employment", None),
        ("declarations.csv", decl, "declaration", None),
    ):
        ingest_file(
            data, _write(files / name, rows), source=name[:-4], kind=kind, scheme=scheme,
            as_of=AS_OF,
        )  # fmt: skip
    registry.build(data)
    return data


@pytest.fixture(scope="module")
def lists(data: Path) -> dict[str, pl.DataFrame]:
    return api.gap_lists(data, SYSTEM)


# --- item 10a: 待遇状态 and 园区企业 are coded at ingest --------------------------------------


def _normalize_one(kind: str, field: str, values: list[str | None]) -> pl.DataFrame:
    text = pl.DataFrame({"row": list(range(1, len(values) + 1))}).with_columns(
        *[
            (pl.Series(field, values, dtype=pl.Utf8) if f.name == field else pl.lit(None))
            .cast(pl.Utf8)
            .alias(f.name)
            for f in kinds.FIELDS[kind]
        ]
    )
    return normalize.normalize(text, kind, scheme="employee_pension")


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("是", "receiving"), ("1", "receiving"), ("Y", "receiving"), ("true", "receiving"),
        ("领取", "receiving"), ("领取中", "receiving"), ("正常", "receiving"),
        ("正常发放", "receiving"), ("发放", "receiving"), ("在领", "receiving"),
        ("享受", "receiving"), (" 领取中 ", "receiving"), ("ＴＲＵＥ", "receiving"),
        ("暂停", "suspended"), ("停发", "suspended"),
        ("终止", "stopped"), ("注销", "stopped"),
        ("否", "none"), ("0", "none"), ("N", "none"), ("未领取", "none"),
        ("待核", None), (None, None),
    ],
)  # fmt: skip
def test_benefit_vocabulary(raw: str | None, code: str | None) -> None:
    out = _normalize_one("enrollment", "benefit", [raw])
    assert out["benefit"][0] == code
    # the cleaned text is kept next to the code (NFKC half-width, spaces trimmed)
    assert out["benefit_raw"][0] == (raw and unicodedata.normalize("NFKC", raw).strip())
    assert ("benefit_invalid" in out["warnings"][0].to_list()) == (raw is not None and code is None)


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("是", "yes"), ("1", "yes"), ("Y", "yes"), ("true", "yes"), ("园区企业", "yes"),
        ("九江经济技术开发区", "yes"), ("共青城高新区", "yes"), ("城西港区工业园", "yes"),
        ("否", "no"), ("0", "no"), ("N", "no"), ("非园区企业", "no"), ("无", "no"),
        ("待定", None), (None, None),
    ],
)  # fmt: skip
def test_park_vocabulary(raw: str | None, code: str | None) -> None:
    out = _normalize_one("employer", "park", [raw])
    assert out["park"][0] == code
    assert out["park_raw"][0] == raw
    assert ("park_invalid" in out["warnings"][0].to_list()) == (raw is not None and code is None)


def test_unknown_values_listed_once_each() -> None:
    values = ["在途", "领取中", "在途", "X" * 50, None]
    text = pl.DataFrame({"row": [1, 2, 3, 4, 5], "benefit": values})
    for f in kinds.FIELDS["enrollment"]:
        if f.name != "benefit":
            text = text.with_columns(pl.lit(None, dtype=pl.Utf8).alias(f.name))
    out = normalize.normalize(text, "enrollment", scheme="employee_pension")
    notes = normalize.unrecognised_notes(text, out, "enrollment")
    assert len(notes) == 1
    assert "待遇状态（benefit）有 3 行" in notes[0]
    assert "“在途” 2 行、“" + "X" * 20 + "…” 1 行" in notes[0]  # long values are cut
    assert "领取中" not in notes[0]


def test_ingest_report_lists_unknown_benefit(data: Path) -> None:
    rec = ingest_api.current_records(data, "enrollment").collect()
    assert rec.filter(pl.col("benefit").is_null())["benefit_raw"].to_list() == ["待核"]
    assert sorted(rec["benefit"].drop_nulls().to_list()) == [
        "receiving", "receiving", "receiving", "suspended",
    ]  # fmt: skip
    (batch,) = ingest_api.current_batches(data, "enrollment")
    report = json.loads((DataLayout(data).batch(batch.batch_id) / "report.json").read_text("utf-8"))
    assert any("“待核” 1 行" in n for n in report["notes"])
    assert [w["count"] for w in report["warnings"] if w["code"] == "benefit_invalid"] == [1]


def test_deceased_receiving_from_codes(lists: dict[str, pl.DataFrame]) -> None:
    d = lists["deceased"]
    got = dict(zip(d["id18"].to_list(), d["receiving"].to_list(), strict=True))
    ids = {n: v[0] for n, v in PENSIONERS.items()}
    # 领取中 and 正常发放 are receiving (they were "not receiving" when raw text was matched)
    assert got == {ids["赵甲"]: 1, ids["钱乙"]: 1, ids["孙丙"]: 0}
    prio = dict(zip(d["id18"].to_list(), d["priority"].to_list(), strict=True))
    assert prio[ids["赵甲"]] == 1 and prio[ids["孙丙"]] == 2


def test_retired_and_park_segments_from_codes(data: Path) -> None:
    with api.session(data, SYSTEM) as s:
        s.ensure("person_facts", build_person_facts)
        seg = s.frame("SELECT id18, segment FROM person_segments")
    by = dict(seg.iter_rows())
    assert by[PENSIONERS["李丁"][0]] == "retired"  # alive, 领取中
    assert by[PENSIONERS["周戊"][0]] != "retired"  # 待核: not known to receive
    assert by[EMPLOYEES["吴一"][0]] == "park_employee"  # employer in 九江经济技术开发区
    assert by[EMPLOYEES["王三"][0]] == "park_employee"  # 是
    assert by[EMPLOYEES["郑二"][0]] == "employee"  # 否


# --- item 10c: base tolerance and identical declarations ------------------------------------


def _employer_rows(lists: dict[str, pl.DataFrame], key: str) -> pl.DataFrame:
    return lists["under_reporters"].filter(pl.col("credit_code") == EMPLOYERS[key][0])


def test_base_one_fen_short_not_flagged(lists: dict[str, pl.DataFrame]) -> None:
    assert _employer_rows(lists, "one_fen").height == 0


def test_base_a_fifth_short_flagged(lists: dict[str, pl.DataFrame]) -> None:
    row = _employer_rows(lists, "fifth")
    assert row.height == 1
    assert row["under_kind"][0] == "base"
    assert (row["tax_base"][0], row["declared_base"][0]) == (500_000, 400_000)


def test_identical_declarations_both_count(data: Path, lists: dict[str, pl.DataFrame]) -> None:
    assert _employer_rows(lists, "twins").height == 0  # no false headcount gap
    with api.session(data, SYSTEM) as s:
        s.ensure("compliance", build_compliance)
        h = s.frame(
            f"""SELECT h.tax_headcount, h.declared_headcount, h.gap, h.declared_base
                FROM headcount_month h JOIN employers e ON e.employer_key = h.employer_key
                WHERE e.credit_code = '{EMPLOYERS["twins"][0]}'"""
        )
    assert h.rows() == [(2, 2, 0, 1_000_000)]


@pytest.mark.parametrize(
    ("tax", "declared", "short"),
    [
        (500_000, 500_000, False),
        (500_000, 499_999, False),  # a fen
        (500_000, 495_000, False),  # exactly 1 %
        (500_000, 494_999, True),  # 1 % and a fen
        (5_000, 4_900, False),  # 2 %, but only 1 yuan: within the absolute floor
        (5_000, 4_899, True),
        (500_000, 400_000, True),
    ],
)
def test_base_tolerance_rule(tax: int, declared: int, short: bool) -> None:
    p = policy_for(dt.date(2017, 12, 31))
    assert (p.base_tolerance_bp, p.base_tolerance_min_fen) == (100, 100)
    sql = base_short_sql(p, "CAST(? AS BIGINT)", "CAST(? AS BIGINT)")
    # the SQL names each value twice: tax, declared, tax, declared, tax
    got = duckdb.connect().execute(f"SELECT {sql}", [tax, declared, tax, declared, tax]).fetchone()
    assert got is not None and got[0] is short


# --- item 9: --county must be a division code present in the data ---------------------------


def _squash(text: str) -> str:
    return "".join(text.split())  # Rich wraps long lines


def test_county_typo_is_usage_error(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "gaps.csv"
    code = run(["gaps", "--county", "999999", "--out", str(out), "--data-dir", str(data)])
    err = _squash(capsys.readouterr().err)
    assert code == 2 and not out.exists()
    assert "区县代码999999不存在" in err
    assert "数据中的区县：360402濂溪区、360424修水县" in err


def test_county_known_but_absent_is_usage_error(data: Path) -> None:
    with pytest.raises(UsageError) as e:
        api.gap_lists(data, SYSTEM, kind="deceased", county="360403")
    assert "数据中没有区县 360403 浔阳区" in e.value.message_zh
    assert "360402 濂溪区、360424 修水县" in e.value.message_zh
    with pytest.raises(UsageError, match="不存在"):
        api.gap_lists(data, SYSTEM, kind="deceased", county="36O402")


def test_valid_county_filters(data: Path, tmp_path: Path) -> None:
    out = tmp_path / "gaps.csv"
    assert run(["gaps", "--county", LIANXI, "--out", str(out), "--data-dir", str(data)]) == 0
    lists = api.gap_lists(data, SYSTEM, kind="deceased", county=f" {XIUSHUI} ")
    assert lists["deceased"]["id18"].to_list() == [PENSIONERS["孙丙"][0]]
