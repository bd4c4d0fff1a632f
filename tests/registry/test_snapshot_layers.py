"""Layered (merge-on-read) snapshot tables: publish with changes/reuse, read merged three ways."""

from __future__ import annotations

import json
import random
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from canbao.errors import StateError, UsageError
from canbao.registry import snapshot
from canbao.registry.engine import DuckDBEngine
from canbao.registry.snapshot_layers import COMPACT_SHARE
from tests.scopes import SYSTEM

Key = tuple[Any, ...]
Row = tuple[Any, ...]

# layered tables under test: key columns and their value columns (a 2-column key; a "row" key)
SCHEMAS: dict[str, dict[str, Any]] = {
    "pairs": {"node_id_l": pl.Utf8, "node_id_r": pl.Utf8, "match_weight": pl.Int64},
    "enrollments": {"batch_id": pl.Utf8, "row": pl.Int64, "scheme": pl.Utf8, "base": pl.Int64},
    "links": {"rec_key": pl.Utf8, "person_key": pl.Utf8},
}


def frame(table: str, rows: dict[Key, Row], *, reverse: bool = False) -> pl.DataFrame:
    """The table as a frame (columns reversed when ``reverse``: writers must not rely on order)."""
    schema = SCHEMAS[table]
    data = [k + v for k, v in sorted(rows.items())]
    df = pl.DataFrame(data, schema=schema, orient="row")
    return df.select(list(reversed(df.columns))) if reverse else df


def key_frame(table: str, keys: set[Key]) -> pl.DataFrame:
    cols = snapshot.LAYERED[table]
    schema = {c: SCHEMAS[table][c] for c in cols}
    return pl.DataFrame(sorted(keys), schema=schema, orient="row")


def load(eng: DuckDBEngine, name: str, df: pl.DataFrame) -> None:
    eng.create_table_from_arrow(name, df.to_arrow())


def filler(eng: DuckDBEngine) -> None:
    """Every snapshot table the tests do not look at, tiny."""
    for t in snapshot.SNAPSHOT_TABLES:
        if t not in SCHEMAS:
            load(eng, t, pl.DataFrame({f"{t}_col": [1, 2, 3]}))


@dataclass
class Model:
    """Independent model of one layered table: the truth (``rows``) and the expected layers."""

    table: str
    rows: dict[Key, Row]
    base: dict[Key, Row] = field(default_factory=dict)
    delta: dict[Key, Row] = field(default_factory=dict)
    gone: set[Key] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.base = dict(self.rows)

    def apply(self, upserts: dict[Key, Row], deletes: set[Key], extra_gone: set[Key]) -> set[Key]:
        """Change the truth; return the keys the builder declares gone (``{T}__gone``)."""
        gone_in = deletes | {k for k in upserts if k in self.rows} | extra_gone
        for k in deletes:
            self.rows.pop(k, None)
        self.rows.update(upserts)
        self.gone |= gone_in
        self.delta = {k: v for k, v in self.delta.items() if k not in gone_in} | upserts
        if len(self.delta) > COMPACT_SHARE * len(self.base):
            self.base, self.delta, self.gone = dict(self.rows), {}, set()
        return gone_in

    def entry(self) -> dict[str, int] | None:
        if not self.delta and not self.gone:
            return None
        return {"delta": len(self.delta), "gone": len(self.gone), "base": len(self.base)}


def stage(eng: DuckDBEngine, m: Model, upserts: dict[Key, Row], gone_in: set[Key]) -> None:
    load(eng, f"{m.table}__rows", frame(m.table, upserts, reverse=True))
    load(eng, f"{m.table}__gone", key_frame(m.table, gone_in))


def check(snap: snapshot.Snapshot, table: str, expected: pl.DataFrame, eng: DuckDBEngine) -> None:
    keys = list(snapshot.LAYERED[table])
    want = expected.sort(keys)
    assert_frame_equal(snap.scan(table).collect().sort(keys), want)
    assert_frame_equal(duckdb.sql(snap.sql(table)).pl().sort(keys), want)
    assert duckdb.sql(f"SELECT count(*) FROM ({snap.sql(table)})").fetchall() == [(want.height,)]
    view = f"v_{table}"
    snap.register(eng, table, view)
    assert_frame_equal(eng.fetch(f"SELECT * FROM {view}").sort(keys), want)
    if snap.layers(table) is None:
        assert_frame_equal(pl.read_parquet(snap.table(table)).sort(keys), want)
    else:
        with pytest.raises(StateError, match="增量分层"):
            snap.table(table)


def _rows_enrollments(rng: random.Random, n: int, start: int = 0) -> dict[Key, Row]:
    return {
        ("B1", i): (rng.choice(["A", "B", "C"]), rng.randrange(1000))
        for i in range(start, start + n)
    }


def _rows_pairs(n: int, start: int = 0) -> dict[Key, Row]:
    return {(f"n{i}", f"n{i + 1}"): (i,) for i in range(start, start + n)}


@pytest.fixture
def engine() -> Iterator[DuckDBEngine]:
    eng = DuckDBEngine()
    yield eng
    eng.close()


def test_layered_publish_sequence(tmp_path: Path, engine: DuckDBEngine) -> None:
    rng = random.Random(7)
    reader = DuckDBEngine()
    models = {
        "pairs": Model("pairs", _rows_pairs(30)),
        "enrollments": Model("enrollments", _rows_enrollments(rng, 30)),
        "links": Model("links", {(f"r{i}",): (f"p{i % 7}",) for i in range(30)}),
    }
    filler(engine)
    for t, m in models.items():
        load(engine, t, frame(t, m.rows))
    history: list[tuple[snapshot.Snapshot, dict[str, pl.DataFrame]]] = []

    def publish(
        build_id: str,
        steps: dict[str, tuple[dict[Key, Row], set[Key], set[Key]]],
        reuse: tuple[str, ...] = (),
    ) -> snapshot.Snapshot:
        for t, (ups, dels, extra) in steps.items():
            stage(engine, models[t], ups, models[t].apply(ups, dels, extra))
        for t, m in models.items():
            if t not in steps and t not in reuse:  # written in full from the engine table
                load(engine, t, frame(t, m.rows))
                m.base, m.delta, m.gone = dict(m.rows), {}, set()
        prev = history[-1][0] if history else None
        snap = snapshot.publish(
            engine,
            tmp_path,
            build_id,
            {"build_id": build_id},
            prev=prev,
            changes=tuple(steps),
            reuse=reuse,
        )
        assert snapshot.require_current(tmp_path).build_id == build_id
        assert json.loads((snap.path / "build.json").read_text("utf-8")) == snap.info
        for t in models:
            if t not in reuse:
                assert snap.layers(t) == models[t].entry(), t
        history.append((snap, {t: frame(t, m.rows) for t, m in models.items()}))
        for old, expected in history:  # every snapshot still reads as it was published
            for t, df in expected.items():
                check(old, t, df, reader)
        return snap

    s0 = publish("b0", {})
    assert "layers" not in s0.info

    # updates, deletes, new keys; extra gone keys (never in the table; a new key) are harmless
    s1 = publish(
        "b1",
        {
            "pairs": (
                {("n3", "n4"): (-3,), ("n9", "n10"): (-9,), ("x1", "x2"): (100,)},
                {("n5", "n6"), ("n7", "n8")},
                {("zz", "zz"), ("x1", "x2")},
            ),
            "enrollments": ({("B1", 2): ("Z", 1), ("B2", 0): ("N", 5)}, {("B1", 4)}, set()),
            "links": ({("r1",): ("p9",)}, {("r2",)}, set()),
        },
        reuse=("nodes", "persons"),
    )
    assert s1.info["layers"]["pairs"] == {"delta": 3, "gone": 6, "base": 30}
    assert (s1.path / "pairs.delta.parquet").exists() and (s1.path / "pairs.gone.parquet").exists()
    for t in ("nodes", "persons", "pairs"):  # reused and changed tables share the base file
        assert (s1.path / f"{t}.parquet").stat().st_ino == (s0.path / f"{t}.parquet").stat().st_ino

    # a delta key deleted, a deleted base key re-added, a delta key updated again; links reused
    s2 = publish(
        "b2",
        {
            "pairs": ({("n5", "n6"): (55,), ("n3", "n4"): (-33,)}, {("x1", "x2")}, set()),
            "enrollments": ({("B1", 4): ("Y", 4)}, {("B2", 0)}, set()),
        },
        reuse=("links",),
    )
    assert s2.layers("links") == s1.layers("links") is not None
    for part in ("links.parquet", "links.delta.parquet", "links.gone.parquet"):
        assert (s2.path / part).stat().st_ino == (s1.path / part).stat().st_ino
    assert s2.info["layers"]["pairs"] == {"delta": 3, "gone": 6, "base": 30}

    # enough new keys that the delta outgrows a fifth of the base: compacted into a new base
    s3 = publish("b3", {"pairs": (_rows_pairs(5, start=100), {("n0", "n1")}, set())})
    assert s3.layers("pairs") is None and "layers" not in s3.info
    assert not (s3.path / "pairs.delta.parquet").exists()
    assert (s3.path / "pairs.parquet").stat().st_ino != (s2.path / "pairs.parquet").stat().st_ino
    assert pl.read_parquet(s3.table("pairs")).height == len(models["pairs"].rows) == 33
    # and a layered publish on the compacted base starts a new delta
    s4 = publish("b4", {"pairs": ({("n1", "n2"): (0,)}, set(), set())})
    assert s4.layers("pairs") == {"delta": 1, "gone": 1, "base": 33}
    reader.close()


def test_new_layered_table_and_misuse(tmp_path: Path, engine: DuckDBEngine) -> None:
    filler(engine)
    for t in SCHEMAS:
        load(engine, t, frame(t, {}))
    load(engine, "id_anchor", pl.DataFrame({"id18": ["a", "b"], "person_key": ["p1", "p2"]}))
    s0 = snapshot.publish(engine, tmp_path, "b0", {})
    (s0.path / "id_anchor.parquet").unlink()  # a snapshot from before id_anchor existed
    load(engine, "id_anchor__rows", pl.DataFrame({"id18": ["c"], "person_key": ["p3"]}))
    load(engine, "id_anchor__gone", pl.DataFrame({"id18": ["a"]}))
    s1 = snapshot.publish(engine, tmp_path, "b1", {}, prev=s0, changes=["id_anchor"])
    assert s1.layers("id_anchor") is None
    assert pl.read_parquet(s1.table("id_anchor")).to_dicts() == [{"id18": "c", "person_key": "p3"}]
    with pytest.raises(StateError):
        s0.scan("id_anchor")
    with pytest.raises(StateError):  # the previous snapshot has no such table to reuse
        snapshot.publish(engine, tmp_path, "b2", {}, prev=s0, reuse=["id_anchor"])
    with pytest.raises(UsageError):
        snapshot.publish(engine, tmp_path, "b2", {}, changes=["links"])  # no prev
    with pytest.raises(UsageError):
        snapshot.publish(engine, tmp_path, "b2", {}, prev=s1, changes=["review_items"])
    with pytest.raises(UsageError):
        snapshot.publish(engine, tmp_path, "b2", {}, prev=s1, changes=["links"], reuse=["links"])
    load(engine, "links__rows", pl.DataFrame({"rec_key": ["r"], "other": ["x"]}))
    load(engine, "links__gone", pl.DataFrame({"rec_key": ["r"]}))
    with pytest.raises(StateError, match="全量重建"):
        snapshot.publish(engine, tmp_path, "b2", {}, prev=s1, changes=["links"])
    assert snapshot.require_current(tmp_path).build_id == "b1"
    assert not (tmp_path / "registry" / "snapshots" / "b2").exists()


KEYS = [(a, b) for a in ("a", "b") for b in "cdefghij"]
# one step: per key, nothing / upsert with a value / delete
STEP = st.dictionaries(st.sampled_from(KEYS), st.one_of(st.none(), st.integers(0, 9)), max_size=3)
START = st.dictionaries(st.sampled_from(KEYS), st.integers(0, 9), max_size=len(KEYS))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    start=START,
    steps=st.lists(STEP, min_size=1, max_size=4),
    extra=st.lists(st.sampled_from(KEYS), max_size=2),
)
def test_merged_equals_model(
    start: dict[Key, int], steps: list[dict[Key, int | None]], extra: list[Key]
) -> None:
    """Random upserts/deletes over a small key space (2-column key): after every layered
    publish, the merged table equals a dict model."""
    rows: dict[Key, Row] = {k: (v,) for k, v in start.items()}
    model = Model("pairs", rows)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        eng = DuckDBEngine()
        try:
            filler(eng)
            for t in SCHEMAS:
                load(eng, t, frame(t, model.rows if t == "pairs" else {}))
            snap = snapshot.publish(eng, data, "b0", {})
            others = tuple(t for t in snapshot.SNAPSHOT_TABLES if t != "pairs")
            for i, step in enumerate(steps, start=1):
                ups = {k: (v,) for k, v in step.items() if v is not None}
                dels = {k for k, v in step.items() if v is None}
                # extra keys declared gone: never an unchanged key still in the table
                spare = {k for k in extra if i == 1 and (k not in model.rows or k in ups)}
                gone_in = model.apply(ups, dels, spare)
                stage(eng, model, ups, gone_in)
                snap = snapshot.publish(
                    eng, data, f"b{i}", {}, prev=snap, changes=["pairs"], reuse=others
                )
                assert snap.layers("pairs") == model.entry()
                want = frame("pairs", model.rows).sort("node_id_l", "node_id_r")
                got = snap.scan("pairs").collect().sort("node_id_l", "node_id_r")
                assert_frame_equal(got, want)
                assert_frame_equal(
                    duckdb.sql(snap.sql("pairs")).pl().sort("node_id_l", "node_id_r"), want
                )
                snap.register(eng, "pairs", "v_pairs")
                assert_frame_equal(
                    eng.fetch("SELECT * FROM v_pairs").sort("node_id_l", "node_id_r"), want
                )
                event("layered" if snap.layers("pairs") else "plain or compacted")
        finally:
            eng.close()


def _relayer(data: Path) -> snapshot.Snapshot:
    """Publish the current build again with every layered table stored as base + delta + gone
    (every tenth key of each table re-emitted as changed rows): the same rows, layered."""
    prev = snapshot.require_current(data)
    eng = DuckDBEngine()
    try:
        changes = []
        for t, keys in snapshot.LAYERED.items():
            df = prev.scan(t).collect()
            if df.height < 5:  # too small to stay layered
                continue
            chosen = df.select(keys).unique().sort(keys).gather_every(10)
            load(eng, f"{t}__rows", df.join(chosen, on=list(keys), how="semi"))
            load(eng, f"{t}__gone", chosen)
            changes.append(t)
        others = [t for t in snapshot.SNAPSHOT_TABLES if t not in changes]
        return snapshot.publish(
            eng, data, "relayered", dict(prev.info), prev=prev, changes=changes, reuse=others
        )
    finally:
        eng.close()


def test_readers_see_layered_tables(tmp_path: Path) -> None:
    """The registry API and a coverage session read a layered snapshot exactly as the plain one."""
    from canbao.coverage.session import open_session
    from canbao.registry import api
    from tests.registry import test_deterministic as base

    api.build(tmp_path, source=base._source())

    def read() -> dict[str, pl.DataFrame]:
        out = {
            "links": api.links(tmp_path, SYSTEM),
            "persons": api.persons(tmp_path, SYSTEM, reveal=True),
            "enrollments": api._read(tmp_path, "enrollments").sort("batch_id", "row"),
            "review": api.review_items(tmp_path, SYSTEM).sort("pair_id"),
        }
        session = open_session(tmp_path, SYSTEM)
        try:
            for t, key in (
                ("links", "rec_key"),
                ("persons", "person_key"),
                ("enrollments", ["batch_id", "row"]),
            ):
                out[f"session_{t}"] = session.frame(f"SELECT * FROM {t}").sort(key)
        finally:
            session.close()
        return out

    before = read()
    _index_agrees(snapshot.require_current(tmp_path))
    snap = _relayer(tmp_path)
    _index_agrees(snap)
    layered = sorted(snap.info.get("layers", {}))
    assert {"links", "persons", "enrollments", "node_members"} <= set(layered)
    for t in layered:
        with pytest.raises(StateError):
            snap.table(t)
    after = read()
    for name, df in before.items():
        assert df.height > 0, name
        assert_frame_equal(after[name], df, check_dtypes=False), name
    # an incremental build on top of the layered snapshot reads its nodes and pairs merged
    assert "nodes" in layered
    assert api.build(tmp_path, source=base._source()).mode == "incremental"
    again = read()
    for name, df in before.items():
        assert_frame_equal(again[name], df, check_dtypes=False), name
    _index_agrees(snapshot.require_current(tmp_path))


def _index_agrees(snap: snapshot.Snapshot) -> None:
    """The ID index beside the snapshot finds exactly the persons a scan finds, for every ID
    and for IDs that are not there; without the index (an older build) the scan answers."""
    from canbao.registry import id_index

    index = snap.path / id_index.FILE
    assert index.exists()
    persons = snap.scan("persons").collect()
    ids = persons["id18"].drop_nulls().unique().sort().to_list()
    # the index's rows: its base, less the gone keys of a layered persons table, plus its delta
    indexed = pl.read_parquet(index)
    if (snap.path / id_index.DELTA_FILE).exists():
        gone = pl.read_parquet(snap.path / "persons.gone.parquet")
        indexed = pl.concat(
            [
                indexed.join(gone, on="person_key", how="anti"),
                pl.read_parquet(snap.path / id_index.DELTA_FILE),
            ]
        )
    assert len(ids) > 5 and sorted(indexed["id18"].to_list()) == sorted(
        persons["id18"].drop_nulls().to_list()
    )
    cols = persons.columns
    for i in [*ids, "110101199001011234", ""]:
        want = persons.filter(pl.col("id18") == i).sort("person_key")
        assert_frame_equal(snap.find_id(i).select(cols).sort("person_key"), want)
    moved = index.rename(index.with_suffix(".away"))
    try:
        assert_frame_equal(
            snap.find_id(ids[0]).select(cols), persons.filter(pl.col("id18") == ids[0])
        )
    finally:
        moved.rename(index)


def _publish_persons(data: Path, build_id: str, rows: pl.DataFrame, gone: list[str]) -> Any:
    """Publish the current build again with ``persons`` changed: ``rows`` (current rows of
    changed or new keys) and ``gone`` (changed or removed keys); every other table reused."""
    prev = snapshot.require_current(data)
    eng = DuckDBEngine()
    try:
        load(eng, "persons__rows", rows)
        load(
            eng, "persons__gone", pl.DataFrame({"person_key": gone}, schema={"person_key": pl.Utf8})
        )
        others = [t for t in snapshot.SNAPSHOT_TABLES if t != "persons"]
        return snapshot.publish(
            eng, data, build_id, dict(prev.info), prev=prev, changes=["persons"], reuse=others
        )
    finally:
        eng.close()


def test_id_index_follows_the_persons_layers(tmp_path: Path) -> None:
    """An incremental publish links the base's ID index from the previous build (no sort of
    every person) and indexes the delta: a person whose ID changed, one removed and one new are
    found exactly as a scan of the merged table finds them, over two layered builds; a
    compaction writes the index whole again."""
    import os

    from canbao.registry import api, id_index
    from tests.registry import test_deterministic as base

    api.build(tmp_path, source=base._source())
    built = snapshot.require_current(tmp_path).scan("persons").collect()
    # padded with made-up persons, so a few changes stay below the compaction share
    pad = pl.concat(
        [
            built.head(1).with_columns(
                pl.lit(f"P{i:04d}").alias("person_key"), pl.lit(f"T{i:017d}").alias("id18")
            )
            for i in range(60)
        ]
    )
    eng = DuckDBEngine()
    try:
        load(eng, "persons", pl.concat([built, pad]))
        prev = snapshot.require_current(tmp_path)
        others = [t for t in snapshot.SNAPSHOT_TABLES if t != "persons"]
        first = snapshot.publish(eng, tmp_path, "first", dict(prev.info), prev=prev, reuse=others)
    finally:
        eng.close()
    persons = first.scan("persons").collect().sort("person_key")
    with_id = persons.filter(pl.col("id18").is_not_null())
    assert with_id.height >= 6
    a, b, c = with_id.row(0, named=True), with_id.row(1, named=True), with_id.row(2, named=True)
    # a's ID becomes c's (two persons then share it); b is removed; a new person takes b's ID
    changed = with_id.filter(pl.col("person_key") == a["person_key"]).with_columns(
        pl.lit(c["id18"]).alias("id18")
    )
    new = with_id.filter(pl.col("person_key") == b["person_key"]).with_columns(
        pl.lit("PNEW").alias("person_key")
    )
    second = _publish_persons(
        tmp_path, "second", pl.concat([changed, new]), [a["person_key"], b["person_key"]]
    )
    assert "persons" in second.info["layers"]
    assert os.path.samefile(first.path / id_index.FILE, second.path / id_index.FILE)
    assert (second.path / id_index.DELTA_FILE).exists()
    _index_agrees(second)
    found = second.find_id(c["id18"])["person_key"].sort().to_list()
    assert found == sorted([a["person_key"], c["person_key"]])
    assert second.find_id(a["id18"]).height == 0
    assert second.find_id(b["id18"])["person_key"].to_list() == ["PNEW"]

    # a second layered build: still the first base's index, the cumulative delta indexed
    d = with_id.row(3, named=True)
    third = _publish_persons(
        tmp_path, "third", pl.DataFrame(schema=persons.schema), [d["person_key"]]
    )
    assert os.path.samefile(first.path / id_index.FILE, third.path / id_index.FILE)
    _index_agrees(third)
    assert third.find_id(d["id18"]).height == 0
    assert third.find_id(b["id18"])["person_key"].to_list() == ["PNEW"]

    # a delta larger than the compaction share: the table and its index are written whole
    many = with_id.head(max(3, int(COMPACT_SHARE * persons.height) + 2)).with_columns(
        (pl.col("person_key") + "X").alias("person_key")
    )
    fourth = _publish_persons(tmp_path, "fourth", many, [])
    assert "layers" not in fourth.info or "persons" not in fourth.info["layers"]
    assert not (fourth.path / id_index.DELTA_FILE).exists()
    assert not os.path.samefile(first.path / id_index.FILE, fourth.path / id_index.FILE)
    _index_agrees(fourth)
    assert fourth.find_id(b["id18"])["person_key"].sort().to_list() == sorted(
        ["PNEW", b["person_key"] + "X"]
    )
