"""The compliance API on the web tests' synthetic city: known answers computed independently from
the ledger, batch = singles, keys (revoked, without the scope, without a purpose), staff tokens
and county scope, nothing personal in any answer, the audit row of every call, the 严重失信
listing apart from arrears, the quota shared by two app instances over one database, and the
command line."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import polars as pl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from canbao.cli import run as cli_main
from canbao.collection import api as collection_api
from canbao.collection import published
from canbao.compliance import bands, listings, quota, standing
from canbao.compliance.answer import ComplianceAnswer
from canbao.compliance.standing import STANDINGS
from canbao.registry import snapshot
from canbao.standards import citizen_id
from canbao.standards.credit_code import make_uscc
from canbao.store import Actor, accounts, open_store
from canbao.store.db import Store
from canbao.store.models import ApiKey, AuditEntry
from canbao.warehouse.scope import Scope
from canbao.web import create_app
from canbao.web.routes.compliance import QUOTA_KEY
from tests.web.conftest import City, token

SYSTEM = Scope.system("compliance tests: expected answers")
PURPOSE = "劳务派遣行政许可审批"
ANSWERS: list[str] = []  # every response body of this module (checked for personal data)


@pytest.fixture(scope="module")
def dept(web_store: Store) -> dict[str, str]:
    """A department key with the scope and a registered purpose."""
    _row, key = accounts.add_key(
        web_store, Actor.operator(), "t_labour", scopes=["compliance:read"], purpose=PURPOSE
    )
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module")
def expected(city: City) -> dict[str, Any]:
    """Per credit code, what the answer must say, computed from the city-wide ledger (the
    collection API) with plain Polars: arrears = positive balances past due."""
    day = published.data_as_of(city.data)
    assert day is not None
    rows = collection_api.ledger(city.data, SYSTEM, day)
    owed = pl.col("balance") > 0
    # the ledger export has no days_past_due: past due = due date before the as-of date
    owed = owed & (pl.col("due_date") < day)
    per = rows.group_by("credit_code").agg(
        arrears=pl.col("balance").filter(owed).sum(),
        oldest=pl.col("period").filter(owed).min(),
        months=pl.col("period").filter(owed).n_unique(),
        schemes=pl.col("scheme").unique().sort(),
        employer_key=pl.col("employer_key").first(),
        county=pl.col("county_code").first(),
    )
    return {"day": day, "per": {r["credit_code"]: r for r in per.to_dicts()}}


def _get(client: TestClient, code: str, headers: dict[str, str]) -> Any:
    r = client.get(f"/api/compliance/{code}", headers=headers)
    ANSWERS.append(r.text)
    return r


def _pick(expected: dict[str, Any], debt: bool) -> dict[str, Any]:
    rows = [r for r in expected["per"].values() if (r["arrears"] > 0) == debt]
    return max(rows, key=lambda r: (r["arrears"], r["credit_code"]))


def test_known_answers_from_the_ledger(
    client: TestClient, dept: dict[str, str], expected: dict[str, Any], city: City
) -> None:
    day = expected["day"]
    debtor, clean = _pick(expected, True), _pick(expected, False)
    r = _get(client, debtor["credit_code"], dept)
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["request_id"] == r.headers["X-Request-Id"]
    assert got["arrears_status"] in ("arrears", "arrears_under_agreement")
    assert got["arrears_band"] == bands.band_of(debtor["arrears"]).code != "none"
    assert got["arrears_band_label"] == bands.band_of(debtor["arrears"]).label
    assert got["oldest_period"] == debtor["oldest"]
    assert got["months_in_arrears"] == debtor["months"] > 0
    assert got["schemes"] == debtor["schemes"]
    assert got["as_of"] == day.isoformat()
    assert set(got) == set(ComplianceAnswer.model_fields)  # no amount field
    assert str(debtor["arrears"]) not in r.text  # the exact fen amount never appears
    # the same employer through the engine (collection.api.compliance): the same standing
    full = collection_api.compliance(city.data, SYSTEM, debtor["employer_key"], day)
    assert got["registered"] == full["registered"]
    assert got["oldest_period"] == full["oldest_period"]
    assert got["arrears_band"] == bands.band_of(full["arrears_fen"]).code
    r = _get(client, clean["credit_code"], dept)
    assert r.status_code == 200
    got = r.json()
    assert (got["arrears_status"], got["arrears_band"]) == ("none", "none")
    assert got["oldest_period"] is None and got["months_in_arrears"] == 0
    assert got["credit_listing"] == {"listed": False, "entries": []}


def test_unknown_and_invalid_codes(client: TestClient, dept: dict[str, str]) -> None:
    unknown = make_uscc("9", "1", "360402", "99999990")
    r = _get(client, unknown, dept)
    assert r.status_code == 404 and "未找到" in r.json()["message"]
    assert re.fullmatch(r"[0-9a-f-]{36}", r.json()["request_id"])
    bad = unknown[:-1] + ("0" if unknown[-1] != "0" else "1")  # a wrong check character
    r = _get(client, bad, dept)
    assert r.status_code == 422
    assert (
        r.json()["message"].startswith("统一社会信用代码无效") and "校验码" in r.json()["message"]
    )
    r = _get(client, "12345", dept)
    assert r.status_code == 422 and "位数" in r.json()["message"]


def test_batch_equals_singles(
    client: TestClient, dept: dict[str, str], expected: dict[str, Any]
) -> None:
    codes = sorted(expected["per"])[:40]
    n = len(codes)
    assert n >= 20
    codes += [make_uscc("9", "1", "360402", "99999980"), "NOT-A-CODE", codes[0].lower()]
    r = client.post("/api/compliance/batch", json={"credit_codes": codes}, headers=dept)
    ANSWERS.append(r.text)
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["asked"] == len(codes) and got["request_id"] == r.headers["X-Request-Id"]
    items = got["items"]
    assert [i["index"] for i in items] == list(range(len(codes)))
    assert items[-3]["result"] == "not_found" and items[-3]["message"] == "未找到"
    assert items[-2]["result"] == "invalid" and items[-2]["credit_code"] is None
    assert items[-2]["message"].startswith("代码无效")
    assert items[-1]["result"] == "found" and items[-1]["credit_code"] == codes[0]  # normalised
    assert got["found"] == sum(1 for i in items if i["result"] == "found") == n + 1
    for code, item in zip(codes[:n], items[:n], strict=True):
        single = _get(client, code, dept).json()
        single.pop("request_id")
        assert item["standing"] == single, code
    too_many = client.post(
        "/api/compliance/batch", json={"credit_codes": codes[:1] * 1001}, headers=dept
    )
    assert too_many.status_code == 422


def test_keys_revoked_without_scope_or_purpose(client: TestClient, web_store: Store) -> None:
    op = Actor.operator()
    code = "91360424329622753F"
    _row, revoked = accounts.add_key(web_store, op, "t_revoked", purpose=PURPOSE)
    assert client.get(f"/api/compliance/{code}", headers=_bearer(revoked)).status_code != 401
    accounts.revoke_key(web_store, op, "t_revoked")
    r = client.get(f"/api/compliance/{code}", headers=_bearer(revoked))
    assert r.status_code == 401 and r.json()["error"] == "auth"
    assert client.get(f"/api/compliance/{code}", headers=_bearer("cbk_forged")).status_code == 401
    assert client.get(f"/api/compliance/{code}").status_code == 401
    # a key issued before scopes existed (migration 0006 left it none): refused
    _row, bare = accounts.add_key(web_store, op, "t_noscope", purpose=PURPOSE)
    with web_store.transaction() as s:
        s.execute(update(ApiKey).where(ApiKey.name == "t_noscope").values(scopes=[]))
    r = client.get(f"/api/compliance/{code}", headers=_bearer(bare))
    assert r.status_code == 403 and "compliance:read" in r.json()["message"]
    # no purpose registered and none sent: 400; sent: answered
    _row, silent = accounts.add_key(web_store, op, "t_nopurpose")
    r = client.get(f"/api/compliance/{code}", headers=_bearer(silent))
    assert r.status_code == 400 and "用途" in r.json()["message"]
    r = client.get(
        f"/api/compliance/{code}", headers={**_bearer(silent), "X-Purpose": quote("年检")}
    )
    assert r.status_code in (200, 404)


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_staff_tokens_and_county_scope(
    client: TestClient, city: City, expected: dict[str, Any]
) -> None:
    here = next(r for r in expected["per"].values() if r["county"] == city.here)
    there = next(r for r in expected["per"].values() if r["county"] == city.there)
    city_user = token(client, "w_city")
    assert _get(client, there["credit_code"], city_user).status_code == 200
    county_user = token(client, "w_xiushui")
    assert _get(client, here["credit_code"], county_user).status_code == 200
    r = _get(client, there["credit_code"], county_user)  # another county's employer
    assert r.status_code == 404 and "employer_name" not in r.text


def test_every_call_is_audit_logged(
    client: TestClient, dept: dict[str, str], web_store: Store, expected: dict[str, Any]
) -> None:
    code = _pick(expected, True)["credit_code"]
    purpose = "评先评优资格审查"
    r = client.get(f"/api/compliance/{code}", headers={**dept, "X-Purpose": quote(purpose)})
    assert r.status_code == 200
    rid = r.headers["X-Request-Id"]
    r2 = client.post("/api/compliance/batch", json={"credit_codes": [code, "x"]}, headers=dept)
    rid2 = r2.headers["X-Request-Id"]
    with web_store.sessions() as s:
        rows = s.execute(
            select(AuditEntry).where(AuditEntry.action == "compliance.query")
        ).scalars().all()  # fmt: skip
    one = next(e for e in rows if e.detail.get("request_id") == rid)
    assert (one.actor, one.role, one.object_keys) == ("t_labour", "department", [code])
    assert one.detail["purpose"] == purpose and one.detail["found"] == 1
    assert "arrears_band" in one.fields and "credit_listing" in one.fields
    two = next(e for e in rows if e.detail.get("request_id") == rid2)
    assert two.detail["purpose"] == PURPOSE  # the key's registered purpose
    assert (two.detail["asked"], two.detail["found"], two.detail["invalid"]) == (2, 1, 1)
    assert two.object_keys == []  # a batch logs the count, not the codes


def test_a_listing_is_separate_from_arrears(
    client: TestClient, dept: dict[str, str], web_store: Store, expected: dict[str, Any]
) -> None:
    clean, debtor = _pick(expected, False), _pick(expected, True)
    staff = Actor("w_city", "city_staff")
    day = dt.date.today()
    made = listings.list_employer(
        web_store, staff, clean["credit_code"], "injury_advance_unpaid", "", "九人社失信〔2018〕1号",
        day - dt.timedelta(days=1), day + dt.timedelta(days=365), "拒不偿还先行支付的工伤保险待遇",
    )  # fmt: skip
    got = _get(client, clean["credit_code"], dept).json()
    assert got["arrears_status"] == "none"  # no arrears, yet listed
    assert got["credit_listing"]["listed"] is True
    entry = got["credit_listing"]["entries"][0]
    assert entry["ground"] == "injury_advance_unpaid" and "第（七）项" in entry["legal_basis"]
    assert entry["decision_no"] == "九人社失信〔2018〕1号"
    debt = _get(client, debtor["credit_code"], dept).json()
    assert debt["arrears_status"] != "none" and debt["credit_listing"]["listed"] is False
    listings.withdraw(web_store, staff, made.id, "信用修复")
    assert _get(client, clean["credit_code"], dept).json()["credit_listing"]["listed"] is False


def test_nothing_personal_in_any_answer(
    city: City, client: TestClient, dept: dict[str, str], expected: dict[str, Any]
) -> None:
    """Every answer of this module (and a batch of every employer of the city) holds no valid
    citizen ID and no person's ID or name of the registry."""
    every = sorted(expected["per"])
    r = client.post("/api/compliance/batch", json={"credit_codes": every}, headers=dept)
    assert r.status_code == 200 and r.json()["found"] == len(every)
    ANSWERS.append(r.text)
    ANSWERS.extend(_get(client, code, dept).text for code in every[:10])
    text = "\n".join(ANSWERS)
    persons = snapshot.require_current(city.data).scan("persons").select("id18", "name").collect()
    ids = set(persons["id18"].drop_nulls().to_list())
    names = {n for n in persons["name"].drop_nulls().to_list() if len(n) >= 2}
    found_ids = set(re.findall(r"(?<![0-9A-Z])[0-9]{17}[0-9X](?![0-9A-Z])", text))
    assert not {i for i in found_ids if citizen_id.check(i).valid}
    assert not found_ids & ids
    values: set[str] = set()

    def walk(doc: Any) -> None:
        if isinstance(doc, dict):
            for v in doc.values():
                walk(v)
        elif isinstance(doc, list):
            for v in doc:
                walk(v)
        elif isinstance(doc, str):
            values.add(doc)

    for body in ANSWERS:
        walk(json.loads(body))
    assert len(values) > 50  # employer names, codes, labels, dates: the check saw answers
    assert not values & names  # no person's name is a value of any answer


@pytest.fixture
def two_apps(city: City, web_store: Store) -> Iterator[tuple[TestClient, TestClient]]:
    """Two app instances over one database, each with its own store (connection pool)."""
    other = open_store(city.data)
    apps = [create_app(city.data, store=web_store, warm=False),
            create_app(city.data, store=other, warm=False)]  # fmt: skip
    for a in apps:
        a.state.canbao.extra[QUOTA_KEY] = quota.Quota(codes=5, window=600)
    with (
        TestClient(apps[0], raise_server_exceptions=False) as c1,
        TestClient(apps[1], raise_server_exceptions=False) as c2,
    ):
        yield c1, c2
    other.dispose()


def test_the_quota_holds_across_two_app_instances(
    two_apps: tuple[TestClient, TestClient], web_store: Store, expected: dict[str, Any]
) -> None:
    c1, c2 = two_apps
    _row, key = accounts.add_key(web_store, Actor.operator(), "t_quota", purpose=PURPOSE)
    code = sorted(expected["per"])[0]
    codes = [r.status_code for r in (c1.get(f"/api/compliance/{code}", headers=_bearer(key))
                                     for _ in range(3))]  # fmt: skip
    r = c2.post("/api/compliance/batch", json={"credit_codes": [code, code]},
                headers=_bearer(key))  # fmt: skip
    assert codes == [200, 200, 200] and r.status_code == 200  # 5 codes: the quota
    for c in (c2, c1):
        r = c.get(f"/api/compliance/{code}", headers=_bearer(key))
        assert r.status_code == 429 and 0 < int(r.headers["Retry-After"]) <= 600
        assert r.json()["error"] == "rate_limited"
    # another key has its own quota
    _row, other = accounts.add_key(web_store, Actor.operator(), "t_quota2", purpose=PURPOSE)
    assert c2.get(f"/api/compliance/{code}", headers=_bearer(other)).status_code == 200


def test_the_index_is_written_per_build(city: City) -> None:
    index = STANDINGS.current(city.data)
    build = snapshot.require_current(city.data).build_id
    assert index.build_id == build
    assert (city.data / "compliance" / build / "standing.parquet").exists()
    assert STANDINGS.current(city.data) is index  # held: no recomputation


def test_cli_show_and_listings(
    city: City, expected: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    code = _pick(expected, True)["credit_code"]
    dd = ["--data-dir", str(city.data)]
    assert cli_main(["compliance", "show", code, "--json", *dd]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["credit_code"] == code and got["arrears_status"] != "none"
    elsewhere = next(r["credit_code"] for r in expected["per"].values()
                     if r["county"] != city.there)  # fmt: skip
    assert cli_main(["compliance", "show", elsewhere, "--as", "w_xunyang", *dd]) == 1
    assert "未找到" in capsys.readouterr().err  # a county user: their counties only
    assert cli_main(["compliance", "show", code, *dd]) == 0
    shown = capsys.readouterr().out
    assert "欠费金额区间" in shown and "严重失信名单：未列入" in shown
    # a collector may not list; a city user may, citing the ground
    args = ["credit-listing", "add", code, "--ground", "unregistered_after_penalty",
            "--decision-no", "九人社失信〔2018〕2号", "--on", "2018-01-15", *dd]  # fmt: skip
    assert cli_main([*args, "--as", "w_collector"]) == 1
    assert "没有权限" in capsys.readouterr().err
    assert cli_main([*args, "--as", "w_city", "--json"]) == 0
    made = json.loads(capsys.readouterr().out)
    assert made["ground"] == "unregistered_after_penalty" and made["decided_by"] == "w_city"
    assert cli_main(["credit-listing", "list", "--code", code, "--json", *dd]) == 0
    assert str(made["id"]) in capsys.readouterr().out
    assert cli_main(["credit-listing", "withdraw", str(made["id"]), "--note", "决定撤销",
                     "--as", "w_city", *dd]) == 0  # fmt: skip
    store = open_store(city.data)
    try:
        assert listings.listings(store, code, active_on=dt.date.today()) == []
    finally:
        store.dispose()


def test_the_index_from_the_published_ledger_equals_the_computed_one(
    city: City, tmp_path: Path
) -> None:
    """The web city's build has no published ledger (the index computes one); a copy with the
    ledger `canbao build` publishes gives the same index."""
    copy = tmp_path / "data"
    shutil.copytree(city.data, copy, ignore=shutil.ignore_patterns("compliance", "store.sqlite3*"))
    assert published.publish(copy) is not None
    snap = snapshot.require_current(copy)
    from_file, day, source = standing.compute(copy, snap)
    assert source == "published"
    computed, day2, source2 = standing.compute(city.data, snapshot.require_current(city.data))
    assert source2 == "computed" and day == day2
    assert from_file.sort("credit_code").equals(computed.sort("credit_code"))
    assert from_file.height > 0 and set(from_file["arrears_band"]) >= {"none"}
