"""Orchestrates a registry build (full or incremental) and publishes the snapshot."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from canbao.registry import (
    assign,
    decisions,
    employers,
    nodes,
    person_records,
    repair,
    scoring,
    snapshot,
    survivorship,
    trust,
)
from canbao.registry.engine import Engine, open_engine

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


def _enrollments(source: RecordSource) -> pl.LazyFrame:
    lf = source("enrollment")
    if lf is None:
        return pl.LazyFrame(schema=ENROLLMENT_COLUMNS)
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
    or ``local[*]``)."""
    eng = open_engine(engine, spark_master=spark_master)
    try:
        return _build(eng, data_dir, full=full, retrain=retrain, source=source, progress=progress)
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
        timings[name] = round(now - t0, 3)
        t0 = now

    say("读取人员记录 (reading person records)")
    paths = person_records.cached_batches(
        source, snapshot.registry_dir(data_dir) / "cache", _batch_deriver(eng, data_dir, ingested)
    )
    if paths:
        eng.parquet_view("person_records", paths)  # read where used: 22M rows × 50 columns
    else:
        eng.create_table_from_arrow("person_records", person_records.assemble(source).to_arrow())
    eng.read_frame("employer_records_raw", employers.assemble(source))
    eng.read_frame("enrollment_records", _enrollments(source))
    lap("read")

    say("确定性关联：可信身份证号 (deterministic: trusted IDs)")
    trust.build_anchors(eng)
    say("校验码修复与Excel损坏号码关联 (repair links)")
    repair.build_candidates(eng)
    repair.build_repair_links(eng)
    nodes.build_nodes(eng)
    eng.drop("_cands", "id_candidates", "repair_hits", "repair_ambiguous", "id_household")
    lap("deterministic")

    if retrain or not scoring.model_is_current(model_dir):
        say("训练概率模型 (training the probabilistic model)")
        scoring.train(eng, model_dir)
    model_id = _model_id(model_dir)
    lap("train")

    prev = None if full else snapshot.current(data_dir)
    mode = "full"
    if prev is not None and prev.info.get("model_id") == model_id:
        mode = "incremental"
        prev.register(eng, "nodes", "prev_nodes")
        prev.register(eng, "pairs", "prev_pairs")
        eng.execute(
            "CREATE TABLE new_nodes AS SELECT * FROM nodes "
            "WHERE node_id NOT IN (SELECT node_id FROM prev_nodes)"
        )
        eng.execute(
            "CREATE TABLE old_nodes AS SELECT * FROM nodes "
            "WHERE node_id IN (SELECT node_id FROM prev_nodes)"
        )
        n_new = eng.scalar("SELECT count(*) FROM new_nodes")
        say(f"概率关联：仅新增 {n_new} 个节点 (incremental scoring)")
        if n_new:
            scoring.score(eng, model_dir, assign.LOWER, "new_nodes", "old_nodes")
        else:
            eng.execute("CREATE TABLE scored_pairs AS SELECT * FROM prev_pairs LIMIT 0")
        eng.execute(
            """
            CREATE TABLE pairs AS
            SELECT * FROM prev_pairs
            WHERE node_id_l IN (SELECT node_id FROM old_nodes)
              AND node_id_r IN (SELECT node_id FROM old_nodes)
            UNION ALL SELECT * FROM scored_pairs
            """
        )
    else:
        say("概率关联 (probabilistic scoring with Splink)")
        scoring.score(eng, model_dir, assign.LOWER)
        eng.execute("CREATE TABLE pairs AS SELECT * FROM scored_pairs")
    eng.execute(
        "CREATE OR REPLACE TABLE pairs AS SELECT * FROM pairs ORDER BY node_id_l, node_id_r"
    )
    eng.drop("scored_pairs", "new_nodes", "old_nodes", "prev_nodes", "prev_pairs", "_a", "_b")
    lap("score")

    say("聚类、复核队列与主记录 (clusters, review queue, master records)")
    eng.create_table_from_arrow("decisions", decisions.load(data_dir).to_arrow())
    assign.assign(eng)
    eng.drop(*assign.WORK_TABLES)
    survivorship.source_order(eng, "person_records", "employer_records_raw")
    survivorship.record_clusters(eng)
    survivorship.masters(eng)
    eng.drop("rc_records", "node_cluster")
    employers.build(eng)
    eng.drop(*employers.WORK_TABLES)
    eng.execute(
        """
        CREATE OR REPLACE TABLE enrollments AS
        SELECT c.person_key, e.scheme, e.status, e.start_date, e.end_date, e.county_code,
               el.employer_key, e.person_type, e.base, e.benefit, e.source, e."row",
               e.batch_id, e.as_of
        FROM enrollment_records e
        JOIN record_cluster c ON c.rec_key = e.batch_id || ':' || CAST(e."row" AS varchar)
        LEFT JOIN employer_links el ON el.batch_id = e.batch_id AND el."row" = e."row"
        """
    )
    lap("cluster")

    counts = {
        t: eng.scalar(f"SELECT count(*) FROM {t}")
        for t in ("person_records", "persons", "nodes", "pairs", "review_items",
                  "id_corrections", "employers", "enrollments")
    }  # fmt: skip
    build_id = snapshot.new_build_id()
    info: dict[str, Any] = {
        "build_id": build_id,
        "mode": mode,
        "model_id": model_id,
        "previous": prev.build_id if prev else None,
        "counts": counts,
        "seconds": timings,
        "engine": eng.name,
    }
    snap = snapshot.publish(eng, data_dir, build_id, info)
    lap("publish")
    return BuildResult(build_id, mode, snap.path, counts, timings)
