"""The synthetic city's next month, for incremental updates: a share of residents newly in
resident medical insurance, as the social-security agency would deliver it (ID, name, county);
the contribution deliveries of a month (:func:`ledger_month`: declarations, payments, a
re-delivered payment file, an opening-arrears list)."""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from canbao.ingest.kinds import SCHEME_LABELS_ZH


def new_enrolment_extract(city: Path, out: Path, share: float = 0.01, seed: int = 3) -> Path:
    """Write a CSV extract of ``share`` of the city's residents (from its truth) to ``out``."""
    persons = pl.read_parquet((city / "truth" / "persons.parquet").absolute(), glob=False).sample(
        fraction=share, seed=seed
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    persons.select(
        pl.col("id18").alias("公民身份号码"),
        pl.col("name").alias("姓名"),
        pl.col("county_code").alias("参保地区划"),
    ).write_csv(out)
    return out


@dataclass(frozen=True)
class Delivery:
    """One file of a month's deliveries, with what ``ingest_file`` needs."""

    path: Path
    source: str
    kind: str
    as_of: dt.date


def _month_after(day: dt.date) -> tuple[str, dt.date]:
    """(``YYYY-MM`` of the month after ``day``'s, its last day)."""
    y, m = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    return f"{y:04d}-{m:02d}", dt.date(y, m, calendar.monthrange(y, m)[1])


def _yuan(fen: pl.Expr) -> pl.Expr:
    """Fen (≥ 0) → yuan text with two decimals."""
    fen = fen.cast(pl.Int64)
    return pl.concat_str(
        (fen // 100).cast(pl.Utf8), pl.lit("."), (fen % 100).cast(pl.Utf8).str.zfill(2)
    )


def _shift(period: str, months: int) -> str:
    mi = int(period[:4]) * 12 + int(period[5:7]) - 1 + months
    return f"{mi // 12:04d}-{mi % 12 + 1:02d}"


def _payment_csv(rows: pl.DataFrame, label: pl.Expr) -> pl.DataFrame:
    return rows.select(
        pl.col("credit_code").alias("统一社会信用代码"), pl.col("employer_name").alias("单位名称"),
        pl.col("period").alias("费款所属期"), label.alias("险种"), _yuan(pl.col("paid")).alias("实缴金额"),
        pl.col("paid_date").cast(pl.Utf8).alias("到账日期"),
        pl.col("txn_id").alias("缴费流水号"),
    )  # fmt: skip


def _pick(frame: pl.DataFrame, cols: list[str], seed: int, per: int) -> pl.Series:
    """A deterministic 1-in-``per`` choice of rows by a hash of ``cols``."""
    return frame.select(pl.struct(cols).hash(seed) % per == 0).to_series()


def ledger_month(
    data_dir: Path, out: Path, *, redeliver: str | None = "si_payment_counter", seed: int = 5
) -> list[Delivery]:
    """The contribution deliveries of the month after the data's as-of date D (the newest
    payment, declaration or arrears extract), written as CSV files under ``out``, all as of the
    last day of that month:

    - ``si_declaration_<YYYY_MM>``: the new month's declarations — every employer × scheme that
      declared D's month declares the same again, except 1 in 20 (assessed at 110 % then); and a
      correction (+2 %) of 1 in 200 declarations three months before D's;
    - ``si_payment_<YYYY_MM>``: the payments of D's month (due at the end of the new month) of 9
      in 10 of its declarations, on a day of the new month, with new transaction numbers; and
      late payments (half the due) of 1 in 100 declarations of older months;
    - ``redeliver`` (a payment source, None: none): its file delivered again as of the new date,
      superseding the earlier one, without 1 in 100 of its rows;
    - ``si_arrears_<YYYY_MM>``: a new opening-arrears list of 1 in 10 of the listed periods at
      80 % of the amount, as of D (a later 截止日期: it replaces the earlier list's rows).
    """
    from canbao.ingest import api as ingest_api

    kinds = ("payment", "declaration", "arrears")
    day = max(b.as_of for k in kinds for b in ingest_api.current_batches(data_dir, k))
    month, last = _month_after(day)
    tag = month.replace("-", "_")
    this = f"{day.year:04d}-{day.month:02d}"
    out.mkdir(parents=True, exist_ok=True)
    who = ["credit_code", "employer_name"]
    label = pl.col("scheme").replace_strict(SCHEME_LABELS_ZH, default=pl.col("scheme"))
    found: list[Delivery] = []

    decl = ingest_api.current_records(data_dir, "declaration").collect()
    decl = (
        decl.group_by([*who, "scheme", "period"])
        .agg(pl.col("due").sum())
        .sort([*who, "scheme", "period"])
    )
    now = decl.filter(pl.col("period") == this)
    again = now.filter(~_pick(now, ["credit_code", "scheme"], seed, 20)).with_columns(
        period=pl.lit(month)
    )
    older = decl.filter(pl.col("period") == _shift(this, -3))
    fixed = older.filter(_pick(older, ["credit_code", "scheme"], seed + 1, 200)).with_columns(
        due=(pl.col("due") * 102) // 100
    )
    rows = pl.concat([again, fixed])
    path = out / f"申报_{tag}.csv"
    rows.select(
        pl.col("credit_code").alias("统一社会信用代码"), pl.col("employer_name").alias("单位名称"),
        pl.col("period").alias("费款所属期"), label.alias("险种"), _yuan(pl.col("due")).alias("应缴金额"),
    ).write_csv(path)  # fmt: skip
    found.append(Delivery(path, f"si_declaration_{tag}", "declaration", last))

    paid = now.filter(~_pick(now, ["credit_code", "scheme"], seed + 2, 10)).with_columns(
        paid=pl.col("due"),
        paid_date=pl.date(last.year, last.month, 1)
        + pl.duration(days=pl.struct("credit_code", "scheme").hash(seed) % 28),
    )
    late = decl.filter(
        (pl.col("period") <= _shift(this, -2)) & _pick(decl, [*who, "period"], seed + 3, 100)
    ).with_columns(paid=pl.col("due") // 2, paid_date=pl.lit(dt.date(last.year, last.month, 15)))
    pays = pl.concat([paid, late]).filter(pl.col("paid") > 0)
    pays = pays.with_columns(
        txn_id=pl.format("M{}{}", pl.lit(tag), pl.int_range(pl.len()).cast(pl.Utf8).str.zfill(8))
    )
    path = out / f"到账_{tag}.csv"
    _payment_csv(pays, label).write_csv(path)
    found.append(Delivery(path, f"si_payment_{tag}", "payment", last))

    if redeliver is not None:
        old = ingest_api.current_records(data_dir, "payment").collect()
        old = old.filter(pl.col("source") == redeliver).sort("batch_id", "row")
        old = old.filter(~_pick(old, ["row"], seed + 4, 100))
        path = out / f"{redeliver}_{tag}.csv"
        _payment_csv(old, label).write_csv(path)
        found.append(Delivery(path, redeliver, "payment", last))

    arrears = ingest_api.current_records(data_dir, "arrears").collect().sort("batch_id", "row")
    listed = arrears.filter(_pick(arrears, ["row", "period"], seed + 5, 10))
    path = out / f"欠费_{tag}.csv"
    listed.select(
        pl.col("credit_code").alias("统一社会信用代码"), pl.col("employer_name").alias("单位名称"),
        label.alias("险种"), pl.col("period").alias("欠费所属期"),
        _yuan(pl.col("amount") * 8 // 10).alias("欠费金额"),
        pl.lit(day.isoformat()).alias("截止日期"),
    ).write_csv(path)  # fmt: skip
    found.append(Delivery(path, f"si_arrears_{tag}", "arrears", last))
    return found


def ingest_ledger_month(
    data_dir: Path, out: Path, *, redeliver: str | None = "si_payment_counter", seed: int = 5
) -> list[Delivery]:
    """:func:`ledger_month`, each file ingested into ``data_dir`` (no registry build)."""
    from canbao.ingest.batches import ingest_file

    found = ledger_month(data_dir, out, redeliver=redeliver, seed=seed)
    for d in found:
        ingest_file(data_dir, d.path, source=d.source, kind=d.kind, as_of=d.as_of.isoformat())
    return found
