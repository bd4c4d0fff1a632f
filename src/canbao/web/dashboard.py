"""The figures of the 首页 dashboard (and of ``/api/plan/progress``, ``/api/kpi`` and the arrears
page), assembled from the packages that own them — never computed a second way:

- plan progress, the ranking, time progress and the bottom N are the 通报's: the plan ``canbao
  report`` uses (the profile's default plan, stored in the data directory or else shipped), the
  actuals it uses (:func:`canbao.plan.actuals.default_actuals_source`), then
  :func:`~canbao.plan.progress.compute_progress` and :func:`~canbao.plan.report.build_report`
  (:func:`~canbao.plan.ranking.rank_units`), as :func:`canbao.plan.api.make_report` does;
- coverage rates and monthly enrolment: :func:`canbao.coverage.api.statistics`;
- the collection KPIs: :func:`canbao.collection.api.kpis` (the figures of ``canbao kpi``);
  the arrears: :func:`canbao.collection.api.arrears`;
- case progress: :func:`canbao.cases.progress.progress`.

**Caching** (:mod:`canbao.web.aggregates`). The aggregates are computed once per data version —
the registry build, the data's as-of date and the approved deferrals the ledger's late fees depend
on — city-wide under the named system scope :data:`SYSTEM`, one computation per question however
many ask (single flight), and kept in ``WebState.extra``. What a viewer gets is then cut to their
:class:`~canbao.warehouse.scope.Scope` with the same filter those APIs apply to their own results
(``scope.filter`` on ``county_code`` / ``unit``), so a county user sees exactly what the API
would return for their scope. When the data change (a new build), the previous version's figures
keep being shown, labelled with their date and build (新数据计算中), until the new ones are ready;
the background warm-up (:mod:`canbao.web.warmup`) starts them at start-up and as soon as the data
change. Only when nothing has been computed yet does a page wait, at most :data:`WAIT_S`, then
show 正在汇总 and poll (the API: 503 with ``Retry-After`` after :data:`API_WAIT_S`). Case counts
change as staff work: they are kept :data:`CASES_TTL_S` seconds.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import re
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl

from canbao.cases.progress import Progress as CaseProgress
from canbao.cases.progress import progress as case_progress
from canbao.collection import agreements, workflow_state
from canbao.collection import api as collection
from canbao.collection.ledger import region_policy
from canbao.coverage import api as coverage
from canbao.errors import CanbaoError, StateError, UsageError
from canbao.ingest import api as ingest_api
from canbao.ingest.kinds import SCHEME_LABELS_ZH
from canbao.plan import catalog, fmt
from canbao.plan.actuals import default_actuals_source, normalize_all
from canbao.plan.indicators import indicator, indicators
from canbao.plan.model import Plan
from canbao.plan.progress import ProgressRow, compute_progress
from canbao.plan.report import ReportData, build_report
from canbao.plan.report import subsidies as subsidy_section
from canbao.profile import Profile
from canbao.registry import snapshot
from canbao.standards.money import parse_yuan
from canbao.store import audit_log
from canbao.warehouse.scope import Scope
from canbao.web.aggregates import Aggregates, Computing, Got, Job, Label, wait
from canbao.web.auth import Viewer
from canbao.web.state import WebState

__all__ = ["Aggregates", "Computing", "Got", "Job", "Label", "wait"]  # the cache, re-exported

SYSTEM = Scope.system("网页工作台：全市汇总按数据版本计算一次并缓存，显示前按查看人的范围筛选")
WAIT_S = 2.0  # with nothing to show yet, a page waits this long, then shows 正在汇总 and polls
API_WAIT_S = 20.0  # with nothing to show yet, the API waits this long, then answers 503
RETRY_AFTER_S = 15  # the Retry-After of that 503
CASES_TTL_S = 60.0
CITY = "city"
DATA_KINDS = ("enrollment", "payment", "declaration", "arrears")  # what the as-of date is of
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
COLORS = {"top": "#2e7d32", "bottom": "#c0392b", "mine": "#1a5aa6", "normal": "#8fa9c9"}


def aggregates(st: WebState) -> Aggregates:
    found = st.extra.get("dashboard")
    if not isinstance(found, Aggregates):
        found = st.extra.setdefault("dashboard", Aggregates())
    assert isinstance(found, Aggregates)
    return found


# ---- the data version ---------------------------------------------------------------------


@dataclass(frozen=True)
class Version:
    build_id: str
    day: dt.date  # the data's as-of date
    deferrals: str  # digest of the approved deferrals (the ledger's late fees depend on them)


def data_day(data_dir: Path) -> dt.date:
    """The as-of date of the newest current enrolment, payment, declaration or arrears batch
    (any batch when there is none of those; today when there is no batch at all)."""
    batches = ingest_api.current_batches(data_dir)
    days = [b.as_of for b in batches if b.kind in DATA_KINDS] or [b.as_of for b in batches]
    return max(days) if days else dt.date.today()


def _deferrals(st: WebState) -> str:
    found = agreements.deferrals(st.store, SYSTEM)
    text = repr(sorted((d.employer_key, d.scheme, d.periods, d.start, d.end) for d in found))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def version(st: WebState) -> Version | None:
    """The current data version, None when the registry has not been built."""
    snap = snapshot.current(st.data_dir)
    if snap is None:
        return None
    days: dict[str, dt.date] = st.extra.setdefault("dashboard.days", {})
    day = days.get(snap.build_id)
    if day is None:
        day = days[snap.build_id] = data_day(st.data_dir)
    return Version(snap.build_id, day, _deferrals(st))


def require_version(st: WebState) -> Version:
    v = version(st)
    if v is None:
        raise StateError(
            "登记库尚未建立，请先导入数据并运行 canbao build", "the registry has not been built"
        )
    return v


def parse_day(text: str | None, name: str = "as_of") -> dt.date | None:
    """A YYYY-MM-DD parameter (None when empty); anything else is a Chinese UsageError."""
    if text is None or not text.strip():
        return None
    value = text.strip()
    if _ISO_DATE.fullmatch(value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise UsageError(f"日期格式应为 YYYY-MM-DD：{value[:20]}", f"{name}: not a YYYY-MM-DD date")


def area_name(profile: Profile, code: str | None) -> str:
    if code is None:
        return "—"
    if code == CITY:
        return "全市"
    return profile.unit_name(code) or code


def audit_export(st: WebState, who: Viewer, what: str, target: str, rows: int) -> None:
    """One ``export`` entry, as :func:`canbao.store.audit_log.log_export` writes for the CLI
    (what, file name, rows), through the app's store and with the viewer's client address."""
    a = who.actor
    audit_log.log(
        st.store,
        audit_log.Event(a.name, a.role, "export", what, (target,), (), a.client, {"rows": rows}),
    )


# ---- the plan: the 通报's numbers ----------------------------------------------------------


@dataclass(frozen=True)
class PlanChoice:
    plan: Plan
    stamp: int | None  # the stored plan file's mtime (None: the shipped plan)

    @property
    def stored(self) -> bool:
        """Imported into the data directory (else the shipped plan)."""
        return self.stamp is not None


def choose_plan(st: WebState, code: str | None = None) -> PlanChoice:
    """The plan ``canbao report`` uses: ``code`` or the profile's default plan, stored in the
    data directory or else shipped (a UsageError / NotFoundError when there is none)."""
    code = code or catalog.default_plan(st.profile)
    path = catalog.stored_path(st.data_dir, code)
    stamp = path.stat().st_mtime_ns if path.is_file() else None
    plans: dict[tuple[str, int | None], Plan] = st.extra.setdefault("dashboard.plans", {})
    plan = plans.get((code, stamp))
    if plan is None:
        plan = plans[(code, stamp)] = catalog.load(code, st.data_dir, st.profile)
    return PlanChoice(plan, stamp)


def report_data(data_dir: Path, plan: Plan, as_of: dt.date) -> ReportData:
    """The 通报's data as :func:`canbao.plan.api.make_report` computes it (same actuals source,
    same functions), without writing files."""
    source = default_actuals_source(data_dir, plan.profile)
    amap: dict[tuple[str, str], Decimal] = {}
    gmap: dict[tuple[str, str, str], Decimal] = {}
    label = ""
    if source is not None:
        amap, gmap = normalize_all(source.actuals(plan, as_of), as_of, source.label, plan.units)
        label = source.label
    progress = compute_progress(plan, amap, as_of, actuals_label=label, group_actuals=gmap)
    amounts = subsidy_section.amounts_for(plan, as_of, data_dir)
    return build_report(plan, progress, subsidy_amounts=amounts)


def plan_job(st: WebState, v: Version | None, choice: PlanChoice, as_of: dt.date) -> Job:
    """The 通报's figures of ``choice`` at ``as_of``; the slot is the plan at the data's date
    (the dashboard's) or at that explicit date, whatever the build."""
    plan = choice.plan
    key = ("plan", v.build_id if v else None, v.deferrals if v else None, plan.code,
           choice.stamp, as_of)  # fmt: skip
    slot = ("plan", plan.code, None if v is not None and as_of == v.day else as_of)
    label = Label(v.build_id if v else None, as_of)
    return Job(key, lambda: report_data(st.data_dir, plan, as_of), slot, label)


def plan_future(
    st: WebState, v: Version | None, choice: PlanChoice, as_of: dt.date
) -> Future[ReportData]:
    return aggregates(st).start(plan_job(st, v, choice, as_of))


def _number(value: Decimal | None) -> int | float | None:
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


def plan_json(data: ReportData, build_id: str | None) -> dict[str, Any]:
    """The 通报's figures as JSON (numbers in base measure: persons, yuan, fractions)."""
    ranking = [
        {
            "rank": r.rank,
            "unit": r.unit,
            "name": data.unit_name(r.unit),
            "group": data.group_name(r.unit),
            "score": _number(r.score),
            "gap": _number(row["gap"]),
            "indicators": r.n_indicators,
            "top": r.top,
            "bottom": r.bottom,
            "flag": row["flag"],
        }
        for r, row in zip(data.ranking, data.ranking_rows(), strict=True)
    ]
    p = data.progress
    return {
        "plan": data.plan.code,
        "title": data.title,
        "as_of": p.as_of.isoformat(),
        "period": p.period.code,
        "time_progress": _number(p.time_progress),
        "phase": p.phase.name if p.phase else None,
        "actuals_label": p.actuals_label,
        "build_id": build_id,
        "ranking": ranking,
        "bottom": [r.unit for r in data.ranking if r.bottom],
        "rows": [
            {
                "unit": r.unit,
                "indicator": r.indicator,
                "target": _number(r.target),
                "actual": _number(r.actual),
                "completion": _number(r.completion),
                "benchmark": _number(r.benchmark),
                "gap": _number(r.gap),
                "met": r.met,
            }
            for r in p.rows
        ],
    }


def _detail(data: ReportData, rows: Iterable[ProgressRow]) -> list[dict[str, Any]]:
    out = []
    for r in rows:
        ind = r.ind
        out.append(
            {
                "unit": data.unit_name(r.unit),
                "indicator": ind.name,
                "target": fmt.value(ind, r.target),
                "actual": fmt.value(ind, r.actual) if r.actual is not None else "无数据",
                "completion": fmt.pct(r.completion),
                "benchmark": fmt.pct(r.benchmark),
                "gap": fmt.pct(r.gap),
                "behind": r.behind,
                "met": r.met,
            }
        )
    return out


def plan_view(data: ReportData, mine: set[str]) -> dict[str, Any]:
    """What the plan card shows: the ranking (the viewer's county marked), the bottom N, the
    chart, and the detail of the viewer's county (city-wide viewers: 全市 and 市本级)."""
    tp = data.progress.time_progress
    ranking = []
    for r, row in zip(data.ranking, data.ranking_rows(), strict=True):
        ranking.append({**row, "code": r.unit, "mine": r.unit in mine,
                        "score_text": fmt.pct(r.score), "gap_text": fmt.pct(row["gap"])})  # fmt: skip
    scored = [r for r in ranking if r["score"] is not None]
    bars = [
        {
            "value": round(float(r["score"]) * 100, 2),
            "itemStyle": {"color": COLORS[_kind(r)]},
        }
        for r in scored
    ]
    option = bar_option(
        [r["unit"] for r in scored], bars, percent=True, reference=(float(tp) * 100, "时间进度")
    )
    units = sorted(mine) if mine else None
    detail = data.detail_rows(units) if units else data.city_rows()
    return {
        "title": data.title,
        "subtitle": data.subtitle,
        "time_progress": fmt.pct(tp),
        "phase": data.progress.phase.name if data.progress.phase else "",
        "ranking": ranking,
        "bottom": [r["unit"] for r in ranking if r["bottom"]],
        "top": [r["unit"] for r in ranking if r["top"]],
        "has_actuals": data.progress.has_actuals,
        "option": option,
        "detail": _detail(data, detail),
    }


def _kind(row: dict[str, Any]) -> str:
    if row["mine"]:
        return "mine"
    return "bottom" if row["bottom"] else ("top" if row["top"] else "normal")


# ---- charts -------------------------------------------------------------------------------


def bar_option(
    names: list[str],
    values: list[Any],
    *,
    percent: bool = False,
    reference: tuple[float, str] | None = None,
    series_name: str = "",
) -> dict[str, Any]:
    """An ECharts bar chart (one series); ``reference``: a horizontal line (value, label)."""
    series: dict[str, Any] = {"type": "bar", "name": series_name, "data": values}
    if reference is not None:
        series["markLine"] = {
            "silent": True,
            "symbol": "none",
            "data": [{"yAxis": round(reference[0], 2), "name": reference[1]}],
            "label": {
                "formatter": reference[1] + " {c}" + ("%" if percent else ""),
                "position": "insideEndTop",
            },
            "lineStyle": {"color": "#c58b00", "type": "dashed"},
        }
    return {
        "tooltip": {"trigger": "axis"},
        "grid": {"left": 48, "right": 16, "top": 24, "bottom": 64},
        "xAxis": {"type": "category", "data": names, "axisLabel": {"interval": 0, "rotate": 30}},
        "yAxis": {
            "type": "value",
            "axisLabel": {"formatter": "{value}%" if percent else "{value}"},
        },
        "series": [series],
    }


def multi_option(
    categories: list[str],
    series: list[tuple[str, list[Any]]],
    *,
    kind: str = "line",
    percent: bool = False,
    stack: bool = False,
) -> dict[str, Any]:
    """An ECharts line or bar chart of several named series over ``categories``."""
    return {
        "tooltip": {"trigger": "axis"},
        "legend": {"type": "scroll", "bottom": 0},
        "grid": {"left": 56, "right": 16, "top": 24, "bottom": 56},
        "xAxis": {"type": "category", "data": categories},
        "yAxis": {
            "type": "value",
            "axisLabel": {"formatter": "{value}%" if percent else "{value}"},
        },
        "series": [
            {"type": kind, "name": name, "data": data, **({"stack": "all"} if stack else {})}
            for name, data in series
        ],
    }


# ---- coverage -----------------------------------------------------------------------------


def coverage_job(st: WebState, v: Version) -> Job:
    return Job(
        ("coverage", v.build_id),
        lambda: coverage.statistics(st.data_dir, SYSTEM),
        ("coverage",),
        Label(v.build_id, v.day),
    )


def coverage_future(st: WebState, v: Version) -> Future[dict[str, pl.DataFrame]]:
    return aggregates(st).start(coverage_job(st, v))


def _rate(num: str, den: str) -> pl.Expr:
    return (pl.col(num) / pl.when(pl.col(den) > 0).then(pl.col(den))).round(4)


def _focus(frame: pl.DataFrame, city_wide: bool, by: list[str], counts: list[str]) -> pl.DataFrame:
    """The city's rows for a city-wide viewer, else the sum over the viewer's areas."""
    if city_wide:
        return frame.filter(pl.col("county_code") == CITY).sort(by)
    rest = frame.filter(pl.col("county_code") != CITY)
    return rest.group_by(by).agg(pl.col(c).sum() for c in counts).sort(by)


def coverage_view(stats: dict[str, pl.DataFrame], who: Viewer, profile: Profile) -> dict[str, Any]:
    """Coverage rates of the last month per area (the viewer's scope) and the monthly trends
    of the rates and of enrolment per scheme (the city, or the viewer's counties together)."""
    rates = who.scope.filter(stats["rates"], "county_code")
    enrolled = who.scope.filter(stats["enrolled"], "county_code")
    if rates.height == 0:
        return {"empty": True}
    last = rates["month"].max()
    table = rates.filter(pl.col("month") == last).with_columns(
        (pl.col("county_code") != CITY).alias("_order")
    )
    rows = [
        {**r, "name": area_name(profile, r["county_code"])}
        for r in table.sort("_order", "county_code").drop("_order").iter_rows(named=True)
    ]
    counts = ["residents", "pension_eligible", "pension_covered", "medical_covered"]
    trend = _focus(rates, who.scope.city_wide, ["month"], counts).with_columns(
        _rate("pension_covered", "pension_eligible").alias("pension_rate"),
        _rate("medical_covered", "residents").alias("medical_rate"),
    )
    months = trend["month"].to_list()
    rate_option = multi_option(
        months,
        [
            ("养老保险参保率", [_pct100(x) for x in trend["pension_rate"].to_list()]),
            ("医疗保险参保率", [_pct100(x) for x in trend["medical_rate"].to_list()]),
        ],
        percent=True,
    )
    per_scheme = _focus(enrolled, who.scope.city_wide, ["scheme", "month"], ["enrolled"])
    schemes = [s for s in SCHEME_LABELS_ZH if s in set(per_scheme["scheme"].to_list())]
    series = []
    for s in schemes:
        got = dict(per_scheme.filter(pl.col("scheme") == s).select("month", "enrolled").iter_rows())
        series.append((SCHEME_LABELS_ZH[s], [got.get(m) for m in months]))
    now = trend.row(-1, named=True) if trend.height else {}
    return {
        "empty": False,
        "month": last,
        "pension_rate": now.get("pension_rate"),
        "medical_rate": now.get("medical_rate"),
        "rows": rows,
        "rate_option": rate_option,
        "enrolled_option": multi_option(months, series),
        "focus": "全市" if who.scope.city_wide else "本辖区",
    }


def _pct100(x: float | None) -> float | None:
    return None if x is None else round(float(x) * 100, 2)


# ---- collection -----------------------------------------------------------------------------


def kpi_job(st: WebState, v: Version, year: int, as_of: dt.date, by: str = "unit") -> Job:
    """The KPIs of ``year`` at ``as_of``; the slot is the dashboard's (the data's year and
    date) or that explicit year and date, whatever the build."""
    key = ("kpi", v.build_id, v.deferrals, year, as_of, by)
    how: Any = "county" if by == "county" else "unit"
    default = (year, as_of) == (v.day.year, v.day)
    slot = ("kpi", by) if default else ("kpi", by, year, as_of)
    return Job(
        key,
        lambda: collection.kpis(st.data_dir, SYSTEM, year, as_of, by=how),
        slot,
        Label(v.build_id, as_of),
    )


def kpi_future(
    st: WebState, v: Version, year: int, as_of: dt.date, by: str = "unit"
) -> Future[pl.DataFrame]:
    return aggregates(st).start(kpi_job(st, v, year, as_of, by))


def kpis_for(frame: pl.DataFrame, who: Viewer) -> pl.DataFrame:
    """The KPIs the viewer may see: :func:`canbao.collection.api.kpis` cuts its result to the
    reader's scope on ``unit`` in the same way."""
    return who.scope.filter(frame, "unit")


def _indicator_name(code: str) -> tuple[str, str]:
    try:
        ind = indicator(code)
    except KeyError:
        return code, "text"
    return ind.name, ind.measure


def kpi_view(frame: pl.DataFrame, profile: Profile) -> dict[str, Any]:
    """The KPIs as a table: one row per unit (全市 first), one column per indicator (plan
    order); money as fen for the ``yuan`` filter, ratios as fractions for ``pct``."""
    order = {ind.code: i for i, ind in enumerate(indicators())}
    codes = sorted(set(frame["indicator"].to_list()), key=lambda c: (order.get(c, 999), c))
    columns = [{"code": c, "name": _indicator_name(c)[0]} for c in codes]
    cells: dict[str, dict[str, Any]] = {}
    for unit, code, value in frame.select("unit", "indicator", "value").iter_rows():
        measure = _indicator_name(code)[1]
        if value is None:
            shown: Any = None
        elif measure == "yuan":
            shown = ("yuan", parse_yuan(str(value)))
        elif measure == "ratio":
            shown = ("pct", float(value))
        else:
            shown = ("text", value)
        cells.setdefault(unit, {})[code] = shown
    units = sorted(cells, key=lambda u: (u != CITY, u))
    rows = [
        {"name": area_name(profile, u), "cells": [cells[u].get(c) for c in codes]} for u in units
    ]
    return {"columns": columns, "rows": rows}


def arrears_job(st: WebState, v: Version) -> Job:
    return Job(
        ("arrears", v.build_id, v.deferrals, v.day),
        lambda: collection.arrears(st.data_dir, SYSTEM, v.day),
        ("arrears",),
        Label(v.build_id, v.day),
    )


def arrears_future(st: WebState, v: Version) -> Future[pl.DataFrame]:
    return aggregates(st).start(arrears_job(st, v))


def arrears_for(frame: pl.DataFrame, who: Viewer, st: WebState) -> pl.DataFrame:
    """The arrears list in the viewer's scope, with the agreement and dunning states the store
    holds now, read in the viewer's scope through the app's store (what
    :func:`canbao.collection.workflow_state.with_states` fills in; the list itself is the cached
    :func:`canbao.collection.api.arrears`)."""
    mine = who.scope.filter(frame, "county_code")
    found = workflow_state.states(st.data_dir, who.scope, store=st.store)
    return (
        mine.drop("agreement_status", "dunning_state")
        .join(found, on="employer_key", how="left")
        .select(mine.columns)
    )


def ageing_labels(st: WebState, day: dt.date) -> list[str]:
    return [b.label for b in region_policy(st.data_dir, day).ageing]


def arrears_view(frame: pl.DataFrame, labels: list[str]) -> dict[str, Any]:
    """Employers in arrears, the sums (fen) and the arrears per ageing bucket."""
    owed = [f"owed_{i + 1}" for i in range(len(labels))]
    sums = frame.select(
        pl.len().alias("employers"),
        *(pl.col(c).sum().alias(c) for c in ("arrears", "late_fee", *owed)),
    ).row(0, named=True)
    buckets = [(label, int(sums[c] or 0)) for label, c in zip(labels, owed, strict=True)]
    option = bar_option(
        [b for b, _ in buckets],
        [round(fen / 100, 2) for _, fen in buckets],
        series_name="欠费金额（元）",
    )
    return {
        "employers": int(sums["employers"]),
        "arrears": int(sums["arrears"] or 0),
        "late_fee": int(sums["late_fee"] or 0),
        "buckets": buckets,
        "option": option,
    }


# ---- cases ----------------------------------------------------------------------------------


CASE_COUNTS = ("opened", "open", "worked", "resolved", "confirmed", "gone", "overdue")


def cases_job(st: WebState) -> Job:
    return Job(
        ("cases",),
        lambda: case_progress(st.store, SYSTEM),
        ("cases",),
        ttl=CASES_TTL_S,
        light=True,
    )


def cases_future(st: WebState) -> Future[CaseProgress]:
    return aggregates(st).start(cases_job(st))


def cases_view(prog: CaseProgress, who: Viewer, profile: Profile) -> dict[str, Any]:
    """Case counts per county in the viewer's scope (the filter of
    :func:`canbao.cases.lifecycle.in_scope`), with the totals and a chart."""
    summary = who.scope.filter(prog.summary, "county_code")
    per = summary.group_by("county_code").agg(pl.col(c).sum() for c in CASE_COUNTS)
    per = per.sort("county_code", nulls_last=True)
    rows = [{**r, "name": area_name(profile, r["county_code"])} for r in per.iter_rows(named=True)]
    total = {c: int(summary[c].sum()) for c in CASE_COUNTS}
    split = who.scope.filter(prog.uninsured, "county_code")
    split_total = {c: int(split[c].sum()) for c in ("listed", "unexplained", "awaiting",
                                                     "explained", "confirmed")}  # fmt: skip
    names = [r["name"] for r in rows]
    option = multi_option(
        names,
        [
            ("已办结", [r["resolved"] for r in rows]),
            ("办理中", [r["open"] for r in rows]),
            ("超期未办", [r["overdue"] for r in rows]),
        ],
        kind="bar",
    )
    return {"rows": rows, "total": total, "split": split_total, "option": option}


# ---- the page -------------------------------------------------------------------------------

NOT_BUILT = (
    "登记库尚未建立：请数据管理员导入数据并运行 canbao build；建成后首页显示计划进度、"
    "参保率、征缴指标和个案进度。"
)
NO_REPORT = "您的角色没有查看统计和通报的权限，首页不显示统计数据。"


@dataclass
class Section:
    name: str
    view: dict[str, Any] | None = None
    pending: bool = False
    error: str = ""
    notes: list[str] = field(default_factory=list)
    label: Label | None = None  # the data the view is of
    fresh: bool = True  # False: an earlier data version's figures (the current ones computing)


def _section(name: str, got: Callable[[], Got], make: Callable[[Any], dict[str, Any]]) -> Section:
    try:
        found = got()
        return Section(name, make(found.value), label=found.label, fresh=found.fresh)
    except Computing:
        return Section(name, pending=True)
    except CanbaoError as e:
        return Section(name, error=e.message_zh)
    except Exception as e:  # noqa: BLE001 - one failing card must not take the page down
        from canbao.errors import unexpected

        return Section(name, error=unexpected(e).message_zh)


def _order(who: Viewer) -> list[str]:
    if who.role == "collector":
        return ["arrears", "kpi", "plan", "cases", "coverage"]
    return ["plan", "coverage", "kpi", "arrears", "cases"]


def _plan_notes(choice: PlanChoice) -> list[str]:
    if choice.stored:
        return []
    return [
        f"尚未导入本地任务分解表（附件1），以下按内置计划“{choice.plan.code}”计算；"
        "导入后（canbao plan import）自动按导入的计划显示。"
    ]


def _jobs(st: WebState, v: Version, wanted: list[str]) -> tuple[dict[str, Job], PlanChoice | str]:
    """The aggregates the page needs, and the plan (or the Chinese reason there is none)."""
    jobs: dict[str, Job] = {}
    choice: PlanChoice | str
    try:
        choice = choose_plan(st)
        jobs["plan"] = plan_job(st, v, choice, v.day)
    except CanbaoError as e:
        choice = e.message_zh
    makers: dict[str, Callable[[], Job]] = {
        "coverage": lambda: coverage_job(st, v),
        "kpi": lambda: kpi_job(st, v, v.day.year, v.day),
        "cases": lambda: cases_job(st),
        "arrears": lambda: arrears_job(st, v),
    }
    jobs.update({name: makers[name]() for name in wanted if name in makers})
    return jobs, choice


def warm(st: WebState) -> None:
    """Start computing the current data version's dashboard figures (nothing for those computed
    or being computed): the background warm-up calls it at start-up and every few seconds."""
    v = version(st)
    if v is None:
        return
    cache = aggregates(st)
    for job in _jobs(st, v, ["plan", "coverage", "kpi", "arrears", "cases"])[0].values():
        cache.start(job)


def assemble(st: WebState, who: Viewer) -> dict[str, Any]:
    """Everything the dashboard shows ``who``: per section its view, an error, or pending;
    ``refreshing`` when some figures are an earlier data version's (``shown``: the oldest of
    them) while the current ones are computed."""
    out: dict[str, Any] = {
        "notice": "", "sections": [], "pending": False, "version": None, "tiles": [],
        "refreshing": False, "shown": None,
    }  # fmt: skip
    if not who.can("report.read"):
        out["notice"] = NO_REPORT
        return out
    v = version(st)
    if v is None:
        out["notice"] = NOT_BUILT
        return out
    out["version"] = out["shown"] = v
    wanted = [n for n in _order(who) if n != "arrears" or who.can("ledger.read")]
    jobs, choice = _jobs(st, v, wanted)
    cache = aggregates(st)
    for job in jobs.values():  # start every aggregate the page needs before waiting for any
        cache.start(job)
    deadline = time.monotonic() + WAIT_S
    makers: dict[str, Callable[[Any], dict[str, Any]]] = {
        "plan": lambda value: plan_view(value, set(who.actor.counties)),
        "coverage": lambda value: coverage_view(value, who, st.profile),
        "kpi": lambda value: kpi_view(kpis_for(value, who), st.profile),
        "cases": lambda value: cases_view(value, who, st.profile),
        "arrears": lambda value: arrears_view(
            who.scope.filter(value, "county_code"), ageing_labels(st, v.day)
        ),
    }
    for name in wanted:
        if name not in jobs:  # no plan
            out["sections"].append(Section(name, error=f"尚无工作计划，无法计算计划进度：{choice}"))
            continue
        job = jobs[name]
        section = _section(name, functools.partial(cache.get, job, deadline), makers[name])
        if name == "plan" and isinstance(choice, PlanChoice):
            section.notes.extend(_plan_notes(choice))
        out["sections"].append(section)
    stale = [s.label for s in out["sections"] if s.view is not None and not s.fresh and s.label]
    if stale:
        out["refreshing"] = True
        out["shown"] = min(stale, key=lambda x: (x.day or dt.date.min, x.build_id or ""))
    out["pending"] = any(s.pending for s in out["sections"])
    out["tiles"] = tiles({s.name: s.view for s in out["sections"] if s.view}, who)
    return out


def tiles(views: dict[str, dict[str, Any]], who: Viewer) -> list[dict[str, Any]]:
    """The headline figures above the cards: label, value, kind (text | yuan: fen for the
    ``yuan`` filter), note."""
    out: list[dict[str, Any]] = []

    def add(label: str, value: Any, note: str = "", kind: str = "text") -> None:
        out.append({"label": label, "value": value, "note": note, "kind": kind})

    plan = views.get("plan")
    if plan:
        add("时间进度", plan["time_progress"], plan["phase"])
        ranked = [r for r in plan["ranking"] if r["rank"] is not None]
        for r in (r for r in ranked if r["mine"]):
            add(f"{r['unit']}综合完成率", r["score_text"], f"排名 {r['rank']}/{len(ranked)}")
        if not who.scope.counties and plan["bottom"]:
            add("排名后三位", "、".join(plan["bottom"]), "通报")
    cov = views.get("coverage")
    if cov and not cov["empty"]:
        where = f"{cov['focus']}，{cov['month']}"
        add("养老保险参保率", _pct_text(cov["pension_rate"]), where)
        add("医疗保险参保率", _pct_text(cov["medical_rate"]), where)
    arrears = views.get("arrears")
    if arrears:
        add("欠费金额（元）", arrears["arrears"], f"{arrears['employers']:,} 家单位", "yuan")
    cases = views.get("cases")
    if cases and cases["rows"]:
        t = cases["total"]
        add("个案已办结", f"{t['resolved']:,} / {t['opened']:,}", f"超期 {t['overdue']:,}")
    return out


def _pct_text(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"
