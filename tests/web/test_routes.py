"""Generated from the app's route table, so that no route can escape: every route but the
public ones needs a permission (:func:`canbao.web.auth.need`); without a session a page sends
the browser to sign in and the API answers 401; a role without the route's permission gets 403
and no data."""

from __future__ import annotations

import datetime as dt
import re

import polars as pl
import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from canbao.store import roles
from canbao.web.routes import ROUTERS
from canbao.web.routes.session import PUBLIC, PUBLIC_PREFIXES, is_public
from tests.web.conftest import City, signed_in, token

FRAMEWORK = frozenset({"/api/openapi.json", "/api/docs", "/api/docs/oauth2-redirect"})


def _action(route: APIRoute) -> str | None:
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        action = getattr(dep.call, "canbao_action", None)
        if action is not None:
            return str(action)
        stack.extend(dep.dependencies)
    return None


def _routes(app) -> list[tuple[APIRoute, str]]:  # type: ignore[no-untyped-def]
    """Every (route, method) of the app's routers (FastAPI keeps included routers as
    branches of its table; :data:`canbao.web.routes.ROUTERS` are those branches)."""
    included = [getattr(r, "original_router", None) for r in app.routes]
    assert all(router in included for router in ROUTERS)
    out = []
    for route in (r for router in ROUTERS for r in router.routes):
        if (
            isinstance(route, APIRoute)
            and not is_public(route.path)
            and route.path not in FRAMEWORK
        ):
            for method in sorted(route.methods - {"HEAD"}):
                out.append((route, method))
    return out


def _url(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def test_every_route_needs_a_permission_of_the_table(app) -> None:  # type: ignore[no-untyped-def]
    missing = [r.path for r, _m in _routes(app) if _action(r) is None]
    assert missing == []
    unknown = {_action(r) for r, _m in _routes(app)} - set(roles.ACTIONS) - {"signed-in"}
    assert unknown == set()
    assert len(_routes(app)) >= 4  # the table is read, not empty


def test_without_a_session_nothing_answers_with_data(client: TestClient, app) -> None:  # type: ignore[no-untyped-def]
    for route, method in _routes(app):
        r = client.request(method, _url(route.path), follow_redirects=False)
        if route.path.startswith("/api/"):
            assert r.status_code == 401, (method, route.path, r.status_code)
            assert r.json()["error"] == "auth"
        elif method == "GET":
            assert r.status_code == 303, (method, route.path, r.status_code)
            assert r.headers["location"].startswith("/login")
        else:
            assert r.status_code in (401, 403), (method, route.path, r.status_code)


@pytest.mark.parametrize("user", ["w_leader", "w_collector", "w_auditor", "w_xiushui"])
def test_a_role_without_the_permission_gets_403(
    app,  # type: ignore[no-untyped-def]
    city: City,
    user: str,
) -> None:
    role = city.users[user][0]
    with TestClient(app, raise_server_exceptions=False) as c:
        signed_in(c, user)
        headers = token(c, user)
        csrf = c.get("/").text.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
        checked = 0
        for route, method in _routes(app):
            action = _action(route)
            if action is None or action == "signed-in" or roles.can(role, action):
                continue
            if route.path.startswith("/api/"):
                r = c.request(method, _url(route.path), headers=headers)
            else:
                r = c.request(
                    method, _url(route.path), headers={"X-CSRF-Token": csrf},
                    follow_redirects=False,
                )  # fmt: skip
            assert r.status_code == 403, (user, method, route.path, r.status_code)
            checked += 1
    assert checked or role == "county_staff"


# --- the public self-service area (PUBLIC_PREFIXES): no staff session, a portal session -----

# the self-service routes that show nobody's data: the landing page, the sign-in forms and
# steps, sign-out, and the certificate check (which shows only what a certificate states, to
# whoever holds its serial and check code)
SELF_OPEN = frozenset({
    ("GET", "/self"), ("GET", "/self/person"), ("POST", "/self/person"),
    ("POST", "/self/person/code"), ("GET", "/self/employer"), ("POST", "/self/employer"),
    ("POST", "/self/logout"), ("GET", "/verify"), ("GET", "/api/self/verify"),
})  # fmt: skip


def _portal_kind(route: APIRoute) -> str | None:
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        kind = getattr(dep.call, "canbao_portal", None)
        if kind is not None:
            return str(kind)
        stack.extend(dep.dependencies)
    return None


def _self_routes() -> list[tuple[APIRoute, str]]:
    out = []
    for route in (r for router in ROUTERS for r in router.routes):
        if isinstance(route, APIRoute) and is_public(route.path) and route.path not in PUBLIC:
            out.extend((route, m) for m in sorted(route.methods - {"HEAD"}))
    return out


def test_the_public_prefixes_hold_only_self_service() -> None:
    assert is_public("/self") and is_public("/self/person") and is_public("/api/self/verify")
    assert not is_public("/selfish") and not is_public("/api/selfservice")
    routes = _self_routes()
    assert len(routes) >= 12
    assert all(r.path.startswith(PUBLIC_PREFIXES) for r, _m in routes)
    assert all(_action(r) is None for r, _m in routes)  # never a staff permission


def test_every_self_service_route_with_data_needs_a_portal_session(client: TestClient) -> None:
    missing = [(m, r.path) for r, m in _self_routes()
               if (m, r.path) not in SELF_OPEN and _portal_kind(r) is None]  # fmt: skip
    assert missing == []
    checked = 0
    for route, method in _self_routes():
        if (method, route.path) in SELF_OPEN:
            continue
        r = client.request(method, _url(route.path), follow_redirects=False)
        if method == "GET":
            assert r.status_code == 303, (method, route.path, r.status_code)
            assert r.headers["location"] == "/self"
        else:
            assert r.status_code == 401, (method, route.path, r.status_code)
            assert "请先登录自助服务" in r.text
        checked += 1
    assert checked >= 6


# --- scope: an object of another county answers 403 or 404, never data --------------------


def _other_county_objects(city: City) -> dict[str, str]:
    """For each path parameter, a value naming an object the 修水 user must not see."""
    from canbao import cases as case_api
    from canbao.registry import snapshot
    from canbao.store import open_store
    from canbao.warehouse.scope import Scope

    snap = snapshot.require_current(city.data)
    person = snap.scan("persons").filter(pl.col("county_code") == city.there)
    employer = snap.scan("employers").filter(pl.col("county_code") == city.there)
    from canbao.collection import agreements, dunning
    from canbao.store import Actor

    row = employer.select("employer_key", "name", "credit_code").head(1).collect().row(0)
    system = Scope.system("route test")
    store = open_store(city.data)
    try:
        there = case_api.list_cases(store, system, county=city.there)
        # a dunning case of a 浔阳区 employer (opened once per test session)
        dun = dunning.cases(store, system, employer_key=row[0]) or [
            dunning.start(
                store, Actor.operator(), system,
                dunning.Employer(row[0], row[1] or "", row[2] or "", city.there),
                ["employee_pension"], 100, on=dt.date(2017, 12, 1),
            )
        ]  # fmt: skip
        agreed = agreements.agreements(store, system, employer_key=row[0]) or [
            agreements.propose(
                store, Actor.operator(), system,
                dunning.Employer(row[0], row[1] or "", row[2] or "", city.there),
                ["unemployment"], "deferral", 100, guarantee_note="担保（路由测试）",
                start=dt.date(2017, 12, 1), end=dt.date(2018, 3, 31),
            )
        ]  # fmt: skip
    finally:
        store.dispose()
    return {
        "person_key": str(person.select("person_key").head(1).collect().item()),
        "employer_key": str(employer.select("employer_key").head(1).collect().item()),
        "credit_code": str(employer.select("credit_code").head(1).collect().item()),
        "case_id": str(there[0].id),
        "key": there[0].case_key,
        "pair_id": "0" * 12,  # no pair of the 修水 user's queue: not found
        "batch_id": "1",  # data routes are city-wide: 403 for a county user
        "job_id": "0" * 12,  # someone else's or no job: not found
        "name": "tongbao.xlsx",
        # audit cases: a county user may not read them at all (403); an auditor posted to one
        # county and a case of another answer 404 (tests/web/test_audit_cases.py)
        "audit_case_id": "999999",
        "which": "notice",
        "dunning_case_id": str(dun[0].id),
        "seq": "1",
        "agreement_id": str(agreed[0].id),
    }


# a well-formed form for every step, so that only the object's scope can refuse it
FORM = {"decision": "different", "outcome": "student", "on": "2017-12-01", "version": "1",
        "user": "w_xiushui", "reason": "核查", "note": "核查"}  # fmt: skip


def test_objects_of_another_county_answer_403_or_404(app, city: City) -> None:  # type: ignore[no-untyped-def]
    objects = _other_county_objects(city)
    with TestClient(app, raise_server_exceptions=False) as c:
        signed_in(c, "w_xiushui")
        headers = token(c, "w_xiushui")
        csrf = c.get("/").text.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
        checked = 0
        for route, method in _routes(app):
            params = re.findall(r"\{([^}:]+)(?::[^}]*)?\}", route.path)
            if not params:
                continue
            missing = [p for p in params if p not in objects]
            assert missing == [], f"{route.path}: add an out-of-scope probe for {missing}"
            url = route.path
            for p in params:
                url = re.sub(r"\{" + p + r"(?::[^}]*)?\}", objects[p], url)
            if route.path.startswith("/api/"):
                r = c.request(method, url, headers=headers, json={"outcome": "x", "version": 1})
            else:
                r = c.request(method, url, headers={"X-CSRF-Token": csrf},
                              data={"csrf_token": csrf, **FORM}, follow_redirects=False)  # fmt: skip
            assert r.status_code in (403, 404), (method, route.path, r.status_code)
            if "json" in r.headers.get("content-type", ""):
                assert r.json()["error"] in ("not_found", "forbidden"), route.path
            else:
                assert 'class="error"' in r.text, route.path  # the error page, nothing else
            checked += 1
    assert checked >= 10
