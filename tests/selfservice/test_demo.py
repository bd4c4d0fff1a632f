"""The self-service demo step: a password, a certificate that verifies, a person to sign in as."""

from __future__ import annotations

import json

from canbao.selfservice import certificates, employer_credentials
from canbao.selfservice.demo import run_selfservice_demo
from canbao.store import open_store
from tests.selfservice.conftest import City


def test_the_demo_step_leaves_a_working_password_and_certificate(city: City) -> None:
    where = run_selfservice_demo(city.data.parent)
    assert len(where) == 1
    doc = json.loads((city.data.parent / "selfservice" / "portal.json").read_text(encoding="utf-8"))
    store = open_store(city.data)
    try:
        emp = doc["employer_sign_in"]
        got = employer_credentials.sign_in(
            store, city.data, emp["credit_code"], emp["password"], "demo"
        )
        assert got.must_change
        cert = doc["certificate"]
        assert certificates.verify(store, cert["serial"], cert["check"], "demo") is not None
    finally:
        store.dispose()
    assert doc["person_sign_in"]["id_number"] and doc["person_sign_in"]["name"]
    # it holds a password and a person's ID: readable by the owner only
    assert (city.data.parent / "selfservice" / "portal.json").stat().st_mode & 0o077 == 0
