"""``canbao synth``: generate the synthetic Jiujiang (extracts + ground truth + manifest)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from canbao.cli._app import app, console
from canbao.errors import UsageError
from canbao.synth import DamageRates, Skew, generate


@app.command("synth")
def synth_command(
    persons: Annotated[
        int, typer.Option("--persons", help="居民人数（residents to generate）。")
    ] = 20_000,
    seed: Annotated[int, typer.Option("--seed", help="随机种子；同一种子生成完全相同的文件。")] = 1,
    out: Annotated[Path, typer.Option("--out", help="输出目录（output directory）。")] = Path(
        "synth-city"
    ),
    year: Annotated[int, typer.Option("--year", help="数据年度（year of the extracts）。")] = 2017,
    damage_scale: Annotated[
        float, typer.Option("--damage-scale", help="所有损坏比例乘以该系数（0 = 无损坏）。")
    ] = 1.0,
    rates: Annotated[
        Path | None, typer.Option("--rates", help='损坏比例 JSON 文件（{"id_typo": 0.01, …}）。')
    ] = None,
    skew: Annotated[
        bool,
        typer.Option(
            "--skew",
            help="倾斜的城市：几家超大单位、各县区灵活就业人员参保专户、数千人的集体户、"
            "更集中的常见姓名（测试热点键 hot keys）。",
        ),
    ] = False,
) -> None:
    """生成合成九江市：各部门数据文件、真值与 manifest.json（synthetic city with ground truth）。"""
    r = DamageRates.from_json(rates) if rates else DamageRates()
    if damage_scale != 1.0:
        if damage_scale < 0:
            raise UsageError("--damage-scale 不能为负数", "--damage-scale must be >= 0")
        r = r.scaled(damage_scale)
    path = generate(persons, seed, out, year=year, rates=r, skew=Skew() if skew else None)
    summary = json.loads((path.parent / "truth" / "summary.json").read_text(encoding="utf-8"))
    rows = sum(v["rows"] for v in summary["rows"].values())
    console.print(
        f"已生成合成城市：{summary['persons']} 人，{summary['employers']} 家单位，{len(summary['rows'])} 个文件，{rows} 行数据"
    )
    console.print(f"清单（manifest）：{path}", markup=False)
    console.print(f"真值（ground truth）：{path.parent / 'truth'}", markup=False)
    task = json.loads(path.read_text(encoding="utf-8")).get("task_table")
    if task:  # the 附件1 at the city's own size (canbao.synth.task_table)
        console.print(
            f"任务分解表（附件1，示例数据）：{path.parent / task['path']}",
            markup=False,
            soft_wrap=True,
        )
