"""争资: the register of subsidy funds received (上级社会保险补助资金到账登记) and the plan's
``subsidy_growth`` actual (争取各类补助资金比上年增长).

**The register** is a file of the data directory, ``DATA/subsidies/register.json`` (there is no
database yet): ``{"format": "canbao-subsidies/1", "profile": NAME, "receipts": [...]}``, one
receipt per document (文号) × unit × scheme, with

=================  =========================================================================
``document_no``    文号 of the allocation (赣财社〔2017〕12号 …)
``source``         来源: who allocated it (财政部, 省财政厅, 省人社厅 …)
``level``          级别: ``central`` (中央) or ``provincial`` (省级)
``scheme``         险种: a scheme code of :data:`canbao.ingest.kinds.SCHEMES` or ``other``
``amount_fen``     金额, integer fen
``received_on``    到账日期 (ISO date)
``unit``           the plan unit it was received for (a county's code, ``city_level``, a zone's
                   code) or null: the city as a whole
``note``, ``imported_from``  备注 and the workbook it came from
=================  =========================================================================

Import and template: :mod:`canbao.collection.subsidy_workbook`. The register belongs to a region
profile (units are its codes); it is written under the data directory's writer lock, atomically.

**Growth** (:func:`growth_table`) for the plan period P (a year) as of D: *this year* = receipts
dated in P up to D; *last year* = receipts dated in P shifted back one year (the whole year, as
the target says 比上年增长); ``subsidy_growth`` = this year ÷ last year − 1 (a fraction, 6
decimals, half-up), per unit with receipts of its own and for the city (every receipt). No
receipt last year: no growth (never a division by zero). Before the year's end the comparison is
with the whole previous year, so it is low early in the year by construction; the 通报 shows
last year's same period (上年同期) beside it.

:class:`SubsidyActuals` provides the plan's actuals contract (``label`` and
``actuals(plan, as_of)`` → ``unit, indicator, value, as_of``) without importing the plan; it
reads of the plan only ``plan.period.start`` and ``.end``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

import polars as pl

from canbao.errors import DataError
from canbao.ingest.kinds import SCHEME_LABELS_ZH
from canbao.profile import CITY, Profile
from canbao.standards import money

FORMAT = "canbao-subsidies/1"
INDICATOR = "subsidy_growth"
LEVEL_ZH = {"central": "中央", "provincial": "省级"}
SCHEME_ZH = {**SCHEME_LABELS_ZH, "other": "其他（综合）"}
GROWTH_QUANTUM = Decimal("0.000001")

SCHEMA = {
    "document_no": pl.Utf8,
    "source": pl.Utf8,
    "level": pl.Utf8,
    "scheme": pl.Utf8,
    "amount_fen": pl.Int64,
    "received_on": pl.Date,
    "unit": pl.Utf8,
    "note": pl.Utf8,
    "imported_from": pl.Utf8,
}
KEY = ("document_no", "unit", "scheme")


@dataclass(frozen=True)
class Receipt:
    document_no: str
    source: str
    level: str  # central | provincial
    scheme: str  # a scheme code or "other"
    amount_fen: int
    received_on: dt.date
    unit: str | None  # a plan unit code; None: the city as a whole
    note: str = ""
    imported_from: str = ""

    @property
    def key(self) -> tuple[str, str | None, str]:
        return (self.document_no, self.unit, self.scheme)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["received_on"] = self.received_on.isoformat()
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Receipt:
        return cls(
            str(d["document_no"]),
            str(d.get("source", "")),
            str(d["level"]),
            str(d["scheme"]),
            int(d["amount_fen"]),
            dt.date.fromisoformat(str(d["received_on"])),
            d.get("unit"),
            str(d.get("note", "")),
            str(d.get("imported_from", "")),
        )


def register_path(data_dir: Path) -> Path:
    return Path(data_dir) / "subsidies" / "register.json"


def load_receipts(data_dir: Path, profile: Profile | None = None) -> list[Receipt]:
    """The register's receipts (none when there is no register). With ``profile``: a register
    of another profile is a :class:`DataError` (its unit codes are another city's)."""
    path = register_path(data_dir)
    if not path.is_file():
        return []
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        if doc.get("format") != FORMAT:
            raise ValueError(f"format {doc.get('format')!r}")
        receipts = [Receipt.from_json(r) for r in doc.get("receipts", [])]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise DataError(
            f"争资登记簿无法读取：{path}", f"cannot read the subsidy register: {e}"
        ) from e
    named = doc.get("profile")
    if profile is not None and named and named != profile.name:
        raise DataError(
            f"争资登记簿属于地区配置“{named}”，与当前的地区配置“{profile.name}”"
            f"（{profile.city.name}）不一致",
            f"subsidy register is for profile {named!r}, not {profile.name!r}",
        )
    return receipts


def save_receipts(data_dir: Path, receipts: Iterable[Receipt], profile: Profile) -> Path:
    """Write the register atomically (call under the data directory's writer lock)."""
    path = register_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    ordered = sorted(receipts, key=lambda r: (r.received_on, r.document_no, r.unit or "", r.scheme))
    doc = {"format": FORMAT, "profile": profile.name, "receipts": [r.to_json() for r in ordered]}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-register-", suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, indent=1)
    os.replace(tmp, path)
    return path


def receipts_frame(receipts: Iterable[Receipt]) -> pl.DataFrame:
    rows = [asdict(r) for r in receipts]
    return pl.DataFrame(rows, schema=SCHEMA) if rows else pl.DataFrame(schema=SCHEMA)


def yuan_text(fen: int) -> str:
    """Integer fen as exact yuan text with thousands separators: 123456789 → 1,234,567.89."""
    return money.yuan_text(fen, thousands=True)


def year_back(day: dt.date) -> dt.date:
    """The same day a year earlier (29 February → 28 February)."""
    try:
        return day.replace(year=day.year - 1)
    except ValueError:
        return day.replace(year=day.year - 1, day=28)


def growth_ratio(this_fen: int, last_fen: int) -> Decimal | None:
    """this ÷ last − 1, 6 decimals half-up (of the exact value); None without last year's
    receipts."""
    if last_fen <= 0:
        return None
    return money.ratio(this_fen - last_fen, last_fen, GROWTH_QUANTUM)


def growth_table(
    receipts: pl.DataFrame, start: dt.date, end: dt.date, as_of: dt.date
) -> pl.DataFrame:
    """Per unit with receipts and for the city (``unit`` = ``city``): ``this_year`` (fen, in the
    period up to ``as_of``; ``this_year_central`` / ``_provincial`` by level),
    ``last_year_to_date`` (the same span a year earlier), ``last_year`` (the whole previous
    period) and ``growth`` (a Decimal text or null), sorted by unit."""
    upto = min(as_of, end)
    d = pl.col("received_on")
    this = pl.col("amount_fen").filter(d.is_between(start, upto))
    sums = [
        this.sum().alias("this_year"),
        *(
            pl.col("amount_fen")
            .filter(d.is_between(start, upto) & (pl.col("level") == lvl))
            .sum()
            .alias(f"this_year_{lvl}")
            for lvl in LEVEL_ZH
        ),
        pl.col("amount_fen")
        .filter(d.is_between(year_back(start), year_back(upto)))
        .sum()
        .alias("last_year_to_date"),
        pl.col("amount_fen")
        .filter(d.is_between(year_back(start), year_back(end)))
        .sum()
        .alias("last_year"),
    ]
    per_unit = receipts.filter(pl.col("unit").is_not_null()).group_by("unit").agg(sums)
    city = receipts.select(pl.lit(CITY).alias("unit"), *sums)
    table = pl.concat([per_unit, city.cast(per_unit.schema)]).filter(
        (pl.col("this_year") > 0) | (pl.col("last_year") > 0)
    )
    growth = [
        None if g is None else str(g)
        for g in map(growth_ratio, table["this_year"], table["last_year"])
    ]  # one value per unit: a few dozen at most
    return table.with_columns(growth=pl.Series(growth, dtype=pl.Utf8)).sort("unit")


class _Period(Protocol):
    @property
    def start(self) -> dt.date: ...

    @property
    def end(self) -> dt.date: ...


class PlanPeriod(Protocol):
    """What the subsidy source reads of the plan it reports for: its period."""

    @property
    def period(self) -> _Period: ...


@dataclass
class SubsidyActuals:
    """``subsidy_growth`` per unit and for the city from the data directory's register."""

    data_dir: Path
    label: str = "争资登记簿"

    def actuals(self, plan: PlanPeriod, as_of: dt.date) -> pl.DataFrame:
        table = growth_table(
            receipts_frame(load_receipts(self.data_dir)), plan.period.start, plan.period.end, as_of
        )
        return table.filter(pl.col("growth").is_not_null()).select(
            "unit",
            pl.lit(INDICATOR).alias("indicator"),
            pl.col("growth").alias("value"),
            pl.lit(as_of).alias("as_of"),
        )


def subsidy_actuals_source(data_dir: Path | None) -> SubsidyActuals | None:
    """A source when ``data_dir`` holds a subsidy register, else None (looking is not
    writing)."""
    if data_dir is None or not register_path(data_dir).is_file():
        return None
    return SubsidyActuals(data_dir)
