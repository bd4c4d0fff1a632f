"""The 参保缴费情况证明 an employer prints, and its verification by anyone.

A certificate states, as of the data's date: the employer's name and credit code, whether it is
registered, its schemes with the persons enrolled (counts), whether it owes contributions (and
how much, over how many periods), its agreement and enforcement status — nothing personal. It is
kept in the store (``certificates``) under its **流水号** (serial: ``CB`` + issue date + 8
random characters) with the SHA-256 of its **校验码** (check code: 10 random characters from an
alphabet without look-alikes, about 50 bits, printed on the certificate and never stored).

Verification (the public page ``/verify`` and ``GET /api/self/verify``) takes the pair: when the
serial exists, the check code's hash matches, and the certificate is neither revoked nor past
its ``valid_until`` (:data:`VALID_DAYS` after issue), it shows what the certificate stated;
anything else — unknown serial, altered check code, revoked, expired — gets one answer. Failed
verifications count per client address (429 past the limit).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Any

from canbao.errors import RateLimited
from canbao.selfservice import throttles
from canbao.selfservice.employer_status import EmployerStatus
from canbao.store import audit_log
from canbao.store.audit_log import Event
from canbao.store.db import Store
from canbao.store.models import Certificate, utcnow

VALID_DAYS = 90
ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
CHECK_LEN = 10
_SERIAL = re.compile(r"^CB[0-9]{8}[2-9A-HJ-NP-Z]{8}$")
_CHECK = re.compile(r"^[2-9A-HJ-NP-Z]{10}$")
REJECTED_ZH = "流水号与校验码不匹配，或证明已过期、已作废：该证明无法核验"
TITLE_ZH = "参保缴费情况证明"


@dataclass(frozen=True)
class Issued:
    serial: str
    check: str  # shown once, on the printed certificate
    content: dict[str, Any]
    issued_at: dt.datetime
    valid_until: dt.date


def _random(n: int) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(n))


def _hash(serial: str, check: str) -> str:
    return hashlib.sha256(f"{serial}:{check}".encode()).hexdigest()


def content_of(status: EmployerStatus) -> dict[str, Any]:
    """What a certificate states (JSON: also what the verify page shows)."""
    return {
        "title": TITLE_ZH,
        "employer_name": status.name,
        "credit_code": status.credit_code,
        "registered": status.registered,
        "schemes": [
            {"scheme": s.scheme, "label": s.scheme_label, "enrolled": s.enrolled}
            for s in status.schemes
        ],
        "in_arrears": status.arrears_fen > 0,
        "arrears": status.arrears_text,
        "arrears_periods": status.arrears_periods,
        "arrears_months": status.arrears_months,
        "late_fee": status.late_fee_text,
        "agreement_status": status.agreement_status,
        "enforcement_status": status.enforcement_status,
        "as_of": status.as_of.isoformat(),
    }


def issue(store: Store, status: EmployerStatus, client: str) -> Issued:
    """Keep a new certificate of ``status``; its serial and check code (the code only now)."""
    now = utcnow()
    serial = "CB" + now.strftime("%Y%m%d") + _random(8)
    check = _random(CHECK_LEN)
    content = content_of(status)
    valid_until = now.date() + dt.timedelta(days=VALID_DAYS)
    with store.transaction() as s:
        s.add(
            Certificate(
                serial=serial, check_hash=_hash(serial, check), employer_key=status.employer_key,
                credit_code=status.credit_code, content=content, issued_at=now,
                valid_until=valid_until,
            )
        )  # fmt: skip
        audit_log.append(
            s,
            [Event("portal:employer", "employer", "selfservice.certificate", "employer",
                   (status.employer_key, serial), client=client)],
        )  # fmt: skip
    return Issued(serial, check, content, now, valid_until)


@dataclass(frozen=True)
class Verified:
    serial: str
    issued_at: dt.datetime
    valid_until: dt.date
    content: dict[str, Any]


def normalise(text: str) -> str:
    return "".join(text.split()).upper()[:40]


def verify(store: Store, serial: str, check: str, client: str) -> Verified | None:
    """The certificate when the pair is right and it stands, else None (one answer for every
    failure). A locked client address is :class:`~canbao.errors.RateLimited`."""
    ckey = throttles.client_key(client)
    throttles.check(store, ckey)
    serial, check = normalise(serial), normalise(check)
    row = None
    if _SERIAL.match(serial) and _CHECK.match(check):
        with store.sessions() as s:
            row = s.get(Certificate, serial)
    expected = row.check_hash if row is not None else _hash("CB00000000XXXXXXXX", "X")
    right = hmac.compare_digest(expected, _hash(serial, check))
    stands = (
        row is not None and right and row.revoked_at is None and row.valid_until >= utcnow().date()
    )
    audit_log.log(
        store,
        Event("public", "public", "selfservice.verify", "certificate", (serial[:32],),
              client=client, detail={"ok": bool(stands)}),
    )  # fmt: skip
    if not stands or row is None:
        locked = throttles.count(store, ckey, throttles.CLIENT)
        if locked:
            raise RateLimited(locked)
        return None
    return Verified(row.serial, row.issued_at, row.valid_until, dict(row.content))


def revoke(store: Store, serial: str, actor_name: str) -> bool:
    """Revoke a certificate (staff); False when unknown or already revoked."""
    with store.transaction() as s:
        row = s.get(Certificate, normalise(serial))
        if row is None or row.revoked_at is not None:
            return False
        row.revoked_at = utcnow()
        audit_log.append(
            s,
            [Event(actor_name, "staff", "portal.revoke_certificate", "certificate", (row.serial,))],
        )
    return True


def of_employer(store: Store, employer_key: str, serial: str) -> Certificate | None:
    """One of the employer's certificates (to show it again; the check code is not kept)."""
    with store.sessions() as s:
        row = s.get(Certificate, normalise(serial))
        if row is None or row.employer_key != employer_key:
            return None
        s.expunge(row)
        return row
