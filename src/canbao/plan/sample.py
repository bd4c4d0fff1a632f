"""Synthetic 附件1 and illustrative actuals for the demo and tests — NOT real statistics.

The seed plan gives only city-wide and 市本级 targets. :func:`synthetic_task_table` splits
(全市 − 市本级) over the 13 county units and 开发区 in proportion to the 2020 census resident
population (开发区 given an assumed 150,000), so the parts add up to the plan's totals.
:func:`illustrative_actuals` draws completion rates from a seeded generator.
"""

from __future__ import annotations

import random
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import polars as pl

from canbao.plan.indicators import indicator
from canbao.plan.model import Plan, Target
from canbao.plan.units import CITY, CITY_LEVEL, DEVZONE

# 2020 census resident population (docs/reference/domain-rules.md §3); 开发区 assumed.
WEIGHTS: dict[str, int] = {
    "360403": 433_122, "360402": 418_339, "360404": 312_807, "360424": 710_620,
    "360428": 577_684, "360481": 403_655, "360423": 322_161, "360425": 316_365,
    "360430": 284_757, "360483": 231_525, "360429": 227_462, "360482": 194_689,
    "360426": 167_090, DEVZONE: 150_000,
}  # fmt: skip
SOURCE = "示例：按2020年人口比例拆分（非真实任务数）"


def _split(total: Decimal, step: Decimal) -> dict[str, Decimal]:
    """Largest-remainder split of ``total`` into multiples of ``step`` by WEIGHTS."""
    units = int((total / step).to_integral_value(ROUND_HALF_UP))
    wsum = sum(WEIGHTS.values())
    raw = {u: Decimal(units * w) / wsum for u, w in WEIGHTS.items()}
    base = {u: int(v) for u, v in raw.items()}
    left = units - sum(base.values())
    for u in sorted(raw, key=lambda u: raw[u] - base[u], reverse=True)[:left]:
        base[u] += 1
    return {u: n * step for u, n in base.items()}


def synthetic_task_table(plan: Plan) -> list[Target]:
    """Per-county targets whose sum with 市本级 equals the city target (enrolled/collected)."""
    out: list[Target] = []
    for t in plan.targets:
        if t.unit != CITY:
            continue
        ind = t.ind
        if ind.cumulative:
            lvl = plan.target(CITY_LEVEL, t.indicator)
            rest = t.value - (lvl.value if lvl else 0)
            step = Decimal(100) if ind.measure == "persons" else Decimal(10_000)
            for u, v in _split(rest, step).items():
                out.append(Target(u, t.indicator, t.period, v, SOURCE))
        elif ind.category in ("clearance_rate", "new_arrears_ratio"):
            for u in WEIGHTS:
                out.append(Target(u, t.indicator, t.period, t.value, SOURCE))
    return out


def illustrative_actuals(plan: Plan, as_of: date, seed: int = 2017) -> pl.DataFrame:
    """Actuals for every target of ``plan`` (after the synthetic split), as of ``as_of``.

    City actuals of cumulative indicators are the sum of the parts."""
    rng = random.Random(seed)
    elapsed = Decimal((as_of - plan.period.start).days + 1) / plan.period.days
    rows: list[tuple[str, str, str]] = []
    sums: dict[str, Decimal] = {}
    unit_pace = {u.code: Decimal(str(round(rng.uniform(0.8, 1.2), 3))) for u in plan.units}
    for t in plan.targets:
        ind = indicator(t.indicator)
        if t.unit == CITY and ind.cumulative:
            continue
        if ind.cumulative:
            # enrolment is a stock: start near 85% of the year-end target and grow
            noise = Decimal(str(round(rng.uniform(-0.06, 0.06), 4)))
            if ind.category == "enrolled":
                comp = Decimal("0.85") + Decimal("0.18") * elapsed * unit_pace[t.unit] + noise
            else:
                comp = elapsed * unit_pace[t.unit] + noise
            q = Decimal(1) if ind.measure == "persons" else Decimal(100)
            value = (t.value * comp / q).to_integral_value(ROUND_HALF_UP) * q
            sums[t.indicator] = sums.get(t.indicator, Decimal(0)) + value
        elif ind.direction == "minimum":
            value = (t.value * Decimal(str(round(rng.uniform(0.85, 1.05), 3)))).quantize(
                Decimal("0.0001")
            )
        else:
            value = (t.value * Decimal(str(round(rng.uniform(0.6, 1.4), 3)))).quantize(
                Decimal("0.0001")
            )
        rows.append((t.unit, t.indicator, str(value)))
    for code, total in sums.items():
        if plan.target(CITY, code) is not None:
            rows.append((CITY, code, str(total)))
    return pl.DataFrame(
        {
            "unit": [r[0] for r in rows],
            "indicator": [r[1] for r in rows],
            "value": [r[2] for r in rows],
            "as_of": [as_of] * len(rows),
        }
    )
