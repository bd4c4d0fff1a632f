"""Opening the store: the database URL, the engine, the schema version, transactions.

**Where the database is.** ``--database-url`` / ``CANBAO_DATABASE_URL`` (any SQLAlchemy URL:
``postgresql+psycopg://user:password@host/db`` in production); without one, a SQLite file
inside the data directory (``DATA/store.sqlite3``), so the demo needs nothing else.

**Schema version.** The schema is Alembic's (:mod:`canbao.store.migrations`). :func:`open_store`
compares the database's revision with the program's head: the default SQLite file is upgraded
on the spot (it belongs to this data directory); any other database is upgraded only by
``canbao db upgrade`` (an administrator's decision on a shared server) and a command refuses to
run on it while it is behind, saying so in Chinese.

**Transactions.** :meth:`Store.transaction` commits on success and rolls back on error; a stale
update (another user changed the row since it was read: ``version`` differs) becomes
:class:`~canbao.errors.ConflictError` (乐观锁) — nothing is overwritten silently.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from canbao.errors import ConflictError, DependencyError, StateError, UsageError
from canbao.store.audit_writer import GroupWriter
from canbao.warehouse.datadir import require_dir

ENV_URL = "CANBAO_DATABASE_URL"
SQLITE_NAME = "store.sqlite3"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def resolve_url(data_dir: Path | None, url: str | None = None) -> str:
    """The database URL: ``url``, else ``$CANBAO_DATABASE_URL``, else the data dir's SQLite."""
    chosen = url or os.environ.get(ENV_URL) or None
    if chosen:
        return chosen
    if data_dir is None:
        raise UsageError(
            "未指定数据库：请给出 --database-url（或环境变量 CANBAO_DATABASE_URL），或 --data-dir",
            "no database URL and no data directory",
        )
    return f"sqlite:///{(data_dir / SQLITE_NAME).resolve()}"


def shown_url(url: str) -> str:
    """The URL with its password hidden (for messages and logs)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "（无法解析的数据库地址）"


def _engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError as e:
        raise UsageError(f"数据库地址格式不对：{shown_url(url)}", str(e)) from e
    if parsed.get_backend_name() == "sqlite":
        db = parsed.database
        if db and db != ":memory:":
            Path(db).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            # a page cache of up to 128 MB (the default is 2 MB): opening or carrying two
            # million cases updates indexes larger than that; temporary tables (the cases'
            # staging) in memory
            cur.execute("PRAGMA cache_size=-131072")
            cur.execute("PRAGMA temp_store=MEMORY")
            cur.close()

        return engine
    try:
        return create_engine(url, pool_pre_ping=True)
    except ModuleNotFoundError as e:
        raise DependencyError(
            f"缺少数据库驱动：{e.name}（PostgreSQL 请使用 postgresql+psycopg://…）", str(e)
        ) from e


def _alembic_config(conn: Any) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = conn
    return cfg


def head_revision() -> str:
    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    assert head is not None
    return head


@dataclass
class Store:
    """An open store: its URL (password hidden in :attr:`shown`), engine and session factory."""

    url: str
    engine: Engine
    sessions: sessionmaker[Session]
    _writer: GroupWriter | None = field(default=None, repr=False)

    def audit_writer(self) -> GroupWriter:
        """The store's group-commit writer of audit-log entries (started on first use)."""
        if self._writer is None:
            from canbao.store.audit_log import append

            self._writer = GroupWriter(self, append)
        return self._writer

    @property
    def shown(self) -> str:
        return shown_url(self.url)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def revision(self) -> str | None:
        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def upgrade(self) -> tuple[str | None, str]:
        """Migrate to the head: (revision before, revision after)."""
        before = self.revision()
        with self.engine.begin() as conn:
            command.upgrade(_alembic_config(conn), "head")
        return before, head_revision()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on any error."""
        session = self.sessions()
        try:
            with session.begin():
                yield session
        except StaleDataError as e:
            raise ConflictError(
                "该记录已被他人修改（乐观锁），本次修改未保存；请重新读取后再改",
                "stale update: the row's version changed since it was read",
            ) from e
        except IntegrityError as e:
            raise ConflictError(
                "保存失败：与已有记录冲突（例如名称重复）", f"integrity error: {e.orig}"
            ) from e
        finally:
            session.close()

    def dispose(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self.engine.dispose()


def open_store(
    data_dir: Path | None = None, url: str | None = None, *, upgrade: bool | None = None
) -> Store:
    """Open the store and make sure its schema is the program's (see the module docstring).
    ``upgrade``: True/False forces the choice; None upgrades only the data dir's own SQLite."""
    if data_dir is not None:
        require_dir(data_dir)
    chosen = resolve_url(data_dir, url)
    engine = _engine(chosen)
    store = Store(chosen, engine, sessionmaker(engine, expire_on_commit=False))
    own_file = url is None and not os.environ.get(ENV_URL)
    try:
        current = store.revision()
    except OperationalError as e:
        engine.dispose()
        raise StateError(
            f"无法连接数据库 {store.shown}，请检查地址、用户名、密码和数据库服务是否已启动",
            f"cannot connect: {type(e.orig).__name__}",
        ) from e
    head = head_revision()
    if current != head:
        if upgrade or (upgrade is None and own_file):
            store.upgrade()
        else:
            engine.dispose()
            raise StateError(
                f"数据库 {store.shown} 的结构版本（{current or '空库'}）与程序（{head}）不一致，"
                "请先运行 canbao db upgrade",
                f"schema at {current}, program at {head}",
            )
    return store
