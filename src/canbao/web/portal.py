"""The web side of the public self-service area (``/self``, ``/verify``, ``/api/self``): its
cookies, the portal-session dependencies, the CSRF check of its forms and what the pages read
through the web's per-build indexes.

A portal session is not a staff session: :func:`portal` resolves the ``canbao_portal`` cookie
into a :class:`canbao.selfservice.portal_sessions.Portal` of the kind the route needs (person or
employer); without one a page is sent to ``/self`` (303), never shown. Each dependency carries
``canbao_portal`` (the route-table test checks that every public self-service route showing
personal or employer data has one).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Annotated, Any

import polars as pl
from fastapi import Form, Request, Response
from starlette.concurrency import run_in_threadpool

from canbao.errors import AuthError, PermissionDenied
from canbao.profile import Profile
from canbao.registry import snapshot
from canbao.selfservice import portal_sessions
from canbao.selfservice.enrolment import PERSON_COLUMNS, Rows, snapshot_rows
from canbao.selfservice.portal_sessions import Portal
from canbao.web import keyed
from canbao.web.person_view import _find_id
from canbao.web.state import WebState, state_of

COOKIE = "canbao_portal"
PRE_COOKIE = "canbao_self_pre"  # the public forms' CSRF token before there is a session
PREFIXES = ("/self", "/verify", "/api/self")
HTML: dict[str, Any] = {"content": {"text/html": {}}}
PAGE_ERRORS: dict[int | str, dict[str, Any]] = {
    303: {"description": "未登录自助服务（页面）：转到 /self"},
    401: {"description": "未登录自助服务或会话已过期（表单）", **HTML},
    403: {"description": "表单已过期（CSRF）", **HTML},
    429: {"description": "尝试次数过多（带 Retry-After）", **HTML},
}
# form fields: optional everywhere (a missing field is answered by the page, never a 422)
Text = Annotated[str, Form()]


def set_cookie(request: Request, response: Response, name: str, value: str, age: int) -> None:
    secure = state_of(request).secure_cookies or request.url.scheme == "https"
    response.set_cookie(
        name, value, max_age=age, httponly=True, samesite="strict", secure=secure, path="/"
    )


def pre_token(request: Request) -> str:
    """The pre-session CSRF token of this browser (the cookie's, or a new one)."""
    return request.cookies.get(PRE_COOKIE) or secrets.token_urlsafe(24)


def check_form(expected: str, sent: str) -> None:
    if not expected or not sent or not secrets.compare_digest(expected, sent):
        raise PermissionDenied(
            "页面已过期或请求来源不明，请返回上一页刷新后重试", "CSRF check failed"
        )


def check_pre(request: Request, sent: str) -> None:
    check_form(request.cookies.get(PRE_COOKIE, ""), sent)


def _resolve(request: Request, kind: str) -> Portal:
    found = portal_sessions.resolve(state_of(request).store, request.cookies.get(COOKIE, ""))
    if found is None or found.subject_type != kind:
        raise AuthError("请先登录自助服务（会话不存在或已过期）", "no portal session")
    return found


def portal(kind: str) -> Callable[[Request], Any]:
    """A dependency: the portal session of a ``kind`` (person | employer)."""

    async def dependency(request: Request) -> Portal:
        found = await run_in_threadpool(_resolve, request, kind)
        request.state.portal = found
        return found

    dependency.canbao_portal = kind  # type: ignore[attr-defined]  # read by the route test
    return dependency


def page(
    request: Request, name: str, context: dict[str, Any], status: int = 200, pre: str = ""
) -> Response:
    """Render a self-service page (``templates/self/``); ``pre``: set the pre-session CSRF
    cookie to it."""
    st = state_of(request)
    context.setdefault("csrf", pre)
    response = st.templates.TemplateResponse(request, f"self/{name}", context, status_code=status)
    if pre:
        set_cookie(request, response, PRE_COOKIE, pre, 3600)
    return response


def county_name(profile: Profile, code: str | None) -> str:
    county = profile.county(code) if code else None
    return county.name if county is not None else ""


def finder(st: WebState) -> Callable[[str], pl.DataFrame]:
    """Look-up by ID through the web's cached ID-index footer (one row group read)."""

    def find(id18: str) -> pl.DataFrame:
        snap = snapshot.require_current(st.data_dir)
        found = _find_id(st, snap, id18)
        return found.select([c for c in PERSON_COLUMNS if c in found.columns])

    return find


def person_rows(st: WebState) -> Rows:
    """A person's rows from the current build's person-sorted copies when they are ready (one
    or two row groups), else from the snapshot."""
    fallback = snapshot_rows(st.data_dir)

    def rows(table: str, person_key: str) -> pl.DataFrame:
        kset = keyed.ready(st, keyed.PERSONS)
        snap = snapshot.current(st.data_dir)
        if kset is not None and snap is not None and kset.build_id == snap.build_id:
            return kset.rows(table, person_key)
        return fallback(table, person_key)

    return rows
