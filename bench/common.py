"""Helpers for benchmarks: medians of repeated timings, peak memory, timestamps."""

from __future__ import annotations

import datetime as dt
import resource
import statistics
import threading
import time
from collections.abc import Callable
from pathlib import Path
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


def run_child(
    code: str, what: str, env: dict[str, str] | None = None
) -> tuple[float, float, dict[str, Any]]:
    """Run Python ``code`` in a child process that prints one JSON line last.

    Returns wall seconds, the child's peak RSS in MB (sampled every 0.2 s), and the parsed JSON. Output is read before
    waiting, so a chatty child cannot fill the pipe and block.
    """
    import json
    import os
    import subprocess
    import sys

    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env
    )
    # peak memory sampled from /proc: the child's ru_maxrss would include the RSS of this
    # (parent) process, which a forked child inherits until it execs
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.2):
            peak[0] = max(peak[0], tree_rss_kb(proc.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out = proc.stdout.read() if proc.stdout else ""
    _pid, status, _usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    done.set()
    sampler.join()
    if status != 0:
        raise RuntimeError(f"{what} failed ({status}): {out[-2000:]}")
    return wall, peak[0] / 1024, json.loads(out.strip().splitlines()[-1])


def tree_rss_kb(root: int) -> int:
    """Summed RSS (kB) of a process and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
            status = (entry / "status").read_text()
        except (OSError, ValueError):
            continue
        pid = int(entry.name)
        children.setdefault(ppid, []).append(pid)
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                rss[pid] = int(line.split()[1])
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo.extend(children.get(pid, []))
    return total
