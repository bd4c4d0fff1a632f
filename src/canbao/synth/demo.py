"""Demo step: a synthetic city of 20,000 residents in OUT/city (a few seconds)."""

from __future__ import annotations

import json
from pathlib import Path

from canbao.synth.config import Skew
from canbao.synth.generate import generate

DEMO_PERSONS = 20_000
DEMO_SEED = 2017


def run_synth_demo(out: Path, *, skew: bool = False) -> dict[str, str]:
    city = out / "city"
    manifest = generate(DEMO_PERSONS, DEMO_SEED, city, skew=Skew() if skew else None)
    summary = json.loads((city / "truth" / "summary.json").read_text(encoding="utf-8"))
    rows = sum(v["rows"] for v in summary["rows"].values())
    return {
        f"合成九江市：{summary['persons']} 人、{len(summary['rows'])} 个部门文件、{rows} 行 "
        "(synthetic city: extracts + manifest.json)": str(manifest),
        "合成城市真值：关联、损坏记录、漏保/重复/死亡仍参保/未登记/少报/欠费名单 "
        "(ground truth)": str(city / "truth"),
        "合成城市的任务分解表（附件1，按其规模由真值推算）(synthetic 附件1)": str(
            city / json.loads(manifest.read_text(encoding="utf-8"))["task_table"]["path"]
        ),
    }
