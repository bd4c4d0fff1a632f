"""The store's tables (SQLAlchemy 2 typed ORM). The schema itself is created by the Alembic
migrations in :mod:`canbao.store.migrations` (``tests/store/test_schema.py`` checks that the
migrations and these models agree).

Conventions: times are naive UTC (:func:`utcnow`); a mutable row carries ``version`` (SQLAlchemy's
``version_id_col``): an UPDATE names the version it read, so a stale write fails
(:class:`canbao.store.db.StaleWrite`, 乐观锁) instead of overwriting someone else's change.
Append-only tables (the audit log, review decisions) have no version: rows are never updated.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

ID_TYPE = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[str]: JSON}


class User(Base):
    """A person who signs in. ``counties``: the division codes a county user may see."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(ID_TYPE, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(64), default="")
    role: Mapped[str] = mapped_column(String(32))
    counties: Mapped[list[str]] = mapped_column(JSON, default=list)
    password_hash: Mapped[str] = mapped_column(String(255))
    disabled: Mapped[bool] = mapped_column(default=False)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(default=None)
    password_changed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(64), default="")
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}


class ApiKey(Base):
    """A key another department's system uses (role ``department``: no personal data). Only
    the SHA-256 of the key is stored; ``prefix`` (its first characters) lets staff tell keys
    apart."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(ID_TYPE, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(32))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(64), default="")
    revoked_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}


class AuditEntry(Base):
    """One entry of the audit log: append-only, numbered without gaps, chained by hash
    (:mod:`canbao.store.audit_log`)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(ID_TYPE, primary_key=True, autoincrement=False)
    at: Mapped[dt.datetime] = mapped_column()
    actor: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(64), index=True)
    object_type: Mapped[str] = mapped_column(String(32), default="")
    object_keys: Mapped[list[str]] = mapped_column(JSON, default=list)
    fields: Mapped[list[str]] = mapped_column(JSON, default=list)
    client: Mapped[str] = mapped_column(String(64), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The chain's head (one row, id 1): the last entry's number and hash. Appending locks it,
    so entries are numbered in order; a deleted tail shows as a head the log does not reach."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_id: Mapped[int] = mapped_column(ID_TYPE, default=0)
    last_hash: Mapped[str] = mapped_column(String(64))


class ReviewDecision(Base):
    """A reviewer's decision on a pair of the registry's review queue (append-only; for a pair
    the latest decision, highest ``id``, wins)."""

    __tablename__ = "review_decisions"

    id: Mapped[int] = mapped_column(ID_TYPE, primary_key=True)
    left_key: Mapped[str] = mapped_column(String(128), index=True)
    right_key: Mapped[str] = mapped_column(String(128))
    decision: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")
    decided_by: Mapped[str] = mapped_column(String(64))
    decided_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    migrated_from: Mapped[str] = mapped_column(String(32), default="")
