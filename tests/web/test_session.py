"""Signing in and out, CSRF, the API token, throttling, security headers and the one error
handler (a Chinese page for people, JSON for the API)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from canbao.store import open_store, sessions, throttle
from canbao.web import create_app
from tests.store.conftest import url_for
from tests.web.conftest import PASSWORD, City, csrf_of, signed_in, token


def test_a_page_without_a_session_goes_to_the_sign_in_page(client: TestClient) -> None:
    r = client.get("/", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=/"


def test_sign_in_sets_an_httponly_samesite_cookie_and_shows_the_user(client: TestClient) -> None:
    signed_in(client, "w_xiushui")
    cookie = next(c for c in client.cookies.jar if c.name == "canbao_session")
    assert cookie.has_nonstandard_attr("HttpOnly")
    home = client.get("/")
    assert home.status_code == 200
    assert "w_xiushui" in home.text and "修水县" in home.text


def test_a_wrong_password_shows_a_chinese_message_and_no_session(client: TestClient) -> None:
    page = client.get("/login")
    csrf = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    r = client.post(
        "/login", data={"username": "w_city", "password": "wrong-password1", "csrf_token": csrf}
    )
    assert r.status_code == 401
    assert "用户名或密码错误" in r.text
    assert "canbao_session" not in client.cookies


def test_the_sign_in_form_needs_its_csrf_token(client: TestClient) -> None:
    client.get("/login")
    r = client.post("/login", data={"username": "w_city", "password": PASSWORD})
    assert r.status_code == 403
    assert "CSRF" in r.text


def test_a_form_post_without_the_session_csrf_token_is_refused(client: TestClient) -> None:
    signed_in(client, "w_city")
    r = client.post("/logout", data={}, follow_redirects=False)
    assert r.status_code == 403
    r = client.post("/logout", data={"csrf_token": csrf_of(client)}, follow_redirects=False)
    assert r.status_code == 303
    assert client.get("/", follow_redirects=False).status_code == 303  # signed out


def test_signing_out_ends_the_session_for_a_copied_cookie(client: TestClient, app) -> None:  # type: ignore[no-untyped-def]
    signed_in(client, "w_leader")
    stolen = client.cookies["canbao_session"]
    client.post("/logout", data={"csrf_token": csrf_of(client)})
    with TestClient(app) as other:
        other.cookies.set("canbao_session", stolen)
        assert other.get("/", follow_redirects=False).status_code == 303


def test_api_token_and_bearer_calls(client: TestClient) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    r = client.post("/api/auth/token", data={"username": "w_city", "password": "nope-nope-1"})
    assert r.status_code == 401
    body = r.json()
    assert body["error"] == "auth" and body["message"] == "用户名或密码错误"
    assert r.headers["www-authenticate"] == "Bearer"
    headers = token(client, "w_city")
    assert headers["Authorization"].startswith("Bearer ")


def test_security_headers_forbid_inline_script_and_framing(client: TestClient) -> None:
    r = client.get("/login")
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["cache-control"] == "no-store"
    assert "<script>" not in r.text  # no inline script on the page


def test_unknown_paths_answer_in_chinese_html_and_json(client: TestClient) -> None:
    signed_in(client, "w_city")
    page = client.get("/no-such-page")
    assert page.status_code == 404 and "页面或对象不存在" in page.text
    api = client.get("/api/no-such-thing")
    assert api.status_code == 404 and api.json()["message"] == "页面或对象不存在"


def test_changing_the_password_ends_the_other_sessions(city: City, app) -> None:  # type: ignore[no-untyped-def]
    from canbao.store import Actor, accounts

    store = app.state.canbao.store
    accounts.add_user(store, Actor.operator(), "w_changer", "leader", PASSWORD, [])
    with TestClient(app) as a, TestClient(app) as b:
        signed_in(a, "w_changer")
        signed_in(b, "w_changer")
        new = "Xinmima2018ok"
        r = a.post(
            "/password",
            data={"current": PASSWORD, "new": new, "again": new, "csrf_token": csrf_of(a)},
        )
        assert r.status_code == 200 and "密码已修改" in r.text
        assert a.get("/", follow_redirects=False).status_code == 200
        assert b.get("/", follow_redirects=False).status_code == 303


def test_sessions_and_throttles_on_both_backends(tmp_path: Path) -> None:
    from canbao.store import Actor, accounts

    for backend in ("sqlite", "postgresql"):
        store = open_store(tmp_path, url_for(backend, tmp_path), upgrade=True)
        try:
            accounts.add_user(store, Actor.operator(), "t_user", "leader", PASSWORD, [])
            actor = accounts.authenticate(store, "t_user", PASSWORD)
            tok = sessions.start(store, actor, "api", hours=1)
            found = sessions.resolve(store, tok)
            assert found is not None and found.actor.name == "t_user"
            assert sessions.resolve(store, tok + "x") is None
            accounts.disable_user(store, Actor.operator(), "t_user")
            assert sessions.resolve(store, tok) is None  # a disabled user's session is dead
            limit = throttle.Limit(count=3, window=600, lock=120)
            assert [throttle.hit(store, "k", limit) for _ in range(4)] == [0, 0, 0, 120]
            assert 100 < throttle.blocked(store, "k") <= 120
            throttle.clear(store, "k")
            assert throttle.blocked(store, "k") == 0
        finally:
            store.dispose()
        (tmp_path / "store.sqlite3").unlink(missing_ok=True)


def test_many_failed_sign_ins_from_one_address_answer_429(city: City, tmp_path: Path) -> None:
    store = open_store(tmp_path, url_for("sqlite", tmp_path), upgrade=True)
    web = create_app(city.data, store=store)
    with TestClient(web) as c:
        codes = [
            c.post("/api/auth/token", data={"username": f"u{i}", "password": "x"}).status_code
            for i in range(throttle.LOGIN_PER_CLIENT.count + 2)
        ]
        assert codes[0] == 401 and codes[-1] == 429
        last = c.post("/api/auth/token", data={"username": "w_city", "password": PASSWORD})
        assert last.status_code == 429 and int(last.headers["retry-after"]) > 0
    store.dispose()
