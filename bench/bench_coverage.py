"""Coverage and compliance on the synthetic city: quality of the gap lists against the truth,
and the time of all analytics (status, segments, gap lists, duplicates, deceased, employer
compliance, monthly statistics, work lists, the coverage export).

Sizes: CANBAO_BENCH_COVERAGE_SIZES (comma-separated, default "1000000"). A size needs the city
generated, ingested and its registry built (cached in bench/.cache/cov-<size>; building the
registry of 1 million residents takes about 5 minutes, 5 million is far longer and needs more
memory than the 24 GB machine has spare: run it where it fits).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from bench.cities import CACHE, fresh_copy, ingested
from bench.common import now, run_child
from canbao.coverage import api
from canbao.registry import api as registry
from canbao.registry import snapshot
from canbao.warehouse.scope import Scope

SYSTEM = Scope.system("bench")

QUALITY_KINDS = (
    "uninsured_pension", "uninsured_medical", "duplicate_medical", "duplicate_area",
    "deceased_enrolled", "unregistered_employers", "under_reporters",
)  # fmt: skip


def built(persons: int) -> tuple[Path, Path]:
    """(city dir, data dir with a built registry), cached under bench/.cache/cov-<size>."""
    city, data = ingested(persons)
    dest = CACHE / f"cov-{persons}"
    if snapshot.current(dest) is None:
        dest = fresh_copy(data, f"cov-{persons}")
        registry.build(dest, full=True)
    return city, dest


REPLICATED_TABLES = {  # snapshot tables coverage reads, and their key columns
    "persons": ("person_key",),
    "links": ("person_key", "batch_id", "rec_key"),
    "enrollments": ("person_key", "employer_key", "batch_id"),
    "employers": ("employer_key",),
    "employer_links": ("employer_key", "batch_id"),
    "likely_owners": ("other_key", "person_key", "left_key", "right_key"),
}


def replicated(data: Path, k: int, keep: tuple[str, ...] = ()) -> Path:
    """A k-times larger warehouse for timing: the snapshot tables and current batches of
    ``data`` copied k times with suffixed person, employer, batch and record keys (the same
    counties, so namesakes per county grow k-fold as in a k-times larger city). Key columns in
    ``keep`` are not suffixed (``employer_key``: every employer k times larger)."""
    import duckdb

    from canbao.ingest import api as ingest_api

    dest = CACHE / f"{data.name}-x{k}{''.join('-' + c for c in keep)}"
    if snapshot.current(dest) is not None:
        return dest
    snap = snapshot.require_current(data)
    build_id = snap.build_id + f"-x{k}"
    out = dest / "registry" / "snapshots" / build_id
    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    copies = " UNION ALL ".join(f"SELECT {i} AS k" for i in range(k))
    for table, keys in REPLICATED_TABLES.items():
        src = f"({snap.sql(table)})"  # layers merged; the copy is written plain
        cols = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {src}").fetchall()]
        sel = ", ".join(
            f'CASE WHEN c.k = 0 THEN t."{c}" ELSE t."{c}" || \'#\' || CAST(c.k AS VARCHAR) END AS "{c}"'
            if c in keys and c not in keep
            else f't."{c}"'
            for c in cols
        )
        # a table keyed only by kept keys (employers) is copied once
        reps = copies if any(c not in keep for c in keys) else "SELECT 0 AS k"
        con.execute(
            f"COPY (SELECT {sel} FROM {src} t CROSS JOIN ({reps}) c) "
            f"TO '{out / (table + '.parquet')}' (FORMAT parquet)"
        )
    info = {k: v for k, v in snap.info.items() if k != "layers"}  # the copies are plain tables
    (out / "build.json").write_text(json.dumps({**info, "build_id": build_id}), "utf-8")
    for b in ingest_api.current_batches(data):
        src = data / "batches" / b.batch_id
        meta = json.loads((src / "batch.json").read_text("utf-8"))
        for i in range(k):
            bid = b.batch_id if i == 0 else f"{b.batch_id}#{i}"
            bdir = dest / "batches" / bid
            bdir.mkdir(parents=True, exist_ok=True)
            con.execute(
                f"COPY (SELECT * REPLACE ('{bid}' AS batch_id) FROM "
                f"read_parquet('{src / 'records.parquet'}')) TO '{bdir / 'records.parquet'}' "
                "(FORMAT parquet)"
            )
            con.execute(
                f"COPY (SELECT * REPLACE ('{bid}' AS batch_id) FROM "
                f"read_parquet('{src / 'quarantine.parquet'}')) TO "
                f"'{bdir / 'quarantine.parquet'}' (FORMAT parquet)"
            )
            m = dict(meta, batch_id=bid, file_name=f"{meta['file_name']}#{i}")
            (bdir / "batch.json").write_text(json.dumps(m, ensure_ascii=False), "utf-8")
    con.close()
    (dest / "registry" / "CURRENT").write_text(build_id, encoding="utf-8")
    return dest


def _analyse_in_subprocess(data: Path) -> tuple[float, float, dict]:
    code = (
        "import json; from pathlib import Path; from canbao.coverage import api;"
        "from canbao.warehouse.scope import Scope;"
        f"t={{}}; a=api.analyse(Path({str(data)!r}), Scope.system('bench'), timings=t);"
        "print(json.dumps({'steps': t, 'persons': a.export.height,"
        " 'lists': {k: v.height for k, v in a.lists.items()}}))"
    )
    return run_child(code, "analysis")


def run() -> dict:
    sizes = [int(x) for x in os.environ.get("CANBAO_BENCH_COVERAGE_SIZES", "1000000").split(",")]
    quality_rows = []
    speed_rows = []
    for n in sizes:
        city, data = built(n)
        wall, rss, info = _analyse_in_subprocess(data)
        speed_rows.append(
            {
                "residents": f"{n:,}",
                "master persons": f"{info['persons']:,}",
                "all analytics (s)": round(wall, 1),
                "peak RSS (MB)": round(rss),
                "steps (s)": ", ".join(f"{k} {v}" for k, v in info["steps"].items()),
            }
        )
        q = api.evaluate(data, city, SYSTEM)
        for kind in QUALITY_KINDS:
            r = q[kind]
            quality_rows.append(
                {
                    "residents": f"{n:,}",
                    "gap kind": kind,
                    "found": r["found"],
                    "true": r["true"],
                    "precision": r["precision"],
                    "recall": r["recall"],
                    "recall vs all truth": r.get("recall_all_truth", r["recall"]),
                }
            )
    k = int(os.environ.get("CANBAO_BENCH_COVERAGE_REPLICATE", "5"))
    if k > 1:  # the 5-million-resident scale: the 1M warehouse replicated (see replicated())
        base = sizes[0]
        _city, data = built(base)
        wall, rss, info = _analyse_in_subprocess(replicated(data, k))
        speed_rows.append(
            {
                "residents": f"{base:,} × {k} (replicated)",
                "master persons": f"{info['persons']:,}",
                "all analytics (s)": round(wall, 1),
                "peak RSS (MB)": round(rss),
                "steps (s)": ", ".join(f"{k} {v}" for k, v in info["steps"].items()),
            }
        )
    at = now()
    return {
        "sections": [
            {
                "title": "Coverage: gap lists against the synthetic truth",
                "measured_at": at,
                "note": (
                    "Master persons are mapped to true persons through the links (registry "
                    "errors count against the lists). `recall` leaves out what no method can "
                    "find: residents in no extract at all, the synthetic students (a hidden "
                    "random draw, held back as presumed students) and deaths that no extract "
                    "reports; `recall vs all truth` includes them. Duplicates: cross-scheme "
                    "medical and two-county resident schemes (the truth's kinds)."
                ),
                "columns": [
                    "residents",
                    "gap kind",
                    "found",
                    "true",
                    "precision",
                    "recall",
                    "recall vs all truth",
                ],  # fmt: skip
                "rows": quality_rows,
            },
            {
                "title": "Coverage: time of all analytics",
                "measured_at": at,
                "note": (
                    "One fresh process: open the registry snapshot and ingest records, build "
                    "every table (DuckDB, 2 cores), produce all work lists, the monthly "
                    "statistics and the one-row-per-person export. Target: 5 million residents "
                    "in at most 2 minutes; see docs/coverage.md for the 5-million estimate."
                ),
                "columns": [
                    "residents",
                    "master persons",
                    "all analytics (s)",
                    "peak RSS (MB)",
                    "steps (s)",
                ],  # fmt: skip
                "rows": speed_rows,
            },
        ]
    }
