"""Skewed data (hot keys): the same steps on a skewed and an unskewed city of the same size.

The skewed city (``canbao synth --skew``) has a few employers with 5–10% of all employees, a
collective-account employer per county for flexible workers, collective households of thousands
and a heavy Zipf of common names. Measured, each in a fresh child process (wall seconds, peak
RSS of the process tree): the full registry build, all coverage analytics (every gap list, the
statistics and the export) and ``canbao export coverage``. The baseline is the unskewed city,
measured in the same run; the target is within 2× of it, coverage ≤ 6 GB.

The 5-million row is the skewed 1-million warehouse replicated five times with person, batch and
record keys suffixed but **employer keys kept**: every employer, the hot ones included, is five
times larger (the skew is stronger, not diluted). Target: all analytics ≤ 2 minutes.

Sizes: CANBAO_BENCH_SKEW_SIZE (default 1000000), CANBAO_BENCH_SKEW_REPLICATE (default 5; 0 = skip).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from bench.bench_coverage import _analyse_in_subprocess, replicated
from bench.bench_registry import _build_in_subprocess
from bench.cities import CACHE
from bench.common import now, run_child
from canbao.ingest.api import ingest_manifest
from canbao.registry import snapshot
from canbao.synth import Skew, generate

SEED = 7


def _city(persons: int, skewed: bool) -> Path:
    root = CACHE / f"city-{persons}-{SEED}{'-skew' if skewed else ''}"
    if not (root / "manifest.json").exists():
        if root.exists():
            shutil.rmtree(root)
        generate(persons, SEED, root, skew=Skew() if skewed else None)
    return root


def _ingested(persons: int, skewed: bool) -> Path:
    city = _city(persons, skewed)
    data = CACHE / f"skewbench-{persons}{'-skew' if skewed else ''}"
    if not (data / ".ingested").exists():
        if data.exists():
            shutil.rmtree(data)
        for f, res in ingest_manifest(data, city):
            if isinstance(res, Exception):
                raise RuntimeError(f"{f.path}: {res}")
        (data / ".ingested").write_text("ok")
    return data


def _build(data: Path) -> tuple[float, float, dict]:
    return _build_in_subprocess(data, full=True)


def _analyse(data: Path) -> tuple[float, float, dict]:
    return _analyse_in_subprocess(data)


def _export(data: Path) -> tuple[float, float, dict]:
    out = data.parent / f"{data.name}-coverage.csv"
    code = (
        "import json,sys; from canbao.cli import main;"
        f"sys.argv=['canbao','export','coverage','--data-dir',{str(data)!r},'--out',{str(out)!r}];"
        "\ntry:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        "print(json.dumps({'ok': True}))"
    )
    return run_child(code, "export coverage")


def _hot(data: Path) -> str:
    counts = snapshot.require_current(data).info.get("hot_key_counts", {})
    return ", ".join(f"{k} {v}" for k, v in counts.items())


def run() -> dict:
    n = int(os.environ.get("CANBAO_BENCH_SKEW_SIZE", "1000000"))
    k = int(os.environ.get("CANBAO_BENCH_SKEW_REPLICATE", "5"))
    rows = []
    measured: dict[str, dict[str, tuple[float, float]]] = {}
    for skewed in (False, True):
        label = "skewed" if skewed else "unskewed (baseline)"
        data = _ingested(n, skewed)
        steps = {"registry build --full": _build(data), "all analytics": _analyse(data)}
        steps["export coverage"] = _export(data)
        measured[label] = {s: (w, r) for s, (w, r, _i) in steps.items()}
        for step, (wall, rss, _info) in steps.items():
            base = measured.get("unskewed (baseline)", {}).get(step)
            rows.append(
                {
                    "city": f"{n:,} {label}",
                    "step": step,
                    "seconds": round(wall, 1),
                    "peak RSS (MB)": round(rss),
                    "× baseline (time)": round(wall / base[0], 2) if skewed and base else "",
                    "hot keys (registry)": _hot(data) if step.startswith("registry") else "",
                }
            )
        print(f"skew bench: {label} done", file=sys.stderr)
    if k > 1:
        data = replicated(_ingested(n, True), k, keep=("employer_key",))
        wall, rss, info = _analyse(data)
        rows.append(
            {
                "city": f"{n:,} skewed × {k} (replicated, employers kept)",
                "step": "all analytics",
                "seconds": round(wall, 1),
                "peak RSS (MB)": round(rss),
                "× baseline (time)": "",
                "hot keys (registry)": f"{info['persons']:,} master persons",
            }
        )
    return {
        "title": "Skewed data: hot employers, collective households, common names",
        "measured_at": now(),
        "note": (
            "One run each, every step in a fresh child process; the baseline is the unskewed "
            "city of the same size and seed, measured in the same run. Targets: skewed within 2× "
            "of the baseline, coverage ≤ 6 GB; 5 million skewed residents: all analytics ≤ 2 min. "
            "The replicated row keeps employer keys, so every employer is five times larger."
        ),
        "columns": [
            "city",
            "step",
            "seconds",
            "peak RSS (MB)",
            "× baseline (time)",
            "hot keys (registry)",
        ],  # fmt: skip
        "rows": rows,
    }
