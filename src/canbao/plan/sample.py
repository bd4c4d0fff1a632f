"""Synthetic 附件1 and illustrative actuals for the demo and tests — NOT real statistics.

The seed plan gives only city-wide and 市本级 targets. :func:`synthetic_task_table` splits
(全市 − 市本级) over the ranked units (counties and zones) in proportion to the population the
region profile gives them (see the profile's ``population_source``; a zone's figure may be an
assumption), so the parts add up to the plan's totals. :func:`illustrative_actuals` draws
completion rates from a seeded generator.
"""

from __future__ import annotations

import random
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import polars as pl

from canbao.errors import DataError
from canbao.plan.indicators import indicator
from canbao.plan.model import Plan, Target
from canbao.plan.units import CITY, CITY_LEVEL
from canbao.profile import Profile

SOURCE = "示例：按2020年人口比例拆分（非真实任务数）"


def weights(profile: Profile) -> dict[str, int]:
    """{ranked unit code: population} from the profile, in report order."""
    found = [(c.code, c.population) for c in profile.counties] + [
        (z.code, z.population) for z in profile.zones
    ]
    missing = [code for code, n in found if n is None]
    if missing:
        raise DataError(
            f"地区配置“{profile.name}”缺少人口数（population），无法按人口拆分示例任务："
            f"{'、'.join(missing)}",
            f"profile {profile.name!r} lacks population for {missing}",
        )
    return {code: n for code, n in found if n is not None}


def _split(total: Decimal, step: Decimal, weights: dict[str, int]) -> dict[str, Decimal]:
    """Largest-remainder split of ``total`` into multiples of ``step`` by ``weights``."""
    units = int((total / step).to_integral_value(ROUND_HALF_UP))
    wsum = sum(weights.values())
    raw = {u: Decimal(units * w) / wsum for u, w in weights.items()}
    base = {u: int(v) for u, v in raw.items()}
    left = units - sum(base.values())
    for u in sorted(raw, key=lambda u: raw[u] - base[u], reverse=True)[:left]:
        base[u] += 1
    return {u: n * step for u, n in base.items()}


def synthetic_task_table(plan: Plan) -> list[Target]:
    """Per-county targets whose sum with 市本级 equals the city target (enrolled/collected)."""
    out: list[Target] = []
    w = weights(plan.profile)
    for t in plan.targets:
        if t.unit != CITY:
            continue
        ind = t.ind
        if ind.cumulative:
            lvl = plan.target(CITY_LEVEL, t.indicator)
            rest = t.value - (lvl.value if lvl else 0)
            step = Decimal(100) if ind.measure == "persons" else Decimal(10_000)
            for u, v in _split(rest, step, w).items():
                out.append(Target(u, t.indicator, t.period, v, SOURCE))
        elif ind.category in ("clearance_rate", "new_arrears_ratio"):
            for u in w:
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
