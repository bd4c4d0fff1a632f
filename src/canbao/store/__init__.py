"""The app database (``store``): accounts, the audit log, and the state people create (review
decisions now; cases, agreements, dunning steps and audit cases as they arrive).

SQLAlchemy 2 with Alembic migrations shipped in the package; SQLite in the data directory by
default, PostgreSQL (psycopg 3) in production (see ``docs/store.md``). Modules:

- :mod:`.db` — URL, engine, schema version (:func:`open_store`), transactions, 乐观锁;
- :mod:`.models` — the tables;
- :mod:`.roles` — the one permission table (role → actions) and :func:`.roles.require`;
- :mod:`.passwords` — argon2 hashes, the password policy, lock-out;
- :mod:`.accounts` — users, API keys, sign-in (:class:`.accounts.Actor`);
- :mod:`.scopes` — a user's :class:`canbao.warehouse.scope.Scope`;
- :mod:`.audit_log` — the chained, append-only audit log;
- :mod:`.backup` — backup and restore of the store and the data directory's pointers.
"""

from canbao.store import accounts, audit_log, roles
from canbao.store.accounts import Actor
from canbao.store.db import Store, open_store

__all__ = ["Actor", "Store", "accounts", "audit_log", "open_store", "roles"]
