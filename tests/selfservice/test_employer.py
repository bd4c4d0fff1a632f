"""Employer passwords: issued once by staff with ``portal.manage``, changed at first sign-in,
revoked; sign-in answers one way and locks out guessing per credit code and per address."""

from __future__ import annotations

import pytest

from canbao.errors import AuthError, NotFoundError, PermissionDenied, RateLimited, UsageError
from canbao.selfservice import employer_credentials as ec
from canbao.selfservice import portal_sessions, throttles
from canbao.store import Actor, Store
from tests.selfservice.conftest import City, unknown_code

STAFF = Actor("li_city", "city_staff", (), "cli")


def test_issue_needs_the_permission_and_a_known_employer(store: Store, city: City) -> None:
    code = str(city.employer["credit_code"])
    with pytest.raises(PermissionDenied):
        ec.issue(store, city.data, Actor("lead", "leader"), code)
    with pytest.raises(UsageError):
        ec.issue(store, city.data, STAFF, "91360400XXXXXXXXXX")
    with pytest.raises(NotFoundError):
        ec.issue(store, city.data, STAFF, unknown_code())  # valid, not in the city
    other = Actor("far", "county_staff", ("999999",))
    with pytest.raises(NotFoundError):  # a county user: only employers of their counties
        ec.issue(store, city.data, other, code)


def test_first_sign_in_must_change_the_issued_password(store: Store, city: City) -> None:
    code = str(city.employer["credit_code"])
    emp, password = ec.issue(store, city.data, STAFF, code)
    assert emp.employer_key == city.employer["employer_key"] and len(password) == 12
    got = ec.sign_in(store, city.data, code.lower(), password, "9.9.9.9")
    assert got.must_change and ec.must_change(store, emp.employer_key)
    with pytest.raises(UsageError):
        ec.change_password(store, emp.employer_key, password, "short1", "short1", "")
    with pytest.raises(UsageError):
        ec.change_password(store, emp.employer_key, password, password, password, "")
    with pytest.raises(AuthError):
        ec.change_password(
            store, emp.employer_key, "wrong", "Newpassword2017", "Newpassword2017", ""
        )
    ec.change_password(store, emp.employer_key, password, "Newpassword2017", "Newpassword2017", "")
    assert not ec.must_change(store, emp.employer_key)
    assert portal_sessions.resolve(store, got.token) is None  # other sessions end
    again = ec.sign_in(store, city.data, code, "Newpassword2017", "9.9.9.9")
    assert not again.must_change


def test_wrong_unknown_and_revoked_answer_alike(store: Store, city: City) -> None:
    code = str(city.employer["credit_code"])
    _, password = ec.issue(store, city.data, STAFF, code)
    answers = []
    for c, pw in ((code, "wrong-password-1"), (unknown_code(), password), ("", "")):
        with pytest.raises(AuthError) as e:
            ec.sign_in(store, city.data, c, pw, "10.0.0.1")
        answers.append((e.value.status, e.value.message_zh))
    got = ec.sign_in(store, city.data, code, password, "10.0.0.2")
    assert ec.revoke(store, STAFF, code)
    assert portal_sessions.resolve(store, got.token) is None
    with pytest.raises(AuthError) as e:
        ec.sign_in(store, city.data, code, password, "10.0.0.1")
    answers.append((e.value.status, e.value.message_zh))
    assert set(answers) == {(401, ec.WRONG_ZH)}
    assert not ec.revoke(store, STAFF, code)


def test_guessing_passwords_is_locked_out_per_code(store: Store, city: City) -> None:
    code = str(city.employer["credit_code"])
    _, password = ec.issue(store, city.data, STAFF, code)
    with pytest.raises(RateLimited) as e:
        for n in range(throttles.EMPLOYER_FAILURES.count + 1):
            with pytest.raises(AuthError):
                ec.sign_in(store, city.data, code, f"guess-{n}", f"11.0.0.{n}")
        ec.sign_in(store, city.data, code, "guess-last", "11.0.1.1")
    assert e.value.retry_after > 0
    with pytest.raises(RateLimited):  # locked: even the right password waits
        ec.sign_in(store, city.data, code, password, "11.0.2.1")


def test_an_unknown_code_is_locked_out_the_same_way(store: Store, city: City) -> None:
    with pytest.raises(RateLimited):
        for n in range(throttles.EMPLOYER_FAILURES.count + 2):
            with pytest.raises(AuthError):
                ec.sign_in(store, city.data, unknown_code(), f"g{n}", f"12.0.0.{n}")
