"""Demo step: gap work lists, coverage statistics and quality against the synthetic truth,
written under OUT/coverage from the registry built on OUT/data."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from canbao import outputs
from canbao.coverage import api
from canbao.registry import snapshot
from canbao.standards import masking
from canbao.warehouse.scope import Scope

DEMO = Scope.system("demo: coverage analyses of the synthetic city")

STATS_ZH = {
    "county_code": "区县代码",
    "scheme": "险种",
    "month": "月份",
    "enrolled": "参保人数",
    "residents": "常住登记人口",
    "pension_eligible": "应参养老人数",
    "pension_covered": "已参养老人数",
    "medical_covered": "已参医疗人数",
    "pension_rate": "养老参保率",
    "medical_rate": "医疗参保率",
}


def write_statistics(enrolled: pl.DataFrame, rates: pl.DataFrame, out: Path) -> Path:
    sheets = {"分险种分月参保人数": enrolled, "参保率": rates}
    return outputs.write_workbook(sheets, out, labels=STATS_ZH).path


def run_coverage_demo(out: Path) -> dict[str, str]:
    data = out / "data"
    if snapshot.current(data) is None:
        return {}
    base = out / "coverage"
    base.mkdir(parents=True, exist_ok=True)
    a = api.analyse(data, DEMO)
    where: dict[str, str] = {}
    titles = {
        "uninsured": "应保未保工作清单 (uninsured work lists)",
        "duplicates": "重复参保清单 (duplicate enrolment)",
        "deceased": "死亡仍参保清单 (deceased still enrolled)",
        "employers": "单位合规清单 (employer compliance)",
        "land_farmers": "被征地农民未参养老清单 (land-expropriated farmers without pension)",
    }
    groups = {
        "uninsured": ("uninsured", "missing_employee_pension", "identity_to_verify",
                      "presumed_students"),
        "duplicates": ("duplicates",),
        "deceased": ("deceased",),
        "employers": ("unregistered_employers", "under_reporters", "headcount_months",
                      "selective_employers"),
        "land_farmers": ("land_farmers_uninsured",),
    }  # fmt: skip
    for kind, keys in groups.items():
        written = api.write_gap_lists({k: a.lists[k] for k in keys}, base / f"gaps-{kind}.xlsx")
        where[titles[kind]] = str(written.path)
    stats = write_statistics(a.enrolled, a.rates, base / "coverage-statistics.xlsx")
    where["分区县分险种分月参保统计与参保率 (coverage statistics)"] = str(stats)
    # the export carries full IDs for the data team; the demo output is shared: masked here
    export = outputs.write_csv(
        masking.mask_frame(a.export), base / "coverage-export-masked.csv"
    ).path
    where["每人参保状态导出（演示版已脱敏）(canbao export coverage)"] = str(export)
    city = out / "city"
    if (city / "truth" / "uninsured.csv").exists():
        q = api.evaluate(data, city, DEMO, a)
        path = base / "gap-quality.json"
        path.write_text(json.dumps(q, ensure_ascii=False, indent=2), encoding="utf-8")
        where["清单质量（对照合成真值）(gap lists vs truth)"] = str(path)
    return where
