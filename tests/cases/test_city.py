"""Cases on the synthetic city: opened from the real gap lists of one build, carried to the next
month's build, in which the synthetic month enrols some uninsured people in resident medical
insurance — their 已参保 cases close as confirmed by the data; and the command line
(``canbao cases …``, as the operator and ``--as USER``) — on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest
from openpyxl import load_workbook

from canbao import cases
from canbao.cli import run
from canbao.coverage import api as coverage
from canbao.ingest.batches import ingest_file
from canbao.registry import api as registry
from canbao.registry import snapshot
from canbao.store import Actor, Store, accounts
from canbao.synth.month import new_enrolment_extract
from tests.cases.conftest import PASSWORD, SYSTEM
from tests.registry.city import ingest, make_city


@dataclass(frozen=True)
class Month:
    data: Path
    build1: str
    lists1: dict[str, pl.DataFrame]
    build2: str
    lists2: dict[str, pl.DataFrame]
    enrolled: frozenset[str]  # ID numbers newly in resident medical insurance in month 2


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> Month:
    city = make_city(tmp_path_factory.mktemp("cases-city"), persons=1000, seed=23)
    data = tmp_path_factory.mktemp("cases-data")
    ingest(city, data)
    registry.build(data)
    build1 = snapshot.require_current(data).build_id
    lists1 = coverage.gap_lists(data, SYSTEM)
    files = tmp_path_factory.mktemp("cases-files")
    extract = new_enrolment_extract(city, files / "jumin_yibao_2018_01.csv", share=0.2)
    ingest_file(data, extract, source="si_resident_medical_m2", kind="enrollment",
                scheme="resident_medical", as_of="2018-01-31")  # fmt: skip
    registry.build(data)
    build2 = snapshot.require_current(data).build_id
    enrolled = frozenset(pl.read_csv(extract, infer_schema=False)["公民身份号码"].to_list())
    return Month(data, build1, lists1, build2, coverage.gap_lists(data, SYSTEM), enrolled)


def _medical(lists: dict[str, pl.DataFrame]) -> pl.DataFrame:
    return lists["uninsured"].filter(pl.col("medical_gap") == 1)


def test_the_next_month_confirms_enrolments(store: Store, month: Month) -> None:
    first = cases.open_cases(store, SYSTEM, month.lists1, month.build1)
    assert first.new == first.rows > 0 and first.carried == 0
    op = Actor("root_admin", "admin")
    medical = [c for c in cases.list_cases(store, SYSTEM, kind="uninsured_medical", limit=None)]
    assert len(medical) == _medical(month.lists1).height
    for c in medical:  # the field says every one of them enrolled
        cases.resolve(store, op, SYSTEM, c.id, "已参保", on=dt.date(2018, 1, 15),
                      reason="城乡居民医疗", version=c.version)  # fmt: skip
    second = cases.open_cases(store, SYSTEM, month.lists2, month.build2)
    assert second.carried > 0 and second.new == second.rows - second.carried
    before = _medical(month.lists1)
    after = set(_medical(month.lists2)["person_key"].to_list())
    left = before.filter(~pl.col("person_key").is_in(sorted(after)))
    assert left.height > 0, "the synthetic month enrols some uninsured people"
    assert set(left["id18"].to_list()) <= month.enrolled  # they left because they enrolled
    confirmed = {c.subject_key for c in cases.list_cases(store, SYSTEM, kind="uninsured_medical",
                                                         state="confirmed", limit=None)}  # fmt: skip
    assert confirmed == set(left["person_key"].to_list()) and second.confirmed >= len(confirmed)
    still = cases.list_cases(store, SYSTEM, kind="uninsured_medical", state="resolved", limit=None)
    assert {c.subject_key for c in still} == {c.subject_key for c in medical} - confirmed
    split = cases.uninsured_split(store, SYSTEM).filter(pl.col("kind") == "uninsured_medical")
    assert split["confirmed"].sum() == len(confirmed)
    assert split["awaiting"].sum() == len(still) == split["listed"].sum()


def test_the_command_line(store: Store, month: Month, tmp_path: Path,
                          capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    base = ["--data-dir", str(month.data), "--database-url", store.url]
    assert run(["cases", "open", "--json", *base]) == 0
    opened = json.loads(capsys.readouterr().out)
    assert opened["build_id"] == month.build2 and opened["new"] == opened["rows"] > 0
    assert {"review", "arrears", "uninsured_medical"} <= set(opened["kinds"])  # every work list
    assert run(["cases", "open", "--lists", "nope", *base]) == 2
    assert "未知的清单类型：nope" in capsys.readouterr().err
    assert run(["cases", "open", "--lists", "arrears", "--json", *base]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["kinds"] == ["arrears"] and again["new"] == 0 and again["carried"] > 0
    county = _medical(month.lists2)["county_code"].mode().sort()[0]
    accounts.add_user(store, Actor("root_admin", "admin"), "li_county", "county_staff", PASSWORD,
                      [county])  # fmt: skip
    me = ["--as", "li_county"]
    assert run(["cases", "list", "--json", "--limit", "10000", *me, *base]) == 0
    mine = json.loads(capsys.readouterr().out)
    assert mine and {c["county_code"] for c in mine} == {county}
    assert all("address" not in c["subject"] for c in mine)
    out = tmp_path / "county.xlsx"
    assert run(["cases", "export", "--county", county, "--kind", "uninsured_medical",
                "--out", str(out), *me, *base]) == 0  # fmt: skip
    wb = load_workbook(out)
    ws = wb.worksheets[0]
    header = [c.value for c in ws[1]]
    ws.cell(2, header.index("处理结果") + 1, "联系不上")
    key = ws.cell(2, header.index("案件标识") + 1).value
    wb.save(out)
    capsys.readouterr()
    assert run(["cases", "import", str(out), "--json", *me, *base]) == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["applied"], result["rejected"]) == (1, [])
    case_id = next(c["id"] for c in mine if c["case_key"] == key)
    assert run(["cases", "show", str(case_id), "--json", *me, *base]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["state"], shown["outcome"], shown["events"][0]["actor"]) == (
        "resolved",
        "unreachable",
        "li_county",
    )
    other = next(c["id"] for c in mine if c["id"] != case_id and c["kind"] == "uninsured_medical")
    assert run(["cases", "assign", str(other), "--user", "li_county", *base]) == 0
    assert run(["cases", "resolve", str(other), "--outcome", "已参保", *me, *base]) == 2
    assert "须填写日期" in capsys.readouterr().err
    assert run(["cases", "resolve", str(other), "--outcome", "已参保", "--on", "2018-01-20",
                "--reason", "居民医疗", "--version", "2", *me, *base]) == 0  # fmt: skip
    capsys.readouterr()
    assert run(["cases", "progress", "--json", *me, *base]) == 0
    p = json.loads(capsys.readouterr().out)
    assert {r["county_code"] for r in p["summary"]} == {county}
    assert sum(r["resolved"] for r in p["summary"]) == 2
    assert run(["cases", "list", "--as", "nobody", *base]) == 1
    assert "没有可用的用户“nobody”" in capsys.readouterr().err


def test_the_coverage_statistics_split_the_uninsured(store: Store, month: Month) -> None:
    """The coverage statistics' uninsured counts, split by what the field recorded (passed in as
    data: :func:`canbao.cases.uninsured_outcomes`), against the two months' lists."""
    cases.open_cases(store, SYSTEM, month.lists1, month.build1)
    op = Actor("root_admin", "admin")
    for c in cases.list_cases(store, SYSTEM, kind="uninsured_medical", limit=None):
        cases.resolve(store, op, SYSTEM, c.id, "已参保", on=dt.date(2018, 1, 15),
                      reason="城乡居民医疗", version=c.version)  # fmt: skip
    abroad = cases.list_cases(store, SYSTEM, kind="uninsured_pension", limit=5)
    for c in abroad:
        cases.resolve(store, op, SYSTEM, c.id, "已在外地参保", reason="浙江省宁波市")
    cases.open_cases(store, SYSTEM, month.lists2, month.build2)

    def keys(lists: dict[str, pl.DataFrame], gap: str) -> set[str]:
        return set(lists["uninsured"].filter(pl.col(gap) == 1)["person_key"].to_list())

    m1, m2 = keys(month.lists1, "medical_gap"), keys(month.lists2, "medical_gap")
    p2 = keys(month.lists2, "pension_gap")
    assert m1 - m2, "the synthetic month enrols some uninsured people"
    plain = coverage.statistics(month.data, SYSTEM)["uninsured"]
    said = cases.uninsured_outcomes(store, SYSTEM)
    assert set(said["category"]) == {"awaiting", "confirmed", "explained"}
    split = coverage.statistics(month.data, SYSTEM, outcomes=said)["uninsured"]
    city = {
        r["scheme"]: r for r in split.filter(pl.col("county_code") == "city").iter_rows(named=True)
    }
    assert city["medical"] == {
        "county_code": "city", "scheme": "medical", "uninsured": len(m2),
        "unexplained": len(m2 - m1), "awaiting": len(m1 & m2), "explained": 0,
        "confirmed": len(m1 - m2),
    }  # fmt: skip
    explained = len({c.subject_key for c in abroad} & p2)
    assert explained > 0
    assert (city["pension"]["uninsured"], city["pension"]["explained"]) == (len(p2), explained)
    assert (city["pension"]["awaiting"], city["pension"]["confirmed"]) == (0, 0)
    assert city["pension"]["unexplained"] == len(p2) - explained
    # the counties add up to the city; without the field's outcomes the split is unknown (null)
    counties = split.filter(pl.col("county_code") != "city")
    for scheme, row in city.items():
        part = counties.filter(pl.col("scheme") == scheme)
        assert {
            c: part[c].sum()
            for c in ("uninsured", "unexplained", "awaiting", "explained", "confirmed")
        } == {  # fmt: skip
            c: row[c] for c in ("uninsured", "unexplained", "awaiting", "explained", "confirmed")
        }
    assert plain.select("county_code", "scheme", "uninsured").equals(
        split.select("county_code", "scheme", "uninsured")
    )
    assert plain["unexplained"].null_count() == plain.height
    # the cases' own view of the latest list agrees with the statistics on it
    mine = cases.uninsured_split(store, SYSTEM).filter(pl.col("kind") == "uninsured_medical")
    assert (mine["listed"].sum(), mine["awaiting"].sum(), mine["confirmed"].sum()) == (
        len(m2), len(m1 & m2), len(m1 - m2))  # fmt: skip
