"""严重失信 listings: the grounds table (arrears alone are no ground), who may list, what a
listing must cite, its term, withdrawal, and the audit log of each decision."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from canbao.compliance import listings
from canbao.errors import ConflictError, DataError, PermissionDenied, UsageError
from canbao.store.accounts import Actor
from canbao.store.db import Store
from canbao.store.models import AuditEntry

STAFF = Actor("li_city", "city_staff")
CODE = "91360424329622753F"
DAY = dt.date(2018, 3, 1)


def test_the_grounds_are_the_eight_items_and_arrears_is_none_of_them() -> None:
    found = listings.grounds()
    assert sorted(g.item for g in found.values()) == list(range(1, 9))
    assert not any("欠费" in g.label or "欠缴" in g.label for g in found.values())
    assert found["benefit_overpayment"].employer is False  # a person's ground
    assert found["other"].basis == ""  # must be cited by whoever lists


def _add(store: Store, actor: Actor = STAFF, **kw: object) -> listings.ListingView:
    args: dict[str, object] = {
        "credit_code": CODE, "ground": "unregistered_after_penalty", "legal_basis": "",
        "decision_no": "九人社失信〔2018〕1号", "listed_on": DAY,
        "listed_until": DAY + dt.timedelta(days=3 * 365), "note": "逾期仍未登记",
    }  # fmt: skip
    args.update(kw)
    return listings.list_employer(store, actor, **args)  # type: ignore[arg-type]


def test_what_a_listing_must_have(store: Store) -> None:
    with pytest.raises(PermissionDenied):
        _add(store, Actor("wang", "collector"))
    with pytest.raises(DataError, match="统一社会信用代码无效"):
        _add(store, credit_code=CODE[:-1] + "0")
    with pytest.raises(UsageError, match="未知的列入情形"):
        _add(store, ground="arrears")
    with pytest.raises(UsageError, match="针对个人"):
        _add(store, ground="benefit_overpayment")
    with pytest.raises(UsageError, match="法律"):
        _add(store, ground="other")
    with pytest.raises(UsageError, match="文号"):
        _add(store, decision_no=" ")
    with pytest.raises(UsageError, match="截止日期"):
        _add(store, listed_until=DAY - dt.timedelta(days=1))
    assert listings.listings(store) == []


def test_listing_term_withdrawal_and_audit(store: Store) -> None:
    made = _add(store, credit_code=CODE.lower())
    assert made.credit_code == CODE and "第（一）项" in made.legal_basis
    assert made.decided_by == "li_city"
    with pytest.raises(ConflictError):
        _add(store)  # the same ground while the first is active
    other = _add(store, ground="other", legal_basis="《江西省社会保险费征缴条例》某条",
                 listed_until=None)  # fmt: skip
    assert listings.active_listings(store, [CODE], DAY - dt.timedelta(days=1)) == {}
    on = listings.active_listings(store, [CODE], DAY)
    assert [x.id for x in on[CODE]] == [made.id, other.id]
    later = listings.active_listings(store, [CODE], DAY + dt.timedelta(days=4 * 365))
    assert [x.id for x in later[CODE]] == [other.id]  # the first one's term ended
    with pytest.raises(PermissionDenied):
        listings.withdraw(store, Actor("qian", "leader"), other.id, "信用修复")
    with pytest.raises(UsageError):
        listings.withdraw(store, STAFF, other.id, "")
    gone = listings.withdraw(store, STAFF, other.id, "信用修复")
    assert gone.removed_by == "li_city" and not gone.active_on(DAY)
    with pytest.raises(ConflictError):
        listings.withdraw(store, STAFF, other.id, "again")
    with store.sessions() as s:
        rows = s.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars().all()
    acts = [(e.action, e.actor) for e in rows]
    assert acts == [("credit.list", "li_city"), ("credit.list", "li_city"),
                    ("credit.withdraw", "li_city")]  # fmt: skip
    assert rows[0].detail["ground"] == "unregistered_after_penalty"
    assert rows[2].detail["note"] == "信用修复"
