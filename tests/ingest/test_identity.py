"""A record's identity: :func:`canbao.ingest.identity.as_origin` splits ``rec_id`` exactly as
the pattern :data:`canbao.ingest.identity.ORIGIN` does (without running it on every record)."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from canbao.ingest.identity import ORIGIN, as_origin

PIECES = st.sampled_from(
    ["src-20180131-ab12", ":", "0", "7", "12", "", "é", "\n", "x", "+", "０", "٣"]
)


def _by_pattern(lf: pl.LazyFrame) -> pl.LazyFrame:
    rec = pl.col("rec_id")
    return lf.with_columns(
        batch_id=pl.coalesce(rec.str.extract(ORIGIN, 1), pl.col("batch_id")),
        row=pl.coalesce(rec.str.extract(ORIGIN, 2).cast(pl.Int64), pl.col("row")),
        as_of=pl.coalesce(pl.col("rec_as_of"), pl.col("as_of")),
    )


EDGES = ["a:1", "a:b:2", "a:", ":5", "5", "a:+5", "a:5x", "a:1:", "a\n:3", "a:٣", "a::7", "a:０"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.none(), st.lists(PIECES, max_size=6).map("".join)), max_size=20))
def test_as_origin_splits_like_the_pattern(ids: list[str | None]) -> None:
    _check(ids)


def test_as_origin_splits_edge_cases_like_the_pattern() -> None:
    _check(EDGES)


def _check(ids: list[str | None]) -> None:
    frame = pl.DataFrame(
        {
            "rec_id": ids,
            "rec_as_of": [None] * len(ids),
            "batch_id": ["delivered"] * len(ids),
            "row": list(range(len(ids))),
            "as_of": [None] * len(ids),
        },
        schema={
            "rec_id": pl.Utf8,
            "rec_as_of": pl.Date,
            "batch_id": pl.Utf8,
            "row": pl.Int64,
            "as_of": pl.Date,
        },
    )
    got = as_origin(frame.lazy()).collect()
    assert got.equals(_by_pattern(frame.lazy()).collect())


def test_known_identities() -> None:
    frame = pl.DataFrame(
        {"rec_id": ["police_hukou-20171231-cad14d4b224c:41", None, "a:b:7", "a:x"],
         "batch_id": ["new", "new", "new", "new"], "row": [1, 2, 3, 4], "as_of": [None] * 4},
        schema_overrides={"as_of": pl.Date},
    )  # fmt: skip
    got = as_origin(frame.lazy()).collect()
    assert got["batch_id"].to_list() == ["police_hukou-20171231-cad14d4b224c", "new", "a:b", "new"]
    assert got["row"].to_list() == [41, 2, 7, 4]


def test_identity_key_is_the_origin_batch_and_row() -> None:
    from canbao.ingest.identity import identity_key

    frame = pl.DataFrame(
        {"rec_id": ["police_hukou-20171231-cad14d4b224c:41", None],
         "batch_id": ["new", "new"], "row": [1, 2], "as_of": [None, None]},
        schema_overrides={"as_of": pl.Date},
    )  # fmt: skip
    lf = frame.lazy()
    keys = lf.select(identity_key(lf).alias("k")).collect()["k"].to_list()
    origin = as_origin(lf).select(pl.format("{}:{}", "batch_id", "row")).collect().to_series()
    assert keys == origin.to_list() == ["police_hukou-20171231-cad14d4b224c:41", "new:2"]
    plain = frame.drop("rec_id").lazy()  # batches ingested before identities existed
    assert plain.select(identity_key(plain)).collect().to_series().to_list() == ["new:1", "new:2"]
