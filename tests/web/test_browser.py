"""The workspace in a real browser: Playwright (from PyPI) drives Debian's chromium through
``executable_path`` (never ``playwright install``) against the app served by uvicorn on a
loopback port. Staff sign in, search, open a person's page and reveal the full ID, record a case
outcome, decide a review pair; the dashboard's chart is drawn (its canvas is not blank); a 修水县
user cannot open a 浔阳区 person. No page may log a console error (a CSP violation is one).
Screenshots: ``test-artifacts/screenshots/`` — look at them.

Runs on its own copy of the test city (with the review queue of tests/web/test_review.py), so
what it changes does not reach other tests."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from canbao import cases
from canbao.ingest.batches import ingest_file
from canbao.registry import api as registry
from canbao.registry import snapshot
from canbao.store import open_store
from canbao.store.db import Store
from canbao.warehouse.scope import Scope
from canbao.web import create_app
from tests.web.browser import Served, chromium_path, serve, shot
from tests.web.conftest import PASSWORD, City
from tests.web.test_review import _namesakes

SYSTEM = Scope.system("browser tests: check what the pages did")


@dataclass
class Site:
    url: str
    data: Path
    store: Store
    here: str
    there: str


@pytest.fixture(scope="module")
def site(city: City, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    data = tmp_path_factory.mktemp("web-browser") / "data"
    shutil.copytree(city.data, data)
    files = tmp_path_factory.mktemp("web-browser-files")
    _namesakes(files, city.here)
    ingest_file(data, files / "hukou.csv", source="review_hukou", kind="population",
                as_of="2017-12-31")  # fmt: skip
    ingest_file(data, files / "rm.csv", source="review_rm", kind="enrollment",
                scheme="resident_medical", as_of="2017-12-31")  # fmt: skip
    registry.build(data)
    store = open_store(data)
    served: Iterator[Served] = serve(create_app(data, store=store))
    running = next(served)
    try:
        yield Site(running.url, data, store, city.here, city.there)
    finally:
        next(served, None)
        store.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def page(browser: Browser, site: Site) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
    pg = context.new_page()
    problems: list[str] = []
    pg.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: problems.append(str(e)))
    pg.set_default_timeout(30_000)
    EXPECTED[id(pg)] = {"404", "403"}
    yield pg
    context.close()
    # a 404 page we opened on purpose logs its status (a refused form its 400, when the test
    # says so: expect_status); nothing else may complain (CSP!)
    allowed = EXPECTED.pop(id(pg))
    real = [p for p in problems if not any(code in p for code in allowed)]
    assert real == [], real[:3]


EXPECTED: dict[int, set[str]] = {}  # page → HTTP statuses its console may report


def expect_status(page: Page, status: int) -> None:
    """The test provokes a response of ``status`` on purpose (a refused form)."""
    EXPECTED[id(page)].add(str(status))


def sign_in(page: Page, site: Site, user: str) -> None:
    page.goto(f"{site.url}/")
    assert "/login" in page.url
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{site.url}/")


def _persons(site: Site) -> pl.DataFrame:
    return snapshot.require_current(site.data).scan("persons").collect()


def _canvas_drawn(page: Page) -> bool:
    script = """() => {
      const c = document.querySelector('.chart canvas');
      if (!c || c.width === 0 || c.height === 0) return false;
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let painted = 0;
      for (let i = 3; i < d.length; i += 4) { if (d[i] !== 0) painted++; }
      return painted > 500;
    }"""
    result: Any = page.evaluate(script)
    return bool(result)


def test_sign_in_and_the_dashboard_chart_is_drawn(page: Page, site: Site) -> None:
    sign_in(page, site, "w_city")
    page.wait_for_selector(".chart canvas", timeout=120_000)
    page.wait_for_function("() => document.querySelectorAll('.chart canvas').length > 0")
    page.wait_for_timeout(800)  # the chart's entry animation
    assert _canvas_drawn(page)
    assert "w_city" in page.inner_text("header.top")
    shot(page, "dashboard-city")
    shot(page, "dashboard-city-top", full_page=False)
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    page.wait_for_selector(".chart canvas", timeout=120_000)
    shot(page, "dashboard-phone")


def test_search_open_a_person_and_reveal_the_full_id(page: Page, site: Site) -> None:
    persons = _persons(site).filter(
        (pl.col("county_code") == site.here) & pl.col("id18").is_not_null()
    )
    names = persons.group_by("name").len().filter(pl.col("len") == 1)
    row = persons.join(names.select("name"), on="name").sort("person_key").row(0, named=True)
    sign_in(page, site, "w_xiushui")
    page.goto(f"{site.url}/search")
    page.fill("input[name=q]", row["name"])
    page.click("form[action='/search'] button[type=submit]")
    link = page.locator(f"a[href='/persons/{row['person_key']}']")
    link.first.wait_for()
    assert row["id18"] not in page.content()  # the list masks the ID
    shot(page, "search-results")
    link.first.click()
    page.wait_for_url(f"{site.url}/persons/{row['person_key']}")
    assert row["id18"] not in page.content()
    page.once("dialog", lambda d: d.accept())  # 记入审计日志，确定查看吗？
    page.click("form[action$='/reveal'] button")
    page.wait_for_function(
        "id => document.body.innerText.includes(id)", arg=row["id18"], timeout=30_000
    )
    shot(page, "person-360-revealed")
    from canbao.store import audit_log

    entries = audit_log.entries(site.store, actor="w_xiushui", action="person.reveal")
    assert any(row["person_key"] in (e.object_keys or ()) for e in entries)


def test_record_a_case_outcome(page: Page, site: Site) -> None:
    open_cases = cases.list_cases(site.store, SYSTEM, county=site.here, state="new")
    open_cases = [c for c in open_cases if "student" in cases.outcomes.for_kind(c.kind)]
    case = open_cases[0]
    sign_in(page, site, "w_xiushui")
    page.goto(f"{site.url}/cases/{case.id}")
    form = page.locator(f"form[action='/cases/{case.id}/resolve']")
    form.locator("select[name=outcome]").select_option(value="student")
    form.locator("input[name=on]").fill("2017-12-20")
    form.locator("input[name=evidence]").fill("学籍证明（浏览器测试）")
    form.locator("input[name=expires_on]").fill("2020-07-01")
    form.locator("button[type=submit]").click()
    page.wait_for_function("() => document.body.innerText.includes('在校学生')")
    shot(page, "case-resolved")
    after = cases.get_case(site.store, SYSTEM, case.id)
    assert after.state != "new" and after.outcome == "student"


def test_decide_a_review_pair(page: Page, site: Site) -> None:
    items = registry.review_items(site.data, SYSTEM)
    assert items.height >= 1
    pair = str(items.sort("pair_id")["pair_id"][0])
    sign_in(page, site, "w_xiushui")
    page.goto(f"{site.url}/review")
    card = page.locator(f"#p-{pair}")
    shot(page, "review-queue")
    card.locator("button[value=different]").click()
    card.locator(".notice").wait_for()  # 已记录：不同人 …
    assert "已记录" in card.inner_text()
    from canbao.registry import decisions

    decided = decisions.load(site.data, site.store)
    assert decided.height >= 1
    shot(page, "review-decided")


def test_a_county_user_cannot_open_a_person_of_another_county(page: Page, site: Site) -> None:
    other = _persons(site).filter(pl.col("county_code") == site.there).sort("person_key")
    key, name = other["person_key"][0], other["name"][0]
    sign_in(page, site, "w_xiushui")
    response = page.goto(f"{site.url}/persons/{key}")
    assert response is not None and response.status == 404
    text = page.inner_text("main")
    assert "不存在" in text or "没有" in text
    assert name not in page.content()
    shot(page, "person-other-county-404")


def test_an_auditor_sees_the_audit_plan_and_the_audit_cases(page: Page, site: Site) -> None:
    """The plan is computed in the background and appears by itself (htmx polling); the
    cases page lists the audit cases and the form that opens one."""
    sign_in(page, site, "w_auditor")
    page.click("nav >> text=稽核计划")
    page.wait_for_selector("#audit-plan table.data", timeout=180_000)
    rows = page.locator("#audit-plan table.data tbody tr")
    assert rows.count() > 0
    shot(page, "audit-plan")
    page.click("nav >> text=稽核案件")
    page.wait_for_selector("h1:has-text('稽核案件')")
    assert page.locator("form[action='/audit/cases'][method='post']").count() == 1
    shot(page, "audit-cases")


def test_city_staff_make_a_reminder_batch_to_review(page: Page, site: Site) -> None:
    """提醒短信: the page's form makes a batch awaiting a second person's approval; its page
    shows the counts per reason and county and a sample of messages with masked numbers."""
    sign_in(page, site, "w_city")
    page.click("nav >> text=提醒短信")
    page.wait_for_selector("h1:has-text('缴费提醒短信')")
    page.fill("input[name=as_of]", "2017-12-20")
    page.click("form[action='/reminders'] button[type=submit]")
    page.wait_for_url(re.compile(r".*/reminders/[0-9]+$"))
    text = page.inner_text("main")
    assert "城乡居民年度缴费期提醒" in text and "按区县" in text
    assert re.search(r"1[3-9][0-9]\*{4}[0-9]{4}", text)  # numbers masked: 3 + 4 digits
    # never a whole one: no number standing alone (a person key is a hex digest, whose digit
    # runs may look like one), and none of the batch's own numbers anywhere
    assert not re.search(r"(?<![0-9A-Za-z])1[3-9][0-9]{9}(?![0-9A-Za-z])", text)
    from canbao.notify import batches

    batch_id = int(page.url.rsplit("/", 1)[1])
    phones = batches.batch_messages(site.store, batch_id)["phone"].drop_nulls().to_list()
    assert phones and not any(phone in text for phone in phones)
    shot(page, "reminders-batch")
    page.click("nav >> text=提醒短信")
    page.wait_for_selector("table.data tbody tr a[href^='/reminders/']")
    assert "待审核" in page.inner_text("table.data")
    shot(page, "reminders")


def test_a_collector_works_an_employer_in_arrears(page: Page, site: Site) -> None:
    """欠费: the collector's work list of their county, most urgent first; an employer's page
    shows its ledger, agreements and dunning; the collector sends a 催缴通知 (the form comes
    filled with the overdue schemes, periods and amount), downloads its 文书, is refused an
    escalation the law does not allow yet (with the reason, what was typed kept), and records
    the 责令限期缴纳决定 with its deadline."""
    from canbao.collection import dunning

    sign_in(page, site, "w_collector")
    page.click("nav >> text=欠费")
    page.wait_for_selector("h1:has-text('欠费单位清单')")
    page.wait_for_selector("#arrears table.data tbody tr", timeout=180_000)
    rows = page.locator("#arrears table.data tbody tr")
    assert rows.count() > 0
    assert "浔阳区" not in page.inner_text("#arrears")  # a 修水县 collector: their county only
    shot(page, "arrears-list")
    first = rows.first.locator("a[href^='/employers/']").first
    href = first.get_attribute("href")
    assert href is not None
    key = href.rsplit("/", 1)[1]
    first.click()
    page.wait_for_url(f"{site.url}{href}")
    page.wait_for_selector("h2:has-text('征缴台账')")
    assert "缓缴 / 分期协议" in page.inner_text("main")
    before = dunning.cases(site.store, SYSTEM, employer_key=key)
    start = page.locator(f"form[action='/employers/{key}/dunning']")
    assert start.locator("input[name=scheme]:checked").count() >= 1
    amount = start.locator("input[name=amount]").input_value()
    assert re.fullmatch(r"[0-9]+\.[0-9]{2}", amount) and float(amount) > 0
    start.locator("input[name=doc_no]").fill("修人社催〔2017〕1号")
    start.locator("button[type=submit]").click()
    page.wait_for_selector("#dunning .notice")
    assert "已立催缴案件" in page.inner_text("#dunning")
    opened = dunning.cases(site.store, SYSTEM, employer_key=key)
    assert len(opened) == len(before) + 1
    case = next(c for c in opened if c.id not in {b.id for b in before})
    assert case.state == "notice" and case.amount_fen > 0 and case.schemes
    with page.expect_download() as got:
        page.click(f"a[href='/dunning/{case.id}/steps/1/document']")
    assert got.value.suggested_filename.endswith(".docx")
    # 移送劳动保障监察 needs the order first and repeated visits: refused, the note kept
    step = page.locator(f"form[action='/dunning/{case.id}/step']")
    assert "referral" not in step.locator("select[name=kind]").inner_html()
    step.locator("select[name=kind]").select_option("visit")
    step.locator("input[name=doc_no]").fill("（上门）")
    expect_status(page, 400)
    step.locator("button[type=submit]").click()  # a visit needs its note
    page.wait_for_selector("#dunning .error")
    assert "说明" in page.inner_text("#dunning .error")
    assert (
        page.locator(f"form[action='/dunning/{case.id}/step'] input[name=doc_no]").input_value()
        == "（上门）"
    )
    assert dunning.get(site.store, SYSTEM, case.id).state == "notice"
    step = page.locator(f"form[action='/dunning/{case.id}/step']")
    step.locator("select[name=kind]").select_option("order")
    deadline = dunning.today() + dt.timedelta(days=15)  # the step is dated today
    step.locator("input[name=deadline]").fill(deadline.isoformat())
    step.locator("input[name=doc_no]").fill("")
    step.locator("input[name=doc_no]").fill("修人社责〔2017〕1号")
    step.locator("button[type=submit]").click()
    page.wait_for_selector("#dunning .notice")
    after = dunning.get(site.store, SYSTEM, case.id)
    assert after.state == "order" and after.order is not None
    assert after.order.deadline == deadline
    shot(page, "employer-dunning")
    # an instalment agreement proposed from the page: 待批准, its schedule shown
    page.click("#agreements summary")
    propose = page.locator(f"form[action='/employers/{key}/agreements']")
    propose.locator("input[name=instalments]").fill("3")
    first_due = dunning.today() + dt.timedelta(days=30)
    propose.locator("input[name=first_due]").fill(first_due.isoformat())
    propose.locator("input[name=guarantee]").fill("法定代表人个人连带责任担保（浏览器测试）")
    propose.locator("button[type=submit]").click()
    page.wait_for_selector("#agreements .notice")
    from canbao.collection import agreements

    (a,) = agreements.agreements(site.store, SYSTEM, employer_key=key)
    assert a.status == "proposed" and len(a.instalments) == 3 and a.case_id == case.id
    assert a.principal_fen == case.amount_fen  # the form came filled with the overdue sum
    assert "待批准" in page.inner_text("#agreements")
    assert "已拟定协议" in page.inner_text("#agreements .notice")
    shot(page, "employer-agreement")
