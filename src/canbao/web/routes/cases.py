"""个案 (cases): the work lists that close, in the browser — the list (my cases / my county's,
filters, paging), one case with its history and next steps (assign, contact, resolve with a coded
outcome, escalate, reopen), the Excel round trip (export a county's open cases, import a returned
workbook) — and the ``/api/cases`` twins.

A face over :mod:`canbao.cases` (the API the CLI calls): every step goes through its functions,
so the role (``case.work``), the county scope, the event and the audit-log entry are theirs. Every
step form carries the version the page was read at (乐观锁): a stale one answers 409 in Chinese
and the page comes back with what was typed, so nothing is lost. A case outside the viewer's
counties answers 404, like a missing one.

**The ``{key}`` of the API** (``GET /api/cases/{key}``, ``POST /api/cases/{key}/outcome``) is
either the case's number (``123``, as the pages show it) or its stable key
``kind/subject_key/scheme`` (the same case next month, so another system can keep it; its
slashes as they are or as ``%2F``; a key whose scheme is empty ends in ``/``, which may be left
off). Lists and the API show names masked and never an address; the case page shows the name and
address for the visit, which :func:`canbao.cases.get_case` writes to the audit log.

The list reads the ``cases`` table itself (paging, a township filter and a total, which
:func:`canbao.cases.list_cases` does not offer), through the same scope condition
(:func:`canbao.cases.lifecycle.in_scope`) and reader check.
"""

from __future__ import annotations

import datetime as dt
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, func, select
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from canbao import cases
from canbao.cases import lifecycle, outcomes
from canbao.cases.kinds import KINDS, LIST_FIELDS, SUBJECT_FIELDS, check_kind
from canbao.cases.workbook import LABELS
from canbao.coverage.segments import SEGMENTS_ZH
from canbao.errors import NotFoundError, UsageError
from canbao.ingest.kinds import SCHEME_LABELS_ZH
from canbao.profile import Profile
from canbao.standards import masking
from canbao.store import Store, accounts, roles
from canbao.store.models import Case
from canbao.web.attachment import XLSX, attachment
from canbao.web.auth import Viewer, need
from canbao.web.routes._steps import (
    CasePage,
    add_step_routes,
    form_date,
    form_version,
    take_step,
    text_fields,
)
from canbao.web.state import WebState, state_of

router = APIRouter()
PAGE_SIZE = 50
API_PAGE_MAX = 500
UPLOAD_MAX = 30 * 1024 * 1024  # a returned workbook: a county's open cases fit many times over
STATE_CHOICES = {"open": "未办结（全部）", **lifecycle.STATE_LABELS, "all": "全部状态"}
DONE = {
    "assign": "已分派",
    "contact": "已登记联系情况",
    "resolve": "已登记处理结果",
    "escalate": "已上报",
    "reopen": "已重新打开",
}
NAME_FIELDS = ("name", "left_name", "right_name")  # masked wherever a list shows them
ORG_CODES = frozenset({"credit_code", "employer_credit_code"})  # an employer's, shown as they are
SCHEME_FIELDS = frozenset({"schemes", "declared_schemes", "scheme"})
SEX_WORDS = {"M": "男", "F": "女"}
VALUE_WORDS = {"segment": SEGMENTS_ZH, "sex": SEX_WORDS, "left_sex": SEX_WORDS,
               "right_sex": SEX_WORDS}  # fmt: skip
EVENT_WORDS = {
    "ref": "受理号",  # a self-service change request (canbao.selfservice.contact_change)
    "new_value": "申请变更为",
    "outcome_date": "结果日期",
    "outcome_reason": "情况说明",
    "expires_on": "有效期至",
    "assignee": "经办人",
    "team": "乡镇工作组",
    "on": "联系日期",
    "note": "说明",
    "reason": "原因",
    "decision": "复核决定",
    "via": "方式",
}


# --- reading --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CaseFilter:
    """What the list shows: the viewer's own cases (``mine``) or every case in their scope,
    narrowed by kind, state (``open``: every open state), county, township and assignee."""

    mine: bool = False
    kind: str | None = None
    state: str | None = None
    county: str | None = None
    township: str | None = None
    assignee: str | None = None
    page: int = 1
    size: int = PAGE_SIZE

    def query(self, **changes: Any) -> str:
        """The page's query string with ``changes`` (paging links, tabs)."""
        f = replace(self, **changes)
        pairs = {
            "tab": "mine" if f.mine else "all",
            "kind": f.kind or "",
            "state": f.state or "all",
            "county": f.county or "",
            "township": f.township or "",
            "assignee": f.assignee or "",
            "page": str(f.page) if f.page > 1 else "",
        }
        return urlencode({k: v for k, v in pairs.items() if v})


def _blank(value: str | None) -> str | None:
    text = (value or "").strip()
    return text[:64] or None


def case_filter(
    who: Viewer,
    region: Profile,
    *,
    mine: bool = False,
    kind: str | None = None,
    state: str | None = None,
    county: str | None = None,
    township: str | None = None,
    assignee: str | None = None,
    page: int = 1,
    size: int = PAGE_SIZE,
) -> CaseFilter:
    """A checked filter: a known kind and state, a county (code or name) in the viewer's scope."""
    kind, state, code = _blank(kind), _blank(state), _blank(county)
    if kind is not None:
        check_kind(kind)
    if state == "all":
        state = None
    elif state is not None and state not in STATE_CHOICES:
        shown = "、".join(f"{k}（{v}）" for k, v in STATE_CHOICES.items())
        raise UsageError(f"未知的案件状态“{state}”（可用：{shown}）", f"bad state {state!r}")
    if code is not None and not re.fullmatch(r"\d{6}", code):
        named = region.resolve_county(code)
        code = named.code if named is not None else code
    if code is not None:
        who.scope.require_county(code)
    return CaseFilter(
        mine, kind, state, code, _blank(township), _blank(assignee), max(1, page), size
    )


def _conditions(who: Viewer, f: CaseFilter) -> list[ColumnElement[bool]]:
    conds = [lifecycle.in_scope(who.scope)]
    if f.mine:
        conds.append(Case.assignee == who.name)
    if f.kind is not None:
        conds.append(Case.kind == f.kind)
    if f.state == "open":
        conds.append(Case.state.in_(sorted(lifecycle.OPEN)))
    elif f.state is not None:
        conds.append(Case.state == f.state)
    if f.county is not None:
        conds.append(Case.county_code == f.county)
    if f.township is not None:
        conds.append(Case.township == f.township)
    if f.assignee is not None:
        conds.append(Case.assignee == f.assignee)
    return conds


def page_of(store: Store, who: Viewer, f: CaseFilter) -> tuple[int, list[dict[str, Any]]]:
    """(how many cases match, the rows of page ``f.page``), most urgent first, masked."""
    lifecycle.can_read(who.scope)
    conds = _conditions(who, f)
    q = select(Case).where(*conds).order_by(Case.county_code, Case.township, Case.priority, Case.id)
    with store.sessions() as s:
        total = int(s.execute(select(func.count()).select_from(Case).where(*conds)).scalar_one())
        found = s.execute(q.offset((f.page - 1) * f.size).limit(f.size)).scalars().all()
        return total, [list_row(c) for c in found]


def masked_subject(subject_type: str, subject: Mapping[str, Any]) -> dict[str, Any]:
    """A case's display fields as a list shows them: no address, person names masked, any
    ID-shaped digits masked (the store keeps IDs and phones masked already)."""
    out: dict[str, Any] = {}
    for key in LIST_FIELDS:
        value = subject.get(key)
        if value is None or value == "":
            continue
        text = str(value) if key in ORG_CODES else masking.mask_text(str(value))
        if key in NAME_FIELDS and subject_type != "employer":
            text = masking.mask_name(text)
        out[key] = text
    return out


def list_row(c: Case | lifecycle.CaseView) -> dict[str, Any]:
    """One case for a list or the API: masked, without history."""
    subject = masked_subject(c.subject_type, dict(c.subject or {}))
    kind = KINDS.get(c.kind)
    code = c.outcome
    return {
        "case_id": c.id,
        "case_key": c.case_key,
        "kind": c.kind,
        "kind_label": kind.label if kind else c.kind,
        "county_code": c.county_code,
        "township": c.township,
        "priority": c.priority,
        "subject_type": c.subject_type,
        "subject": subject,
        "state": c.state,
        "state_label": lifecycle.STATE_LABELS.get(c.state, c.state),
        "assignee": c.assignee,
        "team": c.team,
        "outcome": code,
        "outcome_label": outcomes.OUTCOMES[code].label if code in outcomes.OUTCOMES else "",
        "outcome_date": c.outcome_date.isoformat() if c.outcome_date else None,
        "version": c.version,
    }


def find_case(store: Store, who: Viewer, key: str) -> int:
    """The number of the case ``key`` names (its number or its stable key) in the viewer's
    scope; a NotFoundError for a case that is missing or outside it (nothing says which)."""
    text = key.strip()
    if text.isdigit() and len(text) <= 18:
        cond = Case.id == int(text)
    else:
        cond = Case.case_key.in_([text, text + "/"])
    with store.sessions() as s:
        found = s.execute(
            select(Case.id).where(cond, lifecycle.in_scope(who.scope)).limit(1)
        ).scalar_one_or_none()
    if found is None:
        shown = masking.mask_text(text[:80])
        raise NotFoundError(
            f"没有案件“{shown}”（或不在您负责的区县）", "no such case in the reader's scope"
        )
    return int(found)


def _distinct(store: Store, who: Viewer, column: Any, county: str | None) -> list[str]:
    conds = [lifecycle.in_scope(who.scope), column.is_not(None)]
    if county is not None:
        conds.append(Case.county_code == county)
    q = select(column).where(*conds).distinct().order_by(column).limit(500)
    with store.sessions() as s:
        return [str(v) for v in s.execute(q).scalars()]


def county_choices(who: Viewer, region: Profile) -> list[tuple[str, str]]:
    return [(c.code, c.name) for c in region.counties if who.scope.allows(c.code)]


def assignable(store: Store, region: Profile, county: str | None) -> list[tuple[str, str]]:
    """(user name, label) of the active users who may work cases in ``county`` — the rule
    :func:`canbao.cases.assign` checks."""
    areas = region.area_units()
    out = []
    for u in accounts.list_users(store):
        if u.disabled or not roles.can(u.role, "case.work"):
            continue
        if u.counties:
            theirs = set(u.counties) | {a for a, unit in areas.items() if unit in u.counties}
            if county not in theirs:
                continue
        shown = u.display_name or u.name
        out.append((u.name, f"{shown}（{roles.ROLES.get(u.role, u.role)}）"))
    return out


# --- the list -------------------------------------------------------------------------------


def _pages(total: int, f: CaseFilter) -> dict[str, Any]:
    last = max(1, (total + f.size - 1) // f.size)
    near = range(max(1, f.page - 3), min(last, f.page + 3) + 1)
    return {
        "total": total,
        "page": f.page,
        "last": last,
        "links": [(n, f.query(page=n)) for n in near],
        "prev": f.query(page=f.page - 1) if f.page > 1 else None,
        "next": f.query(page=f.page + 1) if f.page < last else None,
    }


@router.get("/cases", response_class=HTMLResponse, include_in_schema=False)
def cases_page(
    request: Request,
    who: Annotated[Viewer, Depends(need("worklist.read"))],
    tab: str = "all",
    kind: str | None = None,
    state: str | None = "open",
    county: str | None = None,
    township: str | None = None,
    assignee: str | None = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    st = state_of(request)
    f = case_filter(
        who, st.profile, mine=tab == "mine", kind=kind, state=state, county=county,
        township=township, assignee=assignee, page=page,
    )  # fmt: skip
    total, rows = page_of(st.store, who, f)
    counties = county_choices(who, st.profile)
    context: dict[str, Any] = {
        "viewer": who,
        "f": f,
        "rows": rows,
        "pages": _pages(total, f),
        "kinds": [(k, v.label) for k, v in KINDS.items() if v.lists],
        "states": STATE_CHOICES,
        "counties": counties,
        "county_name": dict(counties),
        "townships": _distinct(st.store, who, Case.township, f.county),
        "assignees": _distinct(st.store, who, Case.assignee, f.county),
        "tabs": {"mine": "我的个案", "all": "本区县个案" if who.scope.counties else "全部个案"},
        "one_county": counties[0][0] if len(counties) == 1 else "",
    }
    return st.templates.TemplateResponse(request, "cases.html", context)


# --- the Excel round trip -------------------------------------------------------------------


@router.get("/cases/export", include_in_schema=False)
def export_cases(
    request: Request,
    who: Annotated[Viewer, Depends(need("export.personal"))],
    county: str = "",
    kind: str = "",
) -> Response:
    """The open cases of a county (of a kind, or every kind) as the workbook to fill in (the
    work list's reader only: ``worklist.read`` too)."""
    who.require("worklist.read")
    st = state_of(request)
    f = case_filter(who, st.profile, county=county, kind=kind)
    code = f.county
    if code is None:
        mine = county_choices(who, st.profile)
        if len(mine) != 1:
            raise UsageError("请选择要导出的区县", "cases export: no county", field="county")
        code = mine[0][0]
    with tempfile.TemporaryDirectory(prefix="canbao-cases-") as tmp:
        out = Path(tmp) / f"cases-{code}.xlsx"
        cases.export_workbook(st.store, who.scope, code, f.kind, out)
        body = out.read_bytes()
    plain = f"cases-{code}-{f.kind or 'all'}.xlsx"
    words = f"{st.profile.unit_name(code) or code}-{KINDS[f.kind].label if f.kind else '全部'}"
    return attachment(body, plain, words + "个案.xlsx", XLSX)


def _upload_name(upload: UploadFile) -> str:
    name = Path(upload.filename or "").name
    if not name.lower().endswith(".xlsx"):
        raise UsageError(
            "请上传案件导出的 .xlsx 工作簿", f"upload {name!r} is not .xlsx", field="workbook"
        )
    safe = re.sub(r"[^\w.()（）-]+", "_", masking.mask_text(name))[-100:]
    return safe if safe.lower().endswith(".xlsx") else "workbook.xlsx"


async def _save(upload: UploadFile, path: Path) -> None:
    size = 0
    with path.open("wb") as out:
        while chunk := await upload.read(1024 * 1024):
            size += len(chunk)
            if size > UPLOAD_MAX:
                raise UsageError(
                    f"上传的工作簿过大（超过 {UPLOAD_MAX // 1024 // 1024} MB）",
                    "upload too large",
                    field="workbook",
                )
            out.write(chunk)


@router.post("/cases/import", response_class=HTMLResponse, include_in_schema=False)
async def import_cases(
    request: Request, who: Annotated[Viewer, Depends(need("case.work"))]
) -> Response:
    """Apply a returned workbook: the applied count and every rejected row, cell and reason."""
    st = state_of(request)
    upload = (await request.form()).get("workbook")
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise UsageError("请选择要上传的工作簿（.xlsx）", "no workbook uploaded", field="workbook")
    name = _upload_name(upload)
    with tempfile.TemporaryDirectory(prefix="canbao-import-") as tmp:
        path = Path(tmp) / name
        await _save(upload, path)
        result = await run_in_threadpool(
            partial(cases.import_workbook, data_dir=st.data_dir),
            st.store, who.actor, who.scope, path,
        )  # fmt: skip
    context: dict[str, Any] = {"viewer": who, "result": result, "name": name}
    return st.templates.TemplateResponse(request, "cases_import.html", context)


# --- one case -------------------------------------------------------------------------------


def _needs(o: outcomes.Outcome) -> str:
    parts = (["日期"] if o.date else []) + ([o.reason] if o.reason else [])
    parts += ["有效期至"] if o.expiry else []
    return f"（需填：{'、'.join(parts)}）" if parts else ""


def _event_text(detail: Mapping[str, Any]) -> str:
    parts = []
    code = detail.get("outcome")
    if code:
        o = outcomes.OUTCOMES.get(str(code))
        parts.append(f"处理结果：{o.label if o else code}")
    for key, word in EVENT_WORDS.items():
        value = detail.get(key)
        if value not in (None, ""):
            parts.append(f"{word}：{'工作簿导入' if value == 'workbook' else value}")
    return masking.mask_text("；".join(parts))


def _words(key: str, text: str) -> str:
    """A code of the subject in words (scheme, segment, sex), as the work lists print them."""
    if key in SCHEME_FIELDS:
        words = re.sub(r"[a-z_]+", lambda m: SCHEME_LABELS_ZH.get(m[0], m[0]), text)
        return words.replace(";", "、").replace("|", "+")
    return VALUE_WORDS.get(key, {}).get(text, text)


def _subject_rows(c: lifecycle.CaseView) -> list[tuple[str, str]]:
    """The case's display fields, labelled, for the visit: name and address as kept (the view
    is in the audit log), IDs and phones masked as stored; codes in words."""
    rows = []
    for key in SUBJECT_FIELDS:
        value = c.subject.get(key)
        if value is None or value == "":
            continue
        text = str(value) if key in ORG_CODES else masking.mask_text(str(value))
        rows.append((LABELS.get(key, key), _words(key, text)))
    return rows


def _history(c: lifecycle.CaseView) -> list[dict[str, Any]]:
    words = {**lifecycle.STEP_LABELS, **lifecycle.DATA_STEPS, "request": "本人自助申请"}
    return [
        {
            "at": e.at,
            "actor": "数据比对" if e.actor == "data" else e.actor,
            "action": words.get(e.action, e.action),
            "from": lifecycle.STATE_LABELS.get(e.from_state, e.from_state),
            "to": lifecycle.STATE_LABELS.get(e.to_state, e.to_state),
            "build": e.build,
            "text": _event_text(e.detail),
        }
        for e in reversed(c.events)
    ]


def _case_context(st: WebState, who: Viewer, c: lifecycle.CaseView, now: dt.date) -> dict[str, Any]:
    """The case's own part of its page: the subject, the history and the steps the viewer may
    take."""
    steps = c.next_steps if who.can("case.work") else []
    return {
        "subject": _subject_rows(c),
        "history": _history(c),
        "steps": steps,
        "step_labels": lifecycle.STEP_LABELS,
        "outcomes": [(k, o.label, _needs(o)) for k, o in outcomes.for_kind(c.kind).items()],
        "users": assignable(st.store, st.profile, c.county_code) if "assign" in steps else [],
    }


#: The case page (or, for htmx, its ``#case`` part) with the steps the viewer may take.
case_response = CasePage(
    ("cases_case.html", "cases_detail.html"), DONE, _case_context, lifecycle.today
)


@router.get("/cases/{case_id}", response_class=HTMLResponse, include_in_schema=False)
def case_page(
    request: Request,
    case_id: int,
    who: Annotated[Viewer, Depends(need("worklist.read"))],
    done: str | None = None,
) -> Response:
    st = state_of(request)
    c = cases.get_case(st.store, who.scope, find_case(st.store, who, str(case_id)))
    return case_response(request, who, c, done=done)


def run_step(
    st: WebState, who: Viewer, case_id: int, step: str, form: Mapping[str, str]
) -> lifecycle.CaseView:
    """Take ``step`` on the case with the form's fields, through :mod:`canbao.cases` (the data
    directory goes with an outcome: a review pair's 同一人 / 不同人 is the registry's decision)."""
    store, region, data_dir = st.store, st.profile, st.data_dir
    version, actor, scope = form_version(form), who.actor, who.scope
    text = {k: (form.get(k) or "").strip() for k in ("user", "team", "note", "reason")}
    if step == "assign":
        return cases.assign(
            store, actor, scope, case_id, user=text["user"] or None, team=text["team"] or None,
            note=text["note"], version=version, profile=region,
        )  # fmt: skip
    if step == "contact":
        on = form_date(form.get("on"), "联系日期")
        return cases.contact(store, actor, scope, case_id, on=on, note=text["note"],
                             version=version)  # fmt: skip
    if step == "resolve":
        return cases.resolve(
            store, actor, scope, case_id, (form.get("outcome") or "").strip(),
            on=form_date(form.get("on"), "结果日期"), reason=text["reason"], note=text["note"],
            evidence=(form.get("evidence") or "").strip(),
            expires_on=form_date(form.get("expires_on"), "有效期至"), version=version,
            data_dir=data_dir,
        )  # fmt: skip
    if step == "escalate":
        return cases.escalate(store, actor, scope, case_id, reason=text["reason"], version=version)
    if step == "reopen":
        return cases.reopen(store, actor, scope, case_id, reason=text["reason"], version=version)
    raise NotFoundError("没有这个办理步骤", f"no case step {step!r}")


async def step_response(request: Request, who: Viewer, case_id: int, step: str) -> Response:
    """Take the step; a refused one (stale version, bad outcome…) brings the case back with
    what was typed and the reason, at the error's status."""
    st = state_of(request)
    cid = find_case(st.store, who, str(case_id))  # outside the scope: 404, nothing else
    form = text_fields(await request.form())
    return await take_step(
        request, who, step, form,
        take=partial(run_in_threadpool, run_step, st, who, cid, step, form),
        reread=partial(cases.get_case, st.store, who.scope, cid),
        respond=case_response, url=f"/cases/{cid}?done={step}",
    )  # fmt: skip


add_step_routes(
    router, "/cases", "case_id", ("assign", "contact", "resolve", "escalate", "reopen"),
    "case.work", step_response, response_class=HTMLResponse, include_in_schema=False,
)  # fmt: skip


# --- the API --------------------------------------------------------------------------------


class OutcomeIn(BaseModel):
    """处理结果（与页面和工作簿相同的编码结果）。"""

    outcome: str = Field(description="处理结果：代码或中文名称，如 enrolled / 已参保")
    date: dt.date | None = Field(None, description="结果日期（YYYY-MM-DD），部分结果必填")
    reason: str = Field("", description="情况说明：参保险种、参保地、原因、已停保的记录……")
    note: str = Field("", description="备注")
    evidence: str = Field("", description="证明材料")
    expires_on: dt.date | None = Field(None, description="有效期至（在校学生：预计毕业日期）")
    version: int = Field(description="读取时的案件版本号（乐观锁：已被他人修改则返回 409）")


def case_doc(c: lifecycle.CaseView) -> dict[str, Any]:
    """One case for the API: the list's masked fields, the outcome and the history."""
    doc = list_row(c)
    doc.update(
        outcome_reason=c.outcome_reason,
        outcome_note=c.outcome_note,
        evidence=c.evidence,
        expires_on=c.expires_on.isoformat() if c.expires_on else None,
        resolved_by=c.resolved_by,
        resolved_at=c.resolved_at.isoformat() if c.resolved_at else None,
        next_steps=c.next_steps,
        events=[
            {"at": e.at.isoformat(), "actor": e.actor, "action": e.action,
             "from_state": e.from_state, "to_state": e.to_state, "build": e.build}
            for e in c.events
        ],
    )  # fmt: skip
    return doc


@router.get("/api/cases", tags=["个案"])
def api_cases(
    request: Request,
    who: Annotated[Viewer, Depends(need("worklist.read"))],
    kind: str | None = None,
    state: Annotated[str | None, Query(description="状态代码；open：全部未办结")] = None,
    county: Annotated[str | None, Query(description="区县代码或名称")] = None,
    township: str | None = None,
    assignee: str | None = None,
    mine: Annotated[bool, Query(description="只列分派给我的案件")] = False,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=API_PAGE_MAX)] = PAGE_SIZE,
) -> dict[str, Any]:
    """个案列表（您负责的区县内；姓名、证件号脱敏，不含住址），最紧急的在前。"""
    st = state_of(request)
    f = case_filter(
        who, st.profile, mine=mine, kind=kind, state=state, county=county, township=township,
        assignee=assignee, page=page, size=page_size,
    )  # fmt: skip
    total, rows = page_of(st.store, who, f)
    return {"total": total, "page": f.page, "page_size": f.size, "items": rows}


@router.post("/api/cases/{key:path}/outcome", tags=["个案"])
def api_outcome(
    request: Request,
    key: str,
    body: OutcomeIn,
    who: Annotated[Viewer, Depends(need("case.work"))],
) -> dict[str, Any]:
    """登记处理结果。``key``：案件编号（如 ``123``）或稳定的案件标识
    （``类型/主键/险种``，如 ``uninsured_pension/P…/pension``）。不在您负责区县的案件返回 404；
    版本号已过期返回 409；结果不适用于该类案件返回 400。"""
    st = state_of(request)
    cid = find_case(st.store, who, key)
    c = cases.resolve(
        st.store, who.actor, who.scope, cid, body.outcome, on=body.date, reason=body.reason,
        note=body.note, evidence=body.evidence, expires_on=body.expires_on, version=body.version,
        data_dir=st.data_dir,
    )  # fmt: skip
    return case_doc(c)


@router.get("/api/cases/{key:path}", tags=["个案"])
def api_case(
    request: Request, key: str, who: Annotated[Viewer, Depends(need("worklist.read"))]
) -> dict[str, Any]:
    """一个案件（脱敏，不含住址）及其办理记录。``key`` 同上。"""
    st = state_of(request)
    lifecycle.can_read(who.scope)
    return case_doc(lifecycle.view(st.store, who.scope, find_case(st.store, who, key)))
