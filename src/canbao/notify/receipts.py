"""Delivery receipts (状态回执) in one vocabulary — ``delivered`` or ``failed`` with a reason —
reconciled to the outbox.

- Aliyun (SmsReport push, or the pull API's rows): ``[{phone_number, send_time, report_time,
  success, err_code ("DELIVERED" on success), err_msg, biz_id, out_id}]``; matched by
  ``biz_id`` (our ``provider_id``), else ``out_id`` (our idempotency key).
- Tencent (callback): ``[{mobile, report_status ("SUCCESS" | "FAIL"), errmsg ("DELIVRD" on
  success), description, sid, user_receive_time}]``; matched by ``sid`` (the SerialNo).

A receipt that matches no outbox message, or that cannot be read, is reported back, never
fatal. A later receipt of the same message overwrites an earlier one (providers retry).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select

from canbao.errors import DataError, InputFileError
from canbao.store import Store
from canbao.store.models import OutboxMessage

_CHUNK = 500


@dataclass(frozen=True)
class Receipt:
    provider: str  # aliyun | tencent
    provider_id: str
    out_id: str
    delivered: bool
    reason: str  # the provider's code when failed ("" when delivered)
    at: dt.datetime | None


@dataclass
class Reconciled:
    delivered: int = 0
    failed: int = 0
    unknown: list[str] = field(default_factory=list)  # provider ids / out ids not in the outbox
    unreadable: list[int] = field(default_factory=list)  # positions (1-based) of bad entries


def _time(raw: Any) -> dt.datetime | None:
    """A provider's local (UTC+8) time as naive UTC."""
    if not isinstance(raw, str) or not raw.strip():
        return None
    try:
        local = dt.datetime.fromisoformat(raw.strip().replace("T", " "))
    except ValueError:
        return None
    if local.tzinfo is not None:
        return local.astimezone(dt.UTC).replace(tzinfo=None)
    return local - dt.timedelta(hours=8)


def parse_one(raw: Any) -> Receipt | None:
    """One receipt entry of either provider (None when it is neither)."""
    if not isinstance(raw, dict):
        return None
    if "biz_id" in raw or "out_id" in raw:
        ok = raw.get("success") in (True, "true", "True", 1)
        code = str(raw.get("err_code") or "")
        return Receipt(
            "aliyun", str(raw.get("biz_id") or ""), str(raw.get("out_id") or ""), ok,
            "" if ok else (code or str(raw.get("err_msg") or "FAILED")),
            _time(raw.get("report_time")),
        )  # fmt: skip
    if "sid" in raw and "report_status" in raw:
        status = str(raw.get("report_status") or "").upper()
        if status not in ("SUCCESS", "FAIL"):
            return None
        ok = status == "SUCCESS"
        reason = str(raw.get("errmsg") or "") or str(raw.get("description") or "FAIL")
        return Receipt(
            "tencent", str(raw["sid"]), "", ok, "" if ok else reason,
            _time(raw.get("user_receive_time")),
        )  # fmt: skip
    return None


def parse(doc: Any) -> tuple[list[Receipt], list[int]]:
    """The receipts of a JSON document (a list, or one object) and the positions of the
    entries that are not receipts."""
    entries = doc if isinstance(doc, list) else [doc]
    found: list[Receipt] = []
    bad: list[int] = []
    for i, raw in enumerate(entries, start=1):
        r = parse_one(raw)
        if r is None:
            bad.append(i)
        else:
            found.append(r)
    return found, bad


def read_file(path: Path) -> tuple[list[Receipt], list[int]]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8-sig"))
    except OSError as e:
        raise InputFileError(f"无法读取回执文件：{path}", str(e)) from e
    except ValueError as e:
        raise DataError(f"回执文件不是有效的 JSON：{path}", str(e)) from e
    return parse(doc)


def reconcile(store: Store, receipts: list[Receipt]) -> Reconciled:
    """Mark the matching outbox messages delivered or failed."""
    res = Reconciled()
    for i in range(0, len(receipts), _CHUNK):
        chunk = receipts[i : i + _CHUNK]
        ids = [r.provider_id for r in chunk if r.provider_id]
        outs = [r.out_id for r in chunk if r.out_id]
        with store.transaction() as s:
            rows = s.scalars(
                select(OutboxMessage).where(
                    or_(OutboxMessage.provider_id.in_(ids), OutboxMessage.idem_key.in_(outs))
                )
            ).all()
            by_id = {m.provider_id: m for m in rows if m.provider_id}
            by_key = {m.idem_key: m for m in rows}
            for r in chunk:
                msg = by_id.get(r.provider_id) if r.provider_id else None
                msg = msg or (by_key.get(r.out_id) if r.out_id else None)
                if msg is None:
                    res.unknown.append(r.provider_id or r.out_id)
                    continue
                msg.state = "delivered" if r.delivered else "failed"
                msg.error = "" if r.delivered else r.reason
                msg.delivered_at = r.at if r.delivered else None
                if r.delivered:
                    res.delivered += 1
                else:
                    res.failed += 1
    return res
