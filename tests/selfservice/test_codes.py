"""One-time codes: single use, expiry, five wrong tries, forged tickets."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import update

from canbao.selfservice import codes
from canbao.store import Store
from canbao.store.models import OneTimeCode
from tests.selfservice.conftest import City


def test_a_code_is_six_digits_and_works_once(store: Store, city: City) -> None:
    got = codes.issue(store, city.data, "person", "h" * 64, "pk1", "10.0.0.1")
    assert len(got.code) == 6 and got.code.isdigit()
    assert got.expires_at - dt.datetime.now(dt.UTC).replace(tzinfo=None) <= dt.timedelta(minutes=10)
    first = codes.check(store, city.data, "person", got.ticket, got.code)
    assert first.ok and first.subject_key == "pk1"
    again = codes.check(store, city.data, "person", got.ticket, got.code)
    assert not again.ok  # single use


def test_an_expired_code_is_refused(store: Store, city: City) -> None:
    got = codes.issue(store, city.data, "person", "h" * 64, "pk1", "")
    with store.transaction() as s:
        s.execute(
            update(OneTimeCode).values(
                expires_at=dt.datetime(2000, 1, 1), version=OneTimeCode.version + 1
            )
        )
    assert not codes.check(store, city.data, "person", got.ticket, got.code).ok


def test_five_wrong_tries_kill_the_code(store: Store, city: City) -> None:
    got = codes.issue(store, city.data, "person", "h" * 64, "pk1", "")
    wrong = f"{(int(got.code) + 1) % 10**6:06d}"
    for _ in range(codes.MAX_ATTEMPTS):
        assert not codes.check(store, city.data, "person", got.ticket, wrong).ok
    assert not codes.check(store, city.data, "person", got.ticket, got.code).ok


def test_a_new_code_ends_the_earlier_one(store: Store, city: City) -> None:
    first = codes.issue(store, city.data, "person", "h" * 64, "pk1", "")
    second = codes.issue(store, city.data, "person", "h" * 64, "pk1", "")
    assert not codes.check(store, city.data, "person", first.ticket, first.code).ok
    assert codes.check(store, city.data, "person", second.ticket, second.code).ok


def test_a_forged_or_foreign_ticket_is_refused(store: Store, city: City) -> None:
    got = codes.issue(store, city.data, "person", "h" * 64, "pk1", "")
    number = got.ticket.split(".")[0]
    for ticket in (f"{number}.{'0' * 32}", f"{int(number) + 1}.{got.ticket.split('.')[1]}",
                   "", "x.y", "9" * 40):  # fmt: skip
        assert not codes.check(store, city.data, "person", ticket, got.code).ok
    assert not codes.check(store, city.data, "employer", got.ticket, got.code).ok


def test_a_look_up_that_found_nobody_never_signs_in(store: Store, city: City) -> None:
    got = codes.issue(store, city.data, "person", "h" * 64, "", "")  # nobody: never sent
    assert not codes.check(store, city.data, "person", got.ticket, got.code).ok
