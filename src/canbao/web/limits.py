"""A bound on the heavy work requests do at once, so that cheap requests stay fast under load.

Routes are plain ``def`` functions: FastAPI runs them in its thread pool, so a slow one never
holds up the event loop. But the pool's threads share the machine's cores: ten person pages
each scanning a 20-million-row table would take every core and the searches queued behind them
would wait seconds. Work that reads whole registry tables or opens an engine session for one
request (an employer 360 page; a person 360 page while the person index is being made) takes a
slot of :func:`heavy` first: at most :data:`SLOTS` at once, the others wait up to
:data:`WAIT_S` and are then told, in Chinese, to try again (HTTP 503 with ``Retry-After``).
City-wide aggregates and the per-build indexes are computed in background threads of their own
(:mod:`canbao.web.dashboard`, :mod:`canbao.web.keyed`), never by a request.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from canbao.errors import Busy

SLOTS = max(1, min(4, os.cpu_count() or 1))
WAIT_S = 30.0
RETRY_AFTER_S = 10
_slots = threading.BoundedSemaphore(SLOTS)


@contextmanager
def heavy(what_zh: str, wait_s: float | None = None) -> Iterator[None]:
    """Hold one of the :data:`SLOTS` slots of heavy work while the block runs; :class:`Busy`
    when none frees up within ``wait_s`` (default :data:`WAIT_S`)."""
    if not _slots.acquire(timeout=WAIT_S if wait_s is None else wait_s):
        raise Busy(
            f"系统繁忙，{what_zh}暂时无法查询，请约 {RETRY_AFTER_S} 秒后重试",
            "too many heavy requests at once",
            retry_after=RETRY_AFTER_S,
        )
    try:
        yield
    finally:
        _slots.release()
