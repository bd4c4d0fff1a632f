"""Who is asking: the session cookie of a signed-in browser or the bearer token of an API
client, the CSRF check of every form, and the permission each route needs.

Every route except the public ones (sign-in, static files, health) depends on :func:`need`
with the action of the permission table it performs; the route-table test checks that no route
escapes it. A route gets a :class:`Viewer`: the actor, their :class:`Scope`, the CSRF token.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from canbao.errors import AuthError, PermissionDenied
from canbao.store import roles, sessions
from canbao.store.accounts import Actor
from canbao.store.scopes import scope_for
from canbao.warehouse.scope import Scope
from canbao.web.state import state_of

COOKIE = "canbao_session"
PRE_COOKIE = "canbao_pre"  # the sign-in form's CSRF token before there is a session
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ANY = "signed-in"  # need(ANY): any signed-in user (their own password, sign-out)


@dataclass(frozen=True)
class Viewer:
    """The signed-in party of one request."""

    actor: Actor
    scope: Scope
    csrf: str
    token: str
    via: str  # cookie | api

    @property
    def name(self) -> str:
        return self.actor.name

    @property
    def role(self) -> str:
        return self.actor.role

    @property
    def role_label(self) -> str:
        return roles.ROLES.get(self.actor.role, self.actor.role)

    def can(self, action: str) -> bool:
        return roles.can(self.actor.role, action)

    def require(self, action: str) -> None:
        roles.require(self.actor.role, action, self.actor.name)


def client_of(request: Request) -> str:
    return request.client.host if request.client else ""


def bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def _signed(request: Request) -> tuple[sessions.Signed, str, str]:
    token, via = bearer(request), "api"
    if not token:
        token, via = request.cookies.get(COOKIE, ""), "cookie"
    found = sessions.resolve(state_of(request).store, token, client_of(request)) if token else None
    if found is None:
        raise AuthError("请先登录（会话不存在或已过期）", "not signed in")
    return found, token, via


async def check_csrf(request: Request, expected: str) -> None:
    """The form's ``csrf_token`` field or the ``X-CSRF-Token`` header must carry ``expected``."""
    sent = request.headers.get(CSRF_HEADER, "")
    if not sent:
        ctype = request.headers.get("content-type", "")
        if ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            sent = str((await request.form()).get(CSRF_FIELD, ""))
    if not expected or not sent or not secrets.compare_digest(sent, expected):
        raise PermissionDenied(
            "页面已过期或请求来源不明（CSRF 校验失败），请刷新页面后重试", "CSRF check failed"
        )


async def viewer(request: Request) -> Viewer:
    """The signed-in viewer of ``request``; a cookie session's unsafe request must pass CSRF."""
    cached = getattr(request.state, "viewer", None)
    if isinstance(cached, Viewer):
        return cached
    # the store is read in the thread pool: a slow or busy database never holds up the event loop
    found, token, via = await run_in_threadpool(_signed, request)
    if via == "cookie" and request.method not in SAFE_METHODS:
        await check_csrf(request, found.csrf)
    st = state_of(request)
    seen = Viewer(found.actor, scope_for(found.actor, st.profile), found.csrf, token, via)
    request.state.viewer = seen
    return seen


def need(action: str) -> Callable[[Request], Awaitable[Viewer]]:
    """A dependency: the signed-in viewer, who must be allowed ``action`` (or :data:`ANY`)."""

    async def dependency(request: Request) -> Viewer:
        seen = await viewer(request)
        if action != ANY:
            seen.require(action)
        return seen

    dependency.canbao_action = action  # type: ignore[attr-defined]  # read by the route test
    return dependency
