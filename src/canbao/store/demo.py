"""Demo step: the store of the demo data directory — accounts for every role, a sign-in, a
review decision by a named user, the audit log verified, and a backup.

The demo's accounts get random passwords, written to ``OUT/store/demo-accounts.txt`` (owner
read-only): the demo is for trying things out, not a deployment.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from canbao.profile import profile_for
from canbao.registry import api as registry_api
from canbao.store import Actor, accounts, audit_log, open_store, roles
from canbao.store.backup import backup
from canbao.store.db import SQLITE_NAME
from canbao.store.scopes import scope_for


def _password() -> str:
    return "Demo" + secrets.token_hex(4) + "9"


def run_store_demo(out: Path) -> dict[str, str]:
    data = out / "data"
    if not (data / "batches").exists():
        return {}
    (data / SQLITE_NAME).unlink(missing_ok=True)  # the demo's own store starts empty
    for suffix in ("-wal", "-shm"):
        (data / (SQLITE_NAME + suffix)).unlink(missing_ok=True)
    store = open_store(data)
    profile = profile_for(data, remember=False).profile
    county = profile.demo_county or profile.counties[0].code
    op = Actor.operator()
    people = {
        "demo_admin": ("admin", []),
        "city_li": ("city_staff", []),
        f"county_{county}": ("county_staff", [county]),
        "collector_wang": ("collector", [county]),
        "auditor_zhao": ("auditor", []),
        "leader_qian": ("leader", []),
    }
    lines = ["# 演示账号（随机密码，仅供试用）  user  role  password"]
    for name, (role, counties) in people.items():
        password = _password()
        accounts.add_user(store, op, name, role, password, counties)
        where = "、".join(profile.unit_name(c) or c for c in counties)
        label = f"{roles.ROLES[role]}，{where}" if where else roles.ROLES[role]
        lines.append(f"{name}\t{role}（{label}）\t{password}")
    _row, key = accounts.add_key(store, op, "demo_tax_bureau", purpose="纳税信用评价（演示）")
    lines.append(f"demo_tax_bureau\tdepartment（接口密钥）\t{key}")
    base = out / "store"
    base.mkdir(parents=True, exist_ok=True)
    creds = base / "demo-accounts.txt"
    fd = os.open(creds, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    # a city user signs in and decides the first pair of the review queue
    city_pw = lines[2].split("\t")[2]
    who = accounts.authenticate(store, "city_li", city_pw, client="demo")
    scope = scope_for(who, profile)
    items = registry_api.review_items(data, scope)
    if items.height:
        pair = str(items["pair_id"][0])
        registry_api.decide(data, pair, "different", "演示：人工复核", who, scope)
    checked, problems = audit_log.verify(store)
    assert not problems, problems
    saved = backup(store, data, base / "backup.zip")
    store.dispose()
    return {
        "演示账号与密码（各角色）(demo accounts)": str(creds),
        f"应用数据库（SQLite，审计日志 {checked} 条已校验）(store)": str(data / SQLITE_NAME),
        "数据库备份 (store backup)": str(saved.path),
    }
