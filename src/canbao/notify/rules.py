"""The reminder rules: who should get which reminder at an as-of date, set-based over the
registry snapshot, the ledger and the store's agreements (Polars; nothing per person in Python).

Each rule returns the columns of :data:`COLUMNS`, one row per recipient × reason × period:

- ``resident_payment`` — the resident schemes' yearly payment window (:mod:`.windows`) is open
  at the as-of date: every living person with an active or suspended enrolment in that scheme
  (started by the as-of date, not ended before it; a resident pension already being paid out
  excluded). Period ``<scheme>-<contribution year>``. The data carry no person-level payments
  of the resident schemes (payments are employers'), so "not yet paid for the year" cannot be
  checked yet: when such a delivery exists, anti-join it here.
- ``employer_due`` — an employer's contribution month whose due date (the ledger's
  ``due_date``) falls within ``employer_due_days`` after the as-of date and whose balance is
  still positive. Period ``YYYY-MM``.
- ``instalment_due`` — an instalment of an approved agreement due within ``instalment_days``
  and not fully paid at its last check. Period ``<agreement>-<seq>``.
- ``arrears_notice`` — an employer with arrears at least ``arrears_min_days`` past due (the
  collectors' arrears list), not under an agreement in force (it gets instalment reminders).
  Period: the as-of month (one notice a month).

``phone`` is the person's phone of the registry, or the employer's registered contact
(:func:`canbao.notify.contacts.employer_contacts`); null when there is none.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
from sqlalchemy import select

from canbao.collection import api as collection
from canbao.ingest.kinds import SCHEME_LABELS_ZH
from canbao.notify.config import NotifyConfig
from canbao.notify.contacts import employer_contacts
from canbao.notify.windows import windows_for
from canbao.registry import snapshot
from canbao.store import Store
from canbao.store.models import Agreement, Instalment
from canbao.warehouse.scope import Scope

REASONS = {
    "resident_payment": "城乡居民年度缴费期提醒",
    "employer_due": "单位月度缴费提醒",
    "instalment_due": "分期缴纳到期提醒",
    "arrears_notice": "应缴未缴提醒",
}
TEMPLATES = {
    "resident_payment": "resident_payment",
    "employer_due": "employer_due",
    "instalment_due": "instalment_due",
    "arrears_notice": "arrears_notice",
}
COLUMNS = {
    "reason": pl.Utf8,
    "recipient_type": pl.Utf8,
    "recipient_key": pl.Utf8,
    "county_code": pl.Utf8,
    "phone": pl.Utf8,
    "template": pl.Utf8,
    "params": pl.Utf8,  # JSON object of the template's parameters
    "period": pl.Utf8,
}


def _md(expr: pl.Expr) -> pl.Expr:
    """A date as 12月31日."""
    return pl.format("{}月{}日", expr.dt.month(), expr.dt.day())


def _shape(frame: pl.DataFrame | pl.LazyFrame, reason: str, rtype: str) -> pl.LazyFrame:
    return frame.lazy().select(
        pl.lit(reason).alias("reason"),
        pl.lit(rtype).alias("recipient_type"),
        pl.col("recipient_key").cast(pl.Utf8),
        pl.col("county_code").cast(pl.Utf8),
        pl.col("phone").cast(pl.Utf8),
        pl.lit(TEMPLATES[reason]).alias("template"),
        pl.col("params").struct.json_encode().alias("params"),
        pl.col("period").cast(pl.Utf8),
    )


def empty() -> pl.DataFrame:
    return pl.DataFrame(schema=COLUMNS)


def resident_payment(data_dir: Path, as_of: dt.date, region: str) -> pl.DataFrame:
    """Persons to remind of an open resident-scheme payment window."""
    open_now = []
    for scheme, w in windows_for(region).items():
        found = w.open_on(as_of)
        if found is not None:
            year, end = found
            open_now.append({"scheme": scheme, "year": year, "end": end})
    if not open_now:
        return empty()
    windows = pl.DataFrame(open_now, schema={"scheme": pl.Utf8, "year": pl.Int32, "end": pl.Date})
    snap = snapshot.require_current(data_dir)
    enrolled = (
        snap.scan("enrollments")
        .filter(
            pl.col("status").is_in(["active", "suspended"])
            & (pl.col("start_date").is_null() | (pl.col("start_date") <= as_of))
            & (pl.col("end_date").is_null() | (pl.col("end_date") >= as_of))
            & ~(
                (pl.col("scheme") == "resident_pension")
                & (pl.col("benefit").fill_null("") == "receiving")
            )
        )
        .select("person_key", "scheme")
        .unique()
        .join(windows.lazy(), on="scheme")
    )
    persons = (
        snap.scan("persons")
        .filter(pl.col("death_date").is_null() | (pl.col("death_date") > as_of))
        .select("person_key", "county_code", "phone")
    )
    labels = pl.col("scheme").replace_strict(SCHEME_LABELS_ZH, return_dtype=pl.Utf8)
    rows = enrolled.join(persons, on="person_key").with_columns(
        pl.col("person_key").alias("recipient_key"),
        pl.format("{}-{}", pl.col("scheme"), pl.col("year")).alias("period"),
        pl.struct(
            pl.col("year").cast(pl.Utf8).alias("year"),
            labels.alias("schemes"),
            _md(pl.col("end")).alias("end"),
        ).alias("params"),
    )
    return _shape(rows, "resident_payment", "person").collect()


def _with_contacts(frame: pl.DataFrame, data_dir: Path) -> pl.DataFrame:
    contacts = employer_contacts(data_dir)
    return frame.join(contacts, on="credit_code", how="left")


def employer_due(data_dir: Path, scope: Scope, as_of: dt.date, days: int) -> pl.DataFrame:
    """Employers with a contribution month due within ``days`` days, still unpaid."""
    ledger = collection.ledger(data_dir, scope, as_of)
    last = as_of + dt.timedelta(days=days)
    due = (
        ledger.lazy()
        .filter(
            (pl.col("balance") > 0) & (pl.col("due_date") >= as_of) & (pl.col("due_date") <= last)
        )
        .group_by("employer_key", "period")
        .agg(
            pl.col("credit_code").first(),
            pl.col("employer_name").first(),
            pl.col("county_code").first(),
            pl.col("due_date").min(),
        )
        .collect()
    )
    rows = _with_contacts(due, data_dir).with_columns(
        pl.col("employer_key").alias("recipient_key"),
        pl.struct(
            pl.col("employer_name").alias("employer"),
            pl.format(
                "{}年{}月", pl.col("period").str.slice(0, 4), pl.col("period").str.slice(5, 2)
            ).alias("period"),
            _md(pl.col("due_date")).alias("due_date"),
        ).alias("params"),
    )
    return _shape(rows, "employer_due", "employer").collect()


def _yuan(expr: pl.Expr) -> pl.Expr:
    return pl.format("{}.{}", expr // 100, (expr % 100).cast(pl.Utf8).str.zfill(2))


def instalment_due(store: Store, data_dir: Path, as_of: dt.date, days: int) -> pl.DataFrame:
    """Instalments of approved agreements due within ``days`` days, not fully paid."""
    last = as_of + dt.timedelta(days=days)
    with store.sessions() as s:
        found = s.execute(
            select(
                Agreement.id, Agreement.employer_key, Agreement.credit_code,
                Agreement.employer_name, Agreement.county_code, Instalment.seq,
                Instalment.due_date, Instalment.amount_fen, Instalment.paid_fen,
            )
            .join(Instalment, Instalment.agreement_id == Agreement.id)
            .where(
                Agreement.status == "approved",
                Instalment.due_date >= as_of,
                Instalment.due_date <= last,
                Instalment.paid_fen < Instalment.amount_fen,
            )
        ).all()  # fmt: skip
    schema = {
        "agreement_id": pl.Int64, "employer_key": pl.Utf8, "credit_code": pl.Utf8,
        "employer_name": pl.Utf8, "county_code": pl.Utf8, "seq": pl.Int64,
        "due_date": pl.Date, "amount_fen": pl.Int64, "paid_fen": pl.Int64,
    }  # fmt: skip
    frame = pl.DataFrame([tuple(r) for r in found], schema=schema, orient="row")
    rows = _with_contacts(frame, data_dir).with_columns(
        pl.col("employer_key").alias("recipient_key"),
        pl.format("{}-{}", pl.col("agreement_id"), pl.col("seq")).alias("period"),
        pl.struct(
            pl.col("employer_name").alias("employer"),
            pl.col("seq").cast(pl.Utf8).alias("seq"),
            _md(pl.col("due_date")).alias("due_date"),
            _yuan(pl.col("amount_fen") - pl.col("paid_fen")).alias("amount"),
        ).alias("params"),
    )
    return _shape(rows, "instalment_due", "employer").collect()


def _under_agreement(store: Store) -> pl.DataFrame:
    """employer_key of every employer with an agreement in force (approved)."""
    with store.sessions() as s:
        keys = s.scalars(
            select(Agreement.employer_key).where(Agreement.status == "approved").distinct()
        ).all()
    return pl.DataFrame({"employer_key": list(keys)}, schema={"employer_key": pl.Utf8})


def arrears_notice(
    store: Store, data_dir: Path, scope: Scope, as_of: dt.date, min_days: int
) -> pl.DataFrame:
    """Employers in arrears at least ``min_days`` past due, not under an agreement in force
    (the store's approved agreements: they get instalment reminders instead)."""
    arrears = collection.arrears(data_dir, scope, as_of)
    owing = arrears.filter(pl.col("days_past_due") >= min_days).join(
        _under_agreement(store), on="employer_key", how="anti"
    )
    rows = _with_contacts(owing, data_dir).with_columns(
        pl.col("employer_key").alias("recipient_key"),
        pl.lit(as_of.strftime("%Y-%m")).alias("period"),
        pl.struct(
            pl.col("employer_name").alias("employer"),
            pl.col("periods").cast(pl.Utf8).alias("periods"),
        ).alias("params"),
    )
    return _shape(rows, "arrears_notice", "employer").collect()


def candidates(
    store: Store, data_dir: Path, as_of: dt.date, config: NotifyConfig, region: str
) -> pl.DataFrame:
    """Every rule's rows at ``as_of`` (the columns of :data:`COLUMNS`), city-wide."""
    scope = Scope.system("提醒短信规则（canbao.notify）")
    parts = [
        resident_payment(data_dir, as_of, region),
        employer_due(data_dir, scope, as_of, config.employer_due_days),
        instalment_due(store, data_dir, as_of, config.instalment_days),
        arrears_notice(store, data_dir, scope, as_of, config.arrears_min_days),
    ]
    return pl.concat([p.select(list(COLUMNS)) for p in parts], how="vertical")
