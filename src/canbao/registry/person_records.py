"""Assemble every person-bearing ingested row into one table the linkage works on."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import cache
from pathlib import Path

import numpy as np
import polars as pl

from canbao.ingest.identity import as_origin
from canbao.ingest.kinds import PERSON_KINDS
from canbao.standards import citizen_id, names

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
    "org_code": pl.Utf8(),
    "cc_valid": pl.Boolean(),
}


def _conform(lf: pl.LazyFrame, kind: str) -> pl.LazyFrame:
    """The canonical records of ``kind`` in :data:`COLUMNS`, each under its identity
    (:func:`canbao.ingest.identity.as_origin`)."""
    lf = as_origin(lf)
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


@cache
def derivation_version() -> str:
    """A digest of the code that derives the linkage fields: a cache made by other code is
    never reused."""
    import canbao.registry.person_records as me
    from canbao.ingest import identity
    from canbao.standards import citizen_id

    digest = hashlib.sha256()
    for module in (me, names, citizen_id, identity):
        digest.update(Path(str(module.__file__)).read_bytes())
    return digest.hexdigest()[:12]


CHUNK_ROWS = 2_000_000  # derive a big batch in slices, so memory stays bounded


BatchDeriver = Callable[[str, str, Path], bool]
"""(batch_id, kind, directory) → True when it wrote the batch's derived parts there itself
(e.g. on Spark's executors), False to let Polars derive it here."""


def empty_derived(kind: str) -> pl.DataFrame:
    """The derived frame's schema (no rows)."""
    return _derive(_conform(pl.LazyFrame(schema=COLUMNS), kind).collect())


def derive_frame(df: pl.DataFrame, kind: str) -> pl.DataFrame:
    """Derive one slice of a batch's canonical records (the function executors run)."""
    return _derive(_conform(df.lazy(), kind).collect())


def _derive(df: pl.DataFrame) -> pl.DataFrame:
    """The linkage fields, computed in stages (each stage materialises its columns, so no
    expression is evaluated twice)."""
    c = pl.col
    norm = c("id_norm")
    df = df.with_columns(
        _excel=c("id_errors").list.contains("excel_number").fill_null(False),
        _valid=c("id_valid").fill_null(False),
    )
    df = df.with_columns(
        # a valid-looking ID ending in 000 may be Excel damage that happens to pass the check
        excel_suspect=~c("_excel")
        & c("_valid")
        & norm.str.contains(r"^[0-9]{15}000$").fill_null(False),
    )
    df = _id_repair_fields(df)
    df = df.with_columns(
        rec_key=pl.concat_str("batch_id", pl.lit(":"), c("row").cast(pl.Utf8)),
        kind_rank=c("kind").replace_strict(KIND_PRIORITY, default=9, return_dtype=pl.Int32),
        # digits 16-18 of an 18-digit number are noise: the sex coded in the 17th is not known
        id_sex=pl.when(c("_excel") & c("id_prefix15").is_not_null())
        .then(None)
        .otherwise(c("id_sex")),
        surname=names.surname_expr(c("name_norm")),
        household_key=pl.coalesce(
            c("household_id"),
            c("address").str.replace_many([" ", "\u3000", "\t"], ["", "", ""]),
        ),
        birth=c("birth_date_value"),
        phone_key=c("phone").str.replace_all(r"[^0-9]", "").str.slice(-11),
        employer_org=pl.when(c("cc_valid").fill_null(False)).then(c("org_code")),
    ).drop("_excel", "_valid")
    surname_py = names.surname_pinyin_series(df["name_norm"])
    pinyin = df["name_pinyin"]
    if pinyin.null_count() == df.height and df.height:
        pinyin = names.pinyin_key_series(df["name_norm"])
    return df.with_columns(surname_py=surname_py, name_pinyin=pinyin)


def _id_repair_fields(df: pl.DataFrame) -> pl.DataFrame:
    """What the repair rules of :mod:`canbao.registry.repair` read, computed on the few records
    they concern (invalid or Excel-suspect IDs) and null elsewhere:

    - ``check_failed``: the ID fails its check character
      (:func:`canbao.standards.citizen_id.fails_check_char`): it gets repair candidates.
    - ``id_prefix15`` / ``id_prefix15_alt``: for an ID that went through a number
      (``excel_number``) or a valid-looking one ending in 000 (``excel_suspect``), the first 15
      digits it can have (:func:`canbao.standards.citizen_id.excel_prefixes`: P and P - 1).
    - ``id_birth`` of such a number: the birth date lies in the digits it kept (7-14); kept
      where P and P - 1 agree on it.
    """
    n = df.height
    todo = (~pl.col("_valid") | pl.col("excel_suspect")).fill_null(True)
    rows = df.select(i=pl.arg_where(todo))["i"]
    sub = df.select("id_norm", "_excel", "excel_suspect").gather(rows)
    failed = citizen_id.fails_check_char(sub["id_norm"]).to_numpy()
    numeric = sub["_excel"] | sub["excel_suspect"]
    pre = sub.select(
        citizen_id.excel_prefixes(pl.when(numeric).then(pl.col("id_norm"))).alias("p")
    ).unnest("p")
    p15, alt = pre["id_prefix15"], pre["id_prefix15_alt"]
    birth = (
        pl.DataFrame({"p": p15, "a": alt})
        .select(
            pl.when(pl.col("p").str.slice(0, 14) == pl.col("a").str.slice(0, 14)).then(
                pl.col("p").str.slice(6, 8).str.strptime(pl.Date, "%Y%m%d", strict=False)
            )
        )
        .to_series()
    )

    def spread(values: pl.Series, dtype: pl.DataType) -> pl.Series:
        full = pl.repeat(None, n, dtype=dtype, eager=True).rename(values.name)
        return full.scatter(rows, values.cast(dtype)) if rows.len() else full

    failed_full = np.zeros(n, dtype=bool)
    failed_full[rows.to_numpy()] = failed
    df = df.with_columns(
        check_failed=pl.Series("check_failed", failed_full),
        id_prefix15=spread(p15.rename("id_prefix15"), pl.Utf8()),
        id_prefix15_alt=spread(alt.rename("id_prefix15_alt"), pl.Utf8()),
        _prefix_birth=spread(birth.rename("_prefix_birth"), pl.Date()),
    )
    return df.with_columns(
        id_birth=pl.when(pl.col("_excel") & pl.col("id_prefix15").is_not_null())
        .then(pl.col("_prefix_birth"))
        .otherwise(pl.col("id_birth"))
    ).drop("_prefix_birth")
