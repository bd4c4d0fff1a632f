"""Users and API keys: create, list, disable, change password, sign in, check a key.

Every change is an audit-log entry written in the same transaction (a change is never kept
without its entry). The acting party is an :class:`Actor`: a signed-in user, or the local
operator of the command line (:meth:`Actor.operator`, role ``admin``: whoever can run
``canbao`` on the server with the data directory can read the data anyway).
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from canbao.errors import AuthError, ConflictError, NotFoundError, UsageError
from canbao.store import passwords, roles
from canbao.store.audit_log import Event, append
from canbao.store.db import Store
from canbao.store.models import ApiKey, User, utcnow

KEY_PREFIX = "cbk_"
_NAME_OK = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_.-")


@dataclass(frozen=True)
class Actor:
    name: str
    role: str
    counties: tuple[str, ...] = ()
    client: str = ""

    @classmethod
    def operator(cls) -> Actor:
        try:
            who = getpass.getuser()
        except (KeyError, OSError):
            who = "unknown"
        return cls(f"system:{who}", "admin", client="cli")

    def event(
        self, action: str, object_type: str = "", keys: Sequence[str] = (), **detail: object
    ) -> Event:
        return Event(
            self.name, self.role, action, object_type, tuple(keys), (), self.client, dict(detail)
        )


def _check_name(name: str) -> str:
    if (
        not name
        or len(name) > 64
        or not set(name.lower()) <= _NAME_OK
        or name.startswith("system:")
    ):
        raise UsageError(
            "用户名只能由小写字母、数字、下划线、点和连字符组成（1–64 个字符）",
            f"bad user name {name!r}",
        )
    return name


def _check_counties(role: str, counties: Sequence[str], known: Sequence[str] | None) -> list[str]:
    codes = sorted(set(counties))
    if role in roles.COUNTY_REQUIRED and not codes:
        raise UsageError(
            f"角色 {role}（{roles.ROLES[role]}）须用 --county 指定至少一个区县",
            "county scope required",
        )
    if codes and role not in roles.COUNTY_ALLOWED:
        raise UsageError(
            f"角色 {role}（{roles.ROLES[role]}）面向全市，不能限定区县", "role is city-wide"
        )
    if known is not None:
        unknown = [c for c in codes if c not in known]
        if unknown:
            raise UsageError(
                f"未知的区县代码：{'、'.join(unknown)}（可用：{'、'.join(known)}）",
                f"unknown county codes {unknown}",
            )
    return codes


def _user(session: Session, name: str) -> User:
    user = session.execute(select(User).where(User.name == name)).scalar_one_or_none()
    if user is None:
        raise NotFoundError(f"没有用户“{name}”", f"no user {name!r}")
    return user


def add_user(
    store: Store,
    actor: Actor,
    name: str,
    role: str,
    password: str,
    counties: Sequence[str] = (),
    display_name: str = "",
    known_counties: Sequence[str] | None = None,
) -> User:
    roles.require(actor.role, "users.manage", actor.name)
    _check_name(name)
    roles.check_role(role)
    if role == "department":
        raise UsageError(
            "其他部门通过接口密钥访问：请用 canbao keys add NAME --role department",
            "department clients use API keys",
        )
    codes = _check_counties(role, counties, known_counties)
    passwords.check_policy(password, name)
    with store.transaction() as s:
        if s.execute(select(User.id).where(User.name == name)).first():
            raise ConflictError(f"用户“{name}”已存在", f"user {name!r} exists")
        user = User(
            name=name, display_name=display_name, role=role, counties=codes,
            password_hash=passwords.hash_password(password), created_by=actor.name,
        )  # fmt: skip
        s.add(user)
        append(s, [actor.event("user.add", "user", [name], role=role, counties=codes)])
    return user


def list_users(store: Store) -> list[User]:
    with store.sessions() as s:
        return list(s.execute(select(User).order_by(User.name)).scalars().all())


def disable_user(store: Store, actor: Actor, name: str) -> None:
    roles.require(actor.role, "users.manage", actor.name)
    with store.transaction() as s:
        user = _user(s, name)
        user.disabled = True
        append(s, [actor.event("user.disable", "user", [name])])


def set_password(store: Store, actor: Actor, name: str, password: str) -> None:
    """An admin sets anyone's password; a user may set their own."""
    if actor.name != name:
        roles.require(actor.role, "users.manage", actor.name)
    passwords.check_policy(password, name)
    with store.transaction() as s:
        user = _user(s, name)
        user.password_hash = passwords.hash_password(password)
        user.password_changed_at = utcnow()
        user.failed_logins, user.locked_until = 0, None
        append(s, [actor.event("user.password", "user", [name])])


def authenticate(store: Store, name: str, password: str, client: str = "") -> Actor:
    """Sign in: the user as an :class:`Actor`, or :class:`AuthError` (the same words whether
    the name or the password was wrong). Failures count towards the lock-out; every attempt
    is logged."""
    now = utcnow()
    with store.transaction() as s:
        user = s.execute(select(User).where(User.name == name)).scalar_one_or_none()
        if user is None:
            append(s, [Event(name[:64], "", "login.failed", "user", (name[:64],), (), client)])
            failure: AuthError | None = AuthError("用户名或密码错误", "bad credentials")
        elif user.disabled:
            append(s, [Event(name, user.role, "login.refused", "user", (name,), (), client,
                             {"why": "disabled"})])  # fmt: skip
            failure = AuthError("该账号已停用，请联系管理员", "account disabled")
        elif user.locked_until is not None and user.locked_until > now:
            append(s, [Event(name, user.role, "login.refused", "user", (name,), (), client,
                             {"why": "locked"})])  # fmt: skip
            until = (user.locked_until + dt.timedelta(hours=8)).strftime("%H:%M")
            failure = AuthError(
                f"登录失败次数过多，账号已锁定至 {until}（北京时间），请稍后再试或联系管理员",
                "account locked",
            )
        elif not passwords.verify(user.password_hash, password):
            user.failed_logins += 1
            locked = user.failed_logins >= passwords.MAX_FAILURES
            if locked:
                user.locked_until = now + dt.timedelta(minutes=passwords.LOCK_MINUTES)
                user.failed_logins = 0
            append(s, [Event(name, user.role, "login.failed", "user", (name,), (), client,
                             {"locked": locked})])  # fmt: skip
            failure = AuthError("用户名或密码错误", "bad credentials")
        else:
            failure = None
            user.failed_logins, user.locked_until, user.last_login_at = 0, None, now
            if passwords.needs_rehash(user.password_hash):
                user.password_hash = passwords.hash_password(password)
            append(s, [Event(name, user.role, "login", "user", (name,), (), client)])
            actor = Actor(user.name, user.role, tuple(user.counties), client)
    if failure is not None:
        raise failure
    return actor


# --- API keys (department clients) ----------------------------------------------------------


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


KEY_SCOPES: dict[str, str] = {
    "compliance:read": "查询单位参保缴费情况（不含个人信息）",
}
DEFAULT_SCOPES = ("compliance:read",)
USED_EVERY_S = 60  # last_used_at is written at most this often (a key's call is a read)


@dataclass(frozen=True)
class KeyActor(Actor):
    """A department client signed in by its API key: what it may ask (``scopes``) and the
    purpose the key was issued for (the default purpose of its calls)."""

    scopes: tuple[str, ...] = ()
    purpose: str = ""


def check_scopes(scopes: Sequence[str]) -> list[str]:
    chosen = sorted(set(scopes))
    unknown = [s for s in chosen if s not in KEY_SCOPES]
    if unknown or not chosen:
        listed = "、".join(f"{k}（{v}）" for k, v in KEY_SCOPES.items())
        raise UsageError(
            f"未知或缺少的接口权限范围：{'、'.join(unknown) or '（空）'}；可用：{listed}",
            f"bad scopes {unknown or chosen}",
        )
    return chosen


def add_key(
    store: Store,
    actor: Actor,
    name: str,
    role: str = "department",
    *,
    scopes: Sequence[str] = DEFAULT_SCOPES,
    purpose: str = "",
) -> tuple[ApiKey, str]:
    """A new key: (its row, the key itself — shown once, never stored). ``scopes``: what it
    may ask (:data:`KEY_SCOPES`); ``purpose``: why the department may ask (e.g.
    劳务派遣行政许可审批), logged with every call that names no purpose of its own."""
    roles.require(actor.role, "users.manage", actor.name)
    _check_name(name)
    roles.check_role(role)
    if role != "department":
        raise UsageError(
            "接口密钥只发给其他部门（--role department）；工作人员请用 canbao users add",
            "API keys are for department clients",
        )
    chosen = check_scopes(scopes)
    purpose = purpose.strip()
    if len(purpose) > 500:
        raise UsageError("用途说明不能超过 500 个字", "purpose too long")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    with store.transaction() as s:
        if s.execute(select(ApiKey.id).where(ApiKey.name == name)).first():
            raise ConflictError(f"接口密钥“{name}”已存在", f"key {name!r} exists")
        row = ApiKey(name=name, role=role, prefix=key[:10], key_hash=_key_hash(key),
                     created_by=actor.name, scopes=chosen, purpose=purpose)  # fmt: skip
        s.add(row)
        append(s, [actor.event("key.add", "api_key", [name], role=role, scopes=chosen,
                               purpose=purpose)])  # fmt: skip
    return row, key


def list_keys(store: Store) -> list[ApiKey]:
    with store.sessions() as s:
        return list(s.execute(select(ApiKey).order_by(ApiKey.name)).scalars().all())


def revoke_key(store: Store, actor: Actor, name: str) -> None:
    roles.require(actor.role, "users.manage", actor.name)
    with store.transaction() as s:
        row = s.execute(select(ApiKey).where(ApiKey.name == name)).scalar_one_or_none()
        if row is None:
            raise NotFoundError(f"没有接口密钥“{name}”", f"no API key {name!r}")
        if row.revoked_at is None:
            row.revoked_at = utcnow()
        append(s, [actor.event("key.revoke", "api_key", [name])])


def authenticate_key(store: Store, key: str, client: str = "") -> KeyActor:
    """The department client of ``key`` with its scopes and purpose, or :class:`AuthError`
    (unknown or revoked: the same words). A refusal is logged; a success is a read (its
    ``last_used_at`` is written at most every :data:`USED_EVERY_S` seconds)."""
    now = utcnow()
    with store.sessions() as s:
        row = s.execute(
            select(ApiKey).where(ApiKey.key_hash == _key_hash(key))
        ).scalar_one_or_none()
        found = None
        if row is not None and row.revoked_at is None:
            found = KeyActor(row.name, row.role, (), client, tuple(row.scopes or ()),
                             row.purpose or "")  # fmt: skip
            stale = row.last_used_at is None or (now - row.last_used_at).total_seconds() >= (
                USED_EVERY_S
            )
    if found is None:
        with store.transaction() as s:
            append(s, [Event("api_key", "", "key.refused", "api_key", (key[:10],), (), client)])
        raise AuthError("接口密钥无效或已吊销", "invalid or revoked API key")
    if stale:
        with store.transaction() as s:
            s.execute(update(ApiKey).where(ApiKey.name == found.name).values(last_used_at=now))
    return found
