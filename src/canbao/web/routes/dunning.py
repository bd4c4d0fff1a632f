"""催缴 (dunning) in the browser, on an employer's page: open a case with its 催缴通知, record
the next step the law allows (上门催缴, 责令限期缴纳决定, 移送劳动保障监察, 申请人民法院强制执行,
已缴清, 撤销), and download each step's 文书 as .docx.

A face over :mod:`canbao.collection.dunning` (the API ``canbao dunning`` calls): the role
(``dunning.write`` to act, ``ledger.read`` to read), the county scope, the transition table, the
version (乐观锁: a stale form is 409), the events and the audit-log entries are its. A refused
form brings the employer's page back with the reason and what was typed; a case outside the
viewer's counties answers 404, like a missing one."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from starlette.concurrency import run_in_threadpool

from canbao.collection import dunning
from canbao.errors import UsageError
from canbao.web.attachment import document
from canbao.web.auth import Viewer, need
from canbao.web.routes._steps import form_date, form_fen, form_version, scoped
from canbao.web.routes.employers import act_on_page, form_periods, registered
from canbao.web.state import WebState, state_of

router = APIRouter()


def _case(st: WebState, who: Viewer, case_id: int) -> dunning.CaseView:
    """The case when it is in the viewer's scope; 404 otherwise."""
    return scoped(
        partial(dunning.get, st.store, who.scope, case_id),
        f"没有催缴案件 #{case_id}（或不在您负责的区县）",
        "no such dunning case in scope",
    )


def _start(st: WebState, who: Viewer, key: str, form: Mapping[str, Any]) -> str:
    employer = registered(st, who, key)
    amount = form_fen(form, "amount", "欠费金额")
    if amount is None:
        raise UsageError("请填写欠费金额（元）", "amount required", field="amount")
    dunning.start(
        st.store, who.actor, who.scope,
        employer,
        form["schemes"], amount, periods=form_periods(form),
        on=form_date(form.get("on"), "催缴通知日期"),
        deadline=form_date(form.get("deadline"), "缴纳期限"),
        note=str(form.get("note") or "").strip(),
        late_fee_fen=form_fen(form, "late_fee", "滞纳金"),
        doc_no=str(form.get("doc_no") or "").strip(),
    )  # fmt: skip
    return f"/employers/{key}?done=dunning#dunning"


@router.post("/employers/{employer_key}/dunning", include_in_schema=False)
async def start_dunning(
    request: Request,
    employer_key: str,
    who: Annotated[Viewer, Depends(need("dunning.write"))],
) -> Response:
    act = partial(_start, state_of(request), who, employer_key)
    return await act_on_page(request, who, employer_key, "start", act)


def _step(st: WebState, who: Viewer, case: dunning.CaseView, form: Mapping[str, Any]) -> str:
    kind = str(form.get("kind") or "").strip()
    if kind not in dunning.STEP_LABELS:
        raise UsageError("请选择要登记的催缴步骤", "no dunning step chosen", field="kind")
    dunning.step(
        st.store, who.actor, who.scope, case.id, kind, on=form_date(form.get("on"), "步骤日期"),
        deadline=form_date(form.get("deadline"), "缴纳期限"),
        note=str(form.get("note") or "").strip(), amount_fen=form_fen(form, "amount", "金额"),
        doc_no=str(form.get("doc_no") or "").strip(), version=form_version(form),
    )  # fmt: skip
    return f"/employers/{case.employer_key}?done={kind}#dunning-{case.id}"


@router.post("/dunning/{dunning_case_id}/step", include_in_schema=False)
async def dunning_step(
    request: Request,
    dunning_case_id: int,
    who: Annotated[Viewer, Depends(need("dunning.write"))],
) -> Response:
    st = state_of(request)
    case = await run_in_threadpool(_case, st, who, dunning_case_id)
    act = partial(_step, st, who, case)
    return await act_on_page(request, who, case.employer_key, f"step-{case.id}", act)


@router.get("/dunning/{dunning_case_id}/steps/{seq}/document", include_in_schema=False)
def dunning_document(
    request: Request,
    dunning_case_id: int,
    seq: int,
    who: Annotated[Viewer, Depends(need("ledger.read"))],
) -> Response:
    """The step's 文书 (催缴通知书, 责令限期缴纳决定书, 移送书, 强制执行申请书) as .docx, from
    the bureau's template when it has one; an audit-log entry."""
    st = state_of(request)
    case_id = _case(st, who, dunning_case_id).id
    return document(
        partial(dunning.document, st.store, who.scope, st.profile, case_id, seq=seq,
                data_dir=st.data_dir),
        f"dunning-{case_id}-{seq}.docx",
    )  # fmt: skip
