"""The demo pipeline: every capability adds its step here (and a line to "where to look")."""

from __future__ import annotations

import json
from pathlib import Path

from canbao.standards import citizen_id, credit_code

_SAMPLE_IDS = [
    "11010519491231002X",  # GB 11643 example
    "110105491231002",  # 15-digit form of the same number
    "36042119800101001x",  # retired code 360421 九江县, lowercase x, wrong check
    "３６０４２６１９９１０１０１００７１",  # full-width digits
    "3.60402199001011E+17",  # typed into Excel as a number
    "360426 1991 0101 0071",  # spaces
]
_SAMPLE_CODES = ["91110000600037341L", "91350100M000100Y43", "600037341", "9136040MA00000000"]


def run_demo(out: Path, *, skew: bool = False) -> dict[str, str]:
    """Every step on a synthetic city in ``out``; ``skew``: a skewed city (hot employers,
    collective accounts and households, common names: ``canbao synth --skew``)."""
    out.mkdir(parents=True, exist_ok=True)
    where: dict[str, str] = {}
    ids = [r.to_json_dict() for r in citizen_id.check_many(_SAMPLE_IDS)]
    for r in ids:  # the demo output is shared: mask the numbers
        r["input"] = citizen_id.mask(str(r["input"]))
        r["id18"] = citizen_id.mask(r["id18"]) if r["id18"] else None
        r["candidates"] = [citizen_id.mask(c) for c in r["candidates"]]
    codes = [r.to_json_dict() for r in credit_code.check_many(_SAMPLE_CODES)]
    path = out / "standards-check.json"
    path.write_text(
        json.dumps({"citizen_id": ids, "credit_code": codes}, ensure_ascii=False, indent=2),
        encoding="utf-8",
    )
    where["身份证号与信用代码校验示例 (ID and credit-code checks)"] = str(path)

    from canbao.synth.demo import run_synth_demo

    where.update(
        run_synth_demo(out, skew=skew)
    )  # the synthetic city: OUT/city (extracts, truth, manifest)

    from canbao.ingest.demo import run_ingest_demo

    where.update(run_ingest_demo(out))  # ingest OUT/city/manifest.json (after the synth step)

    from canbao.registry.demo import run_registry_demo
    from canbao.synth.month import new_enrolment_extract

    # build the registry on OUT/data, export masked lists, apply a synthetic next month
    where.update(run_registry_demo(out, new_enrolment_extract))

    from canbao.store.demo import run_store_demo

    where.update(run_store_demo(out))  # accounts, a signed decision, audit log, backup

    from canbao.coverage.demo import run_coverage_demo

    where.update(run_coverage_demo(out))  # gap work lists, coverage statistics under OUT/coverage

    from canbao.collection.demo import run_collection_demo

    where.update(run_collection_demo(out))  # ledger, arrears list, KPIs, dunning and agreement

    from canbao.cases.demo import run_cases_demo

    where.update(run_cases_demo(out))  # cases opened, worked, a county workbook, progress

    from canbao.audit.demo_cases import run_audit_cases_demo
    from canbao.audit.demo_plan import run_audit_plan_demo

    where.update(run_audit_plan_demo(out))  # risk-ranked audit targets, OUT/audit/plan.xlsx
    where.update(run_audit_cases_demo(out))  # an audit case: notice, findings, opinion, ledger

    from canbao.compliance.demo import run_compliance_demo
    from canbao.notify.demo import run_notify_demo
    from canbao.selfservice.demo import run_selfservice_demo

    where.update(run_selfservice_demo(out))  # employer password, a certificate, a person

    where.update(run_compliance_demo(out))  # what other departments get: standing, listing
    where.update(run_notify_demo(out))  # payment reminders: rules, a batch approved and sent

    from canbao.plan.demo import run_plan_demo

    where.update(run_plan_demo(out))  # plan: 附件1 template, synthetic split, 通报
    return where
