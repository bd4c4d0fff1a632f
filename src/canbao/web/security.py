"""Security headers on every response and an access log without personal data.

The CSP allows scripts and styles only from the app itself (no inline script, no CDN); pages
are not framed and not cached. The access log names method, path (never the query string:
an API search carries the searched ID), status, time and user — the person key in a path is
not an ID (:mod:`canbao.registry.keys`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from fastapi import Request, Response

from canbao.standards.masking import mask_text

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}
log = logging.getLogger("canbao.web.access")


async def secure_headers(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    start = time.perf_counter()
    response = await call_next(request)
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if request.url.path.startswith("/static/"):
        response.headers.setdefault("Cache-Control", "public, max-age=3600")
    else:
        response.headers.setdefault("Cache-Control", "no-store")
    if request.url.scheme == "https":
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    viewer = getattr(request.state, "viewer", None)
    who = getattr(viewer, "name", "-")
    ms = (time.perf_counter() - start) * 1000
    log.info(
        "%s %s %s %.0fms %s",
        request.method,
        mask_text(request.url.path),
        response.status_code,
        ms,
        who,
    )
    return response
