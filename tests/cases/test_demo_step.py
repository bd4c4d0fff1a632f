"""The cases demo step on a small synthetic city, between the collection and plan steps as
``canbao demo`` runs them: cases opened from every work list, the field work it does, the county
workbook, the coverage statistics split by the field's outcomes, and the 通报's 入户核查进度
section agreeing with the store — nothing random, nothing personal in its "where to look"."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from openpyxl import load_workbook

from canbao import cases
from canbao.cases.demo import run_cases_demo
from canbao.collection.demo import run_collection_demo
from canbao.plan.demo import run_plan_demo
from canbao.plan.report import cases as section
from canbao.registry import api as registry
from canbao.standards import masking
from canbao.store import audit_log, open_store
from canbao.store.demo import run_store_demo
from tests.cases.conftest import SYSTEM
from tests.registry.city import ingest, make_city


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str], dict[str, str]]:
    mp = pytest.MonkeyPatch()
    mp.delenv("CANBAO_DATABASE_URL", raising=False)  # the demo's own store in OUT/data
    out = tmp_path_factory.mktemp("cases-demo")
    city = make_city(out, persons=1000, seed=23)  # OUT/city, as the demo lays it out
    ingest(city, out / "data")
    registry.build(out / "data")
    run_store_demo(out)
    run_collection_demo(out)
    where = run_cases_demo(out)
    plan = run_plan_demo(out, pdf=False)
    yield out, where, plan
    mp.undo()


def _path(where: dict[str, str], word: str) -> Path:
    return Path(next(v for k, v in where.items() if word in k))


def test_where_to_look(demo: tuple[Path, dict[str, str], dict[str, str]]) -> None:
    out, where, _plan = demo
    assert len(where) == 4 and all(Path(v).is_file() for v in where.values())
    assert all(str(v).startswith(str(out / "cases")) for v in where.values())
    assert not any(masking.looks_like_id(k) for k in where)


def test_the_cases_it_opened_and_worked(demo: tuple[Path, dict[str, str], dict[str, str]]) -> None:
    out, where, _plan = demo
    opened = json.loads(_path(where, "由工作清单开案").read_text("utf-8"))
    assert opened["new"] == opened["rows"] > 0 and {"review", "arrears"} <= set(opened["kinds"])
    assert opened["demo_steps"] == {"assigned": 6, "resolved": 4, "contacted": 1, "arrears": 2}
    store = open_store(out / "data")
    try:
        everything = cases.list_cases(store, SYSTEM, limit=None)
        assert len(everything) == opened["rows"]
        kinds = {c.kind for c in everything}
        # (this small city's review queue is empty: its list was given, it made no case)
        assert {"uninsured_pension", "uninsured_medical", "arrears"} <= kinds
        standing = sorted(c.outcome_label for c in everything if c.state == "resolved")
        assert standing == sorted(
            ["已参保", "已参保", "已在外地参保", "在校学生", "已签分期或缓缴协议", "已移送劳动监察"]
        )
        county = next(c for c in everything if c.outcome == "student")
        assert county.assignee and county.assignee.startswith("county_")
        # the store step's review decision (if its queue had a pair) is the only one: the cases
        # step decides no pair (tests/hostile/test_demo_output.py counts them)
        assert {e.actor for e in audit_log.entries(store, action="review.decide")} <= {"city_li"}
        assert audit_log.verify(store)[1] == []
    finally:
        store.dispose()
    book = load_workbook(_path(where, "个案工作簿"))
    assert "应保未保（医疗）" in book.sheetnames or "应保未保（养老）" in book.sheetnames
    for ws in book.worksheets:
        assert ws.data_validations.dataValidation, ws.title  # the outcome drop-down


def test_the_statistics_and_the_report_agree(
    demo: tuple[Path, dict[str, str], dict[str, str]],
) -> None:
    out, where, plan = demo
    stats = pl.read_excel(_path(where, "参保统计"), sheet_name="应保未保按核查结果")
    city = stats.filter(pl.col("区县代码") == "city")
    assert city["已登记参保待数据确认"].sum() == 2  # the two 已参保, not yet in the data
    assert city["已说明原因（单列，不计为已参保）"].sum() == 2  # 已在外地参保, 在校学生
    assert (
        city["未核实"] + city["已登记参保待数据确认"] + city["已说明原因（单列，不计为已参保）"]
    ).equals(city["应保未保人数（清单）"])
    report = _path(plan, "月度通报 Excel")
    ws = load_workbook(report)[section.SHEET]
    rows = {r[0]: r[1:] for r in ws.iter_rows(min_row=4, values_only=True) if r[0]}
    store = open_store(out / "data")
    try:
        total = len(cases.list_cases(store, SYSTEM, limit=None))
    finally:
        store.dispose()
    # 全市: opened, open, worked (4 resolved + 1 visit + 2 arrears), resolved (6)
    assert rows["全市"][:4] == (total, total - 6, 7, 6)
    assert rows["全市"][8:11] == (
        city["应保未保人数（清单）"].sum() - 2 - 2,
        2,
        2,
    )  # unexplained, awaiting, explained
    html = report.with_suffix(".html").read_text("utf-8")
    assert f"全市扩面核查个案累计开案{total:,}个" in html
