"""Sessions of the public self-service area (``portal_sessions``): a person or an employer,
never a staff role. The token (32 random bytes) goes to the browser's cookie, only its SHA-256
is kept; each session has its own CSRF token. A person's session lasts
:data:`PERSON_MINUTES`, an employer's :data:`EMPLOYER_MINUTES`; signing out ends it."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import delete

from canbao.store.db import Store
from canbao.store.models import PortalSession, utcnow

PERSON_MINUTES = 15
EMPLOYER_MINUTES = 60
SUBJECT_TYPES = ("person", "employer")


@dataclass(frozen=True)
class Portal:
    subject_type: str  # person | employer
    subject_key: str  # person_key | employer_key
    csrf: str
    expires_at: dt.datetime
    token: str


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(store: Store, subject_type: str, subject_key: str, client: str) -> str:
    if subject_type not in SUBJECT_TYPES or not subject_key:
        raise ValueError(subject_type)
    token = secrets.token_urlsafe(32)
    now = utcnow()
    minutes = PERSON_MINUTES if subject_type == "person" else EMPLOYER_MINUTES
    with store.transaction() as s:
        s.execute(delete(PortalSession).where(PortalSession.expires_at < now))
        s.add(
            PortalSession(
                token_hash=_hash(token), subject_type=subject_type, subject_key=subject_key,
                csrf=secrets.token_urlsafe(24), client=client[:64], created_at=now,
                expires_at=now + dt.timedelta(minutes=minutes),
            )
        )  # fmt: skip
    return token


def resolve(store: Store, token: str) -> Portal | None:
    if not token or len(token) > 100:
        return None
    with store.sessions() as s:
        row = s.get(PortalSession, _hash(token))
    if row is None or row.expires_at <= utcnow():
        return None
    return Portal(row.subject_type, row.subject_key, row.csrf, row.expires_at, token)


def end(store: Store, token: str) -> None:
    with store.transaction() as s:
        s.execute(delete(PortalSession).where(PortalSession.token_hash == _hash(token)))


def end_subject(store: Store, subject_type: str, subject_key: str, *, keep: str = "") -> int:
    """End every session of one person or employer (a password revoked or changed; ``keep``:
    the current session's token)."""
    with store.transaction() as s:
        q = delete(PortalSession).where(
            PortalSession.subject_type == subject_type, PortalSession.subject_key == subject_key
        )
        if keep:
            q = q.where(PortalSession.token_hash != _hash(keep))
        return int(s.execute(q).rowcount or 0)  # type: ignore[attr-defined]
