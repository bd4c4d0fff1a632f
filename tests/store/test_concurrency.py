"""乐观锁: a stale update fails with a clear message and overwrites nothing (two writers)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from canbao.errors import ConflictError
from canbao.store import Actor, Store, accounts, open_store
from canbao.store.models import User
from tests.store.conftest import url_for


def test_a_stale_update_fails_and_keeps_the_first(backend: str, tmp_path: Path) -> None:
    url = url_for(backend, tmp_path)
    one = open_store(tmp_path, url, upgrade=True)
    two = open_store(tmp_path, url)
    accounts.add_user(one, Actor("root", "admin"), "li_si", "collector", "Xiangmu2017ok")
    with pytest.raises(ConflictError, match="乐观锁"):
        with one.transaction() as a:
            ua = a.execute(select(User).where(User.name == "li_si")).scalar_one()
            with two.transaction() as b:  # another user reads and saves in between
                ub = b.execute(select(User).where(User.name == "li_si")).scalar_one()
                ub.display_name = "李肆"
            ua.display_name = "李四"  # based on version 1: stale
    with one.sessions() as s:
        user = s.execute(select(User).where(User.name == "li_si")).scalar_one()
        assert (user.display_name, user.version) == ("李肆", 2)  # the first save stands
    one.dispose(), two.dispose()


def test_store_transaction_rolls_back_on_error(store: Store) -> None:
    with pytest.raises(RuntimeError):
        with store.transaction() as s:
            s.add(User(name="temp", role="leader", password_hash="x", counties=[]))
            s.flush()
            raise RuntimeError("boom")
    with store.sessions() as s:
        assert s.execute(select(User)).first() is None


def test_concurrent_failures_are_all_counted(backend: str, tmp_path: Path) -> None:
    """Failures counted by many threads over two store connections at once are all counted
    (each a conditional UPDATE: no read-then-write that a concurrent failure overwrites), so a
    guesser cannot slip past a lock-out by sending attempts in parallel."""
    from concurrent.futures import ThreadPoolExecutor

    from canbao.store import throttle
    from canbao.store.models import Throttle

    url = url_for(backend, tmp_path)
    one = open_store(tmp_path, url, upgrade=True)
    two = open_store(tmp_path, url)
    limit = throttle.Limit(count=50, window=600, lock=300)
    n = 40
    with ThreadPoolExecutor(max_workers=8) as pool:
        locks = list(
            pool.map(lambda i: throttle.hit((one, two)[i % 2], "guess:x", limit), range(n))
        )
    with one.sessions() as s:
        row = s.get(Throttle, "guess:x")
        assert row is not None and row.count == n and row.locked_until is None
    assert locks == [0] * n
    # past the limit: locked, from whichever connection asks
    more = [throttle.hit(two, "guess:x", limit) for _ in range(limit.count - n + 1)]
    assert more[-1] == 300 and set(more[:-1]) == {0}
    assert 250 < throttle.blocked(one, "guess:x") <= 300
    one.dispose(), two.dispose()
