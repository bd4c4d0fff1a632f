"""The store: sign-in, a scoped person look-up by ID through the Python API, audit-log writes.

- Sign-in (`accounts.authenticate`: argon2id verify + lock-out bookkeeping + an audit entry) on
  SQLite and PostgreSQL, p50/p95 of 40 sign-ins; baseline: the argon2 verify alone.
- Person look-up by ID (`registry.api.person`, a county user's scope, masked) on the
  registry of the 1-million-resident synthetic city (CANBAO_BENCH_STORE_SIZE), p50/p95 of 200
  random IDs; baseline: a Polars point query on the same snapshot table without scope or
  masking.
- Audit-log writes on PostgreSQL: entries per second, one writer with one transaction per entry,
  16 concurrent writers through the store's group-commit writer (each caller still waits for its
  own commit), and 1,000 per transaction; baseline: plain inserts into an unchained table.

PostgreSQL: $CANBAO_TEST_DATABASE_URL (scripts/test-services.sh), dropped and recreated.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import polars as pl
from sqlalchemy import create_engine, text

from bench.bench_skew import _ingested
from bench.common import now
from canbao.profile import default_profile
from canbao.registry import api, snapshot
from canbao.store import Actor, accounts, audit_log, open_store, passwords
from canbao.store.audit_log import Event
from canbao.store.scopes import scope_for

PG_URL = os.environ.get(
    "CANBAO_TEST_DATABASE_URL",
    "postgresql+psycopg://canbao_test:canbao_test@127.0.0.1:5432/canbao_test",
)
PASSWORD = "Xiangmu2017ok"


def _pcts(fn: Callable[[int], object], n: int) -> tuple[float, float]:
    times = []
    for i in range(n):
        t0 = time.perf_counter()
        fn(i)
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))]


def _reset_pg() -> None:
    eng = create_engine(PG_URL)
    with eng.begin() as c:
        c.execute(text("DROP SCHEMA public CASCADE"))
        c.execute(text("CREATE SCHEMA public"))
    eng.dispose()


def _login_rows() -> list[dict]:
    rows = []
    stored = passwords.hash_password(PASSWORD)
    base = _pcts(lambda _i: passwords.verify(stored, PASSWORD), 40)
    for backend in ("sqlite", "postgresql"):
        tmp = Path(tempfile.mkdtemp())
        if backend == "postgresql":
            _reset_pg()
        store = open_store(tmp, None if backend == "sqlite" else PG_URL, upgrade=True)
        accounts.add_user(store, Actor("root", "admin"), "li_si", "city_staff", PASSWORD)
        p50, p95 = _pcts(lambda _i: accounts.authenticate(store, "li_si", PASSWORD), 40)  # noqa: B023
        store.dispose()
        rows.append(
            {
                "what": f"sign-in ({backend})",
                "p50 ms": f"{p50:.1f}",
                "p95 ms": f"{p95:.1f}",
                "baseline": f"argon2 verify alone p50 {base[0]:.1f} / p95 {base[1]:.1f} ms",
            }
        )
    return rows


def _lookup_row(persons: int) -> dict:
    data = _ingested(persons, False)
    if snapshot.current(data) is None:
        api.build(data, full=True)
    snap = snapshot.require_current(data)
    sample = (
        snap.scan("persons").select("id18", "county_code").drop_nulls().collect()
        .sample(200, seed=7)
    )  # fmt: skip
    profile = default_profile()
    county = str(sample["county_code"][0])
    ids = sample.filter(pl.col("county_code") == county)["id18"].to_list()
    ids = (ids * (200 // max(1, len(ids)) + 1))[:200]
    scope = scope_for(Actor("li_si", "county_staff", (county,)), profile)
    p50, p95 = _pcts(lambda i: api.person(data, ids[i], scope), len(ids))
    b50, b95 = _pcts(
        lambda i: snap.scan("persons").filter(pl.col("id18") == ids[i]).collect(), len(ids)
    )
    return {
        "what": f"person look-up by ID, county scope, masked ({persons:,} residents)",
        "p50 ms": f"{p50:.1f}",
        "p95 ms": f"{p95:.1f}",
        "baseline": f"Polars point query on the snapshot p50 {b50:.1f} / p95 {b95:.1f} ms",
    }


def _audit_rows() -> list[dict]:
    _reset_pg()
    store = open_store(Path(tempfile.mkdtemp()), PG_URL, upgrade=True)
    ev = Event("li_si", "city_staff", "person.reveal", "person", ("P1",), ("id18",), "10.0.0.1")
    n = 1000
    t0 = time.perf_counter()
    for _ in range(n):
        audit_log.log(store, ev)
    single = n / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    audit_log.log(store, *([ev] * n))
    batched = n / (time.perf_counter() - t0)
    with store.engine.begin() as c:
        c.execute(text("CREATE TABLE plain (id int, actor text, action text, at timestamp)"))
    t0 = time.perf_counter()
    for i in range(n):
        with store.engine.begin() as c:
            c.execute(text("INSERT INTO plain VALUES (:i, 'li_si', 'x', now())"), {"i": i})
    plain = n / (time.perf_counter() - t0)
    writers, each = 16, 125
    gate = threading.Barrier(writers + 1)

    def writer() -> None:
        gate.wait()
        for _ in range(each):
            audit_log.log(store, ev)

    threads = [threading.Thread(target=writer) for _ in range(writers)]
    for t in threads:
        t.start()
    gate.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    grouped = writers * each / (time.perf_counter() - t0)
    assert audit_log.verify(store)[1] == []
    store.dispose()
    return [
        {
            "what": f"audit-log entries/s (PostgreSQL, {writers} concurrent writers, group commit)",
            "p50 ms": f"{1000 / grouped:.2f}",
            "p95 ms": "",
            "baseline": f"{grouped:,.0f}/s vs {single:,.0f}/s for one writer (a transaction each)",
        },
        {
            "what": "audit-log entries/s (PostgreSQL, one transaction each)",
            "p50 ms": f"{1000 / single:.2f}",
            "p95 ms": "",
            "baseline": f"{single:,.0f}/s chained vs {plain:,.0f}/s plain inserts (one transaction each)",
        },
        {
            "what": "audit-log entries/s (PostgreSQL, 1,000 per transaction)",
            "p50 ms": f"{1000 / batched:.3f}",
            "p95 ms": "",
            "baseline": f"{batched:,.0f}/s",
        },
    ]


def run() -> dict:
    size = int(os.environ.get("CANBAO_BENCH_STORE_SIZE", "1000000"))
    rows = _login_rows() + ([_lookup_row(size)] if size else []) + _audit_rows()
    return {
        "sections": [
            {
                "title": "Store: sign-in, scoped look-up, audit log",
                "measured_at": now(),
                "note": (
                    "Targets (issue 17): sign-in and a scoped look-up by ID p95 ≤ 50 ms; "
                    "1,000 audit-log entries per second on PostgreSQL. p50/p95 over 40 sign-ins "
                    "and 200 look-ups; the 'p50 ms' of the audit rows is milliseconds per entry."
                ),
                "columns": ["what", "p50 ms", "p95 ms", "baseline"],
                "rows": rows,
            }
        ]
    }
