"""Every read of the registry's API goes through a Scope: for each read function (found by its
signature, so a new one cannot be forgotten) and every county of the city, a county reader gets
only rows of their counties, and the counties together give back the city-wide rows that have a
county. Personal data is masked unless revealed, and a reveal is audit-logged."""

from __future__ import annotations

import datetime as dt
import inspect
import random
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

from canbao.errors import NotFoundError, PermissionDenied, UsageError
from canbao.ingest.batches import ingest_file
from canbao.profile import default_profile
from canbao.registry import api, snapshot
from canbao.store import Actor, audit_log, open_store
from canbao.store.scopes import scope_for
from canbao.warehouse.scope import Scope
from tests.registry.city import ingest, make_city
from tests.registry.fixtures import make_id
from tests.scopes import SYSTEM

DAY = dt.date(2017, 12, 31)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small city plus namesakes in two counties and a record without ID for each pair:
    review items on both sides of a county line."""
    city = make_city(tmp_path_factory.mktemp("scope-city"))
    data = tmp_path_factory.mktemp("scope-data")
    ingest(city, data)
    files = tmp_path_factory.mktemp("scope-files")
    hukou, rm = (
        ["公民身份号码,姓名,性别,出生日期,户号,行政区划代码"],
        ["姓名,性别,出生日期,证件号码,行政区划代码"],
    )
    for i, county in enumerate(("360402", "360423")):
        name = ("欧阳明远", "司马晓雨")[i]
        for seq in (101, 103):
            hukou.append(
                f"{make_id(county, '19700101', seq + i * 10)},{name},男,1970-01-01,RV{county}{seq},{county}"
            )
        rm.append(f"{name},男,1970-01-01,,{county}")
    (files / "hukou.csv").write_text("\n".join(hukou) + "\n", encoding="utf-8")
    (files / "rm.csv").write_text("\n".join(rm) + "\n", encoding="utf-8")
    ingest_file(
        data, files / "hukou.csv", source="scope_hukou", kind="population", as_of="2017-12-31"
    )
    ingest_file(data, files / "rm.csv", source="scope_rm", kind="enrollment",
                scheme="resident_medical", as_of="2017-12-31")  # fmt: skip
    api.build(data)
    return data


def readers(data: Path) -> dict[str, Callable[[Scope], pl.DataFrame]]:
    """Each read function of the API with the columns that say where a row is."""
    return {
        "links": lambda s: api.links(data, s),
        "persons": lambda s: api.persons(data, s),
        "person": lambda s: one_person(data, s),
        "person_by_key": lambda s: one_person_by_key(data, s),
        "employers": lambda s: api.employers(data, s),
        "enrolled_as_of": lambda s: api.enrolled_as_of(data, DAY, s),
        "review_items": lambda s: api.review_items(data, s),
    }


def one_person(data: Path, scope: Scope) -> pl.DataFrame:
    """:func:`api.person` of one ID as a frame (empty when out of scope: not found)."""
    try:
        return pl.DataFrame([api.person(data, first_id(data), scope)])
    except NotFoundError:
        return pl.DataFrame(schema={"person_key": pl.Utf8, "county_code": pl.Utf8})


def one_person_by_key(data: Path, scope: Scope) -> pl.DataFrame:
    """:func:`api.person_by_key` of the person with the first ID, as :func:`one_person`."""
    key = api.person(data, first_id(data), SYSTEM)["person_key"]
    try:
        return pl.DataFrame([api.person_by_key(data, str(key), scope)])
    except NotFoundError:
        return pl.DataFrame(schema={"person_key": pl.Utf8, "county_code": pl.Utf8})


def first_id(data: Path) -> str:
    """An ID of a person in the city (read with the system scope)."""
    ids = snapshot.require_current(data).scan("persons").select("id18").drop_nulls().head(1)
    return str(ids.collect()["id18"][0])


def counties_of(
    name: str, df: pl.DataFrame, person_county: dict[str, str | None]
) -> list[set[str | None]]:
    """Per row, the area codes that place it (a review pair: either side)."""
    if name == "links":
        return [{person_county.get(k)} for k in df["person_key"]]
    if name == "review_items":
        return [{a, b} for a, b in zip(df["left_county"], df["right_county"], strict=True)]
    return [{c} for c in df["county_code"]]


# the decision's own steps (they return no rows to a reader): deciding a pair, and finding the
# pair's node keys to record the decision on (checked against the reader's queue when scoped)
DECIDING = frozenset({"decide", "review_pair"})


def test_every_read_takes_a_scope() -> None:
    with_scope = {
        n for n, f in inspect.getmembers(api, inspect.isfunction)
        if f.__module__ == api.__name__ and "scope" in inspect.signature(f).parameters
        and n not in DECIDING and not n.startswith("_")
    }  # fmt: skip
    assert with_scope == set(readers(Path("."))), "a read function of the API is not tested here"
    for name in with_scope:
        param = inspect.signature(getattr(api, name)).parameters["scope"]
        assert param.default is inspect.Parameter.empty, f"{name}: the scope must be required"


def test_county_readers_see_only_their_counties(built: Path) -> None:
    persons = (
        snapshot.require_current(built)
        .scan("persons")
        .select("person_key", "county_code")
        .collect()
    )
    person_county = dict(zip(persons["person_key"], persons["county_code"], strict=True))
    profile = default_profile()
    counties = sorted(
        {c for c in persons["county_code"].drop_nulls() if c in {x.code for x in profile.counties}}
    )
    assert len(counties) >= 5
    rng = random.Random(17)
    attempts = [[c] for c in counties] + [rng.sample(counties, 2) for _ in range(3)]
    for name, read in readers(built).items():
        everything = read(SYSTEM)
        assert everything.height > 0, name
        seen = 0
        for mine in attempts:
            scope = scope_for(Actor("county_user", "county_staff", tuple(mine)), profile)
            got = read(scope)
            for places in counties_of(name, got, person_county):
                assert places & scope.counties, f"{name}: a row outside {mine}"  # type: ignore[operator]
            if len(mine) == 1:
                seen += got.height
        # each single county sees its own rows; together they cover every row placed in one
        placed = sum(1 for p in counties_of(name, everything, person_county) if p & set(counties))
        if name == "review_items":
            assert seen >= placed  # a pair across two counties is seen by both
        else:
            assert seen >= placed > 0, name


def test_personal_data_is_masked_unless_revealed(built: Path) -> None:
    profile = default_profile()
    county = api.persons(built, SYSTEM)["county_code"].drop_nulls()[0]
    staff = scope_for(Actor("li_si", "county_staff", (county,), "10.0.0.9"), profile)
    masked = api.persons(built, staff)
    ids = masked["id18"].drop_nulls().filter(masked["id18"].drop_nulls() != "")
    assert ids.len() > 0 and int((~ids.str.contains(r"\*")).sum()) == 0  # counts only: no values
    births = masked["birth_date"].drop_nulls()
    assert int((births.str.len_chars() != 4).sum()) == 0
    store = open_store(built)
    before = audit_log.head(store)[0]
    full = api.persons(built, staff, reveal=True)
    assert full.height == masked.height
    assert int(full["id18"].drop_nulls().str.contains(r"\*").sum()) == 0
    entry = audit_log.entries(store, limit=1)[0]
    assert entry.id == before + 1 and (entry.actor, entry.action, entry.client) == (
        "li_si", "person.reveal", "10.0.0.9",
    )  # fmt: skip
    assert "id18" in entry.fields and entry.detail["rows"] == full.height
    store.dispose()
    # a collector sees masked data, never revealed; a leader or a department no personal data
    collector = scope_for(Actor("wang", "collector", (county,)), profile)
    assert api.persons(built, collector).height == masked.height
    with pytest.raises(PermissionDenied):
        api.persons(built, collector, reveal=True)
    for role in ("leader", "department"):
        outsider = scope_for(Actor("x", role), profile)
        for name, read in readers(built).items():
            if name == "employers":  # no personal data: open to every role
                assert read(outsider).height > 0
                continue
            with pytest.raises(PermissionDenied):
                read(outsider)


def test_a_person_by_id_is_found_only_in_scope(built: Path) -> None:
    full = api.persons(built, SYSTEM, reveal=True).filter(pl.col("id18").is_not_null())
    profile = default_profile()
    target = full.row(0, named=True)
    mine = scope_for(Actor("li_si", "county_staff", (target["county_code"],)), profile)
    got = api.person(built, target["id18"].lower(), mine)
    assert got["person_key"] == target["person_key"] and "*" in str(got["id18"])
    store = open_store(built)
    shown = api.person(built, target["id18"], mine, reveal=True)
    assert shown["id18"] == target["id18"]
    entry = audit_log.entries(store, limit=1)[0]
    assert entry.object_keys == [target["person_key"]] and target["id18"] not in str(entry.detail)
    store.dispose()
    other = next(c.code for c in profile.counties if c.code != target["county_code"])
    outsider = scope_for(Actor("wang", "county_staff", (other,)), profile)
    with pytest.raises(NotFoundError, match="不在您负责的区县"):
        api.person(built, target["id18"], outsider)
    with pytest.raises(UsageError, match="身份证号无效"):
        api.person(built, "12345", mine)


def test_a_decision_outside_the_scope_is_refused(built: Path) -> None:
    items = api.review_items(built, SYSTEM)
    assert items.height > 0
    pair = items.row(0, named=True)
    profile = default_profile()
    others = [
        c.code
        for c in profile.counties
        if c.code not in {pair["left_county"], pair["right_county"]}
    ]
    outsider = scope_for(Actor("li_si", "county_staff", (others[0],)), profile)
    with pytest.raises(NotFoundError, match="不在您负责的区县"):
        api.decide(built, pair["pair_id"], "same", scope=outsider)
