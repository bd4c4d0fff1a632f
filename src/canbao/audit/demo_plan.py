"""Demo step: the audit plan of the synthetic city (``OUT/audit/plan.xlsx``, as ``canbao audit
plan`` writes it) and, where the city's truth is at hand (``OUT/city/truth``), the ranking's
quality against it (``OUT/audit/quality.json``: precision@K of true under-reporters and the
share of the true money at stake in the top K, beside random choice and ranking by size)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from canbao.audit import evaluate, targets, workbook
from canbao.audit.weights import load
from canbao.collection.ledger import region_policy
from canbao.registry import snapshot
from canbao.store import open_store
from canbao.warehouse.scope import Scope

DEMO = Scope.system("demo: the audit plan of the synthetic city")


def run_audit_plan_demo(out: Path) -> dict[str, str]:
    data = out / "data"
    snap = snapshot.current(data)
    if snap is None:
        return {}
    base = out / "audit"
    base.mkdir(parents=True, exist_ok=True)
    w = load()
    limit = targets.per_county(w)
    store = open_store(data)
    try:  # what the store says: breaches, enforcement, audit cases (as `canbao audit plan`)
        breaches = targets.breached_agreements(store, DEMO)
        enforcement = targets.under_enforcement(store, DEMO, w.plan.enforcement_states)
        found = targets.model(data, DEMO, weights=w, breaches=breaches)
        day = found.as_of or dt.date.today()
        audited = targets.audited_before(store, day, w.plan.lookback_months)
    finally:
        store.dispose()
    plan = targets.select(found, w, limit, recently_audited=audited, enforcement=enforcement)
    plan.params.update(employers=found.employers.height)
    written = workbook.write_plan(plan, w, base / "plan.xlsx")
    where = {
        f"稽核计划：每个区县风险最高的 {limit} 户，附评分依据、涉及金额和缴费能力"
        "(canbao audit plan)": str(written.path)
    }
    truth = out / "city" / "truth" / "under_reporters.csv"
    if truth.exists() and found.employers.height:
        policy = region_policy(data, day)
        true = evaluate.true_money(out / "city", snap.scan("employer_links").collect(),
                                   found.employers, policy)  # fmt: skip
        rows = evaluate.ranking_quality(found.employers, true, draws=50)
        path = base / "quality.json"
        path.write_text(json.dumps({"employers": found.employers.height, "rows": rows},
                                   ensure_ascii=False, indent=1), encoding="utf-8")  # fmt: skip
        where["稽核排序与合成城市真实情况对比：前 K 户命中率、涉及金额占比 (quality)"] = str(path)
    return where
