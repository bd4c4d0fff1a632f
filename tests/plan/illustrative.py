"""Illustrative actuals for tests of the 通报's layout — drawn with a seeded generator, NOT real
statistics and not used by the demo (whose 通报 computes its actuals from the ingested data)."""

from __future__ import annotations

import random
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import polars as pl

from canbao.plan.indicators import indicator
from canbao.plan.model import Plan
from canbao.plan.units import CITY


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
        if t.group is not None:  # key-group targets: none here
            continue
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
