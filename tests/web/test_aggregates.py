"""The aggregates cache (:mod:`canbao.web.aggregates`): one computation however many ask
(single flight); when the data change, the previous figures answer, labelled with their build
and date, until the new ones are ready (stale while revalidate); only a question never answered
waits — and the API then says 503 with ``Retry-After``, in Chinese."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient

from canbao.store.db import Store
from canbao.web import create_app, dashboard
from canbao.web.aggregates import Aggregates, Computing, Job, Label
from tests.web.conftest import City, signed_in, token


def counting(
    value: Any, gate: threading.Event | None = None
) -> tuple[Callable[[], Any], list[int]]:
    """A computation that counts its calls and, given a gate, waits for it."""
    calls: list[int] = []

    def compute() -> Any:
        calls.append(1)
        if gate is not None:
            assert gate.wait(30)
        return value

    return compute, calls


def test_concurrent_requests_compute_once() -> None:
    cache = Aggregates()
    gate = threading.Event()
    compute, calls = counting("figures", gate)
    job = Job(("kpi", "b1"), compute, ("kpi",), Label("b1", None))
    with ThreadPoolExecutor(8) as pool:
        asked = [pool.submit(cache.get, job, time.monotonic() + 30) for _ in range(8)]
        time.sleep(0.2)
        gate.set()
        got = [f.result() for f in asked]
    assert len(calls) == 1
    assert all(g.value == "figures" and g.fresh for g in got)


def test_a_new_version_answers_with_the_previous_figures_while_it_is_computed() -> None:
    cache = Aggregates()
    first, _ = counting("old")
    old = Job(("kpi", "b1"), first, ("kpi",), Label("b1", None))
    assert cache.get(old, time.monotonic() + 5).value == "old"
    gate = threading.Event()
    second, calls = counting("new", gate)
    new = Job(("kpi", "b2"), second, ("kpi",), Label("b2", None))
    try:
        t0 = time.perf_counter()
        for _ in range(5):
            got = cache.get(new, time.monotonic() + 30)
            assert got.value == "old" and not got.fresh and got.label == old.label
        assert time.perf_counter() - t0 < 1.0  # nobody waits
    finally:
        gate.set()
    dashboard.wait(cache.start(new), time.monotonic() + 5)
    got = cache.get(new, time.monotonic() + 5)
    assert got.value == "new" and got.fresh and got.label == new.label
    assert len(calls) == 1


def test_an_older_computation_finishing_late_does_not_replace_a_newer_value() -> None:
    cache = Aggregates()
    cache.heavy = ThreadPoolExecutor(2)  # both at once
    gate = threading.Event()
    slow, _ = counting("older", gate)
    fast, _ = counting("newer")
    older = Job("k1", slow, "slot", Label("b1", None))
    newer = Job("k2", fast, "slot", Label("b2", None))
    f1 = cache.start(older)
    assert cache.get(newer, time.monotonic() + 5).value == "newer"
    gate.set()
    f1.result(timeout=5)
    kept = cache.newest("slot")
    assert kept is not None and kept.value == "newer" and kept.label == newer.label


def test_a_question_never_answered_waits_until_its_deadline() -> None:
    cache = Aggregates()
    gate = threading.Event()
    compute, _ = counting("x", gate)
    try:
        with pytest.raises(Computing):
            cache.get(Job("k", compute, "slot"), time.monotonic() + 0.1)
    finally:
        gate.set()


# ---- through the app ------------------------------------------------------------------------


@pytest.fixture
def fresh(city: City, web_store: Store) -> Iterator[TestClient]:
    """An app with an empty cache and no background warm-up."""
    with TestClient(create_app(city.data, store=web_store, warm=False)) as c:
        yield c


@pytest.fixture
def slow_kpis(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[threading.Event, list[int]]]:
    """canbao kpi's computation held until the gate opens; its calls counted."""
    gate = threading.Event()
    calls: list[int] = []
    real = dashboard.collection.kpis

    def slow(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        assert gate.wait(60)
        return real(*args, **kwargs)

    monkeypatch.setattr(dashboard.collection, "kpis", slow)
    try:
        yield gate, calls
    finally:
        gate.set()


def test_the_api_says_503_with_retry_after_only_before_anything_is_computed(
    fresh: TestClient, slow_kpis: tuple[threading.Event, list[int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    gate, calls = slow_kpis
    monkeypatch.setattr(dashboard, "API_WAIT_S", 0.2)
    headers = token(fresh, "w_city")
    r = fresh.get("/api/kpi", headers=headers)
    assert r.status_code == 503 and r.headers["Retry-After"] == str(dashboard.RETRY_AFTER_S)
    assert "正在首次生成" in r.json()["message"] and r.json()["error"] == "busy"
    gate.set()
    for _ in range(100):
        r = fresh.get("/api/kpi", headers=headers)
        if r.status_code == 200:
            break
        time.sleep(0.1)
    assert r.status_code == 200 and r.json() and r.headers["X-Canbao-Stale"] == "0"
    v = dashboard.require_version(fresh.app.state.canbao)  # type: ignore[attr-defined]
    assert r.headers["X-Canbao-Build"] == v.build_id
    assert r.headers["X-Canbao-As-Of"] == v.day.isoformat()
    assert len(calls) == 1


def test_after_a_new_build_the_previous_figures_answer_until_the_new_ones_are_ready(
    fresh: TestClient, slow_kpis: tuple[threading.Event, list[int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    gate, calls = slow_kpis
    st = fresh.app.state.canbao  # type: ignore[attr-defined]
    gate.set()
    signed_in(fresh, "w_city")
    assert "正在汇总" not in fresh.get("/").text or _settle(fresh)
    headers = token(fresh, "w_city")
    before = fresh.get("/api/kpi", headers=headers)
    plan_before = fresh.get("/api/plan/progress", headers=headers).json()
    old = dashboard.require_version(st)
    gate.clear()
    calls.clear()
    new = dataclasses.replace(old, build_id=old.build_id + "-next")
    real_version = dashboard.version
    monkeypatch.setattr(
        dashboard, "version", lambda s: new if real_version(s) is not None else None
    )
    try:
        with ThreadPoolExecutor(6) as pool:  # six clients at once: one computation
            t0 = time.perf_counter()
            got = list(pool.map(lambda _: fresh.get("/api/kpi", headers=headers), range(6)))
            assert time.perf_counter() - t0 < 5.0
        for r in got:
            assert r.status_code == 200 and r.json() == before.json()
            assert (
                r.headers["X-Canbao-Stale"] == "1" and r.headers["X-Canbao-Build"] == old.build_id
            )
        plan = fresh.get("/api/plan/progress", headers=headers).json()
        assert plan["build_id"] == old.build_id and plan["current_build_id"] == new.build_id
        assert plan["ranking"] == plan_before["ranking"]
        page = fresh.get("/").text
        assert "新数据计算中" in page and old.build_id in page and "正在汇总" not in page
        assert 'hx-trigger="every 10s"' in page
        time.sleep(0.3)
        assert len(calls) == 1
    finally:
        gate.set()
    for _ in range(200):
        r = fresh.get("/api/kpi", headers=headers)
        if r.headers["X-Canbao-Stale"] == "0":
            break
        time.sleep(0.1)
    assert r.headers["X-Canbao-Build"] == new.build_id and r.json() == before.json()
    assert _settle(fresh)
    assert new.build_id in fresh.get("/").text


def _settle(client: TestClient) -> bool:
    """Poll the dashboard until nothing is being computed."""
    for _ in range(300):
        body = client.get("/dash/body", headers={"HX-Request": "true"}).text
        if "正在汇总" not in body and "新数据计算中" not in body:
            return True
        time.sleep(0.1)
    return False


def test_heavy_work_past_its_slots_is_told_to_retry_in_chinese(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from canbao.errors import Busy
    from canbao.web import limits

    monkeypatch.setattr(limits, "_slots", threading.BoundedSemaphore(1))
    with limits.heavy("单位详情"):
        with pytest.raises(Busy) as e, limits.heavy("单位详情", wait_s=0.05):
            pass
    assert e.value.status == 503 and e.value.retry_after == limits.RETRY_AFTER_S
    assert "系统繁忙" in e.value.message_zh
    with limits.heavy("单位详情", wait_s=0.05):  # the slot was given back
        pass
