"""Text clean-up shared by the identity standards (one place for width and whitespace rules)."""

from __future__ import annotations

import unicodedata

import polars as pl

# Full-width ASCII (U+FF01..U+FF5E) and the ideographic space, mapped to half-width.
FULLWIDTH = [chr(c) for c in range(0xFF01, 0xFF5F)] + ["\u3000"]
HALFWIDTH = [chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)] + [" "]
# Whitespace (Unicode White_Space) plus the invisible characters Excel and Word leave behind.
SPACES_RE = r"[\s\u200b\u200c\u200d\u2060\ufeff]"


def to_halfwidth_expr(expr: pl.Expr) -> pl.Expr:
    return expr.str.replace_many(FULLWIDTH, HALFWIDTH)


def strip_spaces_expr(expr: pl.Expr) -> pl.Expr:
    return expr.str.replace_all(SPACES_RE, "")


def safe_str(value: object) -> str:
    """Any Python value as a str that Arrow can hold (lone surrogates from argv become U+FFFD)."""
    text = value if isinstance(value, str) else ("" if value is None else str(value))
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text)
