"""Paths and text as SQL literals, and the one way Canbao opens DuckDB.

Paths enter SQL only through :func:`sql_path` (a file written, a setting) and
:func:`sql_read_path` (a file read: DuckDB would expand ``[``, ``*``, ``?`` as a glob), and
Spark's readers only through :func:`spark_read_path`. Every DuckDB connection is opened by
:func:`duckdb_connect` (no progress bar, the memory cap, spill files in the data directory's
scratch folder: :mod:`canbao.warehouse.lock`). The registry's engine seam re-exports these.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

from canbao.errors import UsageError
from canbao.warehouse import lock


def sql_string(text: str) -> str:
    """A SQL string literal (DuckDB's dialect, which the Spark engine transpiles)."""
    return "'" + text.replace("'", "''") + "'"


def sql_path(path: Path | str) -> str:
    """A path as a SQL string literal, taken as it is (``COPY … TO``, ``SET temp_directory``);
    absolute, so that DuckDB never takes it for ``~/…`` or a URL."""
    return sql_string(os.path.abspath(path))


def sql_read_path(path: Path | str) -> str:
    """A file to read (``read_parquet(…)``) as a SQL string literal: DuckDB expands ``[``, ``*``
    and ``?`` in such a path as a glob (``data[12]`` would read ``data1`` and ``data2``), so
    each is matched literally as a one-character class (``[[]``)."""
    text = os.path.abspath(path)
    return sql_string("".join(f"[{c}]" if c in "[*?" else c for c in text))


def spark_read_path(path: Path | str) -> str:
    """A file for a Spark reader: Hadoop expands ``[ ] { } * ?`` as a glob; each is escaped."""
    return "".join(f"\\{c}" if c in "[]{}*?\\" else c for c in str(path))


def duckdb_connect(
    data_dir: Path | None = None, database: str = ":memory:", *, spill: Path | None = None
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection set up for Canbao: no progress bars in logs; a memory cap (default
    8 GB, ``$CANBAO_DUCKDB_MEMORY``) so that a shared machine spills to disk instead of swapping
    or being OOM-killed; spill files in ``spill``, by default a folder in the scratch folder of
    ``data_dir`` (:func:`canbao.warehouse.lock.spill_dir`), never in the working directory or a
    shared ``$TMPDIR``."""
    limit = os.environ.get("CANBAO_DUCKDB_MEMORY", "8GB").strip()
    con = duckdb.connect(database)
    try:
        con.execute("SET enable_progress_bar = false")
        try:
            con.execute(f"SET memory_limit = {sql_string(limit)}")
        except duckdb.Error as err:
            raise UsageError(
                f"环境变量 CANBAO_DUCKDB_MEMORY 的值“{limit}”无效（应如 8GB、512MB）",
                "$CANBAO_DUCKDB_MEMORY is not a memory size such as 8GB",
            ) from err
        con.execute(f"SET temp_directory = {sql_path(spill or lock.spill_dir(data_dir))}")
    except BaseException:
        con.close()
        raise
    return con
