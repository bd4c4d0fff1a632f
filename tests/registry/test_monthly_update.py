"""A month on the synthetic city: a superseding extract, a new 1 % extract and a review decision,
applied incrementally, give exactly the tables of a full rebuild."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
import pytest

from canbao.ingest import api as ingest_api
from canbao.registry import api, decisions, record_cache, snapshot
from tests.registry.city import ingest, ingest_month, make_city, redeliver_population
from tests.scopes import SYSTEM

KEYS = {
    "links": ["rec_key"],
    "persons": ["person_key"],
    "nodes": ["node_id"],
    "node_members": ["rec_key"],
    "pairs": ["node_id_l", "node_id_r"],
    "id_anchor": ["id18"],
    "b_cluster": ["node_id"],
    "review_items": ["pair_id"],
    "id_corrections": ["batch_id", "row"],
    "employers": ["employer_key"],
    "employer_links": ["batch_id", "row"],
    "enrollments": ["batch_id", "row"],
    "likely_owners": ["other_key", "person_key"],
}


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    city = make_city(tmp_path_factory.mktemp("month-city"), persons=2000, seed=5)
    inc = tmp_path_factory.mktemp("month-inc")
    ingest(city, inc)
    first = api.build(inc)
    assert first.mode == "full"
    ingest_month(city, inc, tmp_path_factory.mktemp("month-files"))
    # ... and a reviewer's decision: the strongest model link of an unresolved record to a
    # trusted person is refused
    snap = snapshot.require_current(inc)
    nodes = snap.scan("nodes").select("node_id", "node_type", "cluster_hint")
    pair = (
        snap.scan("pairs")
        .join(nodes.rename(lambda c: c + "_l"), on="node_id_l")
        .join(nodes.rename(lambda c: c + "_r"), on="node_id_r")
        .filter(pl.col("node_type_l") != pl.col("node_type_r"))
        .sort("match_weight", "node_id_l", "node_id_r", descending=[True, False, False])
        .first()
        .collect()
        .row(0, named=True)
    )
    b_left = pair["node_type_l"] == "B"
    left = pair["node_id_l"] if b_left else pair["node_id_r"]
    right = "A:" + (pair["cluster_hint_r"] if b_left else pair["cluster_hint_l"])
    decisions.record(inc, left, right, "different")
    full = tmp_path_factory.mktemp("month-full")
    shutil.copytree(inc, full, dirs_exist_ok=True)
    # the full rebuild computes every record's fields afresh (the update reads cached ones)
    shutil.rmtree(full / "registry" / "cache")
    assert api.build(inc).mode == "incremental"
    assert api.build(full, full=True).mode == "full"
    return city, inc, full


def test_monthly_update_equals_full_rebuild(month: tuple[Path, Path, Path]) -> None:
    _city, inc, full = month
    a, b = snapshot.require_current(inc), snapshot.require_current(full)
    for table, key in KEYS.items():
        x = a.scan(table).collect().sort(key)
        y = b.scan(table).collect().sort(key)
        assert x.height == y.height, table
        assert x.equals(y), table
    assert a.info["counts"] == b.info["counts"]


def test_monthly_update_touches_only_what_changed(month: tuple[Path, Path, Path]) -> None:
    _city, inc, _full = month
    snap = snapshot.require_current(inc)
    stats = snap.info["incremental"]
    assert len(stats["added"]) == 2 and len(stats["removed"]) == 1
    n_records = snap.info["counts"]["person_records"]
    # the superseded death list and the new extract are a few hundred records of ~10,000
    assert 0 < stats["records_relinked"] < n_records / 5
    assert 0 < stats["persons_recomputed"] < snap.info["counts"]["persons"] / 5
    # big tables are written as layers over the previous snapshot's base, not rewritten
    assert snap.layers("links") is not None
    prev = snapshot.Snapshot(snap.info["previous"], snap.path.parent / snap.info["previous"], {})
    assert (snap.path / "links.parquet").stat().st_ino == (
        prev.path / "links.parquet"
    ).stat().st_ino
    # the refused link is gone: the record is no longer with that trusted person
    decided = decisions.load(inc).row(0, named=True)
    cluster = snap.scan("b_cluster").filter(pl.col("node_id") == decided["left_key"]).collect()
    assert cluster.height == 1
    assert cluster["cluster_id"][0] != "I:" + decided["right_key"][2:]


def test_registry_files_are_written_with_lz4(month: tuple[Path, Path, Path]) -> None:
    """Snapshot tables (whole and as layers) and the derived-record cache are LZ4 files: the
    codec every incremental build reads fastest (docs/registry.md, "File format")."""
    import pyarrow.parquet as pq

    _city, inc, _full = month
    snap = snapshot.require_current(inc)
    files = [
        snap.path / "links.delta.parquet",
        snap.path / "review_items.parquet",
        *sorted((inc / "registry" / "cache").glob("*/*/part-*.parquet"))[:3],
    ]
    prev = snap.path.parent / snap.info["previous"]
    files.append(prev / "nodes.parquet")
    for path in files:
        meta = pq.ParquetFile(path).metadata
        codecs = {
            meta.row_group(g).column(c).compression
            for g in range(meta.num_row_groups)
            for c in range(meta.num_columns)
        }
        assert codecs <= {"LZ4", "LZ4_RAW"} and codecs, (path.name, codecs)


def test_the_demo_applies_a_month_incrementally(tmp_path: Path) -> None:
    from canbao.registry.demo import run_registry_demo
    from canbao.synth.month import new_enrolment_extract
    from tests.registry.city import make_city

    out = tmp_path / "demo"
    city = make_city(out, persons=600, seed=2)
    ingest(city, out / "data")
    where = run_registry_demo(out, new_enrolment_extract)
    report = json.loads(Path(where["月度增量更新 (next month, applied incrementally)"]).read_text())
    assert report["mode"] == "incremental"
    assert report["touched"]["added"] and report["touched"]["records_relinked"] >= 6
    assert "links" in report["layers"]


@pytest.fixture(scope="module")
def redelivered(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """The household register re-delivered with a few rows added, changed and removed (and
    every row in another order, column order and encoding), updated incrementally, and the
    same directory rebuilt in full."""
    city = make_city(tmp_path_factory.mktemp("redeliver-city"), persons=1000, seed=5)
    inc = tmp_path_factory.mktemp("redeliver-inc")
    ingest(city, inc)
    assert api.build(inc).mode == "full"
    redeliver_population(
        city, inc, tmp_path_factory.mktemp("redeliver-files"), "2018-01-31", edit=True
    )
    full = tmp_path_factory.mktemp("redeliver-full")
    shutil.copytree(inc, full, dirs_exist_ok=True)
    shutil.rmtree(full / "registry" / "cache")  # every record's fields afresh
    assert api.build(inc).mode == "incremental"
    assert api.build(full, full=True).mode == "full"
    return city, inc, full


def test_redelivery_updates_like_a_full_rebuild(redelivered: tuple[Path, Path, Path]) -> None:
    _city, inc, full = redelivered
    a, b = snapshot.require_current(inc), snapshot.require_current(full)
    for table, key in KEYS.items():
        x = a.scan(table).collect().sort(key)
        y = b.scan(table).collect().sort(key)
        assert x.equals(y), table
    assert a.info["counts"] == b.info["counts"]


def test_redelivery_touches_only_its_difference(redelivered: tuple[Path, Path, Path]) -> None:
    _city, inc, _full = redelivered
    snap = snapshot.require_current(inc)
    stats = snap.info["incremental"]
    batch = next(b for b in ingest_api.batches(inc) if b.as_of.isoformat() == "2018-01-31")
    ch = batch.changes
    assert ch is not None and ch["unchanged"] > 500
    assert ch["added"] == 5 and ch["changed"] > 5 and ch["removed"] > 5
    # only the changed, added and removed rows' IDs are affected: not the register's thousands
    assert stats["affected_ids"] <= ch["added"] + 2 * ch["changed"] + ch["removed"]
    assert stats["records_relinked"] < ch["unchanged"] / 10
    assert not stats["employers_rebuilt"]


def test_an_identical_redelivery_changes_nothing(
    redelivered: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    city, inc, _full = redelivered
    work = tmp_path / "data"
    shutil.copytree(inc, work)
    before = snapshot.require_current(work)
    # the same content as the January re-delivery (another file: rows in another order)
    redeliver_population(city, work, tmp_path / "files", "2018-02-28", edit=True)
    said: list[str] = []
    result = api.build(work, progress=said.append)
    assert result.mode == "incremental"
    after = snapshot.require_current(work)
    stats = after.info["incremental"]
    assert stats["affected_ids"] == 0 and stats["records_relinked"] == 0
    assert any("无变化" in s for s in said)
    for table, key in KEYS.items():
        assert (
            after.scan(table).collect().sort(key).equals(before.scan(table).collect().sort(key))
        ), table


def test_exports_name_the_rows_of_the_current_files(
    redelivered: tuple[Path, Path, Path],
) -> None:
    _city, inc, _full = redelivered
    links = api.links(inc, SYSTEM)
    current = {b.batch_id for b in ingest_api.current_batches(inc)}
    assert set(links["batch_id"].unique().to_list()) <= current
    register = ingest_api.current_records(inc, "population").select("batch_id", "row").collect()
    named = links.filter(pl.col("source") == "police_hukou").select("batch_id", "row")
    assert named.sort("row").equals(register.sort("row"))


def test_the_employer_fingerprint_adds_up_per_batch(
    redelivered: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    from canbao.registry import build, employer_records

    _city, inc, _full = redelivered
    source = build.ingest_source(inc)
    whole = employer_records.fingerprint(source)
    cache = tmp_path / "fp"
    assert employer_records.fingerprint(source, cache) == whole
    parts = sorted(cache.rglob("*.json"))
    assert len(parts) >= 3  # one per employer-bearing batch
    assert sum(json.loads(p.read_text())[0] for p in parts) == int(whole.split(":")[0])
    # a later build reads the parts kept, not the records
    parts[0].write_text(json.dumps([0, 0]))
    assert employer_records.fingerprint(source, cache) != whole
    assert employer_records.fingerprint(source) == whole


def test_employer_records_are_computed_once_per_batch(
    redelivered: tuple[Path, Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from canbao.registry import build, employer_records
    from canbao.registry.engine import DuckDBEngine

    _city, inc, _full = redelivered
    source = build.ingest_source(inc)
    order = ["batch_id", "row"]
    with DuckDBEngine(data_dir=tmp_path) as eng:
        employer_records.read_records(eng, source)
        whole = eng.fetch("SELECT * FROM employer_records").sort(order)
        employer_records.read_records(eng, source, tmp_path / "cache")
        cached = eng.fetch("SELECT * FROM employer_records").sort(order)
        assert cached.equals(whole.select(cached.columns)) and whole.height > 1000
        computed: list[int] = []
        real = employer_records.records

        def counting(e: DuckDBEngine) -> None:
            computed.append(1)
            real(e)

        monkeypatch.setattr(employer_records, "records", counting)
        employer_records.read_records(eng, source, tmp_path / "cache")  # a later build: all cached
        assert computed == []
        assert eng.fetch("SELECT * FROM employer_records").sort(order).equals(cached)


def _entry(data: Path, batch_id: str) -> record_cache.Entry:
    from canbao.registry import person_records

    folder = data / "registry" / "cache" / person_records.derivation_version() / batch_id
    assert folder.is_dir(), batch_id
    return record_cache.Entry.at(folder)


def test_a_redelivery_derives_only_its_new_rows(redelivered: tuple[Path, Path, Path]) -> None:
    """The re-delivered register's cache entry carries the superseded batch's derived files on
    (hard links), derives only its added and changed rows and lists the superseded records it
    drops; its records equal the whole batch derived afresh (the full rebuild's cache)."""
    _city, inc, full = redelivered
    batch = next(b for b in ingest_api.batches(inc) if b.as_of.isoformat() == "2018-01-31")
    ch = batch.changes
    assert ch is not None
    entry = _entry(inc, batch.batch_id)
    assert entry.carried and entry.gone is not None
    old = _entry(inc, ch["base"][0])
    assert [p.stat().st_ino for p in entry.carried] == [p.stat().st_ino for p in old.files()]
    own = pl.read_parquet(list(entry.own))
    assert own.height == ch["added"] + ch["changed"]
    assert set(own["batch_id"].unique().to_list()) == {batch.batch_id}
    assert pl.read_parquet(entry.gone).height == ch["changed"] + ch["removed"]
    whole = _entry(full, batch.batch_id)
    assert not whole.carried  # derived whole: no cache to carry from
    a = entry.scan().collect().sort("rec_key")
    b = whole.scan().collect().sort("rec_key")
    assert a.height == batch.accepted and a.equals(b)


def test_a_chain_of_redeliveries_stays_flat(
    redelivered: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    """A second re-delivery carries the first one's files (its own part and what it carried)
    without nesting, and the gone list is cumulative; a re-delivery whose carried share is
    mostly gone is derived whole."""
    _city, inc, _full = redelivered
    work = tmp_path / "data"
    shutil.copytree(inc, work)
    from canbao.ingest.batches import ingest_file

    jan = next(b for b in ingest_api.batches(work) if b.as_of.isoformat() == "2018-01-31")
    # February: January's file less every 50th row
    lines = Path(jan.file_path).read_text(encoding="utf-8").splitlines(keepends=True)
    feb_file = tmp_path / "huji_2018-02-28.csv"
    feb_file.write_text(
        "".join(x for i, x in enumerate(lines) if i == 0 or i % 50), encoding="utf-8"
    )
    ingest_file(work, feb_file, source=jan.source, kind="population", as_of="2018-02-28")
    feb = next(b for b in ingest_api.batches(work) if b.as_of.isoformat() == "2018-02-28")
    assert feb.changes is not None and feb.changes["removed"] == len(lines) // 50
    assert api.build(work).mode == "incremental"
    first, second = _entry(work, jan.batch_id), _entry(work, feb.batch_id)
    assert not second.own  # no row is new: nothing to derive
    assert len(second.carried) == len(first.files())  # January's own part and carried files
    assert second.gone is not None and first.gone is not None
    jan_gone, feb_gone = pl.read_parquet(first.gone), pl.read_parquet(second.gone)
    assert feb_gone.height == jan_gone.height + feb.changes["removed"]
    assert jan_gone.join(feb_gone, on="rec_key", how="anti").height == 0  # cumulative
    jan_records = first.scan().collect()
    got = second.scan().collect().sort("rec_key")
    assert got.height == feb.accepted
    assert got.equals(
        jan_records.join(got.select("rec_key"), on="rec_key", how="semi").sort("rec_key")
    )
    # and the registry equals a full rebuild with every record derived afresh
    full = tmp_path / "full"
    shutil.copytree(work, full)
    shutil.rmtree(full / "registry" / "cache")
    assert api.build(full, full=True).mode == "full"
    a, b = snapshot.require_current(work), snapshot.require_current(full)
    for table, key in KEYS.items():
        assert a.scan(table).collect().sort(key).equals(b.scan(table).collect().sort(key)), table


def test_a_mostly_gone_redelivery_is_derived_whole(
    redelivered: tuple[Path, Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the gone share, the re-delivered batch is derived whole (no carried files), with
    the same records."""
    from canbao.registry import build, person_records

    _city, inc, _full = redelivered
    work = tmp_path / "data"
    shutil.copytree(inc, work)
    batch = next(b for b in ingest_api.batches(work) if b.as_of.isoformat() == "2018-01-31")
    carried = _entry(work, batch.batch_id)
    assert carried.carried
    want = carried.scan().collect().sort("rec_key")
    folder = work / "registry" / "cache" / person_records.derivation_version() / batch.batch_id
    shutil.rmtree(folder)
    monkeypatch.setattr(record_cache, "CARRY_GONE_SHARE", 0.001)
    record_cache.cached_batches(
        build.ingest_source(work), work / "registry" / "cache", None, build._superseded(work)
    )
    entry = _entry(work, batch.batch_id)
    assert not entry.carried and entry.own
    got = entry.scan().collect().sort("rec_key")
    assert got.height == batch.accepted
    assert got.equals(want)


@pytest.mark.parametrize("listed", ["as ingested", "one identity missing"])
def test_a_redelivery_is_carried_by_ingests_list(
    redelivered: tuple[Path, Path, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    listed: str,
) -> None:
    """With ingest's list of the identities a re-delivery does not carry on, the carry looks
    those records up and reads no carried row's identity; a list whose counts do not add up
    falls back to matching every identity. Either way the entry is the same."""
    from canbao.ingest import redelivery
    from canbao.registry import build, person_records

    _city, inc, _full = redelivered
    work = tmp_path / "data"
    shutil.copytree(inc, work)
    batch = next(b for b in ingest_api.batches(work) if b.as_of.isoformat() == "2018-01-31")
    want = _entry(work, batch.batch_id)
    assert want.gone is not None
    gone_file = work / "batches" / batch.batch_id / redelivery.GONE_FILE
    ids = pl.read_parquet(gone_file)
    assert ids.height == pl.read_parquet(want.gone).height > 5
    folder = work / "registry" / "cache" / person_records.derivation_version() / batch.batch_id
    shutil.rmtree(folder)
    by_keys = record_cache._gone_by_keys
    matched: list[int] = []

    def counting(*args: object) -> object:
        matched.append(1)
        return by_keys(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(record_cache, "_gone_by_keys", counting)
    if listed != "as ingested":
        ids.slice(1).write_parquet(gone_file)
    record_cache.cached_batches(
        build.ingest_source(work), work / "registry" / "cache", None, build._superseded(work)
    )
    got = _entry(work, batch.batch_id)
    assert matched == ([] if listed == "as ingested" else [1])
    assert got.carried and got.gone is not None
    assert got.scan().collect().sort("rec_key").equals(want.scan().collect().sort("rec_key"))
    assert (
        pl.read_parquet(got.gone).sort("rec_key").equals(pl.read_parquet(want.gone).sort("rec_key"))
    )


def _carry_of(tmp_path: Path, identities: list[str]) -> bool:
    """``record_cache._carry`` of a re-delivery (batch ``b2``, one row per identity) from an
    entry of twenty records ``b1:1`` … ``b1:20``."""
    old = tmp_path / "old" / "b1"
    old.mkdir(parents=True)
    pl.DataFrame(
        {"rec_key": _SUPERSEDED, "id18": [None] * len(_SUPERSEDED)},
        schema_overrides={"id18": pl.Utf8},
    ).write_parquet(old / "part-00000.parquet")
    batch = pl.LazyFrame(
        {
            "batch_id": ["b2"] * len(identities),
            "row": list(range(1, len(identities) + 1)),
            "rec_id": identities,
        }
    )
    out = tmp_path / "out"
    out.mkdir()
    return record_cache._carry(batch, "population", "b2", [old], out)


_SUPERSEDED = [f"b1:{i}" for i in range(1, 21)]


@pytest.mark.parametrize(
    ("identities", "gone"),
    [
        (_SUPERSEDED, 0),  # every record carried on
        (_SUPERSEDED[::-1], 0),  # reordered
        (_SUPERSEDED[1:], 1),  # one record gone (under the gone share)
        (["b1:2", *_SUPERSEDED[1:]], None),  # one identity carried twice
        ([*_SUPERSEDED[:-1], "b1:99"], None),  # an identity that is no superseded record
        (["b0:1", *_SUPERSEDED[1:]], None),  # … of another batch
    ],
)
def test_a_carry_takes_each_superseded_record_once(
    tmp_path: Path, identities: list[str], gone: int | None
) -> None:
    """A re-delivery carries the superseded records on only when its carried identities are
    exactly superseded records, one each (the others listed as gone); otherwise (None) the
    batch is derived whole."""
    assert _carry_of(tmp_path, identities) is (gone is not None)
    if gone is not None:
        entry = record_cache.Entry.at(tmp_path / "out")
        assert entry.carried and entry.gone is not None
        assert pl.read_parquet(entry.gone)["rec_key"].to_list() == _SUPERSEDED[:gone]
