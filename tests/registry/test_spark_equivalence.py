"""The registry build on Spark equals the build on DuckDB (same data, same trained model).

One SparkSession (local[2]) for the module; a city of about 1,000 residents. The Spark build runs
through the CLI (``canbao build --engine spark``) on a copy of the DuckDB build's data directory,
so both builds use the same trained model; the model's u probabilities come from random sampling,
which no two engines draw alike (training on Spark is checked separately: it must run and give a
usable model).
"""

from __future__ import annotations

import builtins
import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from canbao import cli
from canbao.errors import DependencyError, UsageError
from canbao.registry import api, engine, snapshot
from canbao.registry.dialect import DUCKDB, SPARK
from tests.registry.city import ingest, make_city

PROB_TOL = 1e-9


def _java_ok() -> bool:
    return shutil.which("java") is not None


spark_needed = pytest.mark.skipif(
    not _java_ok(), reason="Spark needs Java 17 (CI has it: scripts/system-deps.sh)"
)


@pytest.fixture(scope="module")
def spark_session() -> Iterator[Any]:
    pytest.importorskip("pyspark", reason="pip install 'canbao[spark]' (make install does)")
    from pyspark.sql import SparkSession

    eng = engine.SparkEngine(master="local[2]")
    yield eng.spark
    eng.close()
    active = SparkSession.getActiveSession()
    if active is not None:
        active.stop()


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory, spark_session: Any) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("spark-eq")
    city = make_city(root, persons=1000, seed=23)
    duck = root / "duck"
    ingest(city, duck)
    api.build(duck, full=True)
    spark = root / "spark"
    shutil.copytree(duck, spark)
    code = cli.run(
        ["build", "--data-dir", str(spark), "--full", "--engine", "spark",
         "--spark-master", "local[2]"]
    )  # fmt: skip
    assert code == 0
    return duck, spark


def _table(data: Path, name: str) -> pl.DataFrame:
    return pl.read_parquet(snapshot.require_current(data).table(name))


def _same(a: pl.DataFrame, b: pl.DataFrame) -> None:
    assert a.columns == b.columns
    assert a.schema == b.schema
    keys = [c for c in a.columns if a.schema[c] != pl.Float64]
    assert_frame_equal(
        a.sort(keys, nulls_last=True),
        b.sort(keys, nulls_last=True),
        check_exact=False,
        rel_tol=PROB_TOL,
        abs_tol=PROB_TOL,
    )


@spark_needed
def test_the_spark_build_ran_on_spark(builds: tuple[Path, Path]) -> None:
    duck, spark = builds
    assert snapshot.require_current(duck).info["engine"] == "duckdb"
    info = snapshot.require_current(spark).info
    assert info["engine"] == "spark"
    assert info["mode"] == "full"


@spark_needed
def test_links_are_identical(builds: tuple[Path, Path]) -> None:
    duck, spark = builds
    a = _table(duck, "links").select("source", "row", "person_key", "method")
    b = _table(spark, "links").select("source", "row", "person_key", "method")
    assert a.height > 4000
    assert a.sort("source", "row").equals(b.sort("source", "row"))


@spark_needed
def test_master_persons_and_employers_are_identical(builds: tuple[Path, Path]) -> None:
    duck, spark = builds
    for name in ("persons", "employers", "employer_links", "enrollments", "id_corrections"):
        a, b = _table(duck, name), _table(spark, name)
        assert a.height > 0, name
        _same(a, b)


@spark_needed
def test_pairs_and_review_queue_agree(builds: tuple[Path, Path]) -> None:
    """Same pairs and comparison vectors; probabilities and weights within a tolerance."""
    duck, spark = builds
    for name in ("nodes", "node_members", "pairs", "review_items"):
        _same(_table(duck, name), _table(spark, name))
    assert _table(duck, "pairs").height > 0


@spark_needed
def test_spark_can_train_the_model(builds: tuple[Path, Path], tmp_path: Path) -> None:
    """A build on Spark with no model trains one (saved in DuckDB's dialect, usable by both)."""
    _duck, spark = builds
    fresh = tmp_path / "fresh"
    shutil.copytree(spark, fresh, ignore=shutil.ignore_patterns("model"))
    api.build(fresh, full=True, engine="spark")
    model_dir = snapshot.registry_dir(fresh) / "model"
    saved = json.loads((model_dir / "person_model.json").read_text(encoding="utf-8"))
    assert saved["sql_dialect"] == "duckdb"
    assert "damerau_levenshtein(id_norm_l, id_norm_r) <= 1" in json.dumps(saved)
    spark_model = snapshot.require_current(fresh).info["model_id"]
    spark_links = api.links(fresh).select("source", "row", "person_key")
    # a DuckDB build takes the Spark-trained model as it is (no retraining) ...
    api.build(fresh, full=True, engine="duckdb")
    assert snapshot.require_current(fresh).info["model_id"] == spark_model
    # ... and, with the same model, links exactly as the Spark build did
    duck_links = api.links(fresh).select("source", "row", "person_key")
    assert duck_links.sort("source", "row").equals(spark_links.sort("source", "row"))


def test_missing_pyspark_gives_the_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_pyspark(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "pyspark" or name.startswith("pyspark."):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pyspark)
    for mod in [m for m in sys.modules if m == "pyspark" or m.startswith("pyspark.")]:
        monkeypatch.delitem(sys.modules, mod)
    with pytest.raises(DependencyError) as err:
        engine.open_engine("spark")
    assert "pip install 'canbao[spark]'" in err.value.message_zh
    assert "未安装" in err.value.message_zh


def test_engine_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CANBAO_ENGINE", raising=False)
    assert engine.engine_name() == "duckdb"
    monkeypatch.setenv("CANBAO_ENGINE", "Spark")
    assert engine.engine_name() == "spark"
    assert engine.engine_name("duckdb") == "duckdb"
    with pytest.raises(UsageError):
        engine.engine_name("oracle")


def test_dialect_spellings_survive_transpilation() -> None:
    """Every Spark spelling of the dialect parses as DuckDB SQL and comes out as Spark SQL."""
    cases = {
        SPARK.sorted_set("source"): "ARRAY_SORT(ARRAY_DISTINCT(COLLECT_LIST(source)))",
        SPARK.parse_date_text("substr(x, 7, 8)"): "TO_DATE(SUBSTRING(x, 7, 8), 'yyyyMMdd')",
        SPARK.date_text("as_of"): "DATE_FORMAT(as_of, 'yyyyMMdd')",
        SPARK.explode("c"): "EXPLODE(c)",
        SPARK.hash_hex("k", 12): "SUBSTRING(MD5(k), 1, 12)",
    }
    for fragment, expected in cases.items():
        assert engine.to_spark_sql(f"SELECT {fragment}") == f"SELECT {expected}"
    # DuckDB-only syntax the registry uses, as Spark spells it
    assert (
        engine.to_spark_sql('SELECT arg_min(a, k) FILTER (WHERE a IS NOT NULL), t."row" FROM t')
        == "SELECT MIN_BY(a, k) FILTER(WHERE NOT a IS NULL), t.`row` FROM t"
    )
    assert DUCKDB.sorted_set("s") == "list(DISTINCT s ORDER BY s)"


def test_not_in_becomes_a_hash_anti_join() -> None:
    """NOT IN (subquery) is quadratic on Spark: the engine rewrites it, one alias per probe."""
    sql = engine.to_spark_sql(
        "SELECT * FROM a WHERE a.k NOT IN (SELECT k FROM b) AND j NOT IN (SELECT x AS y FROM c)"
    )
    assert "NOT IN" not in sql.upper()
    assert sql.count("NOT EXISTS") == 2
    assert "NOT a.k IS NULL" in sql and "NOT j IS NULL" in sql
    aliases = [part.split()[0] for part in sql.split(") AS __anti")[1:]]
    assert len(set(aliases)) == 2  # distinct names
    # a positive IN stays a semi join
    assert "IN (SELECT" in engine.to_spark_sql("SELECT * FROM a WHERE k IN (SELECT k FROM b)")
