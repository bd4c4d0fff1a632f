"""Throttles shared by every worker process: a fixed-window counter per key in the store.

``blocked(store, key)`` says how many seconds a key must wait (0: free); ``hit`` counts one
failure and, past the limit, locks the key for ``lock`` seconds; ``clear`` forgets it after a
success. Keys name what they count, e.g. ``login:ip:10.0.0.7`` — never a person's ID.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, select

from canbao.errors import ConflictError
from canbao.store.db import Store
from canbao.store.models import Throttle, utcnow


@dataclass(frozen=True)
class Limit:
    count: int  # failures allowed in one window
    window: int  # seconds
    lock: int  # seconds locked once the count is passed


LOGIN_PER_CLIENT = Limit(count=20, window=900, lock=900)


def blocked(store: Store, key: str) -> int:
    """Seconds ``key`` must still wait (0 when it may go on)."""
    with store.sessions() as s:
        row = s.get(Throttle, key[:128])
    if row is None or row.locked_until is None:
        return 0
    left = (row.locked_until - utcnow()).total_seconds()
    return max(0, int(left + 0.999))


def hit(store: Store, key: str, limit: Limit) -> int:
    """Count one failure of ``key``; returns the seconds it is now locked for (0: not)."""
    key = key[:128]
    now = utcnow()
    for attempt in range(2):  # a concurrent first insert of the same key: read it again
        try:
            with store.transaction() as s:
                row = s.execute(
                    select(Throttle).where(Throttle.key == key).with_for_update()
                ).scalar_one_or_none()
                if row is None:
                    row = Throttle(key=key, window_start=now, count=0, locked_until=None)
                    s.add(row)
                if (now - row.window_start).total_seconds() >= limit.window:
                    row.window_start, row.count = now, 0
                    if row.locked_until is not None and row.locked_until <= now:
                        row.locked_until = None
                row.count += 1
                if row.count > limit.count:
                    row.locked_until = now + dt.timedelta(seconds=limit.lock)
                    return limit.lock
                return 0
        except ConflictError:
            if attempt:
                raise
    return 0


def clear(store: Store, key: str) -> None:
    with store.transaction() as s:
        s.execute(delete(Throttle).where(Throttle.key == key[:128]))
