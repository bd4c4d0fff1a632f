"""The background warm-up of a web process: what the first visitors would otherwise wait for is
prepared at start-up and whenever the data change.

One watcher thread (started and stopped by the app's lifespan) looks every :data:`WATCH_S`
seconds at the data version:

- it starts the dashboard's aggregates of the current version (:func:`canbao.web.dashboard.warm`:
  nothing when they are computed or being computed; a new build, as-of date or approved deferral
  makes a new version, and until its figures are ready the previous ones are shown);
- when a registry build appears it starts, in one indexing thread, one after the other: the
  compliance API's standing index (:data:`canbao.compliance.standing.STANDINGS`, seconds),
  the person search index (:func:`canbao.web.person_view.ensure_index`) and the person- and
  employer-sorted copies of the 360 pages (:mod:`canbao.web.keyed`). Until they are ready the
  previous build's answer.

Nothing here raises: a failure is logged and tried again later (the pages fall back to reading
the snapshot, or compute on request, as before).
"""

from __future__ import annotations

import logging
import threading

from canbao.compliance.standing import STANDINGS
from canbao.registry import snapshot
from canbao.web import dashboard, keyed, person_view
from canbao.web.state import WebState

WATCH_S = 5.0
log = logging.getLogger("canbao.web.warmup")


class Warmer:
    """The watcher of one app (:meth:`start` at start-up, :meth:`stop` at shutdown)."""

    def __init__(self, st: WebState) -> None:
        self.st = st
        self.stopped = threading.Event()
        self.indexed: str | None = None  # the build whose indexes were last made
        self.indexing: threading.Thread | None = None
        self.watcher: threading.Thread | None = None

    def start(self) -> None:
        self.watcher = threading.Thread(target=self._watch, name="canbao-warmup", daemon=True)
        self.watcher.start()

    def stop(self) -> None:
        self.stopped.set()

    def _watch(self) -> None:
        while not self.stopped.is_set():
            self.tick()
            self.stopped.wait(WATCH_S)

    def tick(self) -> None:
        """One look at the data: start what the current version lacks."""
        try:
            dashboard.warm(self.st)
        except Exception:  # noqa: BLE001 - pages compute on request
            log.exception("warming the dashboard failed")
        try:
            snap = snapshot.current(self.st.data_dir)
        except Exception:  # noqa: BLE001 - e.g. the data directory is being replaced
            log.exception("reading the current build failed")
            return
        busy = self.indexing is not None and self.indexing.is_alive()
        if snap is None or snap.build_id == self.indexed or busy:
            return
        self.indexed = snap.build_id
        self.indexing = threading.Thread(
            target=self._index, args=(snap,), name="canbao-warmup-index", daemon=True
        )
        self.indexing.start()

    def _index(self, snap: snapshot.Snapshot) -> None:
        steps = (
            ("compliance standings", lambda: STANDINGS.current(self.st.data_dir)),
            ("search index", lambda: person_view.ensure_index(self.st)),
            ("person copies", lambda: keyed.ensure(self.st, keyed.PERSONS, snap)),
            ("employer copies", lambda: keyed.ensure(self.st, keyed.EMPLOYERS, snap)),
        )
        for name, step in steps:
            if self.stopped.is_set():
                return
            try:
                step()
            except Exception:  # noqa: BLE001 - made on first use instead
                log.exception("warming the %s of build %s failed", name, snap.build_id)
