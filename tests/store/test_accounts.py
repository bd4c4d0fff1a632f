"""Users, roles, passwords, lock-out and API keys — each change and sign-in in the audit log."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from sqlalchemy import select, text

from canbao.cli import run
from canbao.errors import AuthError, ConflictError, PermissionDenied, UsageError
from canbao.store import Actor, Store, accounts, audit_log, passwords, roles
from canbao.store.models import ApiKey, User
from tests.store.conftest import url_for

ADMIN = Actor("root_admin", "admin")
GOOD = "Xiangmu2017ok"


def actions(store: Store) -> list[str]:
    return [e.action for e in reversed(audit_log.entries(store, limit=1000))]


def test_add_and_sign_in(store: Store) -> None:
    accounts.add_user(store, ADMIN, "li_si", "county_staff", GOOD, ["360402"], "李四")
    actor = accounts.authenticate(store, "li_si", GOOD, client="10.0.0.8")
    assert actor == Actor("li_si", "county_staff", ("360402",), "10.0.0.8")
    with store.sessions() as s:
        user = s.execute(select(User).where(User.name == "li_si")).scalar_one()
        assert user.password_hash.startswith("$argon2id$") and GOOD not in user.password_hash
        assert user.last_login_at is not None
    assert actions(store) == ["user.add", "login"]
    entry = audit_log.entries(store, action="login")[0]
    assert entry.client == "10.0.0.8" and entry.actor == "li_si"


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("Ab1", "至少"),
        ("abcdefghijkl", "字母和数字"),
        ("li_si2017abc", "用户名"),
        ("password123", "常见"),
    ],
)
def test_password_policy(store: Store, password: str, why: str) -> None:
    with pytest.raises(UsageError) as e:
        accounts.add_user(store, ADMIN, "li_si", "city_staff", password)
    assert why in e.value.message_zh
    assert actions(store) == []  # nothing created, nothing logged


def test_county_scope_rules(store: Store) -> None:
    with pytest.raises(UsageError, match="至少一个区县"):
        accounts.add_user(store, ADMIN, "a1", "county_staff", GOOD)
    with pytest.raises(UsageError, match="面向全市"):
        accounts.add_user(store, ADMIN, "a2", "city_staff", GOOD, ["360402"])
    with pytest.raises(UsageError, match="未知的区县代码"):
        accounts.add_user(
            store, ADMIN, "a3", "county_staff", GOOD, ["999999"], known_counties=["360402"]
        )
    with pytest.raises(UsageError, match="未知的角色"):
        accounts.add_user(store, ADMIN, "a4", "superuser", GOOD)
    accounts.add_user(store, ADMIN, "a5", "collector", GOOD, ["360402", "360403"])
    with pytest.raises(ConflictError, match="已存在"):
        accounts.add_user(store, ADMIN, "a5", "collector", GOOD)


def test_only_admins_manage_users(store: Store) -> None:
    for role in roles.ROLES:
        if role == "admin":
            continue
        with pytest.raises(PermissionDenied):
            accounts.add_user(store, Actor("x", role), f"u_{role}", "leader", GOOD)
    assert actions(store) == []


def test_lock_out_after_repeated_failures(store: Store) -> None:
    accounts.add_user(store, ADMIN, "wang", "auditor", GOOD)
    for _ in range(passwords.MAX_FAILURES):
        with pytest.raises(AuthError, match="用户名或密码错误"):
            accounts.authenticate(store, "wang", "Wrong2017pass")
    # locked: even the right password is refused, with a time
    with pytest.raises(AuthError, match="已锁定"):
        accounts.authenticate(store, "wang", GOOD)
    # an admin's new password unlocks
    accounts.set_password(store, ADMIN, "wang", "Another2017pw")
    assert accounts.authenticate(store, "wang", "Another2017pw").role == "auditor"
    log = actions(store)
    assert log.count("login.failed") == passwords.MAX_FAILURES
    assert "login.refused" in log and log[-2:] == ["user.password", "login"]


def test_unknown_and_disabled_users(store: Store) -> None:
    with pytest.raises(AuthError, match="用户名或密码错误"):
        accounts.authenticate(store, "nobody", GOOD)
    accounts.add_user(store, ADMIN, "zhao", "leader", GOOD)
    accounts.disable_user(store, ADMIN, "zhao")
    with pytest.raises(AuthError, match="已停用"):
        accounts.authenticate(store, "zhao", GOOD)
    # a user changes their own password; not someone else's
    accounts.add_user(store, ADMIN, "qian", "leader", GOOD)
    accounts.set_password(store, Actor("qian", "leader"), "qian", "Mingyue2017x")
    with pytest.raises(PermissionDenied):
        accounts.set_password(store, Actor("qian", "leader"), "zhao", "Mingyue2017y")


def test_api_keys(store: Store) -> None:
    row, key = accounts.add_key(store, ADMIN, "tax_bureau")
    assert key.startswith(accounts.KEY_PREFIX) and len(key) > 40
    with store.engine.connect() as conn:  # only the hash is stored
        dump = " ".join(str(r) for r in conn.execute(text("SELECT * FROM api_keys")))
        assert key not in dump and key[len(accounts.KEY_PREFIX) + 10 :] not in dump
    actor = accounts.authenticate_key(store, key)
    assert (actor.name, actor.role) == ("tax_bureau", "department")
    assert actor.scopes == ("compliance:read",) and actor.purpose == ""
    _row2, key2 = accounts.add_key(
        store, ADMIN, "labour_bureau", scopes=["compliance:read"], purpose="劳务派遣行政许可审批"
    )
    second = accounts.authenticate_key(store, key2)
    assert second.purpose == "劳务派遣行政许可审批" and second.scopes == ("compliance:read",)
    with pytest.raises(UsageError):  # an unknown scope
        accounts.add_key(store, ADMIN, "bad_scope", scopes=["person:read"])
    accounts.revoke_key(store, ADMIN, "labour_bureau")
    assert not roles.can(actor.role, "person.read")  # a department sees no personal data
    with pytest.raises(AuthError):
        accounts.authenticate_key(store, key + "x")
    accounts.revoke_key(store, ADMIN, "tax_bureau")
    with pytest.raises(AuthError, match="已吊销"):
        accounts.authenticate_key(store, key)
    with pytest.raises(UsageError):
        accounts.add_key(store, ADMIN, "staff_key", role="city_staff")
    with store.sessions() as s:
        assert all(k.revoked_at is not None for k in s.execute(select(ApiKey)).scalars())


def test_the_permission_table_is_total_and_checked_in_one_place() -> None:
    assert set(roles.PERMISSIONS) == set(roles.ROLES)
    for role, allowed in roles.PERMISSIONS.items():
        assert allowed <= set(roles.ACTIONS), role
        for action in roles.ACTIONS:
            if action in allowed:
                roles.require(role, action)
            else:
                with pytest.raises(PermissionDenied):
                    roles.require(role, action)
    # read-only and outside roles never see full personal data
    for role in ("leader", "department", "collector"):
        assert not roles.can(role, "person.reveal")


def test_cli_users_and_keys(
    backend: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    db = ["--database-url", url_for(backend, tmp_path), "--data-dir", str(tmp_path)]
    assert run(["db", "upgrade", *db]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO(GOOD + "\n"))
    code = run(["users", "add", "li_si", "--role", "county_staff", "--county", "360402",
                "--password-stdin", *db])  # fmt: skip
    assert code == 0
    # a password on the command line is refused: --password-stdin only
    assert run(["users", "add", "wu", "--role", "leader", *db]) == 2
    monkeypatch.setattr("sys.stdin", io.StringIO("Newpass2017x\n"))
    assert run(["users", "passwd", "li_si", "--password-stdin", *db]) == 0
    assert run(["users", "disable", "li_si", *db]) == 0
    capsys.readouterr()
    assert run(["users", "list", "--json", *db]) == 0
    out = capsys.readouterr().out
    assert '"disabled": true' in out and '"counties": ["360402"]' in out and "argon2" not in out
    assert run(["keys", "add", "civil_affairs", *db]) == 2  # no --purpose: refused
    capsys.readouterr()
    assert run(["keys", "add", "civil_affairs", "--purpose", "民办非企业单位年检", *db]) == 0
    key = capsys.readouterr().out.strip()
    assert key.startswith(accounts.KEY_PREFIX)
    assert run(["keys", "list", "--json", *db]) == 0
    listed = capsys.readouterr().out
    assert "compliance:read" in listed and "民办非企业单位年检" in listed and key not in listed
    assert run(["keys", "revoke", "civil_affairs", *db]) == 0
    assert run(["audit-log", "show", "--json", *db]) == 0
    shown = capsys.readouterr().out
    assert '"action": "key.revoke"' in shown and key not in shown
