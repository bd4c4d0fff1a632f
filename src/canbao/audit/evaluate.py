"""The risk ranking against a synthetic city's truth (``DIR/truth/under_reporters.csv``):
precision@K of true under-reporters and the share of the true money at stake in the top K, at
K a share of the scored employers, for the model and, in the same run, for random choice and
for ranking by size alone (the largest tax headcount first).

The true money at stake of an employer is Σ over its under-reported schemes of (true base −
declared base) × the scheme's total rate (employer + employee; work injury at the registry's
risk class, as :func:`canbao.audit.signals.rate_sql`), half-up to the fen. Employers map to the
truth's ``eid`` through ``employer_links`` (:func:`canbao.coverage.quality.employer_map`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import polars as pl

from canbao.collection.policy import BP, ContributionPolicy
from canbao.coverage.quality import employer_map

SHARES = (0.01, 0.02, 0.05)


def _fen(column: str) -> pl.Expr:
    return (pl.col(column).cast(pl.Float64) * 100).round(0).cast(pl.Int64)


def _rate(policy: ContributionPolicy) -> pl.Expr:
    flat = {k: v.total_bp for k, v in policy.rates.items()}
    classes = {str(c.risk_class): c.rate_at(100) for c in policy.work_injury}
    lowest = min(classes.values())
    injury = (
        pl.col("risk_class").cast(pl.Utf8).str.strip_chars().replace_strict(classes, default=lowest)
    )
    return (
        pl.when(pl.col("scheme") == "work_injury")
        .then(injury)
        .otherwise(pl.col("scheme").replace_strict(flat, default=0))
        .cast(pl.Int64)
    )


def true_money(
    city: Path,
    employer_links: pl.DataFrame,
    employers: pl.DataFrame,
    policy: ContributionPolicy,
) -> pl.DataFrame:
    """employer_key, true_money (fen) of every true under-reporter the registry knows."""
    truth = pl.read_csv(
        (city / "truth" / "under_reporters.csv").absolute(),
        glob=False,
        schema_overrides={"true_base": pl.Utf8, "declared_base": pl.Utf8},
    )
    em = employer_map(employer_links, city)
    gap = (_fen("true_base") - _fen("declared_base")).clip(lower_bound=0)
    amount = (gap * pl.col("rate") * 2 + BP) // (2 * BP)  # half-up, as div_half_up
    return (
        truth.join(em, on="eid")
        .join(employers.select("employer_key", "risk_class"), on="employer_key", how="left")
        .with_columns(rate=_rate(policy))
        .group_by("employer_key")
        .agg(true_money=amount.sum().cast(pl.Int64))
    )


def _at(order: Sequence[str], truth: dict[str, int], total: int, k: int) -> tuple[float, float]:
    top = order[:k]
    hits = sum(1 for key in top if key in truth)
    money = sum(truth.get(key, 0) for key in top)
    return hits / k, (money / total if total else 0.0)


def ranking_quality(
    scored: pl.DataFrame,
    truth: pl.DataFrame,
    shares: Sequence[float] = SHARES,
    *,
    draws: int = 200,
    seed: int = 7,
) -> list[dict[str, float | int | str]]:
    """Rows (ranking, share, k, precision, money_share) for ``model`` (``scored`` in its order:
    score, then money), ``random`` (mean of ``draws`` random orders) and ``size`` (staff, then
    employer key). ``scored``: employer_key, score, money_under, staff; ``truth``:
    employer_key, true_money."""
    keys = scored["employer_key"].to_list()
    found = dict(zip(truth["employer_key"].to_list(), truth["true_money"].to_list(), strict=True))
    total = sum(found.values())
    model = scored.sort(["score", "money_under", "employer_key"], descending=[True, True, False])[
        "employer_key"
    ].to_list()
    size = scored.sort(["staff", "employer_key"], descending=[True, False])[
        "employer_key"
    ].to_list()
    rng = np.random.default_rng(seed)
    randoms = [[keys[i] for i in rng.permutation(len(keys))] for _ in range(draws)]
    rows: list[dict[str, float | int | str]] = []
    for share in shares:
        k = max(1, round(len(keys) * share))
        for name, order in (("model", model), ("size", size)):
            p, m = _at(order, found, total, k)
            rows.append({"ranking": name, "share": share, "k": k, "precision": round(p, 4),
                         "money_share": round(m, 4)})  # fmt: skip
        got = [_at(o, found, total, k) for o in randoms]
        rows.append({
            "ranking": "random", "share": share, "k": k,
            "precision": round(float(np.mean([g[0] for g in got])), 4),
            "money_share": round(float(np.mean([g[1] for g in got])), 4),
        })  # fmt: skip
    return rows
