"""查询: persons by citizen ID, name or pinyin; employers by credit code, organisation code or
name. The page's query is POSTed (a form, or htmx with the CSRF header) so that an ID never
appears in an address or a log; the API takes ``?q=`` (the access log never writes query
strings). Results are the viewer's counties only, IDs masked, at most 50 (with the total).
Data: :mod:`canbao.web.person_view`, :mod:`canbao.web.employer_view`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request, Response
from fastapi.responses import HTMLResponse

from canbao.web import employer_view, person_view
from canbao.web.auth import Viewer, need
from canbao.web.errors import is_htmx
from canbao.web.state import state_of

router = APIRouter()
WHAT = {"all": "人员和单位", "persons": "人员", "employers": "单位"}


def _context(who: Viewer) -> dict[str, Any]:
    return {"viewer": who, "what": "all", "query": "", "persons": None, "employers": None}


@router.get("/search", response_class=HTMLResponse, include_in_schema=False)
def search_page(request: Request, who: Annotated[Viewer, Depends(need("ledger.read"))]) -> Response:
    st = state_of(request)
    if who.can("person.read"):
        person_view.warm(st)  # the first search after a build does not wait for the index
    return st.templates.TemplateResponse(request, "search.html", _context(who))


@router.post("/search", response_class=HTMLResponse, include_in_schema=False)
def search(
    request: Request,
    who: Annotated[Viewer, Depends(need("ledger.read"))],
    q: Annotated[str, Form(max_length=100)] = "",
    what: Annotated[str, Form()] = "all",
) -> Response:
    st = state_of(request)
    what = what if what in WHAT else "all"
    context = _context(who)
    context["what"] = what
    if who.can("person.read") and what in ("all", "persons"):
        context["persons"] = person_view.search_persons(st, who.scope, q)
    if what in ("all", "employers"):
        context["employers"] = employer_view.search_employers(st, who.scope, q)
    if is_htmx(request):
        return st.templates.TemplateResponse(request, "search_results.html", context)
    # the box keeps a name or a code; never a citizen ID (the page must not carry one)
    context["query"] = "" if person_view.classify(q)[0] == "id" else q
    return st.templates.TemplateResponse(request, "search.html", context)


@router.get("/api/persons", response_model=person_view.PersonSearch, tags=["人员"])
def api_persons(
    request: Request,
    who: Annotated[Viewer, Depends(need("person.read"))],
    q: Annotated[str, Query(max_length=100, description="身份证号、姓名或姓名拼音")],
) -> person_view.PersonSearch:
    """按身份证号、姓名或拼音查询人员（本人权限范围内；身份证号脱敏；最多 50 条，附总数）。"""
    return person_view.search_persons(state_of(request), who.scope, q)


@router.get("/api/employers", response_model=employer_view.EmployerSearch, tags=["单位"])
def api_employers(
    request: Request,
    who: Annotated[Viewer, Depends(need("ledger.read"))],
    q: Annotated[str, Query(max_length=100, description="统一社会信用代码、组织机构代码或名称")],
) -> employer_view.EmployerSearch:
    """按统一社会信用代码、组织机构代码或单位名称（部分）查询单位（本人权限范围内；最多 50 条）。"""
    return employer_view.search_employers(state_of(request), who.scope, q)
