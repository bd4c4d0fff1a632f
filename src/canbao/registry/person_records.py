"""Assemble every person-bearing ingested row into one table the linkage works on."""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from canbao.ingest.kinds import PERSON_KINDS
from canbao.standards import names

RecordSource = Callable[[str], pl.LazyFrame | None]
"""kind → the accepted canonical records of the current batches of that kind (or None)."""

# Priority of sources for survivorship and anchor names: lower is more authoritative.
KIND_PRIORITY = {"population": 1, "death": 2, "special_group": 3, "enrollment": 4, "employment": 5}

COLUMNS: dict[str, pl.DataType] = {
    "batch_id": pl.Utf8(),
    "source": pl.Utf8(),
    "kind": pl.Utf8(),
    "scheme": pl.Utf8(),
    "as_of": pl.Date(),
    "row": pl.Int64(),
    "id_norm": pl.Utf8(),
    "id18": pl.Utf8(),
    "id_valid": pl.Boolean(),
    "id_errors": pl.List(pl.Utf8()),
    "id_birth": pl.Date(),
    "id_sex": pl.Utf8(),
    "name_norm": pl.Utf8(),
    "name_pinyin": pl.Utf8(),
    "sex": pl.Utf8(),
    "birth_date": pl.Utf8(),
    "birth_date_value": pl.Date(),
    "county_code": pl.Utf8(),
    "township": pl.Utf8(),
    "address": pl.Utf8(),
    "household_id": pl.Utf8(),
    "phone": pl.Utf8(),
    "death_date": pl.Date(),
}


def _conform(lf: pl.LazyFrame, kind: str) -> pl.LazyFrame:
    schema = lf.collect_schema()
    exprs = []
    for name, dtype in COLUMNS.items():
        if name == "kind":
            exprs.append(pl.lit(kind).alias("kind"))
        elif name in schema:
            exprs.append(pl.col(name).cast(dtype, strict=False))
        else:
            exprs.append(pl.lit(None, dtype=dtype).alias(name))
    return lf.select(exprs)


def assemble(source: RecordSource) -> pl.DataFrame:
    """One row per accepted person-bearing record with the derived linkage fields."""
    frames = []
    for kind in PERSON_KINDS:
        lf = source(kind)
        if lf is not None:
            frames.append(_conform(lf, kind))
    if not frames:
        return _derive(pl.DataFrame(schema=COLUMNS))
    return _derive(pl.concat(frames, how="vertical").collect())


def _derive(df: pl.DataFrame) -> pl.DataFrame:
    # Excel damage keeps the leading significant digits: keep them for a prefix comparison.
    mantissa = (
        pl.col("id_norm")
        .str.extract(r"^([0-9]+(?:\.[0-9]*)?)(?:[Ee]\+?[0-9]+)?$", 1)
        .str.replace(".", "", literal=True)
    )
    excel = pl.col("id_errors").list.contains("excel_number").fill_null(False)
    prefix = (
        pl.when(excel & pl.col("id_norm").str.contains(r"^[0-9]{18}$"))
        .then(pl.col("id_norm").str.slice(0, 15))
        .when(excel)
        .then(mantissa.str.slice(0, 15))
    )
    surname = names.surname_expr(pl.col("name_norm"))
    df = df.with_columns(
        rec_key=pl.concat_str("batch_id", pl.lit(":"), pl.col("row").cast(pl.Utf8)),
        kind_rank=pl.col("kind").replace_strict(KIND_PRIORITY, default=9, return_dtype=pl.Int32),
        id_prefix15=pl.when(prefix.str.len_chars() >= 12).then(prefix),
        surname=surname,
        household_key=pl.coalesce(
            pl.col("household_id"),
            pl.col("address").str.replace_all(r"\s", ""),
        ),
        birth=pl.col("birth_date_value"),
        checksum_only=(pl.col("id_errors").list.join(",") == "checksum").fill_null(False),
    )
    surname_py = names.pinyin_key_series(df["surname"])
    pinyin = df["name_pinyin"]
    if pinyin.null_count() == df.height and df.height:
        pinyin = names.pinyin_key_series(df["name_norm"])
    return df.with_columns(surname_py=surname_py, name_pinyin=pinyin)
