"""单位 360: registration, tax against declared headcount by month, declarations, the ledger
with arrears and late fees, agreements, dunning steps, compliance flags and cases. Nothing
personal; money is integer fen (the ``yuan`` filter on the page). The ledger, agreements and
dunning need ``ledger.read``; cases ``worklist.read``. An employer outside the viewer's
counties is not found (404). Data: :mod:`canbao.web.employer_view`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse

from canbao.ingest.kinds import SCHEME_LABELS_ZH
from canbao.web import employer_view
from canbao.web.auth import Viewer, need
from canbao.web.state import state_of

router = APIRouter()


def _view(request: Request, who: Viewer, employer_key: str) -> employer_view.Employer360:
    return employer_view.employer_360(
        state_of(request),
        who.scope,
        employer_key,
        ledger=who.can("ledger.read"),
        cases=who.can("worklist.read") and who.scope.personal,
    )


@router.get("/employers/{employer_key}", response_class=HTMLResponse, include_in_schema=False)
def employer_page(
    request: Request,
    employer_key: str,
    who: Annotated[Viewer, Depends(need("ledger.read"))],
) -> Response:
    view = _view(request, who, employer_key)
    context: dict[str, Any] = {
        "viewer": who,
        "e": view,
        "chart": employer_view.headcount_chart(view) if view.months else None,
        "months_schemes": sorted({s for m in view.months for s in m.declared}),
        "scheme_labels": SCHEME_LABELS_ZH,
        "ledger_sources": employer_view.LEDGER_SOURCE_ZH,
    }
    return state_of(request).templates.TemplateResponse(request, "employer.html", context)


@router.get(
    "/api/employers/{employer_key}", response_model=employer_view.Employer360, tags=["单位"]
)
def api_employer(
    request: Request,
    employer_key: str,
    who: Annotated[Viewer, Depends(need("ledger.read"))],
) -> employer_view.Employer360:
    """单位 360：登记信息、按月个税与申报人数、申报、征缴台账（欠费、滞纳金）、协议、催缴、标记、个案。"""
    return _view(request, who, employer_key)
