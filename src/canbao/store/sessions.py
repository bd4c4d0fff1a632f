"""Web sign-in sessions and API bearer tokens, kept in the store so that every worker process
sees them and signing out ends them everywhere.

A token is 32 random bytes (URL-safe text) handed to the browser (cookie) or the API client
(``access_token``); only its SHA-256 is stored. Each session has its own CSRF token for forms.
Changing a password or disabling a user ends the user's sessions.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, select

from canbao.store.accounts import Actor
from canbao.store.db import Store
from canbao.store.models import User, WebSession, utcnow

KINDS = ("cookie", "api")
COOKIE_HOURS = 10  # one working day; signing in again the next morning
API_HOURS = 1


@dataclass(frozen=True)
class Signed:
    """A live session: who, the CSRF token of its forms, when it ends."""

    actor: Actor
    csrf: str
    expires_at: dt.datetime
    kind: str


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(store: Store, actor: Actor, kind: str = "cookie", *, hours: float | None = None) -> str:
    """A new session for a signed-in ``actor``; returns the token (shown once)."""
    if kind not in KINDS:
        raise ValueError(kind)
    token = secrets.token_urlsafe(32)
    now = utcnow()
    life = hours if hours is not None else (COOKIE_HOURS if kind == "cookie" else API_HOURS)
    with store.transaction() as s:
        s.execute(delete(WebSession).where(WebSession.expires_at < now))
        s.add(
            WebSession(
                token_hash=_hash(token),
                user_name=actor.name,
                kind=kind,
                csrf=secrets.token_urlsafe(24),
                client=actor.client[:64],
                created_at=now,
                expires_at=now + dt.timedelta(hours=life),
            )
        )
    return token


def resolve(store: Store, token: str, client: str = "") -> Signed | None:
    """The live session of ``token`` (None when unknown, expired or its user is disabled)."""
    if not token or len(token) > 100:
        return None
    with store.sessions() as s:
        row = s.execute(
            select(WebSession, User)
            .join(User, User.name == WebSession.user_name)
            .where(WebSession.token_hash == _hash(token))
        ).one_or_none()
    if row is None:
        return None
    ws, user = row
    if ws.expires_at <= utcnow() or user.disabled:
        return None
    actor = Actor(user.name, user.role, tuple(user.counties), client or ws.client)
    return Signed(actor, ws.csrf, ws.expires_at, ws.kind)


def end(store: Store, token: str) -> None:
    with store.transaction() as s:
        s.execute(delete(WebSession).where(WebSession.token_hash == _hash(token)))


def end_all(store: Store, user_name: str, *, keep: str = "") -> int:
    """End every session of a user (after a password change; ``keep``: the current one)."""
    with store.transaction() as s:
        q = delete(WebSession).where(WebSession.user_name == user_name)
        if keep:
            q = q.where(WebSession.token_hash != _hash(keep))
        return int(s.execute(q).rowcount or 0)  # type: ignore[attr-defined]
