"""Orchestrates a registry build (full or incremental) and publishes the snapshot."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from canbao.ingest.identity import as_origin, identity_key
from canbao.registry import (
    assign,
    decisions,
    employer_records,
    employers,
    hotkeys,
    incremental,
    keys,
    nodes,
    owners,
    person_records,
    record_cache,
    repair,
    scoring,
    snapshot,
    survivorship,
    trust,
)
from canbao.registry.engine import Engine, open_engine
from canbao.warehouse.lock import writer_lock

RecordSource = Callable[[str], pl.LazyFrame | None]
Progress = Callable[[str], None]

ENROLLMENT_COLUMNS: dict[str, pl.DataType] = {
    "batch_id": pl.Utf8(),
    "row": pl.Int64(),
    "source": pl.Utf8(),
    "scheme": pl.Utf8(),
    "status": pl.Utf8(),
    "start_date": pl.Date(),
    "end_date": pl.Date(),
    "county_code": pl.Utf8(),
    "person_type": pl.Utf8(),
    "base": pl.Int64(),
    "benefit": pl.Utf8(),
    "as_of": pl.Date(),
}


@dataclass
class BuildResult:
    build_id: str
    mode: str
    path: Path
    counts: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


def ingest_source(data_dir: Path) -> RecordSource:
    """The accepted records of the current batches, from :mod:`canbao.ingest.api`."""
    from canbao.ingest import api

    def source(kind: str) -> pl.LazyFrame | None:
        if not api.current_batches(data_dir, kind=kind):
            return None
        return api.current_records(data_dir, kind)

    return source


def _enrollments(source: RecordSource, keys: list[str] | None = None) -> pl.LazyFrame:
    lf = source("enrollment")
    if lf is None:
        return pl.LazyFrame(schema=ENROLLMENT_COLUMNS)
    if keys is not None:
        lf = lf.filter(identity_key(lf).is_in(keys))
    lf = as_origin(lf)  # each record under its identity, as in person_records
    schema = lf.collect_schema()
    return lf.select(
        [
            pl.col(c).cast(t, strict=False) if c in schema else pl.lit(None, dtype=t).alias(c)
            for c, t in ENROLLMENT_COLUMNS.items()
        ]
    )


def _batch_deriver(
    eng: Engine, data_dir: Path, ingested: bool
) -> person_records.BatchDeriver | None:
    """On Spark, batches read from the ingest store are derived on the executors."""
    derive = getattr(eng, "derive_batch", None)
    if derive is None or not ingested:
        return None
    from canbao.warehouse.datadir import DataLayout

    layout = DataLayout(Path(data_dir))

    def run(batch_id: str, kind: str, out: Path) -> bool:
        records = layout.batch(batch_id) / "records.parquet"
        if not records.exists():
            return False
        derive(records, kind, out)
        return True

    return run


def _superseded(data_dir: Path) -> record_cache.Superseded:
    """batch → the batches it superseded at ingest (its row-level difference's base) and the
    list of their identities it does not carry on."""
    from canbao.ingest import api, redelivery
    from canbao.warehouse.datadir import DataLayout

    layout = DataLayout(Path(data_dir))
    found = {}
    for b in api.batches(data_dir):
        bases = list((b.changes or {}).get("base") or [])
        gone = layout.batch(b.batch_id) / redelivery.GONE_FILE
        found[b.batch_id] = record_cache.Redelivery(bases, gone if gone.is_file() else None)
    return lambda batch_id: found.get(batch_id, record_cache.Redelivery([]))


def _model_id(model_dir: Path) -> str:
    digest = hashlib.sha256()
    for name in (scoring.MODEL_FILE, scoring.TF_FILE):
        digest.update((model_dir / name).read_bytes())
    return digest.hexdigest()[:16]


def build(
    data_dir: Path,
    *,
    full: bool = False,
    retrain: bool = False,
    source: RecordSource | None = None,
    progress: Progress | None = None,
    engine: str | None = None,
    spark_master: str | None = None,
) -> BuildResult:
    """Build the registry; ``engine`` is ``duckdb`` (default, or ``$CANBAO_ENGINE``) or
    ``spark`` (``spark_master``: ``local[N]`` or a cluster URL, default ``$CANBAO_SPARK_MASTER``
    or ``local[*]``). Holds the data directory's writer lock throughout (another build or an
    ingest fails with :class:`canbao.warehouse.lock.DataDirBusy`)."""
    data_dir = Path(data_dir)
    with writer_lock(data_dir, "build"):
        eng = open_engine(engine, spark_master=spark_master, data_dir=data_dir)
        try:
            return _build(
                eng, data_dir, full=full, retrain=retrain, source=source, progress=progress
            )
        except hotkeys.HotKeysChanged:
            # a household or employer crossed its hot-key threshold (registry.hotkeys): only a
            # full build scores the same pairs as a rebuild would
            if progress is not None:
                progress("热点键集合有变化，改为全量构建 (hot keys changed: full build)")
            eng.close()
            eng = open_engine(engine, spark_master=spark_master, data_dir=data_dir)
            return _build(eng, data_dir, full=True, retrain=False, source=source, progress=progress)
        finally:
            eng.close()


def _build(
    eng: Engine,
    data_dir: Path,
    *,
    full: bool,
    retrain: bool,
    source: RecordSource | None,
    progress: Progress | None,
) -> BuildResult:
    say = progress or (lambda _msg: None)
    ingested = source is None
    source = source or ingest_source(data_dir)
    model_dir = snapshot.registry_dir(data_dir) / "model"
    timings: dict[str, float] = {}
    t0 = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal t0
        now = time.perf_counter()
        timings[name] = round(timings.get(name, 0.0) + now - t0, 3)
        t0 = now

    say("读取人员记录 (reading person records)")
    cache_root = snapshot.registry_dir(data_dir) / "cache"
    superseded = _superseded(data_dir) if ingested else None
    entries = record_cache.cached_batches(
        source, cache_root, _batch_deriver(eng, data_dir, ingested), superseded
    )
    if entries:
        record_cache.view(eng, "person_records", entries)  # read where used: 22M rows × 50 cols
    else:
        eng.create_table_from_arrow("person_records", person_records.assemble(source).to_arrow())
    person_batches = sorted(e.batch_id for e in entries)
    person_origins = sorted(
        eng.fetch("SELECT DISTINCT batch_id FROM person_records")["batch_id"].to_list()
    )
    employer_delivered = employer_records.delivered(source)
    employer_fingerprint = employer_records.fingerprint(
        source, cache_root / "employer-fingerprint" if ingested else None, employer_delivered
    )
    # employer records are cached per batch too: ingested batches never change
    read_employers = _EmployerRecords(
        eng, source, cache_root if ingested else None, superseded, employer_delivered
    )
    employer_batches = sorted(b for ids in employer_delivered.values() for b in ids)

    eng.create_table_from_arrow("decisions", decisions.load(data_dir).to_arrow())
    # person keys are digests keyed with the data directory's secret (registry.keys)
    eng.create_table_from_arrow(keys.TABLE, keys.secret_table(data_dir))
    key_scheme = keys.fingerprint(data_dir)
    lap("read")

    prev = None if full or retrain else snapshot.current(data_dir)
    delta = _delta(
        prev, model_dir, person_batches, source, cache_root, key_scheme, employer_fingerprint
    )
    if prev is not None and delta is not None:
        changed, reuse = _incremental(eng, prev, delta, model_dir, source, read_employers, say, lap)
        mode = "incremental"
    else:
        _full(eng, model_dir, retrain, source, read_employers, say, lap)
        changed, reuse, mode, prev = [], [], "full", None
    links_changed = _employer_links_changed(eng, prev, changed, reuse)
    eng.drop(*employers.WORK_TABLES)

    def last(snap: snapshot.Snapshot) -> dict[str, Any]:
        # one rule for both paths, computed from the tables just written: an incremental
        # build's own views of them (the previous snapshot's layers under this build's) read
        # slower than the new files (one layer over each base)
        lap("publish")
        for table in owners.SNAPSHOT_INPUTS:
            eng.drop(table)
            snap.register(eng, table)
        say("无证件号记录的可能本人 (likely owners of records without ID)")
        owners.build(eng)
        lap("owners")
        counts = {
            t: eng.scalar(f"SELECT count(*) FROM {t}")
            for t in ("person_records", "persons", "nodes", "pairs", "review_items",
                      "id_corrections", "employers", "enrollments", owners.TABLE)
        }  # fmt: skip
        return {"counts": counts}

    build_id = snapshot.new_build_id()
    info: dict[str, Any] = {
        "build_id": build_id,
        "mode": mode,
        "model_id": _model_id(model_dir),
        "derivation": person_records.derivation_version(),
        "person_key_scheme": key_scheme,
        "hot_keys": hotkeys.digest(eng),
        "hot_key_counts": hotkeys.counts(eng),
        "previous": prev.build_id if prev else None,
        "seconds": timings,
        "engine": eng.name,
        "person_batches": person_batches,
        "person_origins": person_origins,
        "employer_fingerprint": employer_fingerprint,
        "employer_batches": employer_batches,
        "employer_links_changed": links_changed,
    }
    if delta is not None and mode == "incremental":
        info["incremental"] = {
            "added": delta.added,
            "removed": delta.removed,
            **delta.stats,
            "employers_rebuilt": delta.employers_changed,
        }
    snap = snapshot.publish(
        eng,
        data_dir,
        build_id,
        info,
        prev=prev,
        changes=changed,
        reuse=reuse,
        last=snapshot.Last((owners.TABLE, "review_items"), last),
    )
    lap("publish")
    return BuildResult(build_id, mode, snap.path, snap.info["counts"], timings)


def _read_enrollments(eng: Engine, source: RecordSource, keys: list[str] | None = None) -> None:
    """Table ``enrollment_records``: every enrolment record, or those whose identity
    (``rec_key``, :func:`canbao.ingest.identity.as_origin`) is in ``keys`` — matched on the
    delivered columns, so only those rows are put under their identity."""
    eng.read_frame("enrollment_records", _enrollments(source, keys))


def _full(
    eng: Engine,
    model_dir: Path,
    retrain: bool,
    source: RecordSource,
    read_employers: _EmployerRecords,
    say: Progress,
    lap: Callable[[str], None],
) -> None:
    read_employers()
    _read_enrollments(eng, source)
    lap("read")
    say("确定性关联：可信身份证号 (deterministic: trusted IDs)")
    trust.build_anchors(eng)
    say("校验码修复与Excel损坏号码关联 (repair links)")
    repair.build_candidates(eng)
    repair.build_repair_links(eng)
    nodes.build_nodes(eng)
    hotkeys.build(eng)
    eng.drop("_cands", "id_candidates", "repair_hits", "repair_ambiguous")
    lap("deterministic")

    if retrain or not scoring.model_is_current(model_dir):
        say("训练概率模型 (training the probabilistic model)")
        scoring.train(eng, model_dir)
    lap("train")

    say("概率关联 (probabilistic scoring with Splink)")
    scoring.score(eng, model_dir, assign.LOWER)
    eng.execute("CREATE TABLE pairs AS SELECT * FROM scored_pairs ORDER BY node_id_l, node_id_r")
    eng.drop("scored_pairs", "_a", "_b")
    lap("score")

    say("聚类、复核队列与主记录 (clusters, review queue, master records)")
    assign.assign(eng)
    eng.drop(*assign.WORK_TABLES)
    eng.execute(
        "CREATE OR REPLACE TABLE b_cluster AS SELECT node_id, cluster_id, method "
        "FROM node_cluster WHERE node_id IN (SELECT node_id FROM nodes WHERE node_type = 'B')"
    )
    survivorship.source_order(eng, "person_records", "employer_records")
    survivorship.record_clusters(eng)
    survivorship.masters(eng)
    eng.drop("rc_records", "node_cluster")
    employers.link(eng)
    survivorship.enrollments_of(eng)
    lap("cluster")


def _cache_entries(cache_root: Path, batch_ids: list[str]) -> list[record_cache.Entry] | None:
    """The derived records of these batches (superseded ones), or None when one of them is not
    in the cache of the running derivation code (the build is then a full one)."""
    cache_dir = cache_root / person_records.derivation_version()
    entries = []
    for batch_id in batch_ids:
        final = cache_dir / batch_id
        if not final.is_dir():
            return None
        entries.append(record_cache.Entry.at(final))
    return entries


def _delta(
    prev: snapshot.Snapshot | None,
    model_dir: Path,
    person_batches: list[str],
    source: RecordSource,
    cache_root: Path,
    key_scheme: str,
    employer_fingerprint: str,
) -> incremental.Delta | None:
    """What changed since ``prev``, or None when the build must be full: no previous snapshot
    (or one from an older version), another model, derivation code or person-key secret, or
    nothing cached for a superseded batch.

    Batches are the delivered ones; records are under their identity
    (:func:`canbao.ingest.identity.as_origin`): the records a re-delivery adds are those of
    identities the previous build did not have, and the records it removes are the superseded
    batches' records that no added batch carries on."""
    if prev is None or not scoring.model_is_current(model_dir):
        return None
    info = prev.info
    if (
        info.get("model_id") != _model_id(model_dir)
        or info.get("derivation") != person_records.derivation_version()
        or info.get("person_key_scheme") != key_scheme
        or "hot_keys" not in info
        or "person_batches" not in info
        or "person_origins" not in info
        or "employer_fingerprint" not in info
        or not all(prev.has(t) for t in incremental.PREV)
    ):
        return None
    before = set(info["person_batches"])
    added = sorted(set(person_batches) - before)
    removed = sorted(before - set(person_batches))
    removed_entries = _cache_entries(cache_root, removed)
    added_entries = _cache_entries(cache_root, added)
    if removed_entries is None or added_entries is None:
        return None
    origins: set[str] = set()
    # the origins of the added batches' own records (a re-delivery's carried records are the
    # superseded batch's: the previous build had their origins)
    own = [p for e in added_entries for p in e.own]
    if own:
        frame = pl.scan_parquet(own).select(pl.col("batch_id").unique()).collect()
        origins = set(frame["batch_id"].to_list())
    added_origins = sorted(origins - set(info["person_origins"]))
    # the employer side is relinked whenever its records changed (their identities: an
    # identical re-delivery changes nothing)
    employers_changed = employer_fingerprint != info["employer_fingerprint"]
    return incremental.Delta(
        added, removed, removed_entries, employers_changed, added_entries, added_origins
    )


def _incremental(
    eng: Engine,
    prev: snapshot.Snapshot,
    delta: incremental.Delta,
    model_dir: Path,
    source: RecordSource,
    read_employers: _EmployerRecords,
    say: Progress,
    lap: Callable[[str], None],
) -> tuple[list[str], list[str]]:
    say(f"增量更新：新增 {len(delta.added)} 批，撤下 {len(delta.removed)} 批 (incremental update)")
    changed = incremental.update(eng, prev, delta, model_dir, say)
    stats = delta.stats
    if not (stats["records_added"] or stats["records_removed"] or delta.employers_changed):
        say(
            "新批次与所取代批次的内容相同，无新增或删除的记录：登记库无变化"
            "（仅人工复核决定可能有更新）(no record changed)"
        )
    lap("cluster")
    reuse: list[str] = []
    layered: list[str] = []
    if not delta.employers_changed:
        prev.register(eng, "employers", "employers")
        prev.register(eng, "employer_links", "employer_links")  # read by owners.build
        reuse = ["employers", "employer_links", "employer_vkeys"]
    else:
        say("单位批次有变化：重新关联单位 (employer batches changed: linking employers again)")
        # only the new batches' records are read (the others' fields are cached)
        entries = read_employers()
        survivorship.source_order(eng, "person_records", "employer_records")
        employers.masters(eng)
        came_went = _employer_batches_changed(prev, entries, read_employers)
        if came_went is None:
            employers.links(eng)
        else:
            employers.link_changes(eng, *came_went, "p_elinks", "p_evkeys")
            layered.append("employer_links")
        lap("employers")
    incremental.enrollments(
        eng,
        lambda keys: _read_enrollments(eng, source, keys),
        delta.employers_changed,
        "employer_links" in layered,
    )
    lap("cluster")
    return [*changed, *layered, "enrollments"], reuse


def _employer_links_changed(
    eng: Engine, prev: snapshot.Snapshot | None, changed: list[str], reuse: list[str]
) -> dict[str, Any] | None:
    """``since`` (the previous build) and ``batches``: the batches some of whose rows may link
    to another master employer, or to none, since then (the contribution ledger updates its
    linked rows from this); None when not known (a full build, or the links made again)."""
    if prev is None:
        return None
    if "employer_links" in reuse:
        batches: list[str] = []
    elif "employer_links" in changed:  # the rows written again and gone: employers.link_changes
        found = eng.fetch(
            "SELECT DISTINCT batch_id FROM employer_links__gone "
            "UNION SELECT DISTINCT batch_id FROM employer_links__rows"
        )
        batches = sorted(str(b) for b in found["batch_id"].to_list())
    else:
        return None
    return {"since": prev.build_id, "batches": batches}


@dataclass(frozen=True)
class _EmployerRecords:
    """Reads ``employer_records`` (:func:`canbao.registry.employer_records.read_records`; cached per
    batch when ``cache`` is given) and finds a batch's cache entry."""

    eng: Engine
    source: RecordSource
    cache: Path | None
    superseded: record_cache.Superseded | None
    delivered: employer_records.Delivered  # the batches (found once per build)

    def __call__(self) -> list[record_cache.Entry]:
        return employer_records.read_records(
            self.eng, self.source, self.cache, self.superseded, self.delivered
        )

    def entry(self, batch_id: str) -> record_cache.Entry | None:
        return None if self.cache is None else employer_records.cached_entry(self.cache, batch_id)


def _employer_batches_changed(
    prev: snapshot.Snapshot, entries: list[record_cache.Entry], records: _EmployerRecords
) -> tuple[list[record_cache.Entry], list[record_cache.Entry]] | None:
    """The employer batches' cache entries that came and went since ``prev``, or None when the
    links must be made afresh (no cache, or a gone batch's entry is not kept)."""
    before = prev.info.get("employer_batches")
    if not entries or before is None:
        return None
    came = [e for e in entries if e.batch_id not in set(before)]
    now = {e.batch_id for e in entries}
    went = [records.entry(b) for b in before if b not in now]
    if any(e is None for e in went):
        return None
    return came, [e for e in went if e is not None]
