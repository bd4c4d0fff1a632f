"""Opening and carrying cases from a build's lists, and verification by the data
(canbao.cases.opening): one case per key across builds, gone / confirmed / reopened / expired
by the data with events and new versions, nothing outside the given kinds and scope moved,
nothing personal stored in full — on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import re

import polars as pl
import pytest
from sqlalchemy import func, select, text

from canbao import cases
from canbao.cases.kinds import case_rows, covered_kinds
from canbao.errors import StateError, UsageError
from canbao.store import Store
from canbao.store.models import AuditEntry, Case, CaseEvent
from tests.cases.conftest import SYSTEM, People, case_of, make_lists, uninsured

D = dt.date


def _count(store: Store, *where: object) -> int:
    with store.sessions() as s:
        return int(s.execute(select(func.count()).select_from(Case).where(*where)).scalar_one())  # type: ignore[arg-type]


def test_list_rows_become_keys() -> None:
    lists = make_lists({"360000": [1, 2]})
    lists["uninsured"] = pl.concat([lists["uninsured"], uninsured("360000", [3], medical=False)])
    lists["headcount_months"] = pl.DataFrame({"county_code": ["360000"]})  # detail: no cases
    rows = case_rows(lists)
    assert sorted(rows["case_key"].to_list()) == sorted([
        "unregistered_employer/E360000-1/", "unregistered_employer/E360000-2/",
        "uninsured_medical/P360000-1/medical", "uninsured_medical/P360000-2/medical",
        "uninsured_pension/P360000-1/pension", "uninsured_pension/P360000-2/pension",
        "uninsured_pension/P360000-3/pension",
    ])  # fmt: skip
    # the same key twice in a list: one case, the most urgent row
    twice = {
        "uninsured": pl.concat(
            [
                uninsured("360000", [5]),
                uninsured("360000", [5]).with_columns(priority=pl.lit(0, pl.Int64)),
            ]
        )
    }
    assert case_rows(twice)["priority"].to_list() == [0, 0]
    subject = rows.filter(pl.col("case_key") == "uninsured_pension/P360000-1/pension")["subject"][0]
    assert "360000********0011" in subject and "139****0001" in subject
    assert covered_kinds({"uninsured": None}) == ("uninsured_pension", "uninsured_medical")
    with pytest.raises(UsageError, match="未知的工作清单：nonsense"):
        covered_kinds({"nonsense": None})


def test_opening_twice_and_carrying(store: Store, people: People) -> None:
    lists = make_lists({people.here: range(1, 6), people.there: range(1, 3)})
    first = cases.open_cases(store, SYSTEM, lists, "20180101T000000-aaaaaa")
    assert (first.rows, first.new, first.carried) == (21, 21, 0)
    again = cases.open_cases(store, SYSTEM, lists, "20180101T000000-aaaaaa")
    assert (again.new, again.carried, again.gone) == (0, 21, 0)
    # next month: same rows, a township changed → the same cases, carried, same version
    moved = {k: (v.with_columns(township=pl.lit("丙镇")) if k == "uninsured" else v)
             for k, v in lists.items()}  # fmt: skip
    nxt = cases.open_cases(store, SYSTEM, moved, "20180201T000000-bbbbbb")
    assert (nxt.new, nxt.carried, nxt.gone, nxt.confirmed) == (0, 21, 0, 0)
    assert _count(store) == 21
    c = case_of(store, f"uninsured_pension/P{people.here}-1/pension")
    assert (c.township, c.version, c.opened_build, c.last_seen_build) == (
        "丙镇",
        1,
        "20180101T000000-aaaaaa",
        "20180201T000000-bbbbbb",
    )
    with pytest.raises(StateError, match="早于已用于开案的版本"):
        cases.open_cases(store, SYSTEM, lists, "20171201T000000-cccccc")
    with store.sessions() as s:
        entry = s.execute(select(AuditEntry).where(AuditEntry.action == "cases.open")
                          .order_by(AuditEntry.id.desc()).limit(1)).scalar_one()  # fmt: skip
    assert entry.object_keys == ["20180201T000000-bbbbbb"] and entry.detail["carried"] == 21
    # no full ID number or phone anywhere in the store's cases
    with store.engine.connect() as conn:
        dump = " ".join(str(r) for r in conn.execute(text("SELECT * FROM cases")).all())
    assert not re.search(r"\d{18}", dump) and "13900000001" not in dump
    assert f"{people.here}********0011" in dump


def test_verification_by_the_next_build(store: Store, people: People) -> None:
    h = people.here
    cases.open_cases(store, SYSTEM, make_lists({h: range(1, 8)}), "b1")
    op = people.admin
    key = {i: case_of(store, f"uninsured_medical/P{h}-{i}/medical") for i in range(1, 8)}
    cases.resolve(store, op, SYSTEM, key[1].id, "已参保", on=D(2018, 1, 2), reason="居民医疗")
    cases.resolve(store, op, SYSTEM, key[2].id, "已在外地参保", reason="广东省深圳市")
    cases.resolve(store, op, SYSTEM, key[3].id, "已参保", on=D(2018, 1, 2), reason="居民医疗")
    cases.resolve(store, op, SYSTEM, key[4].id, "在校学生", expires_on=D(2018, 1, 31))
    cases.assign(store, op, SYSTEM, key[5].id, team="甲镇")
    # build 2: persons 1, 2, 5 have no medical gap any more (still a pension gap)
    medical_gone = {1, 2, 5}
    rows = pl.concat([uninsured(h, [i], medical=i not in medical_gone) for i in range(1, 8)])
    lists2 = {
        "uninsured": rows,
        "unregistered_employers": make_lists({h: range(1, 8)})["unregistered_employers"],
    }
    r = cases.open_cases(store, SYSTEM, lists2, "b2", on=D(2018, 2, 1))
    assert (r.new, r.gone, r.confirmed, r.reopened, r.expired) == (0, 1, 1, 0, 1)
    state = {i: case_of(store, key[i].case_key) for i in range(1, 8)}
    assert state[1].state == "confirmed" and state[1].state_build == "b2"  # 已参保, gap gone
    assert state[2].state == "resolved"  # 已在外地参保: the data cannot confirm it
    assert state[3].state == "resolved"  # 已参保 but still listed: awaiting the data
    assert state[4].state == "reopened"  # 在校学生 expired on 2018-01-31, still listed
    assert state[5].state == "gone_from_list" and state[5].team == "甲镇"
    assert state[6].state == "new" and state[6].version == 1
    assert state[1].version == key[1].version + 2  # resolved, then confirmed by the data
    with store.sessions() as s:
        events = s.execute(select(CaseEvent.case_id, CaseEvent.actor, CaseEvent.action,
                                  CaseEvent.from_state, CaseEvent.build)
                           .where(CaseEvent.actor == "data")).all()  # fmt: skip
    assert sorted((e.case_id, e.action, e.from_state, e.build) for e in events) == sorted([
        (key[1].id, "confirm", "resolved", "b2"), (key[4].id, "expire", "resolved", "b2"),
        (key[5].id, "gone", "assigned", "b2"),
    ])  # fmt: skip
    split = cases.uninsured_split(store, SYSTEM).filter(pl.col("kind") == "uninsured_medical")
    assert split.select("listed", "unexplained", "awaiting", "explained", "confirmed").row(0) == (
        4,
        3,
        1,
        0,
        1,
    )  # 2 is off the list but unconfirmable: in no count of the list
    # build 3: persons 1 and 5 are back on the medical list
    r3 = cases.open_cases(store, SYSTEM, make_lists({h: range(1, 8)}), "b3", on=D(2018, 3, 1))
    assert (r3.reopened, r3.gone, r3.confirmed) == (2, 0, 0)
    assert case_of(store, key[1].case_key).state == "reopened"
    assert case_of(store, key[5].case_key).state == "reopened"
    assert _count(store) == 21  # 7 persons × 2 gaps + 7 employers, never a second case


def test_only_the_given_kinds_and_scope_move(store: Store, people: People) -> None:
    h, t = people.here, people.there
    cases.open_cases(store, SYSTEM, make_lists({h: [1, 2], t: [1, 2]}), "b1")
    # the uninsured list alone, empty for the county user's county: only their uninsured cases go
    empty = uninsured(h, []).clear()
    r = cases.open_cases(store, people.scope(people.county_here), {"uninsured": empty}, "b2")
    assert r.gone == 4 and r.kinds == ("uninsured_pension", "uninsured_medical")
    assert _count(store, Case.state == "gone_from_list") == 4
    assert _count(store, Case.state == "gone_from_list", Case.county_code == h,
                  Case.kind.like("uninsured%")) == 4  # fmt: skip
    assert _count(store, Case.kind == "unregistered_employer", Case.state == "new") == 4
