"""One analysis session: the registry snapshot and current ingest records as DuckDB views.

Every coverage module works on the views and tables of a :class:`Session` with set-based SQL
(in the subset DuckDB and Spark share; engine differences go through
:mod:`canbao.registry.dialect`). Derived tables are built once per session, on first use.

Views: ``persons``, ``links``, ``enrollments``, ``employers``, ``employer_links``,
(registry snapshot; ``links`` carries each record's name pinyin and birth date) and ``records_population``, ``records_death``, ``records_special_group``,
``records_employment``, ``records_declaration`` (current ingest batches; empty when a kind was
never ingested).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl

from canbao.coverage.policy import Policy, policy_for
from canbao.registry import snapshot
from canbao.registry.dialect import DUCKDB, Dialect
from canbao.warehouse import catalog

SNAPSHOT_VIEWS = (
    "persons",
    "links",
    "enrollments",
    "employers",
    "employer_links",
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
        "start_date": "DATE", "end_date": "DATE",
    },
    "employment": {
        "batch_id": "VARCHAR", "row": "BIGINT", "as_of": "DATE", "period": "VARCHAR",
        "wage": "BIGINT",
    },
    "declaration": {
        "batch_id": "VARCHAR", "row": "BIGINT", "as_of": "DATE", "period": "VARCHAR",
        "scheme": "VARCHAR", "headcount": "BIGINT", "base": "BIGINT", "due": "BIGINT",
    },
}  # fmt: skip


@dataclass
class Session:
    data_dir: Path
    con: duckdb.DuckDBPyConnection
    as_of: dt.date
    policy: Policy
    build_id: str
    dialect: Dialect = DUCKDB
    _built: set[str] = field(default_factory=set)

    @property
    def day(self) -> str:
        """The as-of date as a SQL literal."""
        return f"DATE '{self.as_of.isoformat()}'"

    def ensure(self, name: str, builder: Callable[[Session], None]) -> None:
        """Build a derived table once per session."""
        if name not in self._built:
            builder(self)
            self._built.add(name)

    def frame(self, sql: str) -> pl.DataFrame:
        return self.con.sql(sql).pl()

    def close(self) -> None:
        self.con.close()


def _data_as_of(con: duckdb.DuckDBPyConnection) -> dt.date | None:
    row = con.execute("SELECT max(as_of) FROM enrollments").fetchall()
    value = row[0][0] if row else None
    return value if isinstance(value, dt.date) else None


def open_session(
    data_dir: Path, as_of: dt.date | None = None, policy_path: Path | None = None
) -> Session:
    """Open the current registry snapshot and ingest records of ``data_dir``.

    ``as_of`` defaults to the extract date of the enrolment data (the latest ``as_of``)."""
    snap = snapshot.require_current(data_dir)
    con = catalog.connect(data_dir)
    for name in SNAPSHOT_VIEWS:
        con.execute(
            f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM read_parquet('{snap.table(name)}')"
        )
    existing = {r[0] for r in con.execute("SELECT view_name FROM duckdb_views()").fetchall()}
    for kind, cols in RECORD_COLUMNS.items():
        view = f"records_{kind}"
        if view in existing:
            have = {r[0] for r in con.execute(f"DESCRIBE {view}").fetchall()}
            sel = ", ".join(
                f'"{c}"' if c in have else f'CAST(NULL AS {t}) AS "{c}"' for c, t in cols.items()
            )
            con.execute(f"CREATE OR REPLACE VIEW cov_{kind} AS SELECT {sel} FROM {view}")
        else:
            sel = ", ".join(f'CAST(NULL AS {t}) AS "{c}"' for c, t in cols.items())
            con.execute(f"CREATE OR REPLACE VIEW cov_{kind} AS SELECT {sel} WHERE 1 = 0")
    day = as_of or _data_as_of(con) or dt.date.today()
    return Session(data_dir, con, day, policy_for(day, policy_path), snap.build_id)


def string_agg(dialect: Dialect, expr: str, order: str, sep: str = ";") -> str:
    """Aggregate text values joined by ``sep`` in the order of ``order`` (engine-specific)."""
    if dialect.name == "spark":
        return (
            f"array_join(transform(array_sort(collect_list(struct({order}, {expr}))), "
            f"x -> x['{expr}']), '{sep}')"
        )
    return f"string_agg({expr}, '{sep}' ORDER BY {order})"
