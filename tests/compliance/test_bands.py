"""Arrears bands: the shipped table, its boundaries, the vectorised form against the scalar one,
and a broken table refused."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from canbao.compliance import bands
from canbao.errors import DataError


@pytest.mark.parametrize(
    ("fen", "code"),
    [
        (-5, "none"), (0, "none"), (1, "lt_10k"), (999_999, "lt_10k"),
        (1_000_000, "10k_100k"), (9_999_999, "10k_100k"), (10_000_000, "100k_1m"),
        (99_999_999, "100k_1m"), (100_000_000, "ge_1m"), (10**13, "ge_1m"),
    ],
)  # fmt: skip
def test_boundaries(fen: int, code: str) -> None:
    assert bands.band_of(fen).code == code


def test_labels_say_no_amount() -> None:
    assert [b.label for b in bands.bands()] == [
        "无欠费", "1万元以下", "1万–10万元", "10万–100万元", "100万元以上",
    ]  # fmt: skip


@given(st.lists(st.integers(min_value=-(10**9), max_value=10**12), min_size=1, max_size=50))
def test_vectorised_equals_scalar(values: list[int]) -> None:
    frame = pl.DataFrame({"fen": values}, schema={"fen": pl.Int64})
    got = frame.select(bands.band_expr("fen").alias("band"))["band"].to_list()
    assert got == [bands.band_of(v).code for v in values]


def test_a_table_with_a_gap_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bands.toml"
    path.write_text(
        '[[band]]\ncode = "none"\nlabel = "无"\nmin_fen = 0\nmax_fen = 1\n'
        '[[band]]\ncode = "big"\nlabel = "大"\nmin_fen = 100\n',
        encoding="utf-8",
    )
    with pytest.raises(DataError, match="首尾相接"):
        bands.load(path)
