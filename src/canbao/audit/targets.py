"""The audit plan (稽核计划): the highest-risk employers per county, as many as the plan asks
for or the auditors can do, each with its evidence.

```python
from canbao.audit import targets
plan = targets.audit_plan(data_dir, scope, county="360424", capacity=4, auditors=2,
                          recently_audited={"E…"})
targets.write_plan(plan, Path("稽核计划.xlsx"))    # canbao.audit.workbook
```

Per county: the employers of the risk model (:mod:`canbao.audit.risk`) with a score of at
least the weights' ``plan.min_score``, highest score first (ties: more money at stake, then the
employer key), without

- employers audited in the last ``plan.lookback_months`` months before the data's as-of date,
  or with an open audit case: ``recently_audited`` (employer keys), read from the audit cases
  in the store (:func:`canbao.audit.cases.recently_audited`) unless the caller passes them;
- employers under enforcement: an open dunning case in one of ``plan.enforcement_states``
  (移送劳动监察, 申请强制执行) in the store.

How many per county: ``top``; else ``capacity`` audits per auditor and month × ``auditors`` ×
``months``; else the weights' ``plan.top_per_county``. The excluded employers that would have
been listed are kept in ``excluded`` with the reason.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from canbao.audit import ability, risk
from canbao.audit.weights import Weights, load
from canbao.collection import agreements, dunning
from canbao.collection.ledger import ledger_policy
from canbao.coverage.api import check_county, session
from canbao.errors import UsageError
from canbao.store import Store, open_store
from canbao.warehouse.scope import Scope

MAX_PER_COUNTY = 100_000


@dataclass(frozen=True)
class AuditPlan:
    """``targets`` (rank per county, employer, score, money at stake, ability, main reasons),
    their ``contributions`` and ``money`` (per scheme), ``excluded`` (employer, reason) and the
    ``params`` the plan was made with."""

    targets: pl.DataFrame
    contributions: pl.DataFrame
    money: pl.DataFrame
    excluded: pl.DataFrame
    params: dict[str, Any] = field(default_factory=dict)


def per_county(
    w: Weights,
    top: int | None = None,
    capacity: int | None = None,
    auditors: int = 1,
    months: int = 1,
) -> int:
    """How many targets per county (see the module docstring)."""
    for name, value in (("top", top), ("capacity", capacity), ("auditors", auditors),
                        ("months", months)):  # fmt: skip
        if value is not None and not 1 <= value <= MAX_PER_COUNTY:
            raise UsageError(
                f"{name} 应为 1–{MAX_PER_COUNTY} 的整数，实为 {value}", f"bad {name} {value}"
            )
    if top is not None:
        return top
    if capacity is not None:
        return min(MAX_PER_COUNTY, capacity * auditors * months)
    return w.plan.top_per_county


def under_enforcement(store: Store, scope: Scope, states: tuple[str, ...]) -> set[str]:
    """Employers with an open dunning case in one of ``states`` (in ``scope``)."""
    return {
        c.employer_key for c in dunning.cases(store, scope, open_only=True) if c.state in states
    }


def audited_before(store: Store, as_of: dt.date, months: int) -> set[str]:
    """Employers audited in the ``months`` before ``as_of`` or with an open audit case (the
    audit cases in the store)."""
    from canbao.audit import cases  # the audit cases' module (store tables), only when asked

    return cases.recently_audited(store, as_of, months)


def breached_agreements(store: Store, scope: Scope) -> dict[str, int]:
    """Breached agreements per employer (in ``scope``)."""
    out: dict[str, int] = {}
    for a in agreements.agreements(store, scope, status="breached"):
        out[a.employer_key] = out.get(a.employer_key, 0) + 1
    return out


def model(
    data_dir: Path,
    scope: Scope,
    as_of: dt.date | None = None,
    *,
    weights: Weights | None = None,
    breaches: Mapping[str, int] | None = None,
    county: str | None = None,
    engine: str | None = None,
    spark_master: str | None = None,
    step: Callable[[str], None] | None = None,
) -> risk.RiskModel:
    """The risk model with the ability to pay, in ``scope`` (one county when ``county`` is
    given: checked against the data and the scope before anything is computed)."""
    w = weights or load()
    say = step or (lambda _: None)
    with session(data_dir, scope, as_of, engine=engine, spark_master=spark_master) as s:
        if county is not None:
            county = check_county(s, county)
            scope.require_county(county)
        say("合规信号与涉及金额")
        found = risk.score_in(s, w, ledger_policy(s), breaches)
        say("缴费能力")
        able = ability.ability_in(s, w.ability)
    employers = found.employers.join(able, on="employer_key", how="left").with_columns(
        pl.col("ability").fill_null("数据不足")
    )
    if county is not None:
        keep = employers.filter(pl.col("county_code") == county).select("employer_key")
        return risk.RiskModel(
            employers.join(keep, on="employer_key", how="semi"),
            found.contributions.join(keep, on="employer_key", how="semi"),
            found.money.join(keep, on="employer_key", how="semi"),
            found.as_of,
        )
    return risk.RiskModel(employers, found.contributions, found.money, found.as_of)


def reasons(contributions: pl.DataFrame, w: Weights, n: int = 3) -> pl.DataFrame:
    """employer_key, reasons: the ``n`` largest contributions as Chinese text."""
    labels = {k: v.label for k, v in w.signals.items()}
    text = pl.concat_str(
        pl.col("signal").replace_strict(labels, default=pl.col("signal")),
        pl.lit("（+"),
        pl.col("points").round(1).cast(pl.Utf8),
        pl.lit("分）"),
    )
    return (
        contributions.sort(["employer_key", "points"], descending=[False, True])
        .group_by("employer_key", maintain_order=True)
        .head(n)
        .group_by("employer_key", maintain_order=True)
        .agg(text.str.join("；").alias("reasons"))
    )


def select(
    found: risk.RiskModel,
    w: Weights,
    limit: int,
    *,
    recently_audited: set[str] | frozenset[str] = frozenset(),
    enforcement: set[str] | frozenset[str] = frozenset(),
) -> AuditPlan:
    """The plan from a risk model (see the module docstring)."""
    ranked = found.employers.filter(pl.col("score") >= w.plan.min_score).with_columns(
        pl.when(pl.col("employer_key").is_in(sorted(recently_audited)))
        .then(pl.lit(f"近{w.plan.lookback_months}个月内已稽核"))
        .when(pl.col("employer_key").is_in(sorted(enforcement)))
        .then(pl.lit("正在催缴强制执行中（已移送劳动监察或申请强制执行）"))
        .otherwise(None)
        .alias("excluded_reason")
    )
    order = ["county_code", "score", "money_under", "employer_key"]
    descending = [False, True, True, False]
    eligible = ranked.filter(pl.col("excluded_reason").is_null()).sort(order, descending=descending)
    chosen = eligible.with_columns(
        pl.int_range(1, pl.len() + 1).over("county_code").alias("rank")
    ).filter(pl.col("rank") <= limit)
    # those that would have been listed: at or above the score of the county's last target
    cutoff = chosen.group_by("county_code").agg(pl.col("score").min().alias("cutoff"))
    excluded = (
        ranked.filter(pl.col("excluded_reason").is_not_null())
        .join(cutoff, on="county_code", how="left")
        .filter(pl.col("cutoff").is_null() | (pl.col("score") >= pl.col("cutoff")))
        .sort(order, descending=descending)
        .select(
            "county_code",
            "employer_key",
            "employer_name",
            "credit_code",
            "score",
            "money_under",
            "excluded_reason",
        )  # fmt: skip
    )
    targets = chosen.join(reasons(found.contributions, w), on="employer_key", how="left").sort(
        ["county_code", "rank"]
    )
    keys = targets.select("employer_key")
    return AuditPlan(
        targets,
        found.contributions.join(keys, on="employer_key", how="semi"),
        found.money.join(keys, on="employer_key", how="semi"),
        excluded,
        {"per_county": limit, "weights": w.source, "min_score": w.plan.min_score},
    )


def audit_plan(
    data_dir: Path,
    scope: Scope,
    *,
    county: str | None = None,
    top: int | None = None,
    capacity: int | None = None,
    auditors: int = 1,
    months: int = 1,
    recently_audited: set[str] | frozenset[str] | None = None,
    as_of: dt.date | None = None,
    weights_path: Path | None = None,
    engine: str | None = None,
    spark_master: str | None = None,
    step: Callable[[str], None] | None = None,
) -> AuditPlan:
    """The audit plan in ``scope`` (one county when ``county`` is given); reads the store for
    agreement breaches and dunning states, in ``scope``, and — unless ``recently_audited`` is
    given — for the employers audited in the weights' ``plan.lookback_months`` before the
    data's as-of date (:func:`canbao.audit.cases.recently_audited`)."""
    w = load(weights_path)
    limit = per_county(w, top, capacity, auditors, months)
    store = open_store(data_dir)
    try:
        breaches = breached_agreements(store, scope)
        enforcement = under_enforcement(store, scope, w.plan.enforcement_states)
        found = model(
            data_dir, scope, as_of, weights=w, breaches=breaches, county=county, engine=engine,
            spark_master=spark_master, step=step,
        )  # fmt: skip
        if recently_audited is None:
            day = found.as_of or as_of or dt.date.today()
            recently_audited = audited_before(store, day, w.plan.lookback_months)
    finally:
        store.dispose()
    plan = select(found, w, limit, recently_audited=recently_audited, enforcement=enforcement)
    plan.params.update(county=county, employers=found.employers.height)
    return plan
