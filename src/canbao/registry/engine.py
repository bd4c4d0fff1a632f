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
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import sqlglot
from sqlglot import exp

from canbao.errors import DependencyError, UsageError
from canbao.registry.dialect import DUCKDB, SPARK, Dialect

if TYPE_CHECKING:
    from splink.internals.database_api import DatabaseAPI

ENGINES = ("duckdb", "spark")
SPARK_INSTALL_HINT = "请安装 Spark 扩展：pip install 'canbao[spark]'（需要 Java 17）"


class Engine(Protocol):
    name: str
    dialect: Dialect

    def execute(self, sql: str) -> None: ...

    def fetch(self, sql: str) -> pl.DataFrame: ...

    def scalar(self, sql: str) -> Any: ...

    def create_table_from_arrow(self, name: str, table: pa.Table) -> None: ...

    def read_parquet(self, name: str, paths: list[Path]) -> None: ...

    def write_parquet(self, name: str, path: Path) -> None: ...

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
    name: str | None = None, *, spark_master: str | None = None, work_dir: Path | None = None
) -> Engine:
    if engine_name(name) == "spark":
        return SparkEngine(master=spark_master, work_dir=work_dir)
    return DuckDBEngine()


class DuckDBEngine:
    name = "duckdb"
    dialect = DUCKDB

    def __init__(self, con: duckdb.DuckDBPyConnection | None = None) -> None:
        self.con = con if con is not None else duckdb.connect()

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
        files = ", ".join(f"'{p}'" for p in paths)
        self.con.execute(
            f"CREATE OR REPLACE TABLE {name} AS "
            f"SELECT * FROM read_parquet([{files}], union_by_name = true)"
        )

    def write_parquet(self, name: str, path: Path) -> None:
        self.con.execute(f"COPY {name} TO '{path}' (FORMAT parquet)")

    def splink_api(self) -> DatabaseAPI[Any]:
        from splink import DuckDBAPI

        return DuckDBAPI(connection=self.con)

    def close(self) -> None:
        self.con.close()


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
    elif "CANBAO_SPARK_PARTITIONS" in os.environ:
        out["spark.sql.shuffle.partitions"] = os.environ["CANBAO_SPARK_PARTITIONS"]
    return out


def to_spark_sql(sql: str) -> str:
    """DuckDB SQL → Spark SQL (one statement)."""
    return sqlglot.transpile(sql, read="duckdb", write="spark")[0]


class SparkEngine:
    """Runs the registry SQL on a SparkSession; tables are materialised temporary views.

    Materialisation uses ``localCheckpoint`` (executor memory spilling to local disk), which cuts
    the lineage so that each statement plans only against its inputs. On a cluster where an
    executor may be lost mid-build, set ``CANBAO_SPARK_MATERIALISE=parquet`` to write each table
    to the work directory (a shared file system then) instead.
    """

    name = "spark"
    dialect = SPARK

    def __init__(self, master: str | None = None, work_dir: Path | None = None) -> None:
        try:
            from pyspark.sql import SparkSession
        except ImportError as err:
            raise DependencyError(
                f"未安装 PySpark，无法使用 Spark 引擎。{SPARK_INSTALL_HINT}",
                "pyspark is not installed: pip install 'canbao[spark]'",
            ) from err
        from splink.backends.spark import similarity_jar_location

        self.master = master or os.environ.get("CANBAO_SPARK_MASTER") or "local[*]"
        self._own_work = work_dir is None
        self.work_dir = Path(work_dir or tempfile.mkdtemp(prefix="canbao-spark-"))
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.materialise = os.environ.get("CANBAO_SPARK_MATERIALISE", "local")
        active = SparkSession.getActiveSession()
        if active is not None:
            self.spark = active  # e.g. under spark-submit, or a test session
        else:
            builder = (
                SparkSession.builder.master(self.master)
                .appName("canbao-registry")
                .config("spark.jars", similarity_jar_location())
                .config("spark.sql.session.timeZone", "UTC")
                .config("spark.ui.showConsoleProgress", "false")
                .config("spark.sql.adaptive.enabled", "true")
            )
            for key, value in local_settings(self.master).items():
                builder = builder.config(key, value)
            try:
                self.spark = builder.getOrCreate()
            except Exception as err:  # noqa: BLE001 - py4j/JVM start-up failures vary
                raise DependencyError(
                    f"无法启动 Spark（{self.master}）：请确认已安装 Java 17。{SPARK_INSTALL_HINT}",
                    f"could not start Spark on {self.master}: {err}",
                ) from err
        self.spark.sparkContext.setCheckpointDir(str(self.work_dir / "checkpoints"))
        self._tables: dict[str, Any] = {}
        self._seq = 0

    # -- tables -----------------------------------------------------------------------------
    def _materialise(self, name: str, df: Any) -> None:
        if self.materialise == "parquet":
            self._seq += 1
            path = str(self.work_dir / "tables" / f"{name}-{self._seq}")
            df.write.mode("overwrite").parquet(path)
            df = self.spark.read.parquet(path)
        else:
            df = df.localCheckpoint(eager=True)
        old = self._tables.get(name)
        df.createOrReplaceTempView(name)
        self._tables[name] = df
        if old is not None and self.materialise != "parquet":
            old.unpersist()

    def execute(self, sql: str) -> None:
        tree = sqlglot.parse_one(sql, read="duckdb")
        if isinstance(tree, exp.Create) and isinstance(tree.expression, exp.Query):
            name = tree.this.find(exp.Table)
            assert name is not None
            df = self.spark.sql(tree.expression.sql("spark"))
            self._materialise(name.name, df)
        elif isinstance(tree, exp.Delete):
            table = tree.this.name
            cond = tree.args["where"].this.sql("spark")
            df = self.spark.sql(f"SELECT * FROM {table} WHERE NOT coalesce(({cond}), false)")
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
        df = self.spark.read.option("mergeSchema", "true").parquet(*[str(p) for p in paths])
        self._materialise(name, df)

    def write_parquet(self, name: str, path: Path) -> None:
        """Write a table as ONE Parquet file at ``path`` (the snapshot layout): Spark writes its
        parts in parallel, and they are then concatenated row group by row group."""
        parts = path.with_name(path.name + ".parts")
        self.spark.table(name).write.mode("overwrite").parquet(str(parts))
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

    def splink_api(self) -> DatabaseAPI[Any]:
        from splink import SparkAPI

        return SparkAPI(spark_session=self.spark, break_lineage_method="persist")

    def close(self) -> None:
        for df in self._tables.values():
            df.unpersist()
        for name in self._tables:
            self.spark.catalog.dropTempView(name)
        self._tables.clear()
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
