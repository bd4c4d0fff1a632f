"""Self-service passwords the bureau issues to employers, by 统一社会信用代码.

``issue`` (``canbao portal issue-password CODE --as USER``, needs ``portal.manage``) makes a
random password, stores its argon2id hash and returns it once; it must be changed at the first
sign-in (``must_change``). ``revoke`` ends it and the employer's sessions.

**Sign-in** answers one way for an unknown code, a revoked password, a wrong password and a
locked code: the same words and status after the same work (an argon2 verify against a dummy
hash when there is no credential) and the floor delay. Failures count per credit code (keyed
hash, whether or not the code exists: :data:`~canbao.selfservice.throttles.EMPLOYER_FAILURES`)
and per client address; past either limit the answer is 429 with Retry-After. Each attempt is
an audit-log entry.

Employers in the registry carry no phone (the employer extracts have none), so there is no
one-time code for employers: the password only.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from pathlib import Path

import polars as pl
from sqlalchemy import select

from canbao.errors import AuthError, NotFoundError, RateLimited, UsageError
from canbao.registry import snapshot
from canbao.selfservice import portal_sessions, throttles
from canbao.selfservice.secret import subject_hash
from canbao.standards import credit_code as cc
from canbao.store import Actor, audit_log, passwords, roles
from canbao.store.audit_log import Event
from canbao.store.db import Store
from canbao.store.models import EmployerCredential, utcnow

WRONG_ZH = "统一社会信用代码或密码不正确"
ACTOR = "portal:employer"
ROLE = "employer"
_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ"
_DUMMY = passwords.hash_password("not-a-password-0")


@dataclass(frozen=True)
class Employer:
    employer_key: str
    credit_code: str
    name: str
    county_code: str | None


@dataclass(frozen=True)
class SignedIn:
    token: str
    employer_key: str
    must_change: bool


def normalise(code: str) -> str:
    return "".join(code.split()).upper()[:40]


def find_employer(data_dir: Path, code: str) -> Employer | None:
    """The master employer with this credit code (None when there is none)."""
    found = (
        snapshot.require_current(data_dir)
        .scan("employers")
        .filter(pl.col("credit_code") == code)
        .select("employer_key", "credit_code", "name", "county_code")
        .head(1)
        .collect()
    )
    if found.height == 0:
        return None
    r = found.row(0, named=True)
    return Employer(r["employer_key"], r["credit_code"], r["name"] or "", r["county_code"])


def new_password() -> str:
    """12 characters of letters and digits without look-alikes (meets the password policy)."""
    while True:
        pw = "".join(secrets.choice(_ALPHABET) for _ in range(12))
        if any(c.isdigit() for c in pw) and any(c.isalpha() for c in pw):
            return pw


def issue(store: Store, data_dir: Path, actor: Actor, code: str) -> tuple[Employer, str]:
    """A new password for the employer with this credit code (replacing any earlier one);
    returned once, only its hash is kept."""
    roles.require(actor.role, "portal.manage", actor.name)
    code = normalise(code)
    if not cc.is_valid(code) or len(code) != 18:
        raise UsageError(f"统一社会信用代码无效：{code}", "invalid credit code")
    emp = find_employer(data_dir, code)
    if emp is None:
        raise NotFoundError(f"登记库中没有统一社会信用代码为 {code} 的单位", "no such employer")
    if actor.counties and emp.county_code not in actor.counties:
        raise NotFoundError(f"登记库中没有统一社会信用代码为 {code} 的单位", "outside scope")
    password = new_password()
    with store.transaction() as s:
        row = s.execute(
            select(EmployerCredential).where(EmployerCredential.credit_code == code)
        ).scalar_one_or_none()
        if row is None:
            row = EmployerCredential(credit_code=code, employer_key=emp.employer_key,
                                     password_hash="", issued_by=actor.name)  # fmt: skip
            s.add(row)
        row.employer_key = emp.employer_key
        row.password_hash = passwords.hash_password(password)
        row.must_change, row.revoked_at = True, None
        row.issued_by, row.issued_at = actor.name, utcnow()
        s.flush()
        audit_log.append(s, [actor.event("portal.issue_password", "employer", [emp.employer_key])])
    portal_sessions.end_subject(store, "employer", emp.employer_key)
    return emp, password


def revoke(store: Store, actor: Actor, code: str) -> bool:
    """End the employer's password and sessions; False when it had none."""
    roles.require(actor.role, "portal.manage", actor.name)
    code = normalise(code)
    with store.transaction() as s:
        row = s.execute(
            select(EmployerCredential).where(EmployerCredential.credit_code == code)
        ).scalar_one_or_none()
        if row is None or row.revoked_at is not None:
            return False
        row.revoked_at = utcnow()
        key = row.employer_key
        audit_log.append(s, [actor.event("portal.revoke_password", "employer", [key])])
    portal_sessions.end_subject(store, "employer", key)
    return True


def sign_in(
    store: Store, data_dir: Path, code: str, password: str, client: str, *,
    floor_s: float | None = None,
) -> SignedIn:  # fmt: skip
    """Credit code + password → a portal session (see the module docstring)."""
    started = time.monotonic()
    try:
        code = normalise(code)
        subject = subject_hash(data_dir, "employer", code)
        ckey, ekey = throttles.client_key(client), throttles.employer_key(subject)
        throttles.check(store, ckey, ekey)
        with store.sessions() as s:
            row = s.execute(
                select(EmployerCredential).where(EmployerCredential.credit_code == code)
            ).scalar_one_or_none()
        usable = row is not None and row.revoked_at is None
        ok = passwords.verify(row.password_hash if usable and row else _DUMMY, password[:200])
        if not (ok and usable and row is not None):
            locked = max(
                throttles.count(store, ckey, throttles.CLIENT),
                throttles.count(store, ekey, throttles.EMPLOYER_FAILURES),
            )
            audit_log.log(
                store,
                Event(ACTOR, ROLE, "selfservice.sign_in_failed", "employer", (subject,),
                      client=client),
            )  # fmt: skip
            if locked:
                raise RateLimited(locked)
            raise AuthError(WRONG_ZH, "wrong credit code or password")
        throttles.clear(store, ekey)
        token = portal_sessions.start(store, "employer", row.employer_key, client)
        audit_log.log(
            store,
            Event(ACTOR, ROLE, "selfservice.sign_in", "employer", (row.employer_key,),
                  client=client),
        )  # fmt: skip
        return SignedIn(token, row.employer_key, row.must_change)
    finally:
        throttles.floor(started, floor_s)


def must_change(store: Store, employer_key: str) -> bool:
    with store.sessions() as s:
        row = s.execute(
            select(EmployerCredential.must_change).where(
                EmployerCredential.employer_key == employer_key,
                EmployerCredential.revoked_at.is_(None),
            )
        ).first()
    return bool(row[0]) if row else False


def change_password(
    store: Store, employer_key: str, current: str, new: str, again: str, client: str,
    keep_token: str = "",
) -> None:  # fmt: skip
    """Change the signed-in employer's password (the policy of staff passwords applies; the
    issued password may not be kept). Other sessions of the employer end."""
    if new != again:
        raise UsageError("两次输入的新密码不一致", "new passwords differ")
    with store.sessions() as s:
        row = s.execute(
            select(EmployerCredential).where(
                EmployerCredential.employer_key == employer_key,
                EmployerCredential.revoked_at.is_(None),
            )
        ).scalar_one_or_none()
    if row is None or not passwords.verify(row.password_hash, current[:200]):
        raise AuthError("当前密码不正确", "wrong current password")
    if new == current:
        raise UsageError("新密码不能与当前密码相同", "new password equals the current one")
    passwords.check_policy(new, row.credit_code)
    with store.transaction() as s:
        found = s.get_one(EmployerCredential, row.id)
        found.password_hash = passwords.hash_password(new)
        found.must_change = False
        audit_log.append(
            s, [Event(ACTOR, ROLE, "selfservice.password", "employer", (employer_key,),
                      client=client)],
        )  # fmt: skip
    portal_sessions.end_subject(store, "employer", employer_key, keep=keep_token)
