"""Helpers for benchmarks: medians of repeated timings, peak memory, timestamps."""

from __future__ import annotations

import datetime as dt
import resource
import statistics
import time
from collections.abc import Callable
from typing import Any


def median_seconds(fn: Callable[[], Any], repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def now() -> str:
    return dt.datetime.now().strftime("%Y-%m-%d %H:%M")


def run_child(code: str, what: str) -> tuple[float, float, dict[str, Any]]:
    """Run Python ``code`` in a child process that prints one JSON line last.

    Returns wall seconds, the child's peak RSS in MB, and the parsed JSON. Output is read before
    waiting, so a chatty child cannot fill the pipe and block.
    """
    import json
    import os
    import subprocess
    import sys

    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    out = proc.stdout.read() if proc.stdout else ""
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if status != 0:
        raise RuntimeError(f"{what} failed ({status}): {out[-2000:]}")
    return wall, usage.ru_maxrss / 1024, json.loads(out.strip().splitlines()[-1])
