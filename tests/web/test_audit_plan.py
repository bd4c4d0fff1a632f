"""/audit/plan: the audit plan in the viewer's scope is :func:`canbao.audit.targets.audit_plan`
— the same targets in the same order, with their scores and contributions — a county-posted
auditor sees no employer of another county, a role without ``audit.read`` gets 403, and the
download is a real xlsx of the same plan (audit-logged)."""

from __future__ import annotations

import io
import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from canbao.audit import targets
from canbao.store import Actor, accounts, audit_log
from canbao.store.db import Store
from canbao.store.scopes import scope_for
from canbao.web import dashboard
from tests.web.conftest import PASSWORD, City, signed_in

POSTED = "w_auditor_xiushui"


def keys_on(html: str) -> list[str]:
    return re.findall(r'href="/employers/([^"]+)"', html)


@pytest.fixture(autouse=True)
def patient(monkeypatch: pytest.MonkeyPatch) -> None:
    """The model is computed in the background: the page waits for it here."""
    monkeypatch.setattr(dashboard, "WAIT_S", 120.0)


@pytest.fixture(scope="module")
def posted(city: City, web_store: Store) -> str:
    """An auditor posted to 修水县."""
    if POSTED not in city.users:
        accounts.add_user(web_store, Actor.operator(), POSTED, "auditor", PASSWORD, [city.here])
    return POSTED


def _expected(city: City, user: str, role: str, counties: tuple[str, ...]) -> targets.AuditPlan:
    scope = scope_for(Actor(user, role, counties), city.profile)
    return targets.audit_plan(city.data, scope, as_of=dashboard.data_day(city.data))


def test_the_page_is_the_plan_of_the_api(city: City, client: TestClient) -> None:
    signed_in(client, "w_auditor")
    page = client.get("/audit/plan")
    assert page.status_code == 200
    want = _expected(city, "w_auditor", "auditor", ())
    assert want.targets.height > 0
    assert keys_on(page.text) == want.targets["employer_key"].to_list()
    first = want.targets.row(0, named=True)
    assert f"{first['score']:.1f}" in page.text
    assert "<details>" in page.text and "分</li>" in page.text  # the contributions, expandable
    assert "<script" not in page.text.split('<div id="audit-plan"', 1)[1]  # CSP: nothing inline
    top = client.get("/audit/plan?top=1").text
    per_county = want.targets.filter(want.targets["rank"] == 1)["employer_key"].to_list()
    assert keys_on(top) == per_county


def test_a_posted_auditor_sees_only_the_county(city: City, app: FastAPI, posted: str) -> None:
    with TestClient(app, raise_server_exceptions=False) as c:
        signed_in(c, posted)
        page = c.get("/audit/plan")
        assert page.status_code == 200
        want = _expected(city, posted, "auditor", (city.here,))
        assert set(want.targets["county_code"]) <= {city.here}
        assert keys_on(page.text) == want.targets["employer_key"].to_list()
        denied = c.get(f"/audit/plan?county={city.there}")
        assert denied.status_code == 403 and "不在您负责的区县范围内" in denied.text
        assert c.get(f"/audit/plan/export?county={city.there}").status_code == 403


def test_roles_without_audit_read_get_403(app: FastAPI) -> None:
    for user in ("w_xiushui", "w_collector"):
        with TestClient(app, raise_server_exceptions=False) as c:
            signed_in(c, user)
            assert c.get("/audit/plan").status_code == 403
            assert c.get("/audit/plan/export").status_code == 403


def test_the_download_is_the_plan(city: City, client: TestClient, web_store: Store) -> None:
    signed_in(client, "w_leader")
    r = client.get("/audit/plan/export")
    assert r.status_code == 200
    wb = load_workbook(io.BytesIO(r.content), read_only=True)
    assert wb.sheetnames[:3] == ["稽核对象", "评分依据", "涉及金额"]
    rows = list(wb["稽核对象"].iter_rows(values_only=True))
    header = rows[0]
    assert "风险分" in header and "涉及金额合计(元)" in header and "缴费能力" in header
    want = _expected(city, "w_leader", "leader", ())
    keys = [row[header.index("单位主键")] for row in rows[1:]]
    assert keys == want.targets["employer_key"].to_list()
    points = list(wb["评分依据"].iter_rows(values_only=True))
    assert len(points) - 1 == want.contributions.height
    logged = audit_log.entries(web_store, actor="w_leader", action="export", limit=5)
    assert logged and logged[0].object_type == "audit_plan"
    assert logged[0].detail == {"rows": want.targets.height}
