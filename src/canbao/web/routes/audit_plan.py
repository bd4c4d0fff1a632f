"""稽核计划: the risk-ranked audit targets in the viewer's scope — per county the highest
scores, with the money at stake, the ability to pay and the contributions behind every score
(expandable) — and the xlsx download through the safe writer (as ``canbao audit plan`` writes it).

The risk model is computed city-wide once per data version in the dashboard's aggregates pool
(:mod:`canbao.web.aggregates`; a request never runs it); each request cuts it to the viewer's
counties, adds the agreement breaches and leaves out the employers under enforcement and those
audited in the last months (the audit cases) the store holds now, then picks the targets.
"""

from __future__ import annotations

import secrets
import shutil
import time
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

import polars as pl
from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import FileResponse, HTMLResponse
from starlette.background import BackgroundTask

from canbao.audit import risk, targets, workbook
from canbao.audit.weights import Weights, load
from canbao.collection.exports import OWNERSHIP_ZH
from canbao.errors import StateError, UsageError
from canbao.web import dashboard, limits
from canbao.web.aggregates import Job, Label
from canbao.web.auth import Viewer, need
from canbao.web.state import WebState, state_of

router = APIRouter()
EXPORTS = ("web", "exports")  # DATA/web/exports/<random>/: a download, removed once sent
MAX_TOP = 500


def model_job(st: WebState, v: dashboard.Version, w: Weights) -> Job:
    """The city-wide risk model of data version ``v`` (no store data: breaches and
    enforcement are added per request, in the viewer's scope)."""
    return Job(
        ("audit_model", v.build_id, v.day, w.source),
        lambda: targets.model(st.data_dir, dashboard.SYSTEM, v.day, weights=w),
        ("audit_model",),
        Label(v.build_id, v.day),
    )


def _query(county: str, top: int | None) -> tuple[str, int | None]:
    county = county.strip()
    if len(county) > 12 or (county and not county.isalnum()):
        raise UsageError("区县代码无效", "bad county")
    if top is not None and not 1 <= top <= MAX_TOP:
        raise UsageError(f"每个区县户数应为 1–{MAX_TOP}", f"bad top {top}")
    return county, top


def _plan(
    st: WebState, who: Viewer, county: str, top: int | None, wait_s: float
) -> tuple[targets.AuditPlan, Weights, Any]:
    """The viewer's plan (a county outside the scope is refused)."""
    v = dashboard.require_version(st)
    if county:
        who.scope.require_county(county)
    w = load()
    got = dashboard.aggregates(st).get(model_job(st, v, w), time.monotonic() + wait_s)
    found: risk.RiskModel = got.value
    mine = who.scope.filter(found.employers, "county_code")
    if county:
        mine = mine.filter(pl.col("county_code") == county)
    keys = mine.select("employer_key")
    scoped = risk.RiskModel(
        mine,
        found.contributions.join(keys, on="employer_key", how="semi"),
        found.money.join(keys, on="employer_key", how="semi"),
        found.as_of,
    )
    scoped = risk.add_breaches(scoped, targets.breached_agreements(st.store, who.scope), w)
    enforcement = targets.under_enforcement(st.store, who.scope, w.plan.enforcement_states)
    audited = targets.audited_before(st.store, found.as_of or v.day, w.plan.lookback_months)
    plan = targets.select(
        scoped, w, targets.per_county(w, top), recently_audited=audited, enforcement=enforcement
    )
    plan.params.update(county=county or None, employers=scoped.employers.height)
    return plan, w, got.label or v


def _rows(plan: targets.AuditPlan, w: Weights) -> list[dict[str, Any]]:
    labels = {k: (v.label, v.unit) for k, v in w.signals.items()}
    by: dict[str, list[dict[str, Any]]] = {}
    for c in plan.contributions.iter_rows(named=True):
        label, unit = labels.get(c["signal"], (c["signal"], ""))
        by.setdefault(c["employer_key"], []).append(
            {"label": label, "unit": unit, "value": round(c["value"], 2), "points": c["points"]}
        )
    rows = plan.targets.with_columns(pl.col("ownership").replace(OWNERSHIP_ZH)).to_dicts()
    for r in rows:
        r["contributions"] = by.get(r["employer_key"], [])
    return rows


def _context(st: WebState, who: Viewer, county: str, top: int | None) -> dict[str, Any]:
    context: dict[str, Any] = {"viewer": who, "county": county, "top": top or "", "pending": False}
    context["query"] = urlencode({k: v for k, v in (("county", county), ("top", top)) if v})
    if who.scope.counties is None:
        context["counties"] = [(c.code, c.name) for c in st.profile.counties]
    else:
        context["counties"] = [(c, dashboard.area_name(st.profile, c))
                               for c in sorted(who.actor.counties or who.scope.counties)]  # fmt: skip
    try:
        plan, w, v = _plan(st, who, county, top, dashboard.WAIT_S)
    except dashboard.Computing:
        context["pending"] = True
        return context
    context.update(
        version=v,
        rows=_rows(plan, w),
        per_county=plan.params["per_county"],
        scored=plan.params["employers"],
        excluded=plan.excluded.height,
        money=int(plan.targets["money"].sum() or 0),
        names={code: name for code, name in context["counties"]},
    )
    return context


@router.get("/audit/plan", response_class=HTMLResponse, include_in_schema=False)
def audit_plan_page(
    request: Request,
    who: Annotated[Viewer, Depends(need("audit.read"))],
    county: str = "",
    top: int | None = None,
) -> Response:
    st = state_of(request)
    county, top = _query(county, top)
    return st.templates.TemplateResponse(request, "audit_plan.html", _context(st, who, county, top))


def _remove(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)


@router.get("/audit/plan/export", include_in_schema=False)
def audit_plan_export(
    request: Request,
    who: Annotated[Viewer, Depends(need("audit.read"))],
    county: str = "",
    top: int | None = None,
) -> Response:
    """The plan as xlsx (targets, contributions, money, excluded); the export is audit-logged."""
    st = state_of(request)
    county, top = _query(county, top)
    try:
        plan, w, v = _plan(st, who, county, top, dashboard.API_WAIT_S)
    except dashboard.Computing:
        raise StateError("稽核计划正在生成中，请稍后重试", "audit plan being computed") from None
    folder = st.data_dir.joinpath(*EXPORTS, secrets.token_hex(8))
    folder.mkdir(parents=True, exist_ok=True)
    name = f"稽核计划-{v.day.isoformat()}{'-' + county if county else ''}.xlsx"
    try:
        with limits.heavy("稽核计划导出"):
            written = workbook.write_plan(plan, w, folder / name)
    except BaseException:
        _remove(folder)
        raise
    dashboard.audit_export(st, who, "audit_plan", name, plan.targets.height)
    return FileResponse(
        written.path,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        filename=name,
        background=BackgroundTask(_remove, folder),
    )
