"""Contribution policy (缴费政策) as versioned, effective-dated data per region.

The values live in ``data/contribution_policy.json`` (or a bureau's own file, named by the
caller), keyed by a region's 6-digit division code — the region profile's ``policy_region`` —
with versions that apply from their ``valid_from`` until the region's next version. A region
with no version in force on a date falls back to its prefecture (``xxxx00``), its province
(``xx0000``) and then the national default ``000000``; a version is always complete (no field
is inherited). Nothing here is a constant of the code: a bureau changes the file.

A version holds the rates per scheme split employer/employee (basis points, 100 bp = 1%), work
injury by industry risk class 1–8 with its floating levels, the contribution base's floor and
ceiling as shares of the previous year's average wage (the wage itself is the coverage policy's
``avg_wage_prev_year_fen``, :mod:`canbao.coverage.policy`), the flexible workers' rates, the
due-date rule, the late-fee rule and the ageing buckets of arrears. ``example: true`` marks values
shipped as examples for the bureau to check. See docs/ledger.md.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from canbao.collection.late_fees import DAY_RULES, DUE_RULES
from canbao.coverage import policy as coverage_policy
from canbao.errors import DataError, InputFileError, NotFoundError, UsageError
from canbao.ingest.kinds import EMPLOYER_SCHEMES
from canbao.standards.money import div_half_up

FORMAT = "canbao-contribution-policy/1"
NATIONAL = "000000"
FLAT_RATE_SCHEMES = tuple(s for s in EMPLOYER_SCHEMES if s != "work_injury")
RISK_CLASSES = 8
BP = 10_000  # basis points in a whole


@dataclass(frozen=True)
class SchemeRate:
    employer_bp: int
    employee_bp: int

    @property
    def total_bp(self) -> int:
        return self.employer_bp + self.employee_bp


@dataclass(frozen=True)
class RiskClass:
    """A work-injury industry risk class (行业风险类别): base rate and floating levels (%)."""

    risk_class: int
    rate_bp: int
    levels_pct: tuple[int, ...]

    def rate_at(self, level_pct: int = 100) -> int:
        """The employer's rate in bp at a floating level: class 1 at 120% → 20 × 1.2 = 24 bp."""
        if level_pct not in self.levels_pct:
            raise UsageError(
                f"工伤保险第{self.risk_class}类行业没有 {level_pct}% 浮动档次"
                f"（可选：{'、'.join(f'{x}%' for x in self.levels_pct)}）",
                f"class {self.risk_class} has no level {level_pct}%",
            )
        return self.rate_bp * level_pct // 100  # exact: checked when the file is read


@dataclass(frozen=True)
class LateFeeRule:
    rate_per_10000_per_day: int
    day_rule: str  # a name of canbao.collection.late_fees.DAY_RULES
    apply_credits_to_oldest: bool  # a period's overpayment pays the oldest open period


@dataclass(frozen=True)
class AgeingBucket:
    label: str
    from_days: int
    to_days: int | None  # None: no upper bound

    def holds(self, days_past_due: int) -> bool:
        return self.from_days <= days_past_due and (
            self.to_days is None or days_past_due <= self.to_days
        )


@dataclass(frozen=True)
class ContributionPolicy:
    region: str  # the region whose version this is (after fallback)
    valid_from: dt.date
    rates: Mapping[str, SchemeRate]  # the schemes other than work injury
    work_injury: tuple[RiskClass, ...]  # classes 1..8 in order
    base_floor_bp: int  # of the previous year's average wage
    base_ceiling_bp: int
    flexible_rate_bp: int  # 灵活就业人员 pension, of the base
    flexible_personal_account_bp: int  # the part credited to the personal account
    due_date_rule: str  # a name of canbao.collection.late_fees.DUE_RULES
    late_fee: LateFeeRule
    ageing: tuple[AgeingBucket, ...]
    example: bool = False
    source: str = ""

    def rate(self, scheme: str, risk_class: int | None = None, level_pct: int = 100) -> SchemeRate:
        """Employer and employee rate (bp) of a scheme; work injury needs the risk class (1–8)
        and takes the floating level (%), the employee paying nothing."""
        if scheme == "work_injury":
            if risk_class is None or not 1 <= risk_class <= len(self.work_injury):
                raise UsageError(
                    f"工伤保险费率需要行业风险类别（1–{RISK_CLASSES}）：{risk_class}",
                    f"work injury needs a risk class 1..{RISK_CLASSES}, got {risk_class!r}",
                )
            return SchemeRate(self.work_injury[risk_class - 1].rate_at(level_pct), 0)
        if scheme not in self.rates:
            raise UsageError(f"未知险种：{scheme}", f"unknown scheme {scheme!r}")
        return self.rates[scheme]

    def base_bounds_fen(self, avg_wage_prev_year_fen: int) -> tuple[int, int]:
        """Floor and ceiling of the monthly contribution base (fen, half-up) given the previous
        year's average monthly wage: 460000 → (276000, 1380000) at 60% / 300%."""
        return (
            div_half_up(avg_wage_prev_year_fen * self.base_floor_bp, BP),
            div_half_up(avg_wage_prev_year_fen * self.base_ceiling_bp, BP),
        )

    def bucket(self, days_past_due: int) -> AgeingBucket | None:
        """The ageing bucket of arrears this many days past due; None when not past due."""
        return next((b for b in self.ageing if b.holds(days_past_due)), None)


def average_wage_fen(on: dt.date, path: Path | None = None) -> int:
    """The previous year's average monthly wage in force on ``on``: the coverage policy's
    (:func:`canbao.coverage.policy.policy_for`, ``path`` names its file), one figure for both."""
    return coverage_policy.policy_for(on, path).avg_wage_prev_year_fen


# --- reading the file --------------------------------------------------------------------------


class _Bad(Exception):
    """A rule of the file broken at ``where`` (turned into a DataError with the origin)."""

    def __init__(self, where: str, what: str) -> None:
        super().__init__(f"{where}: {what}")
        self.where, self.what = where, what


def _obj(
    v: Any, where: str, required: tuple[str, ...], optional: tuple[str, ...] = ()
) -> dict[str, Any]:
    if not isinstance(v, dict):
        raise _Bad(where, "应为对象（JSON object）")
    missing = [k for k in required if k not in v]
    unknown = sorted(set(v) - set(required) - set(optional))
    if missing:
        raise _Bad(where, f"缺少字段 {'、'.join(missing)}")
    if unknown:
        raise _Bad(where, f"未知字段 {'、'.join(unknown)}")
    return v


def _int(v: Any, where: str, lo: int = 0, hi: int | None = None) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < lo or (hi is not None and v > hi):
        bound = f"{lo}–{hi}" if hi is not None else f"≥{lo}"
        raise _Bad(where, f"应为整数（{bound}），实为 {v!r}")
    return v


def _str(v: Any, where: str, choices: tuple[str, ...] | None = None) -> str:
    if not isinstance(v, str) or (choices is not None and v not in choices):
        extra = f"（可选：{'、'.join(choices)}）" if choices else ""
        raise _Bad(where, f"取值无效 {v!r}{extra}")
    return v


def _rates(v: Any, where: str) -> dict[str, SchemeRate]:
    d = _obj(v, where, FLAT_RATE_SCHEMES)
    out = {}
    for scheme in FLAT_RATE_SCHEMES:
        r = _obj(d[scheme], f"{where}.{scheme}", ("employer", "employee"))
        rate = SchemeRate(
            _int(r["employer"], f"{where}.{scheme}.employer", 0, BP),
            _int(r["employee"], f"{where}.{scheme}.employee", 0, BP),
        )
        if rate.total_bp > BP:
            raise _Bad(f"{where}.{scheme}", "单位与个人费率之和超过100%")
        out[scheme] = rate
    return out


def _work_injury(v: Any, where: str) -> tuple[RiskClass, ...]:
    classes = _obj(v, where, ("classes",), ("source",))["classes"]
    if not isinstance(classes, list) or len(classes) != RISK_CLASSES:
        raise _Bad(f"{where}.classes", f"应为{RISK_CLASSES}个行业风险类别")
    out = []
    for i, raw in enumerate(classes, start=1):
        at = f"{where}.classes[{i}]"
        c = _obj(raw, at, ("class", "rate_bp", "levels_pct"))
        if c["class"] != i:
            raise _Bad(at, f"类别应为 {i}，实为 {c['class']!r}")
        rate = _int(c["rate_bp"], f"{at}.rate_bp", 0, BP)
        levels = c["levels_pct"]
        if not isinstance(levels, list) or 100 not in levels:
            raise _Bad(f"{at}.levels_pct", "浮动档次应为百分数列表且含基准档 100")
        for lvl in levels:
            if rate * _int(lvl, f"{at}.levels_pct", 1, 1000) % 100:
                raise _Bad(f"{at}.levels_pct", f"{rate} bp × {lvl}% 不是整数个基点")
        out.append(RiskClass(i, rate, tuple(levels)))
    return tuple(out)


def _ageing(v: Any, where: str) -> tuple[AgeingBucket, ...]:
    if not isinstance(v, list) or not v:
        raise _Bad(where, "应为非空列表")
    out, start = [], 1
    for i, raw in enumerate(v, start=1):
        at = f"{where}[{i}]"
        b = _obj(raw, at, ("label", "from_days", "to_days"))
        last = i == len(v)
        to = None if last and b["to_days"] is None else _int(b["to_days"], f"{at}.to_days", 1)
        if _int(b["from_days"], f"{at}.from_days", 1) != start or (to is not None and to < start):
            raise _Bad(at, f"账龄区间应从第 {start} 天起连续、不重叠，最后一段可无上限")
        out.append(AgeingBucket(_str(b["label"], f"{at}.label"), start, to))
        start = (to or 0) + 1
    return tuple(out)


_VERSION_KEYS = ("valid_from", "rates_bp", "work_injury", "base", "flexible", "due_date_rule",
                 "late_fee", "ageing_buckets")  # fmt: skip


def _version(region: str, raw: Any, where: str) -> ContributionPolicy:
    v = _obj(raw, where, _VERSION_KEYS, ("example", "source"))
    try:
        valid_from = dt.date.fromisoformat(_str(v["valid_from"], f"{where}.valid_from"))
    except ValueError:
        raise _Bad(f"{where}.valid_from", f"日期无效 {v['valid_from']!r}") from None
    base = _obj(v["base"], f"{where}.base", ("floor_bp", "ceiling_bp"))
    floor = _int(base["floor_bp"], f"{where}.base.floor_bp", 0)
    ceiling = _int(base["ceiling_bp"], f"{where}.base.ceiling_bp", floor)  # not below the floor
    flex = _obj(v["flexible"], f"{where}.flexible", ("rate_bp", "personal_account_bp"))
    flex_rate = _int(flex["rate_bp"], f"{where}.flexible.rate_bp", 0, BP)
    fee = _obj(
        v["late_fee"], f"{where}.late_fee",
        ("rate_per_10000_per_day", "day_rule", "apply_credits_to_oldest"),
    )  # fmt: skip
    if not isinstance(fee["apply_credits_to_oldest"], bool):
        raise _Bad(f"{where}.late_fee.apply_credits_to_oldest", "应为 true 或 false")
    if not isinstance(v.get("example", False), bool):
        raise _Bad(f"{where}.example", "应为 true 或 false")
    return ContributionPolicy(
        region=region,
        valid_from=valid_from,
        rates=_rates(v["rates_bp"], f"{where}.rates_bp"),
        work_injury=_work_injury(v["work_injury"], f"{where}.work_injury"),
        base_floor_bp=floor,
        base_ceiling_bp=ceiling,
        flexible_rate_bp=flex_rate,
        flexible_personal_account_bp=_int(
            flex["personal_account_bp"], f"{where}.flexible.personal_account_bp", 0, flex_rate
        ),
        due_date_rule=_str(v["due_date_rule"], f"{where}.due_date_rule", DUE_RULES),
        late_fee=LateFeeRule(
            _int(fee["rate_per_10000_per_day"], f"{where}.late_fee.rate_per_10000_per_day", 0),
            _str(fee["day_rule"], f"{where}.late_fee.day_rule", DAY_RULES),
            fee["apply_credits_to_oldest"],
        ),
        ageing=_ageing(v["ageing_buckets"], f"{where}.ageing_buckets"),
        example=v.get("example", False),
        source=_str(v.get("source", ""), f"{where}.source"),
    )


def _document(raw: Any) -> list[ContributionPolicy]:
    doc = _obj(raw, "文件", ("format", "regions"), ("note",))
    if doc["format"] != FORMAT:
        raise _Bad("format", f"应为 {FORMAT}，实为 {doc['format']!r}")
    if not isinstance(doc["regions"], list) or not doc["regions"]:
        raise _Bad("regions", "应为非空列表")
    out: list[ContributionPolicy] = []
    seen: set[tuple[str, dt.date]] = set()
    for i, raw in enumerate(doc["regions"], start=1):
        entry = _obj(raw, f"regions[{i}]", ("region", "versions"), ("name",))
        region = entry["region"]
        if not isinstance(region, str) or not re.fullmatch(r"[0-9]{6}", region):
            raise _Bad(f"regions[{i}].region", f"应为6位行政区划代码，实为 {region!r}")
        if not isinstance(entry["versions"], list) or not entry["versions"]:
            raise _Bad(f"regions[{i}].versions", "应为非空列表")
        for j, v in enumerate(entry["versions"], start=1):
            p = _version(region, v, f"{region}.versions[{j}]")
            if (region, p.valid_from) in seen:
                raise _Bad(f"{region}.versions[{j}]", f"生效日期 {p.valid_from} 重复")
            seen.add((region, p.valid_from))
            out.append(p)
    return sorted(out, key=lambda p: (p.region, p.valid_from))


def load_policies(path: Path | None = None) -> list[ContributionPolicy]:
    """All versions of all regions, by region then date (the shipped file unless ``path``)."""
    origin = str(path) if path is not None else "contribution_policy.json"
    try:
        if path is None:
            res = resources.files("canbao.collection").joinpath("data/contribution_policy.json")
            text = res.read_text("utf-8")
        else:
            text = path.read_text(encoding="utf-8")
        doc = json.loads(text)
    except (OSError, ValueError) as e:
        raise InputFileError(f"无法读取缴费政策参数文件：{origin}", str(e)) from e
    try:
        return _document(doc)
    except _Bad as e:
        raise DataError(
            f"缴费政策参数文件有误（{origin}，{e.where}）：{e.what}",
            f"contribution policy {origin}: bad {e.where}",
        ) from None


def fallback_chain(region: str) -> tuple[str, ...]:
    """The region, its prefecture, its province and the national default, most specific first:
    a county code ``ab cd ef`` → (abcdef, abcd00, ab0000, 000000) without repeats."""
    if not isinstance(region, str) or not re.fullmatch(r"[0-9]{6}", region):
        raise UsageError(f"地区代码应为6位行政区划代码：{region!r}", f"bad region {region!r}")
    chain = (region, region[:4] + "00", region[:2] + "0000", NATIONAL)
    return tuple(dict.fromkeys(chain))


def policy_for(region: str, on: dt.date, path: Path | None = None) -> ContributionPolicy:
    """The version in force on ``on`` for ``region`` (the profile's ``policy_region``): the
    most specific region of :func:`fallback_chain` with a version in force on that day."""
    versions = load_policies(path)
    for code in fallback_chain(region):
        found = [p for p in versions if p.region == code and p.valid_from <= on]
        if found:
            return found[-1]
    raise NotFoundError(
        f"{on} 没有适用于地区 {region} 的缴费政策参数（最早版本晚于该日期）",
        f"no contribution policy for {region} in force on {on}",
    )
