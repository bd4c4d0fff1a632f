"""A fresh store per test, on SQLite and on PostgreSQL (``$CANBAO_TEST_DATABASE_URL``), as the
store tests have it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from canbao.store import open_store
from canbao.store.db import Store
from tests.store.conftest import BACKENDS, url_for


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store(backend: str, tmp_path: Path) -> Iterator[Store]:
    s = open_store(tmp_path, url_for(backend, tmp_path), upgrade=True)
    yield s
    s.dispose()
