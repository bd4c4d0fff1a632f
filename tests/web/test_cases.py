"""个案 in the browser and through the API: county scope on the list, the page and the API (a
case of another county is 404), resolving with a coded outcome (the case and its event change),
乐观锁 (a stale version is 409 and nothing typed is lost), an outcome of another kind refused in
Chinese, and the Excel round trip through the web (re-importing changes nothing).

The steps change cases, so this module works on its own copy of the shared city."""

from __future__ import annotations

import datetime as dt
import io
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from canbao import cases
from canbao.cases import outcomes
from canbao.store import Actor, open_store
from canbao.store.db import Store
from canbao.store.scopes import scope_for
from canbao.warehouse.scope import Scope
from canbao.web import create_app
from tests.web.conftest import City, csrf_of, signed_in, token

SYSTEM = Scope.system("web case tests: check what the pages did")
XIUSHUI_USER = "w_xiushui"


@dataclass
class Own:
    app: FastAPI
    store: Store
    data: Path


@pytest.fixture(scope="module")
def own(city: City, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Own]:
    data = tmp_path_factory.mktemp("web-cases") / "data"
    shutil.copytree(city.data, data)
    store = open_store(data)
    yield Own(create_app(data, store=store), store, data)
    store.dispose()


@pytest.fixture
def web(own: Own) -> Iterator[TestClient]:
    with TestClient(own.app, raise_server_exceptions=False) as c:
        yield c


def _cases(own: Own, county: str, kind: str | None = None) -> list[cases.CaseView]:
    return cases.list_cases(own.store, SYSTEM, county=county, kind=kind, limit=None)


def _open_case(own: Own, county: str, kind: str, n: int) -> cases.CaseView:
    """The ``n``-th case of a kind in a county that is still new (each test takes its own)."""
    return [c for c in _cases(own, county, kind) if c.state == "new"][n]


def _ids(html: str) -> set[int]:
    return {int(m) for m in re.findall(r'href="/cases/(\d+)"', html)}


def test_a_county_user_sees_only_their_county(own: Own, web: TestClient, city: City) -> None:
    actor = Actor(XIUSHUI_USER, "county_staff", (city.here,))
    scope = scope_for(actor, city.profile)
    every = cases.list_cases(own.store, SYSTEM, limit=None)
    mine = {c.id for c in every if scope.allows(c.county_code)}
    theirs = {c.id for c in every if c.county_code == city.there}
    assert mine and theirs and len(mine) <= 50  # one page of the small city

    signed_in(web, XIUSHUI_USER)
    page = web.get("/cases", params={"state": "all"})
    assert page.status_code == 200 and "扩面个案" in page.text
    assert _ids(page.text) == mine
    assert "<script>" not in page.text and " style=" not in page.text  # CSP: nothing inline

    headers = token(web, XIUSHUI_USER)
    r = web.get("/api/cases", params={"page_size": 500}, headers=headers)
    assert r.status_code == 200
    body = r.json()
    assert body["total"] == len(mine)
    assert {i["case_id"] for i in body["items"]} == mine
    for item in body["items"]:
        assert item["county_code"] in scope.counties
        assert "address" not in item["subject"]
        if item["subject_type"] == "person" and item["subject"].get("name"):
            assert "*" in item["subject"]["name"]  # names masked in lists
        if item["subject"].get("id18"):
            assert "****" in item["subject"]["id18"]
    r = web.get("/api/cases", params={"county": city.there}, headers=headers)
    assert r.status_code == 403 and r.json()["error"] == "forbidden"

    city_wide = web.get("/api/cases", params={"page_size": 500}, headers=token(web, "w_city"))
    assert city_wide.json()["total"] == len(every)


def test_filters_and_paging_of_the_list(own: Own, web: TestClient, city: City) -> None:
    headers = token(web, "w_city")
    kind = "uninsured_pension"
    expected = [c for c in cases.list_cases(own.store, SYSTEM, kind=kind, limit=None)]
    r = web.get("/api/cases", params={"kind": kind, "page_size": 10}, headers=headers)
    assert r.json()["total"] == len(expected) > 10
    second = web.get(
        "/api/cases", params={"kind": kind, "page_size": 10, "page": 2}, headers=headers
    )
    got = [i["case_id"] for i in r.json()["items"] + second.json()["items"]]
    assert got == [c.id for c in expected[:20]] and len(set(got)) == 20
    township = next(c.township for c in expected if c.township)
    r = web.get("/api/cases", params={"township": township, "page_size": 500}, headers=headers)
    assert r.json()["total"] > 0 and {i["township"] for i in r.json()["items"]} == {township}
    paths = web.get("/api/openapi.json").json()["paths"]
    assert {"/api/cases", "/api/cases/{key}", "/api/cases/{key}/outcome"} <= set(paths)
    bad = web.get("/api/cases", params={"kind": "no_such_kind"}, headers=headers)
    assert bad.status_code == 400 and "未知的案件类型" in bad.json()["message"]
    signed_in(web, "w_city")
    page = web.get("/cases", params={"kind": kind, "county": "修水县", "state": "all"})
    shown = _ids(page.text)
    assert shown == {c.id for c in expected if c.county_code == city.here}


def test_a_xiushui_user_gets_404_for_a_xunyang_case(own: Own, web: TestClient, city: City) -> None:
    there = _cases(own, city.there)[0]
    signed_in(web, XIUSHUI_USER)
    page = web.get(f"/cases/{there.id}")
    assert page.status_code == 404 and "不在您负责的区县" in page.text
    headers = token(web, XIUSHUI_USER)
    for key in (str(there.id), there.case_key):
        r = web.get(f"/api/cases/{key}", headers=headers)
        assert r.status_code == 404 and r.json()["error"] == "not_found"
        r = web.post(
            f"/api/cases/{key}/outcome",
            json={"outcome": "联系不上", "version": there.version},
            headers=headers,
        )
        assert r.status_code == 404
    csrf = csrf_of(web)
    r = web.post(
        f"/cases/{there.id}/contact", data={"csrf_token": csrf, "version": str(there.version)}
    )
    assert r.status_code == 404
    assert cases.get_case(own.store, SYSTEM, there.id).version == there.version  # untouched
    with TestClient(own.app) as other:
        signed_in(other, "w_xunyang")
        assert other.get(f"/cases/{there.id}").status_code == 200


def test_resolving_through_the_api_changes_the_case_and_writes_its_event(
    own: Own, web: TestClient, city: City
) -> None:
    case = _open_case(own, city.here, "uninsured_pension", 0)
    headers = token(web, XIUSHUI_USER)
    body = {
        "outcome": "已参保",
        "date": "2024-03-01",
        "reason": "城乡居民养老保险",
        "note": "入户核实",
        "version": case.version,
    }
    r = web.post(f"/api/cases/{case.case_key}/outcome", json=body, headers=headers)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["state"] == "resolved" and doc["outcome"] == "enrolled"
    assert doc["outcome_label"] == "已参保" and doc["version"] == case.version + 1
    after = cases.get_case(own.store, SYSTEM, case.id)
    assert after.state == "resolved" and after.outcome == "enrolled"
    assert after.outcome_date == dt.date(2024, 3, 1)
    assert after.outcome_reason == "城乡居民养老保险" and after.outcome_note == "入户核实"
    assert after.resolved_by == XIUSHUI_USER
    event = after.events[-1]
    assert (event.action, event.actor, event.to_state) == ("resolve", XIUSHUI_USER, "resolved")
    assert event.detail["outcome"] == "enrolled"
    # the same case by its number: the next step is reopen, not a second outcome
    again = web.post(f"/api/cases/{case.id}/outcome", json={**body, "version": after.version},
                     headers=headers)  # fmt: skip
    assert again.status_code == 409 and "重新打开" in again.json()["message"]


def test_a_stale_version_answers_409_and_nothing_is_lost(
    own: Own, web: TestClient, city: City
) -> None:
    case = _open_case(own, city.here, "uninsured_pension", 1)
    read_at = case.version
    op = Actor.operator()
    cases.contact(own.store, op, SYSTEM, case.id, note="同事已电话联系", version=read_at)
    headers = token(web, XIUSHUI_USER)
    r = web.post(
        f"/api/cases/{case.id}/outcome",
        json={"outcome": "联系不上", "version": read_at},
        headers=headers,
    )
    assert r.status_code == 409 and r.json()["error"] == "conflict"
    assert "已被他人修改" in r.json()["message"]
    now = cases.get_case(own.store, SYSTEM, case.id)
    assert now.state == "contacted" and now.outcome is None

    signed_in(web, XIUSHUI_USER)
    typed = "本人在外省务工，已在当地参保"
    form = {"csrf_token": csrf_of(web), "version": str(read_at), "outcome": "insured_elsewhere",
            "reason": typed}  # fmt: skip
    page = web.post(f"/cases/{case.id}/resolve", data=form)
    assert page.status_code == 409 and "已被他人修改" in page.text
    assert typed in page.text  # what was typed comes back
    assert f'name="version" value="{now.version}"' in page.text  # to save it on purpose
    assert cases.get_case(own.store, SYSTEM, case.id).outcome is None
    fresh = {**form, "version": str(now.version)}
    done = web.post(f"/cases/{case.id}/resolve", data=fresh, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == f"/cases/{case.id}?done=resolve"
    shown = web.get(done.headers["location"])
    assert "已登记处理结果" in shown.text and "已在外地参保" in shown.text
    assert cases.get_case(own.store, SYSTEM, case.id).outcome_reason == typed


def test_an_outcome_of_another_kind_is_refused_in_chinese(
    own: Own, web: TestClient, city: City
) -> None:
    case = _open_case(own, city.here, "uninsured_pension", 2)
    assert "registered" not in outcomes.for_kind(case.kind)
    headers = token(web, XIUSHUI_USER)
    for wrong in ("单位已登记", "registered", "不存在的结果"):
        r = web.post(
            f"/api/cases/{case.id}/outcome",
            json={"outcome": wrong, "date": "2024-01-02", "version": case.version},
            headers=headers,
        )
        assert r.status_code in (400, 422)
        assert "未知的处理结果" in r.json()["message"] and "已参保" in r.json()["message"]
    missing = web.post(
        f"/api/cases/{case.id}/outcome",
        json={"outcome": "已参保", "version": case.version},
        headers=headers,
    )
    assert missing.status_code == 400 and "须填写日期" in missing.json()["message"]
    no_version = web.post(
        f"/api/cases/{case.id}/outcome", json={"outcome": "联系不上"}, headers=headers
    )
    assert no_version.status_code == 422 and "version" in no_version.json()["message"]
    assert cases.get_case(own.store, SYSTEM, case.id).version == case.version


def test_the_case_page_offers_the_outcomes_of_its_kind_and_steps_by_htmx(
    own: Own, web: TestClient, city: City
) -> None:
    case = _open_case(own, city.here, "uninsured_medical", 0)
    signed_in(web, XIUSHUI_USER)
    page = web.get(f"/cases/{case.id}")
    assert page.status_code == 200
    select = page.text.split('name="outcome"', 1)[1].split("</select>", 1)[0]
    for code, o in outcomes.for_kind(case.kind).items():
        assert f'value="{code}"' in select and o.label in select
    assert "单位已登记" not in select and "重复已清理" not in select
    assert "<script>" not in page.text and " style=" not in page.text
    csrf = csrf_of(web)
    htmx = {"HX-Request": "true", "X-CSRF-Token": csrf}
    r = web.post(
        f"/cases/{case.id}/assign",
        data={"user": XIUSHUI_USER, "version": str(case.version)},
        headers=htmx,
    )
    assert r.status_code == 200 and r.text.lstrip().startswith('<div id="case">')
    assert "已分派" in r.text and "<html" not in r.text
    assigned = cases.get_case(own.store, SYSTEM, case.id)
    assert assigned.state == "assigned" and assigned.assignee == XIUSHUI_USER
    # to a user of another county: refused with the reason, in place
    r = web.post(
        f"/cases/{case.id}/assign",
        data={"user": "w_xunyang", "note": "改派", "version": str(assigned.version)},
        headers=htmx,
    )
    assert r.status_code == 403 and "不负责该案件所在的区县" in r.text and "改派" in r.text
    # my cases: the tab lists it
    mine = web.get("/cases", params={"tab": "mine"})
    assert case.id in _ids(mine.text)
    api = web.get("/api/cases", params={"mine": "true"}, headers=token(web, XIUSHUI_USER))
    assert case.id in {i["case_id"] for i in api.json()["items"]}


def _fill(workbook: bytes, rows: dict[str, tuple[str, str]]) -> bytes:
    """Fill 处理结果 / 有效期至 of the first data rows of the first sheet: {row: (outcome, expiry)}."""
    wb = openpyxl.load_workbook(io.BytesIO(workbook))
    ws = wb.worksheets[0]
    header = {str(c.value): c.column for c in ws[1] if c.value is not None}
    for row, (outcome, expiry) in rows.items():
        ws.cell(int(row), header["处理结果"], outcome)
        if expiry:
            ws.cell(int(row), header["有效期至"], expiry)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _upload(web: TestClient, data: bytes) -> str:
    r = web.post(
        "/cases/import",
        data={"csrf_token": csrf_of(web)},
        files={"workbook": ("回填.xlsx", data, "application/octet-stream")},
    )
    assert r.status_code == 200, r.text[:500]
    return r.text


def _count(html: str, what: str) -> int:
    return int(html.split(f'id="{what}">', 1)[1].split("<", 1)[0])


def test_the_excel_round_trip_through_the_web_changes_nothing_on_reimport(
    own: Own, web: TestClient, city: City
) -> None:
    kind = "presumed_student"
    before = {c.id: c for c in _cases(own, city.here, kind)}
    signed_in(web, XIUSHUI_USER)
    r = web.get("/cases/export", params={"kind": kind})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert "attachment" in r.headers["content-disposition"]
    sheet = openpyxl.load_workbook(io.BytesIO(r.content)).worksheets[0]
    assert sheet.max_row - 1 == len([c for c in before.values() if c.is_open])
    returned = _fill(r.content, {"2": ("联系不上", ""), "3": ("在校学生", "2027-07-01"),
                                 "4": ("外星人", "")})  # fmt: skip

    first = _upload(web, returned)
    assert _count(first, "applied") == 2 and _count(first, "rejected") == 1
    assert "未知的处理结果" in first and "外星人" in first
    after = {c.id: c for c in _cases(own, city.here, kind)}
    changed = [i for i in after if after[i].version != before[i].version]
    assert len(changed) == 2 and all(after[i].state == "resolved" for i in changed)

    second = _upload(web, returned)
    assert _count(second, "applied") == 0 and _count(second, "rejected") == 1
    assert "结果相同而跳过</dt><dd>2 行" in second
    again = {c.id: c for c in _cases(own, city.here, kind)}
    assert {i: c.version for i, c in again.items()} == {i: c.version for i, c in after.items()}


def test_export_needs_a_county_in_scope_and_import_a_workbook(web: TestClient, city: City) -> None:
    signed_in(web, "w_city")
    r = web.get("/cases/export")
    assert r.status_code == 400 and "请选择要导出的区县" in r.text
    signed_in(web, XIUSHUI_USER)
    r = web.get("/cases/export", params={"county": city.there})
    assert r.status_code == 403
    r = web.post(
        "/cases/import",
        data={"csrf_token": csrf_of(web)},
        files={"workbook": ("notes.txt", b"hello", "text/plain")},
    )
    assert r.status_code == 400 and ".xlsx" in r.text
    r = web.post(
        "/cases/import",
        data={"csrf_token": csrf_of(web)},
        files={"workbook": ("坏的.xlsx", b"not a workbook", "application/octet-stream")},
    )
    assert r.status_code == 422 and "无法读取工作簿" in r.text


def test_a_reader_without_case_work_sees_cases_but_no_steps(web: TestClient) -> None:
    signed_in(web, "w_collector")  # worklist.read, not case.work (posted to 修水县)
    listing = web.get("/cases", params={"state": "all"})
    assert listing.status_code == 200 and "导入回填的工作簿" not in listing.text
    one = sorted(_ids(listing.text))[0]
    shown = web.get(f"/cases/{one}")
    assert shown.status_code == 200 and "/resolve" not in shown.text
    r = web.post(
        f"/api/cases/{one}/outcome",
        json={"outcome": "联系不上", "version": 1},
        headers=token(web, "w_collector"),
    )
    assert r.status_code == 403
