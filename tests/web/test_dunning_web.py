"""催缴 on the employer page over HTTP: who may act (a leader reads, a collector acts), the
county scope (another county's case is 404), the transition table's refusals coming back on
the page with the reason and what was typed, the version (a stale form is 409), the 文书 as a
real .docx, audit-logged. Runs on its own copy of the web test city: the cases it opens stay
there."""

from __future__ import annotations

import datetime as dt
import io
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import polars as pl
import pytest
from docx import Document
from fastapi.testclient import TestClient

from canbao.collection import agreements, dunning
from canbao.collection import api as collection
from canbao.collection.published import data_as_of
from canbao.store import audit_log, open_store
from canbao.store.db import Store
from canbao.warehouse.scope import Scope
from canbao.web import create_app
from tests.web.conftest import City, csrf_of, signed_in

SYSTEM = Scope.system("tests: check what the dunning forms did")


@dataclass
class Site:
    client: TestClient
    store: Store
    here_key: str  # an employer of 修水县 in arrears
    there_key: str  # one of 浔阳区


@pytest.fixture(scope="module")
def site(city: City, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    data = tmp_path_factory.mktemp("web-dunning") / "data"
    shutil.copytree(city.data, data)
    owed = collection.arrears(data, SYSTEM, data_as_of(data))
    here = owed.filter(pl.col("county_code") == city.here)["employer_key"][0]
    there = owed.filter(pl.col("county_code") == city.there)["employer_key"][0]
    store = open_store(data)
    with TestClient(create_app(data, store=store), raise_server_exceptions=False) as client:
        yield Site(client, store, here, there)
    store.dispose()


def _start(site: Site, key: str, **fields: str) -> Any:
    form = {"csrf_token": csrf_of(site.client), "scheme": "employee_pension", "amount": "1,200.50"}
    form.update(fields)
    return site.client.post(f"/employers/{key}/dunning", data=form, follow_redirects=False)


def test_a_leader_reads_but_cannot_act(site: Site) -> None:
    signed_in(site.client, "w_leader")
    page = site.client.get(f"/employers/{site.here_key}")
    assert page.status_code == 200 and "<h2>催缴</h2>" in page.text
    assert f'action="/employers/{site.here_key}/dunning"' not in page.text
    r = _start(site, site.here_key)
    assert r.status_code == 403
    assert dunning.cases(site.store, SYSTEM, employer_key=site.here_key) == []


def test_the_collector_opens_steps_and_downloads(site: Site) -> None:
    signed_in(site.client, "w_collector")
    page = site.client.get(f"/employers/{site.here_key}")
    assert f'action="/employers/{site.here_key}/dunning"' in page.text  # the start form
    # refused: no scheme ticked — the page comes back with the reason and what was typed
    bad = _start(site, site.here_key, scheme="", doc_no="修人社催〔2017〕9号")
    assert bad.status_code == 400
    assert 'role="alert"' in bad.text and "修人社催〔2017〕9号" in bad.text
    bad = _start(site, site.here_key, amount="一千元")
    assert bad.status_code == 400 and "欠费金额" in bad.text
    # longer than the store keeps (a 文号 column of 64): refused in Chinese, not a server error
    bad = _start(site, site.here_key, doc_no="号" * 65)
    assert bad.status_code == 400 and "文号过长" in bad.text
    ok = _start(site, site.here_key, deadline=(dunning.today() + dt.timedelta(days=10)).isoformat())
    assert ok.status_code == 303
    (case,) = dunning.cases(site.store, SYSTEM, employer_key=site.here_key)
    assert (case.state, case.amount_fen, case.schemes) == ("notice", 120050, ("employee_pension",))
    assert case.steps[0].recorded_by == "w_collector"
    # a second case for the same scheme is refused, naming the open one
    again = _start(site, site.here_key)
    assert again.status_code == 409 and f"#{case.id}" in again.text
    step = f"/dunning/{case.id}/step"
    csrf = csrf_of(site.client)
    # an escalation the law does not allow yet: refused with the allowed steps
    r = site.client.post(
        step, data={"csrf_token": csrf, "kind": "referral", "version": str(case.version)}
    )
    assert r.status_code in (400, 409) and "移送" in r.text
    # a stale version: 409, nothing recorded
    r = site.client.post(
        step, data={"csrf_token": csrf, "kind": "visit", "note": "单位负责人不在", "version": "0"}
    )
    assert r.status_code == 409
    assert len(dunning.get(site.store, SYSTEM, case.id).steps) == 1
    r = site.client.post(
        step,
        data={
            "csrf_token": csrf,
            "kind": "visit",
            "note": "单位负责人不在",
            "version": str(case.version),
        },
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"].endswith(f"#dunning-{case.id}")
    assert [s.kind for s in dunning.get(site.store, SYSTEM, case.id).steps] == ["notice", "visit"]
    doc = site.client.get(f"/dunning/{case.id}/steps/1/document")
    assert doc.status_code == 200 and doc.content[:2] == b"PK"
    text = "\n".join(p.text for p in Document(io.BytesIO(doc.content)).paragraphs)
    tables = "\n".join(
        c.text for t in Document(io.BytesIO(doc.content)).tables for r in t.rows for c in r.cells
    )
    assert "催缴" in text and ("1,200.50" in text + tables or "1200.50" in text + tables)
    logged = audit_log.entries(site.store, actor="w_collector", action="export")
    assert any(e.object_type == "dunning_document" for e in logged)
    # a step without a document
    assert site.client.get(f"/dunning/{case.id}/steps/2/document").status_code == 400


def test_another_countys_employer_and_case_are_not_found(site: Site) -> None:
    signed_in(site.client, "w_city")
    r = _start(site, site.there_key, amount="10.00")
    assert r.status_code == 303
    (case,) = dunning.cases(site.store, SYSTEM, employer_key=site.there_key)
    signed_in(site.client, "w_collector")  # 修水县 only
    assert _start(site, site.there_key).status_code == 404
    csrf = csrf_of(site.client)
    r = site.client.post(
        f"/dunning/{case.id}/step",
        data={"csrf_token": csrf, "kind": "paid", "version": str(case.version)},
    )
    assert r.status_code == 404 and "浔阳" not in r.text
    assert site.client.get(f"/dunning/{case.id}/steps/1/document").status_code == 404
    assert dunning.get(site.store, SYSTEM, case.id).state == "notice"


def _propose(site: Site, key: str, **fields: str) -> Any:
    form = {
        "csrf_token": csrf_of(site.client), "kind": "instalment", "scheme": "employee_pension",
        "principal": "1200.50", "instalments": "3",
        "first_due": (dunning.today() + dt.timedelta(days=30)).isoformat(),
        "guarantee": "法定代表人个人连带责任担保（测试）",
    }  # fmt: skip
    form.update(fields)
    return site.client.post(f"/employers/{key}/agreements", data=form, follow_redirects=False)


def test_an_agreement_proposed_then_approved_by_another_person(site: Site) -> None:
    signed_in(site.client, "w_collector")
    bad = _propose(site, site.here_key, guarantee="", reason="资金周转困难（测试）")
    assert bad.status_code == 400 and "担保" in bad.text
    assert "资金周转困难（测试）" in bad.text  # what was typed comes back
    assert _propose(site, site.here_key, instalments="三").status_code == 400
    long = _propose(site, site.here_key, guarantee="担" * 2001)
    assert long.status_code == 400 and "担保情况过长" in long.text
    ok = _propose(site, site.here_key)
    assert ok.status_code == 303 and ok.headers["location"].endswith("#agreements")
    (a,) = agreements.agreements(site.store, SYSTEM, employer_key=site.here_key)
    assert (a.status, a.kind, a.principal_fen) == ("proposed", "instalment", 120050)
    assert sum(i.amount_fen for i in a.instalments) == 120050 and len(a.instalments) == 3
    (case,) = dunning.cases(site.store, SYSTEM, employer_key=site.here_key)
    assert a.case_id == case.id  # the employer's open case for the scheme
    # a second active agreement for the same scheme: refused, naming the first
    again = _propose(site, site.here_key)
    assert again.status_code == 409 and f"#{a.id}" in again.text
    # the collector may not approve; city staff may, and the case moves to 协议履行中
    approve = f"/agreements/{a.id}/approve"
    form = {"csrf_token": csrf_of(site.client), "version": str(a.version)}
    assert site.client.post(approve, data=form).status_code == 403
    signed_in(site.client, "w_city")
    page = site.client.get(f"/employers/{site.here_key}")
    assert f'action="{approve}"' in page.text
    form = {"csrf_token": csrf_of(site.client), "version": str(a.version)}
    r = site.client.post(approve, data=form, follow_redirects=False)
    assert r.status_code == 303
    assert agreements.get(site.store, SYSTEM, a.id).status == "approved"
    assert dunning.get(site.store, SYSTEM, case.id).state == "agreement"
    doc = site.client.get(f"/agreements/{a.id}/document")
    assert doc.status_code == 200 and doc.content[:2] == b"PK"
    # cancelling needs a reason; with one, the case resumes dunning
    cancel = f"/agreements/{a.id}/cancel"
    version = str(agreements.get(site.store, SYSTEM, a.id).version)
    form = {"csrf_token": csrf_of(site.client), "version": version}
    assert site.client.post(cancel, data=form).status_code == 400
    r = site.client.post(cancel, data={**form, "reason": "单位未提供担保材料（测试）"},
                         follow_redirects=False)  # fmt: skip
    assert r.status_code == 303
    assert agreements.get(site.store, SYSTEM, a.id).status == "cancelled"
    assert dunning.get(site.store, SYSTEM, case.id).state == "notice"


def test_own_proposal_and_another_countys_agreement(site: Site) -> None:
    signed_in(site.client, "w_city")
    assert _propose(site, site.there_key, scheme="unemployment").status_code == 303
    (a,) = [
        x for x in agreements.agreements(site.store, SYSTEM, employer_key=site.there_key)
        if x.status == "proposed"
    ]  # fmt: skip
    page = site.client.get(f"/employers/{site.there_key}")
    assert f'action="/agreements/{a.id}/approve"' not in page.text  # not one's own
    form = {"csrf_token": csrf_of(site.client), "version": str(a.version)}
    r = site.client.post(f"/agreements/{a.id}/approve", data=form)
    assert r.status_code == 403 and "另一位" in r.text
    signed_in(site.client, "w_collector")  # 修水县 only
    for url in (f"/agreements/{a.id}/approve", f"/agreements/{a.id}/cancel"):
        r = site.client.post(url, data={**form, "csrf_token": csrf_of(site.client)})
        assert r.status_code in (403, 404) and "浔阳" not in r.text
    assert site.client.get(f"/agreements/{a.id}/document").status_code == 404
    assert agreements.get(site.store, SYSTEM, a.id).status == "proposed"
