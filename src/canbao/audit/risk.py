"""The transparent risk model: every point of an employer's score is one row of its
contributions (employer, signal, value, points).

A signal scores ``min(cap, points_per_unit × value)`` when its value reaches the threshold
(:mod:`canbao.audit.weights`, rounded to 0.1 point); the score is the sum. Values:

- ``base_short``: percentage points the declared base per declared person-month falls short of
  the tax base per tax person-month (the largest over the declared employee schemes);
- ``headcount_short``: percentage points the declared person-months fall short of the tax
  person-months;
- ``money_at_stake``: log10 of the under-reporting money at stake in thousands of yuan (0 under
  1,000 yuan): a tenfold larger sum scores ``points_per_unit`` more;
- ``selective``: employee schemes the employer does not declare, pension, medical and work
  injury counting 3 each, maternity and unemployment 1;
- ``late_enrolment``: percentage of the year's new hires not enrolled in employee pension within
  the weights' ``enrolment_days``;
- ``arrears``: scheme-months past due and not paid in full in the ledger;
- ``agreement_breach``: breached deferral or instalment agreements in the store;
- ``industry``, ``size``: the points of the weights' industry table and size bands.

The money at stake (:mod:`canbao.audit.signals`, table ``audit_money``) is reported beside the
score: ``money_under`` (base and headcount under-reporting) and ``money_selective`` (undeclared
schemes), in fen.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

import polars as pl

from canbao.audit.signals import build_signals
from canbao.audit.weights import Signal, Weights
from canbao.collection.policy import ContributionPolicy
from canbao.coverage.session import Session

CONTRIBUTION_SCHEMA = {
    "employer_key": pl.Utf8,
    "signal": pl.Utf8,
    "value": pl.Float64,
    "points": pl.Float64,
}
SQL_SIGNALS = tuple(  # the signals computed in SQL (agreement breaches come from the store)
    x for x in ("base_short", "headcount_short", "money_at_stake", "selective",
                "late_enrolment", "arrears", "industry", "size")
)  # fmt: skip


@dataclass(frozen=True)
class RiskModel:
    """The model's output for the employers of a scope: ``employers`` (one row each, with its
    score, money at stake and signal values), ``contributions`` (employer, signal, value,
    points: the rows that add up to the score) and ``money`` (employer × scheme × basis:
    months, persons, base gap, amount in fen)."""

    employers: pl.DataFrame
    contributions: pl.DataFrame
    money: pl.DataFrame
    as_of: dt.date | None = None  # the date the signals and the ledger are of


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def value_sql(name: str, w: Weights) -> str:
    """SQL: the value of signal ``name`` from the columns of ``audit_signals``."""
    if name == "base_short":
        return "base_short_pct"
    if name == "headcount_short":
        return "headcount_short_pct"
    if name == "money_at_stake":
        return "CASE WHEN money_under > 100000 THEN log10(money_under / 100000.0) ELSE 0.0 END"
    if name == "selective":
        return "CAST(missing_core * 3 + missing_other AS DOUBLE)"
    if name == "late_enrolment":
        return "CASE WHEN new_hires > 0 THEN 100.0 * late_hires / new_hires ELSE 0.0 END"
    if name == "arrears":
        return "CAST(arrears_months AS DOUBLE)"
    if name == "industry":
        cases = " ".join(f"WHEN {_lit(k)} THEN {v!r}" for k, v in sorted(w.industry_points.items()))
        return f"CAST(CASE industry {cases} ELSE 0.0 END AS DOUBLE)" if cases else "0.0"
    if name == "size":
        bands = " ".join(
            f"WHEN staff >= {n} THEN {p!r}" for n, p in sorted(w.size_bands, reverse=True)
        )
        return f"CAST(CASE {bands} ELSE 0.0 END AS DOUBLE)" if bands else "0.0"
    raise KeyError(name)


def points_sql(value: str, sig: Signal) -> str:
    """SQL: the points of a value under a signal's weights (0.1-point precision)."""
    return (
        f"CASE WHEN {value} > 0 AND {value} >= {sig.threshold!r}"
        f" THEN round(least({sig.cap!r}, {sig.points_per_unit!r} * {value}), 1) ELSE 0.0 END"
    )


def build_contributions(s: Session, w: Weights) -> None:
    """``audit_contributions``: employer_key, signal, value, points (points > 0 only)."""
    parts = []
    for name in SQL_SIGNALS:
        value = f"({value_sql(name, w)})"
        parts.append(
            f"SELECT employer_key, {_lit(name)} AS signal, CAST({value} AS DOUBLE) AS value,"
            f" CAST({points_sql(value, w.signals[name])} AS DOUBLE) AS points FROM audit_signals"
        )
    s.execute(
        "CREATE OR REPLACE TABLE audit_contributions AS SELECT * FROM ("
        + " UNION ALL ".join(parts)
        + ") c WHERE points > 0"
    )


def breach_contributions(breaches: Mapping[str, int], w: Weights) -> pl.DataFrame:
    """The ``agreement_breach`` contributions of employers with breached agreements."""
    sig = w.signals["agreement_breach"]
    rows = [
        (k, "agreement_breach", float(n), round(min(sig.cap, sig.points_per_unit * n), 1))
        for k, n in sorted(breaches.items())
        if n > 0 and n >= sig.threshold
    ]
    return pl.DataFrame(rows, schema=CONTRIBUTION_SCHEMA, orient="row")


def score_in(
    s: Session,
    w: Weights,
    policy: ContributionPolicy,
    breaches: Mapping[str, int] | None = None,
) -> RiskModel:
    """The risk model on a coverage session, in the session's scope (the analysis runs
    city-wide; the employers, contributions and money returned are the scope's)."""
    s.ensure("audit_signals", lambda x: build_signals(x, policy, w.enrolment_days))
    s.ensure("audit_contributions", lambda x: build_contributions(x, w))
    where = s.scope.sql("p.county_code")
    signals = s.frame(f"SELECT * FROM audit_signals p WHERE {where} ORDER BY employer_key")
    contributions = s.frame(
        "SELECT c.employer_key, c.signal, c.value, c.points FROM audit_contributions c"
        f" JOIN audit_population p ON p.employer_key = c.employer_key WHERE {where}"
    ).cast(CONTRIBUTION_SCHEMA)  # type: ignore[arg-type]
    contributions = contributions.sort(
        ["employer_key", "points", "signal"], descending=[False, True, False]
    )
    money = s.frame(
        "SELECT m.* FROM audit_money m JOIN audit_population p ON p.employer_key = m.employer_key"
        f" WHERE {where} ORDER BY m.employer_key, m.basis, m.scheme"
    )
    found = RiskModel(_employers(signals, contributions, money), contributions, money, s.as_of)
    return add_breaches(found, breaches or {}, w)


def add_breaches(found: RiskModel, breaches: Mapping[str, int], w: Weights) -> RiskModel:
    """``found`` with the ``agreement_breach`` contributions of ``breaches`` (breached
    agreements per employer, read from the store in the reader's scope) added to the scores."""
    keys = found.employers.select("employer_key")
    extra = breach_contributions(breaches, w).join(keys, on="employer_key", how="semi")
    if extra.is_empty():
        return found
    contributions = pl.concat([found.contributions, extra]).sort(
        ["employer_key", "points", "signal"], descending=[False, True, False]
    )
    signals = found.employers.drop("score", "signals", "months", "persons", "money")
    return RiskModel(
        _employers(signals, contributions, found.money), contributions, found.money, found.as_of
    )


def _employers(
    signals: pl.DataFrame, contributions: pl.DataFrame, money: pl.DataFrame
) -> pl.DataFrame:
    score = contributions.group_by("employer_key").agg(
        score=pl.col("points").sum().round(1), signals=pl.len().cast(pl.Int64)
    )
    under = (
        money.filter(pl.col("basis") == "under_reporting")
        .group_by("employer_key")
        .agg(
            months=pl.col("months").max().cast(pl.Int64),
            persons=pl.col("persons").max().cast(pl.Int64),
        )
    )
    return (
        signals.join(score, on="employer_key", how="left")
        .join(under, on="employer_key", how="left")
        .with_columns(
            pl.col("score").fill_null(0.0),
            pl.col("signals").fill_null(0),
            pl.col("months").fill_null(0),
            pl.col("persons").fill_null(0),
            (pl.col("money_under") + pl.col("money_selective")).alias("money"),
        )
        .sort(["score", "money_under", "employer_key"], descending=[True, True, False])
    )
