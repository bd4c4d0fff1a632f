"""Canonical records as ingest produces them, built from plain dicts (for registry tests)."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Any

import polars as pl

from canbao.standards import citizen_id, credit_code, names

TODAY = dt.date(2017, 12, 31)


def canonical(kind: str, rows: list[dict[str, Any]], source: str, batch: str) -> pl.LazyFrame:
    df = pl.DataFrame(rows, infer_schema_length=None)
    n = df.height
    df = df.with_columns(
        batch_id=pl.lit(batch),
        source=pl.lit(source),
        kind=pl.lit(kind),
        as_of=pl.lit(TODAY),
        row=pl.int_range(1, n + 1, dtype=pl.Int64),
    )
    if "id" in df.columns:
        chk = citizen_id.check_frame(df["id"].cast(pl.Utf8), today=TODAY)
        if "id_numeric" in df.columns:
            # an xlsx cell stored as a number: what ingest does (canbao.ingest.normalize)
            num = df["id_numeric"].fill_null(False)
            chk = chk.with_columns(
                id_errors=pl.when(num & ~pl.col("id_errors").list.contains("excel_number"))
                .then(pl.col("id_errors").list.concat(pl.lit(["excel_number"])))
                .otherwise(pl.col("id_errors")),
                id_valid=pl.col("id_valid") & ~num,
                id18=pl.when(num).then(None).otherwise(pl.col("id18")),
            )
            df = df.drop("id_numeric")
        df = df.with_columns(
            id_raw=pl.col("id"),
            id_norm=chk["id_norm"],
            id18=chk["id18"],
            id_valid=chk["id_valid"],
            id_errors=chk["id_errors"],
            id_birth=chk["id_birth"],
            id_sex=chk["id_sex"],
        )
    if "name" in df.columns:
        nn = names.person_name_series(df["name"].cast(pl.Utf8))
        df = df.with_columns(name_norm=nn, name_pinyin=names.pinyin_key_series(nn))
    if "birth_date" in df.columns:
        df = df.with_columns(
            birth_date_value=pl.col("birth_date").str.strptime(pl.Date, "%Y-%m-%d", strict=False)
        )
    if "employer_name" in df.columns or "credit_code" in df.columns:
        cc = credit_code.check_frame(
            df["credit_code"].cast(pl.Utf8)
            if "credit_code" in df.columns
            else pl.Series([None] * n, dtype=pl.Utf8)
        )
        en = df["employer_name"].cast(pl.Utf8) if "employer_name" in df.columns else None
        df = df.with_columns(
            credit_code=cc["cc_norm"],
            cc_valid=cc["cc_valid"],
            org_code=cc["cc_org_code"],
        )
        if en is not None:
            df = df.with_columns(
                employer_name_norm=names.employer_name_series(en),
                employer_name_key=names.employer_name_key_series(en),
            )
    return df.lazy()


class Source:
    """A RecordSource over in-memory frames: kind → list of canonical frames."""

    def __init__(self) -> None:
        self.frames: dict[str, list[pl.LazyFrame]] = {}

    def add(self, kind: str, rows: list[dict[str, Any]], source: str, batch: str) -> None:
        self.frames.setdefault(kind, []).append(canonical(kind, rows, source, batch))

    def __call__(self, kind: str) -> pl.LazyFrame | None:
        frames = self.frames.get(kind)
        if not frames:
            return None
        return pl.concat(frames, how="diagonal_relaxed")


def make_id(region: str, birth: str, seq: int) -> str:
    body = f"{region}{birth}{seq:03d}"
    return body + citizen_id.compute_check_char(body)


def share_key_secret(src: Path, dst: Path) -> None:
    """Give data dir ``dst`` the person-key secret of ``src`` (keys are keyed per data dir:
    two directories agree on person keys only when they share the secret)."""
    from canbao.registry import keys

    target = keys.secret_path(dst)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(keys.secret_path(src), target)
