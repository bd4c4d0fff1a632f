"""Demo step: what another department's system gets from the compliance API — the standing of
the employer with the most arrears and of one without (nothing personal; each call in the audit
log), a 严重失信 listing decided by a city user (reported apart from the arrears), and the
request to make with the demo's department key. Written to ``OUT/compliance/``."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from canbao.compliance import api, listings
from canbao.compliance.bands import bands
from canbao.compliance.standing import STANDINGS
from canbao.registry import snapshot
from canbao.store import Actor, open_store
from canbao.warehouse.scope import Scope

DEPARTMENT = Actor("demo_tax_bureau", "department", client="demo")  # canbao.store.demo's key
CITY_USER = Actor("city_li", "city_staff")
PURPOSE = "纳税信用评价（演示）"


def run_compliance_demo(out: Path) -> dict[str, str]:
    data = out / "data"
    if snapshot.current(data) is None:
        return {}
    index = STANDINGS.current(data)
    rank = {b.code: i for i, b in enumerate(bands())}
    entries = sorted(
        index.entries.values(),
        key=lambda e: (-rank.get(e.arrears_band, 0), -e.months_in_arrears, e.credit_code),
    )
    if not entries:
        return {}
    owing, clean = entries[0], entries[-1]
    base = out / "compliance"
    base.mkdir(parents=True, exist_ok=True)
    store = open_store(data)
    scope = Scope.system("demo: the compliance API")
    try:
        listing = listings.list_employer(
            store, CITY_USER, clean.credit_code, "unregistered_after_penalty", "",
            "九人社失信〔2017〕1号（演示）", dt.date(2017, 12, 1), dt.date(2020, 11, 30),
            "演示：经行政处罚后仍未办理社会保险登记",
        )  # fmt: skip
        answers = api.batch(
            data, store, DEPARTMENT, scope, [owing.credit_code, clean.credit_code], PURPOSE
        )
    finally:
        store.dispose()
    path = base / "standings.json"
    report = {
        "request": "POST /api/compliance/batch（Authorization: Bearer <demo_tax_bureau 的密钥，"
        "见 OUT/store/demo-accounts.txt>；X-Purpose 可选）",
        "answer": answers.model_dump(mode="json"),
        "listing_id": listing.id,
    }
    path.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    return {
        "单位参保缴费情况查询接口示例（无个人信息；严重失信名单与欠费分列） (compliance API)": str(
            path
        )
    }
