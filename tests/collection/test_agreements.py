"""Deferral and instalment agreements (canbao.collection.agreements): the schedule, approval
(four eyes), checking the payments (breach → dunning resumes; paid → completed), the deferral
days without late fee, 乐观锁, county scope, the audit chain, the document and the command line
— on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from docx import Document
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from canbao.cli import run
from canbao.collection import agreements as agr
from canbao.collection import dunning as dun
from canbao.collection.dunning import Employer
from canbao.errors import ConflictError, PermissionDenied, StateError, UsageError
from canbao.store import Store, audit_log
from canbao.store.models import AuditEntry
from tests.collection.conftest import People
from tests.store.conftest import url_for

D = dt.date
CREDIT = "91360402MA35L7X21K"
PENSION = ["employee_pension"]


def _employer(people: People, key: str = "E-0001") -> Employer:
    return Employer(key, "九江A&B建材有限公司", CREDIT, people.here)


def _propose(store: Store, people: People, **kw: object) -> agr.AgreementView:
    args: dict[str, object] = {
        "guarantee_note": "法定代表人张三提供连带责任保证",
        "reason": "受市场影响资金周转困难",
        "periods": ["2017-01", "2017-02", "2017-03"],
        "instalments": 3,
        "first_due": D(2017, 7, 31),
    }
    args.update(kw)
    kind = str(args.pop("kind", "instalment"))
    principal = int(args.pop("principal", 1_000_000))  # type: ignore[call-overload]
    if kind == "deferral":
        args.pop("instalments"), args.pop("first_due")
    return agr.propose(
        store, people.collector, people.scope(people.collector), _employer(people), PENSION,
        kind, principal, **args,  # type: ignore[arg-type]
    )  # fmt: skip


def _approve(store: Store, people: People, a: agr.AgreementView, on: dt.date) -> agr.AgreementView:
    return agr.approve(store, people.city, people.scope(people.city), a.id, on=on)


# --- the schedule ---------------------------------------------------------------------------


def test_the_schedule_known_answer() -> None:
    assert agr.instalment_schedule(1_000_000, 3, D(2017, 1, 31)) == [
        (D(2017, 1, 31), 333_333), (D(2017, 2, 28), 333_333), (D(2017, 3, 31), 333_334),
    ]  # fmt: skip
    assert agr.instalment_schedule(5, 5, D(2016, 12, 29))[-1] == (D(2017, 4, 29), 1)
    with pytest.raises(UsageError, match="不够分成 6 期"):
        agr.instalment_schedule(5, 6, D(2017, 1, 1))
    with pytest.raises(UsageError, match="正整数"):
        agr.instalment_schedule(500, 0, D(2017, 1, 1))


@given(
    principal=st.integers(min_value=1, max_value=10**13),
    count=st.integers(min_value=1, max_value=60),
    first=st.dates(min_value=D(2000, 1, 1), max_value=D(2090, 1, 1)),
)
def test_the_schedule_sums_exactly_with_the_remainder_last(
    principal: int, count: int, first: dt.date
) -> None:
    if principal < count:
        with pytest.raises(UsageError):
            agr.instalment_schedule(principal, count, first)
        return
    plan = agr.instalment_schedule(principal, count, first)
    amounts = [a for _, a in plan]
    assert len(plan) == count and sum(amounts) == principal
    assert len(set(amounts[:-1])) <= 1 and 0 <= amounts[-1] - amounts[0] < count
    for k, (day, _) in enumerate(plan):
        months = (day.year - first.year) * 12 + day.month - first.month
        assert months == k and day.day == min(first.day, day.day)
        assert day.day == first.day or (day + dt.timedelta(days=1)).day == 1


def test_a_proposal_is_checked(store: Store, people: People) -> None:
    with pytest.raises(UsageError, match="须写明担保情况"):
        _propose(store, people, guarantee_note=" ")
    with pytest.raises(UsageError, match="合计 9,000.00 元，与协议金额 10,000.00 元不符"):
        _propose(store, people, instalments=None, first_due=None,
                 schedule=[(D(2017, 7, 31), 400_000), (D(2017, 8, 31), 500_000)])  # fmt: skip
    with pytest.raises(UsageError, match="逐期递增"):
        _propose(store, people, instalments=None, first_due=None, principal=2,
                 schedule=[(D(2017, 8, 31), 1), (D(2017, 7, 31), 1)])  # fmt: skip
    with pytest.raises(UsageError, match="至少分两期"):
        _propose(store, people, instalments=1)
    with pytest.raises(UsageError, match="缓缴起止日期"):
        _propose(store, people, kind="deferral")
    with pytest.raises(UsageError, match="协议类型只能是"):
        _propose(store, people, kind="loan")
    a = _propose(store, people)
    assert (a.status, a.version, [i.amount_fen for i in a.instalments]) == (
        "proposed", 1, [333_333, 333_333, 333_334],
    )  # fmt: skip
    with pytest.raises(ConflictError, match=f"已有待批准的协议 #{a.id}"):
        _propose(store, people)


# --- approval, transitions, versions ---------------------------------------------------------


def test_approval_needs_city_staff_and_another_person(store: Store, people: People) -> None:
    a = _propose(store, people)
    with pytest.raises(PermissionDenied, match="批准或终止分期/缓缴协议"):
        agr.approve(store, people.collector, people.scope(people.collector), a.id)
    with pytest.raises(PermissionDenied):
        agr.approve(store, people.county_here, people.scope(people.county_here), a.id)
    mine = agr.propose(store, people.city, people.scope(people.city), _employer(people, "E-2"),
                       PENSION, "deferral", 5000, guarantee_note="房产抵押",
                       start=D(2017, 7, 1), end=D(2017, 12, 31))  # fmt: skip
    with pytest.raises(PermissionDenied, match="须由另一位有批准权限的人员批准"):
        agr.approve(store, people.city, people.scope(people.city), mine.id)
    assert (
        agr.approve(store, people.city2, people.scope(people.city2), mine.id).status == "approved"
    )
    done = _approve(store, people, a, D(2017, 7, 1))
    assert (done.status, done.approved_by, done.approved_on) == (
        "approved", people.city.name, D(2017, 7, 1),
    )  # fmt: skip
    with pytest.raises(StateError) as e:
        _approve(store, people, a, D(2017, 7, 2))
    assert e.value.message_zh == (
        "协议当前状态为“履行中”，不能批准；可以进行的操作：认定违约、认定履行完毕、撤销"
    )


def test_a_stale_version_is_refused_and_changes_nothing(store: Store, people: People) -> None:
    a = _propose(store, people)  # a screen shows version 1
    _approve(store, people, a, D(2017, 7, 1))  # someone else approves meanwhile
    with pytest.raises(ConflictError, match="当前版本 2，您读取的是版本 1"):
        agr.cancel(store, people.city2, people.scope(people.city2), a.id, reason="重复录入",
                   version=a.version)  # fmt: skip
    assert agr.get(store, people.scope(people.city), a.id).status == "approved"
    with pytest.raises(ConflictError):
        agr.check(store, people.collector, people.scope(people.collector), a.id, [],
                  D(2017, 7, 15), version=1)  # fmt: skip


def test_county_staff_of_another_county_cannot_read_or_change(store: Store, people: People) -> None:
    a = _propose(store, people)
    there = people.scope(people.county_there)
    with pytest.raises(PermissionDenied, match="区县范围"):
        agr.get(store, there, a.id)
    assert agr.agreements(store, there) == []
    assert agr.deferral_periods(store, there, "E-0001") == []
    with pytest.raises(PermissionDenied, match="区县范围"):
        agr.cancel(store, people.county_there, there, a.id, reason="x")
    with pytest.raises(PermissionDenied, match="区县范围"):
        agr.propose(store, people.county_there, there, _employer(people, "E-3"), PENSION,
                    "deferral", 100, guarantee_note="x", start=D(2017, 1, 1),
                    end=D(2017, 2, 1))  # fmt: skip
    _approve(store, people, a, D(2017, 7, 1))
    with pytest.raises(PermissionDenied, match="区县范围"):
        agr.check(store, people.county_there, there, a.id, [], D(2017, 7, 15))
    assert agr.check_all(store, people.county_there, there, {a.id: []}, D(2017, 12, 1)) == []
    assert agr.get(store, people.scope(people.city), a.id).status == "approved"
    here = people.scope(people.county_here)
    assert [x.id for x in agr.agreements(store, here)] == [a.id]
    assert agr.get(store, people.scope(people.leader), a.id).id == a.id
    with pytest.raises(PermissionDenied, match="拟定分期/缓缴协议"):
        agr.cancel(store, people.leader, people.scope(people.leader), a.id, reason="x")
    with pytest.raises(PermissionDenied, match="查看征缴台账"):
        agr.agreements(store, people.scope(people.department))


# --- the payments ---------------------------------------------------------------------------


def _dunning_to_order(store: Store, people: People) -> dun.CaseView:
    op, sc = people.collector, people.scope(people.collector)
    case = dun.start(store, op, sc, _employer(people), PENSION, 1_000_000, on=D(2017, 5, 2))
    return dun.step(store, op, sc, case.id, "order", on=D(2017, 6, 1), deadline=D(2017, 6, 20))


def test_a_missed_instalment_breaches_and_dunning_resumes(store: Store, people: People) -> None:
    op, sc = people.collector, people.scope(people.collector)
    case = _dunning_to_order(store, people)
    a = _propose(store, people, grace_days=5)
    assert a.case_id == case.id  # the employer's open case, found
    with pytest.raises(StateError, match="只有履行中（已批准）的协议可以核对缴款"):
        agr.check(store, op, sc, a.id, [], D(2017, 7, 1))
    _approve(store, people, a, D(2017, 6, 25))
    assert dun.get(store, sc, case.id).state == "agreement"
    with pytest.raises(StateError, match="当前状态为“协议履行中”"):
        dun.step(store, op, sc, case.id, "visit", on=D(2017, 7, 1), note="x")
    paid = [(D(2017, 7, 30), 333_333), (D(2017, 9, 2), 200_000)]  # 2nd short: due 31 Aug
    r = agr.check(store, op, sc, a.id, paid, D(2017, 9, 5))  # last day of the grace
    assert (r.status, r.missed, r.breached_on, r.paid_fen, r.due_fen) == (
        "approved", (), None, 533_333, 666_666,
    )  # fmt: skip
    shown = agr.get(store, sc, a.id)
    assert [(i.paid_fen, i.paid_on) for i in shown.instalments] == [
        (333_333, D(2017, 7, 30)), (200_000, None), (0, None),
    ]  # fmt: skip
    again = agr.check(store, op, sc, a.id, paid, D(2017, 9, 5))
    assert not again.changed and agr.get(store, sc, a.id).version == shown.version

    r = agr.check(store, op, sc, a.id, [*paid, (D(2017, 9, 6), 133_333)], D(2017, 9, 7))
    assert (r.status, r.missed, r.breached_on, r.case_id) == (
        "breached", (2,), D(2017, 9, 6), case.id,
    )  # fmt: skip  # paid on the day the breach took effect: too late
    gone = agr.get(store, sc, a.id)
    assert gone.closed_on == D(2017, 9, 6)
    assert "第 2 期（2017-08-31 应缴 3,333.33 元，宽限 5 日）逾期未足额缴纳" in gone.close_reason
    resumed = dun.get(store, sc, case.id)
    assert resumed.state == "order"  # back where it was before the agreement
    assert [s.kind for s in resumed.steps][-2:] == ["agreement", "resume"]
    assert resumed.steps[-1].taken_on == D(2017, 9, 6)
    # the order's deadline has long passed: with two visits, enforcement is open again
    dun.step(store, op, sc, case.id, "visit", on=D(2017, 9, 10), note="一")
    dun.step(store, op, sc, case.id, "visit", on=D(2017, 9, 20), note="二")
    assert dun.step(store, op, sc, case.id, "enforcement", on=D(2017, 10, 1)).state == "enforcement"
    with pytest.raises(StateError, match="已违约终止"):
        agr.check(store, op, sc, a.id, paid, D(2017, 10, 1))
    # a new agreement may now be proposed for the same scheme
    assert _propose(store, people, first_due=D(2017, 11, 30)).status == "proposed"


def test_paid_in_full_completes_and_closes_the_case(store: Store, people: People) -> None:
    op, sc = people.collector, people.scope(people.collector)
    case = _dunning_to_order(store, people)
    a = _approve(store, people, _propose(store, people), D(2017, 6, 25))
    late_but_whole = [(D(2017, 7, 31), 333_333), (D(2017, 8, 31), 300_000),
                      (D(2017, 8, 31), 366_667)]  # fmt: skip
    r = agr.check_all(store, op, sc, {a.id: late_but_whole, a.id + 99: []}, D(2017, 12, 1))
    assert [(x.agreement_id, x.status, x.completed_on, x.case_id) for x in r] == [
        (a.id, "completed", D(2017, 8, 31), case.id),
    ]  # fmt: skip
    closed = dun.get(store, sc, case.id)
    assert (closed.state, closed.steps[-1].kind, closed.steps[-1].agreement_id) == (
        "paid", "paid", a.id,
    )  # fmt: skip


def test_the_rule_by_hand() -> None:
    plan = [(D(2017, 1, 31), 100), (D(2017, 2, 28), 100)]
    # nothing paid, as of the due date: not yet missed; the next day: missed, breached then
    assert agr.evaluate(plan, 0, [], D(2017, 1, 31)).breached_on is None
    out = agr.evaluate(plan, 0, [], D(2017, 2, 1))
    assert (out.missed, out.breached_on, out.due) == ((1,), D(2017, 2, 1), 100)
    # paying ahead covers later instalments; payments after as_of do not count
    out = agr.evaluate(plan, 0, [(D(2017, 1, 5), 150), (D(2017, 4, 1), 50)], D(2017, 3, 1))
    assert (out.missed, out.breached_on, out.counted, out.paid) == (
        (2,), D(2017, 3, 1), 150, [(100, D(2017, 1, 5)), (50, None)],
    )  # fmt: skip
    out = agr.evaluate(plan, 3, [(D(2017, 3, 3), 200)], D(2017, 3, 10))
    assert out.breached_on == D(2017, 2, 4)  # the first instalment's grace ended on 3 Feb


# --- deferrals and late fees ----------------------------------------------------------------


def test_deferral_days_for_the_ledger(store: Store, people: People) -> None:
    sc = people.scope(people.city)
    d = _propose(store, people, kind="deferral", start=D(2017, 3, 1), end=D(2017, 8, 31))
    assert agr.deferral_periods(store, sc, "E-0001") == []  # not approved: no relief
    d = _approve(store, people, d, D(2017, 3, 1))
    assert [i.due_date for i in d.instalments] == [D(2017, 8, 31)]
    assert agr.deferral_periods(store, sc, "E-0001") == [(D(2017, 3, 1), D(2017, 8, 31))]
    assert agr.deferral_periods(store, sc, "E-0001", "work_injury") == []
    (row,) = agr.deferrals(store, sc)
    assert (row.employer_key, row.scheme, row.periods) == (
        "E-0001", "employee_pension", ("2017-01", "2017-02", "2017-03"),
    )  # fmt: skip
    # cancelled on 1 June: the relief ends the day before
    agr.cancel(store, people.city2, people.scope(people.city2), d.id, reason="单位恢复经营",
               on=D(2017, 6, 1))  # fmt: skip
    assert agr.deferral_periods(store, sc, "E-0001") == [(D(2017, 3, 1), D(2017, 5, 31))]
    # a second deferral right after: the ranges merge
    e = _propose(store, people, kind="deferral", start=D(2017, 6, 1), end=D(2017, 9, 30))
    _approve(store, people, e, D(2017, 6, 1))
    assert agr.deferral_periods(store, sc, "E-0001") == [(D(2017, 3, 1), D(2017, 9, 30))]
    # breached (not paid by the end + grace): the days up to the end stay covered
    r = agr.check(store, people.collector, people.scope(people.collector), e.id, [],
                  D(2017, 10, 3))  # fmt: skip
    assert (r.status, r.breached_on) == ("breached", D(2017, 10, 1))
    assert agr.deferral_periods(store, sc, "E-0001") == [(D(2017, 3, 1), D(2017, 9, 30))]


# --- audit, document, command line ----------------------------------------------------------


def test_the_audit_chain_holds_every_change(store: Store, people: People) -> None:
    case = _dunning_to_order(store, people)
    a = _approve(store, people, _propose(store, people), D(2017, 6, 25))
    agr.check(store, people.collector, people.scope(people.collector), a.id, [], D(2017, 8, 2))
    with store.sessions() as s:
        got = [
            (e.action, e.actor, list(e.object_keys))
            for e in s.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars()
        ]
    c, k = [str(case.id), "E-0001"], [str(a.id), "E-0001"]
    assert got == [
        ("dunning.start", people.collector.name, c), ("dunning.step", people.collector.name, c),
        ("dunning.step", people.collector.name, c), ("agreement.propose", people.collector.name, k),
        ("dunning.step", people.city.name, c), ("agreement.approve", people.city.name, k),
        ("dunning.step", people.collector.name, c), ("agreement.breach", people.collector.name, k),
    ]  # fmt: skip
    assert audit_log.verify(store) == (8, [])


def _text(path: Path) -> str:
    doc = Document(str(path))
    parts = [p.text for p in doc.paragraphs]
    for t in doc.tables:
        parts += [" | ".join(c.text for c in row.cells) for row in t.rows]
    return "\n".join(parts)


def test_the_agreement_document(store: Store, people: People, tmp_path: Path) -> None:
    a = _approve(store, people, _propose(store, people, grace_days=5), D(2017, 6, 25))
    path = agr.document(store, people.scope(people.city), people.profile, a.id, tmp_path)
    assert path.name == f"社会保险费分期缴纳协议-{CREDIT}-{a.id}.docx"
    text = _text(path)
    for part in (
        "社会保险费分期缴纳协议", f"甲方：{people.profile.letterhead.issuer}",
        f"乙方：九江A&B建材有限公司（统一社会信用代码：{CREDIT}）",
        "乙方2017年1月至2017年3月欠缴城镇职工基本养老保险费10,000.00元（大写：人民币壹万元整）",
        "因受市场影响资金周转困难，乙方申请分期缴纳", "第六十三条", "分3期缴清",
        "第1期 | 2017年7月31日 | 3,333.33", "第3期 | 2017年9月30日 | 3,333.34",
        "担保：法定代表人张三提供连带责任保证", "宽限5日", "批准日期：2017年6月25日",
    ):  # fmt: skip
        assert part in text, part
    assert "{%" not in text and "{{" not in text
    d = agr.propose(store, people.collector, people.scope(people.collector),
                    _employer(people, "E-9"), ["work_injury", "unemployment"], "deferral", 500,
                    guarantee_note="银行保函", start=D(2017, 3, 1), end=D(2017, 8, 31))  # fmt: skip
    text = _text(agr.document(store, people.scope(people.city), people.profile, d.id, tmp_path))
    for part in (
        "社会保险费缓缴协议", "欠缴工伤保险、失业保险费5.00元（大写：人民币伍元整）。乙方申请缓缴",
        "缓缴期限自2017年3月1日起至2017年8月31日止，乙方应于2017年8月31日前一次缴清上述欠费；"
        "缓缴期间不加收滞纳金", "第1期 | 2017年8月31日 | 5.00", "（待批准）",
    ):  # fmt: skip
        assert part in text, part


def test_cli_round_trip(backend: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    db = ["--database-url", url_for(backend, tmp_path), "--data-dir", str(data)]
    assert run(["db", "upgrade", *db]) == 0
    capsys.readouterr()
    base = ["--employer", CREDIT, "--name", "九江A&B建材有限公司", "--county", "360402",
            "--scheme", "employee_pension", "--guarantee", "房产抵押"]  # fmt: skip
    assert run(["agreements", "add", *base, "--kind", "instalment", "--principal", "10000.00",
                "--instalments", "3", "--first-due", "2017-07-31", "--json", *db]) == 0  # fmt: skip
    a = json.loads(capsys.readouterr().out)
    assert [i["amount"] for i in a["instalments"]] == ["3333.33", "3333.33", "3333.34"]
    aid = str(a["id"])
    assert run(["agreements", "check", aid, "--as-of", "2017-08-01", *db]) == 1
    assert "只有履行中（已批准）的协议" in capsys.readouterr().err
    assert run(["agreements", "approve", aid, "--on", "2017-07-01", "--version", "1", *db]) == 0
    assert run(["agreements", "approve", aid, "--version", "1", *db]) == 1
    assert "您读取的是版本 1" in capsys.readouterr().err
    assert run(["agreements", "check", aid, "--as-of", "2017-09-05", "--paid", "2017-07-31=3333.33",
                "--paid", "2017-08-20=1000", "--json", *db]) == 0  # fmt: skip
    r = json.loads(capsys.readouterr().out)
    assert (r["status"], r["missed"], r["breached_on"], r["paid"]) == (
        "breached", [2], "2017-09-01", "4333.33",
    )  # fmt: skip
    assert run(["agreements", "show", aid, "--json", *db]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["status"] == "breached" and shown["instalments"][1]["paid"] == "1000.00"
    assert run(["agreements", "list", "--employer", CREDIT, "--json", *db]) == 0
    assert [x["id"] for x in json.loads(capsys.readouterr().out)] == [a["id"]]
    assert run(["agreements", "add", *base, "--kind", "deferral", "--principal", "500",
                "--start", "2017-10-01", "--end", "2017-12-31", *db]) == 0  # fmt: skip
    capsys.readouterr()
    assert run(["agreements", "list", "--status", "proposed", "--json", *db]) == 0
    d = json.loads(capsys.readouterr().out)[0]
    assert run(["agreements", "approve", str(d["id"]), "--on", "2017-10-01", *db]) == 0
    assert run(["agreements", "deferrals", "--employer", CREDIT, *db]) == 0
    out = capsys.readouterr().out
    assert json.loads(out[out.index("[") :]) == [{"start": "2017-10-01", "end": "2017-12-31"}]
    assert run(["agreements", "document", str(d["id"]), "--out", str(tmp_path / "o"), *db]) == 0
    made = tmp_path / "o" / f"社会保险费缓缴协议-{CREDIT}-{d['id']}.docx"
    assert "缓缴期限自2017年10月1日起至2017年12月31日止" in _text(made)
    assert run(["agreements", "add", *base, "--kind", "instalment", "--principal", "abc",
                "--instalments", "2", "--first-due", "2017-07-31", *db]) == 1  # fmt: skip
    assert "金额格式不正确" in capsys.readouterr().err
