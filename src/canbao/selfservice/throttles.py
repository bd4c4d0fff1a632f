"""The self-service throttles: fixed-window counters in the store (:mod:`canbao.store.throttle`,
shared by every worker process), and the floor delay of the sign-in steps.

Keys never hold an identifier in clear: ``self:id:<keyed hash>``, ``self:emp:<keyed hash>``,
``self:ip:<address>``. An identifier is counted whether or not the registry knows it, so a
lock-out says nothing about existence.
"""

from __future__ import annotations

import time

from canbao.errors import RateLimited
from canbao.store import throttle
from canbao.store.db import Store
from canbao.store.throttle import Limit

# a person's ID: code requests (each sends an SMS when the ID is real) and wrong codes
PERSON_SENDS = Limit(count=5, window=3600, lock=3600)
PERSON_FAILURES = Limit(count=10, window=3600, lock=3600)
# an employer's credit code: wrong passwords
EMPLOYER_FAILURES = Limit(count=5, window=900, lock=900)
# one client address: look-ups, wrong codes and passwords, failed verifications together
CLIENT = Limit(count=30, window=900, lock=900)
# change requests per person per day (the 4th is refused)
CHANGES = Limit(count=2, window=86400, lock=86400)

FLOOR_S = 0.4  # every answer of a sign-in step takes at least this long


def client_key(client: str) -> str:
    return f"self:ip:{client or '-'}"


def person_key(subject: str) -> str:
    return f"self:id:{subject}"


def employer_key(subject: str) -> str:
    return f"self:emp:{subject}"


def check(store: Store, *keys: str) -> None:
    """429 (:class:`RateLimited`) when one of ``keys`` is locked."""
    wait = max((throttle.blocked(store, k) for k in keys), default=0)
    if wait:
        raise RateLimited(wait)


def count(store: Store, key: str, limit: Limit) -> int:
    """Count one event of ``key``; the seconds it is now locked for (0: not)."""
    return throttle.hit(store, key, limit)


def clear(store: Store, key: str) -> None:
    throttle.clear(store, key)


def floor(started: float, seconds: float | None = None) -> None:
    """Sleep until ``seconds`` (default :data:`FLOOR_S`) have passed since ``started``
    (:func:`time.monotonic`): found, not found and locked answers take the same time."""
    left = (FLOOR_S if seconds is None else seconds) - (time.monotonic() - started)
    if left > 0:
        time.sleep(left)
