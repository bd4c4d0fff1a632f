"""The web workspace on the 5-million-resident registry, over loopback HTTP.

`canbao serve` runs as its own process (one uvicorn worker) on the skew bench's built city
(bench/.cache/skewbench-5000000; CANBAO_BENCH_WEB_SIZE picks another size). Measured:

- person search through the API (`GET /api/persons?q=`), a city user's bearer token, 200 queries
  (half citizen IDs, half names), p50/p95; baseline: `GET /healthz` (the HTTP round trip alone);
- the dashboard (`GET /` signed in as a city user, and as a county user), 40 requests each after
  one warm-up, p50/p95;
- the person 360 page (`GET /persons/{key}` signed in as a city user; baseline the API twin
  `GET /api/persons/{key}`), 200 persons sampled across the city, p50/p95;
- 50 concurrent clients for 60 s (a mix of searches, the dashboard, the KPI API and person
  pages) while `canbao ingest` + `canbao build` of a new month run on the same data directory:
  requests, errors (anything but 2xx), p95.

The copy is prepared as production has it: the ledger `canbao build` publishes beside the snapshot
(published here when the source city was built without it), and the server is measured once its
start-up warm-up is done (the search index and the person/employer-sorted copies of the build on
disk, the dashboard's figures computed); the time that took is the search row's baseline.

Targets (issue 20): person search p95 ≤ 100 ms, dashboard p95 ≤ 300 ms, no error under load.
"""

from __future__ import annotations

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

from bench.bench_skew import _ingested
from bench.cities import CACHE
from bench.common import now
from canbao.registry import snapshot
from canbao.store import Actor, accounts, open_store

PASSWORD = "Benchweb2017ok"
CLIENTS = 50
LOAD_SECONDS = 60


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _users(data: Path, county: str) -> None:
    store = open_store(data)
    try:
        have = {u.name for u in accounts.list_users(store)}
        op = Actor.operator()
        for name, role, counties in (
            ("bench_city", "city_staff", []),
            ("bench_county", "county_staff", [county]),
        ):
            if name not in have:
                accounts.add_user(store, op, name, role, PASSWORD, counties)
    finally:
        store.dispose()


def _serve(data: Path, port: int) -> subprocess.Popen[bytes]:
    canbao = Path(sys.executable).with_name("canbao")
    proc = subprocess.Popen(
        [str(canbao), "serve", "--data-dir", str(data), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError("canbao serve did not start")


def _signed_in(base: str, user: str) -> httpx.Client:
    c = httpx.Client(base_url=base, timeout=600)
    page = c.get("/login")
    csrf = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    r = c.post("/login", data={"username": user, "password": PASSWORD, "csrf_token": csrf})
    assert r.status_code in (200, 303), r.status_code
    return c


def _token(base: str, user: str) -> dict[str, str]:
    r = httpx.post(f"{base}/api/auth/token", data={"username": user, "password": PASSWORD})
    r.raise_for_status()
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def _pcts(times: list[float]) -> tuple[float, float]:
    ms = sorted(t * 1000 for t in times)
    return statistics.median(ms), ms[max(0, int(len(ms) * 0.95) - 1)]


def _timed(fn, n: int) -> list[float]:  # type: ignore[no-untyped-def]
    out = []
    for i in range(n):
        t0 = time.perf_counter()
        r = fn(i)
        out.append(time.perf_counter() - t0)
        assert r.status_code == 200, (r.status_code, r.text[:200])
    return out


def _published(data: Path) -> str:
    """Publish the ledger of the current build when it is not (as `canbao build` does)."""
    from canbao.collection import published

    build = snapshot.require_current(data).build_id
    pointer = published.root(data) / "CURRENT"
    if pointer.exists() and pointer.read_text(encoding="utf-8").strip() == build:
        return "present"
    t0 = time.perf_counter()
    published.publish(data)
    return f"published in {time.perf_counter() - t0:.0f} s"


def _warmed(base: str, headers: dict[str, str], data: Path, timeout: float = 1800) -> float:
    """Seconds until the server's start-up warm-up is done: the build's search index and
    person/employer copies on disk, the KPI and plan figures answering (not 503) and every
    figure of the city user's dashboard computed (nothing left in the background)."""
    from canbao.web import keyed, person_view

    build = snapshot.require_current(data).build_id
    files = [
        person_view.index_path(data, build),
        keyed.folder(data, keyed.PERSONS, build) / keyed.DONE,
        keyed.folder(data, keyed.EMPLOYERS, build) / keyed.DONE,
    ]
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        if all(f.exists() for f in files):
            codes = [httpx.get(f"{base}{u}", headers=headers, timeout=600).status_code
                     for u in ("/api/kpi", "/api/plan/progress")]  # fmt: skip
            if codes == [200, 200]:
                with _signed_in(base, "bench_city") as c:
                    page = c.get("/").text
                if "正在汇总" not in page and "新数据计算中" not in page:
                    return time.perf_counter() - t0
        time.sleep(2)
    raise RuntimeError("the server's warm-up did not finish")


def _queries(data: Path, n: int) -> list[str]:
    persons = snapshot.require_current(data).scan("persons").select("id18", "name")
    sample = persons.collect().sample(n // 2, seed=5)
    ids = [x for x in sample["id18"].to_list() if x]
    names = [x for x in sample["name"].to_list() if x]
    qs = ids[: n // 2] + names[: n // 2]
    random.Random(5).shuffle(qs)
    return qs


def _load(base: str, headers: dict[str, str], queries: list[str], keys: list[str]) -> dict:
    stop = time.monotonic() + LOAD_SECONDS
    times: list[float] = []
    errors: list[int] = []
    lock = threading.Lock()

    def client(i: int) -> None:
        rnd = random.Random(i)
        with httpx.Client(base_url=base, headers=headers, timeout=120) as c:
            while time.monotonic() < stop:
                pick = rnd.random()
                t0 = time.perf_counter()
                try:
                    if pick < 0.5:
                        r = c.get("/api/persons", params={"q": rnd.choice(queries)})
                    elif pick < 0.7:
                        r = c.get(f"/api/persons/{rnd.choice(keys)}")
                    elif pick < 0.85:
                        r = c.get("/api/kpi")
                    else:
                        r = c.get("/api/plan/progress")
                    code = r.status_code
                except httpx.HTTPError:
                    code = 0
                dt = time.perf_counter() - t0
                with lock:
                    times.append(dt)
                    if not 200 <= code < 300:
                        errors.append(code)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    p50, p95 = _pcts(times)
    return {"requests": len(times), "errors": len(errors), "codes": sorted(set(errors)),
            "p50": p50, "p95": p95}  # fmt: skip


def _month(data: Path) -> subprocess.Popen[bytes]:
    """A new month's ingest and build on the served data directory (a child process)."""
    from bench.bench_skew import _city
    from canbao.synth.month import new_enrolment_extract

    city = _city(int(os.environ.get("CANBAO_BENCH_WEB_SIZE", "5000000")), False)
    extract = new_enrolment_extract(city, CACHE / "web-month.csv", 0.01)
    canbao = str(Path(sys.executable).with_name("canbao"))
    script = (
        f"{canbao} ingest {extract} --data-dir {data} --source si_resident_medical_web "
        f"--kind enrollment --scheme resident_medical --as-of 2018-01-31 && "
        f"{canbao} build --data-dir {data}"
    )
    return subprocess.Popen(["bash", "-c", script], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip


def run() -> dict:
    size = int(os.environ.get("CANBAO_BENCH_WEB_SIZE", "5000000"))
    source = _ingested(size, False)
    if snapshot.current(source) is None:
        from canbao.registry import api

        api.build(source)
    data = CACHE / f"webbench-{size}"  # a copy: the month's ingest must not touch the source
    if data.exists():
        shutil.rmtree(data)
    # hard links: batches and snapshots are written once and replaced by rename, never edited
    subprocess.run(["cp", "-al", str(source), str(data)], check=True)
    for small in data.glob("store.sqlite3*"):
        small.unlink()
        shutil.copy2(source / small.name, small)
    from canbao.profile import default_profile

    county = default_profile().demo_county or default_profile().counties[0].code
    _users(data, county)
    ledger = _published(data)
    queries = _queries(data, 200)
    keys = snapshot.require_current(data).scan("persons").select("person_key").collect()
    person_keys = keys.sample(2000, seed=11)["person_key"].to_list()  # across the city
    port = _port()
    base = f"http://127.0.0.1:{port}"
    proc = _serve(data, port)
    rows = []
    person_row: dict[str, str] = {}
    try:
        headers = _token(base, "bench_city")
        warmed = _warmed(base, headers, data)
        with httpx.Client(base_url=base, headers=headers, timeout=120) as c:
            health = _timed(lambda i: c.get("/healthz"), 100)
            search = _timed(lambda i: c.get("/api/persons", params={"q": queries[i]}), 200)
            api360 = _timed(lambda i: c.get(f"/api/persons/{person_keys[i]}"), 200)
        h50, h95 = _pcts(health)
        s50, s95 = _pcts(search)
        rows.append({"what": "person search GET /api/persons?q= (ID or name), city user",
                     "p50 ms": f"{s50:.1f}", "p95 ms": f"{s95:.1f}",
                     "baseline": f"GET /healthz p50 {h50:.1f} / p95 {h95:.1f} ms; server "
                                 f"warm-up (indexes, figures) {warmed:.0f} s after start; "
                                 f"ledger {ledger}"})  # fmt: skip
        for user, label in (("bench_city", "city user"), ("bench_county", "county user")):
            c = _signed_in(base, user)
            t0 = time.perf_counter()
            first = c.get("/")
            warm = time.perf_counter() - t0
            deadline = time.monotonic() + 900
            while ("正在汇总" in first.text or "新数据计算中" in first.text) and (
                time.monotonic() < deadline
            ):
                time.sleep(2)
                first = c.get("/")
            dash = _timed(lambda i, c=c: c.get("/"), 40)
            d50, d95 = _pcts(dash)
            rows.append({"what": f"dashboard GET / ({label})", "p50 ms": f"{d50:.1f}",
                         "p95 ms": f"{d95:.1f}",
                         "baseline": f"first request {warm * 1000:.0f} ms"})  # fmt: skip
            if user == "bench_city":
                page = _timed(lambda i, c=c: c.get(f"/persons/{person_keys[200 + i]}"), 200)
                p50, p95 = _pcts(page)
                a50, a95 = _pcts(api360)
                person_row = {"what": "person 360 page GET /persons/{key} (city user, 200 "
                                      "persons across the city)",
                              "p50 ms": f"{p50:.1f}", "p95 ms": f"{p95:.1f}",
                              "baseline": f"API GET /api/persons/{{key}} p50 {a50:.1f} / "
                                          f"p95 {a95:.1f} ms"}  # fmt: skip
            c.close()
        rows.append(person_row)
        month = _month(data)
        t0 = time.perf_counter()
        load = _load(base, headers, queries, person_keys)
        month_done = month.poll() is not None
        month.wait()
        rows.append({"what": f"{CLIENTS} clients × {LOAD_SECONDS} s while a month is ingested "
                             "and built", "p50 ms": f"{load['p50']:.1f}",
                     "p95 ms": f"{load['p95']:.1f}",
                     "baseline": f"{load['requests']} requests, {load['errors']} errors "
                                 f"{load['codes'] or ''}; ingest+build "
                                 f"{'finished' if month_done else 'still running'} at the end; "
                                 f"{time.perf_counter() - t0:.0f} s"})  # fmt: skip
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    return {
        "sections": [
            {
                "title": f"Web workspace on the {size:,}-resident registry (loopback HTTP)",
                "measured_at": now(),
                "note": (
                    "Targets (issue 20): person search p95 ≤ 100 ms, dashboard p95 ≤ 300 ms, "
                    "50 concurrent clients for 60 s with no error while an ingest runs; "
                    "person 360 page p95 ≤ 100 ms. `canbao serve` (one uvicorn worker) in its "
                    "own process, measured after its start-up warm-up."
                ),
                "columns": ["what", "p50 ms", "p95 ms", "baseline"],
                "rows": rows,
            }
        ]
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(), ensure_ascii=False, indent=2))
