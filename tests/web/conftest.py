"""The web tests share one small synthetic city, built once: ingested, registry built, cases
opened from its gap lists, and one user per role (two county users: 修水县 and 浔阳区 of the
region profile). :func:`signed_in` gives a TestClient with a session cookie; :func:`token`
an API bearer token. The store is the data directory's SQLite; ``test_session`` also runs the
sign-in flow on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from canbao import cases
from canbao.coverage import api as coverage
from canbao.profile import Profile, default_profile
from canbao.registry import api as registry
from canbao.registry import snapshot
from canbao.store import Actor, accounts, open_store
from canbao.store.db import Store
from canbao.warehouse.scope import Scope
from canbao.web import create_app
from tests.registry.city import ingest, make_city

PASSWORD = "Gongzuotai2017ok"
SYSTEM = Scope.system("web tests: open cases")


def county_code(profile: Profile, name: str) -> str:
    return next(c.code for c in profile.counties if c.name == name)


@dataclass(frozen=True)
class City:
    data: Path
    profile: Profile
    here: str  # 修水县
    there: str  # 浔阳区
    users: dict[str, tuple[str, tuple[str, ...]]]  # name → (role, counties)


@pytest.fixture(scope="session")
def city(tmp_path_factory: pytest.TempPathFactory) -> City:
    root = tmp_path_factory.mktemp("web-city")
    made = make_city(root, persons=1200, seed=41)
    data = root / "data"
    ingest(made, data)
    registry.build(data)
    profile = default_profile()
    here, there = county_code(profile, "修水县"), county_code(profile, "浔阳区")
    users: dict[str, tuple[str, tuple[str, ...]]] = {
        "w_admin": ("admin", ()),
        "w_city": ("city_staff", ()),
        "w_xiushui": ("county_staff", (here,)),
        "w_xunyang": ("county_staff", (there,)),
        "w_collector": ("collector", (here,)),
        "w_auditor": ("auditor", ()),
        "w_leader": ("leader", ()),
    }
    store = open_store(data)
    try:
        op = Actor.operator()
        for name, (role, counties) in users.items():
            accounts.add_user(store, op, name, role, PASSWORD, list(counties))
        build = snapshot.require_current(data).build_id
        cases.open_cases(store, SYSTEM, coverage.gap_lists(data, SYSTEM), build)
    finally:
        store.dispose()
    return City(data, profile, here, there, users)


@pytest.fixture(scope="session")
def web_store(city: City) -> Iterator[Store]:
    store = open_store(city.data)
    yield store
    store.dispose()


@pytest.fixture(scope="session")
def app(city: City, web_store: Store):  # type: ignore[no-untyped-def]
    return create_app(city.data, store=web_store)


@pytest.fixture
def client(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def signed_in(client: TestClient, user: str, password: str = PASSWORD) -> TestClient:
    """Sign ``client`` in through the login form (CSRF token from the page)."""
    page = client.get("/login")
    assert page.status_code == 200
    csrf = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    r = client.post(
        "/login",
        data={"username": user, "password": password, "csrf_token": csrf, "next": "/"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text[:300]
    return client


def csrf_of(client: TestClient) -> str:
    """The CSRF token of the signed-in session (from the page's meta tag)."""
    page = client.get("/")
    return page.text.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]


def token(client: TestClient, user: str, password: str = PASSWORD) -> dict[str, str]:
    r = client.post("/api/auth/token", data={"username": user, "password": password})
    assert r.status_code == 200, r.text[:300]
    return {"Authorization": f"Bearer {r.json()['access_token']}"}
