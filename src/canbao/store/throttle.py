"""Throttles shared by every worker process: a fixed-window counter per key in the store.

``blocked(store, key)`` says how many seconds a key must wait (0: free); ``hit`` counts one
failure and, past the limit, locks the key for ``lock`` seconds; ``clear`` forgets it after a
success. Keys name what they count, e.g. ``login:ip:10.0.0.7`` — never a person's ID.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import case, delete, insert, update

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
    """Count one failure of ``key``; returns the seconds it is now locked for (0: not).

    Each step is one conditional UPDATE (atomic on SQLite, whose driver starts a transaction only
    at the first write, so a read-then-write would lose concurrent failures; and on PostgreSQL,
    which re-checks an UPDATE's condition on the locked row): count in the current window; else
    start a new window when the old one is over; else create the key's row."""
    key = key[:128]
    for _attempt in range(3):
        now = utcnow()
        start = now - dt.timedelta(seconds=limit.window)
        lock_until = now + dt.timedelta(seconds=limit.lock)
        with store.transaction() as s:
            counted = s.execute(
                update(Throttle)
                .where(Throttle.key == key, Throttle.window_start > start)
                .values(
                    count=Throttle.count + 1,
                    locked_until=case(
                        (Throttle.count + 1 > limit.count, lock_until),
                        else_=Throttle.locked_until,
                    ),
                )
                .returning(Throttle.count)
                .execution_options(synchronize_session=False)
            ).scalar()
            if counted is None:
                counted = s.execute(
                    update(Throttle)
                    .where(Throttle.key == key, Throttle.window_start <= start)
                    .values(
                        window_start=now,
                        count=1,
                        locked_until=case(
                            (Throttle.locked_until > now, Throttle.locked_until), else_=None
                        )
                        if limit.count >= 1
                        else lock_until,
                    )
                    .returning(Throttle.count)
                    .execution_options(synchronize_session=False)
                ).scalar()
        if counted is None:
            try:
                with store.transaction() as s:
                    s.execute(
                        insert(Throttle).values(
                            key=key,
                            window_start=now,
                            count=1,
                            locked_until=lock_until if limit.count < 1 else None,
                        )
                    )
                counted = 1
            except ConflictError:  # another worker created it first: count against it
                continue
        return limit.lock if counted > limit.count else 0
    return 0


def clear(store: Store, key: str) -> None:
    with store.transaction() as s:
        s.execute(delete(Throttle).where(Throttle.key == key[:128]))
