"""A case's life: the states, the one transition table, the staff's steps and the reads.

::

    new ─┬─ assign ──→ assigned ─ contact ─→ contacted ─┬─ resolve(outcome) ─→ resolved
         ├─ contact, resolve, escalate (straight from new, e.g. a returned workbook)
         └───────────────────────── escalate ──────────┴─→ escalated ─ resolve ─→ resolved
    resolved | confirmed | gone_from_list ─ reopen ─→ reopened (and on, as from new)

The moves allowed from each state are :data:`TRANSITIONS`; anything else is refused with a
Chinese message naming the current state and the steps allowed next. ``confirmed`` and
``gone_from_list`` are set by the data of a build (:mod:`canbao.cases.opening`), never by hand.

Every step checks the role (``case.work``) and the county scope, names the version it was based
on (乐观锁: a stale ``version`` is a :class:`~canbao.errors.ConflictError`), is a
:class:`~canbao.store.models.CaseEvent` and an audit-log entry in the same transaction. Reads take a
:class:`~canbao.warehouse.scope.Scope` and need ``worklist.read``; the full view of one case
(:func:`get_case`: name and address) is an audit-log entry.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, select, true, update
from sqlalchemy.orm import Session

from canbao.cases import effects, outcomes
from canbao.cases.kinds import KINDS, LIST_FIELDS, check_kind
from canbao.errors import ConflictError, NotFoundError, PermissionDenied, StateError, UsageError
from canbao.profile import Profile
from canbao.store import Actor, Store, audit_log, roles
from canbao.store.audit_log import Event, append
from canbao.store.models import Base, Case, CaseEvent, User, utcnow
from canbao.warehouse.scope import Scope

STATE_LABELS: dict[str, str] = {
    "new": "新案件",
    "assigned": "已分派",
    "contacted": "已联系",
    "escalated": "已上报",
    "reopened": "已重新打开",
    "resolved": "已办结",
    "confirmed": "数据已确认",
    "gone_from_list": "已不在清单（未登记结果）",
}
STEP_LABELS: dict[str, str] = {
    "assign": "分派",
    "contact": "登记联系情况",
    "resolve": "登记处理结果",
    "escalate": "上报",
    "reopen": "重新打开",
}
DATA_STEPS: dict[str, str] = {  # the moves the data of a build makes (canbao.cases.opening)
    "gone": "已不在清单",
    "confirm": "数据确认",
    "reappear": "重新出现在清单",
    "expire": "结果已到期",
}
_WORK = {"assign": "assigned", "contact": "contacted", "resolve": "resolved",
         "escalate": "escalated"}  # fmt: skip
TRANSITIONS: dict[str, dict[str, str]] = {
    "new": dict(_WORK),
    "reopened": dict(_WORK),
    "assigned": dict(_WORK),
    "contacted": {**_WORK, "assign": "contacted"},
    "escalated": {"assign": "escalated", "contact": "escalated", "resolve": "resolved"},
    "resolved": {"reopen": "reopened"},
    "confirmed": {"reopen": "reopened"},
    "gone_from_list": {"resolve": "resolved", "reopen": "reopened"},
}
CASES = Base.metadata.tables["cases"]  # the table, for set-based statements
CASE_EVENTS = Base.metadata.tables["case_events"]
OPEN = frozenset({"new", "assigned", "contacted", "escalated", "reopened"})
CLOSED = frozenset(STATE_LABELS) - OPEN
RESOLVED = frozenset({"resolved", "confirmed"})  # an outcome stands
WORKED = frozenset({"contact", "resolve", "escalate"})  # steps that count as field work
NOTE_MAX = 2000


def next_steps(state: str) -> list[str]:
    return list(TRANSITIONS.get(state, {}))


# --- values handed out ----------------------------------------------------------------------


@dataclass(frozen=True)
class EventView:
    at: dt.datetime
    actor: str
    action: str
    from_state: str
    to_state: str
    build: str
    detail: dict[str, Any]


@dataclass(frozen=True)
class CaseView:
    id: int
    case_key: str
    kind: str
    subject_type: str
    subject_key: str
    scheme: str
    county_code: str | None
    township: str | None
    priority: int
    subject: dict[str, Any]  # masked display fields (no address in lists)
    state: str
    assignee: str | None
    team: str | None
    outcome: str | None
    outcome_date: dt.date | None
    outcome_reason: str
    outcome_note: str
    evidence: str
    expires_on: dt.date | None
    resolved_by: str | None
    resolved_at: dt.datetime | None
    opened_build: str
    opened_at: dt.datetime
    open_since: dt.datetime
    worked_at: dt.datetime | None
    last_seen_build: str
    state_build: str | None
    version: int
    events: tuple[EventView, ...] = ()

    @property
    def kind_label(self) -> str:
        return KINDS[self.kind].label

    @property
    def state_label(self) -> str:
        return STATE_LABELS[self.state]

    @property
    def outcome_label(self) -> str:
        return outcomes.OUTCOMES[self.outcome].label if self.outcome else ""

    @property
    def is_open(self) -> bool:
        return self.state in OPEN

    @property
    def next_steps(self) -> list[str]:
        return next_steps(self.state)


def _view(
    c: Case, events: Sequence[CaseEvent] = (), *, fields: Sequence[str] | None = None
) -> CaseView:
    subject = dict(c.subject or {})
    if fields is not None:
        subject = {k: v for k, v in subject.items() if k in fields}
    return CaseView(
        c.id, c.case_key, c.kind, c.subject_type, c.subject_key, c.scheme, c.county_code,
        c.township, c.priority, subject, c.state, c.assignee, c.team, c.outcome, c.outcome_date,
        c.outcome_reason, c.outcome_note, c.evidence, c.expires_on, c.resolved_by, c.resolved_at,
        c.opened_build, c.opened_at, c.open_since, c.worked_at, c.last_seen_build, c.state_build,
        c.version,
        tuple(EventView(e.at, e.actor, e.action, e.from_state, e.to_state, e.build,
                        dict(e.detail)) for e in events),
    )  # fmt: skip


# --- checks ---------------------------------------------------------------------------------


def in_scope(scope: Scope) -> ColumnElement[bool]:
    """The SQL condition of ``scope`` on the cases' county (a case without one: city-wide)."""
    if scope.counties is None:
        return true()
    return Case.county_code.in_(sorted(scope.counties))


def can_read(scope: Scope) -> None:
    roles.require(scope.role, "worklist.read", scope.actor)
    scope.require_personal()


def check_version(current: int, expected: int | None) -> None:
    """乐观锁 on a value the caller read: ``expected`` is the version they based the change on."""
    if expected is not None and expected != current:
        raise ConflictError(
            f"该案件已被他人修改（当前版本 {current}，您读取的是版本 {expected}），"
            "本次修改未保存；请重新读取后再改",
            f"stale version: {expected}, current {current}",
        )


def today() -> dt.date:
    return dt.date.today()


def _text(value: str, what: str) -> str:
    out = (value or "").strip()
    if len(out) > NOTE_MAX:
        raise UsageError(f"{what}过长（最多 {NOTE_MAX} 字）", f"{what}: too long", field=what)
    return out


def refuse(case: Case, step: str) -> StateError:
    allowed = next_steps(case.state)
    shown = "、".join(f"{STEP_LABELS[k]}（{k}）" for k in allowed) or "无"
    return StateError(
        f"案件 #{case.id} 当前状态为“{STATE_LABELS[case.state]}”，不能“{STEP_LABELS.get(step, step)}”；"
        f"可以进行的下一步：{shown}",
        f"illegal case step {step!r} from state {case.state!r}; allowed: {allowed}",
    )


# --- reads ----------------------------------------------------------------------------------


def load(session: Session, case_id: int, scope: Scope, *, lock: bool = False) -> Case:
    """The case (in ``scope``), locked for the transaction when ``lock``: ``FOR UPDATE`` on
    PostgreSQL; on SQLite a no-op write first takes the database's write lock, so the row read
    is the latest committed one (two writers queue instead of failing half-way)."""
    if lock and session.get_bind().dialect.name == "sqlite":
        session.execute(update(CASES).where(Case.id == case_id).values(id=Case.id))
    q = select(Case).where(Case.id == case_id)
    case = session.execute(q.with_for_update() if lock else q).scalar_one_or_none()
    if case is None:
        raise NotFoundError(f"没有案件 #{case_id}", f"no case {case_id}")
    scope.require_county(case.county_code)
    return case


def _events(session: Session, case_id: int) -> list[CaseEvent]:
    q = select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)
    return list(session.execute(q).scalars().all())


def view(store: Store, scope: Scope, case_id: int) -> CaseView:
    """One case with its history (the caller has checked the reader; nothing logged)."""
    with store.sessions() as s:
        case = load(s, case_id, scope)
        return _view(case, _events(s, case.id))


def get_case(store: Store, scope: Scope, case_id: int) -> CaseView:
    """One case with its history, name and address: an audit-log entry (``case.view``)."""
    can_read(scope)
    out = view(store, scope, case_id)
    shown = [f for f in ("name", "address") if out.subject.get(f)]
    audit_log.log(
        store,
        Event(scope.actor, scope.role, "case.view", "case", (str(out.id), out.case_key),
              tuple(shown), scope.client),
    )  # fmt: skip
    return out


def list_cases(
    store: Store,
    scope: Scope,
    *,
    county: str | None = None,
    kind: str | None = None,
    state: str | None = None,
    assignee: str | None = None,
    open_only: bool = False,
    limit: int | None = 1000,
) -> list[CaseView]:
    """The cases in ``scope`` (most urgent first), without address or history."""
    can_read(scope)
    q = select(Case).where(in_scope(scope))
    if county is not None:
        scope.require_county(county)
        q = q.where(Case.county_code == county)
    if kind is not None:
        q = q.where(Case.kind == check_kind(kind))
    if state is not None:
        if state not in STATE_LABELS:
            raise UsageError(
                f"未知的案件状态“{state}”（可用：{'、'.join(STATE_LABELS)}）",
                f"bad state {state!r}",
            )
        q = q.where(Case.state == state)
    if assignee is not None:
        q = q.where(Case.assignee == assignee)
    if open_only:
        q = q.where(Case.state.in_(sorted(OPEN)))
    q = q.order_by(Case.county_code, Case.township, Case.priority, Case.id)
    if limit is not None:
        q = q.limit(limit)
    with store.sessions() as s:
        return [_view(c, fields=LIST_FIELDS) for c in s.execute(q).scalars()]


# --- the steps ------------------------------------------------------------------------------


def apply_step(
    session: Session,
    actor: Actor,
    case: Case,
    step: str,
    version: int | None,
    detail: dict[str, Any],
    changes: dict[str, Any],
) -> None:
    """Move ``case`` by ``step`` in the caller's transaction: the version, the table, the
    changes, the event, the audit entry. The caller has checked the role and the scope."""
    check_version(case.version, version)
    to = TRANSITIONS.get(case.state, {}).get(step)
    if to is None:
        raise refuse(case, step)
    before, now = case.state, utcnow()
    for name, value in changes.items():
        setattr(case, name, value)
    case.state = to
    case.state_build = None
    if step in WORKED and case.worked_at is None:
        case.worked_at = now
    if step == "reopen":
        case.open_since = now
    shown = {k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in detail.items()}
    session.add(CaseEvent(case_id=case.id, at=now, actor=actor.name, action=step,
                          from_state=before, to_state=to, build="", detail=shown))  # fmt: skip
    session.flush()
    append(
        session,
        [actor.event(f"case.{step}", "case", [str(case.id), case.case_key],
                     from_state=before, to_state=to, **shown)],
    )  # fmt: skip


def _step(
    store: Store,
    actor: Actor,
    scope: Scope,
    case_id: int,
    step: str,
    version: int | None,
    detail: dict[str, Any],
    changes: dict[str, Any],
) -> CaseView:
    roles.require(actor.role, "case.work", actor.name)
    with store.transaction() as s:
        case = load(s, case_id, scope, lock=True)
        apply_step(s, actor, case, step, version, detail, changes)
    return view(store, scope, case_id)


def _assignee(session: Session, name: str, county: str | None, profile: Profile | None) -> User:
    user = session.execute(select(User).where(User.name == name)).scalar_one_or_none()
    if user is None or user.disabled:
        raise NotFoundError(f"没有可用的用户“{name}”", f"no active user {name!r}")
    if not roles.can(user.role, "case.work"):
        raise PermissionDenied(
            f"用户“{name}”（{roles.ROLES.get(user.role, user.role)}）没有办理扩面个案的权限",
            f"{name!r} may not work cases",
        )
    if user.counties:
        theirs = set(user.counties)
        if profile is not None:
            theirs |= {a for a, unit in profile.area_units().items() if unit in theirs}
        if county not in theirs:
            raise PermissionDenied(
                f"用户“{name}”不负责该案件所在的区县（{county or '未知'}），不能分派给他",
                f"{name!r}: county {county!r} out of their scope",
            )
    return user


def assign(
    store: Store,
    actor: Actor,
    scope: Scope,
    case_id: int,
    *,
    user: str | None = None,
    team: str | None = None,
    note: str = "",
    version: int | None = None,
    profile: Profile | None = None,
) -> CaseView:
    """Assign the case to a user (who works cases in its county) and/or a township team."""
    roles.require(actor.role, "case.work", actor.name)
    team_name = _text(team or "", "乡镇工作组")[:64] or None
    if not user and not team_name:
        raise UsageError("须指定经办人（--user）或乡镇工作组（--team）", "assign to whom?")
    with store.transaction() as s:
        case = load(s, case_id, scope, lock=True)
        if user:
            _assignee(s, user, case.county_code, profile)
        detail = {"assignee": user, "team": team_name, "note": _text(note, "说明")}
        apply_step(s, actor, case, "assign", version, detail,
                   {"assignee": user or case.assignee, "team": team_name or case.team})  # fmt: skip
    return view(store, scope, case_id)


def contact(
    store: Store,
    actor: Actor,
    scope: Scope,
    case_id: int,
    *,
    on: dt.date | None = None,
    note: str = "",
    version: int | None = None,
) -> CaseView:
    """Record a contact (visit, call) with the person or employer: the date and what was said."""
    day = check_date(on or today(), "联系日期")
    detail = {"on": day, "note": _text(note, "说明")}
    return _step(store, actor, scope, case_id, "contact", version, detail, {})


def check_date(day: dt.date, what: str) -> dt.date:
    if day > today():
        raise UsageError(
            f"{what}（{day}）不能晚于今天", f"{what} {day} is in the future", field="date"
        )
    return day


def check_outcome(
    kind: str,
    outcome: str,
    on: dt.date | None,
    reason: str,
    expires_on: dt.date | None,
) -> str:
    """The outcome's code for ``kind`` with what it needs (see :mod:`canbao.cases.outcomes`);
    a UsageError whose ``details['field']`` names the missing or wrong field otherwise
    (``outcome``, ``date``, ``reason``, ``expiry``)."""
    try:
        code = outcomes.code_of(kind, outcome)
    except UsageError as e:
        raise UsageError(e.message_zh, e.message_en, field="outcome") from e
    o = outcomes.OUTCOMES[code]
    if o.date and on is None:
        raise UsageError(f"“{o.label}”须填写日期", f"{code}: a date is required", field="date")
    if on is not None:
        check_date(on, "结果日期")
    if o.reason and not reason.strip():
        raise UsageError(f"“{o.label}”须写明{o.reason}", f"{code}: {o.reason} required",
                         field="reason")  # fmt: skip
    if o.expiry and expires_on is None:
        raise UsageError(
            f"“{o.label}”须填写有效期至（如预计毕业日期）",
            f"{code}: an expiry is required",
            field="expiry",
        )
    if expires_on is not None and on is not None and expires_on < on:
        raise UsageError(f"有效期至（{expires_on}）不能早于结果日期（{on}）",
                         "expiry before the outcome's date", field="expiry")  # fmt: skip
    return code


def outcome_changes(
    actor: Actor,
    code: str,
    on: dt.date | None,
    reason: str,
    note: str,
    evidence: str,
    expires_on: dt.date | None,
) -> dict[str, Any]:
    return {
        "outcome": code, "outcome_date": on, "outcome_reason": _text(reason, "情况说明"),
        "outcome_note": _text(note, "备注"), "evidence": _text(evidence, "证明材料"),
        "expires_on": expires_on, "resolved_by": actor.name, "resolved_at": utcnow(),
    }  # fmt: skip


def resolve(
    store: Store,
    actor: Actor,
    scope: Scope,
    case_id: int,
    outcome: str,
    *,
    on: dt.date | None = None,
    reason: str = "",
    note: str = "",
    evidence: str = "",
    expires_on: dt.date | None = None,
    version: int | None = None,
    data_dir: Path | None = None,
) -> CaseView:
    """Record the outcome (its code or Chinese label; :data:`canbao.cases.outcomes.OUTCOMES`)
    with what it needs: the date it happened (``on``), the words it stands on (``reason``),
    the day it stops holding (``expires_on``). ``data_dir``: the data directory, which a review
    pair's 同一人 / 不同人 needs (the decision goes to the registry in the same transaction:
    :mod:`canbao.cases.effects`)."""
    roles.require(actor.role, "case.work", actor.name)
    effects.prepare(store, data_dir)
    with store.transaction() as s:
        case = load(s, case_id, scope, lock=True)
        code = check_outcome(case.kind, outcome, on, reason, expires_on)
        changes = outcome_changes(actor, code, on, reason, note, evidence, expires_on)
        detail = {k: changes[k] for k in ("outcome", "outcome_date", "outcome_reason",
                                          "expires_on")}  # fmt: skip
        check_version(case.version, version)  # before the effect: a stale read changes nothing
        if "resolve" not in TRANSITIONS.get(case.state, {}):
            raise refuse(case, "resolve")
        note_text = changes["outcome_reason"] or changes["outcome_note"]
        detail.update(effects.apply(s, actor, case, code, note_text, data_dir))
        apply_step(s, actor, case, "resolve", version, detail, changes)
    return view(store, scope, case_id)


def escalate(
    store: Store, actor: Actor, scope: Scope, case_id: int, *, reason: str,
    version: int | None = None,
) -> CaseView:  # fmt: skip
    """Hand the case up (the city bureau, labour inspection): why, in words."""
    why = _text(reason, "上报原因")
    if not why:
        raise UsageError("上报须写明原因（--reason）", "escalate: a reason is required")
    return _step(store, actor, scope, case_id, "escalate", version, {"reason": why}, {})


def reopen(
    store: Store, actor: Actor, scope: Scope, case_id: int, *, reason: str,
    version: int | None = None,
) -> CaseView:  # fmt: skip
    """Open a closed case again (the outcome turned out wrong, the data closed it too early)."""
    why = _text(reason, "重新打开原因")
    if not why:
        raise UsageError("重新打开须写明原因（--reason）", "reopen: a reason is required")
    return _step(store, actor, scope, case_id, "reopen", version, {"reason": why}, {})
