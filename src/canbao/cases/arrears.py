"""The ledger's arrears as cases (kind ``arrears``): one case per employer and scheme in arrears
(key ``arrears/<employer_key>/<scheme>``), worked by the collectors with the cases' machinery and
verified by the next builds' ledgers.

:func:`arrears_list` is the work list for :func:`canbao.cases.open_cases`
(``{"arrears": frame}``): the collectors' arrears list
(:func:`canbao.collection.api.arrears`, one row per employer, with the agreement and dunning
state recorded in the store) split by scheme from the ledger at the same date
(:func:`canbao.collection.api.ledger`): for each employer and scheme the balance past due
(``arrears``, fen, kept with the case as yuan text ``arrears_yuan``), the oldest period owed and
its days past due and ageing bucket (the region's contribution policy), how many periods, and
the late fees of the scheme (``late_fee_yuan``). The priority is the employer's (1: arrears in
the oldest bucket). Nothing personal: employers only.

**Verification by the data.** An arrears case stays in the list while the employer owes a
positive balance past due for that scheme. 已足额缴清 is confirmed when a later build's ledger
has none (the balance of every past-due period of that scheme is 0 or less); paying part of it
keeps the case listed and the outcome awaiting confirmation. An arrears case whose debt
disappears with no outcome recorded (paid, or written off in the data) goes ``gone_from_list``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from canbao.collection import api as collection_api
from canbao.collection import published
from canbao.collection.ledger import region_policy
from canbao.ingest.kinds import SCHEME_LABELS_ZH
from canbao.warehouse.scope import Scope

LIST = "arrears"


def _yuan(column: str, alias: str) -> pl.Expr:
    return collection_api.yuan_column(column).alias(alias)


def _ageing(data_dir: Path, as_of: dt.date) -> pl.Expr:
    """The ageing bucket's label of ``days_past_due`` (the region's policy at ``as_of``)."""
    expr: pl.Expr = pl.lit(None, pl.Utf8)
    for b in region_policy(data_dir, as_of).ageing:  # the oldest bucket decides last
        expr = pl.when(pl.col("days_past_due") >= b.from_days).then(pl.lit(b.label)).otherwise(expr)
    return expr


def by_scheme(ledger: pl.DataFrame, employers: pl.DataFrame, as_of: dt.date) -> pl.DataFrame:
    """Per employer (of the ``employers`` arrears list) and scheme: the past-due balance
    ``arrears`` (fen), ``oldest_period``, ``days_past_due`` (of the oldest), ``periods``, and the
    scheme's ``late_fee`` (fen, every row of the scheme)."""
    day = pl.lit(as_of)
    owed = ledger.filter((pl.col("balance") > 0) & (pl.col("due_date") < day))
    debts = owed.group_by("employer_key", "scheme").agg(
        pl.col("balance").sum().cast(pl.Int64).alias("arrears"),
        pl.col("period").min().alias("oldest_period"),
        (day - pl.col("due_date").min()).dt.total_days().cast(pl.Int64).alias("days_past_due"),
        pl.len().cast(pl.Int64).alias("periods"),
    )
    fees = ledger.group_by("employer_key", "scheme").agg(
        pl.col("late_fee").sum().cast(pl.Int64).alias("late_fee")
    )
    front = employers.select(
        "employer_key", "county_code", "credit_code", "employer_name", "priority",
        "agreement_status", "dunning_state",
    )  # fmt: skip
    return (
        front.join(debts, on="employer_key", how="inner")
        .join(fees, on=["employer_key", "scheme"], how="left")
        .sort(
            "priority", "arrears", "employer_key", "scheme", descending=[False, True, False, False]
        )
    )


def arrears_list(
    data_dir: Path,
    scope: Scope,
    as_of: dt.date | None = None,
    *,
    engine: str | None = None,
    spark_master: str | None = None,
) -> pl.DataFrame | None:
    """The arrears work list per employer and scheme at ``as_of`` (default: the data's as-of
    date, :func:`canbao.collection.published.data_as_of`), in ``scope``; None when the data
    directory has no payment, declaration or arrears data (then the list says nothing: no
    arrears case is moved)."""
    day = as_of or published.data_as_of(data_dir)
    if day is None:
        return None
    employers = collection_api.arrears(data_dir, scope, day, engine=engine,
                                       spark_master=spark_master)  # fmt: skip
    ledger = collection_api.ledger(data_dir, scope, day, engine=engine, spark_master=spark_master)
    rows = by_scheme(ledger, employers, day)
    return rows.with_columns(
        pl.col("scheme").replace_strict(SCHEME_LABELS_ZH, default=pl.col("scheme"))
        .alias("scheme_label"),
        _yuan("arrears", "arrears_yuan"),
        _yuan("late_fee", "late_fee_yuan"),
        _ageing(data_dir, day).alias("ageing"),
    )  # fmt: skip
