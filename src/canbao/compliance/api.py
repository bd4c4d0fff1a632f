"""The compliance API in Python: what the web route and ``canbao compliance show`` call.

Every call writes one audit-log entry (action ``compliance.query``): the client (a department's
key name or a user), the purpose, the request id, the credit code asked (single look-up) or the
number asked (batch), how many were found, and the fields returned — never the answer itself.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from pathlib import Path

from canbao.compliance.answer import (
    FIELDS,
    NOT_FOUND_ZH,
    BatchAnswer,
    BatchItem,
    ComplianceAnswer,
    look_up,
)
from canbao.compliance.standing import STANDINGS
from canbao.errors import DataError, NotFoundError
from canbao.store.accounts import Actor
from canbao.store.audit_log import Event, log
from canbao.store.db import Store
from canbao.warehouse.scope import Scope

ACTION = "compliance.query"


def new_request_id() -> str:
    return str(uuid.uuid4())


def _log(
    store: Store,
    actor: Actor,
    purpose: str,
    request_id: str,
    items: Sequence[BatchItem],
    single: bool,
) -> None:
    found = sum(1 for i in items if i.result == "found")
    keys = [i.credit_code for i in items if single and i.credit_code]
    detail = {
        "request_id": request_id,
        "purpose": purpose,
        "kind": "single" if single else "batch",
        "asked": len(items),
        "found": found,
        "not_found": sum(1 for i in items if i.result == "not_found"),
        "invalid": sum(1 for i in items if i.result == "invalid"),
    }
    fields = FIELDS if found else ()
    log(store, Event(actor.name, actor.role, ACTION, "employer", keys, fields, actor.client,
                     detail))  # fmt: skip


def show(
    data_dir: Path,
    store: Store,
    actor: Actor,
    scope: Scope,
    credit_code: str,
    purpose: str,
    request_id: str | None = None,
) -> ComplianceAnswer:
    """One employer's standing; :class:`DataError` (an invalid code) or :class:`NotFoundError`
    (no such employer, or outside a county reader's scope) — logged like an answer."""
    rid = request_id or new_request_id()
    index = STANDINGS.current(data_dir)
    item = look_up(index, store, [credit_code], scope)[0]
    _log(store, actor, purpose, rid, [item], True)
    if item.result == "invalid":
        raise DataError(f"统一社会信用代码无效：{(item.message or '').split('：', 1)[-1]}",
                        "invalid credit code", request_id=rid)  # fmt: skip
    if item.standing is None:
        raise NotFoundError(f"{NOT_FOUND_ZH}：登记库中没有该统一社会信用代码的单位",
                            "no employer with this credit code", request_id=rid)  # fmt: skip
    return ComplianceAnswer(**item.standing.model_dump(), request_id=rid)


def batch(
    data_dir: Path,
    store: Store,
    actor: Actor,
    scope: Scope,
    credit_codes: Sequence[str],
    purpose: str,
    request_id: str | None = None,
) -> BatchAnswer:
    """Each credit code's standing (or 未找到 / 代码无效), in the order asked."""
    rid = request_id or new_request_id()
    index = STANDINGS.current(data_dir)
    items = look_up(index, store, credit_codes, scope)
    _log(store, actor, purpose, rid, items, False)
    found = sum(1 for i in items if i.result == "found")
    return BatchAnswer(request_id=rid, as_of=index.as_of, asked=len(items), found=found,
                       items=items)  # fmt: skip
