"""Arrears amount bands: another department sees a band (无欠费, 1万元以下, …), never the amount.

The bands are data (``data/bands.toml``): ``min_fen <= amount < max_fen``, the first for no
arrears (amount 0), contiguous, the last open-ended. :func:`band_expr` is the vectorised form the
standing index uses; :func:`band_of` the scalar one (the same table).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import polars as pl

from canbao.errors import DataError

DATA = Path(__file__).resolve().parent / "data"


@dataclass(frozen=True)
class Band:
    code: str
    label: str
    min_fen: int
    max_fen: int | None  # None: no upper bound


def load(path: Path | None = None) -> tuple[Band, ...]:
    """The bands of ``path`` (default: the shipped table), checked to cover 0… without gaps."""
    doc = tomllib.loads((path or DATA / "bands.toml").read_text(encoding="utf-8"))
    bands = tuple(
        Band(str(b["code"]), str(b["label"]), int(b["min_fen"]),
             int(b["max_fen"]) if "max_fen" in b else None)
        for b in doc.get("band", [])
    )  # fmt: skip
    ok = bool(bands) and bands[0].min_fen == 0 and bands[-1].max_fen is None
    for a, b in zip(bands, bands[1:], strict=False):
        ok = ok and a.max_fen is not None and a.max_fen == b.min_fen and a.max_fen > a.min_fen
    if not ok:
        raise DataError(
            "欠费金额区间表有误：须从 0 开始、首尾相接、最后一档不设上限",
            "arrears bands must start at 0, be contiguous and end open",
        )
    return bands


@cache
def bands() -> tuple[Band, ...]:
    return load()


def band_of(amount_fen: int) -> Band:
    """The band of an arrears amount (negative amounts count as none)."""
    value = max(0, int(amount_fen))
    for b in bands():
        if b.max_fen is None or value < b.max_fen:
            return b
    raise AssertionError("the last band is open-ended")


def band_expr(column: str) -> pl.Expr:
    """The band code of a fen column (vectorised :func:`band_of`)."""
    value = pl.max_horizontal(pl.col(column).fill_null(0), pl.lit(0))
    found = bands()
    expr: pl.Expr = pl.lit(found[-1].code)
    for b in reversed(found[:-1]):
        assert b.max_fen is not None
        expr = pl.when(value < b.max_fen).then(pl.lit(b.code)).otherwise(expr)
    return expr


def labels() -> dict[str, str]:
    return {b.code: b.label for b in bands()}
