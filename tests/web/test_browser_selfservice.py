"""The self-service pages in a real browser at a phone's viewport (390×844, touch): a person
signs in with ID + name and the code read from the file sender and sees the status page; an
employer signs in with an issued password, changes it, sees its status and prints a certificate,
which verifies on the public page. No console error (CSP). Screenshots:
``test-artifacts/screenshots/self-*.png`` — look at them.

Runs on its own copy of the test city, so what it writes does not reach other tests."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from canbao.notify.senders import sent_file
from canbao.registry import snapshot
from canbao.selfservice import employer_credentials, person_sign_in
from canbao.store import Actor, open_store
from canbao.store.db import Store
from canbao.web import create_app
from tests.web.browser import Served, chromium_path, serve, shot
from tests.web.conftest import City


@dataclass
class Site:
    url: str
    data: Path
    store: Store


@pytest.fixture(scope="module")
def site(city: City, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    data = tmp_path_factory.mktemp("self-browser") / "data"
    shutil.copytree(city.data, data)
    store = open_store(data)
    served: Iterator[Served] = serve(create_app(data, store=store))
    running = next(served)
    try:
        yield Site(running.url, data, store)
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
def phone(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
        has_touch=True, locale="zh-CN",
    )  # fmt: skip
    pg = context.new_page()
    problems: list[str] = []
    pg.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: problems.append(str(e)))
    pg.set_default_timeout(30_000)
    yield pg
    context.close()
    real = [p for p in problems if "404" not in p]  # the browser asks for /favicon.ico
    assert real == [], real[:3]


def _fits(page: Page) -> bool:
    """No horizontal scrolling at the phone's width."""
    return bool(page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth"))


def test_person_signs_in_on_a_phone(phone: Page, site: Site) -> None:
    snap = snapshot.require_current(site.data)
    mobile = pl.col("phone").str.contains(r"^1[0-9]{10}$").fill_null(False)
    p = (
        snap.scan("persons")
        .filter(mobile & pl.col("id18").is_not_null())
        .collect()
        .row(3, named=True)
    )
    phone.goto(f"{site.url}/self")
    assert _fits(phone)
    shot(phone, "self-01-landing")
    phone.click("text=个人参保查询")
    phone.fill("input[name=id_number]", str(p["id18"]))
    phone.fill("input[name=name]", str(p["name"]))
    shot(phone, "self-02-person-form")
    phone.click("main button[type=submit]")
    phone.wait_for_selector("input[name=code]")
    assert "若您输入的身份信息正确" in phone.content()
    person_sign_in.drain()  # codes are sent in the background
    lines = sent_file(site.data).read_text(encoding="utf-8").splitlines()
    code = next(
        json.loads(x)["params"]["code"]
        for x in reversed(lines)
        if json.loads(x)["phone"] == p["phone"]
    )
    phone.fill("input[name=code]", str(code))
    shot(phone, "self-03-code")
    phone.click("main button[type=submit]")
    phone.wait_for_url(f"{site.url}/self/person/status")
    text = phone.content()
    assert "各险种参保情况" in text and str(p["id18"]) not in text and str(p["phone"]) not in text
    assert _fits(phone)
    shot(phone, "self-04-person-status")
    phone.click("text=申请变更联系电话或地址")
    phone.check("input[value=address]")
    phone.fill("input[name=value]", "九江市浔阳区湓浦路88号3栋")
    phone.click("main button[type=submit]")
    phone.wait_for_selector("#ref")
    shot(phone, "self-05-change-done")
    phone.click("text=退出")
    phone.wait_for_url(f"{site.url}/self")


def test_employer_prints_a_certificate_that_verifies(phone: Page, site: Site) -> None:
    snap = snapshot.require_current(site.data)
    ledger_codes = snap.scan("employers").filter(pl.col("credit_code").is_not_null()).collect()
    code = str(ledger_codes["credit_code"][1])
    staff = Actor("w_city", "city_staff", (), "test")
    _, password = employer_credentials.issue(site.store, site.data, staff, code)
    phone.goto(f"{site.url}/self/employer")
    phone.fill("input[name=credit_code]", code)
    phone.fill("input[name=password]", password)
    shot(phone, "self-06-employer-form")
    phone.click("main button[type=submit]")
    phone.wait_for_url(f"{site.url}/self/employer/password")
    phone.fill("input[name=current]", password)
    phone.fill("input[name=new]", "Danwei2017mima")
    phone.fill("input[name=again]", "Danwei2017mima")
    shot(phone, "self-07-employer-password")
    phone.click("main button[type=submit]")
    phone.wait_for_url(f"{site.url}/self/employer/status")
    assert code in phone.content() and _fits(phone)
    shot(phone, "self-08-employer-status")
    phone.click("text=打印参保缴费情况证明")
    phone.wait_for_selector("#serial")
    serial, check = phone.inner_text("#serial"), phone.inner_text("#check")
    shot(phone, "self-09-certificate")
    phone.emulate_media(media="print")
    shot(phone, "self-10-certificate-print")
    phone.emulate_media(media="screen")
    phone.goto(f"{site.url}/verify")
    phone.fill("input[name=serial]", serial)
    phone.fill("input[name=check]", check)
    phone.click("main button[type=submit]")
    phone.wait_for_selector("text=证明真实有效")
    assert code in phone.content()
    shot(phone, "self-11-verify-ok")
    phone.fill("input[name=serial]", serial)
    phone.fill("input[name=check]", "2222222222")
    phone.click("main button[type=submit]")
    phone.wait_for_selector("text=该证明无法核验")
    shot(phone, "self-12-verify-forged")
