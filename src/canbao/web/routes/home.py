"""首页: the dashboard by role, and its figures as JSON (``/api/plan/progress``, ``/api/kpi``).

The figures come from :mod:`canbao.web.dashboard` (the 通报's plan progress and ranking, coverage
rates, collection KPIs, arrears, case progress), cut to the viewer's scope.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse

from canbao.errors import Busy, StateError, UsageError
from canbao.web import dashboard
from canbao.web.auth import ANY, Viewer, need
from canbao.web.state import state_of

router = APIRouter()


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def home(request: Request, who: Annotated[Viewer, Depends(need(ANY))]) -> Response:
    st = state_of(request)
    context: dict[str, Any] = {"viewer": who, "dash": dashboard.assemble(st, who)}
    return st.templates.TemplateResponse(request, "home.html", context)


@router.get("/dash/body", response_class=HTMLResponse, include_in_schema=False)
def dash_body(request: Request, who: Annotated[Viewer, Depends(need(ANY))]) -> Response:
    """The dashboard's body alone: what the page polls while an aggregate is computed."""
    st = state_of(request)
    context: dict[str, Any] = {"viewer": who, "dash": dashboard.assemble(st, who)}
    return st.templates.TemplateResponse(request, "dash_body.html", context)


def _api_got(st: Any, job: dashboard.Job) -> dashboard.Got:
    """The job's figures, or the previous data version's while they are computed; 503 with
    ``Retry-After`` only when nothing has been computed yet (after :data:`API_WAIT_S`)."""
    try:
        return dashboard.aggregates(st).get(job, time.monotonic() + dashboard.API_WAIT_S)
    except dashboard.Computing:
        raise Busy(
            "统计数据正在首次生成，请稍后重试",
            "the figures are being computed for the first time",
            retry_after=dashboard.RETRY_AFTER_S,
        ) from None


@router.get("/api/plan/progress", tags=["通报"])
def api_plan_progress(
    request: Request,
    who: Annotated[Viewer, Depends(need("report.read"))],
    as_of: str | None = None,
    plan: str | None = None,
) -> dict[str, Any]:
    """计划进度、综合排名、时间进度与后三位（与通报、首页的数字相同）。``as_of``：截至日期
    YYYY-MM-DD，默认数据截止日；``plan``：计划名称，默认地区配置的默认计划。数据更新后新数字
    计算期间返回上一版本的数字（``stale`` 为 true，``build_id`` 为其登记库版本）；从未算过时
    返回 503 与 Retry-After。

    Plan progress as the 通报 computes it: ranking, time progress, the bottom N and every
    target's row (values in base measure: persons, yuan, fractions); ``build_id`` the build
    the figures are of, ``current_build_id`` the current one, ``stale`` true while the current
    figures are computed."""
    st = state_of(request)
    v = dashboard.version(st)
    day = dashboard.parse_day(as_of) or (v.day if v else None)
    if day is None:
        raise StateError(
            "登记库尚未建立，请指定截至日期 as_of 或先运行 canbao build", "no data date"
        )
    choice = dashboard.choose_plan(st, plan)
    got = _api_got(st, dashboard.plan_job(st, v, choice, day))
    return {
        **dashboard.plan_json(got.value, got.label.build_id if got.label else None),
        "stored_plan": choice.stored,
        "stale": not got.fresh,
        "current_build_id": v.build_id if v else None,
    }


@router.get("/api/kpi", tags=["通报"])
def api_kpi(
    request: Request,
    response: Response,
    who: Annotated[Viewer, Depends(need("report.read"))],
    year: int | None = None,
    as_of: str | None = None,
    by: str = "unit",
) -> list[dict[str, Any]]:
    """征缴指标 [{unit, indicator, value}]，与 ``canbao kpi --json`` 相同（本人范围内）。
    ``year`` 默认截至日期所在年度；``as_of`` 默认数据截止日；``by``：unit（计划单位）或
    county（区县）。数据版本见响应头 X-Canbao-As-Of（截至日期）、X-Canbao-Build（登记库
    版本）、X-Canbao-Stale（1：新数据计算中，这是上一版本的数字）；从未算过时返回 503。

    Collection KPIs of :func:`canbao.collection.api.kpis` in the caller's scope; the headers
    say which data version they are of."""
    if by not in ("unit", "county"):
        raise UsageError(f"by 应为 unit 或 county：{by[:20]}", f"bad by {by[:20]!r}")
    st = state_of(request)
    v = dashboard.require_version(st)
    day = dashboard.parse_day(as_of) or v.day
    got = _api_got(st, dashboard.kpi_job(st, v, year or day.year, day, by))
    label = got.label or dashboard.Label(v.build_id, day)
    response.headers["X-Canbao-As-Of"] = label.day.isoformat() if label.day else ""
    response.headers["X-Canbao-Build"] = label.build_id or ""
    response.headers["X-Canbao-Stale"] = "0" if got.fresh else "1"
    rows: list[dict[str, Any]] = (
        dashboard.kpis_for(got.value, who).select("unit", "indicator", "value").to_dicts()
    )
    return rows
