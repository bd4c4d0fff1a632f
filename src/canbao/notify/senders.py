"""Senders: what hands an outbox message to an SMS channel. The default writes each message as
one JSON line to ``DATA/outbox/sms.jsonl`` (nothing leaves the machine)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from canbao.store.models import utcnow


@dataclass(frozen=True)
class Outgoing:
    out_id: str  # the outbox's idempotency key (OutId / SessionContext)
    phone: str
    template: str
    params: dict[str, str]


@dataclass(frozen=True)
class Accepted:
    ok: bool
    provider_id: str  # BizId / SerialNo
    error: str = ""


class Sender(Protocol):
    name: str

    def send(self, message: Outgoing) -> Accepted: ...


def sent_file(data_dir: Path) -> Path:
    return data_dir / "outbox" / "sms.jsonl"


class FileSender:
    """Writes each message to :func:`sent_file` (mode ``test``: nothing is sent)."""

    name = "file"

    def __init__(self, data_dir: Path) -> None:
        self.path = sent_file(data_dir)

    def send(self, message: Outgoing) -> Accepted:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        biz = uuid.uuid4().hex[:20]
        line = {
            "at": utcnow().isoformat(),
            "out_id": message.out_id,
            "phone": message.phone,
            "template": message.template,
            "params": message.params,
            "provider_id": biz,
        }
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(line, ensure_ascii=False) + "\n")
        return Accepted(True, biz)


def sender_for(data_dir: Path) -> Sender:
    return FileSender(data_dir)
