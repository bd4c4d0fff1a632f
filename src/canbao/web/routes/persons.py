"""人员 360: the master record (masked), the source records behind it with their link
evidence, the enrolment history per scheme, flags, cases and ID corrections; the full ID,
phone and address only on a deliberate POST (``person.reveal``), each an audit-log entry with
the person key (never the ID). A person outside the viewer's counties is not found (404, nothing
about them). Data: :mod:`canbao.web.person_view`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse

from canbao.web import person_view
from canbao.web.auth import Viewer, need
from canbao.web.errors import is_htmx
from canbao.web.state import state_of

router = APIRouter()


def _view(request: Request, who: Viewer, person_key: str) -> person_view.Person360:
    return person_view.person_360(
        state_of(request), who.scope, person_key, with_cases=who.can("worklist.read")
    )


@router.get("/persons/{person_key}", response_class=HTMLResponse, include_in_schema=False)
def person_page(
    request: Request, person_key: str, who: Annotated[Viewer, Depends(need("person.read"))]
) -> Response:
    context: dict[str, Any] = {"viewer": who, "p": _view(request, who, person_key)}
    return state_of(request).templates.TemplateResponse(request, "person.html", context)


@router.post("/persons/{person_key}/reveal", response_class=HTMLResponse, include_in_schema=False)
def reveal(
    request: Request, person_key: str, who: Annotated[Viewer, Depends(need("person.reveal"))]
) -> Response:
    st = state_of(request)
    context: dict[str, Any] = {"viewer": who, "r": person_view.reveal(st, who.scope, person_key)}
    name = "person_reveal.html" if is_htmx(request) else "person_revealed.html"
    return st.templates.TemplateResponse(request, name, context)


@router.get("/api/persons/{person_key}", response_model=person_view.Person360, tags=["人员"])
def api_person(
    request: Request, person_key: str, who: Annotated[Viewer, Depends(need("person.read"))]
) -> person_view.Person360:
    """人员 360：主记录（脱敏）、来源记录及关联依据、参保历史、标记、个案、证件号更正。"""
    return _view(request, who, person_key)
