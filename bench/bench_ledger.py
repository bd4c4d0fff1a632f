"""The contribution ledger on the synthetic city (CANBAO_BENCH_LEDGER_SIZES, default 5,000,000
residents: about 60,000 employers × 12 months × 5 schemes plus their payments).

- ledger + arrears list + KPIs in one session (DuckDB), in a child process: wall seconds and
  peak RSS (targets, issue 18: ≤ 2 min and ≤ 8 GB); baseline, same run: the raw read of the
  payment files (every current payment batch's records, all columns, read and summed by Polars);
- a month later (CANBAO_BENCH_LEDGER_MONTH=0 skips it): the ledger ``canbao build`` publishes
  (:func:`canbao.collection.published.publish`), built in full and updated incrementally from
  the ledger published a month before, on a copy of the city with a month's deliveries
  ingested and the registry built again (:func:`canbao.synth.month.ledger_month`: the new
  month's declarations and payments, late payments for old periods, a new opening-arrears
  list; a second copy also has the county counters' payment file re-delivered, superseding
  the earlier one). Each is run CANBAO_BENCH_LEDGER_REPEAT times (default 3) in a child
  process; the figures are the medians of the publish's own seconds (session, computation,
  files written), the full build the baseline (target: the incremental month ≤ 10 % of it).
  Every incremental run is checked: the mode is ``incremental`` and the rows equal the full
  build's.

The city is cached under bench/.cache (bench.bench_skew), built with the registry.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
from pathlib import Path

from bench.bench_skew import _ingested
from bench.common import now, run_child
from canbao.registry import api as registry
from canbao.registry import snapshot

LEDGER = """
import json, time, datetime as dt
from pathlib import Path
from canbao.collection import api, kpi
from canbao.collection.ledger import ledger_policy
from canbao.collection.published import data_as_of
from canbao.coverage.api import session
from canbao.warehouse.scope import Scope
data = Path({data!r}); day = data_as_of(data); scope = Scope.system("bench")
t = {{}}; c = [time.perf_counter()]
def lap(name):
    now = time.perf_counter(); t[name] = round(now - c[0], 1); c[0] = now
with session(data, scope, day) as s:
    # the region's policy given: computed, even when a published ledger answers the date
    pol = ledger_policy(s)
    led = api.ledger_in(s, pol); lap("ledger")
    arr = api.arrears_in(s, policy=pol); lap("arrears")
    k = kpi.kpis_in(s, policy=pol); lap("kpis")
print(json.dumps({{"rows": led.height, "debtors": arr.height, "kpis": k.height,
                  "employers": led["employer_key"].n_unique(), "steps": t}}))
"""

RAW = """
import json, polars as pl
from pathlib import Path
from canbao.ingest import api as ingest_api
data = Path({data!r})
frame = ingest_api.current_records(data, "payment").collect()
print(json.dumps({{"rows": frame.height, "paid": int(frame["paid"].sum() or 0)}}))
"""

# one publish of the ledger (full, or incremental from the build named in base); with a digest
# of the rows to compare the incremental ledger with the full one
PUBLISH = """
import json, hashlib
from pathlib import Path
import polars as pl
from canbao.collection import published
data = Path({data!r}); base = {base!r}
if base is not None:
    (data / "ledger" / "CURRENT").write_text(base, encoding="utf-8")
r = published.publish(data, full={full!r})
rows = published.scan(r.path).collect().hash_rows(seed=7).sort()
layers = json.loads((r.path / "published.json").read_text(encoding="utf-8"))["layers"]
print(json.dumps({{"build": r.build_id, "mode": r.mode, "reason": r.reason, "rows": r.rows,
                  "layers": layers,
                  "touched": r.touched, "seconds": r.seconds, "steps": r.steps,
                  "digest": hashlib.sha256(rows.to_numpy().tobytes()).hexdigest()}}))
"""


def _copy(data: Path, dest: Path) -> None:
    """A copy of a data directory: batch files, registry snapshots and published ledgers (never
    changed once written) as hard links, the rest copied."""
    immutable = ("batches", "snapshots", "ledger")

    def copy(src: str, dst: str) -> None:
        if any(f"/{part}/" in src for part in immutable):
            os.link(src, dst)
        else:
            shutil.copy2(src, dst)

    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(data, dest, copy_function=copy)


def _month_later(data: Path, name: str, redeliver: str | None) -> Path:
    """A copy of the data directory (with its published ledger) and a month's deliveries
    ingested, the registry built again."""
    from canbao.synth.month import ingest_ledger_month

    dest = data.parent / f"{data.name}-{name}"
    _copy(data, dest)
    ingest_ledger_month(dest, dest.parent / f"{dest.name}-files", redeliver=redeliver)
    registry.build(dest)
    return dest


def _publish(data: Path, full: bool, base: str | None, repeat: int) -> list[dict]:
    code = PUBLISH.format(data=str(data), full=full, base=base)
    return [run_child(code, "publish the ledger")[2] for _ in range(repeat)]


def _median(runs: list[dict], key: str = "seconds") -> float:
    return statistics.median(r[key] for r in runs)


def _written(run: dict) -> str:
    layers = run.get("layers")
    if not layers:
        return f"{run['rows']:,} (in full)"
    return f"{layers['delta']:,} + {layers['gone']:,}"


def _month(data: Path, base: str, repeat: int) -> list[dict]:
    rows = []
    for name, redeliver, label in (
        ("month", None, "declarations, payments, late payments, arrears list; as-of +1 month"),
        ("month-redelivered", "si_payment_counter",
         "the same + the county counters' payment file re-delivered (superseding)"),
    ):  # fmt: skip
        later = _month_later(data, name, redeliver)
        try:
            full = _publish(later, True, None, repeat)
            inc = _publish(later, False, base, repeat)
        finally:
            shutil.rmtree(later, ignore_errors=True)
            shutil.rmtree(later.parent / f"{later.name}-files", ignore_errors=True)
        if any(r["mode"] != "incremental" for r in inc):
            raise RuntimeError(f"not incremental: {inc[0]['reason']}")
        if {r["digest"] for r in inc} != {full[0]["digest"]}:
            raise RuntimeError("the incremental ledger differs from the full one")
        f, i = _median(full), _median(inc)
        steps = min(inc, key=lambda r: abs(r["seconds"] - i))["steps"]
        rows.append(
            {
                "month": label,
                "ledger rows": f"{inc[0]['rows']:,}",
                "keys recomputed": f"{inc[0]['touched']:,} ({inc[0]['touched'] / inc[0]['rows']:.0%} of the rows)",
                "full build s (baseline)": f"{f:.1f}",
                "rows written (delta + gone keys)": _written(inc[0]),
                "incremental s": f"{i:.1f}",
                "incremental / full": f"{i / f:.0%}",
                "incremental steps s": json.dumps(steps),
                "runs": f"{len(inc)} + {len(full)}",
            }
        )
    return rows


def run() -> dict:
    sizes = [int(x) for x in os.environ.get("CANBAO_BENCH_LEDGER_SIZES", "5000000").split(",")]
    repeat = int(os.environ.get("CANBAO_BENCH_LEDGER_REPEAT", "3"))
    rows, months = [], []
    for persons in sizes:
        data = _ingested(persons, False)
        if snapshot.current(data) is None:
            registry.build(data, full=True)
        raw_wall, raw_rss, raw = run_child(RAW.format(data=str(data)), "raw payments")
        wall, rss, info = run_child(LEDGER.format(data=str(data)), "ledger")
        rows.append(
            {
                "residents": f"{persons:,}",
                "employers": f"{info['employers']:,}",
                "ledger rows": f"{info['rows']:,}",
                "payments": f"{raw['rows']:,}",
                "ledger + arrears + KPIs s": f"{wall:.1f}",
                "steps s": json.dumps(info["steps"]),
                "peak RSS GB": f"{rss / 1024:.2f}",
                "raw payment read s (baseline)": f"{raw_wall:.1f}",
            }
        )
        if os.environ.get("CANBAO_BENCH_LEDGER_MONTH", "1") != "0":
            base = _publish(data, True, None, 1)[0]["build"]  # the ledger of the month before
            for row in _month(data, base, repeat):
                months.append({"residents": f"{persons:,}", **row})
    sections = [
        {
            "title": "Contribution ledger: ledger, arrears list and KPIs",
            "measured_at": now(),
            "note": (
                "Targets (issue 18): ledger, arrears list and KPIs for the 5-million-resident "
                "city ≤ 2 min and ≤ 8 GB. One run each (a child process, DuckDB); baseline: "
                "the raw read of the payment files in the same run."
            ),
            "columns": [
                "residents",
                "employers",
                "ledger rows",
                "payments",
                "ledger + arrears + KPIs s",
                "steps s",
                "peak RSS GB",
                "raw payment read s (baseline)",
            ],  # fmt: skip
            "rows": rows,
        }
    ]
    if months:
        sections.append(
            {
                "title": "Contribution ledger: an incremental month",
                "measured_at": now(),
                "note": (
                    "Target (issue 18): an incremental month ≤ 10 % of a full ledger build. "
                    "The ledger `canbao build` publishes (computation and files) a month "
                    "later, in full (the baseline) and updated from the ledger published "
                    f"a month before, on the same data, in the same run; medians of {repeat} "
                    "runs each (child processes, DuckDB), the publish's own seconds. Every "
                    "incremental ledger was checked equal to the full one (a digest of all "
                    "rows and columns). Keys recomputed: the employer × scheme × period keys "
                    "the month's deliveries and the later date can change (docs/ledger.md); "
                    "the other rows are carried, their late fees moved on. The incremental "
                    "ledger is written as layers over the file of the full one ('write "
                    "ledger'): the rows that differ from it (recomputed, unpaid, or of an "
                    "employer whose fields changed) and the keys they replace. Fixed costs in "
                    "both: opening the store and the session, about 0.5 s."
                ),
                "columns": [
                    "residents",
                    "month",
                    "ledger rows",
                    "keys recomputed",
                    "rows written (delta + gone keys)",
                    "full build s (baseline)",
                    "incremental s",
                    "incremental / full",
                    "incremental steps s",
                    "runs",
                ],  # fmt: skip
                "rows": months,
            }
        )
    return {"sections": sections}
