"""Signing in and out, changing one's password, the API token, and the health check.

Sign-in failures count per user (the lock-out of :mod:`canbao.store.accounts`) and per client
address (:mod:`canbao.store.throttle`, shared by every worker): past the limit the answer is
429 with Retry-After, whatever the password.
"""

from __future__ import annotations

import secrets
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from canbao import __version__
from canbao.errors import AuthError, RateLimited, UsageError
from canbao.store import accounts, sessions, throttle
from canbao.store.accounts import Actor
from canbao.web.auth import (
    ANY,
    COOKIE,
    PRE_COOKIE,
    Viewer,
    check_csrf,
    client_of,
    need,
)
from canbao.web.state import state_of

router = APIRouter()
PUBLIC = frozenset({"/login", "/api/auth/token", "/healthz"})  # routes without a session
# The public self-service area (canbao.web.routes.selfservice): every route whose path starts
# with one of these needs no staff session — and never gets one: a page there that shows a
# person's or an employer's data depends on a portal session (canbao.web.portal.portal; the
# route-table test checks both rules).
PUBLIC_PREFIXES = ("/self", "/verify", "/api/self/")


def is_public(path: str) -> bool:
    """A route of :data:`PUBLIC` or under :data:`PUBLIC_PREFIXES` (``/self`` and ``/self/…``,
    never ``/selfish``)."""
    if path in PUBLIC:
        return True
    for prefix in PUBLIC_PREFIXES:
        if prefix.endswith("/") and path.startswith(prefix):
            return True
        if path == prefix or path.startswith(prefix + "/"):
            return True
    return False


def _safe_next(target: str) -> str:
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


def sign_in(request: Request, username: str, password: str) -> Actor:
    """Check the throttle of the client address, then the credentials."""
    st = state_of(request)
    key = f"login:ip:{client_of(request)}"
    wait = throttle.blocked(st.store, key)
    if wait:
        raise RateLimited(wait)
    try:
        return accounts.authenticate(st.store, username.strip(), password, client_of(request))
    except AuthError:
        locked = throttle.hit(st.store, key, throttle.LOGIN_PER_CLIENT)
        if locked:
            raise RateLimited(locked) from None
        raise


def _start(request: Request, actor: Actor) -> str:
    """After a sign-in: clear the client's failures, start a cookie session (its token)."""
    st = state_of(request)
    throttle.clear(st.store, f"login:ip:{client_of(request)}")
    return sessions.start(st.store, actor, "cookie")


def _set_cookie(request: Request, response: Response, name: str, value: str, age: int) -> None:
    secure = state_of(request).secure_cookies or request.url.scheme == "https"
    response.set_cookie(
        name, value, max_age=age, httponly=True, samesite="lax", secure=secure, path="/"
    )


@router.get("/healthz", include_in_schema=False)
def healthz() -> dict[str, str]:
    return {"status": "ok", "version": __version__}


@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
def login_page(request: Request, next: str = "/") -> Response:
    pre = request.cookies.get(PRE_COOKIE) or secrets.token_urlsafe(24)
    context: dict[str, Any] = {"next": _safe_next(next), "csrf": pre, "error": None}
    response = state_of(request).templates.TemplateResponse(request, "login.html", context)
    _set_cookie(request, response, PRE_COOKIE, pre, 3600)
    return response


@router.post("/login", response_class=HTMLResponse, include_in_schema=False)
async def login(
    request: Request,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    next: Annotated[str, Form()] = "/",
) -> Response:
    await check_csrf(request, request.cookies.get(PRE_COOKIE, ""))
    st = state_of(request)
    try:  # the password hash and the store in the thread pool, never on the event loop
        actor = await run_in_threadpool(sign_in, request, username, password)
    except AuthError as e:
        pre = request.cookies.get(PRE_COOKIE, "")
        context: dict[str, Any] = {"next": _safe_next(next), "csrf": pre, "error": e}
        return st.templates.TemplateResponse(request, "login.html", context, status_code=401)
    token = await run_in_threadpool(_start, request, actor)
    response = RedirectResponse(_safe_next(next), status_code=303)
    _set_cookie(request, response, COOKIE, token, sessions.COOKIE_HOURS * 3600)
    response.delete_cookie(PRE_COOKIE, path="/")
    return response


@router.post("/logout", include_in_schema=False)
def logout(request: Request, who: Annotated[Viewer, Depends(need(ANY))]) -> Response:
    sessions.end(state_of(request).store, who.token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


@router.get("/password", response_class=HTMLResponse, include_in_schema=False)
def password_page(request: Request, who: Annotated[Viewer, Depends(need(ANY))]) -> Response:
    context: dict[str, Any] = {"viewer": who, "error": None, "done": False}
    return state_of(request).templates.TemplateResponse(request, "password.html", context)


@router.post("/password", response_class=HTMLResponse, include_in_schema=False)
def change_password(
    request: Request,
    who: Annotated[Viewer, Depends(need(ANY))],
    current: Annotated[str, Form()],
    new: Annotated[str, Form()],
    again: Annotated[str, Form()],
) -> Response:
    st = state_of(request)
    context: dict[str, Any] = {"viewer": who, "error": None, "done": False}
    try:
        if new != again:
            raise AuthError("两次输入的新密码不一致", "new passwords differ")
        accounts.authenticate(st.store, who.name, current, client_of(request))
        accounts.set_password(st.store, who.actor, who.name, new)
    except (AuthError, UsageError) as e:
        context["error"] = e
        return st.templates.TemplateResponse(request, "password.html", context, status_code=400)
    sessions.end_all(st.store, who.name, keep=who.token)
    context["done"] = True
    return st.templates.TemplateResponse(request, "password.html", context)


@router.post("/api/auth/token", tags=["认证"])
def api_token(
    request: Request,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
) -> dict[str, Any]:
    """用户名和密码换取访问令牌（Bearer）。Exchange a user name and password for a token."""
    actor = sign_in(request, username, password)
    throttle.clear(state_of(request).store, f"login:ip:{client_of(request)}")
    token = sessions.start(state_of(request).store, actor, "api")
    return {
        "access_token": token,
        "token_type": "bearer",
        "expires_in": sessions.API_HOURS * 3600,
    }
