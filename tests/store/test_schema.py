"""The schema: the migrations create exactly the models' tables; a database behind the program
is upgraded (the data dir's own SQLite) or refused in Chinese (any other database)."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from canbao.cli import run
from canbao.errors import StateError, UsageError
from canbao.store import Store, open_store
from canbao.store.db import head_revision
from canbao.store.models import Base
from tests.store.conftest import PG_URL, reset_pg


def test_migrations_create_the_models(store: Store) -> None:
    assert store.revision() == head_revision()
    with store.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(ctx, Base.metadata) == []


def test_the_data_dirs_own_sqlite_is_created_and_upgraded(tmp_path: Path) -> None:
    s = open_store(tmp_path)
    assert (tmp_path / "store.sqlite3").exists() and s.revision() == head_revision()
    s.dispose()


def test_a_shared_database_behind_the_program_is_refused(tmp_path: Path) -> None:
    reset_pg()
    with pytest.raises(StateError) as e:
        open_store(tmp_path, PG_URL)
    assert "canbao db upgrade" in e.value.message_zh and "空库" in e.value.message_zh
    # the command upgrades it; then it opens
    assert run(["db", "upgrade", "--database-url", PG_URL, "--data-dir", str(tmp_path)]) == 0
    s = open_store(tmp_path, PG_URL)
    assert s.revision() == head_revision()
    s.dispose()


def test_bad_urls_say_so_in_chinese(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        open_store(tmp_path, "not a url")
    with pytest.raises(StateError) as e:
        open_store(tmp_path, "postgresql+psycopg://nobody:wrong@127.0.0.1:5432/nothing")
    assert "无法连接数据库" in e.value.message_zh and "wrong" not in e.value.message_zh


def test_db_current_prints_the_revision_and_hides_the_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reset_pg()
    assert run(["db", "upgrade", "--database-url", PG_URL, "--data-dir", str(tmp_path)]) == 0
    capsys.readouterr()
    assert run(["db", "current", "--database-url", PG_URL, "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f'"revision": "{head_revision()}"' in out
    password = PG_URL.split(":")[2].split("@")[0]
    assert f":{password}@" not in out and ":***@" in out
