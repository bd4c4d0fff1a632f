"""One-time codes: 6 digits, valid :data:`MINUTES` minutes, used once, dead after
:data:`MAX_ATTEMPTS` wrong tries; a new code for the same identifier ends the earlier ones.

Only the code's salted SHA-256 is stored (``one_time_codes``), with the keyed hash of the
identifier it was issued for. The browser carries a *ticket* between the two steps — the row's
number and its signature under the data directory's key — never the identifier. A look-up that
found nobody gets a row and a ticket too (``subject_key`` empty, its code never sent), so the
two steps look the same either way.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select, update

from canbao.selfservice.secret import sign
from canbao.store.db import Store
from canbao.store.models import OneTimeCode, utcnow

DIGITS = 6
MINUTES = 10
MAX_ATTEMPTS = 5
PURPOSES = ("person", "employer")


@dataclass(frozen=True)
class Issued:
    ticket: str  # "<row id>.<signature>": what the code form carries
    code: str  # to send (never shown, never logged)
    expires_at: dt.datetime


def _hash(salt: str, code: str) -> str:
    return hashlib.sha256(f"{salt}:{code}".encode()).hexdigest()


def issue(
    store: Store, data_dir: Path, purpose: str, subject_hash: str, subject_key: str, client: str
) -> Issued:
    """A new code for ``subject_hash`` (earlier unused codes of it end)."""
    if purpose not in PURPOSES:
        raise ValueError(purpose)
    code = f"{secrets.randbelow(10**DIGITS):0{DIGITS}d}"
    salt = secrets.token_hex(16)
    now = utcnow()
    expires = now + dt.timedelta(minutes=MINUTES)
    with store.transaction() as s:
        s.execute(
            update(OneTimeCode)
            .where(
                OneTimeCode.purpose == purpose,
                OneTimeCode.subject_hash == subject_hash,
                OneTimeCode.used_at.is_(None),
            )
            .values(used_at=now, version=OneTimeCode.version + 1)
        )
        row = OneTimeCode(
            purpose=purpose, subject_hash=subject_hash, subject_key=subject_key, salt=salt,
            code_hash=_hash(salt, code), created_at=now, expires_at=expires, attempts=0,
            client=client[:64],
        )  # fmt: skip
        s.add(row)
        s.flush()
        row_id = row.id
    return Issued(f"{row_id}.{sign(data_dir, str(row_id))}", code, expires)


@dataclass(frozen=True)
class Checked:
    ok: bool
    subject_hash: str  # "" when the ticket is not one of ours
    subject_key: str  # "" unless ok (and the code was for someone the registry knows)


def _ticket_id(data_dir: Path, ticket: str) -> int | None:
    number, _, signature = ticket.partition(".")
    if not number.isdigit() or len(number) > 18:
        return None
    if not hmac.compare_digest(signature.encode(), sign(data_dir, number).encode()):
        return None
    return int(number)


def check(store: Store, data_dir: Path, purpose: str, ticket: str, code: str) -> Checked:
    """Check ``code`` against the ticket's row: right, unused, in time and under the attempt
    limit uses it up; a wrong code counts an attempt. ``subject_key`` is the registry's key,
    empty for a look-up that found nobody (whose code is never right: it was never sent)."""
    row_id = _ticket_id(data_dir, ticket)
    if row_id is None:
        return Checked(False, "", "")
    code = code.strip()
    now = utcnow()
    with store.transaction() as s:
        row = s.execute(
            select(OneTimeCode).where(OneTimeCode.id == row_id).with_for_update()
        ).scalar_one_or_none()
        if row is None or row.purpose != purpose:
            return Checked(False, "", "")
        live = row.used_at is None and row.expires_at > now and row.attempts < MAX_ATTEMPTS
        right = hmac.compare_digest(_hash(row.salt, code), row.code_hash)
        if live and right and row.subject_key:
            row.used_at = now
            return Checked(True, row.subject_hash, row.subject_key)
        if live:
            row.attempts += 1
        return Checked(False, row.subject_hash, "")


def subject_of(store: Store, data_dir: Path, ticket: str) -> str:
    """The keyed hash of the identifier a ticket's code was issued for ("" for a bad ticket)."""
    row_id = _ticket_id(data_dir, ticket)
    if row_id is None:
        return ""
    with store.sessions() as s:
        found = s.execute(
            select(OneTimeCode.subject_hash).where(OneTimeCode.id == row_id)
        ).scalar_one_or_none()
    return str(found or "")
