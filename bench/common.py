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
