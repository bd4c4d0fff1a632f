"""The employer's self-service pages: sign-in with the credit code and the password the bureau
issued (changed at the first sign-in), the status page (registration, schemes, arrears,
agreements, dunning state) and the printable 参保缴费情况证明 with its 流水号 and 校验码.
Included in :mod:`canbao.web.routes.selfservice`'s router; data: :mod:`canbao.selfservice`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import select

from canbao.errors import AuthError, UsageError
from canbao.selfservice import certificates, employer_credentials
from canbao.selfservice import portal_sessions as ps
from canbao.selfservice.employer_status import EmployerStatus, employer_status
from canbao.selfservice.portal_sessions import Portal
from canbao.store.models import EmployerCredential
from canbao.web import limits
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
    page,
    portal,
    pre_token,
)
from canbao.web.state import state_of

router = APIRouter(tags=["自助服务"])
HEAVY = {**PAGE_ERRORS, 503: {"description": "系统繁忙（带 Retry-After）", **HTML}}
EmployerSession = Annotated[Portal, Depends(portal("employer"))]


@router.get("/self/employer", response_class=HTMLResponse, summary="单位查询：登录")
def employer_form(request: Request) -> Response:
    return page(request, "employer.html", {"error": None, "code": ""}, pre=pre_token(request))


@router.post(
    "/self/employer",
    response_class=HTMLResponse,
    responses={**PAGE_ERRORS, 401: {"description": "统一社会信用代码或密码不正确", **HTML}},
    summary="单位查询：统一社会信用代码和密码登录",
)
def employer_sign_in(
    request: Request, credit_code: Text = "", password: Text = "", csrf_token: Text = ""
) -> Response:
    """未知代码、密码错误、已作废的密码答复相同；失败按代码和来源地址计数，超过限制返回 429。"""
    check_pre(request, csrf_token)
    st = state_of(request)
    try:
        got = employer_credentials.sign_in(
            st.store, st.data_dir, credit_code, password, client_of(request)
        )
    except AuthError as e:
        context = {"error": e, "code": employer_credentials.normalise(credit_code)[:18]}
        return page(request, "employer.html", context, 401, pre=pre_token(request))
    target = "/self/employer/password" if got.must_change else "/self/employer/status"
    response = RedirectResponse(target, status_code=303)
    web_portal.set_cookie(request, response, COOKIE, got.token, ps.EMPLOYER_MINUTES * 60)
    response.delete_cookie(PRE_COOKIE, path="/")
    return response


@router.get(
    "/self/employer/password",
    response_class=HTMLResponse,
    responses=PAGE_ERRORS,
    summary="修改单位密码",
)
def password_form(request: Request, who: EmployerSession) -> Response:
    st = state_of(request)
    must = employer_credentials.must_change(st.store, who.subject_key)
    context = {"portal": who, "csrf": who.csrf, "error": None, "must": must, "done": False}
    return page(request, "employer_password.html", context)


@router.post(
    "/self/employer/password",
    response_class=HTMLResponse,
    responses={**PAGE_ERRORS, 400: {"description": "密码不符合要求", **HTML}},
    summary="修改单位密码（首次登录必须修改）",
)
def password_change(
    request: Request,
    who: EmployerSession,
    current: Text = "",
    new: Text = "",
    again: Text = "",
    csrf_token: Text = "",
) -> Response:
    check_form(who.csrf, csrf_token)
    st = state_of(request)
    try:
        employer_credentials.change_password(
            st.store, who.subject_key, current, new, again, client_of(request), who.token
        )
    except (AuthError, UsageError) as e:
        must = employer_credentials.must_change(st.store, who.subject_key)
        context = {"portal": who, "csrf": who.csrf, "error": e, "must": must, "done": False}
        return page(request, "employer_password.html", context, 400)
    return RedirectResponse("/self/employer/status", status_code=303)


def _status(request: Request, who: Portal) -> EmployerStatus:
    st = state_of(request)
    code = _credit_code(request, who)
    with limits.heavy("单位自助查询"):
        return employer_status(st.store, st.data_dir, who.subject_key, code)


def _credit_code(request: Request, who: Portal) -> str:
    with state_of(request).store.sessions() as s:
        found = s.execute(
            select(EmployerCredential.credit_code).where(
                EmployerCredential.employer_key == who.subject_key
            )
        ).first()
    return str(found[0]) if found else ""


@router.get(
    "/self/employer/status",
    response_class=HTMLResponse,
    responses=HEAVY,
    summary="单位参保缴费情况",
)
def employer_statuspage(request: Request, who: EmployerSession) -> Response:
    st = state_of(request)
    if employer_credentials.must_change(st.store, who.subject_key):
        return RedirectResponse("/self/employer/password", status_code=303)
    context = {"portal": who, "csrf": who.csrf, "s": _status(request, who)}
    return page(request, "employer_status.html", context)


@router.post(
    "/self/employer/certificate",
    response_class=HTMLResponse,
    responses=HEAVY,
    summary="打印参保缴费情况证明（带流水号和校验码）",
)
def certificate(request: Request, who: EmployerSession, csrf_token: Text = "") -> Response:
    check_form(who.csrf, csrf_token)
    st = state_of(request)
    if employer_credentials.must_change(st.store, who.subject_key):
        return RedirectResponse("/self/employer/password", status_code=303)
    status = _status(request, who)
    issued = certificates.issue(st.store, status, client_of(request))
    context = {"portal": who, "csrf": who.csrf, "c": issued, "s": status}
    return page(request, "certificate.html", context)
