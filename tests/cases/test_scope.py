"""County scope on every public function of canbao.cases (found by its signature, so a new one
cannot be forgotten): a county user's attempt on another county's cases is refused or sees
nothing of them, and changes nothing — on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import inspect
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import select

from canbao import cases
from canbao.errors import PermissionDenied
from canbao.store import Store
from canbao.store.models import Case
from tests.cases.conftest import SYSTEM, People, case_of, make_lists

# the functions that read a data directory's registry and ledger: their scope is tested on the
# synthetic city in tests/cases/test_review_arrears.py
ON_A_CITY = {"work_lists", "review_list", "arrears_list", "decide_pair"}


def _scoped() -> set[str]:
    return {
        name for name in cases.__all__
        if inspect.isfunction(getattr(cases, name))
        and "scope" in inspect.signature(getattr(cases, name)).parameters
    }  # fmt: skip


def _state(store: Store) -> list[tuple[object, ...]]:
    with store.sessions() as s:
        return [tuple(r) for r in s.execute(
            select(Case.case_key, Case.state, Case.version, Case.last_seen_build)
            .order_by(Case.case_key)).all()]  # fmt: skip


def test_every_function_refuses_another_county(
    store: Store, people: People, tmp_path: Path
) -> None:
    people.add_users(store)
    cases.open_cases(store, SYSTEM, make_lists({people.here: [1, 2], people.there: [1]}), "b1")
    theirs = case_of(store, f"uninsured_pension/P{people.here}-1/pension")
    me, sc = people.county_there, people.scope(people.county_there)
    form = tmp_path / "here.xlsx"
    cases.export_workbook(store, SYSTEM, people.here, None, form)
    from openpyxl import load_workbook

    wb = load_workbook(form)
    for ws in wb.worksheets:
        col = [c.value for c in ws[1]].index("处理结果") + 1
        for r in range(2, ws.max_row + 1):
            ws.cell(r, col, "联系不上")
    wb.save(form)
    explained = case_of(store, f"uninsured_pension/P{people.here}-2/pension")
    cases.resolve(store, people.admin, SYSTEM, explained.id, "联系不上")  # an outcome of theirs
    refused: dict[str, Callable[[], object]] = {
        "assign": lambda: cases.assign(store, me, sc, theirs.id, team="甲镇"),
        "contact": lambda: cases.contact(store, me, sc, theirs.id),
        "escalate": lambda: cases.escalate(store, me, sc, theirs.id, reason="x"),
        "reopen": lambda: cases.reopen(store, me, sc, theirs.id, reason="x"),
        "resolve": lambda: cases.resolve(store, me, sc, theirs.id, "联系不上"),
        "get_case": lambda: cases.get_case(store, sc, theirs.id),
        "list_cases": lambda: cases.list_cases(store, sc, county=people.here),
        "export_workbook": lambda: cases.export_workbook(store, sc, people.here, None,
                                                         tmp_path / "x.xlsx"),
        "open_cases": lambda: cases.open_cases(
            store, sc, make_lists({people.here: [1, 2], people.there: [1]}), "b2"),
    }  # fmt: skip
    hidden: dict[str, Callable[[], None]] = {}

    def listed() -> None:
        assert {c.county_code for c in cases.list_cases(store, sc)} == {people.there}

    def progressed() -> None:
        p = cases.progress(store, sc)
        assert set(p.summary["county_code"]) == {people.there}
        assert set(p.uninsured["county_code"]) == {people.there}

    def split() -> None:
        assert set(cases.uninsured_split(store, sc)["county_code"]) == {people.there}

    def outcomes_of() -> None:
        assert cases.uninsured_outcomes(store, SYSTEM)["category"].to_list() == ["explained"]
        assert cases.uninsured_outcomes(store, sc).height == 0

    def imported() -> None:
        r = cases.import_workbook(store, me, sc, form)
        assert r.applied == [] and len(r.rejected) == 6
        assert all("属于其他区县" in x.reason_zh for x in r.rejected)

    hidden.update(list_cases=listed, progress=progressed, uninsured_split=split,
                  import_workbook=imported, uninsured_outcomes=outcomes_of)  # fmt: skip
    assert set(refused) | set(hidden) | ON_A_CITY == _scoped(), (
        "a function of canbao.cases is not tested"
    )
    before = _state(store)
    for name, attempt in refused.items():
        with pytest.raises(PermissionDenied, match="区县"):
            attempt()
        assert _state(store) == before, name
    for name, check in hidden.items():
        check()
        assert _state(store) == before, name
    assert not [e for e in cases.get_case(store, SYSTEM, theirs.id).events]


def test_a_county_user_opens_only_their_county(store: Store, people: People) -> None:
    cases.open_cases(store, SYSTEM, make_lists({people.here: [1, 2], people.there: [1]}), "b1")
    sc = people.scope(people.county_here)
    mine = {k: v.filter(pl.col("county_code") == people.here) for k, v in
            make_lists({people.here: [1], people.there: [1]}).items()}  # fmt: skip
    r = cases.open_cases(store, sc, mine, "b2", on=dt.date(2018, 2, 1))
    assert r.gone == 3  # person 2's two gaps and employer 2 of their county
    there = [c for c in cases.list_cases(store, SYSTEM, county=people.there)]
    assert {(c.state, c.last_seen_build) for c in there} == {("new", "b1")}
