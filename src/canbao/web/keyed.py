"""Per-build copies of registry tables sorted by person key or by employer key: what the person
and employer 360 pages read instead of scanning whole tables.

A 360 page needs one person's (one employer's) rows of tables of tens of millions of rows
(``links``, ``enrollments``, ``employer_links`` …). The snapshot's tables are not ordered by
that key, so a filtered scan reads every row group: 0.2–0.8 s per table on a city of 5 million
residents, all of a core. Once per registry build the web therefore writes copies of what the
pages read, sorted by the key, in row groups of :data:`ROW_GROUP` rows, into
``DATA/web/by-person-<build_id>/`` and ``DATA/web/by-employer-<build_id>/`` (one Parquet file
per part, see :data:`PERSONS` and :data:`EMPLOYERS`): DuckDB sorts with bounded memory, spilling
to the data directory's scratch folder, on half the cores; the folder is written under a
temporary name and renamed when complete, and older builds' folders are removed once a newer
one is ready. A process reads each file's footer once and keeps the smallest and largest key of
every row group; a look-up binary-searches them and reads the one or two row groups that can
hold the key (a few milliseconds), never the whole table.

The copies are made in a background thread (:func:`warm`: at start-up, when a new build
appears, on first use), one at a time (:data:`BUILD_LOCK`, shared with the search index).
:func:`ready` gives the current build's set when it is ready, else the newest set this process
has (the previous build's, while the current one is made: the page says which build it shows),
else None — the pages then read the snapshot as they did before.
"""

from __future__ import annotations

import bisect
import json
import logging
import os
import shutil
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from canbao.errors import StateError
from canbao.registry import snapshot
from canbao.registry.engine import DuckDBEngine
from canbao.warehouse.sql import sql_path
from canbao.web.state import WebState

ROW_GROUP = 8192
FORMAT = 1  # the folder's format (done.json); another format is made again
DONE = "done.json"
INDEX_DIR = "web"
RETRY_S = 600.0  # a failed build is tried again after this long
MEMORY = "3GB"  # DuckDB's memory cap while sorting (it spills beyond; the web process is small)
BUILD_LOCK = threading.Lock()  # one background index build at a time (this process)
log = logging.getLogger("canbao.web.keyed")

PERSON_COLUMNS = (
    "person_key", "name", "id18", "sex", "birth_date", "county_code", "township",
    "household_id", "phone", "death_date", "id_status", "n_records", "sources",
)  # fmt: skip
# For each record the model linked, the best probability of a pair between its node and another
# node of the same person (what the person page shows; the set form of the per-person reads of
# ``node_members`` and ``pairs`` in canbao.web.person_view._probabilities).
PROBS_SQL = """
    WITH mp AS (SELECT DISTINCT person_key FROM links WHERE method = 'model'),
    lk AS (
        SELECT l.person_key, l.rec_key, l.method = 'model' AS model
        FROM links l JOIN mp ON mp.person_key = l.person_key
    ), mem AS (
        SELECT lk.person_key, lk.rec_key, lk.model, m.node_id
        FROM lk JOIN node_members m ON m.rec_key = lk.rec_key
    ), pn AS (SELECT DISTINCT person_key, node_id FROM mem),
    pp AS (
        SELECT a.person_key, p.node_id_l, p.node_id_r, p.match_probability
        FROM pairs p
        JOIN pn a ON a.node_id = p.node_id_l
        JOIN pn b ON b.node_id = p.node_id_r AND b.person_key = a.person_key
    ), best AS (
        SELECT person_key, node_id, max(match_probability) AS match_probability FROM (
            SELECT person_key, node_id_l AS node_id, match_probability FROM pp
            UNION ALL SELECT person_key, node_id_r AS node_id, match_probability FROM pp
        ) x GROUP BY person_key, node_id
    )
    SELECT m.person_key, m.rec_key, max(b.match_probability) AS match_probability
    FROM mem m JOIN best b ON b.person_key = m.person_key AND b.node_id = m.node_id
    WHERE m.model
    GROUP BY m.person_key, m.rec_key
"""


@dataclass(frozen=True)
class Kind:
    """A family of copies sorted by ``key``: the snapshot tables it reads (DuckDB views of the
    same names) and its parts, name → SELECT ({persons} stands for the persons' columns)."""

    prefix: str
    key: str
    tables: tuple[str, ...]
    parts: tuple[tuple[str, str], ...]


PERSONS = Kind(
    "by-person",
    "person_key",
    (
        "persons",
        "links",
        "enrollments",
        "id_corrections",
        "likely_owners",
        "employers",
        "node_members",
        "pairs",
    ),  # fmt: skip
    (
        ("persons", "SELECT {persons} FROM persons"),
        (
            "links",
            'SELECT source, "row", person_key, batch_id, kind, scheme, method,'
            " CASE WHEN method = 'model' THEN rec_key END AS rec_key FROM links",
        ),
        (
            "enrollments",
            "SELECT e.*, m.name AS employer_name FROM enrollments e"
            " LEFT JOIN (SELECT employer_key, name FROM employers) m"
            " ON m.employer_key = e.employer_key",
        ),
        ("corrections", "SELECT * FROM id_corrections"),
        ("likely", "SELECT person_key, other_key FROM likely_owners"),
        ("probs", PROBS_SQL),
    ),
)
EMPLOYERS = Kind(
    "by-employer",
    "employer_key",
    ("employer_links", "enrollments"),
    (
        ("employer_links", "SELECT * FROM employer_links"),
        (
            "enrolled",
            "SELECT employer_key, scheme, person_key FROM enrollments WHERE status = 'active'",
        ),
    ),
)


# ---- reading ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Table:
    """One sorted file: its footer, schema and the key range of every row group."""

    path: Path
    key: str
    meta: pq.FileMetaData
    schema: pa.Schema
    mins: list[str]
    maxs: list[str]
    ordered: bool  # the row groups' key ranges follow each other (the file is sorted)

    @classmethod
    def open(cls, path: Path, key: str) -> Table:
        meta = pq.read_metadata(path)
        schema = meta.schema.to_arrow_schema()
        col = schema.get_field_index(key)
        mins: list[str] = []
        maxs: list[str] = []
        for i in range(meta.num_row_groups):  # the footer's statistics, not the rows
            stats = meta.row_group(i).column(col).statistics
            if stats is None or not stats.has_min_max:
                raise StateError(
                    "网页索引文件缺少统计信息，将重新生成", f"{path.name}: no key statistics"
                )
            mins.append(str(stats.min))
            maxs.append(str(stats.max))
        ordered = all(a <= b for a, b in zip(maxs, mins[1:], strict=False))
        return cls(path, key, meta, schema, mins, maxs, ordered)

    def groups(self, value: str) -> list[int]:
        """The row groups whose key range holds ``value``: a binary search when the file is
        sorted by the key, else a pass over the ranges (footer statistics, not rows)."""
        if self.ordered:
            first = bisect.bisect_left(self.maxs, value)
            return list(range(first, bisect.bisect_right(self.mins, value)))
        pairs = zip(self.mins, self.maxs, strict=True)
        return [i for i, (lo, hi) in enumerate(pairs) if lo <= value <= hi]

    def rows(self, value: str) -> pl.DataFrame:
        """The rows whose key is ``value``: one or two row groups read."""
        groups = self.groups(value)
        if not groups:
            return pl.from_arrow(self.schema.empty_table())  # type: ignore[return-value]
        with pq.ParquetFile(self.path, metadata=self.meta) as f:
            got = f.read_row_groups(groups, use_threads=False)
        frame = pl.from_arrow(got)
        assert isinstance(frame, pl.DataFrame)
        return frame.filter(pl.col(self.key) == value)


@dataclass(frozen=True)
class KeyedSet:
    """The ready copies of one build."""

    kind: Kind
    build_id: str
    tables: dict[str, Table]

    def rows(self, part: str, value: str) -> pl.DataFrame:
        return self.tables[part].rows(value)


def folder(data_dir: Path, kind: Kind, build_id: str) -> Path:
    return data_dir / INDEX_DIR / f"{kind.prefix}-{build_id}"


def _open(path: Path, kind: Kind, build_id: str) -> KeyedSet | None:
    """The set in ``path`` when it is complete and of this format, else None."""
    try:
        done = json.loads((path / DONE).read_text(encoding="utf-8"))
        if done.get("format") != FORMAT or done.get("build_id") != build_id:
            return None
        tables = {name: Table.open(path / f"{name}.parquet", kind.key) for name, _ in kind.parts}
    except (OSError, ValueError, StateError, pa.ArrowException):
        return None
    return KeyedSet(kind, build_id, tables)


# ---- making -------------------------------------------------------------------------------


def _select(kind: Kind, sql: str, snap: snapshot.Snapshot) -> str:
    if "{persons}" in sql:
        have = snap.scan("persons").collect_schema().names()
        sql = sql.replace("{persons}", ", ".join(f'"{c}"' for c in PERSON_COLUMNS if c in have))
    return f"SELECT * FROM ({sql}) t WHERE {kind.key} IS NOT NULL ORDER BY {kind.key}"


def make(data_dir: Path, snap: snapshot.Snapshot, kind: Kind, threads: int | None = None) -> Path:
    """Write ``kind``'s copies of ``snap`` (nothing when they are there) and remove older
    builds' copies; the folder."""
    final = folder(data_dir, kind, snap.build_id)
    if _open(final, kind, snap.build_id) is not None:
        return final
    missing = [t for t in kind.tables if not snap.has(t)]
    if missing:
        raise StateError(
            f"登记库版本 {snap.build_id} 缺少 {'、'.join(missing)}，请重新运行 canbao build",
            f"snapshot {snap.build_id} lacks {missing}",
        )
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".tmp-{final.name}-{os.getpid()}-{uuid.uuid4().hex[:6]}")
    tmp.mkdir()
    try:
        with DuckDBEngine(data_dir=data_dir) as eng:
            eng.execute(f"SET threads = {threads or max(1, (os.cpu_count() or 2) // 2)}")
            eng.execute(f"SET memory_limit = '{MEMORY}'")
            for table in kind.tables:
                snap.register(eng, table)
            for name, sql in kind.parts:
                eng.execute(
                    f"COPY ({_select(kind, sql, snap)}) TO {sql_path(tmp / f'{name}.parquet')}"
                    f" (FORMAT parquet, ROW_GROUP_SIZE {ROW_GROUP}, COMPRESSION zstd)"
                )
        done = {"format": FORMAT, "build_id": snap.build_id, "key": kind.key}
        (tmp / DONE).write_text(json.dumps(done), encoding="utf-8")
        try:
            tmp.rename(final)
        except OSError:  # another process made it meanwhile
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    prune(data_dir, kind, keep=final)
    return final


def prune(data_dir: Path, kind: Kind, keep: Path) -> None:
    """Remove ``kind``'s folders of other builds, and temporary folders an hour old (another
    process may be writing its own)."""
    stale = time.time() - 3600
    for old in (data_dir / INDEX_DIR).glob(f"*{kind.prefix}-*"):
        try:
            if old.name.startswith(kind.prefix) and old != keep:
                shutil.rmtree(old, ignore_errors=True)
            elif old.name.startswith(".tmp-") and old.stat().st_mtime < stale:
                shutil.rmtree(old, ignore_errors=True)
        except OSError:
            continue


# ---- the process's sets ---------------------------------------------------------------------


@dataclass
class _Box:
    lock: threading.Lock = field(default_factory=threading.Lock)
    ready: dict[str, KeyedSet] = field(default_factory=dict)  # kind → newest ready set
    making: dict[str, str] = field(default_factory=dict)  # kind → build being made
    failed: dict[tuple[str, str], float] = field(default_factory=dict)  # (kind, build) → when


def _box(st: WebState) -> _Box:
    found = st.extra.get("keyed")
    if not isinstance(found, _Box):
        found = st.extra.setdefault("keyed", _Box())
    assert isinstance(found, _Box)
    return found


def ready(st: WebState, kind: Kind) -> KeyedSet | None:
    """The current build's set when it is ready; else the newest set this process has (its
    build is older: the current one's is being made, started here) or None."""
    snap = snapshot.current(st.data_dir)
    if snap is None:
        return None
    box = _box(st)
    have = box.ready.get(kind.prefix)
    if have is not None and have.build_id == snap.build_id:
        return have
    found = _open(folder(st.data_dir, kind, snap.build_id), kind, snap.build_id)
    if found is not None:  # made by this process's background thread or by another process
        with box.lock:
            box.ready[kind.prefix] = found
        return found
    warm(st, kind, snap)
    return have


def _busy(box: _Box, kind: Kind, build_id: str) -> bool:
    """Ready, being made, or failed less than :data:`RETRY_S` ago (the caller holds the lock)."""
    have = box.ready.get(kind.prefix)
    failed = box.failed.get((kind.prefix, build_id))
    return (
        (have is not None and have.build_id == build_id)
        or box.making.get(kind.prefix) == build_id
        or (failed is not None and time.monotonic() - failed < RETRY_S)
    )


def warm(st: WebState, kind: Kind, snap: snapshot.Snapshot | None = None) -> None:
    """Start making ``kind``'s set of the current build in a background thread (nothing when
    it is ready, being made, or failed less than :data:`RETRY_S` ago)."""
    snap = snap or snapshot.current(st.data_dir)
    if snap is None:
        return
    box = _box(st)
    with box.lock:
        if _busy(box, kind, snap.build_id):
            return
    threading.Thread(
        target=ensure, args=(st, kind, snap), name=f"canbao-{kind.prefix}", daemon=True
    ).start()


def ensure(st: WebState, kind: Kind, snap: snapshot.Snapshot) -> None:
    """Make ``kind``'s set of ``snap`` and keep it as this process's newest (nothing when it is
    ready, being made by another thread, or failed less than :data:`RETRY_S` ago). Failures
    are logged, not raised: the pages read the snapshot meanwhile."""
    box = _box(st)
    with box.lock:
        if _busy(box, kind, snap.build_id):
            return
        box.making[kind.prefix] = snap.build_id
    try:
        with BUILD_LOCK:
            path = make(st.data_dir, snap, kind)
        found = _open(path, kind, snap.build_id)
        if found is None:
            raise StateError("网页索引无法读取", f"{path.name}: unreadable after writing")
        with box.lock:
            box.ready[kind.prefix] = found
    except Exception:  # noqa: BLE001 - the pages read the snapshot meanwhile; tried again later
        log.exception("making %s of build %s failed", kind.prefix, snap.build_id)
        with box.lock:
            box.failed[(kind.prefix, snap.build_id)] = time.monotonic()
    finally:
        with box.lock:
            if box.making.get(kind.prefix) == snap.build_id:
                del box.making[kind.prefix]
