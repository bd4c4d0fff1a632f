"""首页 dashboard and its JSON twins: the plan figures are the 通报's (compared with the workbook
``canbao report`` writes for the same data), /api/kpi is ``canbao kpi``, a county user sees their
county, charts carry a parseable ECharts option, aggregates are computed once per data version.

The plan needs a plan in the data directory: :func:`planned_city` copies the shared city's data
directory (the shared one is left as it is) and imports the synthetic city's own 附件1 into the
copy, as the plan's demo step does."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from canbao.collection import api as collection
from canbao.coverage import api as coverage
from canbao.plan import api as plan_api
from canbao.plan import catalog, fmt
from canbao.plan.demo import city_task_table, without_size_targets
from canbao.store import Actor, accounts, open_store
from canbao.store.db import Store
from canbao.store.scopes import scope_for
from canbao.warehouse.scope import Scope
from canbao.web import create_app, dashboard
from tests.web.conftest import PASSWORD, City, signed_in, token


@dataclass(frozen=True)
class Planned:
    city: City  # the copy: its data directory holds the imported plan
    as_of: dt.date  # the synthetic city's data date
    app: FastAPI
    store: Store

    def scope(self, user: str) -> Scope:
        role, counties = self.city.users[user]
        return scope_for(Actor(user, role, counties), self.city.profile)


def planned_city(root: Path, city: City) -> tuple[City, dt.date]:
    """A copy of the shared city's data directory (the store copied with SQLite's backup, so
    the users are there) with the synthetic city's 附件1 imported into the default plan."""
    data = root / "data"
    shutil.copytree(
        city.data,
        data,
        ignore=shutil.ignore_patterns("store.sqlite3*", ".work", ".lock", "web"),
    )
    src, dst = sqlite3.connect(city.data / "store.sqlite3"), sqlite3.connect(data / "store.sqlite3")
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()
    found = city_task_table(city.data.parent / "city")
    assert found is not None
    table, as_of = found
    code = catalog.default_plan(city.profile)
    catalog.save(without_size_targets(catalog.shipped(code, city.profile)), data)
    plan_api.import_task_table(table, data, code, city.profile)
    return City(data, city.profile, city.here, city.there, city.users), as_of


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory, city: City) -> Iterator[Planned]:
    copy, as_of = planned_city(tmp_path_factory.mktemp("web-planned"), city)
    store = open_store(copy.data)
    yield Planned(copy, as_of, create_app(copy.data, store=store), store)
    store.dispose()


@pytest.fixture
def pc(planned: Planned) -> Iterator[TestClient]:
    with TestClient(planned.app, raise_server_exceptions=False) as c:
        yield c


def tongbao_ranking(planned: Planned, out: Path) -> tuple[list[tuple[Any, ...]], Any, Path]:
    """The 综合排名 rows and the time progress of the 通报 ``canbao report`` writes for the
    copy's data (the plan package's own computation), and the workbook."""
    plan = catalog.load(catalog.default_plan(planned.city.profile), planned.city.data)
    files = plan_api.make_report(plan, planned.as_of, out, data_dir=planned.city.data, pdf=False)
    wb = load_workbook(files.xlsx, data_only=True)
    rows = [r for r in wb["综合排名"].iter_rows(min_row=4, values_only=True) if r[1]]
    return rows, wb["通报"].cell(row=4, column=2).value, files.xlsx


class Tables(HTMLParser):
    """The text of every cell of every table of a page, by the table's caption or heading."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self.row: list[str] | None = None
        self.cell: list[str] | None = None
        self.current: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.row = []
            self.current = {k: v or "" for k, v in attrs}
        elif tag in ("td", "th") and self.row is not None:
            self.cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self.row is not None and self.cell is not None:
            self.row.append("".join(self.cell).strip())
            self.cell = None
        elif tag == "tr" and self.row is not None and self.tables:
            if "aria-current" in self.current:
                self.row.append("<mine>")
            self.tables[-1].append(self.row)
            self.row = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)


def tables(html: str) -> list[list[list[str]]]:
    parser = Tables()
    parser.feed(html)
    return parser.tables


def options(html: str) -> list[dict[str, Any]]:
    return [json.loads(m) for m in re.findall(r"data-option='([^']*)'", html)]


def ranking_table(html: str) -> list[list[str]]:
    found = [t for t in tables(html) if t and t[0][:2] == ["排名", "单位"]]
    assert len(found) == 1
    return found[0][1:]


# ---- the plan: the 通报's numbers ----------------------------------------------------------


def test_the_dashboards_ranking_is_the_tongbaos(
    planned: Planned, pc: TestClient, tmp_path: Path
) -> None:
    rows, tp, _ = tongbao_ranking(planned, tmp_path)
    assert len(rows) >= 13 and any(r[3] not in (None, "—") for r in rows)
    body = pc.get("/api/plan/progress", headers=token(pc, "w_leader")).json()
    assert body["as_of"] == planned.as_of.isoformat() and body["stored_plan"] is True
    assert body["time_progress"] == pytest.approx(tp)
    got = [(r["rank"], r["name"], r["group"], r["score"], r["indicators"], r["flag"])
           for r in body["ranking"]]  # fmt: skip
    want = [(r[0] if r[0] != "—" else None, r[1], r[2] or "", None if r[3] == "—" else r[3],
             r[6], r[7] or "") for r in rows]  # fmt: skip
    assert [g[:3] + g[4:] for g in got] == [w[:3] + w[4:] for w in want]
    for g, w in zip(got, want, strict=True):
        assert (g[3] is None) == (w[3] is None)
        if g[3] is not None:
            assert g[3] == pytest.approx(w[3], abs=1e-9)
    bottom = [r[1] for r in rows if r[7] == "后三位·通报"]
    assert len(bottom) >= 3
    assert [r["name"] for r in body["ranking"] if r["bottom"]] == bottom

    signed_in(pc, "w_leader")
    page = pc.get("/")
    assert page.status_code == 200
    shown = ranking_table(page.text)
    assert [(c[1], c[3], c[6]) for c in shown] == [
        (w[1], "—" if w[3] is None else fmt.pct(Decimal(repr(w[3]))), w[5]) for w in want
    ]
    assert fmt.pct(Decimal(repr(tp))) in page.text
    for name in bottom:  # the bottom three named on the card
        assert f'<span class="badge bad">{name}</span>' in page.text


def test_a_county_user_sees_their_county_marked_and_its_figures(
    planned: Planned, pc: TestClient, tmp_path: Path
) -> None:
    _, _, xlsx = tongbao_ranking(planned, tmp_path)
    detail = [
        r for r in load_workbook(xlsx, data_only=True)["完成情况明细"].iter_rows(
            min_row=4, values_only=True) if r[0] == "修水县"
    ]  # fmt: skip
    assert detail
    signed_in(pc, "w_xiushui")
    html = pc.get("/").text
    mine = [row for row in ranking_table(html) if row[-1] == "<mine>"]
    assert len(mine) == 1 and mine[0][1].startswith("修水县")
    figures = next(t for t in tables(html) if t and t[0][:3] == ["单位", "指标", "目标"])[1:]
    assert {row[0] for row in figures} == {"修水县"}
    assert [(row[1], row[4]) for row in figures] == [
        (r[1], "—" if r[6] in (None, "—") else fmt.pct(Decimal(repr(r[6])))) for r in detail
    ]
    # coverage: their county only, as coverage.api.statistics gives it for their scope
    stats = coverage.statistics(planned.city.data, planned.scope("w_xiushui"))["rates"]
    last = stats.filter(stats["month"] == stats["month"].max()).row(0, named=True)
    cov = next(t for t in tables(html) if t and t[0][:2] == ["区域", "常住人员"])[1:]
    assert [row[:2] for row in cov] == [["修水县", f"{last['residents']:,}"]]
    # the city's own user gets 全市 first
    signed_in(pc, "w_city")
    cov = next(t for t in tables(pc.get("/").text) if t and t[0][:2] == ["区域", "常住人员"])
    assert cov[1][0] == "全市" and len(cov) > 3


def test_the_charts_carry_a_parseable_echarts_option(planned: Planned, pc: TestClient) -> None:
    signed_in(pc, "w_city")
    html = pc.get("/").text
    assert "<script>" not in html and " style=" not in html  # the CSP allows neither
    found = options(html)
    assert len(found) >= 4
    for option in found:
        assert option["series"] and option["xAxis"]["data"]
    body = pc.get("/api/plan/progress", headers=token(pc, "w_city")).json()
    ranked = [r for r in body["ranking"] if r["score"] is not None]
    bars = found[0]
    assert bars["xAxis"]["data"] == [r["name"] for r in ranked]
    assert [d["value"] for d in bars["series"][0]["data"]] == [
        round(r["score"] * 100, 2) for r in ranked
    ]
    line = bars["series"][0]["markLine"]["data"][0]
    assert line["yAxis"] == pytest.approx(body["time_progress"] * 100)


def test_api_kpi_is_canbao_kpi_in_the_callers_scope(planned: Planned, pc: TestClient) -> None:
    day = planned.as_of
    for user in ("w_city", "w_xiushui", "w_collector"):
        headers = token(pc, user)
        want = collection.kpis(planned.city.data, planned.scope(user), day.year, day)
        expected = want.select("unit", "indicator", "value").to_dicts()
        assert pc.get("/api/kpi", headers=headers).json() == expected
        explicit = pc.get(
            f"/api/kpi?year={day.year}&as_of={day.isoformat()}", headers=headers
        ).json()
        assert explicit == expected and expected
        units = {r["unit"] for r in expected}
        assert ("city" in units) == (user == "w_city")
    by_county = pc.get("/api/kpi?by=county", headers=token(pc, "w_xiushui")).json()
    want = collection.kpis(
        planned.city.data, planned.scope("w_xiushui"), day.year, day, by="county"
    )
    assert by_county == want.select("unit", "indicator", "value").to_dicts()
    bad = pc.get("/api/kpi?as_of=2017-13-40", headers=token(pc, "w_city"))
    assert bad.status_code == 400 and "YYYY-MM-DD" in bad.json()["message"]
    early = pc.get("/api/kpi?year=2018&as_of=2017-06-30", headers=token(pc, "w_city"))
    assert early.status_code == 400 and "早于" in early.json()["message"]


def test_the_dashboards_kpi_card_shows_the_same_numbers(planned: Planned, pc: TestClient) -> None:
    signed_in(pc, "w_xiushui")
    rows = pc.get("/api/kpi", headers=token(pc, "w_xiushui")).json()
    card = next(t for t in tables(pc.get("/").text) if t and t[0][0] == "单位" and len(t[0]) > 5
                and "征缴" in t[0][1])  # fmt: skip
    assert [row[0] for row in card[1:]] == ["修水县"]
    collected = next(r for r in rows if r["indicator"] == "collected.employee_pension")
    yuan = f"{Decimal(collected['value']):,.2f}"
    assert yuan in card[1]


def test_aggregates_are_computed_once_per_data_version(planned: Planned, pc: TestClient) -> None:
    signed_in(pc, "w_city")
    pc.get("/")
    cache = dashboard.aggregates(planned.app.state.canbao)
    keys = set(cache.entries)
    futures = {k: e.future for k, e in cache.entries.items()}
    signed_in(pc, "w_xiushui")
    start = time.perf_counter()
    assert pc.get("/").status_code == 200
    assert time.perf_counter() - start < 2.0
    assert set(cache.entries) == keys  # the county user reuses the city-wide aggregates
    assert all(cache.entries[k].future is f for k, f in futures.items() if k != ("cases",))
    assert {k[0] for k in keys} >= {"plan", "coverage", "kpi", "arrears", "cases"}


def test_a_slow_aggregate_shows_generating_and_the_page_polls(
    planned: Planned, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dashboard, "WAIT_S", 0.0)
    fresh = create_app(planned.city.data, store=planned.store)  # an empty cache
    with TestClient(fresh) as c:
        signed_in(c, "w_city")
        first = c.get("/").text
        assert "正在汇总" in first and 'hx-get="/dash/body"' in first
        for _ in range(200):
            body = c.get("/dash/body", headers={"HX-Request": "true"}).text
            if "正在汇总" not in body:
                break
            time.sleep(0.1)
        assert "正在汇总" not in body and "hx-get" not in body.split(">", 1)[0]
        assert "<html" not in body and "综合完成率" in body


def test_without_a_stored_plan_the_dashboard_says_so(client: TestClient) -> None:
    """The shared city has no imported plan: the built-in plan is used, and the page says so."""
    signed_in(client, "w_city")
    page = client.get("/")
    assert page.status_code == 200
    assert "尚未导入本地任务分解表" in page.text


def test_nothing_built_yet_gives_a_notice_not_a_failure(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    try:
        accounts.add_user(store, Actor.operator(), "w_first", "leader", PASSWORD, [])
        with TestClient(create_app(tmp_path, store=store)) as c:
            signed_in(c, "w_first")
            page = c.get("/")
            assert page.status_code == 200 and "登记库尚未建立" in page.text
            r = c.get("/api/kpi", headers=token(c, "w_first"))
            assert r.status_code == 409 and "登记库尚未建立" in r.json()["message"]
    finally:
        store.dispose()


def test_the_cache_computes_once_retries_failures_and_refreshes_in_the_background() -> None:
    cache = dashboard.Aggregates()
    calls: list[int] = []

    def compute() -> int:
        calls.append(1)
        return len(calls)

    def later(key: str, ttl: float | None = None) -> int:
        return int(dashboard.wait(cache.future(key, compute, ttl), time.monotonic() + 5))

    assert later("a") == 1 and later("a") == 1 and len(calls) == 1

    def broken() -> int:
        raise ValueError("boom")

    with pytest.raises(ValueError):
        dashboard.wait(cache.future("b", broken), time.monotonic() + 5)
    assert later("b") == 2  # a failure is not kept

    assert later("c", ttl=0.0) == 3
    assert later("c", ttl=0.0) == 3  # expired: still the old value, the next one is computed
    for _ in range(100):
        if later("c", ttl=0.0) == 4:
            break
        time.sleep(0.01)
    assert later("c", ttl=60.0) == 4
    slow = cache.future("d", lambda: time.sleep(0.5))
    with pytest.raises(dashboard.Computing):
        dashboard.wait(slow, time.monotonic())
