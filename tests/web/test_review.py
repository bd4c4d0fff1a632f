"""The review queue in the browser: uncertain pairs side by side (masked, field by field, with
agreement and the model's evidence), decided 同一人 / 不同人 through the registry, within the
viewer's counties.

The small city's own queue is empty (its damage is repaired without review), so this module
works on a copy of it with the cases the queue exists for, in 修水县: namesakes with the same
birthday and their own IDs, a record without an ID naming one pair of them, and an Excel-mangled
number shared by the other pair."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from canbao import cases
from canbao.ingest.batches import ingest_file
from canbao.registry import api as registry
from canbao.registry import decisions, snapshot
from canbao.standards import masking
from canbao.store import open_store
from canbao.store.db import Store
from canbao.warehouse.scope import Scope
from canbao.web import create_app
from tests.registry.fixtures import make_id
from tests.web.conftest import City, csrf_of, signed_in

SYSTEM = Scope.system("web review tests: check what the page did")
NAMES = ("欧阳明远", "司马晓雨")


@dataclass
class Queue:
    app: FastAPI
    store: Store
    data: Path


def _namesakes(files: Path, county: str) -> None:
    """Test numbers built for the test (not personal data), all of ``county``."""
    a, b = make_id(county, "19700101", 101), make_id(county, "19700101", 103)
    c, d = make_id(county, "19720202", 131), make_id(county, "19720202", 134)
    (files / "hukou.csv").write_text(
        "公民身份号码,姓名,性别,出生日期,户号,行政区划代码\n"
        f"{a},欧阳明远,男,1970-01-01,RV1,{county}\n{b},欧阳明远,男,1970-01-01,RV2,{county}\n"
        f"{c},司马晓雨,男,1972-02-02,RV3,{county}\n{d},司马晓雨,女,1972-02-02,RV4,{county}\n",
        encoding="utf-8",
    )
    excel = f"{int(c):.14E}"  # what Excel shows of an 18-digit number
    (files / "rm.csv").write_text(
        "姓名,性别,出生日期,证件号码,行政区划代码\n"
        f"欧阳明远,男,1970-01-01,,{county}\n司马晓雨,,,{excel},{county}\n",
        encoding="utf-8",
    )


@pytest.fixture(scope="module")
def queue(city: City, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Queue]:
    data = tmp_path_factory.mktemp("web-review") / "data"
    shutil.copytree(city.data, data)
    files = tmp_path_factory.mktemp("web-review-files")
    _namesakes(files, city.here)
    ingest_file(data, files / "hukou.csv", source="review_hukou", kind="population",
                as_of="2017-12-31")  # fmt: skip
    ingest_file(data, files / "rm.csv", source="review_rm", kind="enrollment",
                scheme="resident_medical", as_of="2017-12-31")  # fmt: skip
    registry.build(data)
    store = open_store(data)
    # the last pair of the queue is also a case (kind review); the others are not
    items = registry.review_items(data, SYSTEM).tail(1)
    pairs = cases.review_list(data, SYSTEM, store).join(items.select("pair_id"), on="pair_id")
    build = snapshot.require_current(data).build_id
    cases.open_cases(store, SYSTEM, {"review_items": pairs}, build)
    yield Queue(create_app(data, store=store), store, data)
    store.dispose()


@pytest.fixture
def web(queue: Queue) -> Iterator[TestClient]:
    with TestClient(queue.app, raise_server_exceptions=False) as c:
        yield c


def _items(queue: Queue) -> pl.DataFrame:
    items = registry.review_items(queue.data, SYSTEM)
    assert items.height >= 2, "namesakes make pairs to review"
    return items


def _keys(queue: Queue, pair_id: str) -> tuple[str, str]:
    """The pair's node keys, as the registry records a decision on them."""
    raw = snapshot.require_current(queue.data).scan("review_items")
    row = raw.filter(pl.col("pair_id") == pair_id).collect().row(0, named=True)
    return row["left_key"], row["right_key"]


def test_the_queue_shows_both_records_masked_with_their_evidence(
    queue: Queue, web: TestClient, city: City
) -> None:
    items = _items(queue)
    signed_in(web, "w_xiushui")
    page = web.get("/review")
    assert page.status_code == 200 and "疑似同一人复核" in page.text
    for pair_id in items["pair_id"]:
        assert f'id="p-{pair_id}"' in page.text
    assert f"共 {items.height} 对待复核" in page.text
    assert not masking.looks_like_id(page.text)  # IDs first 6 + last 4
    assert not any(name in page.text for name in NAMES)  # names to their first character
    assert "欧***" in page.text and "司***" in page.text
    assert "1970-01-01" not in page.text and "1970" in page.text  # birth dates to the year
    assert '<span class="badge ok">一致</span>' in page.text  # agreement highlighted
    assert "倾向同一人" in page.text  # the model's evidence per field
    assert "<script>" not in page.text and " style=" not in page.text
    assert 'name="decision" value="same"' in page.text


def _case_of(queue: Queue, pair_id: str) -> cases.CaseView | None:
    found = cases.list_cases(queue.store, SYSTEM, kind="review", limit=None)
    return next((c for c in found if c.case_key == f"review/{pair_id}/"), None)


def test_a_decision_through_the_web_is_a_registry_decision(queue: Queue, web: TestClient) -> None:
    pair = _items(queue).row(0, named=True)
    pair_id = pair["pair_id"]
    assert _case_of(queue, pair_id) is None  # a pair that is not a case: straight to the registry
    signed_in(web, "w_xiushui")
    r = web.post(
        f"/review/{pair_id}",
        data={
            "decision": "different",
            "note": "户号不同，系同名同生日",
            "csrf_token": csrf_of(web),
        },
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"].startswith(f"/review?done={pair_id}")
    left, right = _keys(queue, pair_id)
    made = decisions.load(queue.data, queue.store)
    row = made.filter((pl.col("left_key") == left) & (pl.col("right_key") == right))
    assert row["decision"].to_list() == ["different"]
    page = web.get(r.headers["location"])
    assert "已决定：不同人" in page.text and "下次建库后生效" in page.text
    # htmx: the pair's card comes back with the decision (changed: the latest wins)
    r = web.post(
        f"/review/{pair_id}",
        data={"decision": "same"},
        headers={"HX-Request": "true", "X-CSRF-Token": csrf_of(web)},
    )
    assert r.status_code == 200 and r.text.lstrip().startswith(
        f'<div class="card" id="p-{pair_id}"'
    )
    assert "已决定：同一人" in r.text
    made = decisions.load(queue.data, queue.store)
    row = made.filter((pl.col("left_key") == left) & (pl.col("right_key") == right))
    assert row["decision"].to_list() == ["same"]


def test_a_county_user_sees_and_decides_only_pairs_of_their_county(
    queue: Queue, web: TestClient
) -> None:
    pair_id = _items(queue)["pair_id"][-1]
    before = decisions.load(queue.data, queue.store).height
    signed_in(web, "w_xunyang")
    page = web.get("/review")
    assert page.status_code == 200 and "共 0 对待复核" in page.text
    assert pair_id not in page.text
    r = web.post(f"/review/{pair_id}", data={"decision": "same", "csrf_token": csrf_of(web)})
    assert r.status_code == 404 and "不在您负责的区县" in r.text
    assert decisions.load(queue.data, queue.store).height == before
    with TestClient(queue.app) as city_staff:
        signed_in(city_staff, "w_city")
        assert pair_id in city_staff.get("/review").text


def test_a_decision_needs_its_words_and_its_permission(queue: Queue, web: TestClient) -> None:
    pair_id = _items(queue)["pair_id"][-1]
    signed_in(web, "w_xiushui")
    r = web.post(f"/review/{pair_id}", data={"decision": "maybe", "csrf_token": csrf_of(web)})
    assert r.status_code == 400 and "同一人" in r.text
    r = web.post(f"/review/{pair_id}", data={"decision": "same"})  # no CSRF token
    assert r.status_code == 403 and "CSRF" in r.text
    with TestClient(queue.app) as collector:
        signed_in(collector, "w_collector")  # no review.decide
        assert collector.get("/review").status_code == 403


def test_a_pair_that_is_a_case_is_decided_through_the_case(queue: Queue, web: TestClient) -> None:
    pair_id = _items(queue)["pair_id"][-1]
    case = _case_of(queue, pair_id)
    assert case is not None and case.is_open
    signed_in(web, "w_xiushui")
    page = web.get("/review")
    assert f'href="/cases/{case.id}"' in page.text  # the pair links to its case
    r = web.post(
        f"/review/{pair_id}",
        data={"decision": "同一人", "note": "同一户口，证件号录入错误", "csrf_token": csrf_of(web)},
        follow_redirects=False,
    )
    assert r.status_code == 303
    after = cases.get_case(queue.store, SYSTEM, case.id)
    assert after.state == "resolved" and after.outcome == "same"
    assert after.resolved_by == "w_xiushui" and after.events[-1].detail.get("decision") == "same"
    left, right = _keys(queue, pair_id)
    made = decisions.load(queue.data, queue.store)
    row = made.filter((pl.col("left_key") == left) & (pl.col("right_key") == right))
    assert row["decision"].to_list() == ["same"]
    shown = web.get(f"/cases/{case.id}")
    assert shown.status_code == 200 and "同一人" in shown.text and "重新打开" in shown.text
