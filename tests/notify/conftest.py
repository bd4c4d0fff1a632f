"""The reminder tests share one small synthetic city (ingested, registry built, contact numbers
registered for all but three of its employers); the outbox and the preferences live in a
store per test, on SQLite and PostgreSQL (``store`` of tests/store/conftest.py, which also
gives ``backend``). Phones here are synthetic and never printed."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest

from canbao.notify import contacts
from canbao.registry import api as registry
from canbao.registry import snapshot
from canbao.store import Actor
from tests.registry.city import ingest, make_city
from tests.store.conftest import backend, store  # noqa: F401 - fixtures for this folder

STAFF = Actor("qian_city", "city_staff")
COUNTY = Actor("li_county", "county_staff", ("360424",))
# 2017-12-20 02:00 UTC = 10:00 in China (inside the sending hours); 13:00 UTC = 21:00 (quiet)
DAY = dt.datetime(2017, 12, 20, 2, 0)
NIGHT = dt.datetime(2017, 12, 20, 13, 0)


@dataclass(frozen=True)
class City:
    data: Path
    no_contact: tuple[str, ...]  # employer keys without a registered contact number


@pytest.fixture(scope="session")
def city(tmp_path_factory: pytest.TempPathFactory) -> City:
    root = tmp_path_factory.mktemp("notify-city")
    made = make_city(root, persons=1200, seed=41)
    data = root / "data"
    ingest(made, data)
    registry.build(data)
    employers = snapshot.require_current(data).scan("employers").collect().sort("employer_key")
    without = employers.head(3)
    listed = employers.slice(3).with_row_index("i")
    csv = root / "contacts.csv"
    listed.select(
        pl.col("credit_code").alias("统一社会信用代码"),
        pl.format("1390000{}", pl.col("i").cast(pl.Utf8).str.zfill(4)).alias("联系电话"),
    ).write_csv(csv)
    assert contacts.import_employer_contacts(data, csv) == listed.height
    return City(data, tuple(without["employer_key"].to_list()))
