"""Demo step: the contribution ledger of the synthetic city — the ledger export, the collectors'
arrears list, the collection KPIs, and for the largest debtor a dunning case (催缴通知, two visits,
责令限期缴纳决定) and an instalment agreement, each with its Word document."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl

from canbao import outputs
from canbao.collection import agreements, api, dunning, published
from canbao.collection.exports import arrears_labels, arrears_text, ledger_text
from canbao.collection.ledger import region_policy
from canbao.profile import profile_for
from canbao.registry import snapshot
from canbao.store import Actor, open_store
from canbao.warehouse.scope import Scope

DEMO = Scope.system("demo: the contribution ledger of the synthetic city")


def run_collection_demo(out: Path) -> dict[str, str]:
    data = out / "data"
    pub = published.publish(data) if snapshot.current(data) is not None else None
    if pub is None:
        return {}
    day = pub.as_of
    base = out / "collection"
    base.mkdir(parents=True, exist_ok=True)
    ledger = api.ledger(data, DEMO, day)  # the published ledger (as `canbao build` leaves it)
    ledger_csv = outputs.write_csv(ledger_text(ledger), base / "ledger.csv").path
    debts = api.arrears(data, DEMO, day)
    policy = region_policy(data, day)
    arrears_xlsx = outputs.write_table(
        arrears_text(debts, True), base / "arrears.xlsx", labels=arrears_labels(policy),
        sheet="欠费单位", parquet=False,
    ).path  # fmt: skip
    kpis = api.kpis(data, DEMO, day.year, day)
    kpi_json = base / "kpi.json"
    kpi_json.write_text(
        json.dumps(kpis.select("unit", "indicator", "value").to_dicts(), ensure_ascii=False,
                   indent=1), encoding="utf-8",
    )  # fmt: skip
    where = {
        f"随构建发布的征缴台账（{pub.seconds:.1f} 秒）(canbao build)": str(pub.path),
        f"征缴台账（{ledger.height:,} 行，截至 {day}）(canbao ledger export)": str(ledger_csv),
        f"欠费单位清单（{debts.height:,} 家）(canbao arrears)": str(arrears_xlsx),
        "征缴指标：基金征缴、新欠比例、清欠率 (canbao kpi)": str(kpi_json),
    }
    if debts.height:
        where.update(_dunning_demo(data, base, debts, day))
    return where


def _dunning_demo(data: Path, base: Path, debts: pl.DataFrame, day: dt.date) -> dict[str, str]:
    """The largest debtor: a dunning case up to the order, and an instalment agreement."""
    top = debts.sort("arrears", descending=True).row(0, named=True)
    employer = dunning.Employer(
        top["employer_key"], top["employer_name"] or "（未登记名称）", top["credit_code"] or "",
        top["county_code"],
    )  # fmt: skip
    schemes = str(top["schemes"]).split("、")[:1]
    profile = profile_for(data, remember=False).profile
    op = Actor.operator()
    store = open_store(data)
    docs = base / "documents"
    try:
        start = day + dt.timedelta(days=5)
        case = dunning.start(store, op, DEMO, employer, schemes, int(top["arrears"]), on=start,
                             note="演示：欠费单位清单第一位")  # fmt: skip
        for i, note in enumerate(("上门催缴，财务负责人称资金紧张", "再次上门，承诺分期缴纳")):
            dunning.step(store, op, DEMO, case.id, "visit", on=start + dt.timedelta(days=7 * (i + 1)),
                         note=note)  # fmt: skip
        order = dunning.step(store, op, DEMO, case.id, "order", on=start + dt.timedelta(days=21),
                             deadline=start + dt.timedelta(days=36), note="逾期未缴")  # fmt: skip
        notice = dunning.document(store, DEMO, profile, case.id, docs, seq=1, data_dir=data)
        decided = dunning.document(store, DEMO, profile, order.id, docs, data_dir=data)
        deal = agreements.propose(
            store, op, DEMO, employer, schemes, "instalment", int(top["arrears"]),
            guarantee_note="法定代表人个人连带责任担保（演示）", reason="资金周转困难（演示）",
            instalments=6, first_due=start + dt.timedelta(days=45), case_id=case.id,
        )  # fmt: skip
        agreements.approve(store, op, DEMO, deal.id, on=start + dt.timedelta(days=30))
        signed = agreements.document(store, DEMO, profile, deal.id, docs, data_dir=data)
    finally:
        store.dispose()
    return {
        "催缴通知书（欠费最多的单位）(canbao dunning document)": str(notice),
        "责令限期缴纳决定书 (order to pay)": str(decided),
        "分期缴费协议（已批准）(canbao agreements)": str(signed),
    }
