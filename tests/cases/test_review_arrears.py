"""The registry's review queue and the ledger's arrears as case kinds — on SQLite and PostgreSQL.

Review (kind ``review``): a small synthetic city plus the pairs the review queue exists for
(trusted namesakes and a record without an ID; an Excel number shared by two namesakes, as in
tests/registry/test_city.py). Resolving a pair's case with 同一人 / 不同人 records the registry's
decision in the same transaction (``canbao review decide`` decides through the case); the next
build honours it, the pair leaves the queue and the case is confirmed by the data.

Arrears (kind ``arrears``): the hand-made ledger city of tests/collection (four employers, the
figures worked by hand in tests/collection/test_ledger.py), one case per employer and scheme; the
next month's payments clear one employer's debt and its 已足额缴清 is confirmed.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import polars as pl
import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from canbao import cases
from canbao.cli import run
from canbao.errors import NotFoundError, PermissionDenied, UsageError
from canbao.ingest.batches import ingest_file
from canbao.registry import api as registry
from canbao.registry import snapshot
from canbao.standards import masking
from canbao.store import Actor, Store
from canbao.store.models import AuditEntry, ReviewDecision
from canbao.warehouse.scope import Scope
from tests.cases.conftest import SYSTEM, People
from tests.collection.ledger_city import AS_OF, NAMES, codes, make_data
from tests.registry.city import ingest, make_city
from tests.registry.fixtures import make_id

D = dt.date
OP = Actor("root_admin", "admin")
NAMESAKES = {  # GB-example-style numbers built for the test, not personal data
    "a": make_id("360402", "19700101", 101),
    "b": make_id("360402", "19700101", 103),
    "c": make_id("360402", "19720202", 131),
    "d": make_id("360402", "19720202", 134),  # the same first 15 digits as "c"
}


# --- review -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def reviewable(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A built city whose review queue holds the namesakes' pairs (all of county 360402)."""
    city = make_city(tmp_path_factory.mktemp("rv-city"), persons=1000, seed=23)
    data = tmp_path_factory.mktemp("rv-data") / "data"
    ingest(city, data)
    files = tmp_path_factory.mktemp("rv-files")
    n = NAMESAKES
    (files / "hukou.csv").write_text(
        "公民身份号码,姓名,性别,出生日期,户号,行政区划代码\n"
        f"{n['a']},欧阳明远,男,1970-01-01,RV1,360402\n{n['b']},欧阳明远,男,1970-01-01,RV2,360402\n"
        f"{n['c']},司马晓雨,男,1972-02-02,RV3,360402\n{n['d']},司马晓雨,女,1972-02-02,RV4,360402\n",
        encoding="utf-8",
    )
    excel = f"{int(n['c']):.14E}"  # what Excel shows of the number
    (files / "rm.csv").write_text(
        f"姓名,性别,出生日期,证件号码,参保地区划\n欧阳明远,男,1970-01-01,,360402\n"
        f"司马晓雨,,,{excel},360402\n",
        encoding="utf-8",
    )
    ingest_file(data, files / "hukou.csv", source="review_hukou", kind="population",
                as_of="2017-12-31")  # fmt: skip
    ingest_file(data, files / "rm.csv", source="review_rm", kind="enrollment",
                scheme="resident_medical", as_of="2017-12-31")  # fmt: skip
    registry.build(data)
    return data


@pytest.fixture
def data(reviewable: Path, tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the reviewable city's data directory (tests rebuild it) whose store is the
    test's (``$CANBAO_DATABASE_URL``): the registry's build reads the decisions from it."""
    copy = tmp_path / "data"
    shutil.copytree(reviewable, copy)
    monkeypatch.setenv("CANBAO_DATABASE_URL", store.url)
    return copy


def _decisions(store: Store) -> list[tuple[str, str]]:
    with store.sessions() as s:
        rows = s.execute(select(ReviewDecision.decision, ReviewDecision.decided_by)
                         .order_by(ReviewDecision.id)).all()  # fmt: skip
    return [(str(r[0]), str(r[1])) for r in rows]


def test_the_review_queue_as_a_work_list(data: Path, store: Store, people: People) -> None:
    items = registry.review_items(data, SYSTEM)
    rows = cases.review_list(data, SYSTEM, store)
    assert rows.height == items.height >= 3  # the namesakes' pairs, nothing decided yet
    assert set(rows["county_code"]) == {"360402"} == {people.here}
    assert not {"left_key", "right_key"} & set(rows.columns)  # node keys carry ID numbers
    assert set(rows["priority"]) <= {1, 2} and set(rows["reason"]) <= {
        "模糊（多个相近的人）", "不确定", "无证件号记录的可能本人"
    }  # fmt: skip
    opened = cases.open_cases(store, SYSTEM, {"review_items": rows}, "b1")
    assert (opened.kinds, opened.new) == (("review",), rows.height)
    made = cases.list_cases(store, SYSTEM, kind="review", limit=None)
    assert {c.case_key for c in made} == {f"review/{p}/" for p in rows["pair_id"]}
    stored = json.dumps([c.subject for c in made], ensure_ascii=False)
    assert not masking.looks_like_id(stored) and not any(i in stored for i in NAMESAKES.values())
    # a county reader gets the pairs of their county only; a reader without personal data none
    there = people.scope(people.county_there)
    assert cases.review_list(data, there, store).height == 0
    assert cases.review_list(data, people.scope(people.county_here), store).height == rows.height
    with pytest.raises(PermissionDenied):
        cases.review_list(data, people.scope(people.leader), store)
    assert "review_items" not in cases.work_lists(data, people.scope(people.leader), store)
    # a pair decided on the command line is no case to work until the next build removes it
    first = str(rows["pair_id"][0])
    registry.decide(data, first, "different")
    assert first not in set(cases.review_list(data, SYSTEM, store)["pair_id"])


def test_deciding_through_the_case(data: Path, store: Store, people: People,
                                   tmp_path: Path) -> None:  # fmt: skip
    people.add_users(store)
    rows = cases.review_list(data, SYSTEM, store)
    cases.open_cases(store, SYSTEM, {"review_items": rows},
                     snapshot.require_current(data).build_id)  # fmt: skip
    same, other, unsure = cases.list_cases(store, SYSTEM, kind="review", limit=3)
    me, mine = people.county_here, people.scope(people.county_here)
    with pytest.raises(UsageError, match="须记入登记库"):  # the registry needs the data dir
        cases.resolve(store, me, mine, same.id, "同一人", version=same.version)
    assert _decisions(store) == []
    with pytest.raises(PermissionDenied):  # another county's reviewer
        cases.resolve(store, people.county_there, people.scope(people.county_there), same.id,
                      "同一人", data_dir=data)  # fmt: skip
    done = cases.resolve(store, me, mine, same.id, "同一人", reason="户籍核实为同一人",
                         version=same.version, data_dir=data)  # fmt: skip
    assert (done.state, done.outcome, done.events[-1].detail["decision"]) == (
        "resolved", "same", "same")  # fmt: skip
    assert _decisions(store) == [("same", me.name)]
    # the command line's review decide goes through the open case
    pair = other.case_key.split("/")[1]
    assert run(["review", "decide", pair, "different", "--data-dir", str(data),
                "--database-url", store.url]) == 0  # fmt: skip
    assert cases.get_case(store, SYSTEM, other.id).outcome == "different"
    assert [d for d, _ in _decisions(store)] == ["same", "different"]
    # 无法判断 decides nothing
    cases.resolve(store, me, mine, unsure.id, "无法判断", reason="证件号缺失，需户籍协查")
    assert len(_decisions(store)) == 2
    with store.sessions() as s:
        logged = s.execute(select(func.count()).select_from(AuditEntry)
                           .where(AuditEntry.action == "review.decide")).scalar_one()  # fmt: skip
    assert logged == 2
    # the next build honours the decisions: those pairs leave the queue, their cases confirmed
    registry.build(data)
    build2 = snapshot.require_current(data).build_id
    again = cases.open_cases(store, SYSTEM, cases.work_lists(data, SYSTEM, store, "review"),
                             build2)  # fmt: skip
    assert again.confirmed == 2
    states = {c.id: c.state for c in cases.list_cases(store, SYSTEM, kind="review", limit=None)}
    assert (states[same.id], states[other.id], states[unsure.id]) == (
        "confirmed", "confirmed", "resolved")  # fmt: skip
    left = set(registry.review_items(data, SYSTEM)["pair_id"])
    assert same.case_key.split("/")[1] not in left and pair not in left


def test_review_pairs_in_the_county_workbook(data: Path, store: Store, people: People,
                                             tmp_path: Path) -> None:  # fmt: skip
    rows = cases.review_list(data, SYSTEM, store)
    cases.open_cases(store, SYSTEM, {"review_items": rows}, "b1")
    mine = people.scope(people.county_here)
    out = tmp_path / "review.xlsx"
    cases.export_workbook(store, mine, people.here, "review", out)
    wb = load_workbook(out)
    ws = wb["疑似同一人复核"]
    header = [c.value for c in ws[1]]
    for label in ("左：姓名", "右：姓名", "左：证件号", "出生日期比对", "处理结果", "案件标识"):
        assert label in header, label
    (dv,) = ws.data_validations.dataValidation
    assert dv.formula1 == '"同一人,不同人,无法判断"'
    cells = [str(v) for r in ws.iter_rows(values_only=True) for v in r if v is not None]
    assert not any(masking.looks_like_id(v) for v in cells)
    ws.cell(2, header.index("处理结果") + 1, "同一人")
    ws.cell(3, header.index("处理结果") + 1, "无法判断")
    ws.cell(3, header.index("情况说明") + 1, "需户籍协查")
    wb.save(out)
    refused = cases.import_workbook(store, people.county_here, mine, out)  # no data directory
    assert [x.cell for x in refused.rejected] == [
        f"{ws.cell(1, header.index('处理结果') + 1).column_letter}2"
    ]
    assert "须记入登记库" in refused.rejected[0].reason_zh and len(refused.applied) == 1
    assert _decisions(store) == []
    done = cases.import_workbook(store, people.county_here, mine, out, data_dir=data)
    assert (len(done.applied), done.skipped, done.rejected) == (1, 1, [])
    assert _decisions(store) == [("same", people.county_here.name)]
    again = cases.import_workbook(store, people.county_here, mine, out, data_dir=data)
    assert (again.applied, again.skipped) == ([], 2) and len(_decisions(store)) == 1


def test_a_pair_no_longer_in_the_queue_is_not_decided(data: Path, store: Store) -> None:
    rows = cases.review_list(data, SYSTEM, store)
    cases.open_cases(store, SYSTEM, {"review_items": rows}, snapshot.require_current(data).build_id)
    case = cases.list_cases(store, SYSTEM, kind="review", limit=1)[0]
    registry.decide(data, case.case_key.split("/")[1], "same")  # decided elsewhere
    registry.build(data)  # … and honoured: the pair left the queue; the case was not moved yet
    with pytest.raises(NotFoundError, match="复核队列中没有编号"):
        cases.resolve(store, OP, SYSTEM, case.id, "不同人", data_dir=data, version=case.version)
    assert cases.get_case(store, SYSTEM, case.id).state == "new"
    assert [d.decision for d in _rows(store)] == ["same"]
    # carried to the new build: the case left the list without an outcome of its own
    r = cases.open_cases(store, SYSTEM, {"review_items": cases.review_list(data, SYSTEM, store)},
                         snapshot.require_current(data).build_id)  # fmt: skip
    assert r.gone >= 1 and cases.get_case(store, SYSTEM, case.id).state == "gone_from_list"


def _rows(store: Store) -> list[ReviewDecision]:
    with store.sessions() as s:
        return list(s.execute(select(ReviewDecision)).scalars())


def test_decide_pair_without_a_case_and_out_of_scope(data: Path, store: Store,
                                                     people: People) -> None:  # fmt: skip
    pair = str(cases.review_list(data, SYSTEM, store)["pair_id"][0])
    assert cases.decide_pair(store, OP, SYSTEM, data, pair, "same") is None  # no case: registry
    assert [d.decision for d in _rows(store)] == ["same"]
    other = str(cases.review_list(data, SYSTEM, store)["pair_id"][0])
    cases.open_cases(store, SYSTEM, {"review_items": cases.review_list(data, SYSTEM, store)}, "b1")
    with pytest.raises(NotFoundError, match="不在您负责的区县"):
        cases.decide_pair(store, people.county_there, people.scope(people.county_there), data,
                          other, "same")  # fmt: skip
    with pytest.raises(UsageError, match="same（同一人）或 different"):
        cases.decide_pair(store, OP, SYSTEM, data, other, "maybe")
    assert len(_rows(store)) == 1


# --- arrears ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ledger_city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_data(tmp_path_factory.mktemp("arrears-city"))


def _letters(frame: pl.DataFrame) -> dict[str, dict[str, object]]:
    letter = {v: k for k, v in codes().items()}
    return {letter[r["credit_code"]]: r for r in frame.iter_rows(named=True)}


def test_the_arrears_per_employer_and_scheme(ledger_city: Path) -> None:
    rows = cases.arrears_list(ledger_city, SYSTEM, AS_OF)
    assert rows is not None
    got = _letters(rows)
    # the figures of tests/collection/test_ledger.py, one scheme each
    assert {k: (r["scheme"], r["arrears"], r["arrears_yuan"]) for k, r in got.items()} == {
        "A": ("employee_pension", 148955, "1489.55"),
        "B": ("employee_pension", 40000, "400.00"),
        "C": ("employee_medical", 60000, "600.00"),
        "D": ("work_injury", 20000, "200.00"),
    }
    a = got["A"]
    assert (a["oldest_period"], a["days_past_due"], a["ageing"], a["periods"]) == (
        "2017-03", 61, "1–90天", 2)  # fmt: skip
    assert (a["late_fee"], a["late_fee_yuan"], a["priority"]) == (4850, "48.50", 4)
    assert (got["B"]["ageing"], got["B"]["priority"], got["B"]["late_fee"]) == (
        "181–365天", 2, 4200 + 3825)  # fmt: skip
    assert got["A"]["scheme_label"] == "城镇职工基本养老保险"
    county = Scope("li", "county_staff", frozenset({"360423"}), personal=False)
    theirs = cases.arrears_list(ledger_city, county, AS_OF)
    assert theirs is not None and set(_letters(theirs)) == {"B", "D"}
    lists = cases.work_lists(ledger_city, county, None, "arrears", as_of=AS_OF)
    assert set(lists) == {"arrears"} and lists["arrears"].height == 2


def test_arrears_cases_and_the_next_month(ledger_city: Path, store: Store, tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(ledger_city, data)
    rows = cases.arrears_list(data, SYSTEM, AS_OF)
    assert rows is not None
    first = cases.open_cases(
        store, SYSTEM, {"arrears": rows}, snapshot.require_current(data).build_id
    )
    assert (first.kinds, first.new) == (("arrears",), 4)
    by = {str(c.subject["credit_code"]): c for c in cases.list_cases(store, SYSTEM, kind="arrears")}
    cc = codes()
    d, b, c, a = by[cc["D"]], by[cc["B"]], by[cc["C"]], by[cc["A"]]
    assert d.case_key == f"arrears/{d.subject_key}/work_injury" and d.subject_type == "employer"
    assert (d.subject["arrears_yuan"], d.subject["scheme_label"]) == ("200.00", "工伤保险")
    with pytest.raises(UsageError, match="须填写日期"):
        cases.resolve(store, OP, SYSTEM, d.id, "已足额缴清")
    with pytest.raises(UsageError, match="未知的处理结果“已参保”"):
        cases.resolve(store, OP, SYSTEM, d.id, "已参保")
    cases.resolve(store, OP, SYSTEM, d.id, "已足额缴清", on=D(2017, 7, 5))
    cases.resolve(store, OP, SYSTEM, b.id, "已签分期或缓缴协议", on=D(2017, 7, 1),
                  reason="分期协议第1号")  # fmt: skip
    cases.resolve(store, OP, SYSTEM, c.id, "单位已注销或破产", reason="已注销")
    # the next month: D pays its two months; A's 2017-03 arrives (in the files since 07-05)
    pay = tmp_path / "pay2.csv"
    who = f"{cc['D']},{NAMES['D']}"
    pay.write_text(
        "统一社会信用代码,单位名称,费款所属期,险种,实缴金额,到账日期,缴费流水号\n"
        f"{who},2017-02,工伤保险,100.00,2017-07-05,T201\n{who},2017-03,工伤保险,100.00,2017-07-05,T202\n",
        encoding="utf-8",
    )  # fmt: skip
    ingest_file(data, pay, source="si_pay_m2", kind="payment", as_of="2017-07-31")
    registry.build(data)
    nxt = cases.arrears_list(data, SYSTEM)  # the data's as-of date: 2017-07-31
    assert nxt is not None and set(_letters(nxt)) == {"A", "B", "C"}
    second = cases.open_cases(
        store, SYSTEM, {"arrears": nxt}, snapshot.require_current(data).build_id
    )
    assert (second.carried, second.new, second.confirmed, second.gone) == (3, 0, 1, 0)
    states = {
        k: cases.get_case(store, SYSTEM, x.id) for k, x in zip("DBCA", (d, b, c, a), strict=True)
    }
    assert {k: v.state for k, v in states.items()} == {
        "D": "confirmed", "B": "resolved", "C": "resolved", "A": "new"}  # fmt: skip
    assert states["A"].subject["arrears_yuan"] == "1692.56"  # refreshed from the new ledger
    assert states["D"].events[-1].action == "confirm" and states["D"].events[-1].actor == "data"
    p = cases.progress(store, SYSTEM)
    assert p.summary.filter(pl.col("kind") == "arrears")["resolved"].sum() == 3
