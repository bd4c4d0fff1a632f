"""The execution engine of a registry build: DuckDB (one machine) or Apache Spark (a cluster).

The registry's SQL is written once, in DuckDB's dialect; the few functions that differ between
the engines are spelled by :mod:`canbao.registry.dialect`. An :class:`Engine` runs that SQL:

- :class:`DuckDBEngine` hands every statement to DuckDB unchanged (the DuckDB path is exactly
  what it was before the engine seam existed);
- :class:`SparkEngine` transpiles each statement to Spark SQL with sqlglot (which Splink already
  depends on), turns ``CREATE [OR REPLACE] TABLE t AS SELECT`` into a materialised temporary
  view and ``DELETE`` into a rewrite of the table.

Choose the engine with ``canbao build --engine spark`` or ``$CANBAO_ENGINE=spark``; the Spark
master with ``--spark-master`` or ``$CANBAO_SPARK_MASTER`` (default ``local[*]``). PySpark is an
optional extra (``pip install canbao[spark]``) imported only when the Spark engine is chosen.
Other settings: ``$CANBAO_SPARK_DRIVER_MEMORY`` and ``$CANBAO_SPARK_PARTITIONS`` (local sessions),
``$CANBAO_SPARK_MATERIALISE`` (``local`` or ``parquet``) and ``$CANBAO_SPARK_WORK_DIR`` (where
``parquet`` materialisation writes; a shared file system on a cluster).

Paths enter SQL only through ``sql_path`` / ``sql_read_path`` and Spark's readers through
``spark_read_path``; every DuckDB connection is opened by ``duckdb_connect`` (all in
:mod:`canbao.warehouse.sql`, re-exported here).
"""

from __future__ import annotations

import itertools
import logging
import os
import shutil
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Protocol

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import sqlglot
from sqlglot import exp

from canbao.errors import DependencyError, UsageError
from canbao.registry.dialect import DUCKDB, SPARK, Dialect
from canbao.warehouse import lock
from canbao.warehouse.sql import (  # noqa: F401 — re-exported: the engine seam's helpers
    duckdb_connect,
    spark_read_path,
    sql_path,
    sql_read_path,
    sql_string,
)

if TYPE_CHECKING:
    from splink.internals.database_api import DatabaseAPI

ENGINES = ("duckdb", "spark")

# the codec of the Parquet files the registry writes and reads again and again (snapshot
# tables, the derived-record cache): LZ4 (LZ4_RAW) decodes faster than Snappy or Zstandard.
# Measured at 5M residents (docs/benchmarks.md): a wide scan of 17.5M cached records 3.66 s
# with Zstandard, 2.86 s with LZ4 (1.6× the bytes); a lookup in the 22M links 0.88 s with
# Snappy, 0.78 s with LZ4 (the same bytes)
PARQUET_CODEC: Final = "lz4"
# DEBUG: one line per materialised Spark table, with its seconds (table names only, no data)
log = logging.getLogger(__name__)
SPARK_INSTALL_HINT = "请安装 Spark 扩展：pip install 'canbao[spark]'（需要 Java 17）"


class Engine(Protocol):
    name: str
    dialect: Dialect

    def execute(self, sql: str) -> None: ...

    def fetch(self, sql: str) -> pl.DataFrame: ...

    def scalar(self, sql: str) -> Any: ...

    def create_table_from_arrow(self, name: str, table: pa.Table) -> None: ...

    def read_parquet(self, name: str, paths: list[Path]) -> None: ...

    def read_frame(self, name: str, frame: pl.LazyFrame) -> None: ...

    def parquet_view(self, name: str, paths: list[Path]) -> None: ...

    def create_view(self, name: str, sql: str) -> None:
        """A view over ``sql`` (one SELECT, DuckDB dialect). DuckDB runs it again on every use;
        Spark binds it to its inputs when it is created and materialises it if it has a
        ``UNION``. Callers must not replace its inputs while they still read it."""
        ...

    def write_parquet(self, name: str, path: Path, columns: list[str] | None = None) -> None: ...

    def drop(self, *names: str) -> None:
        """Forget tables no later statement reads (frees memory and, on Spark, local disk)."""
        ...

    def splink_api(self) -> DatabaseAPI[Any]: ...

    def close(self) -> None: ...


def engine_name(name: str | None = None) -> str:
    """The engine asked for: the argument, else ``$CANBAO_ENGINE``, else DuckDB."""
    chosen = (name or os.environ.get("CANBAO_ENGINE") or "duckdb").strip().lower()
    if chosen not in ENGINES:
        raise UsageError(
            f"未知的计算引擎：{chosen}（可选：duckdb、spark）",
            f"unknown engine {chosen!r}: choose duckdb or spark",
        )
    return chosen


def open_engine(
    name: str | None = None,
    *,
    spark_master: str | None = None,
    work_dir: Path | None = None,
    data_dir: Path | None = None,
) -> Engine:
    """The engine ``name`` (see :func:`engine_name`); its working files go to ``data_dir``'s
    scratch folder (Spark: ``work_dir`` or ``$CANBAO_SPARK_WORK_DIR`` when given)."""
    if engine_name(name) == "spark":
        return SparkEngine(master=spark_master, work_dir=work_dir, data_dir=data_dir)
    return DuckDBEngine(data_dir=data_dir)


class DuckDBEngine:
    name = "duckdb"
    dialect = DUCKDB

    def __init__(
        self, con: duckdb.DuckDBPyConnection | None = None, *, data_dir: Path | None = None
    ) -> None:
        """A DuckDB engine on ``con`` (default: a new :func:`duckdb_connect` connection);
        working files go to a folder in ``data_dir``'s scratch folder, removed by :meth:`close`
        (use the engine as a context manager)."""
        self.work_dir = lock.work_dir(data_dir, "duckdb-")
        try:
            self.con = con if con is not None else duckdb_connect(spill=self.work_dir / "spill")
        except BaseException:
            shutil.rmtree(self.work_dir, ignore_errors=True)
            raise

    def __enter__(self) -> DuckDBEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def execute(self, sql: str) -> None:
        self.con.execute(sql)

    def fetch(self, sql: str) -> pl.DataFrame:
        return self.con.sql(sql).pl()

    def scalar(self, sql: str) -> Any:
        return self.con.execute(sql).fetchall()[0][0]

    def create_table_from_arrow(self, name: str, table: pa.Table) -> None:
        self.con.register("_arrow_in", table)
        self.con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM _arrow_in")
        self.con.unregister("_arrow_in")

    def read_parquet(self, name: str, paths: list[Path]) -> None:
        """A view over the files (read again by each statement, only the columns it needs:
        cheaper than holding every column of every record in memory)."""
        self.parquet_view(name, paths)

    def read_frame(self, name: str, frame: pl.LazyFrame) -> None:
        """A Polars query as a table, streamed through a Parquet file (bounded memory)."""
        self.read_parquet(name, [_sink(frame, self.work_dir, name)])

    def parquet_view(self, name: str, paths: list[Path]) -> None:
        """A view over Parquet files, read on every use (nothing is loaded now)."""
        if len(paths) == 1:
            source = f"read_parquet({sql_read_path(paths[0])})"
        else:
            files = ", ".join(sql_read_path(p) for p in paths)
            source = f"read_parquet([{files}], union_by_name = true)"
        self.con.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM {source}")

    def create_view(self, name: str, sql: str) -> None:
        self.con.execute(f"CREATE OR REPLACE VIEW {name} AS {sql}")

    def write_parquet(self, name: str, path: Path, columns: list[str] | None = None) -> None:
        cols = ", ".join(f'"{c}"' for c in columns) if columns else "*"
        self.con.execute(
            f"COPY (SELECT {cols} FROM {name}) TO {sql_path(path)} "
            f"(FORMAT parquet, COMPRESSION {PARQUET_CODEC})"
        )

    def drop(self, *names: str) -> None:
        kinds = dict(
            self.con.execute(
                "SELECT table_name, table_type FROM information_schema.tables"
            ).fetchall()
        )
        for name in names:
            if name in kinds:
                kind = "VIEW" if kinds[name] == "VIEW" else "TABLE"
                self.con.execute(f"DROP {kind} IF EXISTS {name}")

    def splink_api(self) -> DatabaseAPI[Any]:
        from splink import DuckDBAPI

        return DuckDBAPI(connection=self.con)

    def close(self) -> None:
        try:
            self.con.close()
        finally:
            shutil.rmtree(self.work_dir, ignore_errors=True)


def _sink(frame: pl.LazyFrame, work_dir: Path, name: str) -> Path:
    path = work_dir / f"{name}-{next(_SINKS)}.parquet"
    frame.sink_parquet(path, compression=PARQUET_CODEC)
    return path


_SINKS = itertools.count()


def local_settings(master: str) -> dict[str, str]:
    """Settings for a session this process starts. In ``local[N]`` the driver is the only
    executor: its heap (``$CANBAO_SPARK_DRIVER_MEMORY``, default 4g) holds the cached tables, and
    few shuffle partitions (2 per core, ``$CANBAO_SPARK_PARTITIONS``) avoid thousands of tiny
    tasks. On a cluster these come from spark-submit / spark-defaults.conf instead."""
    out: dict[str, str] = {}
    if master.startswith("local"):
        inside = master[master.find("[") + 1 : master.find("]")] if "[" in master else "1"
        cores = (os.cpu_count() or 2) if inside in ("*", "") else int(inside.split(",")[0])
        out["spark.sql.shuffle.partitions"] = os.environ.get(
            "CANBAO_SPARK_PARTITIONS", str(max(2, 2 * cores))
        )
        out["spark.default.parallelism"] = out["spark.sql.shuffle.partitions"]
        out["spark.driver.memory"] = os.environ.get("CANBAO_SPARK_DRIVER_MEMORY", "4g")
        # shuffle files of dropped tables are removed when the JVM collects their RDDs: do that
        # every few minutes rather than every 30 (a 5M build otherwise fills the local disk)
        out["spark.cleaner.periodicGC.interval"] = "3min"
    elif "CANBAO_SPARK_PARTITIONS" in os.environ:
        out["spark.sql.shuffle.partitions"] = os.environ["CANBAO_SPARK_PARTITIONS"]
    return out


def to_spark_sql(sql: str) -> str:
    """DuckDB SQL → Spark SQL (one statement)."""
    return _anti_joins(sqlglot.parse_one(sql, read="duckdb")).sql("spark")


_ANTI = itertools.count()


def _not_exists(key: Any, query: Any) -> Any:
    """``NOT EXISTS (SELECT 1 FROM (query) WHERE its one column = key)``."""
    select = (query.this if isinstance(query, exp.Subquery) else query).copy()
    assert isinstance(select, exp.Query)
    column = select.selects[0].unalias()
    n = next(_ANTI)  # one name per probe: Spark mis-resolves a name reused in nested scopes
    inner = select.select(exp.alias_(column, f"__anti_key{n}"), append=False)
    probe = (
        exp.select("1")
        .from_(exp.Subquery(this=inner, alias=exp.TableAlias(this=exp.to_identifier(f"__anti{n}"))))
        .where(exp.EQ(this=exp.column(f"__anti_key{n}", table=f"__anti{n}"), expression=key.copy()))
    )
    return exp.Not(this=exp.Exists(this=probe))


def _anti_joins(tree: Any) -> Any:
    """``x NOT IN (SELECT y …)`` → ``x IS NOT NULL AND NOT EXISTS (… WHERE y = x)``.

    Spark plans a NOT IN subquery as a null-aware anti join, which is a broadcast nested-loop
    join (quadratic) once the subquery is too large to broadcast; NOT EXISTS is a hash anti
    join. The two agree when the subquery's column has no NULLs: in the registry these are
    always keys (rec_key, node_id)."""

    def fix(node: Any) -> Any:
        if (
            isinstance(node, exp.Not)
            and isinstance(node.this, exp.In)
            and node.this.args.get("query") is not None
        ):
            key = node.this.this
            return exp.Paren(
                this=exp.and_(
                    exp.Not(this=exp.Is(this=key.copy(), expression=exp.Null())),
                    _not_exists(key, node.this.args["query"]),
                )
            )
        return node

    return tree.transform(fix)


class SparkEngine:
    """Runs the registry SQL on a SparkSession; tables are materialised temporary views.

    Materialisation uses ``localCheckpoint`` (executor memory spilling to local disk), which cuts
    the lineage so that each statement plans only against its inputs. On a cluster where an
    executor may be lost mid-build, set ``CANBAO_SPARK_MATERIALISE=parquet`` to write each table
    to the work directory (a shared file system then) instead.
    """

    name = "spark"
    dialect = SPARK

    def __init__(
        self, master: str | None = None, work_dir: Path | None = None, data_dir: Path | None = None
    ) -> None:
        try:
            from pyspark.sql import SparkSession
        except ImportError as err:
            raise DependencyError(
                f"未安装 PySpark，无法使用 Spark 引擎。{SPARK_INSTALL_HINT}",
                "pyspark is not installed: pip install 'canbao[spark]'",
            ) from err
        from splink.backends.spark import similarity_jar_location

        explicit = master or os.environ.get("CANBAO_SPARK_MASTER")
        # under spark-submit the JVM is already up: its --master, --jars and conf apply
        submitted = explicit is None and "PYSPARK_GATEWAY_PORT" in os.environ
        self.master = explicit or ("spark-submit" if submitted else "local[*]")
        self._own_work = work_dir is None
        if work_dir is None and os.environ.get("CANBAO_SPARK_WORK_DIR"):
            # on a cluster: a directory every executor can write (shared file system)
            work_dir = Path(os.environ["CANBAO_SPARK_WORK_DIR"]) / f"build-{os.getpid()}"
        self.work_dir = Path(work_dir or lock.work_dir(data_dir, "spark-"))
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.materialise = os.environ.get("CANBAO_SPARK_MATERIALISE", "local")
        active = SparkSession.getActiveSession()
        if active is not None:
            self.spark = active  # e.g. a test session
        else:
            builder = (
                SparkSession.builder.appName("canbao-registry")
                .config("spark.sql.session.timeZone", "UTC")
                .config("spark.ui.showConsoleProgress", "false")
                .config("spark.sql.adaptive.enabled", "true")
            )
            if not submitted:
                # Python workers (the derivation runs in them) use this interpreter; PySpark
                # reads PYSPARK_PYTHON when the context starts, before any session setting
                os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
                builder = builder.master(self.master).config(
                    "spark.jars", similarity_jar_location()
                )
                for key, value in local_settings(self.master).items():
                    builder = builder.config(key, value)
            try:
                self.spark = builder.getOrCreate()
            except (RuntimeError, OSError) as err:  # PySparkRuntimeError: JVM did not start
                raise DependencyError(
                    f"无法启动 Spark（{self.master}）：请确认已安装 Java 17。{SPARK_INSTALL_HINT}",
                    f"could not start Spark on {self.master}: {err}",
                ) from err
        self.spark.sparkContext.setCheckpointDir(str(self.work_dir / "checkpoints"))
        self._tables: dict[str, Any] = {}
        self._views: set[str] = set()  # lazy views over Parquet (parquet_view)
        self._seq = 0

    # -- tables -----------------------------------------------------------------------------
    def _materialise(self, name: str, df: Any) -> None:
        started = time.perf_counter()
        if self.materialise == "parquet":
            self._seq += 1
            path = str(self.work_dir / "tables" / f"{name}-{self._seq}")
            df.write.mode("overwrite").parquet(path)
            df = self.spark.read.parquet(spark_read_path(path))
        else:
            df = df.localCheckpoint(eager=True)
        old = self._tables.get(name)
        df.createOrReplaceTempView(name)
        self._tables[name] = df
        if old is not None and self.materialise != "parquet":
            old.unpersist()
        log.debug("materialised %s in %.2f s", name, time.perf_counter() - started)

    def execute(self, sql: str) -> None:
        tree = _anti_joins(sqlglot.parse_one(sql, read="duckdb"))
        if isinstance(tree, exp.Create) and isinstance(tree.expression, exp.Query):
            name = tree.this.find(exp.Table)
            assert name is not None
            df = self.spark.sql(tree.expression.sql("spark"))
            self._materialise(name.name, df)
        elif isinstance(tree, exp.Delete):
            table = tree.this.name
            cond = tree.args["where"].this
            if isinstance(cond, exp.In) and cond.args.get("query") is not None:
                # keep a row unless its key is in the subquery (a NULL key is kept)
                keep: Any = exp.or_(
                    exp.Is(this=cond.this.copy(), expression=exp.Null()),
                    _not_exists(cond.this, cond.args["query"]),
                )
            else:
                keep = exp.Not(this=exp.func("coalesce", exp.Paren(this=cond), exp.false()))
            df = self.spark.sql(f"SELECT * FROM {table} WHERE {keep.sql('spark')}")
            self._materialise(table, df)
        else:
            self.spark.sql(tree.sql("spark"))

    def fetch(self, sql: str) -> pl.DataFrame:
        df = self.spark.sql(to_spark_sql(sql))
        return pl.from_arrow(df.toArrow())  # type: ignore[return-value]

    def scalar(self, sql: str) -> Any:
        return self.spark.sql(to_spark_sql(sql)).collect()[0][0]

    def create_table_from_arrow(self, name: str, table: pa.Table) -> None:
        # Spark has no large_string / string_view: hand it plain Arrow types
        table = _plain_arrow(table)
        if table.num_rows == 0:
            from pyspark.sql.pandas.types import from_arrow_schema

            df = self.spark.createDataFrame([], schema=from_arrow_schema(table.schema))
        else:
            df = self.spark.createDataFrame(table)
        self._materialise(name, df)

    def read_parquet(self, name: str, paths: list[Path]) -> None:
        files = [spark_read_path(p) for p in paths]
        df = self.spark.read.option("mergeSchema", "true").parquet(*files)
        self._materialise(name, df)

    def read_frame(self, name: str, frame: pl.LazyFrame) -> None:
        """Streamed through Parquet in the work directory when executors can read it (local
        masters, or a shared ``$CANBAO_SPARK_WORK_DIR``); otherwise handed over as Arrow
        through the driver."""
        if self.master.startswith("local") or os.environ.get("CANBAO_SPARK_WORK_DIR"):
            self.read_parquet(name, [_sink(frame, self.work_dir, name)])
        else:
            self.create_table_from_arrow(name, frame.collect().to_arrow())

    def derive_batch(self, records: Path, kind: str, out: Path) -> None:
        """Derive a batch's linkage fields on the executors: the same Polars function
        (:func:`canbao.registry.person_records.derive_frame`) runs on each Arrow batch of the
        batch's canonical records (``mapInArrow``); the parts are written to ``out``."""
        from pyspark.sql.pandas.types import from_arrow_schema

        from canbao.registry import person_records

        schema = _plain_arrow(person_records.empty_derived(kind).to_arrow()).schema

        def derive(batches: Any) -> Any:
            import polars as pl_

            from canbao.registry import person_records as pr

            for batch in batches:
                frame = pl_.from_arrow(batch)
                assert isinstance(frame, pl_.DataFrame)
                table = _plain_arrow(pr.derive_frame(frame, kind).to_arrow())
                yield from table.select(schema.names).cast(schema).to_batches()

        # big Arrow batches: each call converts names to pinyin once per distinct value
        self.spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", "200000")
        df = self.spark.read.parquet(spark_read_path(records))
        df.mapInArrow(derive, from_arrow_schema(schema)).write.parquet(str(out))
        for extra in out.glob("*"):
            if not extra.name.startswith("part-"):
                extra.unlink()  # _SUCCESS and checksum files

    def parquet_view(self, name: str, paths: list[Path]) -> None:
        """A temporary view over Parquet files (columns merged by name), read on every use."""
        files = [spark_read_path(p) for p in paths]
        df = self.spark.read.option("mergeSchema", "true").parquet(*files)
        df.createOrReplaceTempView(name)
        self._views.add(name)

    def create_view(self, name: str, sql: str) -> None:
        """A temporary view; a view over a ``UNION`` is materialised like a table.

        A Spark view is bound to its inputs' plans when it is created, as a table is, so
        materialising changes nothing for the reader. It is needed where the registry unions a
        previous table's surviving rows (an anti join) with their replacements: Spark 4.3 fails
        to derive the constraints of such a union (``UnionBase.rewriteConstraints``:
        ``NoSuchElementException: key not found: id18#…``) whenever a later statement is
        planned over it. Constraint propagation is therefore off while such a view is planned
        and checkpointed; the lineage is then cut, so no later statement derives them again.
        Every other statement keeps it on: it infers the ``IS NOT NULL`` join filters that keep
        null keys out of one skewed partition."""
        if sqlglot.parse_one(sql, read="duckdb").find(exp.Union) is None:
            self.spark.sql(to_spark_sql(sql)).createOrReplaceTempView(name)
            self._views.add(name)
            return
        conf = self.spark.conf
        key = "spark.sql.constraintPropagation.enabled"
        before = conf.get(key, "true") or "true"
        conf.set(key, "false")
        try:
            self._materialise(name, self.spark.sql(to_spark_sql(sql)))
        finally:
            conf.set(key, before)

    def write_parquet(self, name: str, path: Path, columns: list[str] | None = None) -> None:
        """Write a table as ONE Parquet file at ``path`` (the snapshot layout): Spark writes its
        parts in parallel, and they are then concatenated row group by row group."""
        parts = path.with_name(path.name + ".parts")
        table = self.spark.table(name)
        if columns:
            table = table.select(*columns)
        table.write.mode("overwrite").parquet(str(parts))
        files = sorted(parts.glob("part-*.parquet"))
        schema = pq.read_schema(files[0]) if files else None
        if schema is None:
            schema = _plain_arrow(
                pa.Table.from_batches([], self.spark.table(name).toArrow().schema)
            ).schema
        with pq.ParquetWriter(path, schema) as writer:
            for f in files:
                pf = pq.ParquetFile(f)
                for i in range(pf.num_row_groups):
                    writer.write_table(pf.read_row_group(i).cast(schema))
        shutil.rmtree(parts)

    def drop(self, *names: str) -> None:
        for name in names:
            df = self._tables.pop(name, None)
            if df is not None:
                df.unpersist()  # localCheckpoint blocks; shuffle files go with the next GC
            if df is not None or name in self._views:
                self._views.discard(name)
                self.spark.catalog.dropTempView(name)

    def splink_api(self) -> DatabaseAPI[Any]:
        from splink import SparkAPI

        return SparkAPI(spark_session=self.spark, break_lineage_method="persist")

    def close(self) -> None:
        for df in self._tables.values():
            df.unpersist()
        for name in {*self._tables, *self._views}:
            self.spark.catalog.dropTempView(name)
        self._tables.clear()
        self._views.clear()
        if self._own_work:
            shutil.rmtree(self.work_dir, ignore_errors=True)


def _plain_arrow(table: pa.Table) -> pa.Table:
    def plain(t: pa.DataType) -> pa.DataType:
        if pa.types.is_large_string(t) or pa.types.is_string_view(t):
            return pa.string()
        if pa.types.is_large_list(t) or pa.types.is_list_view(t) or pa.types.is_large_list_view(t):
            return pa.list_(plain(t.value_type))
        if pa.types.is_list(t):
            return pa.list_(plain(t.value_type))
        return t

    schema = pa.schema([pa.field(f.name, plain(f.type), f.nullable) for f in table.schema])
    return table.cast(schema)
