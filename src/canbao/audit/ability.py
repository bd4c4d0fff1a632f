"""Ability to pay (缴费能力): what the data show, flagged 数据不足 where they are silent.

Per employer of the audit population (:mod:`canbao.audit.signals`), set-based:

- ``wage_trend``: the average monthly tax wage bill of the year's last ``trend_months`` months
  with wages over that of its first ``trend_months`` (NULL — 数据不足 — with fewer than
  ``2 × trend_months`` months of wages);
- ``headcount_trend``: the same for the tax headcount;
- ``paid_share``: of the ledger's scheme-months already due, the share paid in full (NULL
  without any due month);
- ``closed``: the registry's status says the employer is deregistered, revoked or closed.

Each known component is ``1`` (normal: trend ≥ ``growth_good``, paid share ≥ ``paid_good``),
``-1`` (poor: below ``growth_poor`` / ``paid_poor``) or ``0``. ``ability``: 较弱 when the
employer is closed or any component is poor; 数据不足 when fewer than two components are
known; 较强 when every known component is normal; else 一般. Nothing is guessed: a component
without data is shown as 数据不足 and does not count.
"""

from __future__ import annotations

import polars as pl

from canbao.audit.weights import Ability
from canbao.coverage.session import Session

LABELS = ("较强", "一般", "较弱", "数据不足")


def _flag(value: str, good: float, poor: float) -> str:
    return (
        f"CASE WHEN {value} IS NULL THEN NULL WHEN {value} >= {good!r} THEN 1"
        f" WHEN {value} < {poor!r} THEN -1 ELSE 0 END"
    )


def build_ability(s: Session, a: Ability) -> None:
    """``audit_ability``: employer_key, wage_trend, headcount_trend, paid_share, closed, the
    three flags and ``ability`` (needs ``audit_signals``)."""
    k = a.trend_months
    closed = (
        " OR ".join(f"p.status LIKE '%{w.replace(chr(39), chr(39) * 2)}%'" for w in a.closed_status)
        or "FALSE"
    )
    s.execute(
        f"""
        CREATE OR REPLACE TABLE audit_ability AS
        WITH t AS (
            SELECT employer_key, tax_wage, tax_headcount,
                   row_number() OVER (PARTITION BY employer_key ORDER BY period) AS up,
                   row_number() OVER (PARTITION BY employer_key ORDER BY period DESC) AS down,
                   count(*) OVER (PARTITION BY employer_key) AS n
            FROM employer_tax_month WHERE tax_headcount > 0
        ), tr AS (
            SELECT employer_key,
                   sum(CASE WHEN down <= {k} THEN tax_wage ELSE 0 END) AS wage_late,
                   sum(CASE WHEN up <= {k} THEN tax_wage ELSE 0 END) AS wage_early,
                   sum(CASE WHEN down <= {k} THEN tax_headcount ELSE 0 END) AS head_late,
                   sum(CASE WHEN up <= {k} THEN tax_headcount ELSE 0 END) AS head_early
            FROM t WHERE n >= {2 * k} GROUP BY employer_key
        ), v AS (
            SELECT p.employer_key,
                   CASE WHEN tr.wage_early > 0
                        THEN CAST(tr.wage_late AS DOUBLE) / tr.wage_early END AS wage_trend,
                   CASE WHEN tr.head_early > 0
                        THEN CAST(tr.head_late AS DOUBLE) / tr.head_early END AS headcount_trend,
                   CASE WHEN p.due_months > 0
                        THEN CAST(p.paid_months AS DOUBLE) / p.due_months END AS paid_share,
                   coalesce({closed}, FALSE) AS closed
            FROM audit_signals p LEFT JOIN tr ON tr.employer_key = p.employer_key
        ), f AS (
            SELECT v.*,
                   {_flag("wage_trend", a.growth_good, a.growth_poor)} AS wage_flag,
                   {_flag("headcount_trend", a.growth_good, a.growth_poor)} AS headcount_flag,
                   {_flag("paid_share", a.paid_good, a.paid_poor)} AS paid_flag
            FROM v
        ), c AS (
            SELECT f.*,
                   (CASE WHEN wage_flag IS NULL THEN 0 ELSE 1 END
                    + CASE WHEN headcount_flag IS NULL THEN 0 ELSE 1 END
                    + CASE WHEN paid_flag IS NULL THEN 0 ELSE 1 END) AS known,
                   least(coalesce(wage_flag, 1), coalesce(headcount_flag, 1),
                         coalesce(paid_flag, 1)) AS worst
            FROM f
        )
        SELECT employer_key, wage_trend, headcount_trend, paid_share, closed,
               wage_flag, headcount_flag, paid_flag,
               CASE WHEN closed OR worst < 0 THEN '较弱'
                    WHEN known < 2 THEN '数据不足'
                    WHEN worst = 1 THEN '较强'
                    ELSE '一般' END AS ability
        FROM c
        """
    )


def _component(name: str, value: str, flag: str, pct: bool) -> pl.Expr:
    shown = (pl.col(value) * 100).round(0).cast(pl.Int64).cast(pl.Utf8) + "%"
    if not pct:
        shown = pl.col(value).round(2).cast(pl.Utf8)
    word = (
        pl.when(pl.col(flag) == 1)
        .then(pl.lit("正常"))
        .when(pl.col(flag) == -1)
        .then(pl.lit("较差"))
        .otherwise(pl.lit("一般"))
    )
    return (
        pl.when(pl.col(value).is_null())
        .then(pl.lit(f"{name}：数据不足"))
        .otherwise(pl.concat_str(pl.lit(f"{name} "), shown, pl.lit("（"), word, pl.lit("）")))
    )


def notes_expr() -> pl.Expr:
    """Chinese text of the ability's components (a column ``ability_notes``)."""
    parts = [
        _component("工资总额趋势", "wage_trend", "wage_flag", False),
        _component("发薪人数趋势", "headcount_trend", "headcount_flag", False),
        _component("按期足额缴费", "paid_share", "paid_flag", True),
    ]
    closed = (
        pl.when(pl.col("closed")).then(pl.lit("登记状态：已注销或吊销；")).otherwise(pl.lit(""))
    )
    return pl.concat_str([closed, pl.concat_str(parts, separator="；")]).alias("ability_notes")


def ability_in(s: Session, a: Ability) -> pl.DataFrame:
    """The ability to pay of the employers of ``audit_signals`` in the session's scope, with
    ``ability_notes``."""
    s.ensure("audit_ability", lambda x: build_ability(x, a))
    frame = s.frame(
        "SELECT a.* FROM audit_ability a JOIN audit_population p"
        f" ON p.employer_key = a.employer_key WHERE {s.scope.sql('p.county_code')}"
    )
    return frame.with_columns(notes_expr())
