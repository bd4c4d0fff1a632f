"""A population split of a plan's city targets into county targets — NOT a real 附件1.

The seed plan gives only city-wide and 市本级 targets. :func:`synthetic_task_table` splits
(全市 − 市本级) over the ranked units (counties and zones) in proportion to the population the
region profile gives them (see the profile's ``population_source``; a zone's figure may be an
assumption), so the parts add up to the plan's totals: a full-size plan for tests of the 附件1
and of the 通报's layout. (The demo uses the synthetic city's own 附件1,
:mod:`canbao.synth.task_table`, and actuals computed from its data.)
"""

from __future__ import annotations

from decimal import Decimal

from canbao.errors import DataError
from canbao.plan.model import Plan, Target
from canbao.plan.units import CITY, CITY_LEVEL
from canbao.profile import Profile
from canbao.standards.money import round_half_up

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
    units = int(round_half_up(total, step) / step)
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
        if t.unit != CITY or t.group is not None:
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
