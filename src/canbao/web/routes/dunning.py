"""催缴 (dunning) in the browser, on an employer's page: open a case with its 催缴通知, record
the next step the law allows (上门催缴, 责令限期缴纳决定, 移送劳动保障监察, 申请人民法院强制执行,
已缴清, 撤销), and download each step's 文书 as .docx.

A face over :mod:`canbao.collection.dunning` (the API ``canbao dunning`` calls): the role
(``dunning.write`` to act, ``ledger.read`` to read), the county scope, the transition table, the
version (乐观锁: a stale form is 409), the events and the audit-log entries are its. A refused
form brings the employer's page back with the reason and what was typed; a case outside the
viewer's counties answers 404, like a missing one."""

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

from canbao.collection import dunning
from canbao.errors import CanbaoError, UsageError
from canbao.web import employer_view
from canbao.web.auth import Viewer, need
from canbao.web.routes._steps import form_date, form_fen, form_version, scoped, text_fields
from canbao.web.routes.employers import employer_response
from canbao.web.state import WebState, state_of

router = APIRouter()
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def _case(st: WebState, who: Viewer, case_id: int) -> dunning.CaseView:
    """The case when it is in the viewer's scope; 404 otherwise."""
    return scoped(
        partial(dunning.get, st.store, who.scope, case_id),
        f"没有催缴案件 #{case_id}（或不在您负责的区县）",
        "no such dunning case in scope",
    )


def _start(
    st: WebState, who: Viewer, key: str, form: Mapping[str, str], schemes: list[str]
) -> None:
    reg = employer_view.registration(st, who.scope, key)
    amount = form_fen(form, "amount", "欠费金额")
    if amount is None:
        raise UsageError("请填写欠费金额（元）", "amount required", field="amount")
    periods = [p for p in (form.get("periods") or "").replace("，", ",").split(",") if p.strip()]
    dunning.start(
        st.store, who.actor, who.scope,
        dunning.Employer(reg.employer_key, reg.name or "", reg.credit_code or "", reg.county_code),
        schemes, amount, periods=[p.strip() for p in periods],
        on=form_date(form.get("on"), "催缴通知日期"),
        deadline=form_date(form.get("deadline"), "缴纳期限"),
        note=(form.get("note") or "").strip(), late_fee_fen=form_fen(form, "late_fee", "滞纳金"),
        doc_no=(form.get("doc_no") or "").strip(),
    )  # fmt: skip


@router.post("/employers/{employer_key}/dunning", include_in_schema=False)
async def start_dunning(
    request: Request,
    employer_key: str,
    who: Annotated[Viewer, Depends(need("dunning.write"))],
) -> Response:
    st = state_of(request)
    raw = await request.form()
    form = text_fields(raw)
    schemes = [str(v) for v in raw.getlist("scheme")]
    try:
        await run_in_threadpool(_start, st, who, employer_key, form, schemes)
    except CanbaoError as err:
        entered = {**form, "form": "start", "schemes": schemes}
        return employer_response(request, who, employer_key, error=err, entered=entered)
    return RedirectResponse(f"/employers/{employer_key}?done=dunning#dunning", status_code=303)


def _step(st: WebState, who: Viewer, case_id: int, form: Mapping[str, str]) -> str:
    kind = (form.get("kind") or "").strip()
    if kind not in dunning.STEP_LABELS:
        raise UsageError("请选择要登记的催缴步骤", "no dunning step chosen", field="kind")
    on = form_date(form.get("on"), "步骤日期")
    dunning.step(
        st.store, who.actor, who.scope, case_id, kind, on=on,
        deadline=form_date(form.get("deadline"), "缴纳期限"),
        note=(form.get("note") or "").strip(), amount_fen=form_fen(form, "amount", "金额"),
        doc_no=(form.get("doc_no") or "").strip(), version=form_version(form),
    )  # fmt: skip
    return kind


@router.post("/dunning/{dunning_case_id}/step", include_in_schema=False)
async def dunning_step(
    request: Request,
    dunning_case_id: int,
    who: Annotated[Viewer, Depends(need("dunning.write"))],
) -> Response:
    st = state_of(request)
    case_id = dunning_case_id
    case = await run_in_threadpool(_case, st, who, case_id)
    form = text_fields(await request.form())
    try:
        kind = await run_in_threadpool(_step, st, who, case_id, form)
    except CanbaoError as err:
        entered = {**form, "form": f"step-{case_id}"}
        return employer_response(request, who, case.employer_key, error=err, entered=entered)
    url = f"/employers/{case.employer_key}?done={kind}#dunning-{case_id}"
    return RedirectResponse(url, status_code=303)


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
    with tempfile.TemporaryDirectory(prefix="canbao-dunning-doc-") as tmp:
        path = dunning.document(
            st.store, who.scope, st.profile, case_id, Path(tmp), seq=seq, data_dir=st.data_dir
        )
        body, words = path.read_bytes(), path.name
    plain = f"dunning-{case_id}-{seq}.docx"
    disposition = f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(words)}"
    return Response(body, media_type=DOCX, headers={"Content-Disposition": disposition})
