"""人员 360: the master record masked, source records with link evidence, enrolment history,
flags, cases and ID corrections — each compared with the snapshot and the store; the full ID
only on a deliberate POST that writes exactly one audit-log entry (the person key, never the
ID); a person of another county is 404 with nothing about them.

Nothing personal is printed: IDs and names are compared as booleans and counts."""

from __future__ import annotations

import polars as pl
from fastapi.testclient import TestClient
from sqlalchemy import select

from canbao.registry import snapshot
from canbao.standards import citizen_id
from canbao.store import audit_log
from canbao.store.models import Case
from tests.web.conftest import City, signed_in, token
from tests.web.test_search import htmx, one_with_id, persons, valid_ids_in


def table(city: City, name: str) -> pl.DataFrame:
    return snapshot.require_current(city.data).scan(name).collect()


def test_the_page_and_the_api_show_the_masked_master_record(client: TestClient, city: City) -> None:
    target = one_with_id(city, city.here)
    key = str(target["person_key"])
    signed_in(client, "w_xiushui")
    page = client.get(f"/persons/{key}")
    assert page.status_code == 200
    masked = citizen_id.mask(str(target["id18"]))
    shown = masked in page.text
    named = str(target["name"]) in page.text
    assert shown and named
    assert valid_ids_in(page.text) == 0
    assert 'style="' not in page.text and "<script>" not in page.text
    assert "查看完整身份证号" in page.text and f'hx-post="/persons/{key}/reveal"' in page.text
    api = client.get(f"/api/persons/{key}", headers=token(client, "w_xiushui"))
    body = api.json()
    assert api.status_code == 200 and valid_ids_in(api.text) == 0
    assert set(body) >= {
        "person", "records", "enrolments", "flags", "cases", "corrections", "likely_records",
        "build_id",
    }  # fmt: skip
    assert body["person"]["person_key"] == key and body["person"]["id18"] == masked
    assert body["person"]["birth_year"] == str(target["birth_date"].year)  # type: ignore[attr-defined]
    assert "address" not in body["person"]
    links = table(city, "links").filter(pl.col("person_key") == key)
    assert sorted((r["source"], r["row"]) for r in body["records"]) == sorted(
        zip(links["source"], links["row"], strict=True)
    )
    assert all(r["method_label"] for r in body["records"])
    enrolled = table(city, "enrollments").filter(pl.col("person_key") == key)
    got = [e for h in body["enrolments"] for e in h["records"]]
    assert len(got) == enrolled.height
    assert {h["scheme"] for h in body["enrolments"]} == set(enrolled["scheme"])


def test_a_record_linked_by_the_model_shows_its_probability(client: TestClient, city: City) -> None:
    links = table(city, "links").filter(pl.col("method") == "model")
    key = str(links.sort("person_key")["person_key"][0])
    signed_in(client, "w_city")
    body = client.get(f"/api/persons/{key}", headers=token(client, "w_city")).json()
    model = [r for r in body["records"] if r["method"] == "model"]
    assert model and all(0 < (r["match_probability"] or 0) <= 1 for r in model)
    assert any(f["code"] == "model_linked" for f in body["flags"])


def test_id_corrections_and_death_are_flagged(client: TestClient, city: City) -> None:
    corr = table(city, "id_corrections")
    key = str(corr.sort("person_key")["person_key"][0])
    signed_in(client, "w_city")
    headers = token(client, "w_city")
    body = client.get(f"/api/persons/{key}", headers=headers).json()
    mine = corr.filter(pl.col("person_key") == key)
    assert len(body["corrections"]) == mine.height
    assert any(f["code"] == "id_corrected" for f in body["flags"])
    assert valid_ids_in(str(body)) == 0
    dead = persons(city).filter(pl.col("death_date").is_not_null()).sort("person_key")
    body = client.get(f"/api/persons/{dead['person_key'][0]}", headers=headers).json()
    assert any(f["code"] == "deceased" for f in body["flags"])
    assert body["person"]["death_date"] == dead["death_date"][0].isoformat()


def test_the_cases_of_the_person_are_listed_for_readers_of_cases(
    client: TestClient,
    city: City,
    app,  # type: ignore[no-untyped-def]
) -> None:
    with app.state.canbao.store.sessions() as s:
        case = s.execute(
            select(Case).where(Case.subject_type == "person").order_by(Case.id).limit(1)
        ).scalar_one()
        key, case_id = case.subject_key, case.id
        count = len(s.execute(select(Case.id).where(Case.subject_key == key)).all())
    signed_in(client, "w_city")
    body = client.get(f"/api/persons/{key}", headers=token(client, "w_city")).json()
    assert case_id in {c["id"] for c in body["cases"]} and len(body["cases"]) == count
    assert any(f["code"].startswith("case:") for f in body["flags"])
    page = client.get(f"/persons/{key}")
    assert f'href="/cases/{case_id}"' in page.text
    signed_in(client, "w_auditor")  # no worklist.read: no cases, the rest of the page
    audit = client.get(f"/api/persons/{key}", headers=token(client, "w_auditor")).json()
    assert audit["cases"] is None and audit["person"]["person_key"] == key


def test_reveal_writes_one_audit_entry_and_returns_the_full_id(
    client: TestClient,
    city: City,
    app,  # type: ignore[no-untyped-def]
) -> None:
    store = app.state.canbao.store
    target = one_with_id(city, city.here)
    key, full = str(target["person_key"]), str(target["id18"])
    signed_in(client, "w_xiushui")
    before = audit_log.head(store)[0]
    r = client.post(f"/persons/{key}/reveal", headers=htmx(client))
    assert r.status_code == 200 and "<html" not in r.text
    revealed = full in r.text
    assert revealed and "审计日志" in r.text
    entries = [e for e in audit_log.entries(store, action="person.reveal") if e.id > before]
    assert len(entries) == 1
    e = entries[0]
    assert (e.actor, e.action, e.object_type, list(e.object_keys)) == (
        "w_xiushui", "person.reveal", "person", [key],
    )  # fmt: skip
    assert "id18" in e.fields
    leaked = full in f"{e.detail}{e.object_keys}{e.fields}{e.client}"
    assert not leaked
    # without JS: a form post with the token gives a page with the same fragment
    csrf = htmx(client)["X-CSRF-Token"]
    page = client.post(f"/persons/{key}/reveal", data={"csrf_token": csrf})
    assert page.status_code == 200 and "<html" in page.text and "返回人员信息" in page.text
    again = [e for e in audit_log.entries(store, action="person.reveal") if e.id > before]
    assert len(again) == 2


def test_reveal_is_refused_without_csrf_permission_or_scope(
    client: TestClient,
    city: City,
    app,  # type: ignore[no-untyped-def]
) -> None:
    store = app.state.canbao.store
    here, there = one_with_id(city, city.here), one_with_id(city, city.there)
    before = audit_log.head(store)[0]
    signed_in(client, "w_xiushui")
    assert client.post(f"/persons/{here['person_key']}/reveal").status_code == 403  # no CSRF
    r = client.post(f"/persons/{there['person_key']}/reveal", headers=htmx(client))
    assert r.status_code == 404
    signed_in(client, "w_collector")  # person.read but not person.reveal
    r = client.post(f"/persons/{here['person_key']}/reveal", headers=htmx(client))
    assert r.status_code == 403
    page = client.get(f"/persons/{here['person_key']}")
    assert page.status_code == 200 and "查看完整身份证号" not in page.text
    reveals = [e for e in audit_log.entries(store, action="person.reveal") if e.id > before]
    assert reveals == []  # nothing was revealed, nothing logged


def test_a_xiushui_user_gets_404_for_a_xunyang_person(client: TestClient, city: City) -> None:
    there = one_with_id(city, city.there)
    key = str(there["person_key"])
    signed_in(client, "w_xiushui")
    page = client.get(f"/persons/{key}")
    assert page.status_code == 404 and "不在您负责的区县" in page.text
    leaked = str(there["name"]) in page.text or citizen_id.mask(str(there["id18"])) in page.text
    assert not leaked
    api = client.get(f"/api/persons/{key}", headers=token(client, "w_xiushui"))
    assert api.status_code == 404 and set(api.json()) >= {"error", "message"}
    assert "person" not in api.json()
    assert client.get("/persons/no-such-key!").status_code == 404
    signed_in(client, "w_xunyang")
    assert client.get(f"/persons/{key}").status_code == 200


def test_roles_without_person_read_get_403(client: TestClient) -> None:
    signed_in(client, "w_leader")
    assert client.get("/persons/P0000000000000000").status_code == 403
    leader = token(client, "w_leader")
    assert client.get("/api/persons/P0000000000000000", headers=leader).status_code == 403


def test_the_openapi_schema_describes_the_person_360(client: TestClient) -> None:
    schema = client.get("/api/openapi.json").json()
    assert "/api/persons/{person_key}" in schema["paths"] and "/api/persons" in schema["paths"]
    props = schema["components"]["schemas"]["Person360"]["properties"]
    assert {"person", "records", "enrolments", "flags", "cases", "corrections"} <= set(props)
