"""缓缴 / 分期缴纳协议 (agreements) in the browser, on an employer's page: propose one (the
guarantee is required), approve it (another person with ``agreements.approve``: city staff),
cancel it, and download it as .docx.

A face over :mod:`canbao.collection.agreements` (the API ``canbao agreements`` calls): the
roles, the county scope, the schedule's rules, one active agreement per employer and scheme,
the version (乐观锁: a stale form is 409), the dunning case's move to 协议履行中 on approval and
back on cancellation, the events and the audit log are its. A refused form brings the
employer's page back with the reason and what was typed; an agreement of another county is
404."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool

from canbao.collection import agreements, dunning
from canbao.errors import CanbaoError, UsageError
from canbao.web import employer_view
from canbao.web.auth import Viewer, need
from canbao.web.routes._steps import form_date, form_fen, form_version, scoped, text_fields
from canbao.web.routes.employers import employer_response
from canbao.web.state import WebState, state_of

router = APIRouter()
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def _agreement(st: WebState, who: Viewer, agreement_id: int) -> agreements.AgreementView:
    """The agreement when it is in the viewer's scope; 404 otherwise."""
    return scoped(
        partial(agreements.get, st.store, who.scope, agreement_id),
        f"没有协议 #{agreement_id}（或不在您负责的区县）",
        "no such agreement in scope",
    )


def _count(form: Mapping[str, str]) -> int | None:
    text = (form.get("instalments") or "").strip()
    if not text:
        return None
    if not text.isdigit():
        raise UsageError(
            f"分期期数应为整数：“{text[:10]}”", "bad instalment count", field="instalments"
        )
    return int(text)


def _propose(
    st: WebState, who: Viewer, key: str, form: Mapping[str, str], schemes: list[str]
) -> None:
    reg = employer_view.registration(st, who.scope, key)
    principal = form_fen(form, "principal", "协议金额")
    if principal is None:
        raise UsageError("请填写协议金额（元）", "principal required", field="principal")
    kind = (form.get("kind") or "").strip()
    periods = [p.strip() for p in (form.get("periods") or "").replace("，", ",").split(",")]
    deferral = kind == "deferral"
    agreements.propose(
        st.store, who.actor, who.scope,
        dunning.Employer(reg.employer_key, reg.name or "", reg.credit_code or "", reg.county_code),
        schemes, kind, principal, guarantee_note=form.get("guarantee") or "",
        reason=form.get("reason") or "", periods=[p for p in periods if p],
        instalments=None if deferral else _count(form),
        first_due=None if deferral else form_date(form.get("first_due"), "首期缴纳期限"),
        start=form_date(form.get("start"), "缓缴起始日期") if deferral else None,
        end=form_date(form.get("end"), "缓缴截止日期") if deferral else None,
    )  # fmt: skip


@router.post("/employers/{employer_key}/agreements", include_in_schema=False)
async def propose_agreement(
    request: Request,
    employer_key: str,
    who: Annotated[Viewer, Depends(need("agreements.write"))],
) -> Response:
    st = state_of(request)
    raw = await request.form()
    form = text_fields(raw)
    schemes = [str(v) for v in raw.getlist("scheme")]
    try:
        await run_in_threadpool(_propose, st, who, employer_key, form, schemes)
    except CanbaoError as err:
        entered = {**form, "form": "agreement", "schemes": schemes}
        return employer_response(request, who, employer_key, error=err, entered=entered)
    url = f"/employers/{employer_key}?done=agreement-proposed#agreements"
    return RedirectResponse(url, status_code=303)


def _act(
    st: WebState, who: Viewer, agreement_id: int, action: str, form: Mapping[str, str]
) -> None:
    version = form_version(form)
    if action == "approve":
        agreements.approve(
            st.store, who.actor, who.scope, agreement_id, on=form_date(form.get("on"), "批准日期"),
            note=(form.get("note") or "").strip(), version=version,
        )  # fmt: skip
    else:
        agreements.cancel(
            st.store, who.actor, who.scope, agreement_id, reason=form.get("reason") or "",
            on=form_date(form.get("on"), "撤销日期"), version=version,
        )  # fmt: skip


async def _action(request: Request, who: Viewer, agreement_id: int, action: str) -> Response:
    st = state_of(request)
    a = await run_in_threadpool(_agreement, st, who, agreement_id)
    form = text_fields(await request.form())
    try:
        await run_in_threadpool(_act, st, who, agreement_id, action, form)
    except CanbaoError as err:
        entered = {**form, "form": f"{action}-{agreement_id}"}
        return employer_response(request, who, a.employer_key, error=err, entered=entered)
    done = "agreement-approved" if action == "approve" else "agreement-cancelled"
    url = f"/employers/{a.employer_key}?done={done}#agreement-{agreement_id}"
    return RedirectResponse(url, status_code=303)


@router.post("/agreements/{agreement_id}/approve", include_in_schema=False)
async def approve_agreement(
    request: Request,
    agreement_id: int,
    who: Annotated[Viewer, Depends(need("agreements.approve"))],
) -> Response:
    return await _action(request, who, agreement_id, "approve")


@router.post("/agreements/{agreement_id}/cancel", include_in_schema=False)
async def cancel_agreement(
    request: Request,
    agreement_id: int,
    who: Annotated[Viewer, Depends(need("agreements.write"))],
) -> Response:
    return await _action(request, who, agreement_id, "cancel")


@router.get("/agreements/{agreement_id}/document", include_in_schema=False)
def agreement_document(
    request: Request,
    agreement_id: int,
    who: Annotated[Viewer, Depends(need("ledger.read"))],
) -> Response:
    """The agreement as .docx (the bureau's template when it has one); an audit-log entry."""
    st = state_of(request)
    found = _agreement(st, who, agreement_id).id
    with tempfile.TemporaryDirectory(prefix="canbao-agreement-doc-") as tmp:
        path = agreements.document(
            st.store, who.scope, st.profile, found, Path(tmp), data_dir=st.data_dir
        )
        body, words = path.read_bytes(), path.name
    plain = f"agreement-{found}.docx"
    disposition = f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(words)}"
    return Response(body, media_type=DOCX, headers={"Content-Disposition": disposition})
