"""单位 360: registration, tax against declared headcount by month, declarations, the ledger
with arrears and late fees, agreements, dunning steps, compliance flags and cases. Nothing
personal; money is integer fen (the ``yuan`` filter on the page). The ledger, agreements and
dunning need ``ledger.read``; cases ``worklist.read``. An employer outside the viewer's
counties is not found (404). Data: :mod:`canbao.web.employer_view`. The dunning and agreement
forms on the page post to :mod:`canbao.web.routes.dunning` and
:mod:`canbao.web.routes.agreements`, which answer a refusal with this page
(:func:`act_on_page`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from canbao.collection import agreements, dunning
from canbao.errors import CanbaoError
from canbao.ingest.kinds import EMPLOYER_SCHEMES, SCHEME_LABELS_ZH
from canbao.standards.money import yuan_text
from canbao.web import employer_view
from canbao.web.auth import Viewer, need
from canbao.web.routes._steps import text_fields
from canbao.web.state import WebState, state_of

router = APIRouter()
DONE = {
    "dunning": "已立催缴案件并登记催缴通知",
    "agreement-proposed": "已拟定协议，待另一位有批准权限的人员批准",
    "agreement-approved": "协议已批准（有催缴案件的，转为协议履行中）",
    "agreement-cancelled": "协议已撤销（有催缴案件的，恢复催缴）",
    **{k: f"已登记：{v}" for k, v in dunning.STEP_LABELS.items()},
}


AGREEMENT_DONE = ("agreement-proposed", "agreement-approved", "agreement-cancelled")


def _view(request: Request, who: Viewer, employer_key: str) -> employer_view.Employer360:
    return employer_view.employer_360(
        state_of(request),
        who.scope,
        employer_key,
        ledger=who.can("ledger.read"),
        cases=who.can("worklist.read") and who.scope.personal,
    )


def _overdue(view: employer_view.Employer360) -> dict[str, Any]:
    """What a new dunning case or agreement is about by default: the schemes and periods in
    arrears and their sum (yuan text), as the compliance status counts them."""
    book = view.ledger
    if book is None:
        return {"schemes": [], "periods": [], "amount": ""}
    return {
        "schemes": book.overdue_schemes,
        "periods": book.overdue_periods,
        "amount": yuan_text(int(book.status["arrears_fen"])),
    }


def employer_response(
    request: Request,
    who: Viewer,
    employer_key: str,
    *,
    done: str | None = None,
    error: CanbaoError | None = None,
    entered: Mapping[str, Any] | None = None,
) -> Response:
    """The page; after a refused form, with the reason and what was typed, at its status."""
    view = _view(request, who, employer_key)
    can_dun = who.can("dunning.write") and view.dunning is not None
    context: dict[str, Any] = {
        "viewer": who,
        "e": view,
        "chart": employer_view.headcount_chart(view) if view.months else None,
        "months_schemes": sorted({s for m in view.months for s in m.declared}),
        "scheme_labels": SCHEME_LABELS_ZH,
        "ledger_sources": employer_view.LEDGER_SOURCE_ZH,
        "can_dun": can_dun,
        "can_agree": who.can("agreements.write") and view.agreements is not None,
        "can_approve": who.can("agreements.approve"),
        "agreement_kinds": agreements.KINDS,
        "overdue": _overdue(view),
        "open_dunning": any(c.next_steps for c in view.dunning or []),
        "step_labels": dunning.STEP_LABELS,
        "dunning_schemes": [(k, SCHEME_LABELS_ZH[k]) for k in EMPLOYER_SCHEMES],
        "today": dunning.today().isoformat(),
        "done": DONE.get(done or ""),
        # which section says what was done or refused: the one whose form it was
        "notice_at": "agreements"
        if done in AGREEMENT_DONE
        or str((entered or {}).get("form", "")).startswith(("agreement", "approve", "cancel"))
        else "dunning",
        "error": error,
        "entered": dict(entered or {}),
    }
    status = error.status if error is not None else 200
    return state_of(request).templates.TemplateResponse(
        request, "employer.html", context, status_code=status
    )


def registered(st: WebState, who: Viewer, employer_key: str) -> dunning.Employer:
    """The master employer a dunning case or an agreement is about (404 outside the scope)."""
    reg = employer_view.registration(st, who.scope, employer_key)
    return dunning.Employer(
        reg.employer_key, reg.name or "", reg.credit_code or "", reg.county_code
    )


def form_periods(form: Mapping[str, Any]) -> list[str]:
    """The contribution months typed in ``periods`` (comma-separated, either comma)."""
    text = str(form.get("periods") or "").replace("，", ",")
    return [p.strip() for p in text.split(",") if p.strip()]


async def act_on_page(
    request: Request,
    who: Viewer,
    employer_key: str,
    form_name: str,
    act: Callable[[dict[str, Any]], str],
) -> Response:
    """A form of the employer's page (``form_name``: which, for what was typed to come back
    into it): ``act(form)`` in a worker thread — the form's text fields and ``schemes``, the
    ticked ``scheme`` boxes — returns where to go next (a redirect); refused, the page comes
    back with the reason and what was typed, at the error's status."""
    raw = await request.form()
    form: dict[str, Any] = {**text_fields(raw), "schemes": [str(v) for v in raw.getlist("scheme")]}
    try:
        url = await run_in_threadpool(act, form)
    except CanbaoError as err:
        entered = {**form, "form": form_name}
        return employer_response(request, who, employer_key, error=err, entered=entered)
    return RedirectResponse(url, status_code=303)


@router.get("/employers/{employer_key}", response_class=HTMLResponse, include_in_schema=False)
def employer_page(
    request: Request,
    employer_key: str,
    who: Annotated[Viewer, Depends(need("ledger.read"))],
    done: str | None = None,
) -> Response:
    return employer_response(request, who, employer_key, done=done)


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
