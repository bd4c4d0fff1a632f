"""Turn a truth frame into the text an extract really contains, and write CSV / xlsx files.

Stage 1 (:func:`damage_person_columns`) damages IDs and names per row; stage 2
(:func:`finish`) renders dates and money, repeats some rows and orders the columns under the
extract's Chinese headers. The result keeps, per data row, the true pid/eid and the damage
kinds applied — the truth files are written from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from canbao.synth.config import DamageRates
from canbao.synth.damage import bit, damage_dates, damage_ids, damage_names, money
from canbao.synth.xlsx import write_xlsx

MONEY_FIELDS = ("wage", "tax", "base", "due", "paid", "amount")
DATE_FIELDS = ("birth_date", "start_date", "end_date", "event_date", "death_date",
               "registered_date", "paid_date", "arrears_as_of")  # fmt: skip


@dataclass(frozen=True)
class Extract:
    """One departmental extract: where it goes, what it is, which headers it uses."""

    source: str
    path: str
    kind: str
    columns: tuple[tuple[str, str], ...]  # (canonical field, Chinese header) in file order
    scheme: str | None = None
    encoding: str | None = "utf-8"  # None for xlsx
    date_style: str = "iso"
    birth_style: str | None = None  # birth_date style if different (e.g. "ym" for 出生年月)
    damage_scale: float = 1.0
    stale_addresses: bool = True
    title_rows: tuple[str, ...] = ()
    sheet: str | None = None
    # whether a row may be repeated as an exact copy (damage duplicate_row): not in a file whose
    # rows are money that adds up (declarations in parts, payments without a transaction number),
    # where a copy cannot be told from a second record and the truth would be unknowable
    copies: bool = True

    @property
    def xlsx(self) -> bool:
        return self.path.endswith(".xlsx")


@dataclass
class Rendered:
    spec: Extract
    table: pl.DataFrame  # text columns named by the Chinese headers
    pid: np.ndarray | None  # true person per row (None for non-person extracts)
    eid: np.ndarray | None  # true employer per row (0 = none)
    bits: np.ndarray  # damage kinds per row as a bit mask (see damage.bit)
    numeric: dict[str, np.ndarray] = field(
        default_factory=dict
    )  # header → cells to write as numbers
    part: int = 0  # CSV extracts may come in parts (0 = first); later parts are appended

    @property
    def rows(self) -> int:
        return self.table.height


def damage_person_columns(
    frame: pl.DataFrame, spec: Extract, rng: np.random.Generator, rates: DamageRates
) -> pl.DataFrame:
    """Adds ``_bits`` and ``_id_num`` and replaces ``id``/``name`` (and address) by damaged text."""
    r = rates.scaled(spec.damage_scale)
    n = frame.height
    bits = np.zeros(n, dtype=np.uint32)
    num = np.zeros(n, dtype=bool)
    cols: list[pl.Series] = []
    if "id" in frame.columns:
        rel = frame["_rel_id"] if "_rel_id" in frame.columns else None
        ids, b, num = damage_ids(rng, frame["id"], rel, r, spec.xlsx)
        cols.append(ids.rename("id"))
        bits |= b
    if "name" in frame.columns:
        names, b = damage_names(rng, frame["name"], r)
        cols.append(names.rename("name"))
        bits |= b
    if "address" in frame.columns and "_old_address" in frame.columns and spec.stale_addresses:
        old = frame["_old_address"].is_not_null().to_numpy()
        hit = old & (rng.random(n) < r.stale_address)
        cols.append(
            frame.select(
                pl.when(pl.Series(hit))
                .then(pl.col("_old_address"))
                .otherwise(pl.col("address"))
                .alias("address")
            ).to_series()
        )
        bits[hit] |= bit("stale_address")
    cols += [pl.Series("_bits", bits), pl.Series("_id_num", num)]
    return frame.with_columns(cols)


def finish(
    frame: pl.DataFrame, spec: Extract, rng: np.random.Generator, rates: DamageRates
) -> Rendered:
    """Dates, money, duplicate rows and the Chinese headers."""
    r = rates.scaled(spec.damage_scale)
    n = frame.height
    bits = (
        frame["_bits"].to_numpy().copy()
        if "_bits" in frame.columns
        else np.zeros(n, dtype=np.uint32)
    )
    numeric: dict[str, np.ndarray] = {}
    exprs: list[pl.Expr | pl.Series] = []
    for fld, header in spec.columns:
        if fld in DATE_FIELDS:
            style = (
                spec.birth_style if (fld == "birth_date" and spec.birth_style) else spec.date_style
            )
            text, b, serial = damage_dates(rng, frame[fld], style, r.date_format)
            bits |= b
            if spec.xlsx and serial.any():
                numeric[header] = serial
            exprs.append(text.rename(header))
        elif fld in MONEY_FIELDS:
            exprs.append(money(pl.col(fld)).alias(header))
        else:
            if fld == "id" and spec.xlsx and "_id_num" in frame.columns:
                numeric[header] = frame["_id_num"].to_numpy()
            exprs.append(pl.col(fld).cast(pl.Utf8).alias(header))
    table = frame.select(exprs)
    pid = frame["pid"].to_numpy() if "pid" in frame.columns else None
    eid = frame["eid"].fill_null(0).to_numpy() if "eid" in frame.columns else None
    # duplicate rows: an exact copy right after the original
    dup = (rng.random(n) < r.duplicate_row) & spec.copies
    if dup.any():
        idx = np.repeat(np.arange(n), 1 + dup.astype(np.int64))
        second = np.r_[False, idx[1:] == idx[:-1]]
        table = table[idx]
        pid = pid[idx] if pid is not None else None
        eid = eid[idx] if eid is not None else None
        bits = bits[idx]
        bits[second] |= bit("duplicate_row")
        numeric = {h: m[idx] for h, m in numeric.items()}
    return Rendered(spec, table, pid, eid, bits, numeric)


CSV_CHUNK = 250_000


def write(rendered: Rendered, root: Path) -> Path:
    """Write (or, for a later part, append) the extract; CSV text is encoded chunk by chunk."""
    path = root / rendered.spec.path
    path.parent.mkdir(parents=True, exist_ok=True)
    if rendered.spec.xlsx:
        if rendered.part:
            raise ValueError("xlsx extracts are written in one part")
        _write_xlsx(rendered, path)
        return path
    enc = rendered.spec.encoding or "utf-8"
    table = rendered.table
    with path.open("ab" if rendered.part else "wb") as f:
        if enc == "utf-8-sig" and not rendered.part:
            f.write(b"\xef\xbb\xbf")
        for start in range(0, max(table.height, 1), CSV_CHUNK):
            chunk = table.slice(start, CSV_CHUNK)
            header = start == 0 and not rendered.part
            if enc in ("utf-8", "utf-8-sig"):
                chunk.write_csv(f, include_header=header, null_value="")
            else:
                f.write(chunk.write_csv(include_header=header, null_value="").encode(enc))
    return path


def _write_xlsx(rendered: Rendered, path: Path) -> None:
    spec = rendered.spec
    write_xlsx(path, rendered.table, rendered.numeric, spec.title_rows, spec.sheet or "Sheet1")
