"""A person asks to change the phone or address on file: the request becomes a case
(kind ``contact_change``) for staff review — never a direct write. Staff check it with the person
and change the source department's system; resolving the case (已核实并在业务系统变更 or 不予变更)
does not write the registry, which changes when the next extract says so.

What is kept: the case's ``subject`` holds the name, the new phone **masked** or the new address,
and the reason with the confirmation number (受理号); the full new phone is in the case's first
event (``request``), which staff see in the case's full view (an audit-log entry). The person
is shown the confirmation number and the new value masked, never back in full.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from canbao.errors import UsageError
from canbao.registry import snapshot
from canbao.selfservice import throttles
from canbao.selfservice.enrolment import Rows, masked_phone, snapshot_rows
from canbao.store import audit_log
from canbao.store.audit_log import Event
from canbao.store.db import Store
from canbao.store.models import Case, CaseEvent, utcnow

KIND = "contact_change"
FIELDS = {"phone": "联系电话", "address": "联系地址"}
_MOBILE = re.compile(r"^1[3-9][0-9]{9}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f<>]")
ADDRESS_MIN, ADDRESS_MAX = 6, 100
_REF_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"


@dataclass(frozen=True)
class Request:
    ref: str  # 受理号 (shown to the person)
    case_id: int
    field: str
    shown: str  # the new value as the person sees it back (phone masked, address cut)


def clean(field: str, value: str) -> str:
    """The new value, checked: a mainland mobile number, or an address of 6-100 characters."""
    if field not in FIELDS:
        raise UsageError("只能申请变更联系电话或联系地址", f"bad field {field!r}")
    text = re.sub(r"\s+", "", value) if field == "phone" else " ".join(value.split())
    if field == "phone":
        if not _MOBILE.match(text):
            raise UsageError("请输入11位手机号码", "not a mobile number", field="value")
        return text
    if _CONTROL.search(text) or not ADDRESS_MIN <= len(text) <= ADDRESS_MAX:
        raise UsageError(
            f"地址应为 {ADDRESS_MIN}～{ADDRESS_MAX} 个字，不含特殊符号",
            "bad address",
            field="value",
        )
    return text


def _ref() -> str:
    day = utcnow().strftime("%Y%m%d")
    return "BG" + day + "".join(secrets.choice(_REF_ALPHABET) for _ in range(6))


def request_change(
    store: Store,
    data_dir: Path,
    person_key: str,
    field: str,
    value: str,
    client: str,
    *,
    rows: Rows | None = None,
) -> Request:
    """Open a ``contact_change`` case for the signed-in person (at most
    :data:`canbao.selfservice.throttles.CHANGES` a day)."""
    new = clean(field, value)
    key = f"self:change:{person_key}"
    throttles.check(store, key)
    person = (rows or snapshot_rows(data_dir))("persons", person_key)
    if person.height == 0:
        raise UsageError("登记库中暂无您的信息，请到社保经办窗口办理", "person not in the registry")
    row = person.row(0, named=True)
    build = snapshot.require_current(data_dir).build_id
    ref = _ref()
    shown = masked_phone(new) if field == "phone" else new
    label = FIELDS[field]
    subject = {
        "name": row.get("name") or "",
        "reason": f"本人通过自助服务申请变更{label}（受理号 {ref}），新{label}：{shown}",
        **({"phone": shown} if field == "phone" else {"address": new}),
    }
    now = utcnow()
    with store.transaction() as s:
        case = Case(
            case_key=f"{KIND}/{person_key}/{ref}", kind=KIND, subject_type="person",
            subject_key=person_key, scheme="", county_code=row.get("county_code"),
            township=row.get("township"), priority=5, subject=subject, state="new",
            opened_build=build, opened_at=now, open_since=now, last_seen_build=build,
        )  # fmt: skip
        s.add(case)
        s.flush()
        s.add(
            CaseEvent(case_id=case.id, at=now, actor="portal:person", action="request",
                      from_state="", to_state="new", build="",
                      detail={"ref": ref, "field": field, "new_value": new})
        )  # fmt: skip
        audit_log.append(
            s,
            [Event("portal:person", "person", "selfservice.change_request", "case",
                   (str(case.id), person_key), (field,), client, {"ref": ref})],
        )  # fmt: skip
        case_id = case.id
    throttles.count(store, key, throttles.CHANGES)  # past the limit the next one is 429
    return Request(ref, case_id, field, shown if field == "phone" else new[:6] + "…")
