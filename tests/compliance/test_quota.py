"""The compliance API's quota in the store: codes counted per client and window, a call past the
quota refused with the seconds left and not counted, clients apart, and — with two stores over one
database and eight threads — never more than the quota granted."""

from __future__ import annotations

import threading

from sqlalchemy import update

from canbao.compliance import quota
from canbao.store import open_store
from canbao.store.db import Store
from canbao.store.models import Throttle, utcnow

Q = quota.Quota(codes=5, window=60)


def test_codes_per_window(store: Store) -> None:
    assert quota.take(store, "key:a", 3, Q) == 0
    assert quota.take(store, "key:a", 2, Q) == 0
    wait = quota.take(store, "key:a", 1, Q)
    assert 0 < wait <= 60
    assert quota.take(store, "key:b", 5, Q) == 0  # another client
    # the window passes: the count starts again
    with store.transaction() as s:
        s.execute(
            update(Throttle)
            .where(Throttle.key == "compliance:key:a")
            .values(window_start=utcnow().replace(year=2000))
        )
    assert quota.take(store, "key:a", 5, Q) == 0
    assert quota.take(store, "key:a", 1, Q) > 0
    assert quota.take(store, "key:c", 50, Q) == 0  # a window's first call always passes
    assert quota.take(store, "key:c", 1, Q) > 0


def test_two_stores_and_eight_threads_never_pass_the_quota(store: Store) -> None:
    other = open_store(url=store.url, upgrade=False)
    granted: list[int] = []
    lock = threading.Lock()
    limit = quota.Quota(codes=40, window=600)

    def work(s: Store) -> None:
        for _ in range(10):
            ok = quota.take(s, "key:shared", 1, limit) == 0
            with lock:
                granted.append(int(ok))

    threads = [threading.Thread(target=work, args=(store if i % 2 else other,)) for i in range(8)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        other.dispose()
    assert len(granted) == 80 and sum(granted) == 40


def test_leases_claim_blocks_and_never_pass_the_quota(store: Store) -> None:
    """Two processes' leases over one database: a quota of 1,000 codes is claimed in blocks (the
    store's count moves by blocks, not by calls) and never more is granted."""
    other = open_store(url=store.url, upgrade=False)
    limit = quota.Quota(codes=1000, window=600)
    a, b = quota.Leases(), quota.Leases()
    try:
        first = a.take(store, "key:lease", 1, limit)
        with store.sessions() as s:
            counted = s.get(Throttle, "compliance:key:lease")
            assert counted is not None and counted.count == quota.LEASE  # one block claimed
        granted = [first] + [
            (a if i % 2 else b).take(store if i % 2 else other, "key:lease", 1, limit)
            for i in range(1, 1100)
        ]
    finally:
        other.dispose()
    ok = sum(1 for w in granted if w == 0)
    # never more than the quota; a block one process holds is not the other's (a little early)
    assert 1000 - quota.LEASE <= ok <= 1000
    assert granted[:900] == [0] * 900 and all(0 < w <= 600 for w in granted if w)
    with store.sessions() as s:
        counted = s.get(Throttle, "compliance:key:lease")
        assert counted is not None and counted.count == 1000
    small = quota.Quota(codes=5, window=600)  # a small quota: counted call by call
    assert [a.take(store, "key:small", 1, small) for _ in range(6)][:5] == [0] * 5
    assert a.take(store, "key:small", 1, small) > 0
