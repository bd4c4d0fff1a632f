"""Dunning to enforcement (canbao.collection.dunning): the legal path and its refusals, 乐观锁,
county scope, the audit chain, the Chinese documents and the command line — on SQLite and
PostgreSQL (the store fixtures of tests/store)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from docx import Document
from sqlalchemy import select

from canbao.cli import run
from canbao.collection import documents
from canbao.collection import dunning as dun
from canbao.collection.dunning import Employer
from canbao.errors import ConflictError, NotFoundError, PermissionDenied, StateError, UsageError
from canbao.store import Store, audit_log, open_store
from canbao.store.models import AuditEntry, DunningCase
from tests.collection.conftest import People
from tests.store.conftest import url_for

D = dt.date
CREDIT = "91360402MA35L7X21K"


def _employer(people: People, county: str | None = None) -> Employer:
    return Employer("E-0001", "九江市浔江建材有限公司", CREDIT, county or people.here)


def _start(store: Store, people: People, **kw: object) -> dun.CaseView:
    args: dict[str, object] = {
        "periods": ["2017-01", "2017-02", "2017-03", "2017-05"],
        "on": D(2017, 6, 1),
    }
    args.update(kw)
    return dun.start(
        store, people.collector, people.scope(people.collector), _employer(people),
        ["employee_pension", "work_injury"], 3_600_000, **args,  # type: ignore[arg-type]
    )  # fmt: skip


def _text(path: Path) -> str:
    doc = Document(str(path))
    parts = [p.text for p in doc.paragraphs]
    for t in doc.tables:
        for row in t.rows:
            parts.append(" | ".join(c.text for c in row.cells))
    return "\n".join(parts)


def test_the_transition_table_is_closed_and_every_state_reachable() -> None:
    states = set(dun.STATE_LABELS)
    assert set(dun.TRANSITIONS) == states | {dun.NEW}
    reached = {dun.NEW}
    frontier = [dun.NEW]
    while frontier:
        for kind, to in dun.TRANSITIONS[frontier.pop()].items():
            assert kind in dun.STEP_LABELS
            assert to in states or to == dun.PREVIOUS
            if to in states and to not in reached:
                reached.add(to)
                frontier.append(to)
    assert reached == states | {dun.NEW}
    assert dun.FINAL == {"paid", "withdrawn"}
    # the law's path: notice → order → referral / enforcement; the system's steps are not manual
    assert dun.next_steps("notice") == ["visit", "order", "paid", "withdraw"]
    assert "agreement" in dun.next_steps("order", system=True)


def test_the_path_to_enforcement_and_its_refusals(store: Store, people: People) -> None:
    op, sc = people.collector, people.scope(people.collector)
    case = _start(store, people)
    assert (case.state, [s.kind for s in case.steps]) == ("notice", ["notice"])
    assert case.steps[0].document == f"社会保险费催缴通知书-{CREDIT}-{case.id}-1.docx"

    # an illegal step names the current state and the allowed ones
    with pytest.raises(StateError) as e:
        dun.step(store, op, sc, case.id, "enforcement", on=D(2017, 6, 5))
    assert e.value.message_zh == (
        "当前状态为“已发催缴通知”，不能进行“申请人民法院强制执行”；可以进行的下一步："
        "上门催缴（visit）、责令限期缴纳决定（order）、登记已缴清（paid）、撤销催缴（withdraw）"
    )
    with pytest.raises(StateError, match="不能进行“nonsense”"):
        dun.step(store, op, sc, case.id, "nonsense", on=D(2017, 6, 5))
    with pytest.raises(UsageError, match="由协议的批准"):
        dun.step(store, op, sc, case.id, "agreement", on=D(2017, 6, 5))

    # the order needs a deadline after its date
    with pytest.raises(UsageError, match="须给出缴纳期限"):
        dun.step(store, op, sc, case.id, "order", on=D(2017, 6, 20))
    with pytest.raises(UsageError, match="须晚于文书日期"):
        dun.step(store, op, sc, case.id, "order", on=D(2017, 6, 20), deadline=D(2017, 6, 20))
    # never before the previous step, never in the future
    with pytest.raises(UsageError, match="不能早于上一步骤"):
        dun.step(store, op, sc, case.id, "order", on=D(2017, 5, 31), deadline=D(2017, 7, 1))
    future = dt.date.today() + dt.timedelta(days=1)
    with pytest.raises(UsageError, match="不能晚于今天"):
        dun.step(store, op, sc, case.id, "order", on=future, deadline=future + dt.timedelta(1))
    case = dun.step(
        store, op, sc, case.id, "order", on=D(2017, 6, 20), deadline=D(2017, 7, 10),
        late_fee_fen=54_000,
    )  # fmt: skip
    assert case.state == "order" and case.order is not None
    assert case.order.deadline == D(2017, 7, 10)

    # enforcement: not before the deadline has passed, not before two visits
    with pytest.raises(StateError, match=r"期限（2017-07-10）尚未届满"):
        dun.step(store, op, sc, case.id, "referral", on=D(2017, 7, 10))
    with pytest.raises(StateError, match="至少上门催缴 2 次（本案已记录 0 次）"):
        dun.step(store, op, sc, case.id, "enforcement", on=D(2017, 7, 11))
    with pytest.raises(UsageError, match="须写明情况说明"):
        dun.step(store, op, sc, case.id, "visit", on=D(2017, 7, 12))
    dun.step(store, op, sc, case.id, "visit", on=D(2017, 7, 12), note="法定代表人称资金紧张")
    with pytest.raises(StateError, match="本案已记录 1 次"):
        dun.step(store, op, sc, case.id, "referral", on=D(2017, 7, 13))
    dun.step(store, op, sc, case.id, "visit", on=D(2017, 7, 20), note="拒绝缴纳")
    case = dun.step(store, op, sc, case.id, "referral", on=D(2017, 7, 25), note="移送监察支队")
    assert case.state == "referred" and case.visits == 2
    case = dun.step(store, op, sc, case.id, "enforcement", on=D(2017, 8, 1))
    assert case.state == "enforcement"
    case = dun.step(store, op, sc, case.id, "paid", on=D(2017, 9, 1), note="法院划拨到账")
    assert case.state == "paid" and case.closed_at is not None
    assert [(s.kind, s.from_state, s.to_state) for s in case.steps] == [
        ("notice", "", "notice"), ("order", "notice", "order"), ("visit", "order", "order"),
        ("visit", "order", "order"), ("referral", "order", "referred"),
        ("enforcement", "referred", "enforcement"), ("paid", "enforcement", "paid"),
    ]  # fmt: skip
    assert all(s.recorded_by == op.name for s in case.steps)
    with pytest.raises(StateError, match="当前状态为“已缴清”.*无（案件已结束）"):
        dun.step(store, op, sc, case.id, "visit", on=D(2017, 9, 2), note="x")


def test_one_open_case_per_employer_and_scheme(store: Store, people: People) -> None:
    first = _start(store, people)
    with pytest.raises(ConflictError, match=f"已有未结的催缴案件 #{first.id}"):
        dun.start(
            store, people.collector, people.scope(people.collector), _employer(people),
            ["work_injury"], 100,
        )  # fmt: skip
    other = dun.start(
        store, people.collector, people.scope(people.collector), _employer(people),
        ["unemployment"], 100, on=D(2017, 6, 2),
    )  # fmt: skip
    assert other.id != first.id
    with pytest.raises(UsageError, match="未知的险种"):
        dun.start(store, people.collector, people.scope(people.collector), _employer(people),
                  ["resident_pension"], 100)  # fmt: skip
    with pytest.raises(UsageError, match="YYYY-MM"):
        _start(store, people, periods=["2017-13"])


def test_a_stale_version_is_refused(backend: str, tmp_path: Path, people: People) -> None:
    url = url_for(backend, tmp_path)
    one = open_store(tmp_path, url, upgrade=True)
    two = open_store(tmp_path, url)
    op, sc = people.collector, people.scope(people.collector)
    case = _start(one, people)
    read = dun.get(one, sc, case.id)  # the version a collector's screen shows
    dun.step(
        two, op, sc, case.id, "visit", on=D(2017, 6, 2), note="第一次走访", version=read.version
    )
    with pytest.raises(ConflictError, match=f"您读取的是版本 {read.version}"):
        dun.step(one, op, sc, case.id, "visit", on=D(2017, 6, 3), note="重复", version=read.version)
    assert [s.note for s in dun.get(one, sc, case.id).steps if s.kind == "visit"] == ["第一次走访"]
    # two writers that both read before either saved: the store's version column refuses one
    with pytest.raises(ConflictError, match="乐观锁"):
        with one.transaction() as a:
            ca = a.execute(select(DunningCase).where(DunningCase.id == case.id)).scalar_one()
            with two.transaction() as b:
                cb = b.execute(select(DunningCase).where(DunningCase.id == case.id)).scalar_one()
                cb.amount_fen = 1
            ca.amount_fen = 2
    assert dun.get(one, sc, case.id).amount_fen == 1
    one.dispose()
    two.dispose()


def test_county_scope_and_roles(store: Store, people: People) -> None:
    case = _start(store, people)
    there = people.scope(people.county_there)
    with pytest.raises(PermissionDenied, match="区县范围"):
        dun.get(store, there, case.id)
    assert dun.cases(store, there) == []
    with pytest.raises(PermissionDenied, match="区县范围"):
        dun.step(store, people.county_there, there, case.id, "visit", on=D(2017, 6, 2), note="x")
    with pytest.raises(PermissionDenied, match="区县范围"):
        dun.start(store, people.county_there, there, _employer(people), ["maternity"], 100)
    # county staff of the employer's county work the case
    here = people.scope(people.county_here)
    assert [c.id for c in dun.cases(store, here)] == [case.id]
    dun.step(store, people.county_here, here, case.id, "visit", on=D(2017, 6, 2), note="走访")
    # a leader reads, never writes; another department's client sees nothing
    leader = people.scope(people.leader)
    assert dun.get(store, leader, case.id).state == "notice"
    with pytest.raises(PermissionDenied, match="登记催缴步骤"):
        dun.step(store, people.leader, leader, case.id, "visit", on=D(2017, 6, 3), note="x")
    with pytest.raises(PermissionDenied, match="查看征缴台账"):
        dun.cases(store, people.scope(people.department))
    with pytest.raises(NotFoundError):
        dun.get(store, here, case.id + 100)
    assert dun.get(store, here, case.id).version == 3  # created, notice, visit


def test_every_change_is_in_the_verified_audit_chain(store: Store, people: People) -> None:
    case = _start(store, people)
    dun.step(store, people.collector, people.scope(people.collector), case.id, "withdraw",
             on=D(2017, 6, 2), note="单位已注销，转入清算")  # fmt: skip
    with store.sessions() as s:
        rows = s.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars().all()
        got = [(e.action, e.actor, e.object_type, list(e.object_keys)) for e in rows]
        detail = rows[-1].detail
    keys = [str(case.id), "E-0001"]
    assert got == [
        ("dunning.start", people.collector.name, "dunning_case", keys),
        ("dunning.step", people.collector.name, "dunning_case", keys),
        ("dunning.step", people.collector.name, "dunning_case", keys),
    ]
    assert detail["step"] == "withdraw" and detail["to_state"] == "withdrawn"
    checked, problems = audit_log.verify(store)
    assert (checked, problems) == (3, [])


def test_documents_carry_the_facts_in_chinese(store: Store, people: People, tmp_path: Path) -> None:
    op, sc = people.collector, people.scope(people.collector)
    case = _start(store, people, deadline=D(2017, 6, 15), doc_no="九人社催〔2017〕8号")
    case = dun.step(store, op, sc, case.id, "order", on=D(2017, 6, 20), deadline=D(2017, 7, 10),
                    late_fee_fen=54_000)  # fmt: skip
    for day, note in ((D(2017, 7, 12), "走访一"), (D(2017, 7, 20), "走访二")):
        dun.step(store, op, sc, case.id, "visit", on=day, note=note)
    dun.step(store, op, sc, case.id, "referral", on=D(2017, 7, 25))
    case = dun.step(store, op, sc, case.id, "enforcement", on=D(2017, 8, 1))
    out = tmp_path / "docs"
    bureau = people.profile.letterhead.issuer

    notice = _text(dun.document(store, sc, people.profile, case.id, out, seq=1))
    for part in (
        bureau, "社会保险费催缴通知书", "九人社催〔2017〕8号", "九江市浔江建材有限公司", CREDIT,
        "2017年1月至2017年3月、2017年5月", "城镇职工基本养老保险、工伤保险费36,000.00元",
        "大写：人民币叁万陆仟元整", "于2017年6月15日前", "第六十条、第六十三条、第八十六条",
        "2017年6月1日",
    ):  # fmt: skip
        assert part in notice, part
    assert "{{" not in notice and "滞纳金54" not in notice

    order = _text(dun.document(store, sc, people.profile, case.id, out, seq=2))
    for part in (
        "责令限期缴纳社会保险费决定书", "欠缴金额36,000.00元", "截至2017年6月20日滞纳金540.00元，"
        "合计36,540.00元", "本局已于2017年6月1日向你单位发出催缴通知", "于2017年7月10日前足额缴纳",
        "第六十三条、第八十六条", "六十日内", f"{people.profile.letterhead.document_prefix}〔2017〕",
    ):  # fmt: skip
        assert part in order, part

    referral = _text(dun.document(store, sc, people.profile, case.id, out, seq=5))
    assert "关于移送九江市浔江建材有限公司欠缴社会保险费案件的函" in referral
    assert (
        "于2017年6月20日作出责令限期缴纳决定（限2017年7月10日前缴纳），并先后2次上门催缴"
        in referral
    )
    enforcement_doc = dun.document(store, sc, people.profile, case.id, out)  # latest document
    assert enforcement_doc.name == f"强制执行申请书-{CREDIT}-{case.id}-6.docx"
    enforcement = _text(enforcement_doc)
    for part in ("申请人：" + bureau, "被申请人：九江市浔江建材有限公司", "经2次上门催缴",
                 "《中华人民共和国行政强制法》第五十三条", "2017年8月1日"):  # fmt: skip
        assert part in enforcement, part
    with pytest.raises(UsageError, match="“上门催缴”没有文书"):
        dun.document(store, sc, people.profile, case.id, out, seq=3)
    # each document taken away is an export entry
    assert [e.action for e in audit_log.entries(store, action="export")].count("export") == 4


def test_the_bureaus_own_template_wins_even_when_word_split_the_placeholder(
    store: Store, people: People, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    written = documents.write_templates(data / documents.TEMPLATE_DIR)
    assert sorted(p.name for p, ok in written if ok) == sorted(
        f"{n}.docx" for n in documents.TEMPLATES
    )
    assert not any(ok for _p, ok in documents.write_templates(data / documents.TEMPLATE_DIR))
    own = Document()
    p = own.add_paragraph()
    for piece in ("本局自拟：{{ employ", "er_name }}，欠费", "{{ amount }}元，", "{{ bureau }}"):
        p.add_run(piece)  # Word keeps a placeholder in several runs after an edit
    own.save(str(data / documents.TEMPLATE_DIR / "dunning_notice.docx"))
    case = _start(store, people)
    out = dun.document(
        store, people.scope(people.collector), people.profile, case.id, tmp_path, data_dir=data
    )
    assert _text(out) == (
        f"本局自拟：九江市浔江建材有限公司，欠费36,000.00元，{people.profile.letterhead.issuer}"
    )
    bad = Document()
    bad.add_paragraph("{{ employer_nmae }}")
    bad.save(str(data / documents.TEMPLATE_DIR / "dunning_notice.docx"))
    with pytest.raises(Exception) as e:
        dun.document(store, people.scope(people.collector), people.profile, case.id, tmp_path,
                     data_dir=data)  # fmt: skip
    assert "dunning_notice.docx" in str(e.value) and "employer_nmae" in str(e.value)


def test_names_are_escaped_for_word(store: Store, people: People, tmp_path: Path) -> None:
    who = Employer("E-0002", "九江A&B<建材>有限公司", "", people.here)
    case = dun.start(store, people.collector, people.scope(people.collector), who,
                     ["maternity"], 12_345, on=D(2017, 6, 1))  # fmt: skip
    path = dun.document(store, people.scope(people.collector), people.profile, case.id, tmp_path)
    text = _text(path)
    assert "九江A&B<建材>有限公司（统一社会信用代码：（未登记））" in text
    assert "生育保险费123.45元（大写：人民币壹佰贰拾叁元肆角伍分）" in text


@pytest.mark.parametrize(
    ("fen", "upper"),
    [
        (1234567, "壹万贰仟叁佰肆拾伍元陆角柒分"), (100, "壹元整"), (10005, "壹佰元零伍分"),
        (100000000, "壹佰万元整"), (100010000, "壹佰万零壹佰元整"), (1001000, "壹万零壹拾元整"),
        (50, "伍角"), (5, "伍分"), (10001000000, "壹亿零壹万元整"), (0, "零元整"),
    ],
)  # fmt: skip
def test_amounts_in_chinese_capitals(fen: int, upper: str) -> None:
    assert documents.yuan_upper(fen) == upper


def test_cli_round_trip(backend: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    db = ["--database-url", url_for(backend, tmp_path), "--data-dir", str(data)]
    assert run(["db", "upgrade", *db]) == 0
    assert run(["dunning", "start", "--employer", CREDIT, "--scheme", "employee_pension",
                "--amount", "36000", "--period", "2017-01", "--on", "2017-06-01", "--json", *db]
               ) == 1  # fmt: skip
    assert "请用 --name 和 --county" in capsys.readouterr().err
    assert run(["dunning", "start", "--employer", CREDIT, "--name", "九江市浔江建材有限公司",
                "--county", "360402", "--scheme", "employee_pension", "--amount", "36000",
                "--period", "2017-01", "--on", "2017-06-01", "--json", *db]) == 0  # fmt: skip
    case = json.loads(capsys.readouterr().out)
    assert (case["state"], case["amount"], case["credit_code"]) == ("notice", "36000.00", CREDIT)
    cid = str(case["id"])
    assert run(["dunning", "step", cid, "referral", "--on", "2017-06-05", *db]) == 1
    err = capsys.readouterr().err
    assert "当前状态为“已发催缴通知”" in err and "责令限期缴纳决定（order）" in err
    assert run(["dunning", "step", cid, "order", "--on", "2017-06-20", "--deadline", "2017-07-10",
                "--version", str(case["version"]), *db]) == 0  # fmt: skip
    assert run(["dunning", "step", cid, "visit", "--on", "2017-06-21", "--note", "x",
                "--version", str(case["version"]), *db]) == 1  # fmt: skip
    assert "您读取的是版本" in capsys.readouterr().err
    assert run(["dunning", "show", cid, "--json", *db]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert [s["kind"] for s in shown["steps"]] == ["notice", "order"]
    assert shown["steps"][1]["deadline"] == "2017-07-10" and "referral" in shown["next_steps"]
    assert run(["dunning", "list", "--open", "--json", *db]) == 0
    assert [c["id"] for c in json.loads(capsys.readouterr().out)] == [case["id"]]
    assert run(["dunning", "document", cid, "--out", str(tmp_path / "out"), *db]) == 0
    capsys.readouterr()
    made = tmp_path / "out" / f"责令限期缴纳社会保险费决定书-{CREDIT}-{cid}-2.docx"
    assert "于2017年7月10日前足额缴纳" in _text(made)
    assert run(["dunning", "templates", "--data-dir", str(data)]) == 0
    assert (data / "templates" / "dunning_order.docx").is_file()
