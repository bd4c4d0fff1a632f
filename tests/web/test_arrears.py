"""/arrears: the collectors' work list is :func:`canbao.collection.api.arrears` in the viewer's
scope — a 修水 user sees no employer of another county — filtered, most urgent first, paged, and
downloaded as a real xlsx of the same list (audit-logged)."""

from __future__ import annotations

import io
import re

import polars as pl
import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from canbao.collection import api as collection
from canbao.store import audit_log
from canbao.web.routes import ledger
from tests.web.conftest import signed_in
from tests.web.test_dashboard import Planned, pc, planned  # noqa: F401 - fixtures


def keys_on(html: str) -> list[str]:
    return re.findall(r'href="/employers/([^"]+)"', html)


@pytest.fixture
def city_list(planned: Planned) -> pl.DataFrame:  # noqa: F811
    from canbao.warehouse.scope import Scope

    return collection.arrears(
        planned.city.data, Scope.system("tests: the city's arrears list"), planned.as_of
    )


def test_a_xiushui_user_sees_only_xiushui_employers(
    planned: Planned,  # noqa: F811
    pc: TestClient,  # noqa: F811
    city_list: pl.DataFrame,
) -> None:
    here = planned.city.here
    elsewhere = set(city_list.filter(pl.col("county_code") != here)["employer_key"])
    assert elsewhere and city_list.filter(pl.col("county_code") == here).height > 0
    for user in ("w_xiushui", "w_collector"):
        signed_in(pc, user)
        page = pc.get("/arrears")
        assert page.status_code == 200
        shown = keys_on(page.text)
        want = collection.arrears(planned.city.data, planned.scope(user), planned.as_of)
        assert shown == want["employer_key"].to_list()  # the API's list, in its order
        assert not set(shown) & elsewhere
        assert "浔阳区" not in page.text.split('<div id="arrears"', 1)[1]
    denied = pc.get(f"/arrears?county={planned.city.there}")
    assert denied.status_code == 403 and "不在您负责的区县范围内" in denied.text


def test_the_city_list_is_sorted_filtered_and_paged(
    planned: Planned,  # noqa: F811
    pc: TestClient,  # noqa: F811
    city_list: pl.DataFrame,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    signed_in(pc, "w_city")
    keys = city_list["employer_key"].to_list()
    assert keys_on(pc.get("/arrears").text) == keys
    assert city_list["priority"].to_list() == sorted(city_list["priority"].to_list())
    monkeypatch.setattr(ledger, "PAGE_SIZE", 5)
    second = pc.get("/arrears?page=2").text
    assert keys_on(second) == keys[5:10]
    assert "第 2 / " in second and 'href="/arrears?page=3"' in second
    ageing = city_list["ageing"][0]
    filtered = pc.get("/arrears", params={"ageing": ageing, "page": "1"}).text
    want = city_list.filter(pl.col("ageing") == ageing)["employer_key"].to_list()[:5]
    assert keys_on(filtered) == want
    there = pc.get(f"/arrears?county={planned.city.there}").text
    want = city_list.filter(pl.col("county_code") == planned.city.there)
    assert keys_on(there) == want["employer_key"].to_list()[:5]
    total = int(city_list["arrears"].sum())
    assert f"{total // 100:,}.{total % 100:02d}" in pc.get("/arrears").text  # via the yuan filter
    assert pc.get("/arrears?page=0").status_code == 400


def test_the_download_is_the_same_list_as_xlsx_and_is_logged(
    planned: Planned,  # noqa: F811
    pc: TestClient,  # noqa: F811
) -> None:
    signed_in(pc, "w_xiushui")
    r = pc.get("/arrears/export")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert "attachment" in r.headers["content-disposition"]
    ws = load_workbook(io.BytesIO(r.content), read_only=True)["欠费单位"]
    rows = list(ws.iter_rows(values_only=True))
    header, data = rows[0], rows[1:]
    want = collection.arrears(planned.city.data, planned.scope("w_xiushui"), planned.as_of)
    assert len(data) == want.height > 0
    col = header.index("区县代码")
    assert {row[col] for row in data} == {planned.city.here}
    assert [row[header.index("单位主键")] for row in data] == want["employer_key"].to_list()
    money = header.index("欠费金额(元)")
    assert [row[money] for row in data] == want.select(collection.yuan_column("arrears"))[
        "arrears"
    ].to_list()  # yuan text with two decimals, as `canbao arrears` writes it
    logged = audit_log.entries(planned.store, actor="w_xiushui", action="export", limit=5)
    assert logged and logged[0].object_type == "arrears"
    assert logged[0].detail == {"rows": want.height}
    assert not list((planned.city.data / "web" / "exports").glob("*/*.xlsx"))  # removed


def test_a_leader_reads_the_city_list_with_links(
    pc: TestClient,  # noqa: F811
    city_list: pl.DataFrame,
) -> None:
    signed_in(pc, "w_leader")  # leaders hold ledger.read (read-only)
    page = pc.get("/arrears")
    assert page.status_code == 200 and keys_on(page.text) == city_list["employer_key"].to_list()


def test_without_a_session_the_list_is_not_shown(pc: TestClient) -> None:  # noqa: F811
    r = pc.get("/arrears", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert pc.get("/arrears/export", follow_redirects=False).status_code == 303
