"""Demo step: an audit case on the synthetic city — the notice to an employer of the registry with
declared pension contributions, the on-site audit finding a base reported too low for one month,
the 稽核意见书 within 10 working days, the two documents under ``OUT/audit/`` and the finding as a
supplementary assessment in the ledger (due, balance and late fee of that month before and
after)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import polars as pl

from canbao.audit import cases, documents
from canbao.audit.findings import Finding, assess
from canbao.collection import api, published
from canbao.collection.dunning import Employer
from canbao.coverage.api import session
from canbao.profile import profile_for
from canbao.registry import snapshot
from canbao.store import Actor, open_store
from canbao.warehouse.scope import Scope

DEMO = Scope.system("demo: an audit case on the synthetic city")
SCHEME = "employee_pension"
GAP_FEN = 150_000  # the base found 1,500 yuan above the declared one


def _row(data: Path, employer: str, day: dt.date, period: str) -> dict[str, Any]:
    with session(data, DEMO, day) as s:
        rows = api.employer_ledger_in(s, employer)
    found = rows.filter((pl.col("scheme") == SCHEME) & (pl.col("period") == period))
    keep = ("period", "due_date", "due", "paid", "balance", "late_fee", "source")
    return {k: str(v) for k, v in found.select(keep).row(0, named=True).items()}


def _target(data: Path, day: dt.date) -> tuple[Employer, str] | None:
    """The employer with the largest declared pension due of one month three months before
    ``day`` (that month), from the ledger and the registry."""
    period = f"{(day.year * 12 + day.month - 4) // 12:04d}-{(day.month - 4) % 12 + 1:02d}"
    ledger = api.ledger(data, DEMO, day)
    rows = ledger.filter(
        (pl.col("scheme") == SCHEME) & (pl.col("period") == period) & (pl.col("due") > 0)
        & pl.col("county_code").is_not_null()
    ).sort(["due", "employer_key"], descending=[True, False])  # fmt: skip
    if rows.is_empty():
        return None
    top = rows.row(0, named=True)
    name = top["employer_name"] or "（未登记名称）"
    return Employer(top["employer_key"], name, top["credit_code"] or "", top["county_code"]), period


def run_audit_cases_demo(out: Path) -> dict[str, str]:
    data = out / "data"
    if snapshot.current(data) is None:
        return {}
    day = published.data_as_of(data)
    if day is None:
        return {}
    found = _target(data, day)
    if found is None:
        return {}
    employer, period = found
    profile = profile_for(data, remember=False).profile
    cal = cases.calendar_for(data)
    visit = cal.next_workday(day - dt.timedelta(days=40))
    notice = visit - dt.timedelta(days=5)
    concluded = cal.add(visit, 8)  # within the 10 working days of the 稽核意见书
    before = _row(data, employer.employer_key, day, period)
    base = out / "audit"
    op = Actor.operator()
    store = open_store(data)
    try:
        c = cases.open_case(
            store, op, DEMO, employer, notice_on=notice, visit_on=visit,
            period_from=f"{day.year - 1}-01", period_to=period, auditors=["稽核一组"],
            notice_no=f"{profile.letterhead.document_prefix}稽通〔{day.year}〕1号",
        )  # fmt: skip
        raw = Finding("base", "DEMO-P1", "张某（演示）", SCHEME, period, 300_000, 300_000 + GAP_FEN,
                      note="工资表显示实发工资高于申报基数（演示）")  # fmt: skip
        finding = assess(raw, profile.policy_region)
        c = cases.record(store, op, DEMO, c.id, visited_on=visit, findings=[finding],
                         note="查阅工资发放明细、考勤表（演示）", calendar=cal)  # fmt: skip
        c = cases.finish(
            store, op, DEMO, c.id, on=concluded, rectify_by=concluded + dt.timedelta(days=30),
            opinion_no=f"{profile.letterhead.document_prefix}稽意〔{day.year}〕1号",
        )  # fmt: skip
        notice_doc = documents.document(store, DEMO, profile, c.id, "notice", base, data_dir=data)
        opinion_doc = documents.document(store, DEMO, profile, c.id, "opinion", base,
                                         data_dir=data)  # fmt: skip
    finally:
        store.dispose()
    after = _row(data, employer.employer_key, day, period)
    summary = {
        "case_id": c.id,
        "employer": employer.name,
        "period": period,
        "finding_fen": finding.unpaid_fen,
        "visit": visit.isoformat(),
        "opinion_due": str(c.opinion_due),
        "concluded": concluded.isoformat(),
        "ledger_as_of": day.isoformat(),
        "ledger_before": before,
        "ledger_after": after,
    }
    path = base / "ledger_assessment.json"
    path.write_text(json.dumps(summary, ensure_ascii=False, indent=1), encoding="utf-8")
    return {
        f"稽核通知书（稽核案件 #{c.id}）(canbao audit case document)": str(notice_doc),
        "稽核意见书 (audit opinion)": str(opinion_doc),
        f"稽核补缴记入征缴台账（{period}，应补缴 {finding.unpaid_fen / 100:.2f} 元）": str(path),
    }
