"""The cache of the web's city-wide aggregates (:mod:`canbao.web.dashboard`): single flight and
stale-while-revalidate.

- **Single flight.** An aggregate is asked for by its *key* — the question and the data version
  it is of (registry build, the data's as-of date, the approved deferrals). The first request
  for a key submits its computation to a small pool; every later request for the same key gets
  the same future: fifty clients asking at once cause one computation, never fifty. A failed
  computation is dropped, so the next request tries again.
- **Stale while revalidate.** Each key also names a *slot*: the same question across data
  versions ("the dashboard's KPIs"). The newest value computed for a slot is kept, with the
  :class:`Label` of the data it is of. While the current version's value is computed (a new
  build appeared), :meth:`Aggregates.get` answers at once with the slot's previous value,
  marked not fresh; only when a slot has never had a value does a request wait, and then at
  most until its deadline (:class:`Computing`: the page shows 正在汇总 and polls; the API
  answers 503 with ``Retry-After``).
- Values that change as staff work (case counts) have a time to live instead: an expired value
  keeps answering while the next one is computed.

Engine work (a city's ledger, coverage) runs in a pool of :data:`WORKERS` thread(s) so that a
new build does not start every aggregate at once on a small server; store counts (``light``)
have their own pool. The background warm-up (:mod:`canbao.web.warmup`) starts the dashboard's
aggregates at start-up and whenever the data change, so that users rarely meet a computation.
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any

MAX_ENTRIES = 64  # plan figures by as-of date (the API), coverage, KPIs, arrears, cases
WORKERS = 1  # engine aggregates at once (each may hold a city's ledger and use every core)
LIGHT_WORKERS = 2


class Computing(Exception):
    """An aggregate is still being computed and there is no earlier value to show."""


@dataclass(frozen=True)
class Label:
    """What a value was computed from: the registry build and the date the figures are as of."""

    build_id: str | None
    day: dt.date | None


@dataclass(frozen=True)
class Job:
    """One aggregate: ``key`` the exact question (data version included), ``slot`` the same
    question across data versions, ``label`` the data it is of; ``ttl``: recomputed (in the
    background) when older; ``light``: a store count, not engine work."""

    key: Hashable
    compute: Callable[[], Any]
    slot: Hashable
    label: Label | None = None
    ttl: float | None = None
    light: bool = False


@dataclass(frozen=True)
class Got:
    """A value and the data it is of; ``fresh`` False: an earlier version's value, shown while
    the current one is computed."""

    value: Any
    label: Label | None
    fresh: bool


@dataclass
class _Entry:
    future: Future[Any]
    made: float
    refresh: Future[Any] | None = None  # the next value of an expired entry, being computed


@dataclass(frozen=True)
class _Kept:
    seq: int  # the order the computation was started in: a newer one is never overwritten
    key: Hashable
    label: Label | None
    value: Any


@dataclass
class Aggregates:
    """Futures of aggregates by key (least recently used dropped past :data:`MAX_ENTRIES`) and
    the newest value of every slot."""

    lock: threading.RLock = field(default_factory=threading.RLock)
    entries: OrderedDict[Hashable, _Entry] = field(default_factory=OrderedDict)
    kept: dict[Hashable, _Kept] = field(default_factory=dict)
    heavy: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(WORKERS, thread_name_prefix="canbao-dash")
    )
    light: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(
            LIGHT_WORKERS, thread_name_prefix="canbao-dash-store"
        )
    )
    _seq: itertools.count[int] = field(default_factory=itertools.count)

    def future(
        self,
        key: Hashable,
        compute: Callable[[], Any],
        ttl: float | None = None,
        *,
        light: bool = False,
        slot: Hashable | None = None,
        label: Label | None = None,
    ) -> Future[Any]:
        """The future of ``key``'s value: the one being computed or computed, else a new one
        (submitted now); an expired value (``ttl``) answers while the next one is computed."""
        now = time.monotonic()
        pool = self.light if light else self.heavy
        with self.lock:
            e = self.entries.get(key)
            if e is not None and e.future.done() and e.future.exception() is not None:
                e = None  # failed: try again
            if e is None:
                e = _Entry(self._submit(pool, compute, key, slot, label), now)
                self.entries[key] = e
                while len(self.entries) > MAX_ENTRIES:
                    self.entries.popitem(last=False)
            elif ttl is not None and e.future.done() and now - e.made > ttl:
                if e.refresh is None:
                    e.refresh = self._submit(pool, compute, key, slot, label)
                elif e.refresh.done():
                    if e.refresh.exception() is None:
                        e.future, e.made = e.refresh, now
                    e.refresh = None
            self.entries.move_to_end(key)
            return e.future

    def _submit(
        self,
        pool: ThreadPoolExecutor,
        compute: Callable[[], Any],
        key: Hashable,
        slot: Hashable | None,
        label: Label | None,
    ) -> Future[Any]:
        seq = next(self._seq)
        fut = pool.submit(compute)
        if slot is not None:
            fut.add_done_callback(lambda f: self._keep(f, seq, key, slot, label))
        return fut

    def _keep(
        self, fut: Future[Any], seq: int, key: Hashable, slot: Hashable, label: Label | None
    ) -> None:
        if fut.cancelled() or fut.exception() is not None:
            return
        with self.lock:
            old = self.kept.get(slot)
            if old is None or old.seq <= seq:
                self.kept[slot] = _Kept(seq, key, label, fut.result())

    def start(self, job: Job) -> Future[Any]:
        """Start ``job`` (nothing when it is computed or being computed)."""
        return self.future(
            job.key, job.compute, job.ttl, light=job.light, slot=job.slot, label=job.label
        )

    def get(self, job: Job, deadline: float) -> Got:
        """``job``'s value when it is computed; else its slot's newest value (not fresh) at
        once; else its value by ``deadline`` (monotonic) or :class:`Computing`. A failure is
        raised only when the slot has no value at all."""
        fut = self.start(job)
        if fut.done() and fut.exception() is None:
            return Got(fut.result(), job.label, True)
        with self.lock:
            kept = self.kept.get(job.slot)
        if kept is not None:
            return Got(kept.value, kept.label, kept.key == job.key)
        return Got(wait(fut, deadline), job.label, True)

    def newest(self, slot: Hashable) -> Got | None:
        """The slot's newest value, if it has one (whatever its data version)."""
        with self.lock:
            kept = self.kept.get(slot)
        return None if kept is None else Got(kept.value, kept.label, True)


def wait(future: Future[Any], deadline: float) -> Any:
    """The value of ``future`` by ``deadline`` (monotonic), else :class:`Computing`."""
    try:
        return future.result(timeout=max(0.0, deadline - time.monotonic()))
    except FutureTimeout:
        raise Computing from None
