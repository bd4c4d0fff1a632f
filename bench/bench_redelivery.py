"""Monthly re-deliveries (全量重报): what a superseding full extract costs ingest and the registry.

On the ingested synthetic city (default 5 million residents), in fresh child processes (wall
seconds, peak RSS of the process tree):

- the baseline: a full registry build of the same data, in the same run;
- (a) the household register delivered again with 0.6% of its rows changed (0.5% addresses
  edited, 0.1% rows gone), in another encoding and row order: the raw read of that file
  (:func:`canbao.ingest.readers.read_table`), its ingest (row-level difference included), and
  the incremental build. Targets: ingest ≤ 5× the raw read, build ≤ 10% of the full build;
- (b) a realistic month: every person-bearing extract delivered again with about 1% churn
  (0.8% of rows with a field edited, 0.2% gone), each ingested, then one incremental build.
  Target ≤ 20% of the full build.

Size: CANBAO_BENCH_REDELIVERY_SIZE (default 5000000).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from bench.bench_registry import _build_in_subprocess
from bench.bench_skew import _city, _ingested
from bench.cities import CACHE
from bench.common import now, run_child
from canbao.ingest.kinds import PERSON_KINDS

# the columns a month's churn edits (the first one a file has): what changes in real extracts
EDITABLE = ("户籍地址", "住址", "联系电话", "参保状态", "缴费基数", "应发工资", "收入额", "地址")


def _data(persons: int) -> Path:
    """A fresh data directory with the ingested city's batches (hard links: batches are never
    written again), its profiles, model and key secret; no snapshot."""
    src = _ingested(persons, False)
    data = CACHE / f"redelivery-{persons}"
    if data.exists():
        shutil.rmtree(data)
    data.mkdir(parents=True)
    subprocess.run(["cp", "-al", str(src / "batches"), str(data / "batches")], check=True)
    for part in ("profiles",):
        if (src / part).exists():
            shutil.copytree(src / part, data / part)
    (data / "registry").mkdir()
    if (src / "registry" / "model").exists():
        shutil.copytree(src / "registry" / "model", data / "registry" / "model")
    secret = src / "registry" / "person-key.secret"
    if secret.exists():
        shutil.copy2(secret, data / "registry" / secret.name)
    return data


_REDELIVER = """
import json, sys, time
from pathlib import Path
import polars as pl
from canbao.ingest import manifest, readers
from canbao.ingest.batches import ingest_file
city, data, out = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
kinds, churn, gone, as_of = sys.argv[4].split(","), float(sys.argv[5]), float(sys.argv[6]), sys.argv[7]
editable = json.loads(sys.argv[8])
out.mkdir(parents=True, exist_ok=True)
rows = []
for f in manifest.load(city).files:
    if f.kind not in kinds:
        continue
    t0 = time.perf_counter()
    raw = readers.read_table(Path(f.path), f.kind, sheet=f.sheet, encoding_claim=f.encoding)
    read_s = time.perf_counter() - t0
    df = raw.data
    h = pl.int_range(pl.len(), dtype=pl.UInt64).hash(seed=23) % 100000
    col = next((c for c in editable if c in df.columns), df.columns[-1])
    # an edit changes a value that is there (a new address, phone, status or base)
    edit = (h >= int(gone * 100000)) & (h < int((gone + churn) * 100000))
    edit = edit & pl.col(col).is_not_null() & (pl.col(col).str.len_chars() > 0)
    df = df.with_columns(pl.when(edit).then(pl.col(col) + "1").otherwise(pl.col(col)).alias(col))
    df = df.filter(h >= int(gone * 100000)).reverse()
    path = out / (f.source + ".csv")
    df.write_csv(path)
    t0 = time.perf_counter()
    res = ingest_file(data, path, source=f.source, kind=f.kind, scheme=f.scheme, as_of=as_of,
                      mapping=f.map)
    rows.append({"source": f.source, "kind": f.kind, "rows": df.height, "read_s": read_s,
                 "ingest_s": time.perf_counter() - t0, "changes": res.batch.changes})
print(json.dumps(rows))
"""


def _redeliver(
    city: Path, data: Path, kinds: list[str], churn: float, gone: float, as_of: str
) -> tuple[float, float, list[dict]]:
    out = data.parent / f"{data.name}-files-{as_of}"
    args = [str(city), str(data), str(out), ",".join(kinds), str(churn), str(gone), as_of]
    code = (
        "import sys; sys.argv = ['x'] + "
        + json.dumps([*args, json.dumps(list(EDITABLE))])
        + "\n"
        + _REDELIVER
    )
    secs, peak, rows = run_child(code, "redeliver")
    return secs, peak, rows  # type: ignore[return-value]


def _steps(info: dict) -> str:
    """The build's own seconds per step (canbao.registry.build)."""
    return ", ".join(f"{k} {v:.1f}" for k, v in info.get("seconds", {}).items())


def _pct(part: float, whole: float) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "—"


def run() -> dict:
    persons = int(os.environ.get("CANBAO_BENCH_REDELIVERY_SIZE", "5000000"))
    city = _city(persons, False)
    data = _data(persons)
    full_s, full_mb, full = _build_in_subprocess(data, full=True)
    rows = [
        {
            "step": "full build (baseline)",
            "seconds": round(full_s, 1),
            "peak MB": round(full_mb),
            "vs full build": "100%",
            "detail": f"{full['counts']['person_records']} person records",
        }
    ]
    # (a) the household register again, 0.5% addresses edited, 0.1% rows gone
    _s, _mb, pop = _redeliver(city, data, ["population"], 0.005, 0.001, "2018-01-31")
    p = pop[0]
    ch = p["changes"]
    rows.append(
        {
            "step": "(a) ingest household register re-delivery",
            "seconds": round(p["ingest_s"], 1),
            "vs full build": f"{p['ingest_s'] / p['read_s']:.1f}× raw read ({p['read_s']:.1f} s)",
            "detail": f"{p['rows']} rows: 新增 {ch['added']}, 变更 {ch['changed']}, "
            f"删除 {ch['removed']}, 未变 {ch['unchanged']}",
        }
    )
    a_s, a_mb, a = _build_in_subprocess(data, full=False)
    inc = a["inc"]
    rows.append(
        {
            "step": "(a) incremental build",
            "seconds": round(a_s, 1),
            "peak MB": round(a_mb),
            "vs full build": _pct(a_s, full_s),
            "detail": f"mode {a['mode']}; records added {inc.get('records_added')}, removed "
            f"{inc.get('records_removed')}, relinked {inc.get('records_relinked')}; "
            f"steps s {_steps(a)}",
        }
    )
    # (b) every person-bearing extract again with about 1% churn
    kinds = list(PERSON_KINDS)
    _s, _mb, month = _redeliver(city, data, kinds, 0.008, 0.002, "2018-02-28")
    ingest_s = sum(r["ingest_s"] for r in month)
    read_s = sum(r["read_s"] for r in month)
    rows.append(
        {
            "step": f"(b) ingest {len(month)} re-delivered extracts",
            "seconds": round(ingest_s, 1),
            "vs full build": f"{ingest_s / read_s:.1f}× raw read ({read_s:.1f} s)",
            "detail": f"{sum(r['rows'] for r in month)} rows",
        }
    )
    b_s, b_mb, b = _build_in_subprocess(data, full=False)
    inc = b["inc"]
    rows.append(
        {
            "step": "(b) incremental build",
            "seconds": round(b_s, 1),
            "peak MB": round(b_mb),
            "vs full build": _pct(b_s, full_s),
            "detail": f"mode {b['mode']}; records added {inc.get('records_added')}, removed "
            f"{inc.get('records_removed')}, relinked {inc.get('records_relinked')}; employers "
            f"rebuilt: {inc.get('employers_rebuilt')}; steps s {_steps(b)}",
        }
    )
    return {
        "title": f"Monthly re-deliveries at {persons:,} residents (issue 23)",
        "measured_at": now(),
        "note": (
            "Fresh child processes on the shared 2-core machine; the baseline is the full "
            "build of the same data in the same run (the first build of a fresh data "
            "directory with the trained model: it derives and caches every record's linkage "
            "and employer fields). Targets: (a) ingest ≤ 5× the raw read of the file, build "
            "≤ 10% of the full build; (b) build ≤ 20%. 'steps s' are the build's own "
            "seconds per step (read: records, and deriving the new batches' fields; cluster: "
            "the incremental update; employers: the master employers made "
            "again and the changed employer links)."
        ),
        "columns": ["step", "seconds", "peak MB", "vs full build", "detail"],
        "rows": rows,
    }
