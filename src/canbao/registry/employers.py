"""Employer linkage and master employers.

- Records with a valid unified social credit code or organisation code link on the organisation
  code (positions 9–17 of a credit code are the legacy organisation code: 五证合一 links old and
  new registrations).
- Records with no valid code link on the normalised name (legal-form suffix removed) within the
  county, or on the name alone where it is unique among coded employers; otherwise they form a
  surrogate employer per (name, county).
- Master employer fields come from the employer registries (newest extract first): name,
  ownership type, industry, work-injury risk class, county, park flag, registration date,
  status; ``si_registered`` says whether the social-insurance employer registry knows it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

import polars as pl

from canbao.ingest.identity import as_origin, identity_key
from canbao.ingest.kinds import EMPLOYER_KINDS
from canbao.registry import record_cache, survivorship
from canbao.registry.engine import Engine
from canbao.registry.snapshot_layers import merged_sql
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


def fingerprint(source: Callable[[str], pl.LazyFrame | None], cache: Path | None = None) -> str:
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
    for kind, batch_id, batch in _delivered_batches(source, _identities):
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


def _delivered_batches(
    source: Callable[[str], pl.LazyFrame | None],
    view: Callable[[str, pl.LazyFrame], pl.LazyFrame | None] | None = None,
) -> list[tuple[str, str, pl.LazyFrame]]:
    """(kind, delivered batch id, its employer-bearing records) for every current batch of a
    kind that names employers (a batch never changes: what is computed of it can be kept).
    The records as ``view`` gives them (default :func:`_conformed`)."""
    view = view or _conformed
    out = []
    for kind in EMPLOYER_KINDS:
        lf = source(kind)
        if lf is None or view(kind, lf) is None:
            continue
        ids = lf.select(pl.col("batch_id").unique()).collect()["batch_id"].to_list()
        for batch_id in sorted(str(b) for b in ids):
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


# intermediate tables, dropped by the build once the stage is done
WORK_TABLES = (
    "employer_records_raw",
    "org_only_codes",
    "employer_records",
    "employer_variants",
    "employer_name_index",
    "employer_variant_cluster",
    "employer_groups",
    "ev_moved",
    "er_new",
    "er_dropped",
)


def records_version() -> str:
    """A digest of the code that gives employer records their linking fields: records cached
    by other code are never reused."""
    import canbao.registry.employers as me
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
    for kind, batch_id, batch in _delivered_batches(source, _bearing):
        final = folder / batch_id
        if not final.is_dir():
            # a name of its own: another process caching the same batch never touches it
            tmp = folder / f".tmp-{batch_id}-{uuid.uuid4().hex[:12]}"
            tmp.mkdir()
            redelivery = bases(batch_id) if bases else record_cache.Redelivery([])
            olds = [folder / b for b in redelivery.bases]

            def derive(rows: pl.LazyFrame, _n: int, out: Path, kind: str = kind) -> None:
                _derive_part(eng, kind, rows, out)

            carried = olds and record_cache.carry(
                batch, batch_id, olds, tmp, derive, GONE, redelivery.gone
            )
            if not carried:
                shutil.rmtree(tmp)
                tmp.mkdir()
                derive(batch, 0, tmp)
            try:
                os.replace(tmp, final)
            except OSError:
                if not final.is_dir():
                    raise
                shutil.rmtree(tmp)  # cached meanwhile by another process: same content
        entries.append(record_cache.Entry.at(final))
    if entries:
        record_cache.view(eng, "employer_records", entries)
    else:
        eng.read_frame("employer_records_raw", assemble(source))
        records(eng)
    return entries


def batch_ids(source: Callable[[str], pl.LazyFrame | None]) -> list[str]:
    """The delivered batches of the kinds that name employers (each has a cache entry)."""
    return sorted(b for _kind, b, _lf in _delivered_batches(source, _bearing))


def cached_entry(cache: Path, batch_id: str) -> record_cache.Entry | None:
    """The cache entry of a batch's employer records (the running code's), if kept."""
    folder = cache / f"employers-{records_version()}" / batch_id
    return record_cache.Entry.at(folder) if folder.is_dir() else None


# what a cache entry's gone list keeps of each record it no longer carries
GONE: dict[str, pl.DataType] = {"rec_key": pl.Utf8(), "batch_id": pl.Utf8(), "row": pl.Int64()}
_GONE_SQL = (("rec_key", "VARCHAR"), ("batch_id", "VARCHAR"), ("row", "BIGINT"))


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


def link(eng: Engine) -> None:
    """Link every employer record (``employer_records``) to a master employer: ``employers``,
    ``employer_vkeys`` and ``employer_links``."""
    masters(eng)
    links(eng)


def masters(eng: Engine) -> None:
    """``employers`` and ``employer_vkeys`` (each variant's master employer and how it was
    linked) from ``employer_records``. The linking rules see only a record's *variant*: they
    run once per distinct variant, not once per record (the tax file repeats each employer for
    every employee and month), and the master's fields are aggregated per variant before per
    employer."""
    d = eng.dialect
    ekey_o = "'E' || " + d.hash_hex("'canbao-employer:' || substr(cluster_id, 3)", 15)
    ekey_n = "'N' || " + d.hash_hex("'canbao-employer-name:' || substr(cluster_id, 3)", 15)
    eng.execute(
        """
        CREATE OR REPLACE TABLE employer_variants AS
        SELECT vkey, min(link_org) AS link_org, min(employer_name_key) AS employer_name_key,
               min(county_code) AS county_code, min(credit_code) AS credit_code
        FROM employer_records GROUP BY vkey
        """
    )
    # the coded employers' names per county, and city-wide (county NULL). Not GROUPING SETS: a
    # variant without county would give a per-county row with county NULL too, and a record of
    # that name linked twice
    eng.execute(
        """
        CREATE OR REPLACE TABLE employer_name_index AS
        WITH coded AS (
            SELECT * FROM employer_variants
            WHERE link_org IS NOT NULL AND employer_name_key IS NOT NULL
        )
        SELECT employer_name_key, county_code, min(link_org) AS link_org,
               count(DISTINCT link_org) AS n_org
        FROM coded WHERE county_code IS NOT NULL
        GROUP BY employer_name_key, county_code
        UNION ALL
        SELECT employer_name_key, CAST(NULL AS VARCHAR) AS county_code,
               min(link_org) AS link_org, count(DISTINCT link_org) AS n_org
        FROM coded GROUP BY employer_name_key
        """
    )
    eng.execute(
        f"""
        CREATE OR REPLACE TABLE employer_variant_cluster AS
        WITH coded AS (
            SELECT vkey, 'O:' || link_org AS cluster_id, 'code' AS method
            FROM employer_variants WHERE link_org IS NOT NULL
        ), by_county AS (
            SELECT r.vkey, 'O:' || i.link_org AS cluster_id, 'name_county' AS method
            FROM employer_variants r
            JOIN employer_name_index i
              ON i.employer_name_key = r.employer_name_key AND i.county_code = r.county_code
            WHERE r.link_org IS NULL AND i.n_org = 1
        ), by_name AS (
            SELECT r.vkey, 'O:' || i.link_org AS cluster_id, 'name' AS method
            FROM employer_variants r
            JOIN employer_name_index i
              ON i.employer_name_key = r.employer_name_key AND i.county_code IS NULL
            WHERE r.link_org IS NULL AND i.n_org = 1
              AND r.vkey NOT IN (SELECT vkey FROM by_county)
        ), linked AS (
            SELECT * FROM coded UNION ALL SELECT * FROM by_county UNION ALL SELECT * FROM by_name
        ), rest AS (
            SELECT r.vkey,
                   'N:' || coalesce(r.employer_name_key, r.credit_code, '') || '|'
                        || coalesce(r.county_code, '') AS cluster_id,
                   'surrogate' AS method
            FROM employer_variants r WHERE r.vkey NOT IN (SELECT vkey FROM linked)
        ), allc AS (SELECT * FROM linked UNION ALL SELECT * FROM rest)
        SELECT vkey, cluster_id, method,
               CASE WHEN cluster_id LIKE 'O:%' THEN {ekey_o} ELSE {ekey_n} END AS employer_key
        FROM allc
        """
    )
    order_key = survivorship.pick_order(d)
    eng.execute(
        f"""
        CREATE OR REPLACE TABLE employer_groups AS
        SELECT r.vkey, r.source, r.employer_name_norm,
               CASE WHEN r.kind = 'employer' THEN 0 ELSE 1 END AS rank_kind,
               count(*) AS n, max(r.as_of) AS latest,
               min(CASE WHEN r.cc_valid AND length(r.credit_code) = 18 THEN {order_key} END)
                   AS cc_pick
        FROM employer_records r LEFT JOIN source_order so ON so.source = r.source
        GROUP BY 1, 2, 3, 4
        """
    )
    picks = ",\n".join(
        f"arg_min({f}, {order_key}) FILTER (WHERE {f} IS NOT NULL) AS {f}"
        for f in ("ownership", "industry", "risk_class", "county_code", "park",
                  "registered_date", "status")
    )  # fmt: skip
    eng.execute(
        f"""
        CREATE OR REPLACE TABLE employers AS
        WITH g AS (
            SELECT g.*, c.employer_key, v.link_org, v.credit_code
            FROM employer_groups g
            JOIN employer_variant_cluster c USING (vkey)
            JOIN employer_variants v USING (vkey)
        ), names AS (
            SELECT employer_key, employer_name_norm, min(rank_kind) AS rank_kind,
                   sum(n) AS n, max(latest) AS latest
            FROM g WHERE employer_name_norm IS NOT NULL
            GROUP BY employer_key, employer_name_norm
        ), name_pick AS (
            SELECT employer_key, arg_min(employer_name_norm, rk) AS name FROM (
                SELECT *, row_number() OVER (PARTITION BY employer_key
                    ORDER BY rank_kind, latest DESC, n DESC, employer_name_norm) AS rk
                FROM names) GROUP BY employer_key
        ), registry AS (
            -- the employer registries' records (few): the fields only they describe
            SELECT c.employer_key, {picks},
                   bool_or(r.si_number IS NOT NULL) AS si_registered
            FROM employer_records r
            JOIN employer_variant_cluster c USING (vkey)
            LEFT JOIN source_order so ON so.source = r.source
            WHERE r.kind = 'employer'
            GROUP BY c.employer_key
        ), agg AS (
            SELECT employer_key,
                   arg_min(credit_code, cc_pick) FILTER (WHERE cc_pick IS NOT NULL)
                       AS credit_code,
                   min(link_org) AS org_code,
                   {d.sorted_set("source")} AS sources,
                   CAST(sum(n) AS BIGINT) AS n_records
            FROM g GROUP BY employer_key
        )
        SELECT a.employer_key, a.credit_code, a.org_code, np.name,
               x.ownership, x.industry, x.risk_class, x.county_code, x.park,
               x.registered_date, x.status,
               coalesce(x.si_registered, false) AS si_registered,
               a.sources, a.n_records
        FROM agg a
        LEFT JOIN name_pick np USING (employer_key)
        LEFT JOIN registry x USING (employer_key)
        ORDER BY a.employer_key
        """
    )
    eng.execute(
        "CREATE OR REPLACE TABLE employer_vkeys AS "
        "SELECT vkey, employer_key, method FROM employer_variant_cluster"
    )


_LINK = 'r.source, r."row", c.employer_key, r.batch_id, r.kind, c.method'
LINK_COLUMNS = ("source", "row", "employer_key", "batch_id", "kind", "method")


def links(eng: Engine) -> None:
    """``employer_links``: every record's master employer (its variant's)."""
    eng.execute(
        f"""
        CREATE OR REPLACE TABLE employer_links AS
        SELECT {_LINK} FROM employer_records r JOIN employer_variant_cluster c USING (vkey)
        """
    )


def link_changes(
    eng: Engine,
    added: list[record_cache.Entry],
    removed: list[record_cache.Entry],
    prev_links: str,
    prev_vkeys: str,
) -> None:
    """``employer_links__rows`` / ``__gone`` (:mod:`canbao.registry.snapshot_layers`) and the
    merged view ``employer_links``, once :func:`masters` has run: the links of the previous
    build (``prev_links``, its variants' ``prev_vkeys``) updated by what changed since. The
    cache entries ``added`` and ``removed`` are the employer batches that came and went.

    A record's link is its variant's, so only these rows change: the records of the added
    batches' own parts (a re-delivery's carried records are the superseded batch's, already
    linked), the records whose variant links elsewhere now (another employer or method: a
    name that became ambiguous, a code that appeared) and the records no batch carries any
    more (gone)."""
    eng.execute(
        f"""
        CREATE OR REPLACE TABLE ev_moved AS
        SELECT n.vkey FROM employer_variant_cluster n
        LEFT JOIN {prev_vkeys} o ON o.vkey = n.vkey
        WHERE o.vkey IS NULL OR o.employer_key <> n.employer_key OR o.method <> n.method
        """
    )
    own = [e.own for e in added if e.own]
    fresh = "SELECT * FROM employer_records WHERE false"
    if own:
        eng.parquet_view("er_new", [p for parts in own for p in parts])
        fresh = "SELECT * FROM er_new"
    cols = 'source, "row", batch_id, kind, vkey'
    eng.execute(
        f"""
        CREATE OR REPLACE TABLE employer_links__rows AS
        WITH r AS (
            SELECT {cols} FROM ({fresh}) AS f
            UNION
            SELECT {cols} FROM employer_records
            WHERE vkey IN (SELECT vkey FROM ev_moved)
        )
        SELECT {_LINK} FROM r JOIN employer_variant_cluster c USING (vkey)
        """
    )
    record_cache.dropped(eng, "er_dropped", removed, added, _GONE_SQL)
    eng.execute(
        """
        CREATE OR REPLACE TABLE employer_links__gone AS
        SELECT batch_id, "row" FROM er_dropped
        UNION SELECT batch_id, "row" FROM employer_links__rows
        """
    )
    eng.create_view(
        "employer_links",
        merged_sql(
            prev_links,
            "employer_links__rows",
            "employer_links__gone",
            ("batch_id", "row"),
            LINK_COLUMNS,
        ),
    )
