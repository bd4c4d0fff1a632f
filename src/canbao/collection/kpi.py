"""Collection KPIs from the ledger (清欠率, 新欠率, fund collected), per plan unit, per county and
per ownership group, for a year as of a date D (docs/ledger.md, "KPIs").

- dues in the year: Σ due of the ledger rows (at D) whose due date falls in [1 Jan, D];
- new arrears: the part of those dues still unpaid at D (Σ positive balances);
  ``new_arrears_ratio.<group>`` = new arrears ÷ dues in the year (no row without dues);
- opening arrears: Σ positive balances of the ledger on 31 December of the previous year, of
  the periods due by then (due date ≤ 31 December: a period due in January is a due of the
  year, counted once, not also an opening arrear); recovered: payments received in [1 Jan, D] for those periods (as the ledger at D applies
  them), each period's capped at its opening balance; ``clearance_rate.<group>`` = recovered ÷
  opening arrears (no row without opening arrears);
- ``collected.<scheme>`` (the codes of :data:`canbao.collection.actuals.SCHEME_INDICATORS`):
  payments received in [1 Jan, D], each once, whatever period they name, in yuan; a row for
  each of the five schemes (zero included) for every unit with ledger rows.

Ratios have 4 decimals and money 2, half-up (:mod:`canbao.standards.money`). ``group``:
private = private + individual; public = state + collective + public institution
(:data:`canbao.collection.actuals.OWNERSHIP_GROUP`). A unit is the plan unit of the employer
(:func:`canbao.profile.record_unit`, through :mod:`canbao.collection.actuals`' mapping: the
managing agency of 市本级 or a zone first, else the county); ``city`` is every employer.

:class:`LedgerActuals` gives the plan's actuals contract (``label``, ``actuals(plan, as_of)``),
as the plan's actuals contract (:mod:`canbao.plan.actuals`) asks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Literal

import polars as pl

from canbao.collection.actuals import (
    OWNERSHIP_GROUP,
    SCHEME_INDICATORS,
    PlanPeriod,
    agency_table,
    employer_agencies,
    unit_table,
    with_units,
)
from canbao.collection.ledger import (
    PUBLISHED_VIEW,
    build_inputs,
    build_ledger_at,
    ledger_policy,
)
from canbao.collection.ledger_inputs import day_sql
from canbao.collection.policy import ContributionPolicy
from canbao.coverage.session import Session
from canbao.errors import UsageError
from canbao.profile import CITY, Profile
from canbao.standards.money import ratio, yuan_text
from canbao.warehouse.scope import Scope

# a batch job for the plan's 通报 (city-wide sums per unit, nothing personal)
PLAN_ACTUALS = Scope.system("plan actuals: collection ledger")
RATIO_QUANTUM = Decimal("0.0001")
PARTS = ("dues_in_year", "new_arrears", "opening_arrears", "recovered")
By = Literal["unit", "county"]
_SCHEMA = {"unit": pl.Utf8, "indicator": pl.Utf8, "value": pl.Utf8}


def kpi_day(year: int, as_of: dt.date) -> dt.date:
    """The day the KPIs of ``year`` are taken on: ``as_of``, or 31 December when it is later;
    a date before the year is refused."""
    if as_of < dt.date(year, 1, 1):
        raise UsageError(
            f"统计日期 {as_of} 早于 {year} 年，无法计算该年度的征缴指标",
            f"as-of {as_of} is before the year {year}",
        )
    return min(as_of, dt.date(year, 12, 31))


def build_kpi_ledgers(s: Session, policy: ContributionPolicy | None = None) -> str:
    """The ledger at the session's as-of date and ``ledger_open`` on 31 December before it,
    both computed under the policy in force at the as-of date (one due-date rule for both).
    Returns the name of the first: ``ledger``, or ``kpi_ledger`` when the session's ``ledger``
    is the published one (the KPIs need the payments as the computation applied them,
    ``<name>_applied``)."""
    pol = policy or ledger_policy(s)
    opening_day = dt.date(s.as_of.year - 1, 12, 31)
    name = "kpi_ledger" if s.built(PUBLISHED_VIEW) else "ledger"
    s.ensure(name, lambda x: build_ledger_at(x, x.as_of, name, pol))
    s.ensure("ledger_open", lambda x: build_ledger_at(x, opening_day, "ledger_open", pol))
    return name


def employer_parts(s: Session, policy: ContributionPolicy | None = None) -> pl.DataFrame:
    """Per master employer with ledger rows: employer_key and the fen of :data:`PARTS` for the
    year of the session's as-of date D."""
    led = build_kpi_ledgers(s, policy)
    opening_day = dt.date(s.as_of.year - 1, 12, 31)
    start, day = day_sql(dt.date(s.as_of.year, 1, 1)), day_sql(s.as_of)
    in_year = f"due_date BETWEEN {start} AND {day}"
    return s.frame(
        f"""
        WITH y AS (
            SELECT employer_key,
                   sum(CASE WHEN {in_year} THEN due ELSE 0 END) AS dues_in_year,
                   sum(CASE WHEN {in_year} AND balance > 0 THEN balance ELSE 0 END) AS new_arrears,
                   0 AS opening_arrears, 0 AS recovered
            FROM {led} GROUP BY employer_key
        ), got AS (
            SELECT employer_key, scheme, period, sum(amount) AS amount
            FROM {led}_applied WHERE received >= {start}
            GROUP BY employer_key, scheme, period
        ), o AS (
            SELECT o.employer_key, 0 AS dues_in_year, 0 AS new_arrears,
                   sum(o.balance) AS opening_arrears,
                   sum(least(o.balance, greatest(coalesce(g.amount, 0), 0))) AS recovered
            FROM ledger_open o
            LEFT JOIN got g ON g.employer_key = o.employer_key AND g.scheme = o.scheme
             AND g.period = o.period
            WHERE o.balance > 0 AND o.due_date <= {day_sql(opening_day)}
            GROUP BY o.employer_key
        ), u AS (SELECT * FROM y UNION ALL SELECT * FROM o)
        SELECT employer_key,
               CAST(sum(dues_in_year) AS BIGINT) AS dues_in_year,
               CAST(sum(new_arrears) AS BIGINT) AS new_arrears,
               CAST(sum(opening_arrears) AS BIGINT) AS opening_arrears,
               CAST(sum(recovered) AS BIGINT) AS recovered
        FROM u GROUP BY employer_key
        """
    )


def employer_collected(s: Session) -> pl.DataFrame:
    """employer_key, scheme, fen: payments received in [1 Jan, D] (each once, any period) of
    the schemes of :data:`SCHEME_INDICATORS`."""
    build_inputs(s)
    schemes = ", ".join(f"'{x}'" for x in SCHEME_INDICATORS)
    start, day = day_sql(dt.date(s.as_of.year, 1, 1)), day_sql(s.as_of)
    return s.frame(
        f"""
        SELECT employer_key, scheme, CAST(sum(amount) AS BIGINT) AS fen
        FROM ledger_payments
        WHERE received BETWEEN {start} AND {day} AND scheme IN ({schemes})
        GROUP BY employer_key, scheme
        """
    )


def employer_units(
    s: Session,
    units: Mapping[str, str] | None = None,
    agencies: Mapping[str, str] | None = None,
) -> pl.DataFrame:
    """employer_key, county_code, ownership, group, unit of every master employer (the unit
    mapping of :mod:`canbao.collection.actuals`)."""
    from canbao.registry import snapshot

    emp = s.frame("SELECT employer_key, county_code, ownership FROM employers")
    links = (
        snapshot.require_current(s.data_dir)
        .scan("employer_links")
        .select("batch_id", "row", "employer_key")
    )
    agency = employer_agencies(s.data_dir, links).collect()
    frame = emp.join(agency, on="employer_key", how="left").with_columns(
        group=pl.col("ownership").replace_strict(OWNERSHIP_GROUP, default=None)
    )
    return with_units(frame, unit_table(s.data_dir, units), agency_table(s.data_dir, agencies))


def _rows_for(
    parts: pl.DataFrame, collected: pl.DataFrame, key: str, owners: list[str]
) -> list[dict[str, str]]:
    """collected.* of ``owners`` (every scheme) and the ratios of each unit and group."""
    out: list[dict[str, str]] = []
    totals = collected.group_by(key, "scheme").agg(pl.col("fen").sum())
    fen = {(u, sc): int(f) for u, sc, f in totals.select(key, "scheme", "fen").iter_rows()}
    for unit in owners:
        for scheme, code in SCHEME_INDICATORS.items():
            out.append(
                {"unit": unit, "indicator": code, "value": yuan_text(fen.get((unit, scheme), 0))}
            )
    sums = (
        parts.filter(pl.col("group").is_not_null())
        .group_by(key, "group")
        .agg(pl.col(c).sum() for c in PARTS)
    )
    for r in sums.filter(pl.col(key).is_not_null()).sort(key, "group").iter_rows(named=True):
        if r["dues_in_year"]:
            value = ratio(int(r["new_arrears"]), int(r["dues_in_year"]), RATIO_QUANTUM)
            out.append(
                {
                    "unit": r[key],
                    "indicator": f"new_arrears_ratio.{r['group']}",
                    "value": str(value),
                }
            )
        if r["opening_arrears"]:
            value = ratio(int(r["recovered"]), int(r["opening_arrears"]), RATIO_QUANTUM)
            out.append(
                {"unit": r[key], "indicator": f"clearance_rate.{r['group']}", "value": str(value)}
            )
    return out


def kpi_parts_in(
    s: Session,
    by: By = "unit",
    units: Mapping[str, str] | None = None,
    agencies: Mapping[str, str] | None = None,
    policy: ContributionPolicy | None = None,
) -> pl.DataFrame:
    """unit, group and the fen of :data:`PARTS` per unit (``by``: plan unit or the employer's
    county) and for ``city``: the parts of the ratios (for the 指标口径 sheet and checks)."""
    key = _key(by)
    who = employer_units(s, units, agencies)
    parts = employer_parts(s, policy).join(who, on="employer_key", how="left")
    sums = [pl.col(c).sum() for c in PARTS]
    own = parts.filter(pl.col(key).is_not_null()).group_by(key, "group").agg(sums)
    city = parts.group_by("group").agg(sums).with_columns(pl.lit(CITY).alias(key))
    out = pl.concat([own, city.select(own.columns)]).filter(pl.col("group").is_not_null())
    return out.rename({key: "unit"}).sort("unit", "group")


def _key(by: str) -> str:
    if by not in ("unit", "county"):
        raise UsageError(f"汇总口径应为 unit 或 county：{by}", f"bad kpi grouping {by!r}")
    return "unit" if by == "unit" else "county_code"


def kpis_in(
    s: Session,
    by: By = "unit",
    units: Mapping[str, str] | None = None,
    agencies: Mapping[str, str] | None = None,
    policy: ContributionPolicy | None = None,
) -> pl.DataFrame:
    """unit, indicator, value (text: yuan with two decimals or a ratio with four) for the year
    of the session's as-of date, per plan unit (``by="unit"``) or per county (the master
    employer's ``county_code``, ``by="county"``) and for ``city``; rows outside the session's
    scope are left out (``city`` for a city-wide reader only)."""
    key = _key(by)
    who = employer_units(s, units, agencies)
    parts = employer_parts(s, policy).join(who, on="employer_key", how="left")
    collected = employer_collected(s).join(who, on="employer_key", how="left")
    city_parts = parts.with_columns(pl.lit(CITY).alias(key))
    city_collected = collected.with_columns(pl.lit(CITY).alias(key))
    owners = sorted({u for u in parts[key].to_list() if u is not None})
    rows = _rows_for(parts, collected, key, owners)
    rows += _rows_for(city_parts, city_collected, key, [CITY])
    frame = pl.DataFrame(rows, schema=_SCHEMA, orient="row").sort("unit", "indicator")
    return s.scope.filter(frame, "unit")


@dataclass
class LedgerActuals:
    """The plan's collection actuals from the ledger: ``collected.*``, ``new_arrears_ratio.*``
    and ``clearance_rate.*`` per plan unit and for the city (the plan's actuals contract:
    ``actuals(plan, as_of)`` returns unit, indicator, value, as_of). The year is the plan's (``plan.period.start``); an as-of date
    after it is taken as 31 December, one before it gives no rows."""

    data_dir: Path
    label: str = "征缴台账（缴费申报、缴费到账、期初欠费）"
    units: Mapping[str, str] | None = None
    agencies: Mapping[str, str] | None = None

    def actuals(self, plan: PlanPeriod, as_of: dt.date) -> pl.DataFrame:
        from canbao.collection import api

        year = plan.period.start.year
        if as_of < dt.date(year, 1, 1):
            return pl.DataFrame(schema=_SCHEMA).with_columns(as_of=pl.lit(as_of))
        frame = api.kpis(
            self.data_dir, PLAN_ACTUALS, year, as_of, units=self.units, agencies=self.agencies
        )
        return frame.with_columns(as_of=pl.lit(as_of))


def ledger_actuals_source(
    data_dir: Path | None, profile: Profile | None = None
) -> LedgerActuals | None:
    """A source when ``data_dir`` holds a built registry and declaration, payment or arrears
    batches, else None; units from ``profile`` (default: the data directory's)."""
    if data_dir is None:
        return None
    from canbao.ingest import api as ingest_api
    from canbao.registry import snapshot

    if snapshot.current(data_dir) is None or not any(
        ingest_api.current_batches(data_dir, kind) for kind in ("declaration", "payment", "arrears")
    ):
        return None
    if profile is None:
        return LedgerActuals(data_dir)
    return LedgerActuals(
        data_dir, units=profile.area_units(), agencies=profile.agency_units(counties=False)
    )
