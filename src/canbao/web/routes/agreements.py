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

from collections.abc import Mapping
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from starlette.concurrency import run_in_threadpool

from canbao.collection import agreements
from canbao.errors import UsageError
from canbao.web.attachment import document
from canbao.web.auth import Viewer, need
from canbao.web.routes._steps import form_date, form_fen, form_version, scoped
from canbao.web.routes.employers import act_on_page, form_periods, registered
from canbao.web.state import WebState, state_of

router = APIRouter()


def _agreement(st: WebState, who: Viewer, agreement_id: int) -> agreements.AgreementView:
    """The agreement when it is in the viewer's scope; 404 otherwise."""
    return scoped(
        partial(agreements.get, st.store, who.scope, agreement_id),
        f"没有协议 #{agreement_id}（或不在您负责的区县）",
        "no such agreement in scope",
    )


def _count(form: Mapping[str, Any]) -> int | None:
    text = str(form.get("instalments") or "").strip()
    if not text:
        return None
    if not text.isdigit():
        raise UsageError(
            f"分期期数应为整数：“{text[:10]}”", "bad instalment count", field="instalments"
        )
    return int(text)


def _propose(st: WebState, who: Viewer, key: str, form: Mapping[str, Any]) -> str:
    employer = registered(st, who, key)
    principal = form_fen(form, "principal", "协议金额")
    if principal is None:
        raise UsageError("请填写协议金额（元）", "principal required", field="principal")
    kind = str(form.get("kind") or "").strip()
    deferral = kind == "deferral"
    agreements.propose(
        st.store, who.actor, who.scope,
        employer,
        form["schemes"], kind, principal, guarantee_note=str(form.get("guarantee") or ""),
        reason=str(form.get("reason") or ""), periods=form_periods(form),
        instalments=None if deferral else _count(form),
        first_due=None if deferral else form_date(form.get("first_due"), "首期缴纳期限"),
        start=form_date(form.get("start"), "缓缴起始日期") if deferral else None,
        end=form_date(form.get("end"), "缓缴截止日期") if deferral else None,
    )  # fmt: skip
    return f"/employers/{key}?done=agreement-proposed#agreements"


@router.post("/employers/{employer_key}/agreements", include_in_schema=False)
async def propose_agreement(
    request: Request,
    employer_key: str,
    who: Annotated[Viewer, Depends(need("agreements.write"))],
) -> Response:
    act = partial(_propose, state_of(request), who, employer_key)
    return await act_on_page(request, who, employer_key, "agreement", act)


def _act(
    st: WebState, who: Viewer, a: agreements.AgreementView, action: str, form: Mapping[str, Any]
) -> str:
    version, on = form_version(form), form.get("on")
    if action == "approve":
        agreements.approve(
            st.store, who.actor, who.scope, a.id, on=form_date(on, "批准日期"),
            note=str(form.get("note") or "").strip(), version=version,
        )  # fmt: skip
    else:
        agreements.cancel(
            st.store, who.actor, who.scope, a.id, reason=str(form.get("reason") or ""),
            on=form_date(on, "撤销日期"), version=version,
        )  # fmt: skip
    done = "agreement-approved" if action == "approve" else "agreement-cancelled"
    return f"/employers/{a.employer_key}?done={done}#agreement-{a.id}"


async def _action(request: Request, who: Viewer, agreement_id: int, action: str) -> Response:
    st = state_of(request)
    a = await run_in_threadpool(_agreement, st, who, agreement_id)
    act = partial(_act, st, who, a, action)
    return await act_on_page(request, who, a.employer_key, f"{action}-{a.id}", act)


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
    return document(
        partial(agreements.document, st.store, who.scope, st.profile, found, data_dir=st.data_dir),
        f"agreement-{found}.docx",
    )
