"""The public self-service pages over the shared web city: a person signs in with ID + name and
the code from the file sender; the answers do not tell whether an ID exists; brute force is
locked out — also across two app instances on one store; a change request becomes a case; an
employer signs in with an issued password, must change it, sees its status and prints a
certificate that verifies (a forged one does not); nothing on a page holds a full ID."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from itertools import count

import polars as pl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select

from canbao.notify.senders import sent_file
from canbao.registry import snapshot
from canbao.selfservice import employer_credentials, person_sign_in, throttles
from canbao.standards import citizen_id
from canbao.standards.masking import looks_like_id
from canbao.store import Actor
from canbao.store.db import Store
from canbao.store.models import Case, CaseEvent
from canbao.web import create_app
from tests.web.conftest import City, signed_in

_ADDRESSES = count(1)
STAFF = Actor("w_city", "city_staff", (), "test")


@pytest.fixture(autouse=True)
def _quick(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(throttles, "FLOOR_S", 0.02)


def _client(app) -> TestClient:  # type: ignore[no-untyped-def]
    """A client of its own address (throttles count per address; the store is shared)."""
    return TestClient(app, raise_server_exceptions=False, client=(f"10.9.0.{next(_ADDRESSES)}", 5))


@pytest.fixture
def person(city: City) -> dict[str, object]:
    snap = snapshot.require_current(city.data)
    mobile = pl.col("phone").str.contains(r"^1[0-9]{10}$").fill_null(False)
    rows = snap.scan("persons").filter(mobile & pl.col("id18").is_not_null()).collect()
    return rows.row(next(_ADDRESSES) % rows.height, named=True)


def _field(html: str, name: str) -> str:
    return html.split(f'name="{name}" value="', 1)[1].split('"', 1)[0]


def _request(c: TestClient, id_text: str, name: str):  # type: ignore[no-untyped-def]
    form = c.get("/self/person")
    data = {"id_number": id_text, "name": name, "csrf_token": _field(form.text, "csrf_token")}
    return c.post("/self/person", data=data)


def _code(city: City, phone: str) -> str:
    person_sign_in.drain()  # codes are sent in the background
    lines = sent_file(city.data).read_text(encoding="utf-8").splitlines()
    mine = [json.loads(x) for x in lines if json.loads(x)["phone"] == phone]
    return str(mine[-1]["params"]["code"])


def _sign_in(c: TestClient, city: City, p: dict[str, object]):  # type: ignore[no-untyped-def]
    r = _request(c, str(p["id18"]), str(p["name"]))
    assert r.status_code == 200
    data = {"ticket": _field(r.text, "ticket"), "code": _code(city, str(p["phone"])),
            "csrf_token": _field(r.text, "csrf_token")}  # fmt: skip
    return c.post("/self/person/code", data=data, follow_redirects=False), data


def _other_id(id18: str) -> str:
    body = id18[:14] + ("998" if id18[14:17] != "998" else "997")
    return body + citizen_id.compute_check_char(body)


def _plain(html: str) -> str:
    """The page without its per-request tokens."""
    return re.sub(r'name="(ticket|csrf_token)" value="[^"]*"', "", html)


def test_person_signs_in_with_the_code_and_sees_a_masked_status(
    app,
    city: City,
    person: dict[str, object],  # type: ignore[no-untyped-def]
) -> None:
    with _client(app) as c:
        r, _ = _sign_in(c, city, person)
        assert r.status_code == 303 and r.headers["location"] == "/self/person/status"
        page = c.get("/self/person/status")
        assert page.status_code == 200
        assert "本人参保状态" in page.text and "各险种参保情况" in page.text
        assert str(person["id18"]) not in page.text and str(person["phone"]) not in page.text
        assert citizen_id.mask(str(person["id18"])) in page.text
        assert not looks_like_id(page.text)
        c.post("/self/logout", data={"csrf_token": _field(page.text, "csrf_token")})
        assert c.get("/self/person/status", follow_redirects=False).status_code == 303


def test_existing_missing_and_wrong_name_get_the_same_page(
    app,
    person: dict[str, object],  # type: ignore[no-untyped-def]
) -> None:
    pages = []
    with _client(app) as c:
        for id_text, name in ((str(person["id18"]), str(person["name"])),
                              (str(person["id18"]), "欧阳不是"),
                              (_other_id(str(person["id18"])), str(person["name"])),
                              ("360402", "")):  # fmt: skip
            r = _request(c, id_text, name)
            pages.append((r.status_code, _plain(r.text)))
    assert len(set(pages)) == 1
    assert pages[0][0] == 200 and "若您输入的身份信息正确" in pages[0][1]
    assert "尾号" not in pages[0][1]


def test_a_code_is_single_use(app, city: City, person: dict[str, object]) -> None:  # type: ignore[no-untyped-def]
    with _client(app) as c:
        r, data = _sign_in(c, city, person)
        assert r.status_code == 303
    with _client(app) as other:
        pre = other.get("/self/person")
        data["csrf_token"] = _field(pre.text, "csrf_token")
        again = other.post("/self/person/code", data=data, follow_redirects=False)
        assert again.status_code == 401 and "验证码不正确或已失效" in again.text


def test_guessing_a_code_is_locked_out_with_retry_after(
    app,
    person: dict[str, object],  # type: ignore[no-untyped-def]
) -> None:
    with _client(app) as c:
        r = _request(c, str(person["id18"]), str(person["name"]))
        data = {"ticket": _field(r.text, "ticket"), "csrf_token": _field(r.text, "csrf_token")}
        statuses = []
        for n in range(throttles.CLIENT.count + 2):
            got = c.post("/self/person/code", data={**data, "code": f"{n:06d}"})
            statuses.append(got.status_code)
            if got.status_code == 429:
                assert int(got.headers["retry-after"]) > 0
                break
    assert statuses[-1] == 429 and set(statuses[:-1]) == {401}


def test_forms_without_their_token_are_refused(app) -> None:  # type: ignore[no-untyped-def]
    with _client(app) as c:
        r = c.post("/self/person", data={"id_number": "360402199001011234", "name": "张三"})
        assert r.status_code == 403
        assert (
            c.post("/self/employer", data={"credit_code": "x", "password": "y"}).status_code == 403
        )


def test_a_change_request_becomes_a_case_not_a_write(
    app,
    city: City,
    web_store: Store,
    person: dict[str, object],  # type: ignore[no-untyped-def]
) -> None:
    build = snapshot.require_current(city.data).build_id
    with _client(app) as c:
        _sign_in(c, city, person)
        form = c.get("/self/person/change")
        r = c.post("/self/person/change", data={"field": "phone", "value": "13700001111",
                                                "csrf_token": _field(form.text, "csrf_token")})  # fmt: skip
        assert r.status_code == 200 and "受理号" in r.text
        assert "13700001111" not in r.text and "137****1111" in r.text
        ref = r.text.split('id="ref">', 1)[1].split("<", 1)[0]
        bad = c.post("/self/person/change", data={"field": "phone", "value": "12",
                                                  "csrf_token": _field(form.text, "csrf_token")})  # fmt: skip
        assert bad.status_code == 400 and "11位手机号码" in bad.text
    with web_store.sessions() as s:
        case = s.execute(select(Case).where(Case.case_key.endswith(ref))).scalar_one()
    assert case.kind == "contact_change" and case.subject_key == person["person_key"]
    with TestClient(app, raise_server_exceptions=False) as staff:  # staff see the new value
        signed_in(staff, "w_city")
        page = staff.get(f"/cases/{case.id}")
        assert page.status_code == 200 and "联系方式变更申请" in page.text
        assert "13700001111" in page.text and ref in page.text
    with web_store.transaction() as s:
        # the shared store's case counts are other tests' business: take it out again
        s.execute(delete(CaseEvent).where(CaseEvent.case_id == case.id))
        s.execute(delete(Case).where(Case.id == case.id))
    assert snapshot.require_current(city.data).build_id == build
    snap = snapshot.require_current(city.data)
    phone = snap.scan("persons").filter(pl.col("person_key") == person["person_key"]).collect()
    assert phone["phone"][0] == person["phone"]


@pytest.fixture
def employer(city: City, web_store: Store) -> Iterator[tuple[str, str]]:
    snap = snapshot.require_current(city.data)
    rows = snap.scan("employers").filter(pl.col("credit_code").is_not_null()).collect()
    code = str(rows["credit_code"][next(_ADDRESSES) % rows.height])
    _, password = employer_credentials.issue(web_store, city.data, STAFF, code)
    yield code, password
    employer_credentials.revoke(web_store, STAFF, code)


def _employer_sign_in(c: TestClient, code: str, password: str):  # type: ignore[no-untyped-def]
    form = c.get("/self/employer")
    data = {
        "credit_code": code,
        "password": password,
        "csrf_token": _field(form.text, "csrf_token"),
    }
    return c.post("/self/employer", data=data, follow_redirects=False)


def test_employer_changes_the_password_sees_status_and_prints_a_certificate(
    app,
    employer: tuple[str, str],  # type: ignore[no-untyped-def]
) -> None:
    code, password = employer
    with _client(app) as c:
        r = _employer_sign_in(c, code, password)
        assert r.status_code == 303 and r.headers["location"] == "/self/employer/password"
        assert c.get("/self/employer/status", follow_redirects=False).status_code == 303
        form = c.get("/self/employer/password")
        r = c.post("/self/employer/password", data={"current": password, "new": "Danwei2017mima",
                   "again": "Danwei2017mima", "csrf_token": _field(form.text, "csrf_token")},
                   follow_redirects=False)  # fmt: skip
        assert r.status_code == 303
        page = c.get("/self/employer/status")
        assert page.status_code == 200 and code in page.text and "欠费情况" in page.text
        assert not looks_like_id(page.text)
        cert = c.post(
            "/self/employer/certificate", data={"csrf_token": _field(page.text, "csrf_token")}
        )
        assert cert.status_code == 200 and "参保缴费情况证明" in cert.text
        serial = cert.text.split('id="serial">', 1)[1].split("<", 1)[0]
        check = cert.text.split('id="check">', 1)[1].split("<", 1)[0]
    with _client(app) as anyone:
        ok = anyone.get("/api/self/verify", params={"serial": serial, "check": check}).json()
        assert ok["valid"] and ok["certificate"]["credit_code"] == code
        html = anyone.get("/verify", params={"serial": serial, "check": check})
        assert "证明真实有效" in html.text and code in html.text
        forged = check[:-1] + ("2" if check[-1] != "2" else "3")
        answers = [
            anyone.get("/api/self/verify", params={"serial": s, "check": k}).json()
            for s, k in ((serial, forged), ("CB20991231ABCDEFGH", check), ("", ""))
        ]
        assert all(not a["valid"] and a["certificate"] is None for a in answers)
        assert len({a["message"] for a in answers}) == 1


def test_employer_wrong_and_unknown_answer_alike(app, employer: tuple[str, str]) -> None:  # type: ignore[no-untyped-def]
    code, _ = employer
    with _client(app) as c:
        a = _employer_sign_in(c, code, "wrong-password-1")
        b = _employer_sign_in(c, "91360400000000000X", "wrong-password-1")
    assert a.status_code == b.status_code == 401
    assert employer_credentials.WRONG_ZH in a.text and employer_credentials.WRONG_ZH in b.text


def test_lock_out_holds_across_two_app_instances_on_one_store(
    city: City, web_store: Store, employer: tuple[str, str]
) -> None:
    code, password = employer
    first = create_app(city.data, store=web_store, warm=False)
    second = create_app(city.data, store=web_store, warm=False)
    limit = throttles.EMPLOYER_FAILURES.count
    with _client(first) as a, _client(second) as b:
        for n in range(limit):
            r = _employer_sign_in(a if n % 2 else b, code, f"guess-{n}")
            assert r.status_code == 401
        r = _employer_sign_in(b, code, "guess-last")
        assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
        r = _employer_sign_in(a, code, password)  # the other instance: locked too
        assert r.status_code == 429


def test_a_wrong_method_names_every_allowed_one(app) -> None:  # type: ignore[no-untyped-def]
    with _client(app) as c:
        r = c.request("TRACE", "/self/person")
    assert r.status_code == 405
    assert set(r.headers["allow"].split(", ")) == {"GET", "HEAD", "POST"}
