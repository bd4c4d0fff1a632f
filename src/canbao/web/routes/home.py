"""首页: the dashboard by role (filled in by the dashboard module)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse

from canbao.web.auth import ANY, Viewer, need
from canbao.web.state import state_of

router = APIRouter()


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def home(request: Request, who: Annotated[Viewer, Depends(need(ANY))]) -> Response:
    context: dict[str, Any] = {"viewer": who}
    return state_of(request).templates.TemplateResponse(request, "home.html", context)
