"""Demo step: payment reminders on the synthetic city — registered employer contacts (fictional
numbers, marked as demo data), a dry run, a draft batch made by a city user and approved by
another person, and (inside the sending hours) the batch sent through the file sender to
``DATA/outbox/sms.jsonl``. The counts go to ``OUT/notify/reminders.json``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl

from canbao.collection import published
from canbao.notify import batches, contacts
from canbao.notify.config import load_config
from canbao.notify.quiet_hours import in_window
from canbao.notify.senders import sent_file
from canbao.registry import snapshot
from canbao.store import Actor, open_store
from canbao.store.models import utcnow

MAKER = Actor("city_li", "city_staff")  # the demo's accounts (canbao.store.demo)
CHECKER = Actor("demo_admin", "admin")
CONTACTS = 25  # employers given a (fictional) registered contact number


def _contacts(data: Path, out: Path) -> int:
    """A contacts file for the first employers with an 18-character credit code: numbers of
    the reserved-looking 1390000xxxx range, fictional."""
    snap = snapshot.require_current(data)
    codes = (
        snap.scan("employers")
        .filter(pl.col("credit_code").str.len_chars() == 18)
        .select("credit_code")
        .sort("credit_code")
        .head(CONTACTS)
        .collect()["credit_code"]
        .to_list()
    )
    path = out / "demo-employer-contacts.csv"
    lines = ["统一社会信用代码,联系电话"]
    lines += [f"{code},1390000{i:04d}" for i, code in enumerate(codes)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return contacts.import_employer_contacts(data, path)


def run_notify_demo(out: Path) -> dict[str, str]:
    data = out / "data"
    if snapshot.current(data) is None:
        return {}
    day = published.data_as_of(data)
    if day is None:
        return {}
    base = out / "notify"
    base.mkdir(parents=True, exist_ok=True)
    store = open_store(data)
    try:
        n_contacts = _contacts(data, base)
        dry = batches.make_batch(store, data, MAKER, day, dry_run=True)
        made = batches.make_batch(store, data, MAKER, day)
        report: dict[str, Any] = {
            "as_of": day.isoformat(),
            "employer_contacts": n_contacts,
            "dry_run": dry.counts(),
            "batch": made.batch_id,
            "made": made.counts(),
        }
        if made.batch_id is not None:
            batches.approve(store, CHECKER, made.batch_id)
            now = utcnow()
            if in_window(now, load_config(data)):
                sent = batches.send_batch(store, data, CHECKER, made.batch_id, now=now)
                report["sent"] = {"sent": sent.sent, "failed": sent.failed, "waiting": sent.waiting}
            else:
                report["sent"] = (
                    "免打扰时段（默认 08:00–20:00），未发送：白天运行 canbao remind send"
                )
    finally:
        store.dispose()
    path = base / "reminders.json"
    path.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    where = {
        "提醒短信批次（规则、去重、拒收、免打扰；工作台“提醒短信”页面审核） (reminders)": str(path)
    }
    if sent_file(data).exists():
        where["测试模式发出的短信 (file sender)"] = str(sent_file(data))
    return where
