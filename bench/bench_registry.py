"""Registry quality and speed on the synthetic city.

Quality (100,000 residents by default): pairwise precision/recall against the truth, per error
type, for three models in the same run: Canbao's registry, a plain Splink model without
Chinese-aware normalisation (the model a competent user would write from the Splink docs), and
exact-ID matching alone.

Speed: full build time and peak memory (of the build process) per city size, the floor (DuckDB
only reading the canonical records and hash-joining them by ID), and an incremental update for a
1% monthly change against the full build.

Sizes: CANBAO_BENCH_SIZES (comma-separated, default "100000,1000000"); add 5000000 for the
5-million-resident figures (needs the synthetic city: about 10 minutes to generate and ingest).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import duckdb
import polars as pl

from bench.cities import fresh_copy, ingest_new_month, ingested
from bench.common import now, run_child
from canbao.ingest import api as ingest_api
from canbao.registry import api, quality
from canbao.warehouse.scope import Scope

PERSON_KINDS = ("population", "enrollment", "employment", "death", "special_group")


def _build_in_subprocess(data: Path, full: bool = True) -> tuple[float, float, dict]:
    """Run a build in a child process: wall seconds, peak RSS (MB), build info."""
    code = (
        "import json,sys; from pathlib import Path; from canbao.registry import api;"
        f"r=api.build(Path({str(data)!r}), full={full});"
        "from canbao.registry import snapshot;"
        f"i=snapshot.require_current(Path({str(data)!r})).info.get('incremental', {{}});"
        "print(json.dumps({'mode': r.mode, 'seconds': r.seconds, 'counts': r.counts, 'inc': i}))"
    )
    return run_child(code, "build")


def _floor(data: Path) -> float:
    """DuckDB reading the canonical person records and hash-joining them by ID."""
    paths = []
    for kind in PERSON_KINDS:
        for b in ingest_api.current_batches(data, kind=kind):
            paths.append(str(data / "batches" / b.batch_id / "records.parquet"))
    files = ", ".join(f"'{p}'" for p in paths)
    con = duckdb.connect()
    t0 = time.perf_counter()
    con.execute(
        f"""
        CREATE TABLE r AS SELECT id18, "row" FROM read_parquet([{files}], union_by_name=true);
        SELECT count(*) FROM r a JOIN (SELECT id18, min("row") AS k FROM r GROUP BY id18) b
        USING (id18)
        """
    ).fetchall()
    return time.perf_counter() - t0


def _raw_records(data: Path) -> pl.DataFrame:
    frames = []
    for kind in PERSON_KINDS:
        if not ingest_api.current_batches(data, kind=kind):
            continue
        lf = ingest_api.current_records(data, kind)
        schema = lf.collect_schema()
        cols = [
            pl.col("source"),
            pl.col("row"),
            (pl.col("id_raw").str.strip_chars() if "id_raw" in schema else pl.lit(None))
            .cast(pl.Utf8)
            .alias("id"),
            (pl.col("name").str.strip_chars() if "name" in schema else pl.lit(None))
            .cast(pl.Utf8)
            .alias("name"),
            (pl.col("birth_date") if "birth_date" in schema else pl.lit(None))
            .cast(pl.Utf8)
            .alias("birth_date"),
            (pl.col("sex") if "sex" in schema else pl.lit(None)).cast(pl.Utf8).alias("sex"),
            (pl.col("county_code") if "county_code" in schema else pl.lit(None))
            .cast(pl.Utf8)
            .alias("county_code"),
        ]
        frames.append(lf.select(cols).collect())
    df = pl.concat(frames)
    return df.with_row_index("uid")


def _exact_id(data: Path) -> pl.DataFrame:
    df = _raw_records(data)
    return df.select(
        "source",
        "row",
        key=pl.coalesce(
            pl.col("id").str.to_uppercase(),
            pl.concat_str(pl.lit("~"), pl.col("uid").cast(pl.Utf8)),
        ),
    )


def _plain_splink(data: Path) -> pl.DataFrame:
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    df = _raw_records(data)
    settings = SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="uid",
        comparisons=[
            cl.LevenshteinAtThresholds("id", [1, 2]),
            cl.JaroWinklerAtThresholds("name", [0.9, 0.8]),
            cl.ExactMatch("birth_date"),
            cl.ExactMatch("sex"),
            cl.ExactMatch("county_code"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("id"),
            block_on("name", "birth_date"),
            block_on("name", "county_code"),
        ],
    )
    db_api = DuckDBAPI()
    linker = Linker(db_api.register(df.to_arrow()), settings, log_level=40)
    linker.training.estimate_probability_two_random_records_match([block_on("id")], recall=0.9)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=1)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("name"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("id"))
    pred = linker.inference.predict(threshold_match_probability=0.5)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(pred, 0.95)
    cl_df = pl.from_arrow(clusters.as_duckdbpyrelation().arrow())
    assert isinstance(cl_df, pl.DataFrame)
    return (
        df.select("uid", "source", "row")
        .join(cl_df.select(pl.col("uid").cast(pl.UInt32), "cluster_id"), on="uid", how="left")
        .select("source", "row", key=pl.col("cluster_id").cast(pl.Utf8))
    )


def _quality_rows(persons: int) -> list[dict]:
    city, data = ingested(persons)
    work = fresh_copy(data, f"q-{persons}")
    api.build(work)
    truth = pl.read_csv(city / "truth" / "links.csv")
    damage = pl.read_csv(city / "truth" / "damage.csv", schema_overrides={"kinds": pl.Utf8})
    groups = quality.synthetic_groups(city / "truth")
    ours = api.links(work, Scope.system("bench")).select("source", "row", key=pl.col("person_key"))
    models = {
        "canbao": ours,
        "plain Splink": _plain_splink(work),
        "exact ID only": _exact_id(work),
    }
    results = {name: quality.evaluate(pred, truth, damage, groups) for name, pred in models.items()}
    kinds = list(results["canbao"])
    rows = []
    for kind in kinds:
        row: dict[str, str] = {
            "error type": kind,
            "records": f"{results['canbao'][kind]['records']:,.0f}",
        }
        for name, res in results.items():
            r = res.get(kind)
            row[f"{name} P"] = f"{r['precision']:.4f}" if r else ""
            row[f"{name} R"] = f"{r['recall']:.4f}" if r else ""
        rows.append(row)
    return rows


def _speed_rows(sizes: list[int]) -> list[dict]:
    rows = []
    for persons in sizes:
        city, data = ingested(persons)
        work = fresh_copy(data, f"s-{persons}")
        floor = _floor(work)
        first_wall, first_rss, _ = _build_in_subprocess(work, full=True)
        wall, rss, info = _build_in_subprocess(work, full=True)
        ingest_new_month(city, work)
        inc_wall, inc_rss, inc_info = _build_in_subprocess(work, full=False)
        rows.append(
            {
                "residents": f"{persons:,}",
                "person records": f"{info['counts']['person_records']:,}",
                "first build s": f"{first_wall:.1f}",
                "first peak MB": f"{first_rss:,.0f}",
                "full build s": f"{wall:.1f}",
                "peak MB": f"{rss:,.0f}",
                "floor s (read + hash join by ID)": f"{floor:.1f}",
                "ratio to floor": f"{wall / floor:.1f}×",
                "incremental 1% s": f"{inc_wall:.1f}",
                "incremental / full": f"{inc_wall / wall:.0%}",
                "incremental peak MB": f"{inc_rss:,.0f}",
                "incremental mode": inc_info["mode"],
                "records relinked": f"{inc_info['inc'].get('records_relinked', 0):,}",
                "persons recomputed": f"{inc_info['inc'].get('persons_recomputed', 0):,}",
            }
        )
    return rows


def run() -> dict:
    sizes = [int(s) for s in os.environ.get("CANBAO_BENCH_SIZES", "100000,1000000").split(",")]
    q_size = int(os.environ.get("CANBAO_BENCH_QUALITY_SIZE", "100000"))
    quality_rows = _quality_rows(q_size) if q_size else []
    cols = ["error type", "records"]
    for name in ("canbao", "plain Splink", "exact ID only"):
        cols += [f"{name} P", f"{name} R"]
    speed_rows = _speed_rows(sizes) if sizes != [0] else []
    sections = [
        {
            "title": f"Registry linkage quality ({q_size:,} residents)",
            "measured_at": now(),
            "note": (
                "Pairwise precision (P) and recall (R) against the synthetic truth. 'all' is "
                "over every pair; per error type the measure is record-centred (the damaged "
                "records' predicted vs true partners). Plain Splink: raw ID/name, Levenshtein "
                "and Jaro-Winkler, EM-trained; exact ID: the ID string as delivered."
            ),
            "columns": cols,
            "rows": quality_rows,
        },
        {
            "title": "Registry build speed",
            "measured_at": now(),
            "note": (
                "Builds in a child process (wall seconds, its peak RSS). First build = the "
                "first ever on a freshly ingested data directory (derives every record's "
                "linkage fields and trains the model); full build = `canbao build --full` "
                "afterwards (derivation cache and model present, everything else rebuilt); "
                "floor = DuckDB only reading the canonical records and hash-joining them by "
                "ID; incremental = ingest a 1% new-month extract and build without --full "
                "(records relinked / persons recomputed: what the incremental update touched)."
            ),
            "columns": list(speed_rows[0]) if speed_rows else [],
            "rows": speed_rows,
        },
    ]
    return {"sections": [s for s in sections if s["rows"]]}
