"""The web face's one error handler: a Chinese page for people, a fragment for htmx requests,
JSON for the API — from the same :class:`canbao.errors.CanbaoError`.

Framework errors (unknown path, wrong method, a malformed parameter) are turned into the same
hierarchy first; anything unforeseen goes through :func:`canbao.errors.unexpected` (its
traceback saved, masked, to a report file; never shown). A page request without a session is
sent to the sign-in page.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from canbao.errors import (
    AuthError,
    Busy,
    CanbaoError,
    NotFoundError,
    RateLimited,
    UsageError,
    unexpected,
)
from canbao.web.state import state_of

_HTTP_WORDS = {
    404: ("页面或对象不存在", NotFoundError),
    405: ("不支持该请求方式", UsageError),
}


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path == "/api"


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request", "").lower() == "true"


def in_self_service(request: Request) -> bool:
    """A page of the public self-service area (its own layout, its own sign-in)."""
    path = request.url.path
    return path == "/self" or path.startswith(("/self/", "/verify"))


def render_error(request: Request, err: CanbaoError) -> Response:
    headers: dict[str, str] = {}
    if isinstance(err, RateLimited | Busy):
        headers["Retry-After"] = str(err.retry_after)
    if wants_json(request):
        if isinstance(err, AuthError) and err.status == 401:
            headers["WWW-Authenticate"] = "Bearer"
        return JSONResponse(err.to_dict(), status_code=err.status, headers=headers)
    if isinstance(err, AuthError) and in_self_service(request) and request.method == "GET":
        return RedirectResponse("/self", status_code=303)  # a portal page without its session
    if isinstance(err, AuthError) and not is_htmx(request) and request.method == "GET":
        target = request.url.path
        return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
    templates = state_of(request).templates
    name = "error_fragment.html" if is_htmx(request) else "error.html"
    if in_self_service(request):
        name = "self/error.html"
    context: dict[str, Any] = {"error": err, "viewer": getattr(request.state, "viewer", None)}
    return templates.TemplateResponse(
        request, name, context, status_code=err.status, headers=headers
    )


async def _canbao(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, CanbaoError)
    return render_error(request, exc)


async def _http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    words, cls = _HTTP_WORDS.get(exc.status_code, ("请求无法处理", UsageError))
    err = cls(words, str(exc.detail))
    err.status = exc.status_code
    response = render_error(request, err)
    for name, value in (exc.headers or {}).items():
        response.headers.setdefault(name, value)
    if exc.status_code == 405:  # Allow: every method of the path (RFC 9110), not the first route's
        response.headers["Allow"] = ", ".join(_allowed(request.url.path))
    return response


def _allowed(path: str) -> list[str]:
    """The methods the app's routes answer at ``path``."""
    from fastapi.routing import APIRoute

    from canbao.web.routes import ROUTERS  # noqa: PLC0415 - the routes import this module

    methods: set[str] = set()
    for router in ROUTERS:
        for route in router.routes:
            if isinstance(route, APIRoute) and route.path_regex.match(path):
                methods |= route.methods or set()
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


async def _validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    fields = "、".join(str(e.get("loc", ["?"])[-1]) for e in exc.errors() if isinstance(e, dict))
    err = UsageError(f"请求参数不正确：{fields or '格式错误'}", "request validation failed")
    err.status = 422
    return render_error(request, err)


async def _unexpected(request: Request, exc: Exception) -> Response:
    return render_error(request, unexpected(exc))


def install(app: FastAPI) -> None:
    app.add_exception_handler(CanbaoError, _canbao)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(Exception, _unexpected)
