"""Load and check region profiles: shipped ones by name, any other from a JSON or TOML file.

Format ``canbao-profile/1`` (docs/profile.md). The file is checked against one schema (types,
no unknown fields) and then against the GB/T 2260 division table: every county code must be a
county of the profile's prefecture, every name one of that code's names, every predecessor a
code that existed; unit codes, names and aliases must not collide. Every problem is reported at
once in one :class:`~canbao.errors.DataError`.

``NAME`` means a shipped profile (``canbao/profile/data/<NAME>.json``); anything containing a
path separator or ending in ``.json`` / ``.toml`` is a file.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from canbao.errors import DataError, InputFileError, NotFoundError
from canbao.profile.model import (
    CITY,
    CITY_LEVEL,
    Agency,
    City,
    County,
    Letterhead,
    PoolingArea,
    Profile,
    Unit,
    name_key,
)
from canbao.standards import divisions

FORMAT = "canbao-profile/1"
DEFAULT_PROFILE = "jiujiang"
"""The profile used when neither ``--profile`` / ``$CANBAO_PROFILE`` nor the data directory
names one (the shipped example city)."""
ENV = "CANBAO_PROFILE"
MAX_BYTES = 1024**2
SHOWN_ERRORS = 20

_Text = Annotated[str, StringConstraints(pattern=r"\S")]
_Code6 = Annotated[str, StringConstraints(pattern=r"^\d{6}$")]
_UnitCode = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
_Name = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]{0,63}$")]
_Count = Annotated[int, Field(ge=0)]


class _Model(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class _City(_Model):
    code: _Code6
    name: _Text
    short: str = ""


class _County(_Model):
    code: _Code6
    name: _Text
    short: _Text
    predecessors: list[_Code6] = []
    aliases: list[_Text] = []
    population: _Count | None = None


class _Unit(_Model):
    code: _UnitCode
    name: _Text
    kind: Literal["city", "city_level", "zone"]
    aliases: list[_Text] = []
    population: _Count | None = None


class _Agency(_Model):
    code: _Text | None = None
    name: _Text
    unit: _Text
    aliases: list[_Text] = []


class _PoolingArea(_Model):
    code: _Code6
    name: _Text
    unit: _Text | None = None


class _Letterhead(_Model):
    issuer: _Text
    document_prefix: _Text
    addressees: str = ""


class _Profile(_Model):
    format: Literal["canbao-profile/1"]
    name: _Name
    city: _City
    year: Annotated[int, Field(ge=1949, le=2100)]
    counties: Annotated[list[_County], Field(min_length=1)]
    units: list[_Unit]
    agencies: list[_Agency] = []
    pooling_areas: list[_PoolingArea] = []
    policy_region: _Code6
    letterhead: _Letterhead
    default_plan: _Text | None = None
    population_source: str = ""
    notes: list[str] = []
    demo_county: _Code6 | None = None  # the county of the demo's county user (canbao demo)


FIELDS = tuple(_Profile.model_fields)
_PROBLEMS = {
    "missing": "缺少（必填）",
    "string_type": "应为文本（字符串）",
    "int_type": "应为整数",
    "list_type": "应为列表 […]",
    "model_type": "应为对象 {…}",
    "extra_forbidden": "不是地区配置的字段",
    "literal_error": "取值不在允许范围内",
    "too_short": "不能为空列表",
    "greater_than_equal": "不能为负数或过小",
    "less_than_equal": "数值过大",
}
_PATTERNS = {
    "_Code6": "应为 6 位行政区划代码",
    "_UnitCode": "应为小写字母开头的英文代码（如 devzone）",
    "_Name": "应为小写英文名称（如 jiujiang）",
}


def _where(loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for x in loc:
        if isinstance(x, int):
            parts.append(f"第 {x + 1} 项")
        else:
            parts.append(str(x))
    return " ".join(parts) if parts else "（整个文件）"


def _describe(err: Any) -> str:
    kind = err["type"]
    if kind == "string_pattern_mismatch":
        pattern = str(err.get("ctx", {}).get("pattern", ""))
        problem = (
            _PATTERNS["_Code6"]
            if pattern == r"^\d{6}$"
            else _PATTERNS["_UnitCode"]
            if pattern.startswith("^[a-z][a-z0-9_]")
            else _PATTERNS["_Name"]
            if pattern.startswith("^[a-z][a-z0-9_-]")
            else "不能为空"
        )
    else:
        problem = _PROBLEMS.get(kind, err["msg"])
    shown = "" if kind in ("missing", "extra_forbidden") else f"（现为 {err['input']!r:.40}）"
    return f"{_where(tuple(err['loc']))} {problem}{shown}"


def _fail(origin: str, problems: list[str]) -> DataError:
    shown = "；".join(problems[:SHOWN_ERRORS])
    more = f"；…等共 {len(problems)} 处" if len(problems) > SHOWN_ERRORS else ""
    return DataError(
        f"地区配置“{origin}”有 {len(problems)} 处错误：{shown}{more}",
        f"region profile: {len(problems)} problem(s)",
        problems=len(problems),
    )


def _division_problems(p: _Profile) -> list[str]:
    """Checks against the GB/T 2260 table and between sections (collisions, references)."""
    out: list[str] = []
    city = divisions.lookup(p.city.code)
    if city is None or city.level != "prefecture":
        out.append(f"city.code {p.city.code} 不是地级行政区划代码")
    seen_codes: dict[str, str] = {}
    for i, c in enumerate(p.counties, start=1):
        where = f"counties 第 {i} 项（{c.code}）"
        d = divisions.lookup(c.code)
        if d is None or d.level != "county":
            out.append(f"{where}不是县级行政区划代码")
        else:
            if c.code[:4] != p.city.code[:4]:
                out.append(f"{where}不属于 {p.city.code} {p.city.name}")
            if c.name not in {n.name for n in d.names}:
                names = "、".join(n.name for n in d.names)
                out.append(f"{where}名称“{c.name}”与区划表不符（{c.code} 为 {names}）")
        for code in (c.code, *c.predecessors):
            if code in seen_codes:
                out.append(f"{where}代码 {code} 已用于 {seen_codes[code]}")
            seen_codes[code] = c.code
        for pred in c.predecessors:
            if not divisions.existed(pred):
                out.append(f"{where}原代码 {pred} 不在行政区划表中")
    kinds = [u.kind for u in p.units]
    if kinds.count("city") != 1:
        out.append("units 须有且只有一个 kind 为 city 的单位（全市）")
    if kinds.count("city_level") > 1:
        out.append("units 最多有一个 kind 为 city_level 的单位（市本级）")
    for u in p.units:
        if u.kind == "city" and u.code != CITY:
            out.append(f"全市单位的代码须为 {CITY}（现为 {u.code}）")
        if u.kind == "city_level" and u.code != CITY_LEVEL:
            out.append(f"市本级单位的代码须为 {CITY_LEVEL}（现为 {u.code}）")
    # unit codes, names and aliases: one meaning each
    owner: dict[str, str] = {}
    entries = [(c.code, (c.code, c.name, c.short, *c.aliases)) for c in p.counties] + [
        (u.code, (u.code, u.name, *u.aliases)) for u in p.units
    ]
    for code, keys in entries:
        for key in dict.fromkeys(name_key(k) for k in keys):
            if key in owner and owner[key] != code:
                out.append(f"名称或代码“{key}”同时指向 {owner[key]} 和 {code}")
            owner.setdefault(key, code)
    unit_codes = {c.code for c in p.counties} | {u.code for u in p.units}
    county_names = {name_key(n): c.code for c in p.counties for n in (c.name, c.short, *c.aliases)}
    agency_keys: dict[str, str] = {}
    for i, a in enumerate(p.agencies, start=1):
        if a.unit not in unit_codes:
            out.append(f"agencies 第 {i} 项的 unit“{a.unit}”不是本配置的单位")
        for key in [x for x in (a.code, a.name, *a.aliases) if x]:
            k = name_key(key)
            if k in seen_codes and seen_codes[k] != a.unit:
                out.append(f"agencies 第 {i} 项“{key}”是区县 {seen_codes[k]} 的代码")
            if k in county_names and county_names[k] != a.unit:
                out.append(f"agencies 第 {i} 项“{key}”是区县 {county_names[k]} 的名称")
            if k in agency_keys and agency_keys[k] != a.unit:
                out.append(f"agencies 第 {i} 项“{key}”已指向 {agency_keys[k]}")
            agency_keys[k] = a.unit
    for i, area in enumerate(p.pooling_areas, start=1):
        if not divisions.existed(area.code):
            out.append(f"pooling_areas 第 {i} 项 {area.code} 不在行政区划表中")
        if area.code in seen_codes:
            out.append(
                f"pooling_areas 第 {i} 项 {area.code} 已是区县 {seen_codes[area.code]} 的代码"
            )
        if area.unit is not None and area.unit not in unit_codes:
            out.append(f"pooling_areas 第 {i} 项的 unit“{area.unit}”不是本配置的单位")
        seen_codes[area.code] = area.unit or CITY
    if not divisions.existed(p.policy_region):
        out.append(f"policy_region {p.policy_region} 不在行政区划表中")
    if p.demo_county is not None and p.demo_county not in {c.code for c in p.counties}:
        out.append(f"demo_county {p.demo_county} 不是本配置的区县")
    return out


_NOT_DIGESTED = {"demo_county"}  # changes no result: a profile's digest ignores it


def _digest(checked: _Profile) -> str:
    canon = json.dumps(
        checked.model_dump(mode="json", exclude=_NOT_DIGESTED),
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canon.encode("utf-8")).hexdigest()


def parse(data: object, origin: str, source: str = "shipped") -> Profile:
    """A :class:`Profile` from already-decoded data (a dict); raises DataError listing every
    problem."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise DataError(
            f"地区配置“{origin}”的 format 应为 {FORMAT}", f"profile format must be {FORMAT}"
        )
    try:
        checked = _Profile.model_validate(data)
    except ValidationError as e:
        raise _fail(origin, [_describe(err) for err in e.errors()]) from None
    problems = _division_problems(checked)
    if problems:
        raise _fail(origin, problems)
    return Profile(
        name=checked.name,
        city=City(checked.city.code, checked.city.name, checked.city.short),
        year=checked.year,
        counties=tuple(
            County(
                c.code,
                c.name,
                c.short,
                tuple(c.predecessors),
                tuple(c.aliases),
                c.population,
            )
            for c in checked.counties
        ),
        units=tuple(
            Unit(u.code, u.name, u.kind, tuple(u.aliases), u.population) for u in checked.units
        ),
        agencies=tuple(Agency(a.code, a.name, a.unit, tuple(a.aliases)) for a in checked.agencies),
        pooling_areas=tuple(PoolingArea(a.code, a.name, a.unit) for a in checked.pooling_areas),
        policy_region=checked.policy_region,
        letterhead=Letterhead(
            checked.letterhead.issuer,
            checked.letterhead.document_prefix,
            checked.letterhead.addressees,
        ),
        default_plan=checked.default_plan,
        digest=_digest(checked),
        source=source,
        notes=tuple(checked.notes),
        population_source=checked.population_source,
        demo_county=checked.demo_county,
    )


def _decode(raw: bytes, suffix: str, origin: str) -> object:
    try:
        text = raw.decode("utf-8-sig")
        if suffix == ".toml":
            return tomllib.loads(text)
        return json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError, tomllib.TOMLDecodeError, RecursionError) as e:
        kind = "TOML" if suffix == ".toml" else "JSON"
        raise InputFileError(
            f"地区配置“{origin}”不是有效的 {kind}（UTF-8）", f"invalid profile {kind}: {e}"
        ) from e


def load_file(path: Path) -> Profile:
    """A profile from a ``.json`` or ``.toml`` file."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".json", ".toml"):
        raise InputFileError(
            f"地区配置文件须为 .json 或 .toml：{path.name}", "profile must be .json or .toml"
        )
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise InputFileError(f"地区配置文件不存在：{path}", "profile file not found") from None
    except OSError as e:
        raise InputFileError(f"无法读取地区配置文件：{path}", str(e)) from e
    if len(raw) > MAX_BYTES:
        raise InputFileError(f"地区配置文件“{path}”超过 1 MB", "profile file too large")
    return parse(_decode(raw, suffix, str(path)), str(path), str(path.resolve()))


def shipped_names() -> list[str]:
    files = resources.files("canbao.profile").joinpath("data")
    return sorted(f.name.removesuffix(".json") for f in files.iterdir() if f.name.endswith(".json"))


@cache
def shipped(name: str) -> Profile:
    """The shipped profile ``name`` (cached)."""
    res = resources.files("canbao.profile").joinpath("data").joinpath(f"{name}.json")
    if not name or "/" in name or not res.is_file():
        raise NotFoundError(
            f"没有名为“{name}”的地区配置（内置：{'、'.join(shipped_names())}；"
            "也可用 --profile 指定 .json / .toml 文件）",
            f"no shipped profile {name!r}",
        )
    raw = res.read_bytes()
    return parse(_decode(raw, ".json", f"{name}.json"), f"{name}.json")


def is_path(spec: str) -> bool:
    """Does ``spec`` name a file (rather than a shipped profile)?"""
    return "/" in spec or "\\" in spec or spec.lower().endswith((".json", ".toml"))


def load_profile(spec: str | Path | None = None) -> Profile:
    """The profile ``spec`` names: a shipped name, a file path, or None for the default."""
    if spec is None:
        return shipped(DEFAULT_PROFILE)
    if isinstance(spec, Path):
        return load_file(spec)
    text = spec.strip()
    if not text:
        raise DataError("地区配置名称为空", "empty profile name")
    return load_file(Path(text)) if is_path(text) else shipped(text)


def default_profile() -> Profile:
    return shipped(DEFAULT_PROFILE)
