"""The store's tests run on SQLite and on PostgreSQL (Debian's server, started by
``scripts/test-services.sh``; URL ``$CANBAO_TEST_DATABASE_URL``). A PostgreSQL that cannot be
reached fails the tests: it is part of ``make test``, not optional."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text

from canbao.store import Store, open_store

BASE_PG_URL = os.environ.get(
    "CANBAO_TEST_DATABASE_URL",
    "postgresql+psycopg://canbao_test:canbao_test@127.0.0.1:5432/canbao_test",
)
# a parallel run's workers (pytest-xdist) each get a database of their own, created on first
# use next to the configured one (the test role may create databases)
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
PG_URL = (
    make_url(BASE_PG_URL)
    .set(database=f"{make_url(BASE_PG_URL).database}_{_WORKER}")
    .render_as_string(hide_password=False)
    if _WORKER
    else BASE_PG_URL
)
BACKENDS = ("sqlite", "postgresql")
_created: set[str] = set()


def _ensure_database(url: str) -> None:
    """Create ``url``'s database from the configured one when it is missing (once per run)."""
    if url == BASE_PG_URL or url in _created:
        return
    name = make_url(url).database
    engine = create_engine(BASE_PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            found = conn.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
            ).first()
            if found is None:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()
    _created.add(url)


def reset_pg(url: str = PG_URL) -> None:
    """Drop every table of the test database (a fresh, empty database for one test)."""
    engine = None
    try:
        _ensure_database(url)
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    except Exception as e:  # noqa: BLE001 - turned into a clear failure
        pytest.fail(
            f"PostgreSQL 测试库不可用（{type(e).__name__}）：请先运行 scripts/test-services.sh",
            pytrace=False,
        )
    finally:
        if engine is not None:
            engine.dispose()


def url_for(backend: str, tmp: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp / 'store.sqlite3'}"
    reset_pg()
    return PG_URL


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store(backend: str, tmp_path: Path) -> Iterator[Store]:
    s = open_store(tmp_path, url_for(backend, tmp_path), upgrade=True)
    yield s
    s.dispose()
