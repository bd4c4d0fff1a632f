"""The public self-service area (自助服务, mobile-first H5): ``/self`` (choose 个人 / 单位 /
证明核验), a person's sign-in by ID + name + a one-time code and their status page and change
request, the public certificate check ``/verify`` and ``GET /api/self/verify``. The employer's
pages are in :mod:`canbao.web.routes.self_employer`.

No staff session is needed here (the prefix rule of :data:`canbao.web.routes.session.
PUBLIC_PREFIXES`); every page that shows a person's or an employer's data needs a portal session
(:func:`canbao.web.portal.portal`). The rules — one answer whatever the registry holds, the
throttles, the audit log — are in :mod:`canbao.selfservice`; see ``docs/selfservice.md``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel

from canbao.errors import AuthError, UsageError
from canbao.selfservice import certificates, codes, contact_change, person_sign_in
from canbao.selfservice import portal_sessions as ps
from canbao.selfservice.enrolment import person_status
from canbao.selfservice.portal_sessions import Portal
from canbao.web import portal as web_portal
from canbao.web.auth import client_of
from canbao.web.portal import (
    COOKIE,
    HTML,
    PAGE_ERRORS,
    PRE_COOKIE,
    Text,
    check_form,
    check_pre,
    county_name,
    page,
    portal,
    pre_token,
)
from canbao.web.state import state_of

router = APIRouter(tags=["自助服务"])


@router.get("/self", response_class=HTMLResponse, summary="自助服务首页")
def landing(request: Request) -> Response:
    """选择个人查询、单位查询或证明核验。"""
    return page(request, "landing.html", {})


# --- person -----------------------------------------------------------------------------------


@router.get("/self/person", response_class=HTMLResponse, summary="个人查询：输入身份证号和姓名")
def person_form(request: Request) -> Response:
    return page(request, "person.html", {"error": None}, pre=pre_token(request))


@router.post(
    "/self/person",
    response_class=HTMLResponse,
    responses=PAGE_ERRORS,
    summary="个人查询：获取验证码",
)
def person_request(
    request: Request,
    id_number: Text = "",
    name: Text = "",
    csrf_token: Text = "",
) -> Response:
    """无论身份证号是否存在、姓名是否相符、是否登记了手机，答复都相同。"""
    check_pre(request, csrf_token)
    st = state_of(request)
    got = person_sign_in.request_code(
        st.store, st.data_dir, id_number, name, client_of(request), find=web_portal.finder(st)
    )
    context = {"ticket": got.ticket, "message": person_sign_in.SENT_ZH, "error": None,
               "minutes": codes.MINUTES}  # fmt: skip
    return page(request, "person_code.html", context, pre=pre_token(request))


@router.post(
    "/self/person/code",
    response_class=HTMLResponse,
    responses={**PAGE_ERRORS, 401: {"description": "验证码不正确或已失效", **HTML}},
    summary="个人查询：输入验证码登录",
)
def person_code(
    request: Request,
    ticket: Text = "",
    code: Text = "",
    csrf_token: Text = "",
) -> Response:
    check_pre(request, csrf_token)
    st = state_of(request)
    try:
        token = person_sign_in.sign_in(st.store, st.data_dir, ticket, code, client_of(request))
    except AuthError as e:
        context = {"ticket": ticket, "message": None, "error": e, "minutes": codes.MINUTES}
        return page(request, "person_code.html", context, 401, pre=pre_token(request))
    response = RedirectResponse("/self/person/status", status_code=303)
    web_portal.set_cookie(request, response, COOKIE, token, ps.PERSON_MINUTES * 60)
    response.delete_cookie(PRE_COOKIE, path="/")
    return response


PersonSession = Annotated[Portal, Depends(portal("person"))]


@router.get(
    "/self/person/status",
    response_class=HTMLResponse,
    responses=PAGE_ERRORS,
    summary="本人参保状态",
)
def person_status_page(request: Request, who: PersonSession) -> Response:
    st = state_of(request)
    status = person_status(st.data_dir, who.subject_key, web_portal.person_rows(st))
    context = {"s": status, "county": county_name(st.profile, status.county_code), "portal": who,
               "csrf": who.csrf, "minutes": ps.PERSON_MINUTES}  # fmt: skip
    return page(request, "person_status.html", context)


@router.get(
    "/self/person/change",
    response_class=HTMLResponse,
    responses=PAGE_ERRORS,
    summary="申请变更联系方式",
)
def change_form(request: Request, who: PersonSession) -> Response:
    context = {"portal": who, "csrf": who.csrf, "error": None, "field": "phone", "value": ""}
    return page(request, "person_change.html", context)


@router.post(
    "/self/person/change",
    response_class=HTMLResponse,
    responses={**PAGE_ERRORS, 400: {"description": "新的联系方式格式不对", **HTML}},
    summary="提交联系方式变更申请（转经办人员审核）",
)
def change_submit(
    request: Request,
    who: PersonSession,
    field: Text = "",
    value: Text = "",
    csrf_token: Text = "",
) -> Response:
    check_form(who.csrf, csrf_token)
    st = state_of(request)
    try:
        done = contact_change.request_change(
            st.store, st.data_dir, who.subject_key, field, value, client_of(request),
            rows=web_portal.person_rows(st),
        )  # fmt: skip
    except UsageError as e:
        context = {"portal": who, "csrf": who.csrf, "error": e, "field": field, "value": ""}
        return page(request, "person_change.html", context, 400)
    context = {"portal": who, "csrf": who.csrf, "done": done,
               "label": contact_change.FIELDS[done.field]}  # fmt: skip
    return page(request, "person_change_done.html", context)


@router.post(
    "/self/logout", response_class=HTMLResponse, responses=PAGE_ERRORS, summary="退出自助服务"
)
def logout(request: Request, csrf_token: Text = "") -> Response:
    st = state_of(request)
    token = request.cookies.get(COOKIE, "")
    found = ps.resolve(st.store, token)
    if found is not None:
        check_form(found.csrf, csrf_token)
        ps.end(st.store, token)
    response = RedirectResponse("/self", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


# --- certificate check ------------------------------------------------------------------------


class CertificateScheme(BaseModel):
    scheme: str
    label: str
    enrolled: int


class CertificateContent(BaseModel):
    title: str
    employer_name: str
    credit_code: str
    registered: bool
    schemes: list[CertificateScheme]
    in_arrears: bool
    arrears: str
    arrears_periods: int
    arrears_months: int = 0
    late_fee: str
    agreement_status: str | None
    enforcement_status: str | None
    as_of: str


class VerifyAnswer(BaseModel):
    valid: bool
    message: str
    serial: str | None = None
    issued_at: str | None = None
    valid_until: str | None = None
    certificate: CertificateContent | None = None


class RateLimitedAnswer(BaseModel):
    error: str
    message: str
    reason: str
    retry_after: int


def _verify(request: Request, serial: str, check: str) -> VerifyAnswer:
    st = state_of(request)
    found = certificates.verify(st.store, serial, check, client_of(request))
    if found is None:
        return VerifyAnswer(valid=False, message=certificates.REJECTED_ZH)
    return VerifyAnswer(
        valid=True,
        message="证明真实有效，以下为证明所载内容",
        serial=found.serial,
        issued_at=found.issued_at.isoformat(sep=" "),
        valid_until=found.valid_until.isoformat(),
        certificate=CertificateContent.model_validate(found.content),
    )


Serial = Annotated[str, Query(description="流水号")]
Check = Annotated[str, Query(description="校验码")]


@router.get("/verify", response_class=HTMLResponse, responses=PAGE_ERRORS, summary="证明核验")
def verify_page(request: Request, serial: Serial = "", check: Check = "") -> Response:
    """输入证明上的流水号和校验码，核验参保缴费情况证明的真伪。"""
    answer = _verify(request, serial, check) if serial and check else None
    return page(request, "verify.html", {"answer": answer, "serial": serial[:40]})


@router.get(
    "/api/self/verify",
    response_model=VerifyAnswer,
    responses={429: {"model": RateLimitedAnswer, "description": "尝试次数过多"}},
    summary="证明核验（JSON）",
)
def verify_api(request: Request, serial: Serial = "", check: Check = "") -> VerifyAnswer:
    """流水号和校验码相符、证明未作废且在有效期内时，返回证明所载内容；否则统一答复无法核验。"""
    return _verify(request, serial, check)
