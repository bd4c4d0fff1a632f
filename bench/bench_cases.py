"""Cases (issue 19) on the 5-million-resident city: open a case for every work-list row, carry
them to the next month, and export the largest county's workbook.

The skew bench's built city (bench/.cache/skewbench-5000000; CANBAO_BENCH_CASES_SIZE picks another
size), its ledger published as `canbao build` publishes it, is copied with hard links (batches
and snapshots are written once and replaced by rename), with a fresh store. Each step runs in a child process, as `canbao cases open` / `cases export`
would, as the local operator:

1. the current build's work lists (`cases.work_lists`: the coverage gap lists, the review queue,
   the arrears per employer and scheme) — timed apart, as "lists";
2. `cases.open_cases` on them into an empty store ("open");
3. a next month: 1 % of the residents newly in resident medical insurance, ingested and built
   as `canbao build` does (registry and published ledger, incremental; not part of the target), then the lists again and `open_cases` carrying every
   known case, closing the enrolled people's cases as gone from the list ("carry");
4. `canbao cases export --county C` for the county with most open cases (the CLI, process start
   included).

On SQLite (the default store) and on PostgreSQL ($CANBAO_TEST_DATABASE_URL, schema dropped and
recreated) when it answers. Targets (issue 19): opening and carrying ≤ 60 s; export of the largest
county ≤ 10 s.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from bench.bench_skew import _city, _ingested
from bench.cities import CACHE
from bench.common import now, run_child

ROOT = Path(__file__).resolve().parents[1]
PG_URL = os.environ.get(
    "CANBAO_TEST_DATABASE_URL",
    "postgresql+psycopg://canbao_test:canbao_test@127.0.0.1:5432/canbao_test",
)

_OPEN = """
import json, sys, time
sys.path.insert(0, {root!r})
from pathlib import Path
from canbao import cases
from canbao.cli._app import OPERATOR
from canbao.registry import snapshot
from canbao.store import open_store
d = Path({data!r})
store = open_store(d, {url!r})
t0 = time.perf_counter()
frames = cases.work_lists(d, OPERATOR, store)
t1 = time.perf_counter()
r = cases.open_cases(store, OPERATOR, frames, snapshot.require_current(d).build_id)
t2 = time.perf_counter()
from sqlalchemy import func, select
from canbao.cases.lifecycle import OPEN
from canbao.store.models import Case
with store.sessions() as s:
    per = s.execute(select(Case.county_code, func.count()).where(Case.state.in_(sorted(OPEN)))
                    .group_by(Case.county_code).order_by(func.count().desc())).all()
store.dispose()
print(json.dumps({{"lists": t1 - t0, "open": t2 - t1, "result": r.__dict__,
                  "largest": [per[0][0], per[0][1]] if per else None}}, default=list))
"""

_MONTH = """
import json, sys, time
sys.path.insert(0, {root!r})
from pathlib import Path
from canbao.collection import published
from canbao.ingest.api import ingest_file
from canbao.registry import api
from canbao.synth.month import new_enrolment_extract
d = Path({data!r})
extract = new_enrolment_extract(Path({city!r}), Path({extract!r}), 0.01)
ingest_file(d, extract, source="si_resident_medical_cases", kind="enrollment",
            scheme="resident_medical", as_of="2018-01-31")
t0 = time.perf_counter()
api.build(d)
published.publish(d)  # as `canbao build` does
print(json.dumps({{"build": time.perf_counter() - t0}}))
"""


def _copy(source: Path, dest: Path) -> None:
    if dest.exists():
        shutil.rmtree(dest)
    subprocess.run(["cp", "-al", str(source), str(dest)], check=True)
    for small in dest.glob("store.sqlite3*"):
        small.unlink()  # a fresh store


def _pg_ok() -> bool:
    from sqlalchemy import create_engine, text

    try:
        eng = create_engine(PG_URL)
        with eng.begin() as c:
            c.execute(text("DROP SCHEMA public CASCADE"))
            c.execute(text("CREATE SCHEMA public"))
        eng.dispose()
        from canbao.store import open_store

        open_store(CACHE, PG_URL, upgrade=True).dispose()
        return True
    except Exception:  # noqa: BLE001 - no server: the PostgreSQL rows are left out
        return False


def _export(data: Path, url: str | None, county: str) -> float:
    out = data.parent / f"{data.name}-{county}.xlsx"
    args = ["cases", "export", "--county", county, "--out", str(out), "--data-dir", str(data)]
    if url:
        args += ["--database-url", url]
    code = (
        f"import sys; sys.path.insert(0, {str(ROOT)!r}); from canbao.cli import main;"
        f"sys.argv=['canbao', *{args!r}]\n"
        "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        "print('{}')"
    )
    wall, _peak, _ = run_child(code, "cases export")
    return wall


def _store_rows(size: int, store: str, url: str | None, source: Path, city: Path) -> list[dict]:
    data = CACHE / f"casebench-{size}"
    _copy(source, data)
    fmt = {"root": str(ROOT), "data": str(data), "url": url}
    w1, p1, first = run_child(_OPEN.format(**fmt), "cases open")
    extract = CACHE / f"cases-month-{size}.csv"
    month = _MONTH.format(root=str(ROOT), data=str(data), city=str(city), extract=str(extract))
    _w, _p, built = run_child(month, "next month")
    w2, p2, second = run_child(_OPEN.format(**fmt), "cases carry")
    county, open_count = second["largest"]
    export = _export(data, url, county)
    r1, r2 = first["result"], second["result"]
    shutil.rmtree(data)
    return [
        {"store": store, "step": "open (empty store)", "lists s": round(first["lists"], 1),
         "store s": round(first["open"], 1), "total s": round(first["lists"] + first["open"], 1),
         "peak MB": round(p1), "detail": f"{r1['rows']:,} case keys; new {r1['new']:,}"},
        {"store": store, "step": "carry (next month)", "lists s": round(second["lists"], 1),
         "store s": round(second["open"], 1), "total s": round(second["lists"] + second["open"], 1),
         "peak MB": round(p2),
         "detail": f"{r2['rows']:,} case keys; carried {r2['carried']:,}, new {r2['new']:,}, "
                   f"gone {r2['gone']:,}; month build {built['build']:.0f} s (not counted)"},
        {"store": store, "step": f"cases export --county {county}", "total s": round(export, 1),
         "detail": f"{open_count:,} open cases in the largest county (CLI, process start "
                   "included)"},
    ]  # fmt: skip


def run() -> dict:
    size = int(os.environ.get("CANBAO_BENCH_CASES_SIZE", "5000000"))
    source = _ingested(size, False)
    from canbao.registry import snapshot

    if snapshot.current(source) is None:
        from canbao.registry import api

        api.build(source)
    from bench.bench_web import _published

    _published(source)  # the ledger `canbao build` publishes beside the snapshot
    city = _city(size, False)
    rows = _store_rows(size, "SQLite", None, source, city)
    print(json.dumps(rows, ensure_ascii=False), flush=True)
    if _pg_ok():
        rows += _store_rows(size, "PostgreSQL", PG_URL, source, city)
    return {
        "sections": [
            {
                "title": f"Cases: open, carry and export at {size:,} residents",
                "measured_at": now(),
                "note": (
                    "Targets (issue 19): opening cases for every work-list row and carrying them "
                    "to the next month ≤ 60 s; `cases export` of the largest county ≤ 10 s. One "
                    "child process per step, as the local operator. 'lists' is computing the "
                    "build's work lists (coverage gap lists, review queue, arrears); 'store' is "
                    "`open_cases` (stage, merge, verify, events, audit entry). The next month "
                    "enrols 1 % of the residents in resident medical insurance."
                ),
                "columns": ["store", "step", "lists s", "store s", "total s", "peak MB", "detail"],
                "rows": rows,
            }
        ]
    }


if __name__ == "__main__":
    print(json.dumps(run(), ensure_ascii=False, indent=2))
