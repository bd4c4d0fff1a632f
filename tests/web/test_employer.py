"""单位 360: registration, headcount by month, declarations, the ledger with arrears and late
fees, agreements, dunning steps, compliance flags and cases — the figures are the employer's
part of the city-wide ones (the ledger of :func:`canbao.collection.api.ledger`, the compliance
status, the employer work lists), an employer of another county is 404, and the page carries
no inline script or style."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from fastapi.testclient import TestClient

from canbao.collection import agreements, dunning, published
from canbao.collection import api as collection_api
from canbao.coverage import api as coverage_api
from canbao.coverage import employers as coverage_employers
from canbao.registry import snapshot
from canbao.standards.money import yuan_text
from canbao.store import Actor, accounts, open_store
from canbao.store.scopes import scope_for
from canbao.warehouse.scope import Scope
from canbao.web import create_app
from tests.store.conftest import url_for
from tests.web.conftest import PASSWORD, City, signed_in, token
from tests.web.test_search import counties_of, valid_ids_in

SYSTEM = Scope.system("web employer tests: the city-wide figures")


def employers(city: City) -> pl.DataFrame:
    return snapshot.require_current(city.data).scan("employers").collect()


def with_arrears(city: City, county: str) -> tuple[str, dt.date]:
    """An employer of ``county`` with arrears, and the data's as-of date."""
    day = published.data_as_of(city.data)
    assert day is not None
    owing = collection_api.arrears(city.data, SYSTEM, day)
    keys = owing.filter(pl.col("county_code") == county).sort("employer_key")["employer_key"]
    return str(keys[0]), day


def test_the_ledger_on_the_page_is_the_citys_ledger_for_the_employer(
    client: TestClient, city: City
) -> None:
    key, day = with_arrears(city, city.here)
    mine = scope_for(Actor("w_xiushui", "county_staff", (city.here,)), city.profile)
    rows = collection_api.ledger(city.data, mine, day).filter(pl.col("employer_key") == key)
    signed_in(client, "w_xiushui")
    body = client.get(f"/api/employers/{key}", headers=token(client, "w_xiushui")).json()
    ledger = body["ledger"]
    assert ledger["as_of"] == day.isoformat() and body["as_of"] == day.isoformat()
    assert ledger["total_balance"] == int(rows["balance"].sum())
    assert ledger["total_late_fee"] == int(rows["late_fee"].sum())
    assert ledger["total_due"] == int(rows["due"].sum()) and len(ledger["rows"]) == rows.height
    got = sorted((r["scheme"], r["period"], r["balance"]) for r in ledger["rows"])
    assert got == sorted(zip(rows["scheme"], rows["period"], rows["balance"], strict=True))
    status = collection_api.compliance(city.data, mine, key, day)
    assert ledger["status"] == status and status["arrears_fen"] > 0
    assert any(f["code"] == "arrears" for f in body["flags"])
    page = client.get(f"/employers/{key}")
    assert page.status_code == 200
    balance = re.search(r'id="ledger-balance">([^<]+)<', page.text)
    assert balance is not None
    assert balance.group(1) == yuan_text(int(rows["balance"].sum()), thousands=True)
    assert yuan_text(status["arrears_fen"], thousands=True) in page.text
    assert 'class="chart" data-option=' in page.text
    assert 'style="' not in page.text and "<script>" not in page.text
    assert valid_ids_in(page.text) == 0


def test_the_employer_session_gives_the_city_wide_lists_and_months(city: City) -> None:
    day = published.data_as_of(city.data)
    whole = coverage_api.gap_lists(city.data, SYSTEM, kind="employers", as_of=day)
    with coverage_api.session(city.data, SYSTEM, day) as s:
        s.ensure("activity", coverage_employers.build_activity)
        tax = s.frame("SELECT * FROM employer_tax_month")
        declared = s.frame("SELECT * FROM employer_decl_month")
    checked = 0
    for key in employers(city)["employer_key"].to_list():
        with coverage_api.employer_session(city.data, SYSTEM, key, day) as s:
            lists = coverage_api.employer_lists_in(s)
            months = coverage_api.employer_months_in(s)
        for name, frame in lists.items():
            expected = whole[name].filter(pl.col("employer_key") == key)
            assert frame.sort(frame.columns).equals(expected.sort(frame.columns)), (key, name)
            checked += frame.height
        t = tax.filter(pl.col("employer_key") == key).drop("employer_key").sort("period")
        assert months["tax"].equals(t.select(months["tax"].columns)), key
        d = declared.filter(pl.col("employer_key") == key).drop("employer_key")
        cols = months["declared"].columns
        assert months["declared"].equals(d.select(cols).sort("period", "scheme")), key
    assert checked > 0  # the city has employers on the lists


def test_headcount_declarations_and_registration(client: TestClient, city: City) -> None:
    key, day = with_arrears(city, city.here)
    signed_in(client, "w_xiushui")
    body = client.get(f"/api/employers/{key}", headers=token(client, "w_xiushui")).json()
    reg = employers(city).filter(pl.col("employer_key") == key).row(0, named=True)
    assert body["employer"]["credit_code"] == reg["credit_code"]
    assert body["employer"]["county_name"] == "修水县"
    assert body["months"] and all(m["period"].startswith(str(day.year)) for m in body["months"])
    assert body["declarations"] and {d["scheme"] for d in body["declarations"]} <= set(
        s for m in body["months"] for s in m["declared"]
    )
    links = snapshot.require_current(city.data).scan("employer_links").collect()
    assert (
        sum(s["records"] for s in body["sources"])
        == links.filter(pl.col("employer_key") == key).height
    )
    assert set(body) >= {
        "employer", "sources", "enrolled", "months", "declarations", "flags", "ledger",
        "agreements", "dunning", "cases", "as_of", "build_id",
    }  # fmt: skip


def test_a_xiushui_user_gets_404_for_a_xunyang_employer(client: TestClient, city: City) -> None:
    mine = counties_of(city, "w_xiushui")
    other = employers(city).filter(~pl.col("county_code").is_in(sorted(mine))).sort("employer_key")
    key = str(other["employer_key"][0])
    signed_in(client, "w_xiushui")
    page = client.get(f"/employers/{key}")
    assert page.status_code == 404 and "不在您负责的区县" in page.text
    assert str(other["name"][0]) not in page.text
    api = client.get(f"/api/employers/{key}", headers=token(client, "w_xiushui"))
    assert api.status_code == 404 and "employer" not in api.json()
    assert client.get("/employers/Enosuchemployer").status_code == 404
    signed_in(client, "w_city")
    assert client.get(f"/employers/{key}").status_code == 200


def test_what_each_role_sees(client: TestClient, city: City) -> None:
    key, _day = with_arrears(city, city.here)
    signed_in(client, "w_leader")  # ledger.read, no worklist.read
    leader = client.get(f"/api/employers/{key}", headers=token(client, "w_leader")).json()
    assert leader["ledger"] is not None and leader["cases"] is None
    signed_in(client, "w_city")
    staff = client.get(f"/api/employers/{key}", headers=token(client, "w_city")).json()
    assert staff["cases"] is not None and staff["agreements"] is not None


@pytest.fixture(scope="module")
def own_store_app(city: City, tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """The city with a store of its own (agreements and dunning cases recorded there)."""
    tmp: Path = tmp_path_factory.mktemp("employer-store")
    store = open_store(tmp, url_for("sqlite", tmp), upgrade=True)
    op = Actor.operator()
    accounts.add_user(store, op, "e_city", "city_staff", PASSWORD, [])
    yield create_app(city.data, store=store), store
    store.dispose()


def test_agreements_and_dunning_steps_are_shown(
    own_store_app: tuple[object, object], city: City
) -> None:
    app, store = own_store_app
    key, day = with_arrears(city, city.here)
    reg = employers(city).filter(pl.col("employer_key") == key).row(0, named=True)
    who = dunning.Employer(key, reg["name"], reg["credit_code"], reg["county_code"])
    actor = Actor("e_city", "city_staff")
    status = collection_api.compliance(city.data, SYSTEM, key, day)
    scheme = status["schemes"][0]
    case = dunning.start(
        store, actor, SYSTEM, who, [scheme], status["arrears_fen"],  # type: ignore[arg-type]
        on=day, doc_no="九人社催〔2018〕1号",
    )  # fmt: skip
    agreements.propose(
        store, actor, SYSTEM, who, [scheme], "instalment", status["arrears_fen"],  # type: ignore[arg-type]
        guarantee_note="法定代表人书面承诺", instalments=3, first_due=day + dt.timedelta(days=31),
        case_id=case.id,
    )  # fmt: skip
    with TestClient(app, raise_server_exceptions=False) as c:  # type: ignore[arg-type]
        signed_in(c, "e_city")
        body = c.get(f"/api/employers/{key}", headers=token(c, "e_city")).json()
        assert [d["id"] for d in body["dunning"]] == [case.id]
        assert body["dunning"][0]["steps"][0]["kind"] == "notice"
        assert body["agreements"][0]["status"] == "proposed"
        assert len(body["agreements"][0]["instalments"]) == 3
        assert body["ledger"]["status"]["agreement_status"] == "待批准"
        page = c.get(f"/employers/{key}")
        assert "九人社催〔2018〕1号" in page.text and "分期缴纳" in page.text
