"""Deferral (缓缴) and instalment (分期缴纳) agreements: proposed with a schedule and a guarantee
(社会保险法 art. 63: 提供担保，签订延期缴费协议), approved, then checked against the payments
received; a missed instalment breaches the agreement and dunning resumes. State in the store
(:class:`canbao.store.models.Agreement`, ``Instalment``).

**Statuses** (:data:`TRANSITIONS`, the one table): ``proposed`` → ``approved`` (``agreements.approve``,
city staff; the approver is not the proposer) → ``breached`` | ``completed``; ``proposed`` or
``approved`` → ``cancelled``. Anything else is refused with a Chinese message naming the status
and what may be done next.

**Schedule.** An instalment agreement splits the principal into N monthly instalments
(:func:`instalment_schedule`: fen exact, the remainder on the last) or takes a schedule given
as data; a deferral has one instalment, the whole principal on its end date.

**Checking the payments** (:func:`check`, :func:`check_all`): the ledger passes the payments
received for the agreement (date, fen). Payments count in date order against the instalments
in order. Instalment *k* is missed when, ``grace_days`` after its due date, the payments so far
do not cover instalments 1…*k*; the agreement is then breached on the next day and its dunning
case (if any) resumes at the state it had before the agreement. When the payments cover the
principal first, the agreement is completed and its case closed as paid.

**Late fees.** :func:`deferral_periods` / :func:`deferrals`: the days an approved deferral
covers (start to end; a breached or cancelled one up to the day before it ended), on which the
ledger charges no late fee. Instalment agreements do not stop the late fee.

Every change checks the role and the county scope, names the version it was based on
(乐观锁, :class:`~canbao.errors.ConflictError`) and writes an audit-log entry in the same
transaction; every read takes a :class:`~canbao.warehouse.scope.Scope` and needs ``ledger.read``.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from canbao.collection import documents, dunning
from canbao.collection.dunning import (
    Employer,
    check_amount,
    check_date,
    check_employer,
    check_periods,
    check_schemes,
    check_text,
    check_version,
    in_scope,
)
from canbao.errors import ConflictError, NotFoundError, PermissionDenied, StateError, UsageError
from canbao.profile import Profile
from canbao.store import Actor, Store, roles
from canbao.store.audit_log import append
from canbao.store.models import Agreement, DunningCase, Instalment, utcnow
from canbao.warehouse.scope import Scope

KINDS: dict[str, str] = {"deferral": "缓缴", "instalment": "分期缴纳"}
TITLES: dict[str, str] = {"deferral": "社会保险费缓缴协议", "instalment": "社会保险费分期缴纳协议"}
STATUS_LABELS: dict[str, str] = {
    "proposed": "待批准",
    "approved": "履行中",
    "breached": "已违约终止",
    "completed": "已履行完毕",
    "cancelled": "已撤销",
}
ACTION_LABELS: dict[str, str] = {
    "approve": "批准",
    "cancel": "撤销",
    "breach": "认定违约",
    "complete": "认定履行完毕",
}
TRANSITIONS: dict[str, dict[str, str]] = {
    "proposed": {"approve": "approved", "cancel": "cancelled"},
    "approved": {"breach": "breached", "complete": "completed", "cancel": "cancelled"},
    "breached": {},
    "completed": {},
    "cancelled": {},
}
ACTIVE = frozenset({"proposed", "approved"})

Payments = Iterable[tuple[dt.date, int]]


# --- the schedule ---------------------------------------------------------------------------


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` later, or the month's last day when it has no such day
    (31 Jan + 1 → 28/29 Feb; + 2 → 31 Mar)."""
    m = day.month - 1 + months
    year, month = day.year + m // 12, m % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def instalment_schedule(
    principal_fen: int, count: int, first_due: dt.date
) -> list[tuple[dt.date, int]]:
    """``principal_fen`` in ``count`` monthly instalments from ``first_due``: each
    ``principal // count`` fen, the remainder on the last; the amounts sum to the principal
    exactly."""
    check_amount(principal_fen, "协议金额")
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise UsageError("分期期数须为正整数", f"bad instalment count {count!r}")
    each, rest = divmod(principal_fen, count)
    if each == 0:
        raise UsageError(
            f"协议金额 {documents.yuan(principal_fen)} 元不够分成 {count} 期（每期至少 0.01 元）",
            "principal smaller than the count in fen",
        )
    return [
        (add_months(first_due, k), each + (rest if k == count - 1 else 0)) for k in range(count)
    ]


def _check_schedule(schedule: Sequence[tuple[dt.date, int]], principal_fen: int) -> None:
    if not schedule:
        raise UsageError("分期计划不能为空", "empty schedule")
    for _day, amount in schedule:
        check_amount(amount, "每期金额")
    days = [d for d, _ in schedule]
    if any(b <= a for a, b in zip(days, days[1:], strict=False)):
        raise UsageError("分期计划的缴纳期限须逐期递增", "schedule dates not increasing")
    total = sum(a for _, a in schedule)
    if total != principal_fen:
        raise UsageError(
            f"分期计划合计 {documents.yuan(total)} 元，与协议金额 {documents.yuan(principal_fen)} "
            "元不符",
            f"schedule sums to {total}, principal {principal_fen}",
        )


# --- values handed out ----------------------------------------------------------------------


@dataclass(frozen=True)
class InstalmentView:
    seq: int
    due_date: dt.date
    amount_fen: int
    paid_fen: int
    paid_on: dt.date | None


@dataclass(frozen=True)
class AgreementView:
    id: int
    employer_key: str
    credit_code: str
    employer_name: str
    county_code: str | None
    schemes: tuple[str, ...]
    periods: tuple[str, ...]
    kind: str
    principal_fen: int
    start_date: dt.date | None
    end_date: dt.date | None
    grace_days: int
    guarantee_note: str
    reason: str
    status: str
    case_id: int | None
    created_by: str
    created_at: dt.datetime
    approved_by: str | None
    approved_at: dt.datetime | None
    approved_on: dt.date | None
    closed_by: str | None
    closed_on: dt.date | None
    close_reason: str
    checked_on: dt.date | None
    version: int
    instalments: tuple[InstalmentView, ...]

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]

    @property
    def paid_fen(self) -> int:
        return sum(i.paid_fen for i in self.instalments)


@dataclass(frozen=True)
class DeferralPeriod:
    """The days (``start``…``end``, both included) an approved deferral covers for one scheme
    of one employer (``periods``: the contribution periods it defers; empty: all)."""

    agreement_id: int
    employer_key: str
    county_code: str | None
    scheme: str
    periods: tuple[str, ...]
    start: dt.date
    end: dt.date


@dataclass(frozen=True)
class CheckResult:
    agreement_id: int
    status: str  # after the check
    as_of: dt.date
    paid_fen: int  # payments counted (dated on or before as_of)
    due_fen: int  # instalments due on or before as_of
    missed: tuple[int, ...]  # instalments past due + grace and not covered
    breached_on: dt.date | None
    completed_on: dt.date | None
    case_id: int | None  # the dunning case that resumed or was closed
    changed: bool


def _view(a: Agreement, rows: Sequence[Instalment]) -> AgreementView:
    inst = tuple(
        InstalmentView(i.seq, i.due_date, i.amount_fen, i.paid_fen, i.paid_on)
        for i in sorted(rows, key=lambda r: r.seq)
    )
    return AgreementView(
        a.id, a.employer_key, a.credit_code, a.employer_name, a.county_code, tuple(a.schemes),
        tuple(a.periods), a.kind, a.principal_fen, a.start_date, a.end_date, a.grace_days,
        a.guarantee_note, a.reason, a.status, a.case_id, a.created_by, a.created_at,
        a.approved_by, a.approved_at, a.approved_on, a.closed_by, a.closed_on, a.close_reason,
        a.checked_on, a.version, inst,
    )  # fmt: skip


# --- reads ----------------------------------------------------------------------------------


def _load(session: Session, agreement_id: int, scope: Scope, *, lock: bool = False) -> Agreement:
    q = select(Agreement).where(Agreement.id == agreement_id)
    row = session.execute(q.with_for_update() if lock else q).scalar_one_or_none()
    if row is None:
        raise NotFoundError(f"没有协议 #{agreement_id}", f"no agreement {agreement_id}")
    scope.require_county(row.county_code)
    return row


def _instalments(session: Session, agreement_id: int) -> list[Instalment]:
    q = select(Instalment).where(Instalment.agreement_id == agreement_id).order_by(Instalment.seq)
    return list(session.execute(q).scalars().all())


def get(store: Store, scope: Scope, agreement_id: int) -> AgreementView:
    """One agreement with its schedule (a county reader: only one of their counties)."""
    dunning.can_read(scope)
    with store.sessions() as s:
        row = _load(s, agreement_id, scope)
        return _view(row, _instalments(s, row.id))


def agreements(
    store: Store,
    scope: Scope,
    *,
    employer_key: str | None = None,
    status: str | None = None,
    kind: str | None = None,
) -> list[AgreementView]:
    """The agreements in ``scope``, oldest first."""
    dunning.can_read(scope)
    if status is not None and status not in STATUS_LABELS:
        raise UsageError(
            f"未知的协议状态“{status}”（可用：{'、'.join(STATUS_LABELS)}）",
            f"bad status {status!r}",
        )
    q = select(Agreement).where(in_scope(Agreement.county_code, scope)).order_by(Agreement.id)
    if employer_key is not None:
        q = q.where(Agreement.employer_key == employer_key)
    if status is not None:
        q = q.where(Agreement.status == status)
    if kind is not None:
        q = q.where(Agreement.kind == kind)
    with store.sessions() as s:
        rows = list(s.execute(q).scalars().all())
        by_id: dict[int, list[Instalment]] = {a.id: [] for a in rows}
        if rows:
            for i in s.execute(
                select(Instalment).where(Instalment.agreement_id.in_(list(by_id)))
            ).scalars():
                by_id[i.agreement_id].append(i)
        return [_view(a, by_id[a.id]) for a in rows]


def _covered(a: AgreementView) -> tuple[dt.date, dt.date] | None:
    if a.kind != "deferral" or a.approved_on is None or a.start_date is None:
        return None
    end = a.end_date or a.start_date
    if a.status in ("breached", "cancelled") and a.closed_on is not None:
        end = min(end, a.closed_on - dt.timedelta(days=1))
    return (a.start_date, end) if end >= a.start_date else None


def deferrals(store: Store, scope: Scope) -> list[DeferralPeriod]:
    """Every day range an approved deferral covers, one per employer × scheme (for the
    ledger's late fee: no fee on these days)."""
    out = []
    for a in agreements(store, scope, kind="deferral"):
        span = _covered(a)
        if span is None:
            continue
        for scheme in a.schemes:
            out.append(
                DeferralPeriod(a.id, a.employer_key, a.county_code, scheme, a.periods, *span)
            )
    return out


def deferral_periods(
    store: Store, scope: Scope, employer_key: str, scheme: str | None = None
) -> list[tuple[dt.date, dt.date]]:
    """The day ranges (both ends included, merged, in order) on which an approved deferral of
    the employer (for ``scheme``, or any) stops the late fee."""
    spans = sorted(
        (d.start, d.end)
        for d in deferrals(store, scope)
        if d.employer_key == employer_key and (scheme is None or d.scheme == scheme)
    )
    merged: list[tuple[dt.date, dt.date]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1] + dt.timedelta(days=1):
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


# --- changes --------------------------------------------------------------------------------


def _refuse(status: str, action: str) -> StateError:
    allowed = TRANSITIONS.get(status, {})
    shown = "、".join(ACTION_LABELS[k] for k in allowed) or "无（协议已结束）"
    return StateError(
        f"协议当前状态为“{STATUS_LABELS.get(status, status)}”，不能{ACTION_LABELS[action]}；"
        f"可以进行的操作：{shown}",
        f"agreement: {action!r} not allowed from {status!r}",
    )


def _move(row: Agreement, action: str) -> None:
    to = TRANSITIONS.get(row.status, {}).get(action)
    if to is None:
        raise _refuse(row.status, action)
    row.status = to


def _event_keys(row: Agreement) -> list[str]:
    return [str(row.id), row.employer_key]


def _case_for(
    session: Session, scope: Scope, employer: Employer, schemes: Sequence[str], case_id: int | None
) -> DunningCase | None:
    if case_id is not None:
        case = dunning._load(session, case_id, scope)
        if case.employer_key != employer.employer_key:
            raise UsageError(
                f"催缴案件 #{case_id} 不是单位“{employer.name}”的案件",
                "case of another employer",
            )
    else:
        found = [
            c for c in dunning.open_cases(session, employer.employer_key, schemes)
            if "agreement" in dunning.TRANSITIONS[c.state]
        ]  # fmt: skip
        if len(found) != 1:
            return None
        case = found[0]
    if "agreement" not in dunning.TRANSITIONS[case.state]:
        raise dunning._refuse(case.state, "agreement")
    return case


def propose(
    store: Store,
    actor: Actor,
    scope: Scope,
    employer: Employer,
    schemes: Sequence[str],
    kind: str,
    principal_fen: int,
    *,
    guarantee_note: str,
    reason: str = "",
    periods: Sequence[str] = (),
    instalments: int | None = None,
    first_due: dt.date | None = None,
    schedule: Sequence[tuple[dt.date, int]] | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    grace_days: int = 0,
    case_id: int | None = None,
) -> AgreementView:
    """Propose an agreement. ``kind`` ``instalment``: ``instalments`` monthly from
    ``first_due`` (:func:`instalment_schedule`) or an explicit ``schedule`` of (due date, fen);
    ``deferral``: ``start`` and ``end`` (the whole principal due on ``end``). The agreement is
    linked to the dunning case ``case_id``, or to the employer's one open case for these
    schemes; one active agreement per employer and scheme."""
    roles.require(actor.role, "agreements.write", actor.name)
    check_employer(employer)
    scope.require_county(employer.county_code)
    if kind not in KINDS:
        raise UsageError(
            f"协议类型只能是 deferral（缓缴）或 instalment（分期缴纳），而不是“{kind}”",
            f"bad agreement kind {kind!r}",
        )
    codes = check_schemes(schemes)
    months = check_periods(periods)
    check_amount(principal_fen, "协议金额")
    guarantee_note, reason = check_text(guarantee_note, "担保情况"), check_text(reason, "原因")
    if not guarantee_note:
        raise UsageError(
            "须写明担保情况（社会保险法第六十三条：提供担保，签订延期缴费协议）",
            "a guarantee note is required",
        )
    if isinstance(grace_days, bool) or not isinstance(grace_days, int) or grace_days < 0:
        raise UsageError("宽限天数须为非负整数", f"bad grace days {grace_days!r}")
    if kind == "deferral":
        if start is None or end is None:
            raise UsageError("缓缴协议须给出缓缴起止日期（--start、--end）", "deferral dates")
        if end < start:
            raise UsageError(f"缓缴截止日期（{end}）早于起始日期（{start}）", "end before start")
        if schedule is not None or instalments is not None:
            raise UsageError("缓缴协议在截止日一次缴清，不能另给分期计划", "deferral schedule")
        plan = [(end, principal_fen)]
    else:
        if start is not None or end is not None:
            raise UsageError("分期缴纳协议没有缓缴起止日期", "instalment with deferral dates")
        if schedule is not None:
            if instalments is not None or first_due is not None:
                raise UsageError("分期计划与期数/首期日期只能给出其一", "schedule given twice")
            plan = list(schedule)
            _check_schedule(plan, principal_fen)
        else:
            if instalments is None or first_due is None:
                raise UsageError(
                    "分期缴纳协议须给出期数和首期缴纳期限（--instalments、--first-due）",
                    "instalment count and first due date",
                )
            plan = instalment_schedule(principal_fen, instalments, first_due)
        if len(plan) < 2:
            raise UsageError("分期缴纳至少分两期；一次缴清请用缓缴协议", "one instalment")
    with store.transaction() as s:
        clash = [
            a for a in s.execute(
                select(Agreement).where(
                    Agreement.employer_key == employer.employer_key,
                    Agreement.status.in_(sorted(ACTIVE)),
                )
            ).scalars()
            if set(a.schemes) & set(codes)
        ]  # fmt: skip
        if clash:
            a = clash[0]
            raise ConflictError(
                f"单位“{employer.name}”已有{STATUS_LABELS[a.status]}的协议 #{a.id}"
                f"（{documents.schemes_text(a.schemes)}），同一险种不能同时有两份协议",
                f"active agreement {a.id} for {employer.employer_key}",
            )
        case = _case_for(s, scope, employer, codes, case_id)
        row = Agreement(
            employer_key=employer.employer_key, credit_code=employer.credit_code,
            employer_name=employer.name, county_code=employer.county_code, schemes=codes,
            periods=months, kind=kind, principal_fen=principal_fen, start_date=start,
            end_date=end, grace_days=grace_days, guarantee_note=guarantee_note.strip(),
            reason=reason.strip(), status="proposed", case_id=case.id if case else None,
            created_by=actor.name,
        )  # fmt: skip
        s.add(row)
        s.flush()
        for seq, (due, amount) in enumerate(plan, start=1):
            s.add(Instalment(agreement_id=row.id, seq=seq, due_date=due, amount_fen=amount))
        append(s, [actor.event("agreement.propose", "agreement", _event_keys(row), kind=kind,
                               schemes=codes, principal_fen=principal_fen,
                               instalments=len(plan), case_id=row.case_id)])  # fmt: skip
        agreement_id = row.id
    return get(store, scope, agreement_id)


def approve(
    store: Store,
    actor: Actor,
    scope: Scope,
    agreement_id: int,
    *,
    on: dt.date | None = None,
    note: str = "",
    version: int | None = None,
) -> AgreementView:
    """Approve a proposed agreement (in force from ``on``, default today). Its dunning case
    moves to ``agreement``. The approver must not be the proposer (the command line's operator
    excepted: it is the administrator of the server)."""
    roles.require(actor.role, "agreements.approve", actor.name)
    day = check_date(on, "批准日期")
    with store.transaction() as s:
        row = _load(s, agreement_id, scope, lock=True)
        check_version(row.version, version, "协议")
        if row.created_by == actor.name and not actor.name.startswith("system:"):
            raise PermissionDenied(
                f"协议 #{agreement_id} 由“{actor.name}”拟定，须由另一位有批准权限的人员批准",
                "the proposer may not approve",
            )
        _move(row, "approve")
        row.approved_by, row.approved_at, row.approved_on = actor.name, utcnow(), day
        if row.case_id is not None:
            case = dunning._load(s, row.case_id, scope, lock=True)
            dunning.record_in(
                s, actor, case, "agreement", day, agreement_id=row.id,
                note=note or f"协议 #{row.id}（{KINDS[row.kind]}）已批准",
            )  # fmt: skip
        append(s, [actor.event("agreement.approve", "agreement", _event_keys(row),
                               on=day.isoformat(), case_id=row.case_id)])  # fmt: skip
    return get(store, scope, agreement_id)


def _resume(
    s: Session, actor: Actor, scope: Scope, row: Agreement, on: dt.date, why: str
) -> int | None:
    """The agreement ended without being paid: its case (if in ``agreement``) resumes."""
    if row.case_id is None:
        return None
    case = dunning._load(s, row.case_id, scope, lock=True)
    if case.state != "agreement":
        return None
    last = dunning._steps(s, case.id)[-1].taken_on
    dunning.record_in(s, actor, case, "resume", max(on, last), note=why, agreement_id=row.id)
    return case.id


def cancel(
    store: Store,
    actor: Actor,
    scope: Scope,
    agreement_id: int,
    *,
    reason: str,
    on: dt.date | None = None,
    version: int | None = None,
) -> AgreementView:
    """Cancel an agreement (a proposed one: ``agreements.write``; an approved one:
    ``agreements.approve``, and its dunning case resumes)."""
    roles.require(actor.role, "agreements.write", actor.name)
    reason = check_text(reason, "撤销原因")
    if not reason:
        raise UsageError("撤销协议须写明原因（--reason）", "a reason is required")
    day = check_date(on, "撤销日期")
    with store.transaction() as s:
        row = _load(s, agreement_id, scope, lock=True)
        check_version(row.version, version, "协议")
        if row.status == "approved":
            roles.require(actor.role, "agreements.approve", actor.name)
        _move(row, "cancel")
        row.closed_by, row.closed_at, row.closed_on = actor.name, utcnow(), day
        row.close_reason = reason.strip()
        case_id = _resume(s, actor, scope, row, day, f"协议 #{row.id} 已撤销：{reason.strip()}")
        append(s, [actor.event("agreement.cancel", "agreement", _event_keys(row),
                               on=day.isoformat(), case_id=case_id)])  # fmt: skip
    return get(store, scope, agreement_id)


@dataclass(frozen=True)
class _Outcome:
    paid: list[tuple[int, dt.date | None]]  # per instalment: (paid fen, covered on)
    counted: int
    due: int
    missed: tuple[int, ...]
    breached_on: dt.date | None
    breached_seq: int | None
    completed_on: dt.date | None


def evaluate(
    schedule: Sequence[tuple[dt.date, int]], grace_days: int, payments: Payments, as_of: dt.date
) -> _Outcome:
    """The pure rule of :func:`check` (see the module docstring): payments dated after
    ``as_of`` are not counted; amounts on the same day add up."""
    by_day: dict[dt.date, int] = {}
    for day, fen in payments:
        if day <= as_of:
            by_day[day] = by_day.get(day, 0) + int(fen)
    days = sorted(by_day)
    running, cum = 0, []
    for d in days:
        running += by_day[d]
        cum.append((d, running))
    total = running

    def paid_by(day: dt.date) -> int:
        return next((c for d, c in reversed(cum) if d <= day), 0)

    def reached(amount: int) -> dt.date | None:
        return next((d for d, c in cum if c >= amount), None)

    grace = dt.timedelta(days=grace_days)
    paid: list[tuple[int, dt.date | None]] = []
    missed: list[int] = []
    before = 0
    breach: tuple[dt.date, int] | None = None
    due = 0
    for seq, (day, amount) in enumerate(schedule, start=1):
        through = before + amount
        paid.append((max(0, min(amount, total - before)), reached(through)))
        if day <= as_of:
            due += amount
        last_day = day + grace
        if last_day < as_of and paid_by(last_day) < through:
            missed.append(seq)
            if breach is None:
                breach = (last_day + dt.timedelta(days=1), seq)
        before = through
    completed_on = reached(before)
    if breach is not None and completed_on is not None and completed_on < breach[0]:
        breach = None  # paid in full before the first miss took effect
    if breach is not None:
        completed_on = None
    return _Outcome(
        paid, total, due, tuple(missed), breach[0] if breach else None,
        breach[1] if breach else None, completed_on,
    )  # fmt: skip


def _check_in(
    s: Session, actor: Actor, scope: Scope, row: Agreement, payments: Payments, as_of: dt.date
) -> CheckResult:
    if row.status != "approved":
        raise StateError(
            f"协议 #{row.id} 当前状态为“{STATUS_LABELS[row.status]}”，只有履行中（已批准）的协议"
            "可以核对缴款",
            f"agreement {row.id} is {row.status}",
        )
    rows = _instalments(s, row.id)
    out = evaluate([(i.due_date, i.amount_fen) for i in rows], row.grace_days, payments, as_of)
    changed = False
    for inst, (fen, on) in zip(rows, out.paid, strict=True):
        if (inst.paid_fen, inst.paid_on) != (fen, on):
            inst.paid_fen, inst.paid_on = fen, on
            changed = True
    case_id = None
    if out.breached_on is not None:
        inst = rows[(out.breached_seq or 1) - 1]
        why = (
            f"第 {inst.seq} 期（{inst.due_date} 应缴 {documents.yuan(inst.amount_fen)} 元，"
            f"宽限 {row.grace_days} 日）逾期未足额缴纳"
        )
        _move(row, "breach")
        row.closed_by, row.closed_at, row.closed_on = actor.name, utcnow(), out.breached_on
        row.close_reason = why
        case_id = _resume(s, actor, scope, row, out.breached_on, f"协议 #{row.id} 违约：{why}")
        action = "agreement.breach"
    elif out.completed_on is not None:
        _move(row, "complete")
        row.closed_by, row.closed_at, row.closed_on = actor.name, utcnow(), out.completed_on
        row.close_reason = "协议款项已全部缴清"
        if row.case_id is not None:
            case = dunning._load(s, row.case_id, scope, lock=True)
            if case.state == "agreement":
                last = dunning._steps(s, case.id)[-1].taken_on
                dunning.record_in(
                    s, actor, case, "paid", max(out.completed_on, last), agreement_id=row.id,
                    note=f"协议 #{row.id} 履行完毕，欠费已缴清",
                )  # fmt: skip
                case_id = case.id
        action = "agreement.complete"
    else:
        action = "agreement.check"
    status_changed = action != "agreement.check"
    if changed or status_changed:
        row.checked_on = as_of
        append(s, [actor.event(action, "agreement", _event_keys(row), as_of=as_of.isoformat(),
                               paid_fen=out.counted, missed=list(out.missed),
                               case_id=case_id)])  # fmt: skip
    return CheckResult(
        row.id, row.status, as_of, out.counted, out.due, out.missed, out.breached_on,
        out.completed_on, case_id, changed or status_changed,
    )  # fmt: skip


def check(
    store: Store,
    actor: Actor,
    scope: Scope,
    agreement_id: int,
    payments: Payments,
    as_of: dt.date,
    *,
    version: int | None = None,
) -> CheckResult:
    """Check an approved agreement against the payments received for it, as of ``as_of``:
    record what each instalment got; breach it (dunning resumes) or complete it (the case is
    closed as paid). Writes (and logs) only when something changed."""
    roles.require(actor.role, "agreements.write", actor.name)
    check_date(as_of, "核对日期")
    with store.transaction() as s:
        row = _load(s, agreement_id, scope, lock=True)
        check_version(row.version, version, "协议")
        return _check_in(s, actor, scope, row, list(payments), as_of)


def check_all(
    store: Store,
    actor: Actor,
    scope: Scope,
    payments: Mapping[int, Payments],
    as_of: dt.date,
) -> list[CheckResult]:
    """:func:`check` every approved agreement in ``scope`` that ``payments`` (agreement id →
    its payments) names, in one transaction (the ledger's nightly pass). An agreement the
    mapping does not name is left alone."""
    roles.require(actor.role, "agreements.write", actor.name)
    check_date(as_of, "核对日期")
    with store.transaction() as s:
        q = (
            select(Agreement)
            .where(Agreement.status == "approved", in_scope(Agreement.county_code, scope))
            .order_by(Agreement.id)
            .with_for_update()
        )
        rows = [r for r in s.execute(q).scalars().all() if r.id in payments]
        return [_check_in(s, actor, scope, r, list(payments[r.id]), as_of) for r in rows]


# --- the document ---------------------------------------------------------------------------


def file_name(a: AgreementView) -> str:
    who = a.credit_code or a.employer_key
    return documents.safe_file_name(f"{TITLES[a.kind]}-{who}-{a.id}") + ".docx"


def document(
    store: Store,
    scope: Scope,
    profile: Profile,
    agreement_id: int,
    out_dir: Path,
    *,
    data_dir: Path | None = None,
) -> Path:
    """Write the agreement's .docx (template ``agreement``, the bureau's own if it has one) to
    ``out_dir``; the export is an audit-log entry."""
    a = get(store, scope, agreement_id)
    when = a.approved_on or a.created_at.date()
    ctx = documents.base_context(
        "agreement", profile, employer_name=a.employer_name, credit_code=a.credit_code,
        schemes=a.schemes, periods=a.periods, amount_fen=a.principal_fen, late_fee_fen=None,
        date=when, deadline=a.end_date,
    )  # fmt: skip
    ctx.update(
        title=TITLES[a.kind],
        agreement_no=str(a.id),
        kind=a.kind,
        kind_label=KINDS[a.kind],
        start=documents.date_zh(a.start_date),
        end=documents.date_zh(a.end_date),
        count=len(a.instalments),
        instalments=[
            {
                "seq": i.seq,
                "due_date": documents.date_zh(i.due_date),
                "amount": documents.yuan(i.amount_fen),
            }
            for i in a.instalments
        ],  # fmt: skip
        guarantee=a.guarantee_note,
        reason=a.reason,
        grace_days=a.grace_days,
        approved=documents.date_zh(a.approved_on),
        status=a.status_label,
    )
    name = file_name(a)
    out = documents.render("agreement", ctx, Path(out_dir) / name, data_dir)
    dunning.append_export(store, scope, "agreement_document", name)
    return out


__all__ = [
    "KINDS",
    "STATUS_LABELS",
    "TRANSITIONS",
    "AgreementView",
    "CheckResult",
    "DeferralPeriod",
    "Employer",
    "InstalmentView",
    "add_months",
    "agreements",
    "approve",
    "cancel",
    "check",
    "check_all",
    "deferral_periods",
    "deferrals",
    "document",
    "evaluate",
    "get",
    "instalment_schedule",
    "propose",
]
