"""Demo step: cases from the synthetic city's work lists — opened from the current build's gap
lists, review queue and arrears; a few assigned to the demo's county user and resolved (已参保,
已在外地参保, 在校学生, an arrears agreement, a referral to labour inspection); the county's
workbook to fill in; the progress; the coverage statistics with the uninsured split by what the
field recorded. Runs after the collection step and before the plan step, whose 通报 then has
its 入户核查进度 section. Review pairs are opened but left to the staff (the store step already
decided one on the command line)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict
from pathlib import Path

from sqlalchemy import select

from canbao import outputs
from canbao.cases import lifecycle
from canbao.cases.lists import work_lists
from canbao.cases.opening import open_cases
from canbao.cases.progress import LABELS_ZH, progress, uninsured_outcomes
from canbao.cases.workbook import export_workbook
from canbao.coverage import api as coverage_api
from canbao.coverage.demo import STATS_ZH
from canbao.profile import Profile, profile_for
from canbao.registry import snapshot
from canbao.standards.divisions import name_of
from canbao.store import Actor, Store, open_store
from canbao.store.models import User
from canbao.store.scopes import scope_for
from canbao.warehouse.scope import Scope

DEMO = Scope.system("demo: cases from the synthetic city's work lists")
STATS_LABELS = {
    **STATS_ZH,
    "uninsured": "应保未保人数（清单）",
    "unexplained": "未核实",
    "awaiting": "已登记参保待数据确认",
    "explained": "已说明原因（单列，不计为已参保）",
    "confirmed": "数据确认已参保（已出清单）",
}
UNINSURED = ("uninsured_medical", "uninsured_pension")


def _worker(store: Store, profile: Profile) -> tuple[Actor, str, str | None]:
    """Who works the demo's cases, their county and the user to assign to: the store step's
    county user (``county_<code>``) when that county has uninsured cases; else the operator, the
    county of the first uninsured case and a township team instead of a user."""
    county = profile.demo_county or profile.counties[0].code  # as the store step chooses
    with store.sessions() as s:
        user = s.execute(select(User).where(User.name == f"county_{county}")).scalar_one_or_none()
    first = next((c for c in lifecycle.list_cases(store, DEMO, open_only=True, limit=None)
                  if c.kind in UNINSURED), None)  # fmt: skip
    if user is not None and any(
        c.county_code == county
        for c in lifecycle.list_cases(store, DEMO, county=county, open_only=True, limit=50)
        if c.kind in UNINSURED
    ):
        return Actor(user.name, user.role, tuple(user.counties)), county, user.name
    return Actor.operator(), (first.county_code if first else None) or county, None


def _people(
    store: Store, actor: Actor, scope: Scope, county: str, user: str | None
) -> dict[str, int]:
    """Assign six of the county's uninsured cases; resolve four (已参保 twice, 已在外地参保,
    在校学生), record a visit on the fifth."""
    today, op = dt.date.today(), Actor.operator()
    mine = lifecycle.list_cases(store, scope, county=county, open_only=True, limit=None)
    people = [c for c in mine if c.kind in UNINSURED][:6]
    for c in people:
        lifecycle.assign(store, op, DEMO, c.id, user=user, team=None if user else "演示乡镇工作组",
                         note="演示：入户核查", version=c.version)  # fmt: skip
    scheme = {
        "uninsured_medical": "城乡居民基本医疗保险",
        "uninsured_pension": "城乡居民基本养老保险",
    }
    for c in people[:2]:
        lifecycle.resolve(store, actor, scope, c.id, "已参保", on=today, reason=scheme[c.kind])
    for c in people[2:3]:
        lifecycle.resolve(store, actor, scope, c.id, "已在外地参保", reason="浙江省宁波市（演示）",
                          evidence="外地参保证明（演示）")  # fmt: skip
    for c in people[3:4]:
        lifecycle.resolve(store, actor, scope, c.id, "在校学生", evidence="学籍证明（演示）",
                          expires_on=today + dt.timedelta(days=730))  # fmt: skip
    for c in people[4:5]:
        lifecycle.contact(store, actor, scope, c.id, on=today, note="上门未遇，已留联系卡（演示）")
    return {"assigned": len(people), "resolved": min(len(people), 4),
            "contacted": max(0, min(len(people), 5) - 4)}  # fmt: skip


def _debts(store: Store) -> int:
    """Two arrears cases: an instalment agreement, a referral to labour inspection."""
    today, op = dt.date.today(), Actor.operator()
    debts = lifecycle.list_cases(store, DEMO, kind="arrears", open_only=True, limit=2)
    for c in debts[:1]:
        lifecycle.resolve(store, op, DEMO, c.id, "已签分期或缓缴协议", on=today,
                          reason="分期缴费协议（演示）")  # fmt: skip
    for c in debts[1:2]:
        lifecycle.resolve(store, op, DEMO, c.id, "已移送劳动监察", on=today,
                          note="逾期未缴，移送劳动保障监察（演示）")  # fmt: skip
    return len(debts)


def run_cases_demo(out: Path) -> dict[str, str]:
    data = out / "data"
    snap = snapshot.current(data)
    if snap is None:
        return {}
    base = out / "cases"
    base.mkdir(parents=True, exist_ok=True)
    profile = profile_for(data, remember=False).profile
    store = open_store(data)
    try:
        opened = open_cases(store, DEMO, work_lists(data, DEMO, store), snap.build_id)
        actor, county, user = _worker(store, profile)
        scope = scope_for(actor, profile) if user else DEMO
        done = _people(store, actor, scope, county, user)
        done["arrears"] = _debts(store)
        summary = base / "opened.json"
        summary.write_text(json.dumps({**asdict(opened), "demo_steps": done}, ensure_ascii=False,
                                      indent=1), encoding="utf-8")  # fmt: skip
        book = export_workbook(store, scope, county, None, base / f"个案-{county}.xlsx").path
        p = progress(store, DEMO)
        prog = outputs.write_workbook(
            {"办理进度": p.summary, "处理结果": p.outcomes, "应保未保核实": p.uninsured},
            base / "核查进度.xlsx", labels=LABELS_ZH,
        ).path  # fmt: skip
        stats = coverage_api.statistics(data, DEMO, outcomes=uninsured_outcomes(store, DEMO))
    finally:
        store.dispose()
    stats_path = outputs.write_workbook(
        {"应保未保按核查结果": stats["uninsured"], "参保率": stats["rates"]},
        base / "参保统计-含核查结果.xlsx", labels=STATS_LABELS,
    ).path  # fmt: skip
    name = name_of(county) or county
    return {
        f"扩面个案：由工作清单开案 {opened.rows:,} 个（应保未保、重复参保、欠费单位、疑似同一人复核等）"
        "(canbao cases open)": str(summary),
        f"{name}个案工作簿，处理结果为下拉框 (canbao cases export)": str(book),
        "入户核查进度：按区县、乡镇、类型、经办人 (canbao cases progress)": str(prog),
        "参保统计：应保未保按核查结果拆分 (coverage statistics with the field's outcomes)": str(
            stats_path
        ),
    }
