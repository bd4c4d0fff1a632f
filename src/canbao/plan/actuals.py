"""Actuals (实际完成数) handed to the progress engine: what a source must provide, and the sources.

**The contract** (the plan defines it; providers implement it without importing the plan):
an :class:`ActualsSource` has a ``label`` (shown in the report) and
``actuals(plan, as_of) -> polars.DataFrame`` with columns ``unit`` (a unit code of the plan's
region profile: a county's division code, ``city`` for the whole city, a zone's code),
``indicator`` (an indicator code of :mod:`canbao.plan.indicators`), ``value`` (string or number,
base measure: persons, yuan, fraction), optionally ``as_of`` (date) and optionally ``group`` (a
key group's code of :mod:`canbao.plan.key_groups`: the row is that group's actual, e.g. persons
enrolled among flexible workers; null for the unit's own actual). :class:`ActualsSource`
is a structural :class:`~typing.Protocol`: a class with that shape is a source, whatever module
it lives in. :func:`normalize_actuals` validates such a frame and turns it into a dict keyed by
(unit, indicator) of Decimal, keeping for each key the latest row on or before the report date
(:func:`normalize_all`: also the key-group rows, keyed by (unit, indicator, group)).

Sources:

* :class:`FileActuals` — ``canbao report --actuals FILE`` (csv or xlsx). Long form with columns
  unit/indicator/value (Chinese headers 单位/指标/完成数 … accepted; names or codes), or the 附件1
  layout of :mod:`canbao.plan.xlsx_io` filled with actuals instead of targets.
* :class:`FrameActuals` — an in-memory frame (tests, other modules).
* :func:`default_actuals_source` — the sources computed from a data directory:
  :class:`canbao.coverage.actuals.CoverageActuals` (enrolment) and
  :class:`canbao.collection.kpi.LedgerActuals` (collection, new arrears, 清欠率). Those modules
  never import the plan (``tests/test_layers.py``); they receive the profile's unit table and
  emit the indicator codes listed in their module docstrings, which
  ``tests/plan/test_sources.py`` checks against the plan's catalogue.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Protocol, runtime_checkable

import polars as pl

from canbao.errors import DataError, InputFileError
from canbao.plan.indicators import Indicator, normalize_base, resolve_indicator
from canbao.plan.key_groups import resolve_key_group
from canbao.plan.model import Plan
from canbao.plan.units import PlanUnit, resolve_unit
from canbao.profile import Profile

ActualsMap = dict[tuple[str, str], Decimal]
GroupActualsMap = dict[tuple[str, str, str], Decimal]  # (unit, indicator, key group)

UNIT_COLS = ("unit", "单位", "单位名称", "单位代码", "地区", "县(市、区)", "县市区")
INDICATOR_COLS = ("indicator", "指标", "指标代码", "指标名称")
VALUE_COLS = ("value", "完成数", "实际完成数", "实际值", "数值", "完成值", "实际数")
AS_OF_COLS = ("as_of", "截至日期", "统计日期", "日期")
GROUP_COLS = ("group", "重点群体", "群体")


@runtime_checkable
class ActualsSource(Protocol):
    """Anything that can give actuals for a plan as of a date (the contract: module docstring)."""

    label: str  # shown in the report, e.g. file name or 示例数据

    def actuals(self, plan: Plan, as_of: date) -> pl.DataFrame: ...


@dataclass
class FrameActuals:
    frame: pl.DataFrame
    label: str = "内存数据"

    def actuals(self, plan: Plan, as_of: date) -> pl.DataFrame:
        return self.frame


def _norm(text: object) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(text))).lower()


def _pick(columns: list[str], names: tuple[str, ...]) -> str | None:
    wanted = {_norm(n) for n in names}
    for c in columns:
        if _norm(c) in wanted:
            return c
    return None


@dataclass
class FileActuals:
    path: Path
    label: str = ""

    def __post_init__(self) -> None:
        self.label = self.label or self.path.name

    def actuals(self, plan: Plan, as_of: date) -> pl.DataFrame:
        path = self.path
        if not path.is_file():
            raise InputFileError(f"实际完成数文件不存在：{path}", "actuals file not found")
        suffix = path.suffix.lower()
        if suffix == ".csv":
            try:
                raw = path.read_bytes()
                try:
                    text = raw.decode("utf-8-sig")
                except UnicodeDecodeError:
                    text = raw.decode("gb18030")
                frame = pl.read_csv(text.encode("utf-8"), infer_schema=False)
            except (pl.exceptions.PolarsError, UnicodeDecodeError) as e:
                raise InputFileError(f"无法读取 CSV：{path.name}", str(e)) from e
            return self._long(frame)
        if suffix in (".xlsx", ".xlsm"):
            try:
                frame = pl.read_excel(path, infer_schema_length=0)
            except (pl.exceptions.PolarsError, OSError, ValueError) as e:
                raise InputFileError(f"无法读取 xlsx：{path.name}", str(e)) from e
            if _pick(frame.columns, UNIT_COLS) and _pick(frame.columns, INDICATOR_COLS):
                return self._long(frame)
            return self._wide(plan)
        raise InputFileError(
            f"实际完成数文件须为 .csv 或 .xlsx：{path.name}", "actuals must be csv or xlsx"
        )

    def _long(self, frame: pl.DataFrame) -> pl.DataFrame:
        cols = frame.columns
        u, i, v = _pick(cols, UNIT_COLS), _pick(cols, INDICATOR_COLS), _pick(cols, VALUE_COLS)
        missing = [
            n for n, c in (("unit/单位", u), ("indicator/指标", i), ("value/完成数", v)) if not c
        ]
        if missing:
            raise DataError(
                f"实际完成数文件缺少列：{'、'.join(missing)}（{self.path.name}）",
                f"missing columns {missing}",
            )
        assert u and i and v
        sel = [pl.col(u).alias("unit"), pl.col(i).alias("indicator"), pl.col(v).alias("value")]
        a = _pick(cols, AS_OF_COLS)
        if a:
            sel.append(pl.col(a).alias("as_of"))
        g = _pick(cols, GROUP_COLS)
        if g:
            sel.append(pl.col(g).alias("group"))
        return frame.select(sel)

    def _wide(self, plan: Plan) -> pl.DataFrame:
        from canbao.plan.xlsx_io import read_targets

        res = read_targets(self.path, plan.period.code, units=plan.units)
        return pl.DataFrame(
            {
                "unit": [t.unit for t in res.targets],
                "indicator": [t.indicator for t in res.targets],
                "value": [str(t.value) for t in res.targets],
                "group": pl.Series([t.group for t in res.targets], dtype=pl.Utf8),
            }
        )


def _parse_value(raw: object, ind: Indicator) -> Decimal:
    if isinstance(raw, bool):
        raise ValueError
    if isinstance(raw, float):
        return Decimal(repr(raw))
    text = _norm(raw).replace(",", "")
    pct = text.endswith("%")
    if pct:
        text = text[:-1]
    out = Decimal(text)
    if not out.is_finite():
        raise ValueError
    if pct:
        if ind.measure != "ratio":
            raise ValueError
        out = out / 100
    return out


def _as_date(raw: object) -> date | None:
    if raw is None or raw == "":
        return None
    if isinstance(raw, date):
        return raw
    return date.fromisoformat(str(raw).strip()[:10])


def normalize_actuals(
    frame: pl.DataFrame,
    as_of: date,
    source: str = "",
    units: tuple[PlanUnit, ...] | None = None,
) -> ActualsMap:
    """Validate an actuals frame and reduce it to {(unit, indicator): value} as of ``as_of``.

    Units (of ``units``, default: the default profile's plan units) and indicators may be codes
    or Chinese names. Rows dated after ``as_of`` are ignored; among the rest the latest row per
    (unit, indicator) wins (rows without date count as ``as_of``). Errors name the row (1-based
    data row). Key-group rows (a ``group`` value) are left out: :func:`normalize_all`."""
    return normalize_all(frame, as_of, source, units)[0]


def normalize_all(
    frame: pl.DataFrame,
    as_of: date,
    source: str = "",
    units: tuple[PlanUnit, ...] | None = None,
) -> tuple[ActualsMap, GroupActualsMap]:
    """:func:`normalize_actuals` of the rows without a group, and the same reduction of the
    key-group rows ({(unit, indicator, group code): value}; groups by code or name)."""
    for col in ("unit", "indicator", "value"):
        if col not in frame.columns:
            raise DataError(f"实际完成数缺少列 {col}", f"actuals frame lacks column {col}")
    has_date = "as_of" in frame.columns
    has_group = "group" in frame.columns
    best: dict[tuple[str, str, str | None], tuple[date, Decimal]] = {}
    errors: list[str] = []
    rows = frame.select(
        ["unit", "indicator", "value", "as_of" if has_date else pl.lit(None).alias("as_of")]
        + (["group"] if has_group else [])
    )
    for n, row in enumerate(rows.iter_rows(), start=1):  # small: units × indicators
        unit_raw, ind_raw, val_raw = row[0], row[1], row[2]
        if unit_raw is None and ind_raw is None:
            continue
        u = resolve_unit(unit_raw, units)
        ind = resolve_indicator(ind_raw)
        if u is None:
            errors.append(f"第{n}行 未知单位“{unit_raw}”")
            continue
        if ind is None:
            errors.append(f"第{n}行 未知指标“{ind_raw}”")
            continue
        if val_raw is None or _norm(val_raw) in ("", "-"):
            continue
        try:
            value = normalize_base(ind.measure, _parse_value(val_raw, ind))
        except (ValueError, InvalidOperation):
            errors.append(f"第{n}行 完成数不是数字：“{val_raw}”")
            continue
        try:
            day = _as_date(row[3]) or as_of
        except ValueError:
            errors.append(f"第{n}行 日期无法识别：“{row[3]}”")
            continue
        if day > as_of:
            continue
        group = None
        if has_group and row[4] is not None and _norm(row[4]) not in ("", "-"):
            kg = resolve_key_group(row[4])
            if kg is None:
                errors.append(f"第{n}行 未知重点群体“{row[4]}”")
                continue
            group = kg.code
        key = (u.code, ind.code, group)
        if key not in best or best[key][0] <= day:
            best[key] = (day, value)
    if errors:
        shown = "；".join(errors[:20])
        raise DataError(f"实际完成数有误（{source or '数据'}）：{shown}", f"{len(errors)} bad rows")
    own = {(k[0], k[1]): v for k, (_, v) in best.items() if k[2] is None}
    grouped = {(k[0], k[1], k[2]): v for k, (_, v) in best.items() if k[2] is not None}
    return own, grouped


@dataclass
class CombinedActuals:
    """Several sources, each giving some indicators (their frames are stacked)."""

    sources: tuple[ActualsSource, ...]
    label: str = ""

    def __post_init__(self) -> None:
        self.label = self.label or "；".join(s.label for s in self.sources)

    def actuals(self, plan: Plan, as_of: date) -> pl.DataFrame:
        frames = [s.actuals(plan, as_of) for s in self.sources]
        frames = [f.with_columns(pl.col("value").cast(pl.Utf8)) for f in frames if f.height > 0]
        if not frames:
            return pl.DataFrame(schema={"unit": pl.Utf8, "indicator": pl.Utf8, "value": pl.Utf8})
        return pl.concat(frames, how="diagonal_relaxed")


def default_actuals_source(
    data_dir: Path | None, profile: Profile | None = None
) -> ActualsSource | None:
    """Actuals computed from the data directory's warehouse, per unit of ``profile`` (default:
    the data directory's profile, :func:`canbao.profile.profile_for`).

    Coverage provides the enrolment indicators (enrolled.*) when the data directory holds a
    built registry (:mod:`canbao.coverage.actuals`); the contribution ledger provides
    collected.*, new_arrears_ratio.* and clearance_rate.* (:mod:`canbao.collection.kpi`); the
    key-group enrolment actuals come from :mod:`canbao.coverage.group_actuals`;
    land_farmer.pension (附件3) from :mod:`canbao.coverage.land_farmers`; subsidy_growth from
    the subsidy register (:mod:`canbao.collection.subsidies`) when there is one. Without a registry or register this returns None and
    reports need ``--actuals``."""
    from canbao.collection.kpi import ledger_actuals_source
    from canbao.collection.subsidies import subsidy_actuals_source
    from canbao.coverage.actuals import coverage_actuals_source
    from canbao.coverage.group_actuals import group_actuals_source
    from canbao.coverage.land_farmers import land_farmer_actuals_source

    if data_dir is None:
        return None
    if profile is None:
        from canbao.profile import profile_for

        profile = profile_for(data_dir, remember=False).profile
    found: list[ActualsSource] = [
        s
        for s in (
            coverage_actuals_source(data_dir, profile),
            ledger_actuals_source(data_dir, profile),
            group_actuals_source(data_dir, profile),
            land_farmer_actuals_source(data_dir, profile),
            subsidy_actuals_source(data_dir),
        )
        if s is not None
    ]
    if not found:
        return None
    return found[0] if len(found) == 1 else CombinedActuals(tuple(found))
