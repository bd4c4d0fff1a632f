"""One analysis session: the registry snapshot and current ingest records as views of an engine.

Every coverage module works on the views and tables of a :class:`Session` with set-based SQL
(in the subset DuckDB and Spark share; engine differences go through
:mod:`canbao.registry.dialect`), run by the session's :class:`~canbao.registry.engine.Engine`:
DuckDB (default) or Spark (``engine="spark"`` or ``$CANBAO_ENGINE``). On DuckDB a derived table is
a table of the connection; on Spark a materialised temporary view. Derived tables are built once
per session, on first use.

Views: ``persons``, ``links``, ``enrollments``, ``employers``, ``employer_links``,
``likely_owners`` (registry snapshot; ``links`` carries each record's name pinyin and birth date;
a snapshot from before ``likely_owners`` existed is refused with a request to rebuild) and
``records_population``, ``records_death``, ``records_special_group``, ``records_employment``,
``records_declaration``, ``records_enrollment``, ``records_payment``, ``records_arrears``
(current ingest batches; empty when a kind was never ingested), each read through
``cov_<kind>`` with the columns of :data:`RECORD_COLUMNS`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import polars as pl
import pyarrow.parquet as pq

from canbao.coverage.policy import Policy, policy_for
from canbao.errors import CanbaoError, NotFoundError, StateError
from canbao.registry import snapshot
from canbao.registry.dialect import Dialect
from canbao.registry.engine import DuckDBEngine, Engine, engine_name, open_engine
from canbao.warehouse import catalog
from canbao.warehouse.datadir import DataLayout
from canbao.warehouse.scope import Scope

SNAPSHOT_VIEWS = (
    "persons",
    "links",
    "enrollments",
    "employers",
    "employer_links",
    "likely_owners",  # the registry's owner candidates of records without ID (registry.owners)
)

# Columns the coverage SQL reads from ingest records, per kind (empty tables when not ingested).
RECORD_COLUMNS: dict[str, dict[str, str]] = {
    "population": {
        "batch_id": "VARCHAR", "row": "BIGINT", "as_of": "DATE", "hukou_status": "VARCHAR",
        "event": "VARCHAR", "event_date": "DATE",
    },
    "death": {"batch_id": "VARCHAR", "row": "BIGINT", "as_of": "DATE", "death_date": "DATE"},
    "special_group": {
        "batch_id": "VARCHAR", "row": "BIGINT", "as_of": "DATE", "group": "VARCHAR",
        "start_date": "DATE", "end_date": "DATE", "county_code": "VARCHAR", "township": "VARCHAR",
    },
    "employment": {
        "batch_id": "VARCHAR", "row": "BIGINT", "as_of": "DATE", "period": "VARCHAR",
        "wage": "BIGINT",
    },
    "declaration": {
        "batch_id": "VARCHAR", "row": "BIGINT", "as_of": "DATE", "period": "VARCHAR",
        "scheme": "VARCHAR", "headcount": "BIGINT", "base": "BIGINT", "due": "BIGINT",
    },
    # the managing agency of an enrolment (its record joins enrollments on batch_id, row)
    "enrollment": {"batch_id": "VARCHAR", "row": "BIGINT", "agency_code": "VARCHAR"},
    # the contribution ledger's inputs (rows join employer_links on batch_id, row)
    "payment": {
        "batch_id": "VARCHAR", "row": "BIGINT", "as_of": "DATE", "period": "VARCHAR",
        "scheme": "VARCHAR", "paid": "BIGINT", "paid_date": "DATE", "txn_id": "VARCHAR",
    },
    "arrears": {
        "batch_id": "VARCHAR", "row": "BIGINT", "as_of": "DATE", "period": "VARCHAR",
        "scheme": "VARCHAR", "amount": "BIGINT", "arrears_as_of": "DATE",
        "county_code": "VARCHAR",
    },
}  # fmt: skip


@dataclass
class Session:
    data_dir: Path
    eng: Engine
    as_of: dt.date
    policy: Policy
    build_id: str
    scope: Scope  # who reads: the analyses run city-wide, what is returned is in this scope
    _built: set[str] = field(default_factory=set)

    @property
    def dialect(self) -> Dialect:
        return self.eng.dialect

    @property
    def day(self) -> str:
        """The as-of date as a SQL literal."""
        return f"DATE '{self.as_of.isoformat()}'"

    def ensure(self, name: str, builder: Callable[[Session], None]) -> None:
        """Build a derived table once per session."""
        if name not in self._built:
            builder(self)
            self._built.add(name)

    def built(self, name: str) -> bool:
        """Whether :meth:`ensure` has built ``name`` in this session."""
        return name in self._built

    def execute(self, sql: str) -> None:
        self.eng.execute(sql)

    def frame(self, sql: str) -> pl.DataFrame:
        return self.eng.fetch(sql)

    def close(self) -> None:
        self.eng.close()


class _NoPolicy:
    """Stands for the coverage policy on a date no version of it covers (a ledger as of a day
    before the bureau's first version): the contribution ledger, the arrears list and the KPIs
    never read it; a rule that does raises the policy's own error then."""

    def __init__(self, error: CanbaoError) -> None:
        self._error = error

    def __getattr__(self, name: str) -> Any:
        raise self._error


def _policy_on(day: dt.date, path: Path | None) -> Policy:
    try:
        return policy_for(day, path)
    except NotFoundError as e:
        return cast(Policy, _NoPolicy(e))


def _data_as_of(eng: Engine) -> dt.date | None:
    value = eng.scalar("SELECT max(as_of) FROM enrollments")
    return value if isinstance(value, dt.date) else None


def current_record_files(data_dir: Path) -> dict[str, list[Path]]:
    """The Parquet files of the current ingest batches, per record kind (the files behind
    :func:`canbao.warehouse.catalog.connect`'s ``records_<kind>`` views)."""
    layout = DataLayout(data_dir)
    out: dict[str, list[Path]] = {}
    for b in catalog.list_batches(data_dir):
        if b.current:
            out.setdefault(b.kind, []).append(layout.batch(b.batch_id) / "records.parquet")
    return out


def _columns(files: list[Path]) -> set[str]:
    """The column names of Parquet files, merged by name (their footers only)."""
    return {name for f in files for name in pq.read_schema(f).names}


def records_view_sql(kind: str, have: set[str] | None) -> str:
    """``cov_<kind>``: the columns coverage reads from ``records_<kind>`` (NULL where the
    batches lack one), then ``file_batch``: the batch whose file holds the row (``batch_id`` is
    the row's identity's, an older batch for a re-delivery's unchanged row; a filter on
    ``file_batch`` reads those files only); an empty view when the kind was never ingested
    (``have`` is None)."""
    cols = RECORD_COLUMNS[kind]
    if have is None:
        sel = ", ".join(f'CAST(NULL AS {t}) AS "{c}"' for c, t in cols.items())
        return (
            f"CREATE OR REPLACE VIEW cov_{kind} AS SELECT {sel}, "
            "CAST(NULL AS VARCHAR) AS file_batch WHERE 1 = 0"
        )
    origin = _origin_columns(have)
    sel = ", ".join(
        origin[c] if c in origin else f'"{c}"' if c in have else f'CAST(NULL AS {t}) AS "{c}"'
        for c, t in cols.items()
    )
    return (
        f"CREATE OR REPLACE VIEW cov_{kind} AS SELECT {sel}, batch_id AS file_batch "
        f"FROM records_{kind}"
    )


def _origin_columns(have: set[str]) -> dict[str, str]:
    """Each record under its identity, as the registry names it
    (:func:`canbao.ingest.identity.as_origin`): the batch, row and as-of date where its
    content first arrived, so the rows join ``links`` and ``employer_links``."""
    if "rec_id" not in have:
        return {}
    as_of = "coalesce(rec_as_of, as_of)" if "rec_as_of" in have else "as_of"
    return {
        "batch_id": "CASE WHEN rec_id IS NULL THEN batch_id "
        "ELSE regexp_extract(rec_id, '^(.*):([0-9]+)$', 1) END AS batch_id",
        "row": 'CASE WHEN rec_id IS NULL THEN "row" '
        "ELSE CAST(regexp_extract(rec_id, '^(.*):([0-9]+)$', 2) AS BIGINT) END AS \"row\"",
        "as_of": f"{as_of} AS as_of",
    }


def open_session(
    data_dir: Path,
    scope: Scope,
    as_of: dt.date | None = None,
    policy_path: Path | None = None,
    *,
    engine: str | None = None,
    spark_master: str | None = None,
) -> Session:
    """Open the current registry snapshot and ingest records of ``data_dir`` for a reader
    (``scope``; batch jobs name theirs with :meth:`~canbao.warehouse.scope.Scope.system`).

    ``as_of`` defaults to the extract date of the enrolment data (the latest ``as_of``).
    ``engine``: ``duckdb`` or ``spark`` (default ``$CANBAO_ENGINE``, else DuckDB);
    ``spark_master``: see :func:`canbao.registry.engine.open_engine`."""
    snap = snapshot.require_current(data_dir)
    missing = [name for name in SNAPSHOT_VIEWS if not snap.has(name)]
    if missing:
        # an older build: the lists would silently lose what the missing tables carry
        raise StateError(
            f"登记库版本 {snap.build_id} 由旧版程序生成，缺少 {'、'.join(missing)}，"
            "请先重新运行 canbao build（增量构建即可）",
            f"snapshot {snap.build_id} lacks {missing}: run `canbao build`",
        )
    files = current_record_files(data_dir)
    duck = engine_name(engine) == "duckdb"
    # working files in the data directory's scratch folder (removed on close)
    eng: Engine = open_engine(
        "duckdb" if duck else "spark", spark_master=spark_master, data_dir=data_dir
    )
    opened = False
    try:
        if isinstance(eng, DuckDBEngine):  # the catalog's views cover the current batches
            catalog.add_views(eng.con, data_dir)
        for name in SNAPSHOT_VIEWS:
            snap.register(eng, name)
        for kind in RECORD_COLUMNS:
            if kind in files and not duck:
                eng.parquet_view(f"records_{kind}", files[kind])
            eng.execute(records_view_sql(kind, _columns(files[kind]) if kind in files else None))
        day = as_of or _data_as_of(eng) or dt.date.today()
        session = Session(data_dir, eng, day, _policy_on(day, policy_path), snap.build_id, scope)
        opened = True
        return session
    finally:
        if not opened:
            eng.close()


def string_agg(dialect: Dialect, expr: str, order: str, sep: str = ";") -> str:
    """Aggregate text values joined by ``sep`` in the order of ``order`` (see
    :meth:`canbao.registry.dialect.Dialect.string_agg`)."""
    return dialect.string_agg(expr, order, sep)
