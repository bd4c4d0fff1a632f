"""The per-client quota of the compliance API, shared by every worker process: a fixed-window
count of credit codes asked per client in the store's ``throttles`` table (key
``compliance:<client>``). A single look-up costs one code, a batch its number of codes; a call that
would pass the window's limit is refused (HTTP 429) with the seconds until the window ends
(``Retry-After``) and is not counted. A window's first call always passes (a batch larger than the
whole quota is refused by its size limit, not here).

A web process does not write the store on every call: :class:`Leases` claims blocks of codes
(up to :data:`LEASE`, at most a tenth of the quota) and spends them locally until the store's
window ends — together the processes never get more than the quota.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import dataclass

from sqlalchemy import insert, or_, select, update

from canbao.errors import ConflictError
from canbao.store.db import Store
from canbao.store.models import Throttle, utcnow


@dataclass(frozen=True)
class Quota:
    codes: int  # credit codes per window
    window: int  # seconds


DEFAULT = Quota(codes=60_000, window=60)


def take(store: Store, client: str, cost: int, quota: Quota = DEFAULT) -> int:
    """Count ``cost`` codes for ``client``: 0 when allowed, else the seconds to wait."""
    return claim(store, client, cost, quota)[0]


def claim(store: Store, client: str, cost: int, quota: Quota = DEFAULT) -> tuple[int, dt.datetime]:
    """(0, the window's start) when ``cost`` codes were counted, else (seconds to wait, start).

    Each step is one conditional statement (atomic on SQLite, whose driver starts a transaction
    only at the first write, and on PostgreSQL, which re-checks an UPDATE's condition on the
    locked row): add to the current window if it has room; else start a new window if the old
    one is over; else create the client's row; else refuse."""
    key = f"compliance:{client}"[:128]
    now = utcnow()
    for _attempt in range(3):
        now = utcnow()
        start = now - dt.timedelta(seconds=quota.window)
        with store.transaction() as s:
            added = s.execute(
                update(Throttle)
                .where(
                    Throttle.key == key,
                    Throttle.window_start > start,
                    or_(Throttle.count == 0, Throttle.count + cost <= quota.codes),
                )
                .values(count=Throttle.count + cost)
                .returning(Throttle.window_start)
                .execution_options(synchronize_session=False)
            ).scalar()
            if added is not None:
                return 0, added
            renewed = s.execute(
                update(Throttle)
                .where(Throttle.key == key, Throttle.window_start <= start)
                .values(window_start=now, count=cost, locked_until=None)
                .returning(Throttle.window_start)
                .execution_options(synchronize_session=False)
            ).scalar()
            if renewed is not None:
                return 0, renewed
            began = s.execute(select(Throttle.window_start).where(Throttle.key == key)).scalar()
        if began is not None:
            ends = began + dt.timedelta(seconds=quota.window)
            return max(1, int((ends - now).total_seconds() + 0.999)), began
        try:
            with store.transaction() as s:
                s.execute(insert(Throttle).values(key=key, window_start=now, count=cost))
            return 0, now
        except ConflictError:  # another worker created it first: count against it
            continue
    return 1, now


LEASE = 100  # codes a process claims from the store at once (at most a tenth of the quota)


class Leases:
    """One process's claimed share of its clients' quotas: :meth:`take` spends from a block of
    codes claimed from the store (one write per block instead of one per call) and claims the
    next block when it is spent. The store never grants more than the quota, so neither do all
    processes together; codes a process claimed and did not spend before the window ended are
    lost (the limit comes a little early, never late). A block is at most :data:`LEASE` codes and
    a tenth of the quota; a small quota is counted call by call."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[tuple[str, str], tuple[int, float]] = {}  # → (codes left, window end)

    def take(self, store: Store, client: str, cost: int, quota: Quota = DEFAULT) -> int:
        key = (store.url, client)
        now = time.monotonic()
        with self._lock:
            left, until = self._held.get(key, (0, 0.0))
            if left >= cost and now < until:
                self._held[key] = (left - cost, until)
                return 0
        block = max(cost, min(LEASE, quota.codes // 10))
        wait, began = claim(store, client, block, quota) if block > cost else (1, utcnow())
        if wait:
            wait, began = claim(store, client, cost, quota)
            block = cost
        if wait:
            return wait
        # the block belongs to the store's window: spend it only until that window ends
        left_s = (began + dt.timedelta(seconds=quota.window) - utcnow()).total_seconds()
        with self._lock:
            self._held[key] = (block - cost, time.monotonic() + left_s - 1)
        return 0
