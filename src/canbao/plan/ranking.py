"""Ranking of the county units (and 开发区) by a composite score; top and bottom flagged.

**Composite score** of a unit = the mean completion over its cumulative indicators (enrolled.*
and collected.*) that have both a target and an actual, each completion capped at 120% so one
over-achieved indicator cannot hide others that are behind. Rates (清欠率, 新欠比例, 争资) are
reported but not in the score: their data are often missing for small units. A unit with no such
indicator has no score and is listed as unranked.

**Rank**: descending score, competition ranking ("1224": equal scores share a rank, the next rank
skips). **Bottom N** (the plan: 排名后3位): a unit is flagged when fewer than N ranked units have a
strictly lower score — so all units tied at the boundary are flagged, and more than N may be.
**Top N** (表扬) likewise with strictly higher scores; a unit flagged bottom is never top. If all
ranked units have the same score, nobody is flagged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from canbao.plan.progress import Progress, q

COMPLETION_CAP = Decimal("1.2")
SCORE_CATEGORIES = ("enrolled", "collected")


@dataclass(frozen=True)
class RankedUnit:
    unit: str
    score: Decimal | None
    n_indicators: int
    rank: int | None
    top: bool
    bottom: bool


def composite_scores(
    progress: Progress, units: Sequence[str], cap: Decimal = COMPLETION_CAP
) -> dict[str, tuple[Decimal | None, int]]:
    out: dict[str, tuple[Decimal | None, int]] = {}
    for u in units:
        comps = [
            min(r.completion, cap)
            for r in progress.for_unit(u)
            if r.completion is not None and r.ind.category in SCORE_CATEGORIES
        ]
        out[u] = (q(sum(comps, Decimal(0)) / len(comps)) if comps else None, len(comps))
    return out


def rank_scores(
    scores: Mapping[str, Decimal | None],
    order: Sequence[str] | None = None,
    *,
    n_bottom: int = 3,
    n_top: int = 3,
    counts: Mapping[str, int] | None = None,
) -> list[RankedUnit]:
    """Rank units by score (see module docstring). ``order`` breaks display ties (plan order)."""
    order = list(order or scores)
    pos = {u: i for i, u in enumerate(order)}
    scored = sorted(
        (u for u in order if scores.get(u) is not None),
        key=lambda u: (-scores[u], pos[u]),  # type: ignore[operator]
    )
    vals = [scores[u] for u in scored]
    distinct = len(set(vals))
    out: list[RankedUnit] = []
    for u in scored:
        s = scores[u]
        assert s is not None
        higher = sum(1 for v in vals if v is not None and v > s)
        lower = sum(1 for v in vals if v is not None and v < s)
        bottom = distinct > 1 and lower < n_bottom
        top = distinct > 1 and higher < n_top and not bottom
        n = counts.get(u, 0) if counts else 0
        out.append(RankedUnit(u, s, n, higher + 1, top, bottom))
    for u in order:
        if scores.get(u) is None:
            n = counts.get(u, 0) if counts else 0
            out.append(RankedUnit(u, None, n, None, False, False))
    return out


def rank_units(progress: Progress, units: Sequence[str], *, n_bottom: int = 3) -> list[RankedUnit]:
    comp = composite_scores(progress, units)
    return rank_scores(
        {u: s for u, (s, _) in comp.items()},
        units,
        n_bottom=n_bottom,
        counts={u: n for u, (_, n) in comp.items()},
    )
