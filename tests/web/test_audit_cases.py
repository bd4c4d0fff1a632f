"""稽核案件 in the browser: open a case on an employer of the registry, record the on-site audit
with a findings sheet, finish (a stale version is 409 in Chinese), download both documents;
county scope (an auditor of another county gets 404, county staff 403).

The steps change the store, so this module works on its own copy of the shared city."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from canbao.audit import cases as audit_cases
from canbao.registry import snapshot
from canbao.store import Actor, accounts, open_store
from canbao.store.db import Store
from canbao.warehouse.scope import Scope
from canbao.web import create_app
from tests.web.conftest import PASSWORD, City, csrf_of, signed_in

SYSTEM = Scope.system("web audit case tests: check what the pages did")


@dataclass
class Own:
    app: FastAPI
    store: Store
    data: Path
    employer: dict[str, str]


@pytest.fixture(scope="module")
def own(city: City, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Own]:
    data = tmp_path_factory.mktemp("web-audit") / "data"
    shutil.copytree(city.data, data)
    store = open_store(data)
    op = Actor.operator()
    accounts.add_user(store, op, "w_aud_here", "auditor", PASSWORD, [city.here])
    accounts.add_user(store, op, "w_aud_there", "auditor", PASSWORD, [city.there])
    emp = (
        snapshot.require_current(data)
        .scan("employers")
        .filter(pl.col("county_code") == city.here)
        .select("employer_key", "name", "credit_code")
        .head(1)
        .collect()
        .to_dicts()[0]
    )
    yield Own(create_app(data, store=store), store, data, {k: str(v) for k, v in emp.items()})
    store.dispose()


@pytest.fixture
def web(own: Own) -> Iterator[TestClient]:
    with TestClient(own.app, raise_server_exceptions=False) as c:
        yield c


def test_an_audit_case_through_the_pages(web: TestClient, own: Own, city: City) -> None:
    signed_in(web, "w_aud_here")
    csrf = csrf_of(web)
    assert web.get("/audit/cases").status_code == 200
    r = web.post(
        "/audit/cases",
        data={"csrf_token": csrf, "employer": own.employer["employer_key"], "notice_on":
              "2017-06-01", "visit_on": "2017-06-02", "period_from": "2017-01",
              "period_to": "2017-05"},
        follow_redirects=False,
    )  # fmt: skip
    assert r.status_code == 400 and "3 日前" in r.text  # and what was typed comes back
    assert own.employer["employer_key"] in r.text
    r = web.post(
        "/audit/cases",
        data={"csrf_token": csrf, "employer": own.employer["employer_key"], "notice_on":
              "2017-06-01", "visit_on": "2017-06-05", "period_from": "2017-01",
              "period_to": "2017-05", "matter_base": "1", "auditors": "何稽核，陆稽核"},
        follow_redirects=False,
    )  # fmt: skip
    assert r.status_code == 303, r.text[:500]
    url = r.headers["location"].split("?")[0]
    cid = int(url.rsplit("/", 1)[1])
    page = web.get(url)
    assert page.status_code == 200 and own.employer["name"] in page.text
    sheet = (
        "类别,人员编号,姓名,险种,费款所属期,申报基数,核定基数\n"
        "基数,P1,张三丰,养老保险,2017-03,3000,4000\n"
    ).encode()
    r = web.post(
        f"{url}/record",
        data={"csrf_token": csrf, "version": "1", "visited_on": "2017-06-05", "note": "查工资表"},
        files={"findings": ("findings.csv", sheet, "text/csv")},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text[:500]
    c = audit_cases.view(own.store, SYSTEM, cid)
    assert (c.state, c.unpaid_fen, c.opinion_due) == ("recorded", 27_000, c.opinion_due)
    r = web.post(f"{url}/finish", data={"csrf_token": csrf, "version": "1", "on": "2017-06-16",
                                       "rectify_by": "2017-07-16"})  # fmt: skip
    assert r.status_code == 409 and "已被他人修改" in r.text
    r = web.post(
        f"{url}/finish",
        data={"csrf_token": csrf, "version": str(c.version), "on": "2017-06-16",
              "rectify_by": "2017-07-16"},
        follow_redirects=False,
    )  # fmt: skip
    assert r.status_code == 303, r.text[:500]
    page = web.get(url)
    assert "张三丰" in page.text and "已作出稽核结论" in page.text
    for which in ("notice", "opinion"):
        d = web.get(f"{url}/document/{which}")
        assert d.status_code == 200 and d.content[:2] == b"PK"
        assert "wordprocessingml" in d.headers["content-type"]
    listed = web.get("/audit/cases?state=all")
    assert f"#{cid}" in listed.text and "张三丰" not in listed.text

    there = TestClient(own.app, raise_server_exceptions=False)
    with there:
        signed_in(there, "w_aud_there")
        assert there.get(url).status_code == 404
        assert there.get(f"{url}/document/notice").status_code == 404
        assert f"#{cid}" not in there.get("/audit/cases?state=all").text
    county = TestClient(own.app, raise_server_exceptions=False)
    with county:
        signed_in(county, "w_xiushui")
        assert county.get("/audit/cases").status_code == 403
