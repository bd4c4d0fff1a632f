"""The synthetic city: wall time, CPU time and peak memory of ``canbao synth`` by size.

Each size runs once in a fresh subprocess (a 5-million city takes minutes, so no medians); the
child reports its own peak RSS. Target: 5 million residents in at most 3 minutes and 8 GB.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.common import now

SIZES = (100_000, 1_000_000, 5_000_000)

_CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from canbao.synth import generate
n, out = int(sys.argv[1]), Path(sys.argv[2])
t0 = time.perf_counter(); c0 = time.process_time()
path = generate(n, 1, out)
wall = time.perf_counter() - t0; cpu = time.process_time() - c0
summary = json.loads((out / "truth" / "summary.json").read_text(encoding="utf-8"))
rows = sum(v["rows"] for v in summary["rows"].values())
size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
print(json.dumps({"wall": wall, "cpu": cpu, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "rows": rows, "files": len(summary["rows"]), "bytes": size, "employers": summary["employers"]}))
"""


def measure(n: int) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="bench-synth-"))
    try:
        res = subprocess.run(
            [sys.executable, "-c", _CHILD, str(n), str(tmp / "city")],
            check=True,
            capture_output=True,
            text=True,
        )
        return json.loads(res.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(sizes: tuple[int, ...] = SIZES) -> dict:
    rows = []
    for n in sizes:
        r = measure(n)
        rows.append(
            {
                "residents": f"{n:,}",
                "seconds (wall)": round(r["wall"], 1),
                "CPU seconds": round(r["cpu"], 1),
                "peak RSS (GB)": round(r["rss_mb"] / 1024, 2),
                "data rows written": f"{r['rows']:,}",
                "extracts": r["files"],
                "employers": f"{r['employers']:,}",
                "size on disk (MB)": round(r["bytes"] / 1e6),
            }
        )
    return {
        "title": "Synthetic city (`canbao synth`)",
        "measured_at": now(),
        "note": "One run per size in a fresh process (seed 1, default damage rates), including "
        "the truth files. Target: 5 million residents ≤ 3 min and ≤ 8 GB. The machine is shared "
        "(2 cores): wall time varies with other load; CPU seconds are the steadier figure.",
        "columns": [
            "residents", "seconds (wall)", "CPU seconds", "peak RSS (GB)", "data rows written",
            "extracts", "employers", "size on disk (MB)",
        ],
        "rows": rows,
    }  # fmt: skip


if __name__ == "__main__":
    sizes = tuple(int(a) for a in sys.argv[1:]) or SIZES
    print(json.dumps(run(sizes), indent=2, ensure_ascii=False))
