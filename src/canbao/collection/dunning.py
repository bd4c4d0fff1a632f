"""Dunning (催缴) to enforcement: one case per employer and scheme(s), with explicit states and
dated steps, kept in the store (:class:`canbao.store.models.DunningCase`, ``DunningStep``).

The legal path (社会保险法 art. 63, 86; 行政强制法 art. 53–54)::

    催缴通知 (notice) → 责令限期缴纳决定 (order, with a deadline)
        → 已缴清 (paid) | 分期/缓缴协议 (agreement) | 移送劳动监察 (referral) | 申请强制执行 (enforcement)

The moves allowed from each state are :data:`TRANSITIONS` — the one table; anything else is
refused with a Chinese message naming the current state and the steps allowed next. On top of
the table: an order needs a deadline after its date; a referral or an application for
enforcement needs an order whose deadline has passed and at least :data:`MIN_VISITS` recorded
visits (上门催缴: "refuses after repeated visits"). Steps are dated (``taken_on``, never in the
future, never before the previous step), say who recorded them and why (``note``), and name
their document's file name (notice, order, referral and enforcement produce a .docx:
:func:`document`). The ``agreement`` and ``resume`` steps are written by
:mod:`canbao.collection.agreements` when an agreement is approved, breached or cancelled.

Every change checks the role (``dunning.write``) and the county scope, names the version it was
based on (乐观锁: a stale ``version`` is a :class:`~canbao.errors.ConflictError`) and writes an
audit-log entry in the same transaction. Every read takes a :class:`~canbao.warehouse.scope.Scope`
and needs ``ledger.read``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import ColumnElement, select, true
from sqlalchemy.orm import InstrumentedAttribute, Session

from canbao.collection import documents
from canbao.errors import ConflictError, NotFoundError, StateError, UsageError
from canbao.ingest.kinds import EMPLOYER_SCHEMES, SCHEME_LABELS_ZH
from canbao.profile import Profile
from canbao.store import Actor, Store, roles
from canbao.store.audit_log import Event, append
from canbao.store.models import DunningCase, DunningStep, utcnow
from canbao.warehouse.scope import Scope

# --- the states and the one transition table ---------------------------------------------

NEW = ""  # before the first step
STATE_LABELS: dict[str, str] = {
    "notice": "已发催缴通知",
    "order": "已责令限期缴纳",
    "agreement": "协议履行中",
    "referred": "已移送劳动监察",
    "enforcement": "已申请强制执行",
    "paid": "已缴清",
    "withdrawn": "已撤销",
}
STEP_LABELS: dict[str, str] = {
    "notice": "催缴通知",
    "visit": "上门催缴",
    "order": "责令限期缴纳决定",
    "agreement": "达成缓缴/分期缴纳协议",
    "resume": "协议终止，恢复催缴",
    "referral": "移送劳动保障监察",
    "enforcement": "申请人民法院强制执行",
    "paid": "登记已缴清",
    "withdraw": "撤销催缴",
}
PREVIOUS = "<previous>"  # resume: back to the state the case had before the agreement
TRANSITIONS: dict[str, dict[str, str]] = {
    NEW: {"notice": "notice"},
    "notice": {
        "visit": "notice", "order": "order", "agreement": "agreement", "paid": "paid",
        "withdraw": "withdrawn",
    },
    "order": {
        "visit": "order", "agreement": "agreement", "referral": "referred",
        "enforcement": "enforcement", "paid": "paid", "withdraw": "withdrawn",
    },
    "agreement": {"resume": PREVIOUS, "paid": "paid", "withdraw": "withdrawn"},
    "referred": {
        "visit": "referred", "agreement": "agreement", "enforcement": "enforcement",
        "paid": "paid", "withdraw": "withdrawn",
    },
    "enforcement": {
        "visit": "enforcement", "agreement": "agreement", "paid": "paid",
        "withdraw": "withdrawn",
    },
    "paid": {},
    "withdrawn": {},
}  # fmt: skip
FINAL = frozenset(s for s, moves in TRANSITIONS.items() if s and not moves)
SYSTEM_STEPS = frozenset({"agreement", "resume"})  # written by canbao.collection.agreements
ESCALATIONS = frozenset({"referral", "enforcement"})
MIN_VISITS = 2  # "after repeated visits": at least two recorded visits before escalating
NOTE_REQUIRED = frozenset({"visit", "withdraw"})
DEADLINE_ALLOWED = frozenset({"notice", "order"})
DOCUMENTS: dict[str, str] = {
    "notice": "dunning_notice",
    "order": "dunning_order",
    "referral": "dunning_referral",
    "enforcement": "dunning_enforcement",
}


def next_steps(state: str, *, system: bool = False) -> list[str]:
    """The steps allowed from ``state`` (without the system's own unless ``system``)."""
    return [k for k in TRANSITIONS.get(state, {}) if system or k not in SYSTEM_STEPS]


# --- values handed out ----------------------------------------------------------------------


@dataclass(frozen=True)
class Employer:
    """The employer a case or an agreement is about (from the registry, or typed in)."""

    employer_key: str
    name: str
    credit_code: str = ""
    county_code: str | None = None


@dataclass(frozen=True)
class StepView:
    seq: int
    kind: str
    from_state: str
    to_state: str
    taken_on: dt.date
    deadline: dt.date | None
    amount_fen: int
    late_fee_fen: int | None
    note: str
    doc_no: str
    document: str
    agreement_id: int | None
    recorded_by: str
    recorded_at: dt.datetime


@dataclass(frozen=True)
class CaseView:
    id: int
    employer_key: str
    credit_code: str
    employer_name: str
    county_code: str | None
    schemes: tuple[str, ...]
    periods: tuple[str, ...]
    amount_fen: int
    state: str
    last_step_on: dt.date | None
    opened_by: str
    opened_at: dt.datetime
    closed_at: dt.datetime | None
    version: int
    steps: tuple[StepView, ...]

    @property
    def state_label(self) -> str:
        return STATE_LABELS[self.state]

    @property
    def next_steps(self) -> list[str]:
        return next_steps(self.state)

    @property
    def order(self) -> StepView | None:
        """The latest order (责令限期缴纳决定) of the case."""
        return next((s for s in reversed(self.steps) if s.kind == "order"), None)

    @property
    def visits(self) -> int:
        return sum(1 for s in self.steps if s.kind == "visit")


def _step_view(s: DunningStep) -> StepView:
    return StepView(
        s.seq, s.kind, s.from_state, s.to_state, s.taken_on, s.deadline, s.amount_fen,
        s.late_fee_fen, s.note, s.doc_no, s.document, s.agreement_id, s.recorded_by,
        s.recorded_at,
    )  # fmt: skip


def _view(case: DunningCase, steps: Sequence[DunningStep]) -> CaseView:
    return CaseView(
        case.id, case.employer_key, case.credit_code, case.employer_name, case.county_code,
        tuple(case.schemes), tuple(case.periods), case.amount_fen, case.state, case.last_step_on,
        case.opened_by, case.opened_at, case.closed_at, case.version,
        tuple(_step_view(s) for s in sorted(steps, key=lambda x: x.seq)),
    )  # fmt: skip


# --- checks shared with the agreements ------------------------------------------------------

_PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def check_schemes(schemes: Iterable[str]) -> list[str]:
    given = set(schemes)
    bad = sorted(given - set(EMPLOYER_SCHEMES))
    out = [s for s in EMPLOYER_SCHEMES if s in given]  # in the schemes' usual order
    if not out or bad:
        allowed = "、".join(f"{s}（{SCHEME_LABELS_ZH[s]}）" for s in EMPLOYER_SCHEMES)
        what = f"未知的险种：{'、'.join(bad)}" if bad else "须指定至少一个险种"
        raise UsageError(f"{what}。单位缴费的险种：{allowed}", f"bad schemes {bad}")
    return out


def check_periods(periods: Iterable[str]) -> list[str]:
    out = sorted(set(periods))
    bad = [p for p in out if not _PERIOD.match(p)]
    if bad:
        raise UsageError(
            f"所属期应写作 YYYY-MM（如 2017-03），而不是：{'、'.join(bad[:5])}",
            f"bad periods {bad[:5]}",
        )
    return out


NOTE_MAX = 2000  # characters of a note, a reason or a guarantee
DOC_NO_MAX = 64  # of a document number (the store's column)


def check_text(value: str, what: str, limit: int = NOTE_MAX) -> str:
    """``value`` stripped; longer than ``limit`` characters is refused, naming the field."""
    out = (value or "").strip()
    if len(out) > limit:
        raise UsageError(f"{what}过长（最多 {limit} 字，现为 {len(out)} 字）", f"{what}: too long")
    return out


def check_amount(fen: int, what: str = "金额") -> int:
    if isinstance(fen, bool) or not isinstance(fen, int) or fen <= 0:
        raise UsageError(f"{what}须为大于零的金额（分）", f"{what}: not a positive amount: {fen!r}")
    return fen


def check_employer(employer: Employer) -> None:
    if not employer.employer_key.strip() or not employer.name.strip():
        raise UsageError("须给出单位标识和单位名称", "employer key and name are required")


def today() -> dt.date:
    return dt.date.today()


def check_date(on: dt.date | None, what: str = "日期") -> dt.date:
    day = on or today()
    if day > today():
        raise UsageError(f"{what}（{day}）不能晚于今天", f"{what} {day} is in the future")
    return day


def check_version(current: int, expected: int | None, what: str) -> None:
    """乐观锁 on a value the caller read: ``expected`` is the version they based the change on."""
    if expected is not None and expected != current:
        raise ConflictError(
            f"该{what}已被他人修改（当前版本 {current}，您读取的是版本 {expected}），"
            "本次修改未保存；请重新读取后再改",
            f"stale version: {expected}, current {current}",
        )


def can_read(scope: Scope) -> None:
    roles.require(scope.role, "ledger.read", scope.actor)


def in_scope(column: InstrumentedAttribute[str | None], scope: Scope) -> ColumnElement[bool]:
    """The SQL condition of ``scope`` on an area-code column (a row without one: city-wide)."""
    if scope.counties is None:
        return true()
    return column.in_(sorted(scope.counties))


# --- reads ----------------------------------------------------------------------------------


def _load(session: Session, case_id: int, scope: Scope, *, lock: bool = False) -> DunningCase:
    q = select(DunningCase).where(DunningCase.id == case_id)
    case = session.execute(q.with_for_update() if lock else q).scalar_one_or_none()
    if case is None:
        raise NotFoundError(f"没有催缴案件 #{case_id}", f"no dunning case {case_id}")
    scope.require_county(case.county_code)
    return case


def _steps(session: Session, case_id: int) -> list[DunningStep]:
    q = select(DunningStep).where(DunningStep.case_id == case_id).order_by(DunningStep.seq)
    return list(session.execute(q).scalars().all())


def get(store: Store, scope: Scope, case_id: int) -> CaseView:
    """One case with its steps (a county reader: only a case of their counties)."""
    can_read(scope)
    with store.sessions() as s:
        case = _load(s, case_id, scope)
        return _view(case, _steps(s, case.id))


def cases(
    store: Store,
    scope: Scope,
    *,
    employer_key: str | None = None,
    state: str | None = None,
    open_only: bool = False,
) -> list[CaseView]:
    """The cases in ``scope``, oldest first."""
    can_read(scope)
    if state is not None and state not in STATE_LABELS:
        raise UsageError(
            f"未知的催缴状态“{state}”（可用：{'、'.join(STATE_LABELS)}）", f"bad state {state!r}"
        )
    q = select(DunningCase).where(in_scope(DunningCase.county_code, scope)).order_by(DunningCase.id)
    if employer_key is not None:
        q = q.where(DunningCase.employer_key == employer_key)
    if state is not None:
        q = q.where(DunningCase.state == state)
    if open_only:
        q = q.where(DunningCase.state.not_in(sorted(FINAL)))
    with store.sessions() as s:
        rows = list(s.execute(q).scalars().all())
        by_case: dict[int, list[DunningStep]] = {c.id: [] for c in rows}
        if rows:
            for st in s.execute(
                select(DunningStep).where(DunningStep.case_id.in_(list(by_case)))
            ).scalars():
                by_case[st.case_id].append(st)
        return [_view(c, by_case[c.id]) for c in rows]


def open_cases(session: Session, employer_key: str, schemes: Iterable[str]) -> list[DunningCase]:
    """The employer's cases not yet closed that share a scheme with ``schemes``."""
    want = set(schemes)
    q = select(DunningCase).where(
        DunningCase.employer_key == employer_key, DunningCase.state.not_in(sorted(FINAL))
    )
    return [c for c in session.execute(q).scalars() if want & set(c.schemes)]


# --- changes --------------------------------------------------------------------------------


def _refuse(state: str, kind: str) -> StateError:
    allowed = next_steps(state)
    shown = "、".join(f"{STEP_LABELS[k]}（{k}）" for k in allowed) or "无（案件已结束）"
    label = STATE_LABELS.get(state, "新案件") if state else "新案件"
    step_label = STEP_LABELS.get(kind, kind)
    return StateError(
        f"当前状态为“{label}”，不能进行“{step_label}”；可以进行的下一步：{shown}",
        f"illegal dunning step {kind!r} from state {state!r}; allowed: {allowed}",
    )


def _target(state: str, kind: str, steps: Sequence[DunningStep]) -> str:
    if kind not in STEP_LABELS or kind not in TRANSITIONS.get(state, {}):
        raise _refuse(state, kind)
    to = TRANSITIONS[state][kind]
    if to == PREVIOUS:
        entered = next((s for s in reversed(steps) if s.kind == "agreement"), None)
        to = entered.from_state if entered is not None else "notice"
    return to


def _guard(
    kind: str,
    on: dt.date,
    deadline: dt.date | None,
    note: str,
    steps: Sequence[DunningStep],
) -> None:
    """The rules beyond the table (see the module docstring)."""
    if steps and on < steps[-1].taken_on:
        raise UsageError(
            f"步骤日期（{on}）不能早于上一步骤“{STEP_LABELS[steps[-1].kind]}”的日期"
            f"（{steps[-1].taken_on}）",
            "step dated before the previous step",
        )
    if kind in NOTE_REQUIRED and not note.strip():
        raise UsageError(
            f"“{STEP_LABELS[kind]}”须写明情况说明（--note）", f"{kind}: a note is required"
        )
    if deadline is not None and kind not in DEADLINE_ALLOWED:
        raise UsageError(
            f"只有催缴通知和责令限期缴纳决定有缴纳期限，“{STEP_LABELS[kind]}”没有",
            f"{kind}: no deadline",
        )
    if kind == "order" and deadline is None:
        raise UsageError(
            "责令限期缴纳决定须给出缴纳期限（--deadline YYYY-MM-DD；社会保险法第六十三条、"
            "第八十六条）",
            "an order needs a deadline",
        )
    if deadline is not None and deadline <= on:
        raise UsageError(
            f"缴纳期限（{deadline}）须晚于文书日期（{on}）", "deadline not after the step's date"
        )
    if kind in ESCALATIONS:
        order = next((s for s in reversed(steps) if s.kind == "order"), None)
        if order is None or order.deadline is None:
            raise StateError(
                f"“{STEP_LABELS[kind]}”须在作出责令限期缴纳决定之后",
                f"{kind} needs an order first",
            )
        if on <= order.deadline:
            raise StateError(
                f"责令限期缴纳决定的期限（{order.deadline}）尚未届满，不能“{STEP_LABELS[kind]}”；"
                f"期限届满后（{order.deadline + dt.timedelta(days=1)} 起）再办理",
                f"{kind}: the order's deadline {order.deadline} has not passed on {on}",
            )
        visits = sum(1 for s in steps if s.kind == "visit")
        if visits < MIN_VISITS:
            raise StateError(
                f"“{STEP_LABELS[kind]}”前须至少上门催缴 {MIN_VISITS} 次（本案已记录 {visits} 次）",
                f"{kind} needs {MIN_VISITS} visits, {visits} recorded",
            )


def _document_name(case: DunningCase, kind: str, seq: int) -> str:
    name = DOCUMENTS.get(kind)
    if name is None:
        return ""
    who = case.credit_code or case.employer_key
    return documents.safe_file_name(f"{documents.TEMPLATES[name]}-{who}-{case.id}-{seq}") + ".docx"


def record_in(
    session: Session,
    actor: Actor,
    case: DunningCase,
    kind: str,
    on: dt.date,
    *,
    deadline: dt.date | None = None,
    note: str = "",
    amount_fen: int | None = None,
    late_fee_fen: int | None = None,
    doc_no: str = "",
    document: str = "",
    agreement_id: int | None = None,
) -> DunningStep:
    """Record a step on ``case`` in the caller's transaction (the table, the guards, the state,
    the audit entry). The caller has checked the role, the scope and the version."""
    note, doc_no = check_text(note, "情况说明"), check_text(doc_no, "文号", DOC_NO_MAX)
    steps = _steps(session, case.id) if case.id is not None else []
    to = _target(case.state, kind, steps)
    _guard(kind, on, deadline, note, steps)
    if late_fee_fen is not None and late_fee_fen < 0:
        raise UsageError("滞纳金不能为负数", "negative late fee")
    seq = len(steps) + 1
    if seq != case.step_count + 1:
        raise ConflictError(
            "该催缴案件的步骤已被他人修改，本次登记未保存；请重新读取后再登记",
            f"case {case.id}: {case.step_count} steps counted, {len(steps)} found",
        )
    row = DunningStep(
        case_id=case.id, seq=seq, kind=kind, from_state=case.state, to_state=to, taken_on=on,
        deadline=deadline, amount_fen=amount_fen if amount_fen is not None else case.amount_fen,
        late_fee_fen=late_fee_fen, note=note, doc_no=doc_no,
        document=document or _document_name(case, kind, seq), agreement_id=agreement_id,
        recorded_by=actor.name,
    )  # fmt: skip
    session.add(row)
    before = case.state
    case.state = to
    case.step_count, case.last_step_on = seq, on  # a step always changes the case: new version
    if to in FINAL:
        case.closed_at = utcnow()
    session.flush()
    append(
        session,
        [actor.event("dunning.step", "dunning_case", [str(case.id), case.employer_key],
                     step=kind, seq=seq, from_state=before, to_state=to, on=on.isoformat())],
    )  # fmt: skip
    return row


def start(
    store: Store,
    actor: Actor,
    scope: Scope,
    employer: Employer,
    schemes: Sequence[str],
    amount_fen: int,
    *,
    periods: Sequence[str] = (),
    on: dt.date | None = None,
    deadline: dt.date | None = None,
    note: str = "",
    late_fee_fen: int | None = None,
    doc_no: str = "",
    document: str = "",
) -> CaseView:
    """Open a case with its first step, the notice (催缴通知). One open case per employer and
    scheme: a second one is refused, naming the open case."""
    roles.require(actor.role, "dunning.write", actor.name)
    check_employer(employer)
    scope.require_county(employer.county_code)
    codes = check_schemes(schemes)
    months = check_periods(periods)
    check_amount(amount_fen, "欠费金额")
    day = check_date(on, "催缴通知日期")
    with store.transaction() as s:
        clash = open_cases(s, employer.employer_key, codes)
        if clash:
            c = clash[0]
            raise ConflictError(
                f"单位“{employer.name}”已有未结的催缴案件 #{c.id}（{documents.schemes_text(c.schemes)}，"
                f"{STATE_LABELS[c.state]}），请在该案件上继续登记",
                f"open dunning case {c.id} for {employer.employer_key}",
            )
        case = DunningCase(
            employer_key=employer.employer_key, credit_code=employer.credit_code,
            employer_name=employer.name, county_code=employer.county_code, schemes=codes,
            periods=months, amount_fen=amount_fen, state=NEW, opened_by=actor.name,
        )  # fmt: skip
        s.add(case)
        s.flush()
        append(s, [actor.event("dunning.start", "dunning_case", [str(case.id), case.employer_key],
                               schemes=codes, amount_fen=amount_fen)])  # fmt: skip
        record_in(
            s, actor, case, "notice", day, deadline=deadline, note=note,
            late_fee_fen=late_fee_fen, doc_no=doc_no, document=document,
        )  # fmt: skip
        case_id = case.id
    return get(store, scope, case_id)


def step(
    store: Store,
    actor: Actor,
    scope: Scope,
    case_id: int,
    kind: str,
    *,
    on: dt.date | None = None,
    deadline: dt.date | None = None,
    note: str = "",
    amount_fen: int | None = None,
    late_fee_fen: int | None = None,
    doc_no: str = "",
    document: str = "",
    version: int | None = None,
) -> CaseView:
    """Record the next step of a case (``kind``: a key of :data:`STEP_LABELS`; ``version``:
    the case's version the caller read)."""
    roles.require(actor.role, "dunning.write", actor.name)
    if kind in SYSTEM_STEPS:
        raise UsageError(
            f"“{STEP_LABELS[kind]}”由协议的批准、违约或撤销自动记录（canbao agreements …），"
            "不能手工登记",
            f"{kind} is recorded by the agreements",
        )
    if amount_fen is not None:
        check_amount(amount_fen)
    day = check_date(on, "步骤日期")
    with store.transaction() as s:
        case = _load(s, case_id, scope, lock=True)
        check_version(case.version, version, "催缴案件")
        record_in(
            s, actor, case, kind, day, deadline=deadline, note=note, amount_fen=amount_fen,
            late_fee_fen=late_fee_fen, doc_no=doc_no, document=document,
        )  # fmt: skip
    return get(store, scope, case_id)


# --- documents ------------------------------------------------------------------------------


def document(
    store: Store,
    scope: Scope,
    profile: Profile,
    case_id: int,
    out_dir: Path,
    *,
    seq: int | None = None,
    data_dir: Path | None = None,
) -> Path:
    """Write the .docx of a step (``seq``; default: the latest step that has a document) to
    ``out_dir`` under the step's document file name, from the bureau's template if it has one
    (``DATA/templates``). The export is an audit-log entry."""
    case = get(store, scope, case_id)
    with_docs = [s for s in case.steps if s.kind in DOCUMENTS]
    if seq is None:
        if not with_docs:
            raise NotFoundError(f"催缴案件 #{case_id} 没有需要制作文书的步骤", "no document step")
        st = with_docs[-1]
    else:
        found = next((s for s in case.steps if s.seq == seq), None)
        if found is None:
            raise NotFoundError(f"催缴案件 #{case_id} 没有第 {seq} 步", f"no step {seq}")
        if found.kind not in DOCUMENTS:
            raise UsageError(
                f"“{STEP_LABELS[found.kind]}”没有文书（有文书的步骤："
                f"{'、'.join(STEP_LABELS[k] for k in DOCUMENTS)}）",
                f"step {seq} ({found.kind}) has no document",
            )
        st = found
    name = DOCUMENTS[st.kind]
    before = [s for s in case.steps if s.seq <= st.seq]
    notice = next((s for s in before if s.kind == "notice"), None)
    order = next((s for s in reversed(before) if s.kind == "order"), None)
    ctx = documents.base_context(
        name, profile, employer_name=case.employer_name, credit_code=case.credit_code,
        schemes=case.schemes, periods=case.periods, amount_fen=st.amount_fen,
        late_fee_fen=st.late_fee_fen, date=st.taken_on,
        deadline=st.deadline if st.kind in DEADLINE_ALLOWED else (order.deadline if order else None),
        doc_no=st.doc_no, note=st.note,
    )  # fmt: skip
    ctx.update(
        case_no=str(case.id),
        notice_date=documents.date_zh(notice.taken_on) if notice and notice is not st else "",
        order_date=documents.date_zh(order.taken_on) if order else "",
        visits=sum(1 for s in before if s.kind == "visit"),
    )
    out = documents.render(name, ctx, Path(out_dir) / st.document, data_dir)
    append_export(store, scope, "dunning_document", st.document)
    return out


def append_export(store: Store, scope: Scope, what: str, target: str) -> None:
    """An ``export`` audit entry for a document taken away (employer data, nothing personal)."""
    with store.transaction() as s:
        append(s, [Event(scope.actor, scope.role, "export", what, (target,), (), scope.client,
                         {"rows": 1})])  # fmt: skip


__all__ = [
    "DOCUMENTS",
    "FINAL",
    "MIN_VISITS",
    "STATE_LABELS",
    "STEP_LABELS",
    "TRANSITIONS",
    "CaseView",
    "Employer",
    "StepView",
    "cases",
    "document",
    "get",
    "next_steps",
    "start",
    "step",
]
