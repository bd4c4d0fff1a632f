"""Group commit of audit-log entries: many writers, one transaction per batch.

Each entry that stands alone (a reveal, a sign-in, an export) would otherwise pay a transaction
of its own: lock the chain's head, insert, move the head, commit (an fsync) — a few hundred per
second on PostgreSQL, and every concurrent request queues on the head's lock. The writer thread
of a :class:`GroupWriter` takes whatever callers have queued (up to :data:`MAX_BATCH` entries),
appends it in one transaction and wakes every caller with its numbers: a caller still returns
only once its entry is committed (nothing is acknowledged that a crash could lose), the chain's
order is the order of the queue, and the throughput grows with the number of concurrent writers.

Entries that belong to a change (a decision, a case step) are not queued here: they are appended
in the change's own transaction (:func:`canbao.store.audit_log.append`), so both commit together.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from canbao.store.audit_log import Event
    from canbao.store.db import Store

MAX_BATCH = 1000

_Item = tuple[Sequence["Event"], "Future[list[int]]"]


class GroupWriter:
    """One writer thread per open store; ``append(session, events) -> ids`` is the chain's
    append (:func:`canbao.store.audit_log.append`)."""

    def __init__(self, store: Store, append: Callable[[Any, Sequence[Event]], list[int]]) -> None:
        self._store = store
        self._append = append
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def submit(self, events: Sequence[Event]) -> list[int]:
        """Queue ``events`` (kept together, in order) and wait until they are committed: their
        numbers. Errors of the store reach the caller."""
        done: Future[list[int]] = Future()
        self._ensure_thread()
        self._queue.put((tuple(events), done))
        return done.result()

    def close(self) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join()

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="canbao-audit-writer", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch, stop = [first], False
            size = len(first[0])
            while size < MAX_BATCH:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                batch.append(item)
                size += len(item[0])
            self._commit(batch)
            if stop:
                return

    def _commit(self, batch: list[_Item]) -> None:
        try:
            with self._store.transaction() as s:
                ids = self._append(s, [e for events, _ in batch for e in events])
        except BaseException:  # noqa: BLE001 - one caller's bad entry must not fail the others
            if len(batch) == 1:
                _, done = batch[0]
                try:
                    with self._store.transaction() as s:
                        done.set_result(self._append(s, batch[0][0]))
                except BaseException as e:  # noqa: BLE001 - handed to the caller
                    done.set_exception(e)
                return
            for item in batch:
                self._commit([item])
            return
        at = 0
        for events, done in batch:
            done.set_result(ids[at : at + len(events)])
            at += len(events)
