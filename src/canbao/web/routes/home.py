"""首页: the dashboard by role, and its figures as JSON (``/api/plan/progress``, ``/api/kpi``).

The figures come from :mod:`canbao.web.dashboard` (the 通报's plan progress and ranking, coverage
rates, collection KPIs, arrears, case progress), cut to the viewer's scope.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse

from canbao.errors import StateError, UsageError
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


def _api_wait(future: Any) -> Any:
    try:
        return dashboard.wait(future, time.monotonic() + dashboard.API_WAIT_S)
    except dashboard.Computing:
        raise StateError(
            "统计数据正在生成中，请稍后重试", "the aggregate is still being computed"
        ) from None


@router.get("/api/plan/progress", tags=["通报"])
def api_plan_progress(
    request: Request,
    who: Annotated[Viewer, Depends(need("report.read"))],
    as_of: str | None = None,
    plan: str | None = None,
) -> dict[str, Any]:
    """计划进度、综合排名、时间进度与后三位（与通报、首页的数字相同）。``as_of``：截至日期
    YYYY-MM-DD，默认数据截止日；``plan``：计划名称，默认地区配置的默认计划。

    Plan progress as the 通报 computes it: ranking, time progress, the bottom N and every
    target's row (values in base measure: persons, yuan, fractions)."""
    st = state_of(request)
    v = dashboard.version(st)
    day = dashboard.parse_day(as_of) or (v.day if v else None)
    if day is None:
        raise StateError(
            "登记库尚未建立，请指定截至日期 as_of 或先运行 canbao build", "no data date"
        )
    choice = dashboard.choose_plan(st, plan)
    data = _api_wait(dashboard.plan_future(st, v, choice, day))
    return {
        **dashboard.plan_json(data, v.build_id if v else None),
        "stored_plan": choice.stored,
    }


@router.get("/api/kpi", tags=["通报"])
def api_kpi(
    request: Request,
    who: Annotated[Viewer, Depends(need("report.read"))],
    year: int | None = None,
    as_of: str | None = None,
    by: str = "unit",
) -> list[dict[str, Any]]:
    """征缴指标 [{unit, indicator, value}]，与 ``canbao kpi --json`` 相同（本人范围内）。
    ``year`` 默认截至日期所在年度；``as_of`` 默认数据截止日；``by``：unit（计划单位）或
    county（区县）。

    Collection KPIs of :func:`canbao.collection.api.kpis` in the caller's scope."""
    if by not in ("unit", "county"):
        raise UsageError(f"by 应为 unit 或 county：{by[:20]}", f"bad by {by[:20]!r}")
    st = state_of(request)
    v = dashboard.require_version(st)
    day = dashboard.parse_day(as_of) or v.day
    frame = _api_wait(dashboard.kpi_future(st, v, year or day.year, day, by))
    rows: list[dict[str, Any]] = (
        dashboard.kpis_for(frame, who).select("unit", "indicator", "value").to_dicts()
    )
    return rows
