"""A person signs in: citizen ID + name → a one-time code to the phone on file → a session.

**One answer.** Whatever the registry holds — the ID is there, is not there, the name does not
match, there is no usable phone, the ID's code requests are locked — the first step answers the
same words, with the same status, after the same work (the ID index is read, a code row is
written, the keyed hash is computed) and no sooner than the floor delay
(:data:`canbao.selfservice.throttles.FLOOR_S`). Only when everything matches is the code sent.
The ID is public knowledge: the code on the phone on file is the proof.

**Throttles** (:mod:`canbao.selfservice.throttles`): per client address every request and wrong
code (429 + Retry-After past the limit); per ID (keyed hash, counted whether or not the ID
exists) code requests — past the limit nothing more is sent but the answer stays the same — and
wrong codes (past the limit the code step answers 429). Each code dies after 5 wrong tries.

**Audit.** Every request and every code check is an audit-log entry (``selfservice.code``,
``selfservice.sign_in``): the person key when the registry has one, else the keyed hash of the
ID — never the ID.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from canbao.errors import AuthError, RateLimited
from canbao.notify.outbox import send_now
from canbao.selfservice import codes, portal_sessions, throttles
from canbao.selfservice.enrolment import find_person
from canbao.selfservice.secret import subject_hash
from canbao.standards import citizen_id, names
from canbao.store import audit_log
from canbao.store.audit_log import Event
from canbao.store.db import Store

SENT_ZH = (
    f"若您输入的身份信息正确，验证码已发送至您在社保登记的手机，{codes.MINUTES}分钟内有效。"
    "没有收到短信请确认登记的手机号码是否仍在使用，或到社保经办窗口办理。"
)
WRONG_CODE_ZH = "验证码不正确或已失效，请重新获取验证码"
ACTOR = "portal:person"
ROLE = "person"
_MOBILE_LEN = 11

Finder = Callable[[str], pl.DataFrame]  # id18 -> master persons with that ID
log = logging.getLogger("canbao.selfservice")

# The SMS is handed to the outbox off the request (a slow SMS gateway must not make the answer
# for a real ID slower than for any other); False: at once, in the request (tests, scripts).
BACKGROUND = True
_senders = ThreadPoolExecutor(max_workers=2, thread_name_prefix="canbao-otp")
_pending: set[Future[object]] = set()
_pending_lock = threading.Lock()


def dispatch(message: Callable[[], object]) -> None:
    """Send ``message`` (a call of :func:`canbao.notify.outbox.send_now`) in the background
    (:data:`BACKGROUND`) or now. A failure is logged; the outbox row records it."""
    if not BACKGROUND:
        message()
        return

    def run() -> object:
        try:
            return message()
        except Exception:  # noqa: BLE001 - the person asks again; the outbox shows the failure
            log.exception("one-time code not sent")
            return None

    future = _senders.submit(run)
    with _pending_lock:
        _pending.add(future)
    future.add_done_callback(_forget)


def _forget(future: Future[object]) -> None:
    with _pending_lock:
        _pending.discard(future)


def drain(timeout: float = 10.0) -> None:
    """Wait for the codes being sent (tests; shutting down)."""
    with _pending_lock:
        pending = list(_pending)
    for future in pending:
        future.result(timeout=timeout)


@dataclass(frozen=True)
class CodeRequest:
    ticket: str
    sent: bool  # for tests and the audit log; never shown


def _normalised_id(text: str) -> str | None:
    checked = citizen_id.check_frame([text[:40]]).row(0, named=True)
    return str(checked["id18"]) if checked["id_valid"] and checked["id18"] else None


def _usable_phone(phone: object) -> bool:
    text = str(phone or "")
    return len(text) == _MOBILE_LEN and text.isdigit() and text.startswith("1")


def _match(found: pl.DataFrame, name: str) -> dict[str, object] | None:
    wanted = names.normalize_person_name(name[:40]) or ""
    for row in found.iter_rows(named=True):  # one or two rows: the persons with this ID
        if wanted and names.normalize_person_name(row.get("name")) == wanted:
            return row
    return None


def request_code(
    store: Store,
    data_dir: Path,
    id_text: str,
    name: str,
    client: str,
    *,
    find: Finder | None = None,
    floor_s: float | None = None,
) -> CodeRequest:
    """Step one (see the module docstring). Raises :class:`RateLimited` only for the client
    address; everything about the ID gives the same answer."""
    started = time.monotonic()
    try:
        throttles.check(store, throttles.client_key(client))
        locked = throttles.count(store, throttles.client_key(client), throttles.CLIENT)
        if locked:
            raise RateLimited(locked)
        id18 = _normalised_id(id_text)
        subject = subject_hash(data_dir, "person", id18 or id_text.strip().upper()[:40])
        id_key = throttles.person_key(subject)
        over = bool(throttles.count(store, id_key, throttles.PERSON_SENDS))
        found = (find or (lambda x: find_person(data_dir, x)))(id18 or "0" * 18)
        row = None if over or id18 is None else _match(found, name)
        person_key = str(row["person_key"]) if row else ""
        send = bool(row) and _usable_phone(row["phone"] if row else None)
        issued = codes.issue(store, data_dir, "person", subject, person_key if send else "", client)
        if send and row is not None:
            message = functools.partial(
                send_now, store, data_dir, idem_key=f"otp:{issued.ticket.split('.')[0]}",
                reason="otp_login", recipient_type="person", recipient_key=person_key,
                phone=str(row["phone"]), template="otp_login",
                params={"code": issued.code, "minutes": str(codes.MINUTES)},
                county_code=str(row.get("county_code") or "") or None,
            )  # fmt: skip
            dispatch(message)
        audit_log.log(
            store,
            Event(ACTOR, ROLE, "selfservice.code", "person", (person_key or subject,),
                  client=client, detail={"sent": send, "locked": over}),
        )  # fmt: skip
        return CodeRequest(issued.ticket, send)
    finally:
        throttles.floor(started, floor_s)


def sign_in(
    store: Store, data_dir: Path, ticket: str, code: str, client: str, *,
    floor_s: float | None = None,
) -> str:  # fmt: skip
    """Step two: the code of the ticket → a portal session's token. A wrong, used, expired or
    dead code is one :class:`AuthError`; a locked client or ID is :class:`RateLimited`."""
    started = time.monotonic()
    try:
        ckey = throttles.client_key(client)
        subject = codes.subject_of(store, data_dir, ticket)
        keys = [ckey] + ([throttles.person_key(subject)] if subject else [])
        throttles.check(store, *keys)
        got = codes.check(store, data_dir, "person", ticket, code[:12])
        if not got.ok:
            locked = throttles.count(store, ckey, throttles.CLIENT)
            if subject:
                locked = max(
                    locked,
                    throttles.count(
                        store, throttles.person_key(subject), throttles.PERSON_FAILURES
                    ),
                )
            audit_log.log(
                store,
                Event(ACTOR, ROLE, "selfservice.sign_in_failed", "person", (subject or "-",),
                      client=client),
            )  # fmt: skip
            if locked:
                raise RateLimited(locked)
            raise AuthError(WRONG_CODE_ZH, "wrong, used or expired one-time code")
        token = portal_sessions.start(store, "person", got.subject_key, client)
        audit_log.log(
            store,
            Event(ACTOR, ROLE, "selfservice.sign_in", "person", (got.subject_key,),
                  client=client),
        )  # fmt: skip
        return token
    finally:
        throttles.floor(started, floor_s)
