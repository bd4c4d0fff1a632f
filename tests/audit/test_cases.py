"""Audit cases on both store backends: the notice rule, the working-day deadlines, findings
assessed from the policy, the lifecycle (table, version, events, audit log), county scope and
roles, masked lists, and the employers audited recently."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from canbao.audit import cases
from canbao.audit.findings import Finding, assess, read_findings
from canbao.errors import ConflictError, DataError, PermissionDenied, StateError, UsageError
from canbao.profile import default_profile
from canbao.store import Store, audit_log
from tests.audit.case_people import D, People, finding, opened


def test_a_finding_is_the_base_gap_times_the_total_rate(people: People) -> None:
    f = finding(people, 1000)  # found base 1,000 yuan above the declared one, pension 19% + 8%
    assert (f.rate_bp, f.unpaid_fen) == (2700, 27_000)
    odd = assess(Finding("base", "P2", "", "employee_pension", "2017-03", 300_000, 300_001),
                 people.region)  # fmt: skip
    assert odd.unpaid_fen == 0  # 0.27 fen, half-up: 0
    with pytest.raises(UsageError, match="风险类别"):
        assess(Finding("base", "P3", "", "work_injury", "2017-03", 0, 100_000), people.region)
    with pytest.raises(UsageError, match="核定基数应大于申报基数"):
        assess(Finding("base", "P3", "", "employee_pension", "2017-03", 5, 5), people.region)
    wi = assess(Finding("headcount", "P4", "", "work_injury", "2017-03", 0, 300_000, 1),
                people.region)  # fmt: skip
    assert wi.unpaid_fen == 300_000 * wi.rate_bp // 10_000


def test_the_notice_must_come_three_days_before_the_visit(store: Store, people: People) -> None:
    a = people.auditor
    with pytest.raises(UsageError, match="3 日前"):
        cases.open_case(
            store, a, people.scope(a), people.employer(), notice_on=D(2017, 6, 1),
            visit_on=D(2017, 6, 3), period_from="2017-01", period_to="2017-05",
        )  # fmt: skip
    c = opened(store, people)
    assert (c.state, c.version, c.matters) == ("noticed", 1, ("headcount", "base", "payment"))
    with pytest.raises(ConflictError, match=f"#{c.id}"):
        opened(store, people)


def test_record_sets_the_working_day_deadlines(store: Store, people: People) -> None:
    a = people.auditor
    c = opened(store, people)
    c = cases.record(
        store, a, people.scope(a), c.id, visited_on=D(2017, 9, 29),
        findings=[finding(people), finding(people, 500, "2017-04", person="P2")],
        note="查阅工资表、考勤表", version=c.version,
    )  # fmt: skip
    # 2017-09-29 (Fri): 9-30 is a 调休 Saturday, 10-1..8 National Day
    assert (c.result_due, c.opinion_due) == (D(2017, 10, 12), D(2017, 10, 19))
    assert c.state == "recorded" and c.finding_count == 2 and c.unpaid_fen == 27_000 + 13_500
    assert c.deadline == D(2017, 10, 19)
    assert not c.overdue(D(2017, 10, 19)) and c.overdue(D(2017, 10, 20))


def test_finish_assesses_and_flags_lateness(store: Store, people: People) -> None:
    a = people.auditor
    sc = people.scope(a)
    c = opened(store, people)
    c = cases.record(store, a, sc, c.id, visited_on=D(2017, 6, 5), findings=[finding(people)],
                     version=c.version)  # fmt: skip
    assert (c.result_due, c.opinion_due) == (D(2017, 6, 12), D(2017, 6, 19))
    with pytest.raises(UsageError, match="整改期限"):
        cases.finish(store, a, sc, c.id, on=D(2017, 6, 12), version=c.version)
    with pytest.raises(ConflictError):
        cases.finish(store, a, sc, c.id, on=D(2017, 6, 12), rectify_by=D(2017, 7, 12), version=1)
    done = cases.finish(store, a, sc, c.id, on=D(2017, 6, 13), conclusion="result",
                        rectify_by=D(2017, 7, 13), version=c.version)  # fmt: skip
    assert done.state == "concluded" and done.overdue(D(2017, 6, 13))  # a result due 6-12
    assert all(f.assessed_on == D(2017, 6, 13) for f in done.findings)
    assert done.events[-1].detail["overdue"] is True
    with pytest.raises(StateError, match="登记整改完成"):
        cases.record(store, a, sc, c.id, visited_on=D(2017, 6, 5), findings=[])
    r = cases.rectify(store, a, sc, c.id, on=D(2017, 7, 10), version=done.version)
    assert r.state == "rectified" and r.next_steps == []
    actions = [e.action for e in audit_log.entries(store) if e.object_type == "audit_case"][::-1]
    assert actions == ["audit_case.open", "audit_case.record", "audit_case.finish",
                       "audit_case.rectify"]  # fmt: skip
    assert [e.action for e in r.events] == ["open", "record", "finish", "rectify"]


def test_scope_roles_and_masking(store: Store, people: People) -> None:
    c = opened(store, people)
    a = people.auditor
    cases.record(store, a, people.scope(a), c.id, visited_on=D(2017, 6, 5),
                 findings=[finding(people)])  # fmt: skip
    there = people.auditor_there
    with pytest.raises(PermissionDenied):
        cases.get_case(store, people.scope(there), c.id)
    with pytest.raises(PermissionDenied):
        cases.open_case(
            store, there, people.scope(there), people.employer(2), notice_on=D(2017, 6, 1),
            visit_on=D(2017, 6, 5), period_from="2017-01", period_to="2017-05",
        )  # fmt: skip
    assert cases.list_cases(store, people.scope(there)) == []
    with pytest.raises(PermissionDenied):
        cases.list_cases(store, people.scope(people.county_here))
    with pytest.raises(PermissionDenied):
        cases.cancel(store, people.city, people.scope(people.city), c.id, reason="x")
    listed = cases.list_cases(store, people.scope(people.leader))
    assert [x.id for x in listed] == [c.id] and listed[0].findings == ()
    assert listed[0].unpaid_fen == 27_000
    masked = cases.get_case(store, people.scope(people.leader), c.id)
    assert masked.findings[0].person_name != "张三丰"
    full = cases.get_case(store, people.scope(a), c.id)
    assert full.findings[0].person_name == "张三丰"
    views = [e for e in audit_log.entries(store) if e.action == "audit_case.view"][::-1]
    assert [e.actor for e in views] == ["wu_leader", "he_auditor"]


def test_recently_audited(store: Store, people: People) -> None:
    a = people.auditor
    sc = people.scope(a)
    c1 = opened(store, people, 1)
    cases.record(store, a, sc, c1.id, visited_on=D(2017, 6, 5), findings=[])
    cases.finish(store, a, sc, c1.id, on=D(2017, 6, 9))
    c2 = opened(store, people, 2)
    cases.cancel(store, a, sc, c2.id, reason="单位已注销")
    opened(store, people, 3)  # open: excluded whatever the date
    e = people.employer
    assert cases.recently_audited(store, D(2018, 6, 4)) == {e(1).employer_key, e(3).employer_key}
    assert cases.recently_audited(store, D(2018, 6, 5)) == {e(3).employer_key}
    assert cases.recently_audited(store, D(2017, 12, 31), months=3) == {e(3).employer_key}


def test_the_findings_sheet(tmp_path: Path, people: People) -> None:
    good = tmp_path / "findings.csv"
    good.write_text(
        "类别,人员编号,姓名,险种,费款所属期,申报基数,核定基数,行业风险类别,备注\n"
        "基数,P1,张三丰,养老保险,2017-03,3000,4000,,工资表\n"
        "人数,P2,李四,工伤保险,201704,0,3000,1,\n",
        encoding="utf-8",
    )
    got = read_findings(good, people.region)
    assert [(f.kind, f.scheme, f.period, f.unpaid_fen) for f in got] == [
        ("base", "employee_pension", "2017-03", 27_000),
        ("headcount", "work_injury", "2017-04", 300_000 * got[1].rate_bp // 10_000),
    ]
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "类别,人员编号,姓名,险种,费款所属期,申报基数,核定基数\n"
        "基数,P1,张三丰,养老金,2017-03,3000,4000\n"
        "基数,P2,李四,养老保险,2017-13,3000,4000\n"
        "基数,P3,王五,养老保险,2017-03,3000,abc\n"
        "基数,P4,赵六,养老保险,2017-03,3000,2000\n",
        encoding="utf-8",
    )
    with pytest.raises(DataError) as e:
        read_findings(bad, people.region)
    assert e.value.details["cells"] == "D2,E3,G4,G5"
    assert "险种无效" in e.value.message_zh and "未导入任何一行" in e.value.message_zh


@given(
    st.integers(min_value=0, max_value=5_000_000),
    st.integers(min_value=1, max_value=5_000_000),
    st.sampled_from(["employee_pension", "employee_medical", "unemployment", "maternity"]),
)
def test_unpaid_is_the_rounded_gap_and_grows_with_it(declared: int, gap: int, scheme: str) -> None:
    region = default_profile().policy_region
    f = assess(Finding("base", "P", "", scheme, "2017-05", declared, declared + gap), region)
    exact = gap * f.rate_bp
    assert abs(f.unpaid_fen * 10_000 - exact) <= 5_000  # half-up to the fen
    more = assess(Finding("base", "P", "", scheme, "2017-05", declared, declared + gap + 1), region)
    assert more.unpaid_fen >= f.unpaid_fen
