"""The compliance API over loopback HTTP (issue 22): single look-ups and batches of credit codes.

The city: for 1,000,000 residents bench_coverage's built registry (bench/.cache/cov-1000000), for
5,000,000 the skew bench's (bench/.cache/skewbench-5000000), each hard-link copied to
bench/.cache/compliance-<size> with the ledger `canbao build` publishes beside the snapshot
(published here when the source was built without it). Sizes: CANBAO_BENCH_COMPLIANCE_SIZES
(comma-separated, default "1000000,5000000").

The server is its own process: uvicorn (one worker) on 127.0.0.1 over the app of `canbao serve`
without the staff workspace's background warm-up, the per-key quota raised so that the bench is
not throttled. A department API key is issued in the copy's store. Measured with an httpx client:

- the first look-up (the build's standing index made: read from the published ledger, grouped,
  written to DATA/compliance/<build>/, held in memory);
- 500 single look-ups `GET /api/compliance/{credit_code}` one after another (credit codes sampled
  across the city, 1 in 10 unknown), p50/p95; baseline `GET /healthz` (the HTTP round trip);
- the same with 8 concurrent clients for 20 s: requests per second, p95;
- batches `POST /api/compliance/batch` of 1,000 codes, 20 one after another and with 4 concurrent
  clients: credit codes per second, p50/p95 per batch.

Every call is a full call: key check, quota (store-backed, claimed in blocks), the store's
agreements, dunning cases and listings for the codes, the audit-log entry (group commit, committed
before the answer).

Targets (issue 22): single p95 ≤ 50 ms; batch ≥ 2,000 credit codes per second at 5,000,000.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx2 as httpx

from bench.cities import CACHE
from bench.common import now
from canbao.registry import snapshot
from canbao.standards.credit_code import make_uscc
from canbao.store import Actor, accounts, open_store

SINGLES = 500
BATCHES = 20
BATCH = 1000
CLIENTS = 8
LOAD_SECONDS = 20
TARGET = "single p95 ≤ 50 ms; batch ≥ 2,000 codes/s at 5,000,000 residents"
SERVER = """
import sys, uvicorn
from pathlib import Path
from canbao.compliance import quota
from canbao.web import create_app
from canbao.web.routes.compliance import QUOTA_KEY
app = create_app(Path(sys.argv[1]), warm=False)
app.state.canbao.extra[QUOTA_KEY] = quota.Quota(codes=10**9, window=60)
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning", workers=1)
"""


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _source(size: int) -> Path:
    if size == 5_000_000:
        from bench.bench_skew import _ingested

        data = _ingested(size, False)
        if snapshot.current(data) is None:
            from canbao.registry import api

            api.build(data)
        return data
    from bench.bench_coverage import built

    return built(size)[1]


def _prepared(size: int) -> tuple[Path, str]:
    """(the copy, how its ledger was had)."""
    from canbao.collection import published

    source = _source(size)
    data = CACHE / f"compliance-{size}"
    if data.exists():
        shutil.rmtree(data)
    # hard links: batches, snapshots and published ledgers are written once, never edited
    subprocess.run(["cp", "-al", str(source), str(data)], check=True)
    for small in data.glob("store.sqlite3*"):
        small.unlink()
        shutil.copy2(source / small.name, small)
    shutil.rmtree(data / "compliance", ignore_errors=True)
    build = snapshot.require_current(data).build_id
    pointer = published.root(data) / "CURRENT"
    if pointer.exists() and pointer.read_text(encoding="utf-8").strip() == build:
        return data, "present"
    t0 = time.perf_counter()
    published.publish(data)
    return data, f"published in {time.perf_counter() - t0:.0f} s"


def _key(data: Path) -> str:
    store = open_store(data)
    try:
        name = f"bench_dept_{int(time.time())}"
        _row, key = accounts.add_key(store, Actor.operator(), name, purpose="基准测试")
        return key
    finally:
        store.dispose()


def _serve(data: Path, port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(data), str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("the server did not start")


def _pcts(times: list[float]) -> tuple[float, float]:
    ms = sorted(t * 1000 for t in times)
    return round(statistics.median(ms), 1), round(ms[max(0, int(len(ms) * 0.95) - 1)], 1)


def _codes(data: Path, n: int, seed: int) -> list[str]:
    frame = snapshot.require_current(data).scan("employers").select("credit_code").collect()
    known = frame["credit_code"].drop_nulls().to_list()
    rng = random.Random(seed)
    out = []
    for i in range(n):
        if i % 10 == 9:  # an unknown (valid) code
            out.append(make_uscc("9", "1", "360402", f"{rng.randrange(10**7):07d}9"))
        else:
            out.append(rng.choice(known))
    return out


def _load(base: str, headers: dict[str, str], codes: list[str], clients: int, seconds: float,
          batch: int) -> tuple[int, list[float]]:  # fmt: skip
    """``clients`` threads asking for ``seconds``: (codes answered, per-request seconds)."""
    stop = time.monotonic() + seconds
    times: list[float] = []
    answered = [0]
    lock = threading.Lock()

    def work(k: int) -> None:
        rng = random.Random(k)
        with httpx.Client(base_url=base, headers=headers, timeout=120) as c:
            while time.monotonic() < stop:
                t0 = time.perf_counter()
                if batch == 1:
                    r = c.get(f"/api/compliance/{rng.choice(codes)}")
                    ok = r.status_code in (200, 404)
                else:
                    r = c.post("/api/compliance/batch",
                               json={"credit_codes": rng.sample(codes, batch)})  # fmt: skip
                    ok = r.status_code == 200
                spent = time.perf_counter() - t0
                assert ok, (r.status_code, r.text[:200])
                with lock:
                    times.append(spent)
                    answered[0] += batch

    threads = [threading.Thread(target=work, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return answered[0], times


def _measure(size: int) -> tuple[dict, dict]:
    data, ledger = _prepared(size)
    key = _key(data)
    headers = {"Authorization": f"Bearer {key}"}
    codes = _codes(data, 5000, seed=size)
    employers = snapshot.require_current(data).scan("employers").select("employer_key")
    n_employers = employers.collect().height
    port = _port()
    base = f"http://127.0.0.1:{port}"
    proc = _serve(data, port)
    try:
        with httpx.Client(base_url=base, headers=headers, timeout=600) as c:
            t0 = time.perf_counter()
            first = c.get(f"/api/compliance/{codes[0]}")
            first_s = time.perf_counter() - t0
            assert first.status_code in (200, 404), first.text[:300]
            meta = json.loads(next((data / "compliance").glob("*/standing.json")).read_text())
            for code in codes[1:21]:  # warm the connection pool and caches
                c.get(f"/api/compliance/{code}")
            health = []
            for _ in range(200):
                t0 = time.perf_counter()
                c.get("/healthz")
                health.append(time.perf_counter() - t0)
            singles = []
            statuses: dict[int, int] = {}
            for code in codes[:SINGLES]:
                t0 = time.perf_counter()
                r = c.get(f"/api/compliance/{code}")
                singles.append(time.perf_counter() - t0)
                statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
            assert set(statuses) <= {200, 404}, statuses
            batches = []
            for i in range(BATCHES):
                chunk = codes[(i * BATCH) % 4000 : (i * BATCH) % 4000 + BATCH]
                t0 = time.perf_counter()
                r = c.post("/api/compliance/batch", json={"credit_codes": chunk})
                batches.append(time.perf_counter() - t0)
                assert r.status_code == 200 and r.json()["asked"] == len(chunk), r.text[:200]
        n_single, t_single = _load(base, headers, codes, CLIENTS, LOAD_SECONDS, 1)
        n_batch, t_batch = _load(base, headers, codes, 4, LOAD_SECONDS, BATCH)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    h50, _h95 = _pcts(health)
    s50, s95 = _pcts(singles)
    b50, b95 = _pcts(batches)
    c50, c95 = _pcts(t_single)
    l50, l95 = _pcts(t_batch)
    seq_rate = BATCH / statistics.median(batches)
    latency = {
        "residents": f"{size:,}",
        "employers": f"{n_employers:,}",
        "ledger": ledger,
        "first look-up, index made (s)": round(first_s, 2),
        "index rows": f"{meta['rows']:,} ({meta['source']})",
        "healthz p50 (ms)": h50,
        "single p50 (ms)": s50,
        "single p95 (ms)": s95,
        f"{CLIENTS} clients: req/s": round(len(t_single) / LOAD_SECONDS),
        f"{CLIENTS} clients: p95 (ms)": c95,
    }
    batch = {
        "residents": f"{size:,}",
        "batch of 1,000: p50 (ms)": b50,
        "batch p95 (ms)": b95,
        "one client: codes/s": f"{seq_rate:,.0f}",
        "4 clients: codes/s": f"{n_batch / LOAD_SECONDS:,.0f}",
        "4 clients: batch p95 (ms)": l95,
    }
    del c50, l50, n_single
    return latency, batch


def run() -> dict:
    sizes = [
        int(x)
        for x in os.environ.get("CANBAO_BENCH_COMPLIANCE_SIZES", "1000000,5000000").split(",")
    ]
    singles, batches = [], []
    for size in sizes:
        a, b = _measure(size)
        singles.append(a)
        batches.append(b)
    at = now()
    return {
        "sections": [
            {
                "title": "Compliance API: single look-ups (loopback HTTP)",
                "measured_at": at,
                "note": (
                    "One uvicorn worker on 127.0.0.1 (SQLite store in the data directory), "
                    f"httpx client. {SINGLES} look-ups one after another (1 in 10 an unknown "
                    f"code: 404), then {CLIENTS} concurrent clients for {LOAD_SECONDS} s. Every "
                    "call checks the key, counts the quota (in the store, claimed in blocks of 100 "
                    "codes), reads agreements, "
                    "dunning and listings and commits its audit-log entry. The first look-up "
                    f"makes the build's standing index. Target: {TARGET}."
                ),
                "columns": list(singles[0]),
                "rows": singles,
            },
            {
                "title": "Compliance API: batches of 1,000 credit codes (loopback HTTP)",
                "measured_at": at,
                "note": (
                    f"`POST /api/compliance/batch`, {BATCHES} batches one after another (1 in "
                    "10 codes unknown), then 4 concurrent clients for "
                    f"{LOAD_SECONDS} s. Target: {TARGET}."
                ),
                "columns": list(batches[0]),
                "rows": batches,
            },
        ]
    }


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    print(json.dumps(run(), ensure_ascii=False, indent=1))
