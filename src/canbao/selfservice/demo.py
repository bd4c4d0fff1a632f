"""Demo step: the self-service area on the synthetic city — a self-service password for the
employer with the largest arrears (issued by the local operator, to be changed at first sign-in),
a 参保缴费情况证明 of that employer (its 流水号 and 校验码, to try at ``/verify``), and a person
with a mobile phone on file to sign in as (the one-time code lands in ``DATA/outbox/sms.jsonl``).
Everything goes to ``OUT/selfservice/portal.json`` (synthetic data; the password is for the demo
only) — nothing personal on the terminal."""

from __future__ import annotations

import json
import os
from pathlib import Path

import polars as pl

from canbao.collection import published
from canbao.notify.senders import sent_file
from canbao.registry import snapshot
from canbao.selfservice import certificates, employer_credentials
from canbao.selfservice.employer_status import employer_status
from canbao.store import Actor, open_store


def _debtor(data: Path) -> str | None:
    """The credit code of the employer owing the most in the published ledger."""
    pointer = published.root(data) / "CURRENT"
    if not pointer.exists():
        return None
    folder = published.root(data) / pointer.read_text(encoding="utf-8").strip()
    if not (folder / "ledger.parquet").exists():
        return None
    found = (
        published.scan(folder)
        .filter(pl.col("credit_code").is_not_null() & (pl.col("balance") > 0))
        .group_by("credit_code")
        .agg(pl.col("balance").sum())
        .sort("balance", "credit_code", descending=[True, False])
        .head(1)
        .collect()
    )
    return str(found["credit_code"][0]) if found.height else None


def run_selfservice_demo(out: Path) -> dict[str, str]:
    data = out / "data"
    snap = snapshot.current(data)
    if snap is None:
        return {}
    code = _debtor(data)
    if code is None:
        code = str(
            snap.scan("employers")
            .filter(pl.col("credit_code").is_not_null())
            .select("credit_code")
            .head(1)
            .collect()
            .item()
        )
    mobile = pl.col("phone").str.contains(r"^1[3-9][0-9]{9}$").fill_null(False)
    person = (
        snap.scan("persons")
        .filter(mobile & pl.col("id18").is_not_null() & pl.col("death_date").is_null())
        .select("id18", "name")
        .head(1)
        .collect()
    )
    store = open_store(data)
    try:
        emp, password = employer_credentials.issue(store, data, Actor.operator(), code)
        status = employer_status(store, data, emp.employer_key, code)
        cert = certificates.issue(store, status, "demo")
    finally:
        store.dispose()
    doc = {
        "note": "合成数据，仅供演示（synthetic data, demo only）",
        "person_sign_in": {
            "url": "/self/person",
            "id_number": person["id18"][0] if person.height else None,
            "name": person["name"][0] if person.height else None,
            "code_file": str(sent_file(data)),
        },
        "employer_sign_in": {
            "url": "/self/employer",
            "credit_code": code,
            "name": emp.name,
            "password": password,
            "must_change": True,
        },
        "certificate": {
            "url": f"/verify?serial={cert.serial}&check={cert.check}",
            "serial": cert.serial,
            "check": cert.check,
        },
    }
    target = out / "selfservice" / "portal.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    # a password and a (synthetic) person's ID and name: readable by the owner only
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(doc, ensure_ascii=False, indent=2))
    return {"自助服务演示账号与证明（portal.json）": str(target)}
