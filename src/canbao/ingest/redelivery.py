"""Row-level difference of a re-delivered extract (全量重报) against the batches it supersedes.

Departments re-deliver their whole extract every month. When a new batch supersedes older
batches of the same (source, kind, scheme), every accepted row is compared with their rows by a
digest of its canonical content (:func:`digest_sql`: the normalised fields in a fixed order,
so a file whose column order or header words changed still diffs by content):

- a row whose content is also in the superseded batches is **unchanged**: it keeps the record
  identity of that row (``rec_id``, ``rec_as_of``: the batch row and as-of date where this
  content first arrived, carried from month to month);
- the other rows are new records (``rec_id`` = this batch's ``batch_id:row``). Among them, a
  row whose identity key (:data:`ROW_KEYS`: the ID, credit code, period …) is also among the
  old rows that found no partner is **changed** (a removal plus an addition); the others are
  **added**;
- old rows that found no partner and are not the old side of a change are **removed**.

Duplicate rows pair one to one (the n-th copy with the n-th copy). The counts, in total and
per county, go to the batch catalog and the validation report (新增 / 变更 / 删除).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

# what identifies "the same row, changed" per kind: groups of columns, each group the first
# non-null of its columns; a row whose first group is null has no key (it is added or removed,
# never changed)
_EMPLOYER = ("credit_code", "org_code", "employer_name_norm")
ROW_KEYS: dict[str, tuple[tuple[str, ...], ...]] = {
    "population": (("id_norm",),),
    "death": (("id_norm",),),
    "special_group": (("id_norm",),),
    "enrollment": (("id_norm",),),
    "employment": (("id_norm",), _EMPLOYER, ("period",)),
    "employer": (_EMPLOYER,),
    "declaration": (_EMPLOYER, ("period",), ("scheme",)),
    "payment": (_EMPLOYER, ("period",), ("scheme",), ("txn_id",)),
    "arrears": (_EMPLOYER, ("scheme",), ("period",)),
}

# columns that are not content: the batch's own, and what the code adds about the content
NOT_CONTENT = (
    "batch_id", "source", "kind", "as_of", "row", "warnings", "rec_id", "rec_as_of", "raw_digest",
)  # fmt: skip
IDENTITY_COLUMNS = ("rec_id", "rec_as_of")
# beside a re-delivered batch's records: the identities it does not carry on (one column,
# rec_id), so the registry finds what a re-delivery dropped without comparing every row again
GONE_FILE = "superseded_gone.parquet"


def content_columns(columns: list[str]) -> list[str]:
    """The columns a row's digest covers, in a fixed (sorted) order."""
    return sorted(c for c in columns if c not in NOT_CONTENT and c != "row_digest")


def _text(column: str) -> str:
    return f'CAST("{column}" AS VARCHAR)'


def digest_sql(columns: list[str]) -> str:
    """DuckDB expression: md5 of the row's content columns (null and empty kept apart)."""
    parts = [f"coalesce('=' || {_text(c)}, '∅')" for c in content_columns(columns)]
    return "md5(concat_ws(chr(31), " + (", ".join(parts) or "''") + "))"


def key_sql(kind: str, columns: list[str]) -> str:
    """DuckDB expression: the row's identity key (NULL when it has none)."""
    groups = [[c for c in group if c in columns] for group in ROW_KEYS.get(kind, ())]
    groups = [g for g in groups if g]
    if not groups:
        return "CAST(NULL AS VARCHAR)"
    first = "coalesce(" + ", ".join(_text(c) for c in groups[0]) + ")"
    rest = "".join(
        " || chr(31) || coalesce(" + ", ".join(_text(c) for c in g) + ", '')" for g in groups[1:]
    )
    return f"{first}{rest}"


@dataclass
class Changes:
    """The difference of one batch against the batches it supersedes."""

    base: list[str]  # the superseded batches compared with
    unchanged: int = 0
    added: int = 0
    changed: int = 0
    removed: int = 0
    by_county: dict[str, dict[str, int]] = field(default_factory=dict)
    # the identities (rec_id) of the superseded rows this batch does not carry on (removed, or
    # the old side of a change): kept beside the batch (GONE_FILE) for the registry
    gone: pl.Series | None = field(default=None, repr=False, compare=False)

    @property
    def identical(self) -> bool:
        return bool(self.base) and not (self.added or self.changed or self.removed)

    def to_json(self) -> dict[str, Any]:
        return {
            "base": self.base,
            "unchanged": self.unchanged,
            "added": self.added,
            "changed": self.changed,
            "removed": self.removed,
            "by_county": self.by_county,
        }

    def summary_zh(self) -> str:
        if self.identical:
            return (
                f"与所取代的批次内容完全相同（{self.unchanged} 行未变；行序、列序或表头文字不同"
                "不算变化）：登记库无需因本批重算"
            )
        return (
            f"与所取代的批次相比：新增 {self.added} 行，变更 {self.changed} 行，"
            f"删除 {self.removed} 行，未变 {self.unchanged} 行"
        )


def _old_records(paths: list[Path]) -> str:
    """SQL reading the superseded batches' rows (batches written before digests existed are
    digested when read)."""
    files = ", ".join("'" + str(p).replace("'", "''") + "'" for p in paths)
    return f"read_parquet([{files}], union_by_name = true)"


def compare(
    new: pl.DataFrame, kind: str, batch_id: str, old_paths: list[Path]
) -> tuple[pl.DataFrame, Changes | None]:
    """``new`` (accepted rows with the batch columns) with ``rec_id``, ``rec_as_of`` and
    ``row_digest`` added, and the changes against the batches in ``old_paths`` (their
    ``records.parquet``; None when it supersedes nothing). Rows that already carry an
    identity (their text repeated an old row's: :mod:`canbao.ingest.reuse`) are unchanged."""
    ident_cols = [*IDENTITY_COLUMNS, "row_digest"]
    if "rec_id" in new.columns:
        kept = new.filter(pl.col("rec_id").is_not_null())
        fresh = new.filter(pl.col("rec_id").is_null()).drop(ident_cols, strict=False)
    else:
        kept, fresh = new.head(0), new
    order = [*[c for c in new.columns if c not in ident_cols], *ident_cols]
    con = duckdb.connect()
    try:
        con.register("new_rows", fresh.to_arrow())
        cols = fresh.columns
        con.execute(
            f"""
            CREATE TABLE n AS
            SELECT "row", as_of, {digest_sql(cols)} AS d, {key_sql(kind, cols)} AS k,
                   {_county(cols)} AS county
            FROM new_rows
            """
        )
        changes = None
        if not old_paths:
            con.execute(
                f"""CREATE TABLE ident AS SELECT "row", {_own(batch_id, "n")} AS rec_id,
                as_of AS rec_as_of, d FROM n"""
            )
        else:
            ids = kept["rec_id"] if kept.height else pl.Series("rec_id", [], dtype=pl.Utf8)
            con.register("kept_ids", ids.to_frame().to_arrow())
            changes = _diff(con, kind, batch_id, old_paths)
            changes.unchanged += kept.height
        out = _with_identity(fresh, con)
    finally:
        con.close()
    if kept.height:
        out = pl.concat([out, kept.select(out.columns)], how="vertical_relaxed").sort("row")
    return out.select(order), changes


def _own(batch_id: str, table: str) -> str:
    """A new record's identity: this batch's ``batch_id:row``."""
    quoted = "'" + batch_id.replace("'", "''") + ":'"
    return f'{quoted} || CAST({table}."row" AS VARCHAR)'


def _county(cols: list[str]) -> str:
    return "coalesce(county_code, '')" if "county_code" in cols else "''"


def _diff(con: duckdb.DuckDBPyConnection, kind: str, batch_id: str, paths: list[Path]) -> Changes:
    src = _old_records(paths)
    old_cols = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {src}").fetchall()]
    digest = "row_digest" if "row_digest" in old_cols else digest_sql(old_cols)
    rec_id = (
        "coalesce(rec_id, batch_id || ':' || CAST(\"row\" AS VARCHAR))"
        if "rec_id" in old_cols
        else "batch_id || ':' || CAST(\"row\" AS VARCHAR)"
    )
    rec_as_of = "coalesce(rec_as_of, as_of)" if "rec_as_of" in old_cols else "as_of"
    # the old rows no new row has carried on already (by its text), in row order per digest
    con.execute(
        f"""
        CREATE TABLE o0 AS
        SELECT {rec_id} AS rec_id, {rec_as_of} AS rec_as_of, {digest} AS d,
               {key_sql(kind, old_cols)} AS k, {_county(old_cols)} AS county,
               batch_id AS b, "row" AS r
        FROM {src}
        """
    )
    con.execute("DELETE FROM o0 WHERE rec_id IN (SELECT rec_id FROM kept_ids)")
    con.execute(
        "CREATE TABLE o AS SELECT rec_id, rec_as_of, d, k, county, "
        "row_number() OVER (PARTITION BY d ORDER BY b, r) AS i FROM o0"
    )
    con.execute(
        'CREATE TABLE ni AS SELECT *, row_number() OVER (PARTITION BY d ORDER BY "row") AS i FROM n'
    )
    con.execute(
        f"""
        CREATE TABLE ident AS
        SELECT ni."row", coalesce(o.rec_id, {_own(batch_id, "ni")}) AS rec_id,
               coalesce(o.rec_as_of, ni.as_of) AS rec_as_of, ni.d, o.rec_id IS NOT NULL AS kept,
               ni.k, ni.county
        FROM ni LEFT JOIN o ON o.d = ni.d AND o.i = ni.i
        """
    )
    con.execute(
        "CREATE TABLE gone AS SELECT o.* FROM o LEFT JOIN ni ON ni.d = o.d AND ni.i = o.i "
        "WHERE ni.d IS NULL"
    )
    # a key on both sides: min(new, old) of its rows are changes, the rest added / removed
    con.execute(
        """
        CREATE TABLE fresh AS SELECT *, row_number() OVER (PARTITION BY k ORDER BY "row") AS j
        FROM ident WHERE NOT kept
        """
    )
    con.execute(
        """
        CREATE TABLE lost AS SELECT *, row_number() OVER (PARTITION BY k ORDER BY rec_id) AS j
        FROM gone
        """
    )
    rows = con.execute(
        """
        SELECT county, what, count(*) FROM (
            SELECT county, 'unchanged' AS what FROM ident WHERE kept
            UNION ALL
            SELECT f.county, CASE WHEN l.k IS NULL THEN 'added' ELSE 'changed' END
            FROM fresh f LEFT JOIN lost l ON l.k = f.k AND l.j = f.j AND f.k IS NOT NULL
            UNION ALL
            SELECT l.county, 'removed' FROM lost l
            LEFT JOIN fresh f ON f.k = l.k AND f.j = l.j AND l.k IS NOT NULL
            WHERE f.k IS NULL
        ) x GROUP BY county, what ORDER BY county, what
        """
    ).fetchall()
    changes = Changes(base=[p.parent.name for p in paths])
    changes.gone = con.sql("SELECT rec_id FROM gone ORDER BY rec_id").pl()["rec_id"]
    for county, what, n in rows:
        setattr(changes, what, getattr(changes, what) + int(n))
        if what != "unchanged":
            changes.by_county.setdefault(county, {"added": 0, "changed": 0, "removed": 0})
            changes.by_county[county][what] += int(n)
    return changes


def _with_identity(new: pl.DataFrame, con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    ident = con.sql('SELECT "row", rec_id, rec_as_of, d AS row_digest FROM ident').pl()
    ident = ident.with_columns(pl.col("rec_as_of").cast(pl.Date))
    out = new.join(ident, on="row", how="left", maintain_order="left")
    assert out.height == new.height
    return out


def label_columns() -> dict[str, str]:
    """Chinese headers of the per-county table."""
    return {"county": "区县代码", "added": "新增", "changed": "变更", "removed": "删除"}
