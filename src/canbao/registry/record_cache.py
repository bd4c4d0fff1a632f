"""The derivation cache: each delivered batch's derived person records, computed once.

``registry/cache/<derivation version>/<batch>/`` holds a batch's records with their linkage
fields (:mod:`canbao.registry.person_records`). The version digests the derivation code, so a
cache made by other code is never read; this module (how entries are stored and found) is not
part of it.

A re-delivery (全量重报) repeats last month's rows: its unchanged rows keep their record identity
(:mod:`canbao.ingest.redelivery`), and a record's derived fields are a function of its content
and identity. Its entry therefore carries the superseded batches' derived files on (hard links,
``carried-*.parquet``), lists the superseded records it does not carry on (``gone.parquet``) and
derives only its new rows (``part-*.parquet``): a month costs what it changed, not what it
repeated. A chain of re-deliveries stays flat (each entry links every file it carries, and its
gone list is cumulative); past :data:`MAX_CARRIED_FILES` files or :data:`CARRY_GONE_SHARE` gone,
the batch is derived whole again.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from canbao.ingest.identity import identity_key
from canbao.ingest.kinds import PERSON_KINDS
from canbao.registry import person_records
from canbao.registry.engine import PARQUET_CODEC, Engine
from canbao.registry.person_records import (
    BatchDeriver,
    RecordSource,
    derivation_version,
    derive_frame,
    empty_derived,
)
from canbao.registry.snapshot_layers import link_or_copy


@dataclass(frozen=True)
class Entry:
    """One batch's derived records in the cache: ``own`` parts (derived for this batch) and,
    for a re-delivery, ``carried`` parts (the superseded batches' derived files, hard-linked)
    less the records in ``gone`` (``rec_key``, ``id18``: superseded records it does not carry
    on)."""

    batch_id: str
    own: tuple[Path, ...]
    carried: tuple[Path, ...] = ()
    gone: Path | None = None
    bases: tuple[str, ...] = ()  # the superseded batches it carries from

    @classmethod
    def at(cls, folder: Path) -> Entry:
        carried = tuple(sorted(folder.glob(f"{CARRIED}*.parquet")))
        gone = folder / GONE_FILE
        bases = folder / BASES_FILE
        return cls(
            folder.name,
            tuple(sorted(folder.glob("part-*.parquet"))),
            carried,
            gone if carried and gone.exists() else None,
            tuple(json.loads(bases.read_text("utf-8"))) if carried and bases.exists() else (),
        )

    def files(self) -> list[Path]:
        return [*self.own, *self.carried]

    def scan(self) -> pl.LazyFrame:
        """The batch's records (for tests and checks; builds read :func:`view`)."""
        frames = [pl.scan_parquet(list(self.own), glob=False)] if self.own else []
        if self.carried:
            carried = pl.scan_parquet(list(self.carried), glob=False)
            if self.gone is not None:
                gone = pl.scan_parquet(self.gone, glob=False).select("rec_key")
                carried = carried.join(gone, on="rec_key", how="anti")
            frames.append(carried)
        return pl.concat(frames, how="vertical_relaxed")


@dataclass(frozen=True)
class Redelivery:
    """What ingest knows of a re-delivered batch: the batches it superseded (``bases``) and
    its list of their identities it does not carry on (``gone``,
    :data:`canbao.ingest.redelivery.GONE_FILE`; None for batches ingested before it was
    kept)."""

    bases: list[str]
    gone: Path | None = None


Superseded = Callable[[str], Redelivery]  # a batch's Redelivery (bases [] when it is none)

CARRIED = "carried-"  # a carried part's file name prefix
GONE_FILE = "gone.parquet"
BASES_FILE = "bases.json"
MAX_CARRIED_FILES = 24  # beyond this many carried files (two years of months) derive anew
CARRY_GONE_SHARE = 0.2  # … or when this share of the carried records is gone


def view(eng: Engine, name: str, entries: list[Entry], empty: pl.DataFrame | None = None) -> None:
    """View ``name``: the records of these cache entries (the engine reads the files where the
    view is used). Own parts are read as one set; each re-delivery's carried parts without its
    gone records (an anti join on ``rec_key``, the superseded batch's rows only). ``empty``:
    the table when there are no records (default: person records)."""
    own = [p for e in entries for p in e.own]
    layered = [e for e in entries if e.carried]
    if not layered:
        if own:
            eng.parquet_view(name, own)
        else:
            frame = empty if empty is not None else empty_derived("population")
            eng.create_table_from_arrow(name, frame.to_arrow())
        return
    parts = []
    if own:
        eng.parquet_view(f"{name}__own", own)
        parts.append(f"SELECT * FROM {name}__own")
    for i, e in enumerate(layered):
        carried, gone = f"{name}__carried{i}", f"{name}__gone{i}"
        eng.parquet_view(carried, list(e.carried))
        if e.gone is None:
            parts.append(f"SELECT * FROM {carried}")
            continue
        eng.parquet_view(gone, [e.gone])
        parts.append(
            f"SELECT c.* FROM {carried} AS c "
            f"WHERE NOT EXISTS (SELECT 1 FROM {gone} AS g WHERE g.rec_key = c.rec_key)"
        )
    eng.create_view(name, " UNION ALL ".join(parts))


def dropped(
    eng: Engine,
    name: str,
    removed: list[Entry],
    added: list[Entry],
    columns: tuple[tuple[str, str], ...] = (("rec_key", "VARCHAR"), ("id18", "VARCHAR")),
) -> None:
    """Table ``name`` (``columns`` with their SQL types, the gone lists' own: ``rec_key`` and
    what names a record elsewhere): the records of the ``removed`` (superseded) entries that no ``added`` entry
    carries on. A re-delivery's are its gone list less its bases' (the lists are cumulative: no
    record is read); the records of a superseded batch no re-delivery carries from are found by
    an anti join with every added record."""
    cols = ", ".join(f'"{c}"' for c, _ in columns)
    out_ids = {e.batch_id for e in removed}
    fast = [e for e in added if e.gone is not None and e.bases and set(e.bases) <= out_ids]
    covered = {b for e in fast for b in e.bases}
    by_id = {e.batch_id: e for e in removed}
    parts = []
    for i, e in enumerate(fast):
        assert e.gone is not None
        eng.parquet_view(f"{name}__gone{i}", [e.gone])
        before = [g for b in e.bases if (g := by_id[b].gone) is not None]
        if before:
            eng.parquet_view(f"{name}__before{i}", before)
            parts.append(
                f"SELECT {cols} FROM {name}__gone{i} "
                f"WHERE rec_key NOT IN (SELECT rec_key FROM {name}__before{i})"
            )
        else:
            parts.append(f"SELECT {cols} FROM {name}__gone{i}")
    rest = [e for e in removed if e.batch_id not in covered]
    if rest:
        view(eng, f"{name}__out", rest)
        if added:
            view(eng, f"{name}__in", added)
            parts.append(
                f"SELECT {cols} FROM {name}__out "
                f"WHERE rec_key NOT IN (SELECT rec_key FROM {name}__in)"
            )
        else:
            parts.append(f"SELECT {cols} FROM {name}__out")
    if not parts:
        nulls = ", ".join(f'CAST(NULL AS {t}) AS "{c}"' for c, t in columns)
        parts.append(f"SELECT {nulls} LIMIT 0")
    eng.execute(f"CREATE OR REPLACE TABLE {name} AS " + " UNION ALL ".join(parts))


def cached_batches(
    source: RecordSource,
    cache_root: Path,
    derive: BatchDeriver | None = None,
    bases: Superseded | None = None,
) -> list[Entry]:
    """Derived records per batch, as Parquet files under ``cache_root`` (derived once per batch
    and reused by every later build: a monthly update derives only the new batches). A batch is
    a directory of parts of at most ``person_records.CHUNK_ROWS`` rows, renamed into place when
    complete; ``derive`` may write the parts instead (the Spark engine derives on its
    executors).

    A re-delivery (``bases``: the batches a batch superseded) whose unchanged rows kept their
    identity carries the superseded batches' derived files on (hard links) and derives its new
    rows only (:func:`_carry`)."""
    cache_dir = cache_root / derivation_version()
    cache_dir.mkdir(parents=True, exist_ok=True)
    entries: list[Entry] = []
    for kind in PERSON_KINDS:
        lf = source(kind)
        if lf is None:
            continue
        # by the delivered batch (a re-delivery's unchanged rows keep an older batch's identity)
        counts = lf.group_by("batch_id").agg(pl.len().alias("n")).collect().sort("batch_id")
        for batch_id, n in counts.iter_rows():
            batch = lf.filter(pl.col("batch_id") == batch_id)
            redelivery = bases(str(batch_id)) if bases else Redelivery([])
            olds = [cache_dir / b for b in redelivery.bases]
            write = _writer(batch, kind, str(batch_id), int(n), olds, redelivery.gone, derive)
            entries.append(kept_entry(cache_dir, str(batch_id), write))
    return entries


def _writer(
    batch: pl.LazyFrame,
    kind: str,
    batch_id: str,
    n: int,
    olds: list[Path],
    gone_ids: Path | None,
    derive: BatchDeriver | None,
) -> Callable[[Path], None]:
    """Writes a batch's entry: carried from ``olds`` when it re-delivers them, else derived
    whole (by ``derive`` where it does, else here)."""

    def write(tmp: Path) -> None:
        if olds and _carry(batch, kind, batch_id, olds, tmp, gone_ids):
            return
        shutil.rmtree(tmp)
        if derive is None or not derive(batch_id, kind, tmp):
            tmp.mkdir(exist_ok=True)
            _derive_parts(batch, kind, n, tmp)

    return write


def kept_entry(folder: Path, batch_id: str, write: Callable[[Path], None]) -> Entry:
    """The entry of ``batch_id`` under ``folder``; when it is not kept yet, ``write(tmp)``
    writes it into a folder of its own first (another process writing the same batch never
    touches it), renamed into place when complete. If another process finished first, its
    entry stays (the same content)."""
    final = folder / batch_id
    if not final.is_dir():
        tmp = folder / f".tmp-{batch_id}-{uuid.uuid4().hex[:12]}"
        tmp.mkdir()
        try:
            write(tmp)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        try:
            os.replace(tmp, final)
        except OSError:
            if not final.is_dir():
                raise
            shutil.rmtree(tmp)  # kept meanwhile by another process: the same content
    return Entry.at(final)


def _derive_parts(batch: pl.LazyFrame, kind: str, n: int, out: Path) -> None:
    chunk = person_records.CHUNK_ROWS  # read here: tests make it small
    for i, offset in enumerate(range(0, max(n, 1), chunk)):
        part = derive_frame(batch.slice(offset, chunk).collect(), kind)
        part.write_parquet(out / f"part-{i:05d}.parquet", compression=PARQUET_CODEC)


def _identity_hash(identity: pl.Expr) -> pl.Expr:
    return identity.hash(seed=20180131)


def _carry(
    batch: pl.LazyFrame,
    kind: str,
    batch_id: str,
    olds: list[Path],
    out: Path,
    gone_ids: Path | None = None,
) -> bool:
    """:func:`carry` of a person-bearing batch (its rows are its records)."""

    def derive(fresh: pl.LazyFrame, n: int, folder: Path) -> None:
        _derive_parts(fresh, kind, n, folder)

    gone_columns: dict[str, pl.DataType] = {"rec_key": pl.Utf8(), "id18": pl.Utf8()}
    return carry(batch, batch_id, olds, out, derive, gone_columns, gone_ids)


def carry(
    batch: pl.LazyFrame,
    batch_id: str,
    olds: list[Path],
    out: Path,
    derive: Callable[[pl.LazyFrame, int, Path], None],
    gone_columns: dict[str, pl.DataType],
    gone_ids: Path | None = None,
) -> bool:
    """Write a re-delivery's entry into ``out`` from the superseded batches' entries ``olds``:
    their files hard-linked (``carried-*``), the records of theirs this batch does not carry
    on listed (``gone.parquet``: ``gone_columns`` of those records, ``rec_key`` first), and
    only its new rows derived (``derive(rows, n, out)`` writes their ``part-*`` files; their
    identity is their own row: :mod:`canbao.ingest.redelivery`). ``batch`` holds the delivered
    rows that are records (one record each). An unchanged row's derived fields are a function
    of its content and identity, which are the carried record's. False (nothing usable
    written) when an entry is missing, the carried identities are not exactly superseded
    records (one each), or the chain grew long or mostly gone: the batch is then derived
    whole.

    With ingest's list of the superseded identities the batch does not carry on
    (``gone_ids``), the superseded records are looked up by that list and the counts checked
    (:func:`_gone_by_list`); no carried row's identity is read. Otherwise (or when the counts
    disagree) every carried identity is matched with a superseded record."""
    if not all(o.is_dir() for o in olds):
        return False
    old_entries = [Entry.at(o) for o in olds]
    files = [p for e in old_entries for p in e.files()]
    if not files or len(files) > MAX_CARRIED_FILES:
        return False
    names = list(gone_columns)
    old = pl.scan_parquet(files, glob=False).select(names)
    old_gone = [e.gone for e in old_entries if e.gone is not None]
    gone_before = (
        pl.scan_parquet(old_gone, glob=False).select(names).collect()
        if old_gone
        else pl.DataFrame(schema=gone_columns)
    )
    by_list = _gone_by_list(batch, batch_id, files, old, gone_before, gone_ids)
    if by_list is not None:
        gone_now, new_rows, n_files = by_list
    else:
        found = _gone_by_keys(batch, batch_id, old, gone_before)
        if found is None:
            return False
        gone_now, new_rows, n_files = found
    gone = pl.concat([gone_before, gone_now])
    if gone.height > CARRY_GONE_SHARE * n_files:
        return False
    for i, path in enumerate(files):
        link_or_copy(path, out / f"{CARRIED}{i:05d}.parquet")
    gone.write_parquet(out / GONE_FILE, compression=PARQUET_CODEC)
    (out / BASES_FILE).write_text(json.dumps([o.name for o in olds]), "utf-8")
    if new_rows.len():
        derive(batch.filter(pl.col("row").is_in(new_rows.implode())), new_rows.len(), out)
    return True


def _gone_by_keys(
    batch: pl.LazyFrame, batch_id: str, old: pl.LazyFrame, gone_before: pl.DataFrame
) -> tuple[pl.DataFrame, pl.Series, int] | None:
    """(the superseded records not carried on, the batch's own rows, the records in the
    superseded files) by matching every carried row's identity with a current superseded
    record; None when they are not exactly those records, one each."""
    current = old.join(gone_before.lazy().select("rec_key"), on="rec_key", how="anti").collect()
    # each row's identity, and whether it is its own (a new record) or a carried one
    keys = batch.select(k=identity_key(batch), row=pl.col("row")).collect()
    own = keys["k"] == (batch_id + ":" + keys["row"].cast(pl.Utf8))
    # matched on 64-bit digests of the identities (integers, not strings). Record keys are
    # unique (a batch row each), so every carried identity is one current record exactly when
    # as many current records are carried as rows carry one: an identity carried twice, one
    # that is no current record, or a digest collision breaks the count, and the batch is then
    # derived whole
    carried = keys.filter(~own).select(h=_identity_hash(pl.col("k")))["h"]
    kept = current.select(_identity_hash(pl.col("rec_key")).is_in(carried.implode()))
    kept_mask = kept.to_series()
    if int(kept_mask.sum()) != carried.len():
        return None
    return current.filter(~kept_mask), keys.filter(own)["row"], current.height + gone_before.height


def _gone_by_list(
    batch: pl.LazyFrame,
    batch_id: str,
    files: list[Path],
    old: pl.LazyFrame,
    gone_before: pl.DataFrame,
    gone_ids: Path | None,
) -> tuple[pl.DataFrame, pl.Series, int] | None:
    """As :func:`_gone_by_keys`, from ingest's list of the superseded identities the batch
    does not carry on: the current superseded records on that list are gone, and the others
    are carried exactly when their count is the count of the batch's carried rows (ingest
    pairs each superseded row with at most one new row). None without a list or when the
    counts disagree (the identities are then matched one by one)."""
    if gone_ids is None or not gone_ids.is_file():
        return None
    ids = pl.read_parquet(gone_ids, columns=["rec_id"])["rec_id"]
    n_files = sum(pq.read_metadata(p).num_rows for p in files)
    listed = old.filter(pl.col("rec_key").is_in(ids.implode()))
    gone_now = listed.join(gone_before.lazy().select("rec_key"), on="rec_key", how="anti").collect()
    rec = pl.col("rec_id") if "rec_id" in batch.collect_schema() else pl.lit(None, pl.Utf8)
    own = rec.is_null() | rec.str.starts_with(batch_id + ":")
    rows = batch.select(own=own, row=pl.col("row")).collect()
    n_carried = rows.height - int(rows["own"].sum())
    if n_files - gone_before.height - gone_now.height != n_carried:
        return None
    return gone_now, rows.filter(pl.col("own"))["row"], n_files
