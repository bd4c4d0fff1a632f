"""The per-build person- and employer-sorted copies of the 360 pages (:mod:`canbao.web.keyed`):
a page reads the same data through them as from the snapshot, a look-up reads one or two row
groups, older builds' copies are removed, and while the current build's copies are being made
the previous build's answer (the page says so).

Nothing personal is printed: pages are compared as whole models, keys by equality."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest

from canbao.registry import snapshot
from canbao.store import Actor
from canbao.store.scopes import scope_for
from canbao.warehouse.scope import Scope
from canbao.web import create_app, employer_view, keyed, person_view
from canbao.web.state import WebState
from tests.web.conftest import City

SYSTEM = Scope.system("web keyed tests: every person")


@pytest.fixture(scope="module")
def st(city: City) -> Iterator[WebState]:
    """An app state over the shared city (no warm-up), its copies made afresh."""
    state: WebState = create_app(city.data, warm=False).state.canbao
    snap = snapshot.require_current(city.data)
    with keyed.BUILD_LOCK:  # no warm-up thread meanwhile
        for kind in (keyed.PERSONS, keyed.EMPLOYERS):
            shutil.rmtree(keyed.folder(city.data, kind, snap.build_id), ignore_errors=True)
            keyed.make(city.data, snap, kind)
    yield state
    state.store.dispose()


def table(city: City, name: str) -> pl.DataFrame:
    return snapshot.require_current(city.data).scan(name).collect()


def sample_persons(city: City) -> list[str]:
    """Persons with model-linked records, ID corrections or likely records, and a sample of the
    rest."""
    special = set(table(city, "links").filter(pl.col("method") == "model")["person_key"])
    special |= set(table(city, "id_corrections")["person_key"].drop_nulls())
    special |= set(table(city, "likely_owners")["person_key"].drop_nulls())
    rest = table(city, "persons").sort("person_key")["person_key"].gather_every(15)
    return sorted(special | set(rest))


def test_a_person_page_reads_the_same_data_with_and_without_the_copies(
    st: WebState, city: City
) -> None:
    kset = keyed.ready(st, keyed.PERSONS)
    assert kset is not None
    assert kset.build_id == snapshot.require_current(city.data).build_id
    keys = sample_persons(city)
    assert len(keys) > 100
    assert any(kset.rows("probs", k).height for k in keys)  # model-linked records are covered
    for key in keys:
        fast = person_view.person_360(st, SYSTEM, key, with_cases=True)
        slow = person_view.person_360(st, SYSTEM, key, with_cases=True, use_index=False)
        assert fast.model_dump() == slow.model_dump()
        assert not fast.refreshing


def test_scope_holds_through_the_copies(st: WebState, city: City) -> None:
    here = scope_for(Actor("w_xiushui", "county_staff", (city.here,)), city.profile)
    p = table(city, "persons")
    there = str(p.filter(pl.col("county_code") == city.there)["person_key"][0])
    mine = str(p.filter(pl.col("county_code") == city.here)["person_key"][0])
    from canbao.errors import NotFoundError

    with pytest.raises(NotFoundError):
        person_view.person_360(st, here, there, with_cases=False)
    assert person_view.person_360(st, here, mine, with_cases=False).person.person_key == mine
    with pytest.raises(NotFoundError):
        person_view.person_360(st, here, "Pnosuchperson00", with_cases=False)


def test_a_look_up_reads_one_or_two_row_groups(st: WebState, city: City, tmp_path: Path) -> None:
    """On the set (a few row groups on the test city: DuckDB writes at least 2,048 rows per
    group) and on a copy of its links in row groups of 64 rows (as many groups as a city's)."""
    kset = keyed.ready(st, keyed.PERSONS)
    assert kset is not None
    links = table(city, "links")
    small = tmp_path / "links.parquet"
    pq.write_table(pl.read_parquet(kset.tables["links"].path).to_arrow(), small, row_group_size=64)
    many = keyed.Table.open(small, "person_key")
    assert many.meta.num_row_groups > 50
    for key in links["person_key"].unique().sort().gather_every(7).to_list():
        want = links.filter(pl.col("person_key") == key).height
        for t in (kset.tables["links"], many):
            assert 1 <= len(t.groups(key)) <= 2
            assert t.rows(key).height == want
    assert many.groups("~") == [] and many.groups("") == []  # beyond the keys: nothing read


def test_a_file_not_sorted_by_the_key_is_searched_range_by_range(tmp_path: Path) -> None:
    frame = pl.DataFrame({"key": ["b", "b", "a", "c", "a", "d"], "n": [1, 2, 3, 4, 5, 6]})
    pq.write_table(frame.to_arrow(), tmp_path / "x.parquet", row_group_size=2)
    t = keyed.Table.open(tmp_path / "x.parquet", "key")
    assert not t.ordered
    assert t.rows("a")["n"].to_list() == [3, 5] and t.groups("d") == [2]
    assert t.rows("z").height == 0 and t.rows("z").columns == ["key", "n"]


def test_an_employer_page_reads_the_same_data_with_and_without_the_copies(
    st: WebState, city: City
) -> None:
    kset = keyed.ready(st, keyed.EMPLOYERS)
    assert kset is not None
    keys = table(city, "employer_links")["employer_key"].value_counts(sort=True)["employer_key"]
    for key in keys.head(6).to_list():
        fast = employer_view.employer_360(st, SYSTEM, str(key), ledger=True, cases=True)
        slow = employer_view.employer_360(
            st, SYSTEM, str(key), ledger=True, cases=True, use_index=False
        )
        assert fast.model_dump() == slow.model_dump()
        assert fast.sources and sum(s.records for s in fast.sources) > 0


def test_while_a_builds_copies_are_made_the_previous_builds_answer(
    st: WebState, city: City, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ready set is relabelled as an earlier build's, and making the current one is held
    back: pages come from the earlier build's set and say so; a person it lacks is read from
    the snapshot."""
    kset = keyed.ready(st, keyed.PERSONS)
    assert kset is not None
    started: list[str] = []
    monkeypatch.setattr(keyed, "warm", lambda st, kind, snap=None: started.append(kind.prefix))
    monkeypatch.setattr(keyed, "folder", lambda *a: Path("/nonexistent"))
    box = keyed._box(st)
    earlier = keyed.KeyedSet(kset.kind, "20000101T000000-earlier", kset.tables)
    monkeypatch.setitem(box.ready, keyed.PERSONS.prefix, earlier)
    key = sample_persons(city)[0]
    page = person_view.person_360(st, SYSTEM, key, with_cases=False)
    assert page.refreshing and page.build_id == earlier.build_id
    assert started == [keyed.PERSONS.prefix]
    now = person_view.person_360(st, SYSTEM, key, with_cases=False, use_index=False)
    assert page.model_dump(exclude={"refreshing", "build_id"}) == now.model_dump(
        exclude={"refreshing", "build_id"}
    )
    monkeypatch.setattr(
        keyed.Table, "rows", lambda self, value: pl.from_arrow(self.schema.empty_table())
    )
    fallback = person_view.person_360(st, SYSTEM, key, with_cases=False)  # not in the old set
    assert not fallback.refreshing and fallback.model_dump() == now.model_dump()


def test_older_builds_copies_are_removed(tmp_path: Path, city: City) -> None:
    snap = snapshot.require_current(city.data)
    made = keyed.folder(city.data, keyed.EMPLOYERS, snap.build_id)
    assert (made / keyed.DONE).exists()
    web = tmp_path / "data" / keyed.INDEX_DIR
    web.mkdir(parents=True)
    old = web / f"{keyed.EMPLOYERS.prefix}-20000101T000000-old"
    other = web / f"{keyed.PERSONS.prefix}-20000101T000000-old"
    keep = web / f"{keyed.EMPLOYERS.prefix}-{snap.build_id}"
    for d in (old, other, keep):
        d.mkdir()
    keyed.prune(tmp_path / "data", keyed.EMPLOYERS, keep=keep)
    assert not old.exists() and keep.exists() and other.exists()
