"""``canbao profile list|show|use``: the region profile (which city the data directory is for)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from canbao.cli._app import DataDir, ProfileOpt, app, bound_profile, console, default_data_dir
from canbao.profile import Profile, read_record, shipped, shipped_names, use_profile

profile_app = typer.Typer(
    help="地区配置：区县、计划单位、经办机构、统筹区、发文机关（region profile）。",
    no_args_is_help=True,
)
app.add_typer(profile_app, name="profile")


def _dd(data_dir: Path | None) -> Path:
    return data_dir if data_dir is not None else default_data_dir()


def profile_json(p: Profile) -> dict[str, Any]:
    return {
        "name": p.name,
        "digest": p.digest,
        "source": p.source,
        "city": {"code": p.city.code, "name": p.city.name},
        "year": p.year,
        "counties": [
            {
                "code": c.code,
                "name": c.name,
                "short": c.short,
                "predecessors": list(c.predecessors),
                "aliases": list(c.aliases),
            }
            for c in p.counties
        ],
        "units": [{"code": u.code, "name": u.name, "kind": u.kind} for u in p.units],
        "agencies": [{"code": a.code, "name": a.name, "unit": a.unit} for a in p.agencies],
        "pooling_areas": [
            {"code": a.code, "name": a.name, "unit": a.unit} for a in p.pooling_areas
        ],
        "policy_region": p.policy_region,
        "letterhead": {
            "issuer": p.letterhead.issuer,
            "document_prefix": p.letterhead.document_prefix,
        },
        "default_plan": p.default_plan,
    }


@profile_app.command("list")
def list_profiles(data_dir: DataDir = None) -> None:  # type: ignore[assignment]
    """List the shipped profiles and the one the data directory uses."""
    record = read_record(_dd(data_dir))
    for name in shipped_names():
        mark = "\t（数据目录使用中）" if record and record.name == name else ""
        console.print(f"{name}\t{shipped(name).city.name}{mark}", markup=False)
    if record is not None and record.source != "shipped":
        console.print(f"{record.name}\t{record.source}\t（数据目录使用中）", markup=False)


@profile_app.command("show")
def show(
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON")] = False,
    data_dir: DataDir = None,  # type: ignore[assignment]
    profile: ProfileOpt = None,
) -> None:
    """Show a profile: counties (codes, former codes, aliases), plan units, agencies, letterhead.

    Example: canbao profile show --json
    """
    p = bound_profile(_dd(data_dir), profile)
    if as_json:
        sys.stdout.write(json.dumps(profile_json(p), ensure_ascii=False, indent=1) + "\n")
        return
    console.print(
        f"地区配置 {p.name}：{p.city.name}（{p.city.code}），摘要 {p.short_digest}", markup=False
    )
    console.print(f"来源：{'内置' if p.source == 'shipped' else p.source}", markup=False)
    console.print(f"\n区县（{p.year}年末，{len(p.counties)} 个）", markup=False)
    for c in p.counties:
        extra = []
        if c.predecessors:
            extra.append("原代码 " + "、".join(c.predecessors))
        if c.aliases:
            extra.append("又称 " + "、".join(c.aliases))
        console.print(
            f"  {c.code} {c.name}  {'；'.join(extra)}".rstrip(), markup=False, soft_wrap=True
        )
    console.print("\n计划单位（无行政区划代码）", markup=False)
    for u in p.units:
        console.print(f"  {u.code} {u.name}", markup=False)
    if p.agencies:
        console.print("\n经办机构", markup=False)
        for a in p.agencies:
            console.print(f"  {a.code or '（无代码）'} {a.name} → {a.unit}", markup=False)
    if p.pooling_areas:
        console.print("\n统筹区", markup=False)
        for area in p.pooling_areas:
            console.print(f"  {area.code} {area.name} → {area.unit or '全市'}", markup=False)
    console.print(
        f"\n政策参数地区：{p.policy_region}；发文机关：{p.letterhead.issuer}"
        f"（{p.letterhead.document_prefix}）；默认计划：{p.default_plan or '—'}",
        markup=False,
        soft_wrap=True,
    )


@profile_app.command("use")
def use(
    spec: Annotated[str, typer.Argument(help="内置地区配置名称或 .json/.toml 文件路径")],
    data_dir: DataDir = None,  # type: ignore[assignment]
) -> None:
    """Set or change the data directory's region profile (explicitly).

    Plans stored for another profile then need to be imported again.
    Example: canbao profile use 地区配置.toml --data-dir DATA
    """
    p, previous = use_profile(_dd(data_dir), spec)
    if previous is None or previous.name == p.name:
        console.print(f"数据目录已使用地区配置“{p.name}”（{p.city.name}）", markup=False)
    else:
        console.print(
            f"数据目录的地区配置已由“{previous.name}”改为“{p.name}”（{p.city.name}）；"
            "原配置下导入的计划需重新导入",
            markup=False,
            soft_wrap=True,
        )
