"""The contribution ledger on the synthetic city (CANBAO_BENCH_LEDGER_SIZES, default 5,000,000
residents: about 60,000 employers × 12 months × 5 schemes plus their payments).

- ledger + arrears list + KPIs in one session (DuckDB), in a child process: wall seconds and
  peak RSS (targets, issue 18: ≤ 2 min and ≤ 8 GB);
- baseline, same run: the raw read of the payment files (every current payment batch's
  records, all columns, read and summed by Polars);
- a month later: one more payment extract (the city's payments of one month re-sent as a new
  file, as a monthly delivery does) and the ledger again, against the full ledger (target:
  ≤ 10 % of a full build). The ledger is computed set-based in full each time: the figure says
  what that costs.

The city is cached under bench/.cache (bench.bench_skew), built with the registry.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from bench.bench_skew import _ingested
from bench.common import now, run_child
from canbao.registry import api as registry
from canbao.registry import snapshot

LEDGER = """
import json, time, datetime as dt
from pathlib import Path
from canbao.collection import api, kpi
from canbao.collection.published import data_as_of
from canbao.coverage.api import session
from canbao.warehouse.scope import Scope
data = Path({data!r}); day = data_as_of(data); scope = Scope.system("bench")
t = {{}}; c = [time.perf_counter()]
def lap(name):
    now = time.perf_counter(); t[name] = round(now - c[0], 1); c[0] = now
with session(data, scope, day) as s:
    led = api.ledger_in(s); lap("ledger")
    arr = api.arrears_in(s); lap("arrears")
    k = kpi.kpis_in(s); lap("kpis")
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


def _month_later(data: Path) -> Path:
    """A copy of the data directory with one more payment extract: the payments of the latest
    month re-sent as their own file (the ledger must count them once)."""
    from canbao.ingest import api as ingest_api
    from canbao.ingest.batches import ingest_file

    dest = data.parent / f"{data.name}-month"
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(data, dest)
    pay = ingest_api.current_records(dest, "payment").collect()
    last = pay["period"].drop_nulls().max()
    month = pay.filter(pay["period"] == last)
    cols = {"credit_code": "统一社会信用代码", "employer_name": "单位名称", "period": "费款所属期",
            "scheme": "险种", "paid": "实缴金额", "paid_date": "到账日期", "txn_id": "缴费流水号"}  # fmt: skip
    have = [c for c in cols if c in month.columns]
    out = dest.parent / f"{dest.name}-resent.csv"
    frame = month.select(have).rename({c: cols[c] for c in have})
    if "实缴金额" in frame.columns:
        import polars as pl

        frame = frame.with_columns((pl.col("实缴金额") / 100).round(2).cast(pl.Utf8))
    frame.write_csv(out)
    ingest_file(dest, out, source="bench_resent_month", kind="payment", as_of=str(
        max(b.as_of for b in ingest_api.current_batches(dest, "payment"))
    ))  # fmt: skip
    registry.build(dest)
    return dest


def run() -> dict:
    sizes = [int(x) for x in os.environ.get("CANBAO_BENCH_LEDGER_SIZES", "5000000").split(",")]
    rows = []
    for persons in sizes:
        data = _ingested(persons, False)
        if snapshot.current(data) is None:
            registry.build(data, full=True)
        raw_wall, raw_rss, raw = run_child(RAW.format(data=str(data)), "raw payments")
        wall, rss, info = run_child(LEDGER.format(data=str(data)), "ledger")
        month = "not measured (CANBAO_BENCH_LEDGER_MONTH=0)"
        if os.environ.get("CANBAO_BENCH_LEDGER_MONTH", "1") != "0":
            later = _month_later(data)
            m_wall, _m_rss, _m = run_child(LEDGER.format(data=str(later)), "ledger, a month later")
            shutil.rmtree(later, ignore_errors=True)
            month = f"{m_wall:.1f} ({m_wall / wall:.0%} of full)"
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
                "a month later s": month,
            }
        )
    return {
        "sections": [
            {
                "title": "Contribution ledger: ledger, arrears list and KPIs",
                "measured_at": now(),
                "note": (
                    "Targets (issue 18): ledger, arrears list and KPIs for the 5-million-resident "
                    "city ≤ 2 min and ≤ 8 GB; an incremental month ≤ 10 % of a full ledger "
                    "build. One run each (a child process, DuckDB); baseline: the raw read of "
                    "the payment files in the same run. 'A month later': one more payment "
                    "extract, the ledger computed again in full (set-based; no incremental "
                    "ledger yet)."
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
                    "a month later s",
                ],  # fmt: skip
                "rows": rows,
            }
        ]
    }
