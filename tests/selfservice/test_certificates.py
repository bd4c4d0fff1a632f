"""The 参保缴费情况证明: what it states comes from the ledger, the pair verifies, a forged,
altered, revoked or expired one gets one answer, and failures are throttled."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import update

from canbao.errors import RateLimited
from canbao.selfservice import certificates, throttles
from canbao.selfservice.employer_status import employer_status
from canbao.store import Store
from canbao.store.models import Certificate
from tests.selfservice.conftest import City


def _issue(store: Store, city: City) -> certificates.Issued:
    key, code = str(city.employer["employer_key"]), str(city.employer["credit_code"])
    status = employer_status(store, city.data, key, code)
    return certificates.issue(store, status, "13.0.0.1")


def test_status_and_certificate_state_the_ledger(store: Store, city: City) -> None:
    key, code = str(city.employer["employer_key"]), str(city.employer["credit_code"])
    status = employer_status(store, city.data, key, code)
    assert status.credit_code == code and status.name == city.employer["name"]
    assert status.arrears_fen == sum(r.balance_fen for r in status.arrears)
    issued = certificates.issue(store, status, "13.0.0.1")
    assert issued.content["credit_code"] == code
    assert issued.content["in_arrears"] == (status.arrears_fen > 0)
    assert len(issued.check) == certificates.CHECK_LEN and issued.serial.startswith("CB")


def test_the_right_pair_verifies(store: Store, city: City) -> None:
    issued = _issue(store, city)
    found = certificates.verify(store, issued.serial, issued.check.lower(), "14.0.0.1")
    assert found is not None and found.content == issued.content


def test_forged_altered_revoked_and_expired_are_rejected(store: Store, city: City) -> None:
    issued = _issue(store, city)
    altered = issued.check[:-1] + ("2" if issued.check[-1] != "2" else "3")
    assert certificates.verify(store, issued.serial, altered, "15.0.0.1") is None
    assert certificates.verify(store, "CB20171231ABCDEFGH", issued.check, "15.0.0.1") is None
    assert certificates.verify(store, issued.serial[:-1], issued.check, "15.0.0.1") is None
    assert certificates.verify(store, "", "", "15.0.0.1") is None
    other = _issue(store, city)
    assert certificates.revoke(store, other.serial, "li_city")
    assert certificates.verify(store, other.serial, other.check, "15.0.0.1") is None
    late = _issue(store, city)
    with store.transaction() as s:
        s.execute(
            update(Certificate)
            .where(Certificate.serial == late.serial)
            .values(valid_until=dt.date.today() - dt.timedelta(days=1))
        )
    assert certificates.verify(store, late.serial, late.check, "15.0.0.1") is None
    assert certificates.verify(store, issued.serial, issued.check, "15.0.0.1") is not None


def test_guessing_check_codes_is_throttled(store: Store, city: City) -> None:
    issued = _issue(store, city)
    with pytest.raises(RateLimited):
        for n in range(throttles.CLIENT.count + 1):
            certificates.verify(store, issued.serial, f"{n:010d}", "16.0.0.1")
    with pytest.raises(RateLimited):  # locked: the right pair waits too
        certificates.verify(store, issued.serial, issued.check, "16.0.0.1")
    assert certificates.verify(store, issued.serial, issued.check, "16.0.0.2") is not None
