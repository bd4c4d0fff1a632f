"""提醒短信 in the browser: city staff make a batch, open it (counts per reason and county, a
masked sample), approve it with the session's CSRF token and send it; a form without the token
is refused; county staff get 403 and see no link.

The steps change the store, so this module works on its own copy of the shared city (with a
notify.toml whose sending hours cover the whole day, so the send does not depend on the clock,
and synthetic contact numbers for its employers)."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from canbao.notify import batches, contacts
from canbao.notify.config import NotifyConfig
from canbao.notify.senders import sent_file
from canbao.registry import snapshot
from canbao.store import Actor, open_store
from canbao.store.db import Store
from canbao.store.models import OutboxMessage, ReminderBatch
from canbao.web import create_app
from tests.web.conftest import City, csrf_of, signed_in


@dataclass
class Own:
    app: FastAPI
    store: Store
    data: Path


@pytest.fixture(scope="module")
def own(city: City, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Own]:
    data = tmp_path_factory.mktemp("web-reminders") / "data"
    shutil.copytree(city.data, data)
    # what other modules sent from the shared city (sign-in codes) is not this module's
    shutil.rmtree(sent_file(data).parent, ignore_errors=True)
    (data / "notify.toml").write_text(
        '[quiet_hours]\nstart = "00:00"\nend = "23:59"\n', encoding="utf-8"
    )
    employers = snapshot.require_current(data).scan("employers").collect().with_row_index("i")
    employers.select(
        pl.col("credit_code"),
        pl.format("1390000{}", pl.col("i").cast(pl.Utf8).str.zfill(4)).alias("phone"),
    ).write_csv(data.parent / "contacts.csv")
    contacts.import_employer_contacts(data, data.parent / "contacts.csv")
    store = open_store(data)
    yield Own(create_app(data, store=store), store, data)
    store.dispose()


@pytest.fixture
def web(own: Own) -> Iterator[TestClient]:
    with TestClient(own.app, raise_server_exceptions=False) as c:
        yield c


def _batch(store: Store, batch_id: int) -> ReminderBatch:
    with store.sessions() as s:
        b = s.get_one(ReminderBatch, batch_id)
        s.expunge(b)
    return b


def test_review_approve_and_send(web: TestClient, own: Own) -> None:
    signed_in(web, "w_city")
    csrf = csrf_of(web)
    page = web.get("/reminders")
    assert page.status_code == 200 and 'href="/reminders">提醒短信</a>' in page.text
    r = web.post("/reminders", data={"csrf_token": csrf, "as_of": "2017-12-20"},
                 follow_redirects=False)  # fmt: skip
    assert r.status_code == 303, r.text[:300]
    batch_id = int(r.headers["location"].rsplit("/", 1)[1])
    assert _batch(own.store, batch_id).state == "draft"
    page = web.get(f"/reminders/{batch_id}")
    assert page.status_code == 200
    assert "城乡居民年度缴费期提醒" in page.text and "按区县" in page.text
    assert re.search(r"缴费提醒：201[78]年度城乡居民基本(医疗|养老)保险缴费期至12月", page.text)
    with own.store.sessions() as s:
        phones = s.scalars(
            select(OutboxMessage.phone).where(OutboxMessage.batch_id == batch_id)
        ).all()
    assert phones and not any(p in page.text for p in phones)  # masked: 3 + 4 digits
    assert re.search(r"1[3-9][0-9]\*{4}[0-9]{4}", page.text)
    # the maker may not approve; another city staff member (here an administrator) does
    r = web.post(f"/reminders/{batch_id}/approve", data={"csrf_token": csrf})
    assert r.status_code == 409 and "须由另一位工作人员审核批准" in r.text
    signed_in(web, "w_admin")
    csrf = csrf_of(web)
    # a form without the session's token is refused
    r = web.post(f"/reminders/{batch_id}/approve", data={}, follow_redirects=False)
    assert r.status_code == 403 and _batch(own.store, batch_id).state == "draft"
    r = web.post(f"/reminders/{batch_id}/approve", data={"csrf_token": csrf},
                 follow_redirects=False)  # fmt: skip
    assert r.status_code == 303 and _batch(own.store, batch_id).approved_by == "w_admin"
    assert "已批准" in web.get(r.headers["location"]).text
    # approving twice is a Chinese error, not a crash
    r = web.post(f"/reminders/{batch_id}/approve", data={"csrf_token": csrf})
    assert r.status_code == 409 and "只有待审核的批次可以批准" in r.text
    r = web.post(f"/reminders/{batch_id}/send", data={"csrf_token": csrf},
                 follow_redirects=False)  # fmt: skip
    assert r.status_code == 303, r.text[:300]
    assert _batch(own.store, batch_id).state == "sent"
    lines = sent_file(own.data).read_text("utf-8").splitlines()
    assert len(lines) == len(phones)
    r = web.post(f"/reminders/{batch_id}/cancel", data={"csrf_token": csrf})
    assert r.status_code == 409 and "不能取消" in r.text


def test_county_staff_get_403(web: TestClient, own: Own) -> None:
    signed_in(web, "w_xiushui")
    csrf = csrf_of(web)
    assert 'href="/reminders"' not in web.get("/").text
    assert web.get("/reminders").status_code == 403
    assert web.get("/reminders/1").status_code == 403
    r = web.post("/reminders/1/approve", data={"csrf_token": csrf})
    assert r.status_code == 403
    r = web.post("/reminders", data={"csrf_token": csrf, "as_of": "2017-12-20"})
    assert r.status_code == 403


def test_missing_batch_is_404(web: TestClient) -> None:
    signed_in(web, "w_city")
    r = web.get("/reminders/99999")
    assert r.status_code == 404 and "没有编号为 99999 的提醒批次" in r.text


def test_a_batch_made_at_night_says_when_it_goes(web: TestClient, own: Own) -> None:
    night = dt.datetime(2017, 12, 20, 13, 0)  # 21:00 in China
    cfg = NotifyConfig()  # 08:00–20:00
    res = batches.make_batch(
        own.store, own.data, Actor("w_city", "city_staff"), dt.date(2017, 12, 27),
        now=night, config=cfg,
    )  # fmt: skip
    assert res.batch_id is not None and res.reasons.get("employer_due", 0) > 0
    signed_in(web, "w_city")
    page = web.get(f"/reminders/{res.batch_id}")
    assert page.status_code == 200 and "最早于 2017-12-21 08:00 发送" in page.text
