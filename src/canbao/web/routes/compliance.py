"""The compliance API for other departments (``/api/compliance``): an employer's standing by its
unified social credit code, nothing personal (:mod:`canbao.compliance`).

Who may ask: a department's API key (``Authorization: Bearer cbk_…``) with the scope
``compliance:read`` — a revoked or unknown key answers 401, a key without the scope 403 — or a
staff user's bearer token or session whose role has ``compliance.query`` (a county user sees only
their counties' employers). ``X-Purpose`` (optional; UTF-8, percent-encoded when not ASCII) says
why, else the purpose the key was issued for. Every call is audit-logged with its request id
(``X-Request-Id``) and counted against the client's quota (429 with ``Retry-After``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import unquote

from fastapi import APIRouter, Depends, Header, Request, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from canbao.compliance import api, quota
from canbao.compliance.answer import BatchAnswer, BatchRequest, ComplianceAnswer
from canbao.compliance.standing import STANDINGS
from canbao.errors import PermissionDenied, RateLimited, UsageError
from canbao.store import accounts, roles
from canbao.store.accounts import Actor
from canbao.warehouse.scope import Scope
from canbao.web import limits
from canbao.web.auth import bearer, client_of, viewer
from canbao.web.state import state_of

ACTION = "compliance.query"
SCOPE = "compliance:read"
STAFF_PURPOSE = "经办人员查询"
QUOTA_KEY = "compliance.quota"  # WebState.extra: a quota.Quota replacing quota.DEFAULT
LEASES_KEY = "compliance.leases"  # WebState.extra: this process's quota.Leases

router = APIRouter(prefix="/api/compliance", tags=["单位参保缴费情况（其他部门）"])


class ErrorBody(BaseModel):
    error: str
    message: str
    reason: str


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": words}
    for code, words in (
        (400, "请求不正确（如未说明查询用途）"),
        (401, "未提供、无效或已吊销的接口密钥"),
        (403, "接口密钥或角色没有查询权限"),
        (404, "未找到该统一社会信用代码的单位"),
        (422, "统一社会信用代码无效或请求格式错误"),
        (429, "查询过于频繁，见 Retry-After"),
        (503, "系统繁忙"),
    )
}


@dataclass(frozen=True)
class Caller:
    actor: Actor
    scope: Scope
    purpose: str


async def caller(request: Request) -> Caller:
    """The department key or staff user asking, allowed ``compliance.query``."""
    token = bearer(request)
    st = state_of(request)
    if token.startswith(accounts.KEY_PREFIX):
        key = await run_in_threadpool(
            accounts.authenticate_key, st.store, token, client_of(request)
        )
        if SCOPE not in key.scopes:
            raise PermissionDenied(
                f"该接口密钥没有查询单位参保缴费情况的权限（{SCOPE}）", f"key lacks scope {SCOPE}"
            )
        roles.require(key.role, ACTION, key.name)
        scope = Scope(key.name, key.role, None, personal=False, client=key.client)
        return Caller(key, scope, key.purpose)
    seen = await viewer(request)
    seen.require(ACTION)
    return Caller(seen.actor, seen.scope, STAFF_PURPOSE)


caller.canbao_action = ACTION  # type: ignore[attr-defined]  # read by the route test


PurposeHeader = Annotated[
    str | None,
    Header(
        alias="X-Purpose",
        description="查询用途（可选；UTF-8，非 ASCII 字符须百分号编码）；默认为发放密钥时登记的用途",
        max_length=600,
    ),
]


def _purpose(sent_raw: str | None, who: Caller) -> str:
    sent = unquote(sent_raw or "").strip()
    purpose = sent or who.purpose
    if not purpose:
        raise UsageError(
            "须说明查询用途：请在 X-Purpose 请求头中写明（UTF-8，非 ASCII 字符请百分号编码），"
            "或在发放密钥时登记用途",
            "no purpose: send X-Purpose or register one with the key",
        )
    return purpose[:200]


def _index_ready(request: Request) -> None:
    """The build's standing index, made now under a slot of heavy work when this process does
    not hold it yet (a new build: seconds from the published ledger, longer without one)."""
    st = state_of(request)
    if not STANDINGS.ready(st.data_dir):
        with limits.heavy("单位参保缴费情况"):
            STANDINGS.current(st.data_dir)


def _charge(request: Request, who: Caller, cost: int) -> None:
    st = state_of(request)
    limit = st.extra.get(QUOTA_KEY, quota.DEFAULT)
    leases = st.extra.setdefault(LEASES_KEY, quota.Leases())
    wait = leases.take(st.store, f"{who.actor.role}:{who.actor.name}", cost, limit)
    if wait:
        raise RateLimited(wait)


@router.get("/{credit_code}", response_model=ComplianceAnswer, responses=ERRORS)
def standing(
    credit_code: str,
    request: Request,
    response: Response,
    x_purpose: PurposeHeader = None,
    who: Caller = Depends(caller),  # noqa: B008
) -> ComplianceAnswer:
    """一个单位的参保缴费情况（按统一社会信用代码；不含个人信息）。"""
    purpose = _purpose(x_purpose, who)
    _charge(request, who, 1)
    _index_ready(request)
    rid = api.new_request_id()
    response.headers["X-Request-Id"] = rid
    st = state_of(request)
    return api.show(st.data_dir, st.store, who.actor, who.scope, credit_code, purpose, rid)


@router.post("/batch", response_model=BatchAnswer, responses=ERRORS)
def standing_batch(
    body: BatchRequest,
    request: Request,
    response: Response,
    x_purpose: PurposeHeader = None,
    who: Caller = Depends(caller),  # noqa: B008
) -> BatchAnswer:
    """多个单位的参保缴费情况（每次至多 1000 个统一社会信用代码；逐个标明已找到、未找到或代码无效）。"""
    purpose = _purpose(x_purpose, who)
    _charge(request, who, len(body.credit_codes))
    _index_ready(request)
    rid = api.new_request_id()
    response.headers["X-Request-Id"] = rid
    st = state_of(request)
    return api.batch(st.data_dir, st.store, who.actor, who.scope, body.credit_codes, purpose, rid)
