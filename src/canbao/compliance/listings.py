"""Formal 严重失信 listings of employers: decided by staff (permission ``credit.list``), each citing
its legal ground, audit-logged with the change — a record separate from arrears.

Arrears are a status the data gives (:mod:`canbao.compliance.standing`); a listing is a decision
of the bureau under 《社会保险领域严重失信人名单管理暂行办法》 (2019), whose grounds
(``data/grounds.toml``) do not include arrears alone. A listing names the employer by its
credit code (and its master ``employer_key`` when the registry knows it), the ground, the legal
basis, the decision's number (决定书文号), the day it takes effect and, optionally, the day it
ends; it is active from ``listed_on`` until ``listed_until`` (inclusive) unless withdrawn
(``removed_at``, with who and why). The compliance API reports active listings only.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache

from sqlalchemy import ColumnElement, and_, or_, select

from canbao.compliance.bands import DATA
from canbao.errors import ConflictError, DataError, NotFoundError, UsageError
from canbao.standards import credit_code as cc
from canbao.store import roles
from canbao.store.accounts import Actor
from canbao.store.audit_log import append
from canbao.store.db import Store
from canbao.store.models import CreditListing, utcnow

ACTION = "credit.list"


@dataclass(frozen=True)
class Ground:
    code: str
    item: int
    label: str
    basis: str
    employer: bool


@dataclass(frozen=True)
class ListingView:
    id: int
    employer_key: str
    credit_code: str
    ground: str
    ground_label: str
    legal_basis: str
    decision_no: str
    decided_by: str
    listed_on: dt.date
    listed_until: dt.date | None
    note: str
    removed_at: dt.datetime | None
    removed_by: str | None
    removal_note: str

    def active_on(self, day: dt.date) -> bool:
        return (
            self.removed_at is None
            and self.listed_on <= day
            and (self.listed_until is None or day <= self.listed_until)
        )


@cache
def grounds() -> dict[str, Ground]:
    """The grounds table (``data/grounds.toml``) by code."""
    doc = tomllib.loads((DATA / "grounds.toml").read_text(encoding="utf-8"))
    return {
        str(g["code"]): Ground(str(g["code"]), int(g["item"]), str(g["label"]),
                               str(g.get("basis", "")), bool(g.get("employer", True)))
        for g in doc["ground"]
    }  # fmt: skip


def valid_code(value: str) -> str:
    """The normalised credit code, or :class:`DataError` saying what is wrong with it."""
    found = cc.check(value)
    if found.kind != "uscc" or not found.valid:
        why = "、".join(cc.ERROR_LABELS_ZH.get(e, e) for e in found.errors) or "不是18位代码"
        raise DataError(f"统一社会信用代码无效：{why}", f"invalid credit code: {found.errors}")
    return found.code


def _view(r: CreditListing) -> ListingView:
    g = grounds().get(r.ground)
    return ListingView(
        r.id, r.employer_key, r.credit_code, r.ground, g.label if g else r.ground, r.legal_basis,
        r.decision_no, r.decided_by, r.listed_on, r.listed_until, r.note, r.removed_at,
        r.removed_by, r.removal_note,
    )  # fmt: skip


def active_condition(day: dt.date) -> ColumnElement[bool]:
    return and_(
        CreditListing.removed_at.is_(None),
        CreditListing.listed_on <= day,
        or_(CreditListing.listed_until.is_(None), CreditListing.listed_until >= day),
    )


def list_employer(
    store: Store,
    actor: Actor,
    credit_code: str,
    ground: str,
    legal_basis: str,
    decision_no: str,
    listed_on: dt.date,
    listed_until: dt.date | None = None,
    note: str = "",
    *,
    employer_key: str = "",
) -> ListingView:
    """Record a 严重失信 listing decided by ``actor`` (``credit.list``). ``legal_basis`` empty:
    the ground's basis from the table (the ground ``other`` needs one given)."""
    roles.require(actor.role, ACTION, actor.name)
    code = valid_code(credit_code)
    g = grounds().get(ground)
    if g is None:
        listed = "、".join(f"{k}（{v.label[:12]}…）" for k, v in grounds().items())
        raise UsageError(f"未知的列入情形“{ground}”，可用：{listed}", f"unknown ground {ground!r}")
    if not g.employer:
        raise UsageError(
            f"列入情形“{g.label[:20]}…”针对个人，不能用于单位", f"ground {ground!r} is for persons"
        )
    basis = (legal_basis or g.basis).strip()
    if not basis:
        raise UsageError("须写明列入所依据的法律、法规或规章条款", "legal basis required")
    if not decision_no.strip():
        raise UsageError("须填写列入决定书文号", "decision number required")
    if listed_until is not None and listed_until < listed_on:
        raise UsageError("列入截止日期不能早于列入日期", "listed_until before listed_on")
    with store.transaction() as s:
        clash = s.execute(
            select(CreditListing.id).where(
                CreditListing.credit_code == code,
                CreditListing.ground == ground,
                CreditListing.removed_at.is_(None),
                or_(CreditListing.listed_until.is_(None), CreditListing.listed_until >= listed_on),
            )
        ).first()
        if clash is not None:
            raise ConflictError(
                f"该单位已因同一情形被列入（名单记录 #{clash[0]}），请先撤销或等待期满",
                "an active listing on the same ground exists",
            )
        row = CreditListing(
            employer_key=employer_key, credit_code=code, ground=ground, legal_basis=basis,
            decision_no=decision_no.strip(), decided_by=actor.name, listed_on=listed_on,
            listed_until=listed_until, note=note,
        )  # fmt: skip
        s.add(row)
        s.flush()
        append(s, [actor.event("credit.list", "credit_listing", [code, str(row.id)],
                               ground=ground, decision_no=row.decision_no,
                               listed_on=listed_on.isoformat(),
                               listed_until=listed_until.isoformat() if listed_until else None)])  # fmt: skip
        return _view(row)


def withdraw(store: Store, actor: Actor, listing_id: int, note: str) -> ListingView:
    """End a listing before its term (e.g. 信用修复, a decision revoked): who, when and why."""
    roles.require(actor.role, ACTION, actor.name)
    if not note.strip():
        raise UsageError("须写明撤销（移出名单）的理由", "removal note required")
    with store.transaction() as s:
        row = s.get(CreditListing, listing_id, with_for_update=True)
        if row is None:
            raise NotFoundError(f"没有严重失信名单记录 #{listing_id}", f"no listing {listing_id}")
        if row.removed_at is not None:
            raise ConflictError(f"名单记录 #{listing_id} 已撤销", "listing already removed")
        row.removed_at, row.removed_by, row.removal_note = utcnow(), actor.name, note.strip()
        append(s, [actor.event("credit.withdraw", "credit_listing",
                               [row.credit_code, str(row.id)], note=note.strip())])  # fmt: skip
        return _view(row)


def listings(
    store: Store, credit_code: str | None = None, *, active_on: dt.date | None = None
) -> list[ListingView]:
    """Listings, oldest first (one employer's with ``credit_code``; active ones on a day with
    ``active_on``)."""
    q = select(CreditListing).order_by(CreditListing.id)
    if credit_code is not None:
        q = q.where(CreditListing.credit_code == valid_code(credit_code))
    if active_on is not None:
        q = q.where(active_condition(active_on))
    with store.sessions() as s:
        return [_view(r) for r in s.execute(q).scalars()]


def active_listings(
    store: Store, credit_codes: Iterable[str], day: dt.date
) -> dict[str, list[ListingView]]:
    """The active listings of each of ``credit_codes`` on ``day`` (normalised codes), one query."""
    codes: Sequence[str] = sorted(set(credit_codes))
    if not codes:
        return {}
    q = select(CreditListing).where(CreditListing.credit_code.in_(codes), active_condition(day))
    out: dict[str, list[ListingView]] = {}
    with store.sessions() as s:
        for r in s.execute(q.order_by(CreditListing.id)).scalars():
            out.setdefault(r.credit_code, []).append(_view(r))
    return out
