"""Registry build time and peak memory against residents, on DuckDB and on local Spark.

Each build runs in a child process (``--full``, with the trained model already present, so both
engines score with the same model and training is not timed: it is a one-off, reported apart);
peak memory is the largest sum of RSS over the child's process tree (the Spark JVM is a child of
the Python process), sampled every 0.2 s. Sizes: CANBAO_SCALE_DUCKDB (default
"10000,100000,1000000") and CANBAO_SCALE_SPARK (default "10000,100000"); Spark runs on
``local[CANBAO_SCALE_CORES]`` (default 2) with CANBAO_SPARK_DRIVER_MEMORY (default 6g, 12g
from 5 million residents) and CANBAO_SPARK_PARTITIONS (default 2 per core, 16 from 5 million:
smaller tasks spill less). The 5-million Spark build takes about 30 minutes here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

from bench.cities import CACHE, fresh_copy, ingest_new_month, ingested
from bench.common import now, tree_rss_kb

BIG = 5_000_000  # from this size local Spark needs a bigger heap and more partitions


def spark_settings(persons: int, engine: str = "spark") -> dict[str, str]:
    """Driver heap and shuffle partitions of a local Spark build (explicit env wins); none for
    DuckDB."""
    if engine != "spark":
        return {}
    big = persons >= BIG
    return {
        "CANBAO_SPARK_DRIVER_MEMORY": os.environ.get(
            "CANBAO_SPARK_DRIVER_MEMORY", "12g" if big else "6g"
        ),
        **(
            {"CANBAO_SPARK_PARTITIONS": os.environ.get("CANBAO_SPARK_PARTITIONS", "16")}
            if big
            else {}
        ),
    }


def build_in_child(
    data: Path,
    engine: str,
    cores: int,
    settings: dict[str, str] | None = None,
    full: bool = True,
) -> tuple[float, float, dict]:
    """(wall seconds, peak MB of the process tree, build info) of one build (full by default)."""
    code = (
        "import json; from pathlib import Path; from canbao.registry import api, snapshot;"
        f"r=api.build(Path({str(data)!r}), full={full}, engine={engine!r},"
        f" spark_master='local[{cores}]');"
        f"i=snapshot.require_current(Path({str(data)!r})).info.get('incremental', {{}});"
        "print(json.dumps({'mode': r.mode, 'seconds': r.seconds, 'counts': r.counts, 'inc': i}))"
    )
    env = dict(os.environ)
    env.update(settings or {})
    env.setdefault("CANBAO_SPARK_DRIVER_MEMORY", "6g")
    t0 = time.perf_counter()
    log = CACHE / f"build-{engine}-{data.name}.log"  # the child's stderr, kept for failures
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=log.open("w"), env=env
    )
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, tree_rss_kb(proc.pid))
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out = proc.stdout.read().decode() if proc.stdout else ""
    status = proc.wait()
    wall = time.perf_counter() - t0
    done.set()
    sampler.join()
    if status != 0:
        tail = log.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"{engine} build failed ({status}): {out[-2000:]}\n{tail}")
    return wall, peak / 1024, json.loads(out.strip().splitlines()[-1])


def measure(persons: int, engine: str, cores: int = 2) -> dict:
    _city, data = ingested(persons)
    work = fresh_copy(data, f"scale-{engine}-{persons}")
    model = CACHE / f"scale-model-{persons}"
    if not model.exists():  # train once per size (DuckDB), reuse for both engines
        build_in_child(work, "duckdb", cores)
        shutil.copytree(work / "registry" / "model", model)
        shutil.rmtree(work / "registry")
    shutil.copytree(model, work / "registry" / "model")
    settings = spark_settings(persons, engine)
    wall, peak, info = build_in_child(work, engine, cores, settings)
    records = info["counts"]["person_records"]
    stages = info["seconds"]
    return {
        "engine": _label(engine, cores, settings),
        "residents": f"{persons:,}",
        "person records": f"{records:,}",
        "wall s (process)": f"{wall:.1f}",
        "build s (stages)": f"{sum(stages.values()):.1f}",
        "read s": f"{stages.get('read', 0):.1f}",
        "deterministic s": f"{stages.get('deterministic', 0):.1f}",
        "score s": f"{stages.get('score', 0):.1f}",
        "cluster s": f"{stages.get('cluster', 0):.1f}",
        "publish s": f"{stages.get('publish', 0):.1f}",
        "peak MB (tree)": f"{peak:,.0f}",
        "records / core-s": f"{records / (sum(stages.values()) * cores):,.0f}",
    }


def _label(engine: str, cores: int, settings: dict[str, str]) -> str:
    if engine == "duckdb":
        return engine
    return f"spark local[{cores}], {settings['CANBAO_SPARK_DRIVER_MEMORY']} heap"


def monthly(persons: int, engine: str, cores: int = 2) -> dict:
    """After :func:`measure` (same work directory, full build in place): ingest a month's 1 %
    enrolment extract and update the registry incrementally on the same engine."""
    city, _data = ingested(persons)
    work = CACHE / f"scale-{engine}-{persons}"
    ingest_new_month(city, work, 0.01)
    settings = spark_settings(persons, engine)
    wall, peak, info = build_in_child(work, engine, cores, settings, full=False)
    return {
        "engine": _label(engine, cores, settings),
        "residents": f"{persons:,}",
        "mode": info["mode"],
        "wall s (process)": f"{wall:.1f}",
        "build s (stages)": f"{sum(info['seconds'].values()):.1f}",
        "records relinked": f"{info['inc'].get('records_relinked', 0):,}",
        "persons recomputed": f"{info['inc'].get('persons_recomputed', 0):,}",
        "peak MB (tree)": f"{peak:,.0f}",
    }


def run() -> dict:
    cores = int(os.environ.get("CANBAO_SCALE_CORES", "2"))
    duck = os.environ.get("CANBAO_SCALE_DUCKDB", "10000,100000,1000000")
    spark = os.environ.get("CANBAO_SCALE_SPARK", "10000,100000")
    runs = [(int(n), "duckdb") for n in duck.split(",") if n]
    runs += [(int(n), "spark") for n in spark.split(",") if n]
    rows, months = [], []
    for persons, engine in runs:
        rows.append(measure(persons, engine, cores))
        months.append(monthly(persons, engine, cores))  # on the build just measured
    return {"sections": [scaling_section(rows), monthly_section(months)]}


def scaling_section(rows: list[dict]) -> dict:
    return _section(
        "Registry scaling: DuckDB and local Spark",
        "Full build in a child process with the trained model present (training not timed). "
        "Peak MB = largest summed RSS of the build's process tree (Spark: Python + JVM). "
        "records / core-s = person records / (stage seconds × cores). The machine is shared "
        "(2 cores, other jobs running): wall times vary by ±30% run to run.",
        rows,
    )


def monthly_section(rows: list[dict]) -> dict:
    return _section(
        "Monthly incremental update on each engine",
        "After the full build above, in the same data directory: ingest a new month's "
        "enrolment extract (1% of residents newly in resident medical insurance) and build "
        "without --full, on the same engine, in a child process. One run each.",
        rows,
    )


def _section(title: str, note: str, rows: list[dict]) -> dict:
    columns = list(rows[0]) if rows else []
    return {"title": title, "measured_at": now(), "note": note, "columns": columns, "rows": rows}
