"""Employer records: every delivered record that names an employer, with its linking fields.

- Each record is taken under its identity (:func:`canbao.ingest.identity.as_origin`) and
  conformed to :data:`EMPLOYER_COLUMNS`; a legacy organisation code is checked, the code that
  links (``link_org``) and the record's *variant* (``vkey``) are derived (:func:`records`).
- With a cache directory (ingested batches never change) a batch's records are computed once
  and kept; a re-delivery carries the superseded batch's records on and computes its new rows
  only (:func:`read_records`, :func:`canbao.registry.record_cache.carry`).
- :func:`fingerprint` names the set of employer-bearing records, so a build knows whether the
  employer side changed at all.

Linking them to master employers: :mod:`canbao.registry.employers`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import polars as pl

from canbao.ingest.identity import as_origin, identity_key
from canbao.ingest.kinds import EMPLOYER_KINDS
from canbao.registry import record_cache
from canbao.registry.engine import Engine
from canbao.standards import credit_code

EMPLOYER_COLUMNS: dict[str, pl.DataType] = {
    "batch_id": pl.Utf8(),
    "source": pl.Utf8(),
    "kind": pl.Utf8(),
    "as_of": pl.Date(),
    "row": pl.Int64(),
    "credit_code": pl.Utf8(),
    "cc_valid": pl.Boolean(),
    "org_code": pl.Utf8(),
    "employer_name_norm": pl.Utf8(),
    "employer_name_key": pl.Utf8(),
    "county_code": pl.Utf8(),
    "ownership": pl.Utf8(),
    "industry": pl.Utf8(),
    "risk_class": pl.Utf8(),
    "park": pl.Utf8(),
    "registered_date": pl.Date(),
    "status": pl.Utf8(),
    "si_number": pl.Utf8(),
}


# the digest's definition: a new one never meets the parts kept under an older one
_FINGERPRINT_RULE = "identity-2"


def fingerprint(
    source: Callable[[str], pl.LazyFrame | None],
    cache: Path | None = None,
    known: Delivered | None = None,
) -> str:
    """Names the set of employer-bearing records (their identities): equal between two builds
    exactly when the employer side's inputs are (an identical re-delivery keeps it). The hash
    is Polars' (stable within one version; another version only costs one employer rebuild).

    It is a count and a sum of per-record digests, so it adds up per delivered batch: with a
    ``cache`` directory (ingested batches, which never change) each batch's part is computed
    once and kept there, and a month's build reads only its new batches' records. A record's
    digest is of its identity as delivered (:func:`canbao.ingest.identity.identity_key`, the
    ``batch_id:row`` it first arrived as): no splitting of eight million tax rows' identities."""
    if cache is None:
        parts = [_identities(k, lf) for k in EMPLOYER_KINDS if (lf := source(k)) is not None]
        return _fingerprint_text(_digest([p for p in parts if p is not None]))
    n, h = 0, 0
    for kind, batch_id, batch in _delivered_batches(source, _identities, known):
        folder = cache / f"{pl.__version__}-{_FINGERPRINT_RULE}" / kind
        path = folder / f"{batch_id}.json"
        try:
            part = tuple(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            part = _digest([batch])
            folder.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}")
            tmp.write_text(json.dumps(part), encoding="utf-8")
            os.replace(tmp, path)
        n, h = n + int(part[0]), h + int(part[1])
    return _fingerprint_text((n, h))


def _fingerprint_text(part: tuple[int, int]) -> str:
    return f"{part[0]}:{part[1]}"


Delivered = dict[str, list[str]]  # kind → its delivered batches (of the kinds naming employers)


def delivered(source: Callable[[str], pl.LazyFrame | None]) -> Delivered:
    """The delivered batches of each kind that names employers (each has a cache entry). A
    build finds them once (a scan of every batch's ids) and hands them to :func:`fingerprint`
    and :func:`read_records`."""
    out: Delivered = {}
    for kind in EMPLOYER_KINDS:
        lf = source(kind)
        if lf is None or _bearing(kind, lf) is None:
            continue
        ids = lf.select(pl.col("batch_id").unique()).collect()["batch_id"].to_list()
        out[kind] = sorted(str(b) for b in ids)
    return out


def _delivered_batches(
    source: Callable[[str], pl.LazyFrame | None],
    view: Callable[[str, pl.LazyFrame], pl.LazyFrame | None] | None = None,
    known: Delivered | None = None,
) -> list[tuple[str, str, pl.LazyFrame]]:
    """(kind, delivered batch id, its employer-bearing records) for every current batch of a
    kind that names employers (a batch never changes: what is computed of it can be kept).
    The records as ``view`` gives them (default :func:`_conformed`); ``known``: the batches,
    when :func:`delivered` has found them already."""
    view = view or _conformed
    out = []
    for kind, ids in (known if known is not None else delivered(source)).items():
        lf = source(kind)
        assert lf is not None
        for batch_id in ids:
            batch = view(kind, lf.filter(pl.col("batch_id") == batch_id))
            assert batch is not None  # the same schema as the kind's
            out.append((kind, batch_id, batch))
    return out


def _conformed_all(source: Callable[[str], pl.LazyFrame | None]) -> pl.LazyFrame | None:
    frames = []
    for kind in EMPLOYER_KINDS:
        lf = source(kind)
        found = None if lf is None else _conformed(kind, lf)
        if found is not None:
            frames.append(found)
    return pl.concat(frames) if frames else None


def _digest(parts: list[pl.LazyFrame]) -> tuple[int, int]:
    """The count of these identities and the sum of their digests."""
    n, h = 0, 0
    for part in parts:
        row = part.select(
            n=pl.len(),
            # 36-bit digests: their sum fits 64 bits for up to 2^28 records
            h=(pl.col("identity").hash(seed=20171) // (1 << 28)).sum(),
        ).collect()
        n, h = n + int(row["n"][0]), h + int(row["h"][0] or 0)
    return n, h


_BEARING = ("employer_name_norm", "credit_code", "org_code")  # a record naming an employer


def _names_employers(schema: pl.Schema) -> bool:
    """Whether records of this schema can name an employer (a name or a credit code)."""
    return "employer_name_norm" in schema or "credit_code" in schema


def _bearing(kind: str, lf: pl.LazyFrame) -> pl.LazyFrame | None:
    """The delivered rows of ``kind`` that are employer records (those naming an employer, as
    delivered: before :func:`~canbao.ingest.identity.as_origin`); None when the kind names no
    employer."""
    schema = lf.collect_schema()
    if not _names_employers(schema):
        return None
    named = [pl.col(c).cast(EMPLOYER_COLUMNS[c], strict=False) for c in _BEARING if c in schema]
    return lf.filter(pl.any_horizontal([c.is_not_null() for c in named]))


def _identities(kind: str, lf: pl.LazyFrame) -> pl.LazyFrame | None:
    """The identities (``identity``) of the records of ``kind`` that :func:`_conformed` keeps
    (those naming an employer); None when the kind names no employer."""
    rows = _bearing(kind, lf)
    return None if rows is None else rows.select(identity=identity_key(lf))


def assemble(source: Callable[[str], pl.LazyFrame | None]) -> pl.LazyFrame:
    """Every employer-bearing record in :data:`EMPLOYER_COLUMNS` (a lazy query: the tax file
    has one row per employee and month, so it is streamed, never held in memory)."""
    found = _conformed_all(source)
    return pl.LazyFrame(schema=EMPLOYER_COLUMNS) if found is None else found


def _conformed(kind: str, lf: pl.LazyFrame) -> pl.LazyFrame | None:
    """The employer-bearing records of ``kind`` in :data:`EMPLOYER_COLUMNS`, each under its
    identity; None when the kind names no employer."""
    lf = as_origin(lf)  # each record under its identity, as in person_records
    schema = lf.collect_schema()
    if not _names_employers(schema):
        return None
    exprs = []
    for name, dtype in EMPLOYER_COLUMNS.items():
        if name == "kind":
            exprs.append(pl.lit(kind).alias(name))
        elif name in REGISTRY_ONLY and kind != "employer":
            # these describe the employer only in the employer registries
            exprs.append(pl.lit(None, dtype=dtype).alias(name))
        elif name in schema:
            exprs.append(pl.col(name).cast(dtype, strict=False))
        else:
            exprs.append(pl.lit(None, dtype=dtype).alias(name))
    return lf.select(exprs).filter(pl.any_horizontal([pl.col(c).is_not_null() for c in _BEARING]))


REGISTRY_ONLY = (
    "county_code", "ownership", "industry", "risk_class", "park", "registered_date", "status",
    "si_number",
)  # fmt: skip


def _org_only_codes(eng: Engine) -> None:
    """A legacy record may carry only an organisation code (no credit code): a code that passes
    its own GB 11714 check counts as valid for linking (cc_valid covers the credit code only).
    Checked once per distinct code."""
    codes = eng.fetch(
        "SELECT DISTINCT org_code FROM employer_records_raw "
        "WHERE credit_code IS NULL AND org_code IS NOT NULL"
    )["org_code"]
    check = credit_code.check_frame(codes)
    ok = (check["cc_valid"] & (check["cc_kind"] == "org_code")).fill_null(False)
    frame = pl.DataFrame({"org_raw": codes, "org_ok": ok, "org_norm": check["cc_norm"]})
    eng.create_table_from_arrow("org_only_codes", frame.to_arrow())


def records_version() -> str:
    """A digest of the code that gives employer records their linking fields: records cached
    by other code are never reused."""
    import canbao.registry.employer_records as me
    from canbao.ingest import identity

    digest = hashlib.sha256()
    for module in (me, identity, credit_code):
        digest.update(Path(str(module.__file__)).read_bytes())
    return digest.hexdigest()[:12]


def read_records(
    eng: Engine,
    source: Callable[[str], pl.LazyFrame | None],
    cache: Path | None = None,
    bases: record_cache.Superseded | None = None,
    known: Delivered | None = None,
) -> list[record_cache.Entry]:
    """``employer_records``: every employer-bearing record with its linking fields
    (:func:`records`). With a ``cache`` directory (ingested batches, which never change) they
    are computed once per delivered batch and kept there, so a build reads only its new
    batches' records and reads the others' fields from the cache. A re-delivery (``bases``:
    the batches it superseded) carries their records on and computes its new rows only, as the
    person records do (:func:`canbao.registry.record_cache.carry`). Returns the cache entries
    (none without a cache)."""
    if cache is None:
        eng.read_frame("employer_records_raw", assemble(source))
        records(eng)
        return []
    folder = cache / f"employers-{records_version()}"
    folder.mkdir(parents=True, exist_ok=True)
    entries: list[record_cache.Entry] = []
    for kind, batch_id, batch in _delivered_batches(source, _bearing, known):
        redelivery = bases(batch_id) if bases else record_cache.Redelivery([])
        olds = [folder / b for b in redelivery.bases]
        write = _writer(eng, kind, batch_id, batch, olds, redelivery.gone)
        entries.append(record_cache.kept_entry(folder, batch_id, write))
    if entries:
        record_cache.view(eng, "employer_records", entries)
    else:
        eng.read_frame("employer_records_raw", assemble(source))
        records(eng)
    return entries


def cached_entry(cache: Path, batch_id: str) -> record_cache.Entry | None:
    """The cache entry of a batch's employer records (the running code's), if kept."""
    folder = cache / f"employers-{records_version()}" / batch_id
    return record_cache.Entry.at(folder) if folder.is_dir() else None


# what a cache entry's gone list keeps of each record it no longer carries
GONE: dict[str, pl.DataType] = {"rec_key": pl.Utf8(), "batch_id": pl.Utf8(), "row": pl.Int64()}
GONE_SQL = (("rec_key", "VARCHAR"), ("batch_id", "VARCHAR"), ("row", "BIGINT"))


def _writer(
    eng: Engine,
    kind: str,
    batch_id: str,
    batch: pl.LazyFrame,
    olds: list[Path],
    gone_ids: Path | None,
) -> Callable[[Path], None]:
    """Writes a batch's entry: carried from ``olds`` when it re-delivers them, else computed
    whole."""

    def derive(rows: pl.LazyFrame, _n: int, out: Path) -> None:
        _derive_part(eng, kind, rows, out)

    def write(tmp: Path) -> None:
        if olds and record_cache.carry(batch, batch_id, olds, tmp, derive, GONE, gone_ids):
            return
        shutil.rmtree(tmp)
        tmp.mkdir()
        derive(batch, 0, tmp)

    return write


def _derive_part(eng: Engine, kind: str, rows: pl.LazyFrame, out: Path) -> None:
    """The records of these delivered rows of ``kind``, written as ``out``'s one part."""
    conformed = _conformed(kind, rows)
    assert conformed is not None  # only employer-bearing kinds have batches here
    eng.read_frame("employer_records_raw", conformed)
    records(eng)
    eng.write_parquet("employer_records", out / "part-00000.parquet")
    eng.drop("employer_records", "employer_records_raw", "org_only_codes")


def records(eng: Engine) -> None:
    """``employer_records`` from ``employer_records_raw``: a legacy organisation code checked,
    the code that links (``link_org``), the record's *variant* (``vkey``: organisation code,
    name key, county, credit code) and its identity as one key (``rec_key``, as a person
    record's). Each record's fields are its own (a batch's records can be
    computed alone)."""
    _org_only_codes(eng)
    cols = ", ".join(
        f"r.{c}" for c in EMPLOYER_COLUMNS if c not in ("cc_valid", "org_code") and c != "row"
    )
    vkey = (
        "concat_ws('|', coalesce(link_org, '~'), coalesce(employer_name_key, '~'), "
        "coalesce(county_code, '~'), coalesce(credit_code, '~'))"
    )
    eng.execute(
        f"""
        CREATE OR REPLACE TABLE employer_records AS
        WITH fixed AS (
            SELECT {cols}, r."row",
                   CASE WHEN r.credit_code IS NULL AND r.org_code IS NOT NULL
                        THEN coalesce(o.org_ok, false) ELSE r.cc_valid END AS cc_valid,
                   CASE WHEN r.credit_code IS NULL AND r.org_code IS NOT NULL
                        THEN o.org_norm ELSE r.org_code END AS org_code
            FROM employer_records_raw r
            LEFT JOIN org_only_codes o ON o.org_raw = r.org_code
        ), linked AS (
            SELECT *, CASE WHEN cc_valid AND length(org_code) = 9 THEN org_code END AS link_org
            FROM fixed
        )
        SELECT *, {vkey} AS vkey, batch_id || ':' || CAST("row" AS VARCHAR) AS rec_key
        FROM linked
        """
    )
