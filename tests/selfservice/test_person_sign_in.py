"""A person's sign-in: one answer whatever the registry holds, the code on the phone on file is
the proof, brute force and floods are locked out, nothing in the audit log names the ID."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from canbao.errors import AuthError, RateLimited
from canbao.selfservice import codes, person_sign_in, portal_sessions, throttles
from canbao.standards import citizen_id
from canbao.store import Store
from canbao.store.models import AuditEntry, OneTimeCode
from tests.selfservice.conftest import City, sent_code


def _other_valid_id(id18: str) -> str:
    """A valid ID that is not in the city (same region and birth date, another sequence)."""
    for seq in range(999, 0, -1):
        body = id18[:14] + f"{seq:03d}"
        candidate = body + citizen_id.compute_check_char(body)
        if candidate != id18:
            return candidate
    raise AssertionError


def test_the_right_person_gets_a_code_and_a_session(store: Store, city: City) -> None:
    p = city.person
    got = person_sign_in.request_code(store, city.data, str(p["id18"]), str(p["name"]), "1.1.1.1")
    assert got.sent
    code = sent_code(city.data, got.ticket)
    assert code is not None
    token = person_sign_in.sign_in(store, city.data, got.ticket, code, "1.1.1.1")
    found = portal_sessions.resolve(store, token)
    assert found is not None and found.subject_type == "person"
    assert found.subject_key == p["person_key"]
    with pytest.raises(AuthError):  # the code is used up
        person_sign_in.sign_in(store, city.data, got.ticket, code, "1.1.1.1")


def test_missing_wrong_name_and_no_phone_look_the_same(store: Store, city: City) -> None:
    p, q = city.person, city.no_phone
    cases = {
        "missing": (_other_valid_id(str(p["id18"])), str(p["name"])),
        "wrong_name": (str(p["id18"]), "欧阳不是"),
        "no_phone": (str(q["id18"]), str(q["name"])),
        "malformed": ("12345", "张三"),
    }
    for what, (id_text, name) in cases.items():
        got = person_sign_in.request_code(store, city.data, id_text, name, f"2.2.2.{len(what)}")
        assert not got.sent, what
        assert sent_code(city.data, got.ticket) is None, what
        assert got.ticket.count(".") == 1, what  # a ticket like any other
    # each look-up wrote one code row, found or not
    with store.sessions() as s:
        rows = s.execute(select(OneTimeCode)).scalars().all()
    assert len(rows) == len(cases)
    assert all(r.subject_key == "" for r in rows)


def test_answers_take_the_floor_delay_found_or_not(
    store: Store, city: City, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(throttles, "FLOOR_S", 0.4)
    p = city.person
    took = []
    for id_text, name in ((str(p["id18"]), str(p["name"])), (str(p["id18"]), "欧阳不是"),
                          (_other_valid_id(str(p["id18"])), "欧阳不是")):  # fmt: skip
        start = time.monotonic()
        person_sign_in.request_code(store, city.data, id_text, name, "3.3.3.3")
        took.append(time.monotonic() - start)
    assert min(took) >= 0.4
    assert max(took) - min(took) < 0.25


def test_guessing_codes_is_locked_out(store: Store, city: City) -> None:
    p = city.person
    got = person_sign_in.request_code(store, city.data, str(p["id18"]), str(p["name"]), "4.4.4.4")
    code = sent_code(city.data, got.ticket)
    assert code is not None
    wrong = [f"{(int(code) + i) % 10**6:06d}" for i in range(1, 7)]
    for guess in wrong[: codes.MAX_ATTEMPTS]:
        with pytest.raises(AuthError) as e:
            person_sign_in.sign_in(store, city.data, got.ticket, guess, "4.4.4.4")
        assert e.value.message_zh == person_sign_in.WRONG_CODE_ZH
    with pytest.raises(AuthError):  # dead after five wrong tries, even the right code
        person_sign_in.sign_in(store, city.data, got.ticket, code, "4.4.4.4")


def test_the_id_is_locked_after_too_many_wrong_codes_from_many_addresses(
    store: Store, city: City
) -> None:
    p = city.person
    failures = 0
    with pytest.raises(RateLimited) as e:
        for n in range(40):
            got = person_sign_in.request_code(
                store, city.data, str(p["id18"]), str(p["name"]), f"5.5.{n}.1"
            )
            for guess in ("000000", "111111"):
                try:
                    person_sign_in.sign_in(store, city.data, got.ticket, guess, f"5.5.{n}.2")
                except AuthError:
                    failures += 1
    assert failures <= throttles.PERSON_FAILURES.count
    assert e.value.retry_after > 0


def test_too_many_code_requests_for_one_id_send_nothing_more(store: Store, city: City) -> None:
    p = city.person
    sent = [
        person_sign_in.request_code(
            store, city.data, str(p["id18"]), str(p["name"]), f"6.6.6.{n}"
        ).sent
        for n in range(throttles.PERSON_SENDS.count + 3)
    ]
    assert sent[: throttles.PERSON_SENDS.count] == [True] * throttles.PERSON_SENDS.count
    assert not any(sent[throttles.PERSON_SENDS.count :])  # same answer, nothing sent


def test_one_address_is_throttled_with_retry_after(store: Store, city: City) -> None:
    with pytest.raises(RateLimited) as e:
        for n in range(throttles.CLIENT.count + 2):
            person_sign_in.request_code(store, city.data, f"3604{n:014d}", "张三", "7.7.7.7")
    assert e.value.retry_after == throttles.CLIENT.lock
    with pytest.raises(RateLimited):  # still locked
        person_sign_in.request_code(store, city.data, "360402199001011234", "张三", "7.7.7.7")
    # another address is not
    person_sign_in.request_code(store, city.data, "360402199001011234", "张三", "7.7.7.8")


def test_the_audit_log_names_no_id(store: Store, city: City) -> None:
    p = city.person
    got = person_sign_in.request_code(store, city.data, str(p["id18"]), str(p["name"]), "8.8.8.8")
    person_sign_in.request_code(store, city.data, "360402199001011234", "张三", "8.8.8.8")
    code = sent_code(city.data, got.ticket)
    assert code is not None
    person_sign_in.sign_in(store, city.data, got.ticket, code, "8.8.8.8")
    with store.sessions() as s:
        entries = s.execute(select(AuditEntry)).scalars().all()
    actions = [e.action for e in entries]
    assert actions.count("selfservice.code") == 2 and "selfservice.sign_in" in actions
    text = " ".join(f"{e.object_keys} {e.detail}" for e in entries)
    assert str(p["id18"]) not in text and "360402199001011234" not in text
    assert str(p["person_key"]) in text
