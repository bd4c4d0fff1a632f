"""How personal data is masked wherever people see it: lists, exports, terminal, logs.

One rule, so that no row can be unmasked by putting its columns together:

- a citizen ID keeps its first 6 and last 4 characters (``360402********1234``): the region and
  the sequence + check, never the birth date;
- therefore a birth date shown beside a masked ID is cut to the **year** (``1985``): year, region,
  sequence and check leave about 33 possible dates, never one. A full date next to first-6 +
  last-4 would give the whole number back;
- a phone keeps its first 3 and last 4 digits;
- an ID inside a key (``A:<18 digits>``, the review queue's node keys) is masked like an ID;
- on the terminal and in logs a name keeps its first character (``张**``); files for county
  staff keep names (they visit people), never full IDs or full birth dates.

:func:`mask_frame` applies all of it to a frame by column name.
"""

from __future__ import annotations

import re

import polars as pl

from canbao.standards import citizen_id

ID_COLUMNS = frozenset(
    {"id18", "id", "id_norm", "left_id", "right_id", "id_as_delivered", "proposed_id18",
     "key_id18", "other_id18"}
)  # fmt: skip
PHONE_COLUMNS = frozenset({"phone", "left_phone", "right_phone"})
BIRTH_COLUMNS = frozenset({"birth_date", "birth", "left_birth", "right_birth"})
KEY_COLUMNS = frozenset({"left_key", "right_key"})
_DIGIT_RUN = r"(\d{6})\d+(\d{3}[0-9Xx])"  # an ID (or a damaged one) inside a longer text
_ID_SHAPE = re.compile(r"(?<!\d)\d{6}(19|20)\d{2}(0[1-9]|1[0-2])[0-3]\d\d{3}[\dXx](?!\d)")


def mask_id(value: str | None) -> str:
    return citizen_id.mask(value)


def mask_id_expr(expr: pl.Expr) -> pl.Expr:
    return citizen_id.mask_expr(expr.cast(pl.Utf8).fill_null(""))


def mask_phone_expr(expr: pl.Expr) -> pl.Expr:
    c = expr.cast(pl.Utf8).fill_null("")
    return (
        pl.when(c.str.len_chars() >= 7)
        .then(c.str.slice(0, 3) + "****" + c.str.slice(-4))
        .otherwise(citizen_id.mask_expr(c))
    )


def mask_name(value: str | None) -> str:
    """``张三丰`` → ``张**`` (terminal and logs)."""
    if not value:
        return ""
    return value[0] + "*" * (len(value) - 1)


def mask_name_expr(expr: pl.Expr) -> pl.Expr:
    c = expr.cast(pl.Utf8)
    n = c.str.len_chars().cast(pl.Int64)
    return c.str.slice(0, 1) + pl.lit("*").repeat_by((n - 1).clip(lower_bound=0)).list.join("")


def birth_year_expr(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """A birth date (date or text) cut to its year, as text."""
    if dtype == pl.Date or dtype == pl.Datetime:
        return expr.dt.year().cast(pl.Utf8)
    return expr.cast(pl.Utf8).str.slice(0, 4)


def mask_key_expr(expr: pl.Expr) -> pl.Expr:
    """Any run of 11+ digits inside a key or text masked like an ID: the first 6 and last 4
    kept, the middle starred (``A:3604…`` → ``A:360402********1234``)."""
    return expr.cast(pl.Utf8).str.replace_all(_DIGIT_RUN, "${1}********${2}")


def mask_frame(df: pl.DataFrame) -> pl.DataFrame:
    """Mask every personal-number column of a frame people will see (by column name)."""
    exprs = []
    for c, t in df.schema.items():
        if c in ID_COLUMNS:
            exprs.append(mask_id_expr(pl.col(c)).alias(c))
        elif c in PHONE_COLUMNS:
            exprs.append(mask_phone_expr(pl.col(c)).alias(c))
        elif c in BIRTH_COLUMNS:
            exprs.append(birth_year_expr(pl.col(c), t).alias(c))
        elif c in KEY_COLUMNS:
            exprs.append(mask_key_expr(pl.col(c)).alias(c))
    return df.with_columns(exprs) if exprs else df


_DIGIT_RUN_RE = re.compile(r"(?<!\d)(\d{6})\d{5,8}(\d{3}[0-9Xx])(?![0-9Xx])")


def mask_text(text: str) -> str:
    """Every ID-shaped run of digits (15 to 18 characters) inside a free text masked like an ID
    (log lines, error messages)."""
    return _DIGIT_RUN_RE.sub(r"\1********\2", text)


def looks_like_id(text: str) -> bool:
    """Whether a text holds something shaped like a citizen ID (for log and output checks)."""
    return _ID_SHAPE.search(text) is not None
