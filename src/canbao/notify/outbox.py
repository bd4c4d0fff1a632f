"""The SMS outbox (table ``outbox``): every message is a row with an idempotency key before it is
handed to a sender, so a message queued twice is sent once and every send can be reconciled."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from canbao.notify.config import load_config
from canbao.notify.senders import Outgoing, sender_for
from canbao.store.db import Store
from canbao.store.models import OutboxMessage, utcnow


def send_now(
    store: Store,
    data_dir: Path,
    *,
    idem_key: str,
    reason: str,
    recipient_type: str,
    recipient_key: str,
    phone: str,
    template: str,
    params: dict[str, str],
    county_code: str | None = None,
) -> OutboxMessage:
    """Queue one message and send it at once (one-time codes: no quiet hours, no opt-out)
    through the configured sender (``DATA/notify.toml``; by default the file sender, mode
    ``test``). A key already in the outbox is not sent again; its row is returned."""
    config = load_config(data_dir)
    with store.transaction() as s:
        row = s.execute(
            select(OutboxMessage).where(OutboxMessage.idem_key == idem_key)
        ).scalar_one_or_none()
        if row is not None:
            s.expunge(row)
            return row
        row = OutboxMessage(
            idem_key=idem_key, reason=reason, recipient_type=recipient_type,
            recipient_key=recipient_key, county_code=county_code, phone=phone,
            template=template, params=params, state="queued", mode=config.mode,
        )  # fmt: skip
        s.add(row)
    sender = sender_for(data_dir, config=config)
    result = sender.send(Outgoing(idem_key, phone, template, params))
    with store.transaction() as s:
        row = s.get_one(OutboxMessage, row.id)
        row.provider = sender.name
        row.provider_id = result.provider_id
        row.state = "sent" if result.ok else "failed"
        row.error = result.error
        row.sent_at = utcnow()
        s.flush()
        s.expunge(row)
    return row
