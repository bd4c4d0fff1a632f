"""Alembic migrations of the store (run by :mod:`canbao.store.db`, never by hand-written DDL)."""
