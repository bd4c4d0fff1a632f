"""Audit targeting on the synthetic city: the risk ranking against the truth — precision@K of
true under-reporters and the share of the true money at stake in the top K, at K = 1%, 2%, 5%
of the scored employers — beside random choice (mean of 200 draws) and ranking by size alone
(largest tax headcount first), in the same run; and the time of the risk model.

Sizes: CANBAO_BENCH_AUDIT_SIZES (comma-separated, default "1000000"); the city and its registry
are bench_coverage's (cached in bench/.cache/cov-<size>).
"""

from __future__ import annotations

import os
import time

from bench.bench_coverage import built
from bench.common import now
from canbao.audit import evaluate, targets
from canbao.collection.ledger import region_policy
from canbao.registry import snapshot
from canbao.warehouse.scope import Scope

SYSTEM = Scope.system("bench")
TARGET = "precision@2% ≥ 0.8; money share@5% ≥ 0.5"


def _quality(persons: int) -> tuple[list[dict], dict]:
    city, data = built(persons)
    t0 = time.perf_counter()
    found = targets.model(data, SYSTEM)
    seconds = time.perf_counter() - t0
    assert found.as_of is not None
    snap = snapshot.require_current(data)
    truth = evaluate.true_money(
        city, snap.scan("employer_links").collect(), found.employers,
        region_policy(data, found.as_of),
    )  # fmt: skip
    rows = []
    for r in evaluate.ranking_quality(found.employers, truth):
        rows.append({
            "residents": f"{persons:,}", "K": f"{r['share']:.0%} ({r['k']:,})",
            "ranking": r["ranking"], "precision": r["precision"],
            "money share": r["money_share"],
        })  # fmt: skip
    estimate = int(found.employers["money_under"].sum())
    true_total = int(truth["true_money"].sum())
    speed = {
        "residents": f"{persons:,}",
        "scored employers": f"{found.employers.height:,}",
        "true under-reporters": f"{truth.height:,}",
        "risk model (s)": round(seconds, 1),
        "money at stake, estimate / truth": f"{estimate / true_total:.4f}" if true_total else "",
    }
    return rows, speed


def run() -> dict:
    sizes = [int(x) for x in os.environ.get("CANBAO_BENCH_AUDIT_SIZES", "1000000").split(",")]
    quality, speed = [], []
    for n in sizes:
        q, s = _quality(n)
        quality.extend(q)
        speed.append(s)
    at = now()
    return {
        "sections": [
            {
                "title": "Audit: risk ranking against the synthetic truth",
                "measured_at": at,
                "note": (
                    "K is a share of the employers the model scores (registered or declaring). "
                    "`precision`: share of the top K that are true under-reporters "
                    "(truth/under_reporters.csv); `money share`: share of the true money at "
                    "stake (true minus declared base × the scheme's rate) in the top K. "
                    f"`random`: mean of 200 random orders; `size`: largest first. Target: {TARGET}."
                ),
                "columns": ["residents", "K", "ranking", "precision", "money share"],
                "rows": quality,
            },
            {
                "title": "Audit: time of the risk model",
                "measured_at": at,
                "note": (
                    "In-process, DuckDB (2 cores): the employer compliance tables, the ledger, "
                    "the signals, the contributions and the ability to pay, city-wide."
                ),
                "columns": [
                    "residents",
                    "scored employers",
                    "true under-reporters",
                    "risk model (s)",
                    "money at stake, estimate / truth",
                ],  # fmt: skip
                "rows": speed,
            },
        ]
    }
