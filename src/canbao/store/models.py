"""The store's tables (SQLAlchemy 2 typed ORM). The schema itself is created by the Alembic
migrations in :mod:`canbao.store.migrations` (``tests/store/test_schema.py`` checks that the
migrations and these models agree).

Conventions: times are naive UTC (:func:`utcnow`); a mutable row carries ``version`` (SQLAlchemy's
``version_id_col``): an UPDATE names the version it read, so a stale write fails
(:class:`canbao.store.db.StaleWrite`, 乐观锁) instead of overwriting someone else's change.
Append-only tables (the audit log, review decisions) have no version: rows are never updated.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

ID_TYPE = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[str]: JSON}


class User(Base):
    """A person who signs in. ``counties``: the division codes a county user may see."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(ID_TYPE, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(64), default="")
    role: Mapped[str] = mapped_column(String(32))
    counties: Mapped[list[str]] = mapped_column(JSON, default=list)
    password_hash: Mapped[str] = mapped_column(String(255))
    disabled: Mapped[bool] = mapped_column(default=False)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(default=None)
    password_changed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(64), default="")
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}


class ApiKey(Base):
    """A key another department's system uses (role ``department``: no personal data). Only
    the SHA-256 of the key is stored; ``prefix`` (its first characters) lets staff tell keys
    apart."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(ID_TYPE, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(32))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(64), default="")
    revoked_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    # what the key may ask (e.g. ``compliance:read``) and the purpose it was issued for (logged)
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    purpose: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}


class AuditEntry(Base):
    """One entry of the audit log: append-only, numbered without gaps, chained by hash
    (:mod:`canbao.store.audit_log`)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(ID_TYPE, primary_key=True, autoincrement=False)
    at: Mapped[dt.datetime] = mapped_column()
    actor: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(64), index=True)
    object_type: Mapped[str] = mapped_column(String(32), default="")
    object_keys: Mapped[list[str]] = mapped_column(JSON, default=list)
    fields: Mapped[list[str]] = mapped_column(JSON, default=list)
    client: Mapped[str] = mapped_column(String(64), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The chain's head (one row, id 1): the last entry's number and hash. Appending locks it,
    so entries are numbered in order; a deleted tail shows as a head the log does not reach."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_id: Mapped[int] = mapped_column(ID_TYPE, default=0)
    last_hash: Mapped[str] = mapped_column(String(64))


class ReviewDecision(Base):
    """A reviewer's decision on a pair of the registry's review queue (append-only; for a pair
    the latest decision, highest ``id``, wins)."""

    __tablename__ = "review_decisions"

    id: Mapped[int] = mapped_column(ID_TYPE, primary_key=True)
    left_key: Mapped[str] = mapped_column(String(128), index=True)
    right_key: Mapped[str] = mapped_column(String(128))
    decision: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")
    decided_by: Mapped[str] = mapped_column(String(64))
    decided_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    migrated_from: Mapped[str] = mapped_column(String(32), default="")


# --- collection: dunning cases and agreements (canbao.collection.dunning / .agreements) ------


class DunningCase(Base):
    """A dunning case (催缴案件) for one employer and one or more schemes: its ``state`` moves
    only by the legal steps of :data:`canbao.collection.dunning.TRANSITIONS`; the steps are
    :class:`DunningStep` rows. ``county_code`` is the employer's area code (the county scope)."""

    __tablename__ = "dunning_cases"

    id: Mapped[int] = mapped_column(ID_TYPE, primary_key=True)
    employer_key: Mapped[str] = mapped_column(String(64), index=True)
    credit_code: Mapped[str] = mapped_column(String(32), default="")
    employer_name: Mapped[str] = mapped_column(String(200), default="")
    county_code: Mapped[str | None] = mapped_column(String(32), index=True, default=None)
    schemes: Mapped[list[str]] = mapped_column(JSON, default=list)
    periods: Mapped[list[str]] = mapped_column(JSON, default=list)  # contribution periods YYYY-MM
    amount_fen: Mapped[int] = mapped_column(BigInteger)  # arrears principal demanded
    state: Mapped[str] = mapped_column(String(16), index=True)
    step_count: Mapped[int] = mapped_column(Integer, default=0)  # every step updates the case
    last_step_on: Mapped[dt.date | None] = mapped_column(default=None)
    opened_by: Mapped[str] = mapped_column(String(64))
    opened_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}


class Agreement(Base):
    """A deferral (缓缴) or instalment (分期缴纳) agreement (社会保险法 art. 63): proposed, then
    approved; breached by a missed instalment, completed when paid, or cancelled. Its schedule
    is :class:`Instalment` rows; a deferral has one, on ``end_date``."""

    __tablename__ = "agreements"

    id: Mapped[int] = mapped_column(ID_TYPE, primary_key=True)
    employer_key: Mapped[str] = mapped_column(String(64), index=True)
    credit_code: Mapped[str] = mapped_column(String(32), default="")
    employer_name: Mapped[str] = mapped_column(String(200), default="")
    county_code: Mapped[str | None] = mapped_column(String(32), index=True, default=None)
    schemes: Mapped[list[str]] = mapped_column(JSON, default=list)
    periods: Mapped[list[str]] = mapped_column(JSON, default=list)
    kind: Mapped[str] = mapped_column(String(16))  # deferral | instalment
    principal_fen: Mapped[int] = mapped_column(BigInteger)
    start_date: Mapped[dt.date | None] = mapped_column(default=None)  # deferral: from
    end_date: Mapped[dt.date | None] = mapped_column(default=None)  # deferral: to
    grace_days: Mapped[int] = mapped_column(Integer, default=0)
    guarantee_note: Mapped[str] = mapped_column(Text, default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), index=True)
    case_id: Mapped[int | None] = mapped_column(
        ID_TYPE, ForeignKey("dunning_cases.id"), index=True, default=None
    )
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    approved_by: Mapped[str | None] = mapped_column(String(64), default=None)
    approved_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    approved_on: Mapped[dt.date | None] = mapped_column(default=None)  # signed / in force from
    closed_by: Mapped[str | None] = mapped_column(String(64), default=None)
    closed_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    closed_on: Mapped[dt.date | None] = mapped_column(default=None)  # breached/completed/cancelled
    close_reason: Mapped[str] = mapped_column(Text, default="")
    checked_on: Mapped[dt.date | None] = mapped_column(default=None)  # payments checked as of
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}


class Instalment(Base):
    """One instalment of an agreement's schedule; ``paid_fen`` / ``paid_on`` are the last check
    against the payments (written with a new version of the agreement)."""

    __tablename__ = "agreement_instalments"
    __table_args__ = (UniqueConstraint("agreement_id", "seq", name="uq_agreement_instalments_seq"),)

    id: Mapped[int] = mapped_column(ID_TYPE, primary_key=True)
    agreement_id: Mapped[int] = mapped_column(ID_TYPE, ForeignKey("agreements.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    due_date: Mapped[dt.date] = mapped_column()
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    paid_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    paid_on: Mapped[dt.date | None] = mapped_column(default=None)


class DunningStep(Base):
    """One dated step of a dunning case (append-only): who, when, why, the state before and
    after, the order's deadline, the document's file name."""

    __tablename__ = "dunning_steps"
    __table_args__ = (UniqueConstraint("case_id", "seq", name="uq_dunning_steps_seq"),)

    id: Mapped[int] = mapped_column(ID_TYPE, primary_key=True)
    case_id: Mapped[int] = mapped_column(ID_TYPE, ForeignKey("dunning_cases.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    from_state: Mapped[str] = mapped_column(String(16), default="")
    to_state: Mapped[str] = mapped_column(String(16))
    taken_on: Mapped[dt.date] = mapped_column()  # the day the step was taken
    deadline: Mapped[dt.date | None] = mapped_column(default=None)  # order: pay by
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    late_fee_fen: Mapped[int | None] = mapped_column(BigInteger, default=None)
    note: Mapped[str] = mapped_column(Text, default="")
    doc_no: Mapped[str] = mapped_column(String(64), default="")
    document: Mapped[str] = mapped_column(String(255), default="")  # the document's file name
    agreement_id: Mapped[int | None] = mapped_column(
        ID_TYPE, ForeignKey("agreements.id"), default=None
    )
    recorded_by: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


# --- cases: the work lists' rows as cases that close (canbao.cases) ---------------------------


class Case(Base):
    """One row of a work list as a case (个案): stable ``case_key`` (kind / person or employer
    key / scheme), so the next build finds the same case. ``state`` moves by the staff's steps
    (:data:`canbao.cases.lifecycle.TRANSITIONS`) and by the data (:mod:`canbao.cases.opening`).
    ``subject``: the list row's display fields, masked when stored (no full ID or phone).
    The outcome columns hold the last outcome recorded; ``state`` says whether it stands."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(ID_TYPE, primary_key=True)
    case_key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    subject_type: Mapped[str] = mapped_column(String(8))  # person | employer
    subject_key: Mapped[str] = mapped_column(String(64), index=True)
    scheme: Mapped[str] = mapped_column(String(100), default="")
    county_code: Mapped[str | None] = mapped_column(String(32), index=True, default=None)
    township: Mapped[str | None] = mapped_column(String(64), default=None)
    priority: Mapped[int] = mapped_column(Integer, default=9)
    subject: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(16), index=True)
    assignee: Mapped[str | None] = mapped_column(String(64), index=True, default=None)
    team: Mapped[str | None] = mapped_column(String(64), default=None)
    outcome: Mapped[str | None] = mapped_column(String(32), default=None)
    outcome_date: Mapped[dt.date | None] = mapped_column(default=None)
    outcome_reason: Mapped[str] = mapped_column(Text, default="")  # where / why / which record
    outcome_note: Mapped[str] = mapped_column(Text, default="")
    evidence: Mapped[str] = mapped_column(Text, default="")
    expires_on: Mapped[dt.date | None] = mapped_column(default=None)
    resolved_by: Mapped[str | None] = mapped_column(String(64), default=None)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    opened_build: Mapped[str] = mapped_column(String(64))
    opened_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    open_since: Mapped[dt.datetime] = mapped_column(default=utcnow)  # opened or last reopened
    worked_at: Mapped[dt.datetime | None] = mapped_column(default=None)  # first staff step
    last_seen_build: Mapped[str] = mapped_column(String(64))  # not indexed: HOT updates
    state_build: Mapped[str | None] = mapped_column(String(64), default=None)  # moved by data
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}


class CaseEvent(Base):
    """One step of a case's history (append-only): a staff step (``actor`` a user) or a move
    by the data of a build (``actor`` ``data``, ``build`` set)."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(ID_TYPE, primary_key=True)
    case_id: Mapped[int] = mapped_column(ID_TYPE, ForeignKey("cases.id"), index=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(16))
    from_state: Mapped[str] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    build: Mapped[str] = mapped_column(String(64), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


# --- web sign-in sessions and throttles (canbao.store.sessions, canbao.store.throttle) --------


class WebSession(Base):
    """A signed-in session of the web workspace (``kind`` ``cookie``) or an API bearer token
    (``api``). Only the SHA-256 of the token is stored; ``csrf`` is the session's form token.
    Signing out deletes the row, so a copied cookie stops working."""

    __tablename__ = "web_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_name: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(8))
    csrf: Mapped[str] = mapped_column(String(64))
    client: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(index=True)


class Throttle(Base):
    """A fixed-window counter for one key (e.g. ``login:ip:127.0.0.1``) shared by every
    worker process; ``locked_until`` set when the window's limit was passed."""

    __tablename__ = "throttles"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    window_start: Mapped[dt.datetime] = mapped_column()
    count: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(default=None)


# --- audit: audit cases and their findings (canbao.audit.cases, canbao.audit.findings) -------


class AuditCase(Base):
    """An audit case (稽核案件, 社会保险稽核办法 2003) of one employer: the notice (``notice_on``,
    at least 3 days before the visit ``visit_on``), the on-site record (``visited_on``, the
    findings), the result or the 稽核意见书 (``finished_on``, within 5 / 10 working days of the
    visit: ``result_due`` / ``opinion_due``) and the rectification deadline (``rectify_by``).
    ``state`` moves only by :data:`canbao.audit.cases.TRANSITIONS`; the steps are
    :class:`AuditCaseEvent` rows. ``county_code``: the employer's area code (the county scope)."""

    __tablename__ = "audit_cases"

    id: Mapped[int] = mapped_column(ID_TYPE, primary_key=True)
    employer_key: Mapped[str] = mapped_column(String(64), index=True)
    credit_code: Mapped[str] = mapped_column(String(32), default="")
    employer_name: Mapped[str] = mapped_column(String(200), default="")
    county_code: Mapped[str | None] = mapped_column(String(32), index=True, default=None)
    state: Mapped[str] = mapped_column(String(16), index=True)
    matters: Mapped[list[str]] = mapped_column(JSON, default=list)  # headcount, base, payment
    period_from: Mapped[str] = mapped_column(String(7), default="")  # YYYY-MM audited
    period_to: Mapped[str] = mapped_column(String(7), default="")
    notice_no: Mapped[str] = mapped_column(String(64), default="")
    notice_on: Mapped[dt.date] = mapped_column()
    visit_on: Mapped[dt.date] = mapped_column()
    auditors: Mapped[list[str]] = mapped_column(JSON, default=list)
    visited_on: Mapped[dt.date | None] = mapped_column(default=None)
    record_note: Mapped[str] = mapped_column(Text, default="")
    result_due: Mapped[dt.date | None] = mapped_column(default=None)
    opinion_due: Mapped[dt.date | None] = mapped_column(default=None)
    finished_on: Mapped[dt.date | None] = mapped_column(default=None)
    conclusion: Mapped[str | None] = mapped_column(String(16), default=None)  # result | opinion
    opinion_no: Mapped[str] = mapped_column(String(64), default="")
    conclusion_note: Mapped[str] = mapped_column(Text, default="")
    rectify_by: Mapped[dt.date | None] = mapped_column(default=None)
    rectified_on: Mapped[dt.date | None] = mapped_column(default=None)
    opened_by: Mapped[str] = mapped_column(String(64))
    opened_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}


class AuditCaseEvent(Base):
    """One step of an audit case (append-only): who, when, the states, what was recorded."""

    __tablename__ = "audit_case_events"

    id: Mapped[int] = mapped_column(ID_TYPE, primary_key=True)
    case_id: Mapped[int] = mapped_column(ID_TYPE, ForeignKey("audit_cases.id"), index=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(16))
    from_state: Mapped[str] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class AuditFinding(Base):
    """One finding of an audit case: a person × scheme × month whose contributions were short
    (headcount: not enrolled, base: under-reported, payment: not paid in full). ``unpaid_fen``
    = (found − declared base) × the policy's total rate, half-up to the fen. ``assessed_on``:
    set when the case is finished — from then on the ledger assesses it (a supplementary
    assessment of the period, :mod:`canbao.collection.ledger_audits`)."""

    __tablename__ = "audit_findings"
    __table_args__ = (UniqueConstraint("case_id", "seq", name="uq_audit_findings_seq"),)

    id: Mapped[int] = mapped_column(ID_TYPE, primary_key=True)
    case_id: Mapped[int] = mapped_column(ID_TYPE, ForeignKey("audit_cases.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    employer_key: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    person_key: Mapped[str] = mapped_column(String(64), default="")
    person_name: Mapped[str] = mapped_column(String(64), default="")
    scheme: Mapped[str] = mapped_column(String(32))
    period: Mapped[str] = mapped_column(String(7))
    declared_base_fen: Mapped[int] = mapped_column(BigInteger)
    found_base_fen: Mapped[int] = mapped_column(BigInteger)
    risk_class: Mapped[int | None] = mapped_column(Integer, default=None)
    rate_bp: Mapped[int] = mapped_column(Integer)
    unpaid_fen: Mapped[int] = mapped_column(BigInteger)
    note: Mapped[str] = mapped_column(Text, default="")
    assessed_on: Mapped[dt.date | None] = mapped_column(index=True, default=None)


# --- self-service, reminders and the compliance API (canbao.selfservice, canbao.notify,
# canbao.compliance) -------------------------------------------------------------------------


class OneTimeCode(Base):
    """A one-time code sent to the phone on file (``purpose`` ``person`` or ``employer``
    sign-in). ``subject_hash``: the SHA-256 of the normalised identifier the code is for (an ID
    number or a credit code — never stored in clear); ``code_hash``: the code's SHA-256 with
    the row's ``salt``. Used once (``used_at``), dead after ``expires_at`` or ``attempts``
    wrong tries."""

    __tablename__ = "one_time_codes"

    id: Mapped[int] = mapped_column(ID_TYPE, primary_key=True)
    purpose: Mapped[str] = mapped_column(String(16))
    subject_hash: Mapped[str] = mapped_column(String(64), index=True)
    subject_key: Mapped[str] = mapped_column(String(64), default="")  # person / employer key
    salt: Mapped[str] = mapped_column(String(32))
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column()
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    used_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    client: Mapped[str] = mapped_column(String(64), default="")
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}


class PortalSession(Base):
    """A signed-in session of the public self-service area: a person (``subject_type``
    ``person``, ``subject_key`` the registry's person key) or an employer (``employer``, the
    master employer key). Separate from staff sessions: a portal session holds no staff role.
    Only the SHA-256 of the token is stored."""

    __tablename__ = "portal_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    subject_type: Mapped[str] = mapped_column(String(8))
    subject_key: Mapped[str] = mapped_column(String(64), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    client: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(index=True)


class EmployerCredential(Base):
    """The self-service password the bureau issued to an employer (argon2id hash), by its
    统一社会信用代码. ``must_change``: an issued password is changed at first sign-in."""

    __tablename__ = "employer_credentials"

    id: Mapped[int] = mapped_column(ID_TYPE, primary_key=True)
    credit_code: Mapped[str] = mapped_column(String(32), unique=True)
    employer_key: Mapped[str] = mapped_column(String(64), index=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    must_change: Mapped[bool] = mapped_column(default=True)
    issued_by: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}


class Certificate(Base):
    """A printed 参保缴费情况证明: ``serial`` (流水号, printed) and the SHA-256 of its check code
    (校验码, printed; anyone can verify the pair at the public endpoint). ``content``: what the
    certificate states (employer name, credit code, schemes, arrears status, as-of), shown by
    the verify page — nothing personal."""

    __tablename__ = "certificates"

    serial: Mapped[str] = mapped_column(String(32), primary_key=True)
    check_hash: Mapped[str] = mapped_column(String(64))
    employer_key: Mapped[str] = mapped_column(String(64), index=True)
    credit_code: Mapped[str] = mapped_column(String(32), index=True)
    content: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    issued_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    valid_until: Mapped[dt.date] = mapped_column()
    revoked_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class ContactPreference(Base):
    """Consent and opt-out of one recipient (``recipient_type`` person / employer, the
    registry's key) for reminders: ``opted_out`` stops every reminder but one-time codes."""

    __tablename__ = "contact_preferences"
    __table_args__ = (
        UniqueConstraint("recipient_type", "recipient_key", name="uq_contact_preferences"),
    )

    id: Mapped[int] = mapped_column(ID_TYPE, primary_key=True)
    recipient_type: Mapped[str] = mapped_column(String(8))
    recipient_key: Mapped[str] = mapped_column(String(64))
    opted_out: Mapped[bool] = mapped_column(default=False)
    language: Mapped[str] = mapped_column(String(8), default="zh-CN")
    source: Mapped[str] = mapped_column(String(32), default="")  # counter / phone / portal
    note: Mapped[str] = mapped_column(Text, default="")
    updated_by: Mapped[str] = mapped_column(String(64), default="")
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}


class ReminderBatch(Base):
    """A batch of reminders made by the rules at ``as_of``: ``draft`` (staff review it) →
    ``approved`` → ``sent``, or ``cancelled``. ``counts``: messages per reason and those held
    back (opted out, duplicate, no phone)."""

    __tablename__ = "reminder_batches"

    id: Mapped[int] = mapped_column(ID_TYPE, primary_key=True)
    as_of: Mapped[dt.date] = mapped_column()
    state: Mapped[str] = mapped_column(String(16), index=True)
    mode: Mapped[str] = mapped_column(String(8))  # test | live
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    approved_by: Mapped[str | None] = mapped_column(String(64), default=None)
    approved_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}


class OutboxMessage(Base):
    """One SMS in the outbox. ``idem_key`` (unique; sent as the provider's OutId /
    SessionContext) is recipient × reason × period, so a rule run twice queues it once.
    ``phone``: the number to send to (the store is the only place it is kept for sending;
    pages and files show it masked). ``state``: queued → sent → delivered | failed, or held
    (quiet hours: ``not_before``), cancelled, suppressed (opted out). ``provider_id``: the
    provider's BizId / SerialNo for the delivery receipt."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(ID_TYPE, primary_key=True)
    idem_key: Mapped[str] = mapped_column(String(200), unique=True)
    batch_id: Mapped[int | None] = mapped_column(
        ID_TYPE, ForeignKey("reminder_batches.id"), index=True, default=None
    )
    reason: Mapped[str] = mapped_column(String(32), index=True)
    recipient_type: Mapped[str] = mapped_column(String(8))
    recipient_key: Mapped[str] = mapped_column(String(64), index=True)
    county_code: Mapped[str | None] = mapped_column(String(32), index=True, default=None)
    phone: Mapped[str] = mapped_column(String(32))
    template: Mapped[str] = mapped_column(String(32))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(16), index=True)
    mode: Mapped[str] = mapped_column(String(8))  # test | live
    not_before: Mapped[dt.datetime | None] = mapped_column(default=None)
    provider: Mapped[str] = mapped_column(String(16), default="")
    provider_id: Mapped[str] = mapped_column(String(64), default="", index=True)
    error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}


class CreditListing(Base):
    """A formal 严重失信 listing of an employer, decided by staff with its legal ground cited
    (社会保险领域严重失信人名单管理暂行办法, 2019): separate from arrears, which are a status.
    ``removed_at``: the listing ended (expired or withdrawn, with ``removal_note``)."""

    __tablename__ = "credit_listings"

    id: Mapped[int] = mapped_column(ID_TYPE, primary_key=True)
    employer_key: Mapped[str] = mapped_column(String(64), index=True)
    credit_code: Mapped[str] = mapped_column(String(32), index=True)
    ground: Mapped[str] = mapped_column(String(32))  # a code of the grounds table
    legal_basis: Mapped[str] = mapped_column(Text)
    decision_no: Mapped[str] = mapped_column(String(64), default="")
    decided_by: Mapped[str] = mapped_column(String(64))
    listed_on: Mapped[dt.date] = mapped_column()
    listed_until: Mapped[dt.date | None] = mapped_column(default=None)
    note: Mapped[str] = mapped_column(Text, default="")
    removed_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    removed_by: Mapped[str | None] = mapped_column(String(64), default=None)
    removal_note: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}
