"""What the case pages share (扩面个案 in :mod:`.cases`, 稽核案件 in :mod:`.audit_cases`): the
form's dates and version (乐观锁), the case page or its htmx part, taking a step with what was
typed coming back on a refusal, and the POST route of each step.

No ``from __future__ import annotations`` here: FastAPI reads the annotations of the step
endpoints made in :func:`add_step_routes`, which name a local permission.
"""

import datetime as dt
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Path, Request, Response
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool

from canbao.errors import CanbaoError, NotFoundError, UsageError
from canbao.standards.money import parse_yuan
from canbao.web.auth import Viewer, need
from canbao.web.errors import is_htmx
from canbao.web.state import WebState, state_of

T = TypeVar("T")


def form_date(text: str | None, what: str) -> dt.date | None:
    """A YYYY-MM-DD date from a form field; blank is None, anything else a UsageError."""
    value = (text or "").strip()
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise UsageError(
            f"{what}不是有效日期：“{value[:20]}”（应为 YYYY-MM-DD）", f"bad date for {what}"
        ) from None


def scoped(fetch: Callable[[], T], missing_zh: str, missing_en: str) -> T:
    """``fetch()`` of an object in the viewer's scope; one outside it (403) answers like a
    missing one (404, ``missing_zh``): nothing says which."""
    try:
        return fetch()
    except CanbaoError as e:
        if isinstance(e, NotFoundError) or e.status == 403:
            raise NotFoundError(missing_zh, missing_en) from None
        raise


def form_fen(form: Mapping[str, Any], key: str, what: str) -> int | None:
    """A yuan amount from a form field as integer fen; blank is None, anything else that is
    not an amount a UsageError naming the field."""
    text = str(form.get(key) or "").strip()
    if not text:
        return None
    try:
        return parse_yuan(text)
    except CanbaoError as e:
        raise UsageError(f"{what}：{e.message_zh}", f"bad amount in {key}", field=key) from None


def form_version(form: Mapping[str, Any]) -> int:
    """The case version the page was read at (every step form carries it)."""
    value = str(form.get("version") or "").strip()
    if not value.isdigit():
        raise UsageError("缺少案件版本号，请刷新页面后重试", "no case version in the form")
    return int(value)


def text_fields(form: Mapping[str, Any]) -> dict[str, str]:
    """The form's text fields (uploads left out)."""
    return {k: v for k, v in form.items() if isinstance(v, str)}


@dataclass(frozen=True)
class CasePage:
    """A module's ``case_response``: the case page (``templates[1]``) or, for htmx, its part
    (``templates[0]``) — the viewer, the case and its county, the module's own ``context`` (of
    the state, the viewer, the case and today), what was typed, the error and what was done."""

    templates: tuple[str, str]
    done_words: Mapping[str, str]
    context: Callable[[WebState, Viewer, Any, dt.date], dict[str, Any]]
    today: Callable[[], dt.date]

    def __call__(
        self,
        request: Request,
        who: Viewer,
        c: Any,
        *,
        status: int = 200,
        error: CanbaoError | None = None,
        entered: Mapping[str, str] | None = None,
        done: str | None = None,
    ) -> Response:
        st = state_of(request)
        now = self.today()
        full: dict[str, Any] = {
            "viewer": who,
            "c": c,
            "county_name": st.profile.unit_name(c.county_code or "") or c.county_code or "",
            **self.context(st, who, c, now),
            "entered": dict(entered or {}),
            "error": error,
            "done": self.done_words.get(done or ""),
            "today": now.isoformat(),
        }
        name = self.templates[0] if is_htmx(request) else self.templates[1]
        return st.templates.TemplateResponse(request, name, full, status_code=status)


async def take_step(
    request: Request,
    who: Viewer,
    step: str,
    form: Mapping[str, str],
    *,
    take: Callable[[], Awaitable[Any]],
    reread: Callable[[], Any],
    respond: CasePage,
    url: str,
) -> Response:
    """Take the step; a refused one (stale version, bad field…) brings the case back, read again,
    with what was typed and the reason, at the error's status. Done: the case part for htmx,
    else a redirect to ``url``."""
    try:
        c = await take()
    except CanbaoError as err:
        now = await run_in_threadpool(reread)
        entered = {**form, "step": step}
        return respond(request, who, now, status=err.status, error=err, entered=entered)
    if is_htmx(request):
        return respond(request, who, c, done=step)
    return RedirectResponse(url, status_code=303)


StepResponse = Callable[[Request, Viewer, int, str], Awaitable[Response]]


def add_step_routes(
    router: APIRouter,
    base: str,
    param: str,
    steps: Iterable[str],
    permission: str,
    respond: StepResponse,
    **route: Any,
) -> None:
    """``POST {base}/{param}/{step}`` for each step, named ``{step}_step``: the viewer needs
    ``permission``; ``respond(request, who, case_id, step)`` answers."""
    for step in steps:
        _add_step_route(router, base, param, step, permission, respond, route)


def _add_step_route(
    router: APIRouter,
    base: str,
    param: str,
    step: str,
    permission: str,
    respond: StepResponse,
    route: Mapping[str, Any],
) -> None:
    async def endpoint(
        request: Request,
        case_id: Annotated[int, Path(alias=param)],
        who: Annotated[Viewer, Depends(need(permission))],
    ) -> Response:
        return await respond(request, who, case_id, step)

    endpoint.__name__ = endpoint.__qualname__ = f"{step}_step"
    router.post(f"{base}/{{{param}}}/{step}", name=f"{step}_step", **route)(endpoint)
