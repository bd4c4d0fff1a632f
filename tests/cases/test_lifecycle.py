"""A case's life (canbao.cases.lifecycle): the transition table, the steps with their events
and audit entries, the refusals in Chinese naming the allowed steps, what each outcome needs,
乐观锁 and two staff resolving the same case — on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select

from canbao import cases
from canbao.cases import lifecycle, outcomes
from canbao.cases.kinds import KINDS
from canbao.errors import ConflictError, NotFoundError, PermissionDenied, StateError, UsageError
from canbao.store import Store, open_store
from canbao.store.models import AuditEntry, CaseEvent
from tests.cases.conftest import SYSTEM, People, case_of, make_lists
from tests.store.conftest import url_for

D = dt.date


def _open(store: Store, people: People) -> None:
    cases.open_cases(store, SYSTEM, make_lists({people.here: range(1, 4), people.there: [9]}), "b1")


def test_the_transition_table_is_closed_and_every_state_reachable() -> None:
    states = set(lifecycle.STATE_LABELS)
    assert set(lifecycle.TRANSITIONS) == states
    reached, frontier = {"new"}, ["new"]
    while frontier:
        for step, to in lifecycle.TRANSITIONS[frontier.pop()].items():
            assert step in lifecycle.STEP_LABELS and to in states
            if to not in reached:
                reached.add(to)
                frontier.append(to)
    # confirmed and gone_from_list are the data's moves (canbao.cases.opening), not the staff's
    assert reached == states - {"confirmed", "gone_from_list"}
    assert lifecycle.OPEN | lifecycle.CLOSED == states and not lifecycle.OPEN & lifecycle.CLOSED
    assert lifecycle.next_steps("resolved") == ["reopen"]


def test_the_outcome_table_fits_every_listed_kind() -> None:
    for kind, k in KINDS.items():
        labels = outcomes.labels(kind)
        # every kind has its list now (arrears and review too) but a person's own request from
        # the self-service area (canbao.selfservice.contact_change)
        assert k.lists or kind == "contact_change", kind
        assert labels and len(labels) == len(set(labels)), kind
        assert len(",".join(labels)) <= outcomes.VALIDATION_MAX, kind  # an Excel drop-down
        # a review pair is decided at a desk, on the evidence: nobody to reach
        assert ("联系不上" in labels) == (kind != "review"), kind
    assert outcomes.labels("review") == ["同一人", "不同人", "无法判断"]
    assert outcomes.labels("arrears") == [
        "联系不上", "已足额缴清", "已签分期或缓缴协议", "已移送劳动监察", "已申请强制执行",
        "单位已注销或破产", "对欠费有异议",
    ]  # fmt: skip
    assert {"paid", "same", "different"} <= outcomes.CONFIRMABLE
    assert not {"agreement", "inspection", "closed_down", "undecidable"} & outcomes.CONFIRMABLE
    assert {"enrolled", "duplicate_cleared", "registered"} <= outcomes.CONFIRMABLE
    assert not {"insured_elsewhere", "student", "refused", "unreachable"} & outcomes.CONFIRMABLE
    assert outcomes.code_of("uninsured_medical", " 已参保 ") == "enrolled"
    with pytest.raises(UsageError, match="未知的处理结果“单位已登记”.*已参保"):
        outcomes.code_of("uninsured_medical", "单位已登记")


def test_the_path_and_its_history(store: Store, people: People) -> None:
    people.add_users(store)
    _open(store, people)
    me, sc = people.county_here, people.scope(people.county_here)
    c = case_of(store, f"uninsured_medical/P{people.here}-1/medical")
    assert (c.state, c.version, c.opened_build) == ("new", 1, "b1")
    c = cases.assign(store, me, sc, c.id, user="wang_county", team="甲镇工作组", version=c.version)
    assert (c.state, c.assignee, c.team, c.worked_at) == (
        "assigned",
        "wang_county",
        "甲镇工作组",
        None,
    )
    c = cases.contact(store, me, sc, c.id, on=D(2018, 1, 5), note="电话联系", version=c.version)
    assert c.state == "contacted" and c.worked_at is not None
    c = cases.resolve(store, me, sc, c.id, "已参保", on=D(2018, 1, 8), reason="城乡居民医疗",
                      version=c.version)  # fmt: skip
    assert (c.state, c.outcome, c.outcome_label, c.resolved_by) == (
        "resolved",
        "enrolled",
        "已参保",
        "li_county",
    )
    c = cases.reopen(store, me, sc, c.id, reason="本人称尚未缴费", version=c.version)
    assert c.state == "reopened" and c.outcome == "enrolled"  # the last outcome is kept
    c = cases.escalate(store, me, sc, c.id, reason="拒不配合，移交市局", version=c.version)
    c = cases.resolve(store, me, sc, c.id, "refused", reason="明确拒绝", version=c.version)
    assert [(e.action, e.from_state, e.to_state) for e in c.events] == [
        ("assign", "new", "assigned"), ("contact", "assigned", "contacted"),
        ("resolve", "contacted", "resolved"), ("reopen", "resolved", "reopened"),
        ("escalate", "reopened", "escalated"), ("resolve", "escalated", "resolved"),
    ]  # fmt: skip
    assert c.version == 7 and all(e.actor == "li_county" for e in c.events)
    with store.sessions() as s:
        logged = s.execute(
            select(AuditEntry.action).where(AuditEntry.object_type == "case")
            .order_by(AuditEntry.id)
        ).scalars().all()  # fmt: skip
    assert logged == ["case.assign", "case.contact", "case.resolve", "case.reopen",
                      "case.escalate", "case.resolve"]  # fmt: skip
    # the full view of one case shows name and address, and is logged
    full = cases.get_case(store, sc, c.id)
    assert full.subject["address"] and full.subject["id18"] == f"{people.here}********0011"
    assert "address" not in cases.list_cases(store, sc)[0].subject
    with store.sessions() as s:
        view = s.execute(select(AuditEntry).where(AuditEntry.action == "case.view")).scalar_one()
    assert view.actor == "li_county" and set(view.fields) == {"name", "address"}


def test_illegal_steps_name_the_allowed_ones(store: Store, people: People) -> None:
    _open(store, people)
    me, sc = people.admin, SYSTEM
    c = case_of(store, f"uninsured_pension/P{people.here}-2/pension")
    with pytest.raises(StateError, match="当前状态为“新案件”，不能“重新打开”.*分派（assign）"):
        cases.reopen(store, me, sc, c.id, reason="x")
    c = cases.resolve(store, me, sc, c.id, "联系不上")
    with pytest.raises(
        StateError, match="当前状态为“已办结”，不能“登记联系情况”；可以进行的下一步：重新打开"
    ):
        cases.contact(store, me, sc, c.id)
    for step in (
        lambda: cases.assign(store, me, sc, c.id, team="甲镇"),
        lambda: cases.escalate(store, me, sc, c.id, reason="x"),
        lambda: cases.resolve(store, me, sc, c.id, "拒绝参保"),
    ):
        with pytest.raises(StateError, match="可以进行的下一步：重新打开（reopen）"):
            step()
    assert case_of(store, c.case_key).version == c.version  # nothing changed
    with pytest.raises(NotFoundError):
        cases.contact(store, me, sc, 999_999)


def test_what_each_outcome_needs(store: Store, people: People) -> None:
    _open(store, people)
    me, sc = people.admin, SYSTEM
    c = case_of(store, f"uninsured_pension/P{people.here}-3/pension")
    wrong = [
        (("已参保",), {"reason": "职工养老"}, "date", "须填写日期"),
        (("已参保",), {"on": D(2018, 1, 2)}, "reason", "须写明参保险种"),
        (("已在外地参保",), {}, "reason", "须写明参保地"),
        (("在校学生",), {}, "expiry", "须填写有效期至"),
        (("在校学生",), {"on": D(2018, 1, 2), "expires_on": D(2017, 6, 30)}, "expiry", "不能早于"),
        (("已死亡",), {"on": dt.date.today() + dt.timedelta(days=3)}, "date", "不能晚于今天"),
        (("单位已登记",), {"on": D(2018, 1, 2)}, "outcome", "未知的处理结果"),
    ]
    for args, kw, field, words in wrong:
        with pytest.raises(UsageError, match=words) as e:
            cases.resolve(store, me, sc, c.id, *args, **kw)  # type: ignore[arg-type]
        assert e.value.details["field"] == field
    assert case_of(store, c.case_key).state == "new"
    done = cases.resolve(store, me, sc, c.id, "在校学生", expires_on=D(2019, 7, 1),
                         evidence="学籍证明")  # fmt: skip
    assert (done.outcome, done.expires_on, done.evidence) == ("student", D(2019, 7, 1), "学籍证明")


def test_roles_and_assignees(store: Store, people: People) -> None:
    people.add_users(store)
    _open(store, people)
    c = case_of(store, f"uninsured_pension/P{people.here}-1/pension")
    with pytest.raises(PermissionDenied, match="没有权限：办理扩面个案"):
        cases.contact(store, people.leader, people.scope(people.leader), c.id)
    with pytest.raises(PermissionDenied, match="查看工作清单"):
        cases.list_cases(store, people.scope(people.department))
    with pytest.raises(PermissionDenied, match="不负责该案件所在的区县"):
        cases.assign(store, people.admin, SYSTEM, c.id, user="zhou_county")
    with pytest.raises(NotFoundError, match="没有可用的用户“nobody”"):
        cases.assign(store, people.admin, SYSTEM, c.id, user="nobody")
    with pytest.raises(UsageError, match="须指定经办人"):
        cases.assign(store, people.admin, SYSTEM, c.id)
    c = cases.assign(store, people.admin, SYSTEM, c.id, user="qian_city")  # city staff: anywhere
    assert c.assignee == "qian_city"
    c = cases.assign(store, people.admin, SYSTEM, c.id, user="li_county", version=c.version)
    assert (c.assignee, c.state, c.version) == ("li_county", "assigned", 3)


def test_a_stale_version_is_refused(store: Store, people: People) -> None:
    _open(store, people)
    me, sc = people.admin, SYSTEM
    read = case_of(store, f"uninsured_pension/P{people.here}-1/pension")
    cases.contact(store, me, sc, read.id, version=read.version)
    with pytest.raises(ConflictError, match=f"当前版本 2，您读取的是版本 {read.version}"):
        cases.resolve(store, me, sc, read.id, "联系不上", version=read.version)
    assert case_of(store, read.case_key).state == "contacted"


def test_two_staff_resolving_the_same_case(backend: str, tmp_path: Path, people: People) -> None:
    """Two staff read version 1 and save at the same moment from their own connections: one
    outcome stands, the other gets a ConflictError, nothing is overwritten."""
    url = url_for(backend, tmp_path)
    one, two = open_store(tmp_path, url, upgrade=True), open_store(tmp_path, url)
    try:
        _open(one, people)
        c = case_of(one, f"uninsured_medical/P{people.here}-2/medical")
        sc = people.scope(people.county_here)
        start = threading.Barrier(2)
        results: dict[str, object] = {}

        def work(name: str, store: Store, outcome: str, reason: str) -> None:
            actor = people.county_here if name == "li" else people.county_here2
            start.wait()
            try:
                results[name] = cases.resolve(store, actor, sc, c.id, outcome, reason=reason,
                                              on=D(2018, 1, 3), version=c.version)  # fmt: skip
            except ConflictError as e:
                results[name] = e

        threads = [
            threading.Thread(target=work, args=("li", one, "已参保", "职工医疗")),
            threading.Thread(target=work, args=("wang", two, "已在外地参保", "浙江省杭州市")),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        errors = [v for v in results.values() if isinstance(v, ConflictError)]
        saved = [v for v in results.values() if isinstance(v, cases.CaseView)]
        assert len(errors) == 1 and len(saved) == 1, results
        assert "乐观锁" in errors[0].message_zh or "已被他人修改" in errors[0].message_zh
        final = case_of(one, c.case_key)
        assert (final.outcome, final.outcome_reason, final.version) == (
            saved[0].outcome,
            saved[0].outcome_reason,
            2,
        )
        with one.sessions() as s:
            n = s.execute(select(func.count()).select_from(CaseEvent)
                          .where(CaseEvent.case_id == c.id)).scalar_one()  # fmt: skip
        assert n == 1
    finally:
        one.dispose()
        two.dispose()
