"""The contribution ledger's inputs as tables of a coverage session: declarations (newest batch
per employer × scheme × period), payments (each once), opening arrears and a calendar of months.

Every statement is DuckDB SQL in the subset Spark shares (the Spark engine transpiles it with
sqlglot); the definitions are in :mod:`canbao.collection.ledger` and docs/ledger.md.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable

import polars as pl

from canbao.coverage.session import Session
from canbao.errors import UsageError

KEYS = ("employer_key", "scheme", "period")
# the columns of each ledger kind's records the ledger reads (besides batch_id and row)
LINKED: dict[str, tuple[str, ...]] = {
    "payment": ("as_of", "period", "scheme", "paid", "paid_date", "txn_id"),
    "declaration": ("as_of", "period", "scheme", "due"),
    "arrears": ("as_of", "period", "scheme", "amount", "arrears_as_of"),
}
_KEY = re.compile(r"[A-Za-z0-9_-]{1,64}")


def month_of(day: dt.date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def day_sql(day: dt.date) -> str:
    return f"DATE '{day.isoformat()}'"


def month_index_sql(period: str) -> str:
    """``YYYY-MM`` → year × 12 + month − 1 (consecutive months are consecutive integers)."""
    return (
        f"(CAST(substr({period}, 1, 4) AS INTEGER) * 12"
        f" + CAST(substr({period}, 6, 2) AS INTEGER) - 1)"
    )


def valid_period_sql(period: str) -> str:
    """A contribution month ``YYYY-MM`` (ingest normalises them; anything else is left out)."""
    return (
        f"({period} IS NOT NULL AND length({period}) = 7 AND substr({period}, 5, 1) = '-'"
        f" AND substr({period}, 6, 2) BETWEEN '01' AND '12')"
    )


def half_up_div_sql(numer: str, denom: int) -> str:
    """SQL twin of :func:`canbao.standards.money.div_half_up` for a positive integer ``denom``:
    ``numer / denom`` rounded to an integer, a half away from zero (integer arithmetic only:
    ``//`` is DuckDB's integer division, Spark's ``DIV``; both truncate, the operands here are
    never negative)."""
    if denom <= 0:
        raise ValueError("denom must be positive")
    n = f"CAST({numer} AS BIGINT)"
    return (
        f"(CASE WHEN {n} >= 0 THEN ({n} * 2 + {denom}) // {2 * denom}"
        f" ELSE -(((-{n}) * 2 + {denom}) // {2 * denom}) END)"
    )


def employer_filter_sql(column: str, employer: str | None) -> str:
    """``AND column = 'key'`` for a one-employer ledger, else nothing."""
    if employer is None:
        return ""
    if not _KEY.fullmatch(employer):
        raise UsageError(f"单位主键格式不正确：{employer[:40]}", f"bad employer key {employer!r}")
    return f" AND {column} = '{employer}'"


def sql_list(items: Iterable[str]) -> str:
    """SQL string literals, comma-separated (``NULL`` for none: ``x IN (NULL)`` holds for no
    row)."""
    return ", ".join("'" + i.replace("'", "''") + "'" for i in items) or "NULL"


def linked_sql(
    kind: str,
    employer: str | None = None,
    batches: list[str] | None = None,
    files: list[str] | None = None,
) -> str:
    """``(SELECT …)``: the rows of the current batches of ``kind`` (``payment``,
    ``declaration`` or ``arrears``) linked to their master employer through ``employer_links``
    — employer_key, batch_id, row and :data:`LINKED` [kind] — every linked row, before the
    ledger's filters (:func:`counts_sql`); ``employer``: one master employer only;
    ``batches``: these batches only; ``files``: the rows in these delivered batches' files only
    (``file_batch``: a re-delivery's unchanged rows keep an older batch's identity; only those
    files are read). The builders below read this, or a table of the same columns (the
    published ledger keeps them per batch, :mod:`canbao.collection.published`)."""
    only = employer_filter_sql("el.employer_key", employer)
    if batches is not None:
        only += f" AND r.batch_id IN ({sql_list(batches)})"
    if files is not None:
        only += f" AND r.file_batch IN ({sql_list(files)})"
    cols = ", ".join(f"r.{c}" for c in LINKED[kind])
    return (
        f'(SELECT el.employer_key, r.batch_id, r."row", {cols} FROM cov_{kind} r '
        f'JOIN employer_links el ON el.batch_id = r.batch_id AND el."row" = r."row" '
        f"WHERE TRUE{only})"
    )


def counts_sql(kind: str, r: str) -> str:
    """The linked rows of ``kind`` (alias ``r``) the ledger uses, whatever the date: a scheme,
    a contribution month and, for a payment, an amount."""
    where = f"{r}.scheme IS NOT NULL AND {valid_period_sql(f'{r}.period')}"
    return where + (f" AND coalesce({r}.paid, 0) <> 0" if kind == "payment" else "")


def build_payments(s: Session, employer: str | None = None, source: str | None = None) -> None:
    """``ledger_payments``: employer_key, scheme, period, amount, received, pay_key — every
    payment once, whatever the date.

    A payment row with a transaction number (``txn_id``) is one payment per employer × scheme ×
    period × number (the newest batch's row when several files carry it). Without one, rows of
    the same content (employer, scheme, period, amount, payment date) are the same payment when
    they come from different batches, and different payments within one batch: a content counts
    as often as the batch that has it most often (``pay_key``: the content's MD5 digest).
    A payment without a date counts as received on its batch's as-of date. ``source``: a table
    of linked rows (:func:`linked_sql`'s columns) to read instead of the current batches."""
    s.execute(
        f"""
        CREATE OR REPLACE TABLE ledger_payments AS
        WITH p AS (
            SELECT r.employer_key, r.scheme, r.period, r.batch_id, r.as_of, r."row",
                   CAST(r.paid AS BIGINT) AS paid, r.paid_date,
                   coalesce(r.paid_date, r.as_of) AS received,
                   CASE WHEN trim(r.txn_id) = '' THEN NULL ELSE trim(r.txn_id) END AS txn
            FROM {source or linked_sql("payment", employer)} r
            WHERE {counts_sql("payment", "r")}
        ), t AS (
            SELECT employer_key, scheme, period, paid, received, txn,
                   row_number() OVER (
                       PARTITION BY employer_key, scheme, period, txn
                       ORDER BY as_of DESC NULLS LAST, batch_id DESC, "row") AS rn
            FROM p WHERE txn IS NOT NULL
        ), c AS (
            SELECT employer_key, scheme, period, paid,
                   coalesce(CAST(paid_date AS VARCHAR), '') AS paid_on, batch_id,
                   min(received) AS received, count(*) AS n
            FROM p WHERE txn IS NULL
            GROUP BY employer_key, scheme, period, paid, coalesce(CAST(paid_date AS VARCHAR), ''),
                     batch_id
        ), cd AS (
            SELECT employer_key, scheme, period, paid, paid_on, min(received) AS received,
                   max(n) AS n
            FROM c GROUP BY employer_key, scheme, period, paid, paid_on
        )
        SELECT employer_key, scheme, period, paid AS amount, received,
               concat('T:', txn) AS pay_key
        FROM t WHERE rn = 1
        UNION ALL
        SELECT employer_key, scheme, period, CAST(paid * n AS BIGINT) AS amount, received,
               concat('D:', md5(concat_ws('|', employer_key, scheme, period,
                                          CAST(paid AS VARCHAR), paid_on))) AS pay_key
        FROM cd
        """
    )


def build_arrears(s: Session, employer: str | None = None, source: str | None = None) -> None:
    """``ledger_arrears``: employer_key, scheme, period, amount, arrears_as_of — the opening
    arrears (kind ``arrears``): per employer × scheme × period the newest list's rows (latest
    截止日期, then the batch's as-of date and id), summed; a row without 截止日期 is as of its
    batch's as-of date. ``source``: as for :func:`build_payments`."""
    s.execute(
        f"""
        CREATE OR REPLACE TABLE ledger_arrears AS
        WITH a AS (
            SELECT r.employer_key, r.scheme, r.period, r.batch_id, r.as_of,
                   coalesce(r.arrears_as_of, r.as_of) AS arrears_as_of,
                   CAST(sum(coalesce(r.amount, 0)) AS BIGINT) AS amount
            FROM {source or linked_sql("arrears", employer)} r
            WHERE {counts_sql("arrears", "r")}
            GROUP BY r.employer_key, r.scheme, r.period, r.batch_id, r.as_of,
                     coalesce(r.arrears_as_of, r.as_of)
        ), ranked AS (
            SELECT *, row_number() OVER (
                PARTITION BY employer_key, scheme, period
                ORDER BY arrears_as_of DESC NULLS LAST, as_of DESC NULLS LAST, batch_id DESC) AS rn
            FROM a
        )
        SELECT employer_key, scheme, period, amount, arrears_as_of FROM ranked WHERE rn = 1
        """
    )


def build_declared(
    s: Session,
    name: str,
    day: dt.date,
    employer: str | None = None,
    source: str | None = None,
) -> None:
    """``<name>_decl``: employer_key, scheme, period, mi, due — the assessed due of every
    declared employer × scheme × period up to ``day``'s month. Rows of one batch add up (a
    declaration in parts); when several current batches hold the same employer × scheme ×
    period, the newest batch's rows count (latest as-of date, then batch id). ``source``: as for
    :func:`build_payments`."""
    s.execute(
        f"""
        CREATE OR REPLACE TABLE {name}_decl AS
        WITH r AS (
            SELECT r.employer_key, r.scheme, r.period, r.batch_id, r.as_of,
                   sum(coalesce(r.due, 0)) AS due
            FROM {source or linked_sql("declaration", employer)} r
            WHERE {counts_sql("declaration", "r")} AND r.period <= '{month_of(day)}'
            GROUP BY r.employer_key, r.scheme, r.period, r.batch_id, r.as_of
        ), ranked AS (
            SELECT *, row_number() OVER (
                PARTITION BY employer_key, scheme, period
                ORDER BY as_of DESC NULLS LAST, batch_id DESC) AS rn
            FROM r
        )
        SELECT employer_key, scheme, period, {month_index_sql("period")} AS mi,
               CAST(due AS BIGINT) AS due
        FROM ranked WHERE rn = 1
        """
    )


def period_of(mi: int) -> str:
    """The contribution month ``YYYY-MM`` of a month index (year × 12 + month − 1)."""
    return f"{mi // 12:04d}-{mi % 12 + 1:02d}"


def months_table(s: Session, name: str, months: list[int]) -> None:
    """The table ``name`` of ``months``: mi INTEGER (year × 12 + month − 1) and period
    (``YYYY-MM``). Built through Polars: pyarrow's constructors import pandas (0.2 s a
    process)."""
    frame = pl.DataFrame(
        {"mi": months, "period": [period_of(m) for m in months]},
        schema={"mi": pl.Int32, "period": pl.Utf8},
    )
    s.eng.create_table_from_arrow(name, frame.to_arrow())


def build_calendar(s: Session, name: str, day: dt.date, due_date_sql: str) -> int | None:
    """``<name>_months``: mi, period, due_date — every month from the earliest contribution
    month of the ledger's inputs to ``day``'s month (a small table: months, not employers).
    ``due_date_sql``: the policy's due date of column ``period``. Returns the index of the last
    month whose due date is on or before ``day`` (None when there is none)."""
    first = s.eng.scalar(
        f"""
        SELECT min(period) FROM (
            SELECT period FROM {name}_decl
            UNION ALL SELECT period FROM ledger_arrears
            UNION ALL SELECT period FROM ledger_payments
        ) x
        """
    )
    last = day.year * 12 + day.month - 1
    start = int(first[:4]) * 12 + int(first[5:7]) - 1 if isinstance(first, str) else last
    months = list(range(start, last + 1))
    months_table(s, f"{name}_months_raw", months)
    s.execute(
        f"""
        CREATE OR REPLACE TABLE {name}_months AS
        SELECT mi, period, {due_date_sql} AS due_date FROM {name}_months_raw
        """
    )
    value = s.eng.scalar(f"SELECT max(mi) FROM {name}_months WHERE due_date <= {day_sql(day)}")
    return int(value) if value is not None else None
