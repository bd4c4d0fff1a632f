"""Audit cases (稽核案件, 《社会保险稽核办法》, 劳动和社会保障部令第16号, 2003): one employer's
on-site audit of headcount, contribution base and payment, from the notice to rectification.

::

    noticed ─ record ─→ recorded ─ finish ─→ concluded ─ rectify ─→ rectified
       │                  └ record (again: the findings are replaced)
       └─ cancel ─→ cancelled

- **open** (稽核通知): the notice is given at least :data:`NOTICE_DAYS` days before the visit
  (art. 7: 提前3日通知);
- **record** (现场稽核记录): the visit's date and record and the findings per person × scheme ×
  month (:mod:`canbao.audit.findings`); the deadlines follow from the visit on the working-day
  calendar (:mod:`canbao.standards.workdays`): the result within :data:`RESULT_WORKDAYS`
  working days, the 稽核意见书 within :data:`OPINION_WORKDAYS` (art. 8, 9);
- **finish** (稽核结论 / 稽核意见书): on a day; late is allowed and shown (``overdue``); with
  findings a rectification deadline (限期整改) is required. From that day the findings are
  supplementary assessments in the ledger (``audit_findings.assessed_on``,
  :mod:`canbao.collection.ledger_audits`) with late fees from each month's original due date;
- **rectify** (整改完成) and **cancel** (撤销, before the visit).

The machinery is the cases' (:mod:`canbao.cases.lifecycle`): one transition table
(:data:`TRANSITIONS`), the role (``audit.work`` to act, ``audit.read`` to read) and the county
scope checked on every step, the version the change is based on (乐观锁, a stale one is a
:class:`~canbao.errors.ConflictError`), and each step an :class:`AuditCaseEvent` and an
audit-log entry in the same transaction. Lists mask person names; the full view of one case
(:func:`get_case`) is an audit-log entry.
"""

from __future__ import annotations

import calendar as calendar_module
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, or_, select, true, update
from sqlalchemy.orm import Session

from canbao.audit.findings import KINDS, Finding, check_period
from canbao.cases.lifecycle import check_date, check_version
from canbao.collection.dunning import Employer
from canbao.errors import ConflictError, NotFoundError, StateError, UsageError
from canbao.standards import workdays
from canbao.standards.masking import mask_name
from canbao.store import Actor, Store, audit_log, roles
from canbao.store.audit_log import Event, append
from canbao.store.models import AuditCase, AuditCaseEvent, AuditFinding, Base, utcnow
from canbao.warehouse.scope import Scope

NOTICE_DAYS = 3  # art. 7: the notice at least 3 days before the visit
RESULT_WORKDAYS = 5  # art. 8/9: the result within 5 working days of the visit
OPINION_WORKDAYS = 10  # … or the 稽核意见书 within 10
CALENDAR_FILE = "workdays.toml"  # DATA/calendar/workdays.toml: the bureau's own calendar

STATE_LABELS: dict[str, str] = {
    "noticed": "已发稽核通知",
    "recorded": "已现场稽核",
    "concluded": "已作出稽核结论",
    "rectified": "已整改",
    "cancelled": "已撤销",
}
STEP_LABELS: dict[str, str] = {
    "open": "发出稽核通知",
    "record": "登记现场稽核",
    "finish": "作出稽核结论",
    "rectify": "登记整改完成",
    "cancel": "撤销",
}
CONCLUSIONS: dict[str, str] = {"result": "稽核结论（告知）", "opinion": "稽核意见书"}
MATTERS: dict[str, str] = {"headcount": "参保人数", "base": "缴费基数", "payment": "缴费情况"}
TRANSITIONS: dict[str, dict[str, str]] = {
    "noticed": {"record": "recorded", "cancel": "cancelled"},
    "recorded": {"record": "recorded", "finish": "concluded"},
    "concluded": {"rectify": "rectified"},
    "rectified": {},
    "cancelled": {},
}
OPEN = frozenset({"noticed", "recorded"})
ASSESSED = frozenset({"concluded", "rectified"})
AUDIT_CASES = Base.metadata.tables["audit_cases"]
NOTE_MAX = 4000


def next_steps(state: str) -> list[str]:
    return list(TRANSITIONS.get(state, {}))


def calendar_for(data_dir: Path | None) -> workdays.Calendar:
    """The bureau's working-day calendar (``DATA/calendar/workdays.toml``), else the shipped
    one (Chinese public holidays from the State Council's notices)."""
    own = Path(data_dir) / "calendar" / CALENDAR_FILE if data_dir is not None else None
    return workdays.calendar(own if own is not None and own.is_file() else None)


# --- values handed out ----------------------------------------------------------------------


@dataclass(frozen=True)
class FindingView(Finding):
    seq: int = 0
    assessed_on: dt.date | None = None


@dataclass(frozen=True)
class EventView:
    at: dt.datetime
    actor: str
    action: str
    from_state: str
    to_state: str
    detail: dict[str, Any]


@dataclass(frozen=True)
class AuditCaseView:
    id: int
    employer_key: str
    credit_code: str
    employer_name: str
    county_code: str | None
    state: str
    matters: tuple[str, ...]
    period_from: str
    period_to: str
    notice_no: str
    notice_on: dt.date
    visit_on: dt.date
    auditors: tuple[str, ...]
    visited_on: dt.date | None
    record_note: str
    result_due: dt.date | None
    opinion_due: dt.date | None
    finished_on: dt.date | None
    conclusion: str | None
    opinion_no: str
    conclusion_note: str
    rectify_by: dt.date | None
    rectified_on: dt.date | None
    opened_by: str
    opened_at: dt.datetime
    version: int
    findings: tuple[FindingView, ...] = ()
    events: tuple[EventView, ...] = ()
    unpaid_fen: int = 0  # Σ findings
    finding_count: int = 0

    @property
    def state_label(self) -> str:
        return STATE_LABELS[self.state]

    @property
    def conclusion_label(self) -> str:
        return CONCLUSIONS.get(self.conclusion or "", "")

    @property
    def matters_label(self) -> str:
        return "、".join(MATTERS.get(m, m) for m in self.matters)

    @property
    def is_open(self) -> bool:
        return self.state in OPEN

    @property
    def next_steps(self) -> list[str]:
        return next_steps(self.state)

    @property
    def deadline(self) -> dt.date | None:
        """What is due next: the 稽核意见书 (the latest lawful day for a conclusion) while the
        case is open after the visit, the rectification while concluded."""
        if self.state == "recorded":
            return self.opinion_due
        if self.state == "concluded":
            return self.rectify_by
        return None

    def overdue(self, today: dt.date) -> bool:
        """Past a deadline: the conclusion later than allowed (or still missing after it), or
        the rectification not recorded by its deadline."""
        if self.finished_on is not None and self.conclusion is not None:
            due = self.result_due if self.conclusion == "result" else self.opinion_due
            if due is not None and self.finished_on > due:
                return True
        d = self.deadline
        return d is not None and today > d


def _findings(rows: Sequence[AuditFinding], masked: bool) -> tuple[FindingView, ...]:
    return tuple(
        FindingView(
            f.kind, f.person_key, mask_name(f.person_name) if masked else f.person_name,
            f.scheme, f.period, f.declared_base_fen, f.found_base_fen, f.risk_class, f.note,
            f.rate_bp, f.unpaid_fen, f.seq, f.assessed_on,
        )
        for f in rows
    )  # fmt: skip


def _view(
    c: AuditCase,
    findings: Sequence[AuditFinding] = (),
    events: Sequence[AuditCaseEvent] = (),
    *,
    masked: bool = True,
    totals: tuple[int, int] | None = None,
) -> AuditCaseView:
    total, count = totals or (sum(f.unpaid_fen for f in findings), len(findings))
    return AuditCaseView(
        c.id, c.employer_key, c.credit_code, c.employer_name, c.county_code, c.state,
        tuple(c.matters or ()), c.period_from, c.period_to, c.notice_no, c.notice_on, c.visit_on,
        tuple(c.auditors or ()), c.visited_on, c.record_note, c.result_due, c.opinion_due,
        c.finished_on, c.conclusion, c.opinion_no, c.conclusion_note, c.rectify_by,
        c.rectified_on, c.opened_by, c.opened_at, c.version, _findings(findings, masked),
        tuple(EventView(e.at, e.actor, e.action, e.from_state, e.to_state, dict(e.detail))
              for e in events),
        total, count,
    )  # fmt: skip


# --- checks and reads -----------------------------------------------------------------------


def in_scope(scope: Scope) -> ColumnElement[bool]:
    if scope.counties is None:
        return true()
    return AuditCase.county_code.in_(sorted(scope.counties))


def can_read(scope: Scope) -> None:
    roles.require(scope.role, "audit.read", scope.actor)


def _text(value: str, what: str) -> str:
    out = (value or "").strip()
    if len(out) > NOTE_MAX:
        raise UsageError(f"{what}过长（最多 {NOTE_MAX} 字）", f"{what}: too long", field=what)
    return out


def refuse(case: AuditCase, step: str) -> StateError:
    allowed = next_steps(case.state)
    shown = "、".join(f"{STEP_LABELS[k]}（{k}）" for k in allowed) or "无"
    return StateError(
        f"稽核案件 #{case.id} 当前状态为“{STATE_LABELS[case.state]}”，不能“{STEP_LABELS.get(step, step)}”；"
        f"可以进行的下一步：{shown}",
        f"illegal audit case step {step!r} from state {case.state!r}; allowed: {allowed}",
    )


def load(session: Session, case_id: int, scope: Scope, *, lock: bool = False) -> AuditCase:
    """The case (in ``scope``), locked like :func:`canbao.cases.lifecycle.load`."""
    if lock and session.get_bind().dialect.name == "sqlite":
        session.execute(update(AUDIT_CASES).where(AuditCase.id == case_id).values(id=AuditCase.id))
    q = select(AuditCase).where(AuditCase.id == case_id)
    case = session.execute(q.with_for_update() if lock else q).scalar_one_or_none()
    if case is None:
        raise NotFoundError(f"没有稽核案件 #{case_id}", f"no audit case {case_id}")
    scope.require_county(case.county_code)
    return case


def _rows(session: Session, case_id: int) -> tuple[list[AuditFinding], list[AuditCaseEvent]]:
    found = session.execute(
        select(AuditFinding).where(AuditFinding.case_id == case_id).order_by(AuditFinding.seq)
    ).scalars()
    events = session.execute(
        select(AuditCaseEvent).where(AuditCaseEvent.case_id == case_id).order_by(AuditCaseEvent.id)
    ).scalars()
    return list(found), list(events)


def view(store: Store, scope: Scope, case_id: int, *, masked: bool = True) -> AuditCaseView:
    """One case with its findings and steps (nothing logged; names masked unless told)."""
    with store.sessions() as s:
        case = load(s, case_id, scope)
        found, events = _rows(s, case.id)
        return _view(case, found, events, masked=masked)


def get_case(store: Store, scope: Scope, case_id: int) -> AuditCaseView:
    """One case with its findings (names in full for a reader of personal data) and steps: an
    audit-log entry (``audit_case.view``)."""
    can_read(scope)
    out = view(store, scope, case_id, masked=not scope.personal)
    shown = ("person_name",) if scope.personal and out.findings else ()
    audit_log.log(
        store,
        Event(scope.actor, scope.role, "audit_case.view", "audit_case",
              (str(out.id), out.employer_key), shown, scope.client),
    )  # fmt: skip
    return out


def list_cases(
    store: Store,
    scope: Scope,
    *,
    county: str | None = None,
    state: str | None = None,
    employer_key: str | None = None,
    open_only: bool = False,
    limit: int | None = 1000,
) -> list[AuditCaseView]:
    """The cases in ``scope``, newest first, with their findings' count and total (no names)."""
    can_read(scope)
    q = select(AuditCase).where(in_scope(scope))
    if county is not None:
        scope.require_county(county)
        q = q.where(AuditCase.county_code == county)
    if state is not None:
        if state not in STATE_LABELS:
            raise UsageError(
                f"未知的稽核案件状态“{state}”（可用：{'、'.join(STATE_LABELS)}）",
                f"bad state {state!r}",
            )
        q = q.where(AuditCase.state == state)
    if employer_key is not None:
        q = q.where(AuditCase.employer_key == employer_key)
    if open_only:
        q = q.where(AuditCase.state.in_(sorted(OPEN)))
    q = q.order_by(AuditCase.id.desc())
    if limit is not None:
        q = q.limit(limit)
    with store.sessions() as s:
        found = list(s.execute(q).scalars())
        totals = _totals(s, [c.id for c in found])
        return [_view(c, totals=totals.get(c.id, (0, 0))) for c in found]


def _totals(session: Session, ids: list[int]) -> dict[int, tuple[int, int]]:
    from sqlalchemy import func

    if not ids:
        return {}
    q = (
        select(AuditFinding.case_id, func.sum(AuditFinding.unpaid_fen), func.count())
        .where(AuditFinding.case_id.in_(ids))
        .group_by(AuditFinding.case_id)
    )
    return {int(cid): (int(total or 0), int(n)) for cid, total, n in session.execute(q)}


def months_before(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` earlier (the month's last day when it has no such day)."""
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    last = calendar_module.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(day.day, last))


def recently_audited(store: Store, as_of: dt.date, months: int = 12) -> set[str]:
    """Employer keys audited in the ``months`` before ``as_of`` (a visit, or a notice not yet
    visited, on or before ``as_of`` and after the same day ``months`` earlier) and those with an
    open case: what an audit plan leaves out. A cancelled case does not count."""
    if months < 0:
        raise UsageError(f"月数不能为负：{months}", f"negative months {months}")
    since = months_before(as_of, months)
    on = AuditCase.visited_on
    q = select(AuditCase.employer_key).where(
        AuditCase.state != "cancelled",
        or_(
            AuditCase.state.in_(sorted(OPEN)),
            (on.is_not(None)) & (on > since) & (on <= as_of),
            (on.is_(None)) & (AuditCase.notice_on > since) & (AuditCase.notice_on <= as_of),
        ),
    )
    with store.sessions() as s:
        return {str(k) for k in s.execute(q).scalars()}


# --- the steps ------------------------------------------------------------------------------


def apply_step(
    session: Session,
    actor: Actor,
    case: AuditCase,
    step: str,
    version: int | None,
    detail: dict[str, Any],
    changes: dict[str, Any],
) -> None:
    """Move ``case`` by ``step`` in the caller's transaction (as
    :func:`canbao.cases.lifecycle.apply_step`): the version, the table, the changes, the event,
    the audit-log entry."""
    check_version(case.version, version)
    to = TRANSITIONS.get(case.state, {}).get(step)
    if to is None:
        raise refuse(case, step)
    before = case.state
    for name, value in changes.items():
        setattr(case, name, value)
    case.state = to
    if to not in OPEN and to != "concluded":
        case.closed_at = utcnow()
    _event(session, actor, case, step, before, to, detail)


def _event(
    session: Session,
    actor: Actor,
    case: AuditCase,
    step: str,
    before: str,
    to: str,
    detail: dict[str, Any],
) -> None:
    shown = {k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in detail.items()}
    session.add(AuditCaseEvent(case_id=case.id, at=utcnow(), actor=actor.name, action=step,
                               from_state=before, to_state=to, detail=shown))  # fmt: skip
    session.flush()
    append(
        session,
        [actor.event(f"audit_case.{step}", "audit_case", [str(case.id), case.employer_key],
                     from_state=before, to_state=to, **shown)],
    )  # fmt: skip


def _matters(matters: Sequence[str]) -> list[str]:
    out = []
    for m in matters or tuple(MATTERS):
        code = next((k for k, v in MATTERS.items() if m in (k, v)), None)
        if code is None:
            raise UsageError(
                f"未知的稽核事项“{m}”（可用：{'、'.join(MATTERS.values())}）", f"bad matter {m!r}"
            )
        out.append(code)
    return sorted(set(out), key=list(MATTERS).index)


def open_case(
    store: Store,
    actor: Actor,
    scope: Scope,
    employer: Employer,
    *,
    notice_on: dt.date,
    visit_on: dt.date,
    period_from: str,
    period_to: str,
    matters: Sequence[str] = (),
    auditors: Sequence[str] = (),
    notice_no: str = "",
) -> AuditCaseView:
    """Open a case with its notice: the notice at least :data:`NOTICE_DAYS` days before the
    visit; one open case per employer."""
    roles.require(actor.role, "audit.work", actor.name)
    if not employer.employer_key.strip() or not employer.name.strip():
        raise UsageError("须给出单位标识和单位名称", "employer key and name are required")
    scope.require_county(employer.county_code)
    check_date(notice_on, "稽核通知日期")
    if visit_on < notice_on + dt.timedelta(days=NOTICE_DAYS):
        raise UsageError(
            f"稽核通知应在实施稽核 {NOTICE_DAYS} 日前送达：通知日期 {notice_on}，"
            f"稽核日期最早为 {notice_on + dt.timedelta(days=NOTICE_DAYS)}（《社会保险稽核办法》第七条）",
            f"visit {visit_on} less than {NOTICE_DAYS} days after the notice {notice_on}",
            field="visit_on",
        )
    first, last = check_period(period_from), check_period(period_to)
    if last < first:
        raise UsageError(f"稽核期间有误：{first} 晚于 {last}", "period_from after period_to")
    codes = _matters(matters)
    people = [a.strip() for a in auditors if a.strip()]
    with store.transaction() as s:
        clash = s.execute(
            select(AuditCase.id).where(
                AuditCase.employer_key == employer.employer_key,
                AuditCase.state.in_(sorted(OPEN)),
            )
        ).scalar()
        if clash is not None:
            raise ConflictError(
                f"单位“{employer.name}”已有未结的稽核案件 #{clash}，请在该案件上继续登记",
                f"open audit case {clash} for {employer.employer_key}",
            )
        case = AuditCase(
            employer_key=employer.employer_key, credit_code=employer.credit_code,
            employer_name=employer.name, county_code=employer.county_code, state="noticed",
            matters=codes, period_from=first, period_to=last, notice_no=_text(notice_no, "文号")[:64],
            notice_on=notice_on, visit_on=visit_on, auditors=people, record_note="",
            opinion_no="", conclusion_note="", opened_by=actor.name,
        )  # fmt: skip
        s.add(case)
        s.flush()
        detail = {"notice_on": notice_on, "visit_on": visit_on, "matters": codes,
                  "period_from": first, "period_to": last}  # fmt: skip
        _event(s, actor, case, "open", "", "noticed", detail)
        case_id = case.id
    return view(store, scope, case_id)


def record(
    store: Store,
    actor: Actor,
    scope: Scope,
    case_id: int,
    *,
    visited_on: dt.date,
    findings: Sequence[Finding],
    note: str = "",
    version: int | None = None,
    calendar: workdays.Calendar | None = None,
) -> AuditCaseView:
    """The on-site record: the visit's date, what was seen and the findings (assessed already,
    :func:`canbao.audit.findings.assess`; they replace any recorded before). Sets the result's
    and the 稽核意见书's deadlines on the working-day calendar."""
    roles.require(actor.role, "audit.work", actor.name)
    cal = calendar or workdays.calendar()
    check_date(visited_on, "现场稽核日期")
    result_due, opinion_due = (
        cal.add(visited_on, RESULT_WORKDAYS),
        cal.add(visited_on, OPINION_WORKDAYS),
    )
    for f in findings:
        if f.kind not in KINDS or f.rate_bp <= 0 or f.unpaid_fen <= 0:
            raise UsageError("稽核发现须先按缴费政策核定应补缴金额", "finding not assessed")
    text = _text(note, "现场稽核记录")
    with store.transaction() as s:
        case = load(s, case_id, scope, lock=True)
        if visited_on < case.notice_on + dt.timedelta(days=NOTICE_DAYS):
            raise UsageError(
                f"现场稽核日期 {visited_on} 距稽核通知（{case.notice_on}）不足 {NOTICE_DAYS} 日",
                "visit too soon after the notice",
                field="visited_on",
            )
        visited_month = f"{visited_on.year:04d}-{visited_on.month:02d}"
        outside = [
            f.period
            for f in findings
            if not case.period_from <= f.period <= min(case.period_to, visited_month)
        ]
        if outside:
            raise UsageError(
                f"稽核发现的费款所属期 {outside[0]} 不在稽核期间 {case.period_from}—{case.period_to} 内"
                "（或晚于现场稽核的月份）",
                "finding outside the audited periods",
            )
        check_version(case.version, version)
        if "record" not in TRANSITIONS.get(case.state, {}):
            raise refuse(case, "record")
        for old in s.execute(select(AuditFinding).where(AuditFinding.case_id == case.id)).scalars():
            s.delete(old)
        s.flush()
        for seq, f in enumerate(findings, start=1):
            s.add(AuditFinding(
                case_id=case.id, seq=seq, employer_key=case.employer_key, kind=f.kind,
                person_key=f.person_key, person_name=f.person_name, scheme=f.scheme,
                period=f.period, declared_base_fen=f.declared_base_fen,
                found_base_fen=f.found_base_fen, risk_class=f.risk_class, rate_bp=f.rate_bp,
                unpaid_fen=f.unpaid_fen, note=f.note,
            ))  # fmt: skip
        detail = {"visited_on": visited_on, "findings": len(findings),
                  "unpaid_fen": sum(f.unpaid_fen for f in findings),
                  "result_due": result_due, "opinion_due": opinion_due}  # fmt: skip
        changes = {"visited_on": visited_on, "record_note": text, "result_due": result_due,
                   "opinion_due": opinion_due}  # fmt: skip
        apply_step(s, actor, case, "record", version, detail, changes)
    return view(store, scope, case_id)


def finish(
    store: Store,
    actor: Actor,
    scope: Scope,
    case_id: int,
    *,
    on: dt.date,
    conclusion: str = "opinion",
    rectify_by: dt.date | None = None,
    note: str = "",
    opinion_no: str = "",
    version: int | None = None,
) -> AuditCaseView:
    """The result (``result``) or the 稽核意见书 (``opinion``) on ``on``; late is recorded as
    such (``overdue`` in the step). With findings, ``rectify_by`` (after ``on``) is required and
    the findings become supplementary assessments from ``on``."""
    roles.require(actor.role, "audit.work", actor.name)
    if conclusion not in CONCLUSIONS:
        code = next((k for k, v in CONCLUSIONS.items() if conclusion in v), None)
        if code is None:
            raise UsageError(
                f"稽核结论形式应为 result（稽核结论）或 opinion（稽核意见书）：{conclusion}",
                f"bad conclusion {conclusion!r}",
            )
        conclusion = code
    check_date(on, "稽核结论日期")
    text = _text(note, "稽核结论")
    with store.transaction() as s:
        case = load(s, case_id, scope, lock=True)
        check_version(case.version, version)
        if "finish" not in TRANSITIONS.get(case.state, {}):
            raise refuse(case, "finish")
        assert case.visited_on is not None
        if on < case.visited_on:
            raise UsageError(f"稽核结论日期 {on} 早于现场稽核日期 {case.visited_on}",
                             "conclusion before the visit")  # fmt: skip
        rows = list(
            s.execute(select(AuditFinding).where(AuditFinding.case_id == case.id)).scalars()
        )
        if rows and rectify_by is None:
            raise UsageError("有稽核发现的，须规定整改期限（--rectify-by）", "rectify_by required",
                             field="rectify_by")  # fmt: skip
        if rectify_by is not None and rectify_by <= on:
            raise UsageError(f"整改期限 {rectify_by} 应晚于结论日期 {on}", "rectify_by too early",
                             field="rectify_by")  # fmt: skip
        due = case.result_due if conclusion == "result" else case.opinion_due
        for f in rows:
            f.assessed_on = on
        detail = {"on": on, "conclusion": conclusion, "due": due,
                  "overdue": bool(due is not None and on > due), "rectify_by": rectify_by,
                  "assessed_fen": sum(f.unpaid_fen for f in rows)}  # fmt: skip
        changes = {"finished_on": on, "conclusion": conclusion, "rectify_by": rectify_by,
                   "conclusion_note": text, "opinion_no": _text(opinion_no, "文号")[:64]}  # fmt: skip
        apply_step(s, actor, case, "finish", version, detail, changes)
    return view(store, scope, case_id)


def rectify(
    store: Store,
    actor: Actor,
    scope: Scope,
    case_id: int,
    *,
    on: dt.date,
    note: str = "",
    version: int | None = None,
) -> AuditCaseView:
    """The employer rectified (补缴、补报): the day and what was done."""
    roles.require(actor.role, "audit.work", actor.name)
    check_date(on, "整改完成日期")
    with store.transaction() as s:
        case = load(s, case_id, scope, lock=True)
        detail = {"on": on, "note": _text(note, "说明"),
                  "late": bool(case.rectify_by is not None and on > case.rectify_by)}  # fmt: skip
        apply_step(s, actor, case, "rectify", version, detail, {"rectified_on": on})
    return view(store, scope, case_id)


def cancel(
    store: Store, actor: Actor, scope: Scope, case_id: int, *, reason: str,
    version: int | None = None,
) -> AuditCaseView:  # fmt: skip
    """Withdraw a notice before the visit: why, in words."""
    roles.require(actor.role, "audit.work", actor.name)
    why = _text(reason, "撤销原因")
    if not why:
        raise UsageError("撤销须写明原因（--reason）", "cancel: a reason is required")
    with store.transaction() as s:
        case = load(s, case_id, scope, lock=True)
        apply_step(s, actor, case, "cancel", version, {"reason": why}, {})
    return view(store, scope, case_id)
