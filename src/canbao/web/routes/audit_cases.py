"""稽核案件 (audit cases) in the browser: the list in the viewer's scope (state, deadline, overdue,
findings and money), opening a case with its notice, one case with its findings and steps, the
forms to record the on-site audit (with the auditors' findings sheet, xlsx or CSV), to finish
(稽核结论 / 稽核意见书), to record rectification or to cancel, and the two documents as .docx.

A face over :mod:`canbao.audit.cases` (the API the CLI calls): the role (``audit.work`` to act,
``audit.read`` to read), the county scope, the version (乐观锁: a stale one is 409 and the page
comes back with what was typed), the events and the audit-log entries are theirs. A case outside
the viewer's counties answers 404, like a missing one.
"""

from __future__ import annotations

import datetime as dt
import re
import tempfile
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from canbao.audit import cases as audit_cases
from canbao.audit import documents as audit_documents
from canbao.audit.findings import KINDS as FINDING_KINDS
from canbao.audit.findings import read_findings
from canbao.cases.lifecycle import today
from canbao.collection.dunning import Employer
from canbao.errors import CanbaoError, NotFoundError, UsageError
from canbao.standards.money import yuan_text
from canbao.web.attachment import document
from canbao.web.auth import Viewer, need
from canbao.web.routes._steps import (
    CasePage,
    add_step_routes,
    form_date,
    form_version,
    scoped,
    take_step,
    text_fields,
)
from canbao.web.routes.cases import county_choices
from canbao.web.state import WebState, state_of

router = APIRouter()
UPLOAD_MAX = 10 * 1024 * 1024
STATE_CHOICES = {"open": "未结（全部）", **audit_cases.STATE_LABELS, "all": "全部状态"}
DONE = {
    "open": "已发出稽核通知",
    "record": "已登记现场稽核",
    "finish": "已作出稽核结论",
    "rectify": "已登记整改完成",
    "cancel": "已撤销",
}
EVENT_WORDS = {
    "notice_on": "通知日期",
    "visit_on": "稽核日期",
    "visited_on": "现场稽核日期",
    "findings": "稽核发现（项）",
    "result_due": "结论期限",
    "opinion_due": "意见书期限",
    "on": "日期",
    "rectify_by": "整改期限",
    "reason": "原因",
    "note": "说明",
}


def _find(st: WebState, who: Viewer, case_id: int) -> int:
    """The case's number when it is in the viewer's scope; 404 otherwise (nothing says which)."""
    scoped(
        partial(audit_cases.view, st.store, who.scope, case_id),
        f"没有稽核案件 #{case_id}（或不在您负责的区县）",
        "no such audit case in scope",
    )
    return case_id


def _rows(found: list[audit_cases.AuditCaseView]) -> list[dict[str, Any]]:
    now = today()
    return [
        {"c": c, "overdue": c.overdue(now), "deadline": c.deadline} for c in found
    ]  # fmt: skip


@router.get("/audit/cases", response_class=HTMLResponse, include_in_schema=False)
def audit_cases_page(
    request: Request,
    who: Annotated[Viewer, Depends(need("audit.read"))],
    state: str = "open",
    county: str | None = None,
    done: str | None = None,
) -> Response:
    st = state_of(request)
    chosen = None if state in ("all", "open", "") else state
    code = (county or "").strip() or None
    found = audit_cases.list_cases(
        st.store, who.scope, county=code, state=chosen, open_only=state == "open", limit=500
    )
    return _list_page(
        request, st, who, found, state=state, county=code or "", can_work=who.can("audit.work"),
        done=DONE.get(done or ""), entered={}, error=None,
    )  # fmt: skip


def _list_page(
    request: Request,
    st: WebState,
    who: Viewer,
    found: list[audit_cases.AuditCaseView],
    *,
    state: str,
    county: str,
    can_work: bool,
    done: str | None,
    entered: Mapping[str, str],
    error: CanbaoError | None,
) -> Response:
    """The list with the form to open a case (a refused one comes back with what was typed)."""
    counties = county_choices(who, st.profile)
    context: dict[str, Any] = {
        "viewer": who,
        "rows": _rows(found),
        "state": state,
        "county": county,
        "states": STATE_CHOICES,
        "counties": counties,
        "county_name": dict(counties),
        "matters": audit_cases.MATTERS,
        "can_work": can_work,
        "today": today().isoformat(),
        "done": done,
        "entered": entered,
        "error": error,
    }
    status = error.status if error is not None else 200
    return st.templates.TemplateResponse(request, "audit_cases.html", context, status_code=status)


def _need_date(form: Mapping[str, str], key: str, what: str) -> dt.date:
    out = form_date(form.get(key), what)
    if out is None:
        raise UsageError(f"请填写{what}", f"{key} required", field=key)
    return out


def _employer(st: WebState, who: Viewer, form: Mapping[str, str]) -> Employer:
    """The employer named in the form: from the registry when it knows it, else as typed."""
    ident = (form.get("employer") or "").strip()
    if not ident:
        raise UsageError("请填写单位统一社会信用代码或单位主键", "employer required")
    name = (form.get("name") or "").strip() or None
    county = (form.get("county") or "").strip() or None
    from canbao.cli.agreements import _employer as lookup

    return lookup(st.data_dir, ident, name, county, who.scope)


def _open(st: WebState, who: Viewer, form: Mapping[str, str]) -> audit_cases.AuditCaseView:
    matters = [m for m in audit_cases.MATTERS if form.get(f"matter_{m}")]
    auditors = re.split(r"[，,、\s]+", form.get("auditors") or "")
    return audit_cases.open_case(
        st.store, who.actor, who.scope, _employer(st, who, form),
        notice_on=_need_date(form, "notice_on", "通知日期"),
        visit_on=_need_date(form, "visit_on", "稽核日期"),
        period_from=(form.get("period_from") or "").strip(),
        period_to=(form.get("period_to") or "").strip(), matters=matters,
        auditors=[a for a in auditors if a], notice_no=(form.get("notice_no") or "").strip(),
    )  # fmt: skip


@router.post("/audit/cases", response_class=HTMLResponse, include_in_schema=False)
async def open_audit_case(
    request: Request, who: Annotated[Viewer, Depends(need("audit.work"))]
) -> Response:
    st = state_of(request)
    form = text_fields(await request.form())
    try:
        c = await run_in_threadpool(_open, st, who, form)
    except CanbaoError as err:
        found = audit_cases.list_cases(st.store, who.scope, open_only=True, limit=500)
        return _list_page(
            request, st, who, found, state="open", county="", can_work=True, done=None,
            entered=form, error=err,
        )  # fmt: skip
    return RedirectResponse(f"/audit/cases/{c.id}?done=open", status_code=303)


# --- one case -------------------------------------------------------------------------------


def _event_text(detail: Mapping[str, Any]) -> str:
    parts = [f"{w}：{detail[k]}" for k, w in EVENT_WORDS.items() if detail.get(k) not in (None, "")]
    if detail.get("conclusion"):
        parts.insert(0, audit_cases.CONCLUSIONS.get(str(detail["conclusion"]), ""))
    if detail.get("overdue"):
        parts.append("超过法定期限")
    if detail.get("unpaid_fen") or detail.get("assessed_fen"):
        fen = int(detail.get("unpaid_fen") or detail.get("assessed_fen") or 0)
        parts.append(f"应补缴：{yuan_text(fen, thousands=True)} 元")
    return "；".join(parts)


def _case_context(
    st: WebState, who: Viewer, c: audit_cases.AuditCaseView, now: dt.date
) -> dict[str, Any]:
    """The case's own part of its page: the steps the viewer may take, the findings' kinds and
    the history in words."""
    return {
        "steps": c.next_steps if who.can("audit.work") else [],
        "step_labels": audit_cases.STEP_LABELS,
        "conclusions": audit_cases.CONCLUSIONS,
        "finding_kinds": FINDING_KINDS,
        "history": [
            {
                "at": e.at,
                "actor": e.actor,
                "action": audit_cases.STEP_LABELS.get(e.action, e.action),
                "to": audit_cases.STATE_LABELS.get(e.to_state, e.to_state),
                "text": _event_text(e.detail),
            }
            for e in reversed(c.events)
        ],  # fmt: skip
        "overdue": c.overdue(now),
    }


case_response = CasePage(("audit_case_part.html", "audit_case.html"), DONE, _case_context, today)


@router.get("/audit/cases/{audit_case_id}", response_class=HTMLResponse, include_in_schema=False)
def audit_case_page(
    request: Request,
    audit_case_id: int,
    who: Annotated[Viewer, Depends(need("audit.read"))],
    done: str | None = None,
) -> Response:
    st = state_of(request)
    c = audit_cases.get_case(st.store, who.scope, _find(st, who, audit_case_id))
    return case_response(request, who, c, done=done)


def run_step(
    st: WebState, who: Viewer, case_id: int, step: str, form: Mapping[str, str], sheet: Path | None
) -> audit_cases.AuditCaseView:
    """Take ``step`` with the form's fields (and the uploaded findings sheet, for ``record``)."""
    version, actor, scope = form_version(form), who.actor, who.scope
    note = (form.get("note") or "").strip()
    if step == "record":
        region = st.profile.policy_region
        found = read_findings(sheet, region) if sheet is not None else []
        return audit_cases.record(
            st.store, actor, scope, case_id, visited_on=_need_date(form, "visited_on", "现场稽核日期"),
            findings=found, note=note, version=version,
            calendar=audit_cases.calendar_for(st.data_dir),
        )  # fmt: skip
    if step == "finish":
        return audit_cases.finish(
            st.store, actor, scope, case_id, on=_need_date(form, "on", "结论日期"),
            conclusion=(form.get("conclusion") or "opinion").strip(),
            rectify_by=form_date(form.get("rectify_by"), "整改期限"), note=note,
            opinion_no=(form.get("opinion_no") or "").strip(), version=version,
        )  # fmt: skip
    if step == "rectify":
        return audit_cases.rectify(st.store, actor, scope, case_id,
                                   on=_need_date(form, "on", "整改完成日期"), note=note,
                                   version=version)  # fmt: skip
    if step == "cancel":
        return audit_cases.cancel(st.store, actor, scope, case_id,
                                  reason=(form.get("reason") or "").strip(), version=version)  # fmt: skip
    raise NotFoundError("没有这个办理步骤", f"no audit case step {step!r}")


async def _sheet(upload: Any, folder: Path) -> Path | None:
    if not isinstance(upload, UploadFile) or not upload.filename:
        return None
    name = Path(upload.filename).name
    suffix = Path(name).suffix.lower()
    if suffix not in (".xlsx", ".xls", ".csv"):
        raise UsageError("稽核发现表应为 .xlsx、.xls 或 .csv 文件", "bad findings upload",
                         field="findings")  # fmt: skip
    path = folder / f"findings{suffix}"
    size = 0
    with path.open("wb") as out:
        while chunk := await upload.read(1024 * 1024):
            size += len(chunk)
            if size > UPLOAD_MAX:
                raise UsageError("稽核发现表过大", "upload too large", field="findings")
            out.write(chunk)
    return path


async def step_response(request: Request, who: Viewer, case_id: int, step: str) -> Response:
    st = state_of(request)
    cid = _find(st, who, case_id)
    raw = await request.form()
    form = text_fields(raw)
    with tempfile.TemporaryDirectory(prefix="canbao-audit-") as tmp:

        async def take() -> audit_cases.AuditCaseView:
            sheet = await _sheet(raw.get("findings"), Path(tmp)) if step == "record" else None
            return await run_in_threadpool(run_step, st, who, cid, step, form, sheet)

        return await take_step(
            request, who, step, form, take=take,
            reread=partial(audit_cases.get_case, st.store, who.scope, cid),
            respond=case_response, url=f"/audit/cases/{cid}?done={step}",
        )  # fmt: skip


add_step_routes(
    router, "/audit/cases", "audit_case_id", ("record", "finish", "rectify", "cancel"),
    "audit.work", step_response, include_in_schema=False,
)  # fmt: skip


@router.get("/audit/cases/{audit_case_id}/document/{which}", include_in_schema=False)
def audit_document(
    request: Request,
    audit_case_id: int,
    which: str,
    who: Annotated[Viewer, Depends(need("audit.read"))],
) -> Response:
    """The 稽核通知书 (``notice``) or 稽核意见书 (``opinion``) as .docx."""
    st = state_of(request)
    cid = _find(st, who, audit_case_id)
    return document(
        partial(audit_documents.document, st.store, who.scope, st.profile, cid, which,
                data_dir=st.data_dir),
        f"audit-{cid}-{which}.docx",
    )  # fmt: skip
