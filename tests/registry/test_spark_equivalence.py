"""The registry build on a Spark cluster equals the build on DuckDB (same data, same model).

A city of about 1,000 residents is built on DuckDB; its data directory, without the derivation
cache, is then built again by ``spark-submit`` on a standalone Spark cluster started on this
machine (:mod:`tests.registry.spark_cluster`: master, worker and executors are separate JVMs, as
docs/scale.md tells the data team to run it), so both builds use the same trained model and the
Spark build derives every batch on the executors. The model's u probabilities come from random
sampling, which no two engines draw alike: training on Spark is checked separately (it must run
and give a model a DuckDB build takes as it is).

The rest of the module shares one in-process SparkSession (local[2]): coverage
(:mod:`canbao.coverage`) runs on each build with its own engine — DuckDB over the DuckDB build,
Spark over the Spark build — and every table, list and flag is compared key by key and column by
column; the next month is updated incrementally on both engines.
"""

from __future__ import annotations

import builtins
import datetime as dt
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
from canbao.coverage import api as coverage
from canbao.coverage import stats
from canbao.coverage.actuals import CoverageActuals
from canbao.coverage.session import RECORD_COLUMNS, records_view_sql
from canbao.errors import DependencyError, UsageError
from canbao.outputs import WriteSummary
from canbao.registry import api, engine, snapshot
from canbao.registry.dialect import DUCKDB, SPARK
from canbao.standards.citizen_id import mask
from tests.registry.city import ingest, ingest_month, make_city, redeliver_population
from tests.registry.spark_cluster import standalone_cluster, submit_build
from tests.scopes import SYSTEM

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
def builds(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("spark-eq")
    city = make_city(root, persons=1000, seed=23)
    duck = root / "duck"
    ingest(city, duck)
    # a resident no record identifies (a household-register row without an ID), so that the
    # identity_to_verify list is not empty: the small city's own damaged IDs are all repaired
    # since issue 15 (its Excel numbers were the list's only entries)
    from canbao.ingest.batches import ingest_file

    extra = root / "unidentified.csv"
    extra.write_text(
        "公民身份号码,姓名,性别,出生日期,行政区划代码\n,欧阳明远,男,1970-01-01,360402\n",
        encoding="utf-8",
    )
    ingest_file(duck, extra, source="unidentified_hukou", kind="population", as_of="2017-12-31")
    api.build(duck, full=True)
    if not _java_ok():
        pytest.skip("Spark needs Java 17 (CI has it: scripts/system-deps.sh)")
    spark = root / "spark"
    # without the derivation cache: the Spark build derives every batch on the executors
    shutil.copytree(duck, spark, ignore=shutil.ignore_patterns("cache"))
    with standalone_cluster(root / "cluster") as master:
        submit_build(master, spark)
    return duck, spark


def _table(data: Path, name: str) -> pl.DataFrame:
    return snapshot.require_current(data).scan(name).collect()


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
    for name in ("nodes", "node_members", "pairs", "review_items", "likely_owners"):
        _same(_table(duck, name), _table(spark, name))
    assert _table(duck, "pairs").height > 0


@spark_needed
def test_next_month_updated_on_spark_equals_duckdbs_incremental_update(
    builds: tuple[Path, Path], tmp_path: Path, spark_session: Any
) -> None:
    """The next month (a superseded and two added batches), updated incrementally on each engine
    (layered snapshot tables, merged views): the tables are the same."""
    duck0, spark0 = builds
    city = duck0.parent / "city"
    duck, spark = tmp_path / "duck", tmp_path / "spark"
    shutil.copytree(duck0, duck)
    shutil.copytree(spark0, spark)
    for data in (duck, spark):
        ingest_month(city, data, tmp_path / "files")
    assert api.build(duck).mode == "incremental"
    assert api.build(spark, engine="spark", spark_master="local[2]").mode == "incremental"
    # views are planned with constraint propagation off; every other statement keeps it on
    assert spark_session.conf.get("spark.sql.constraintPropagation.enabled") == "true"
    assert snapshot.require_current(duck).info["incremental"]["removed"]
    assert snapshot.require_current(spark).info["engine"] == "spark"
    for name in (
        "links", "persons", "enrollments", "id_corrections", "nodes", "b_cluster",
        "review_items", "likely_owners",
    ):  # fmt: skip
        _same(_table(duck, name), _table(spark, name))
    a = _table(duck, "pairs").select("node_id_l", "node_id_r")
    b = _table(spark, "pairs").select("node_id_l", "node_id_r")
    assert a.sort(a.columns).equals(b.sort(b.columns))


@spark_needed
def test_a_redelivery_updated_on_spark_equals_duckdbs(
    builds: tuple[Path, Path], tmp_path: Path
) -> None:
    """The household register re-delivered with a few rows added, changed and removed: on
    each engine only the difference is updated, and the tables are the same."""
    duck0, spark0 = builds
    city = duck0.parent / "city"
    duck, spark = tmp_path / "duck", tmp_path / "spark"
    shutil.copytree(duck0, duck)
    shutil.copytree(spark0, spark)
    for data in (duck, spark):
        redeliver_population(city, data, tmp_path / f"files-{data.name}", "2018-01-31", edit=True)
    assert api.build(duck).mode == "incremental"
    assert api.build(spark, engine="spark", spark_master="local[2]").mode == "incremental"
    stats = [snapshot.require_current(d).info["incremental"] for d in (duck, spark)]
    assert stats[0] == stats[1]
    assert 0 < stats[1]["records_added"] < stats[1]["records_removed"] + 100
    for name in (
        "links", "persons", "enrollments", "id_corrections", "nodes", "b_cluster",
        "review_items", "likely_owners",
    ):  # fmt: skip
        _same(_table(duck, name), _table(spark, name))


@spark_needed
def test_derivation_on_the_executors_equals_polars(builds: tuple[Path, Path]) -> None:
    """Every batch the cluster's executors derived (``mapInArrow`` over the canonical records,
    written as Spark part files) equals the Polars derivation in the DuckDB build's cache,
    column by column."""
    from canbao.registry import person_records, record_cache

    duck, spark = builds
    version = person_records.derivation_version()
    ours = duck / "registry" / "cache" / version
    theirs = spark / "registry" / "cache" / version
    batches = sorted(p.name for p in ours.iterdir() if p.is_dir())
    assert len(batches) >= 10
    assert sorted(p.name for p in theirs.iterdir() if p.is_dir()) == batches
    for name in batches:
        mine, other = record_cache.Entry.at(ours / name), record_cache.Entry.at(theirs / name)
        polars_parts = mine.scan().collect()
        if not other.carried:  # (a re-delivery's new rows are derived here, the rest carried on)
            files = list(other.own)
            assert files and all(f.name.endswith(".snappy.parquet") for f in files), name
        spark_parts = other.scan().collect()
        assert spark_parts.columns == polars_parts.columns
        assert spark_parts.height == polars_parts.height, name
        a = polars_parts.sort("rec_key")
        b = spark_parts.sort("rec_key").cast(a.schema)
        for col in a.columns:
            differ = sum(x != y for x, y in zip(a[col].to_list(), b[col].to_list(), strict=True))
            assert differ == 0, f"{name}: {col} differs in {differ} rows"


@spark_needed
def test_spark_can_train_the_model(
    builds: tuple[Path, Path], tmp_path: Path, spark_session: Any
) -> None:
    """Training on Spark (over the Spark build's nodes) saves the model in DuckDB's dialect; a
    DuckDB build takes it as it is (no retraining) and links as with the DuckDB-trained model,
    but for the few pairs whose u estimates (random sampling) differ."""
    from canbao.registry import build as registry_build
    from canbao.registry import hotkeys, scoring

    duck, spark = builds
    fresh = tmp_path / "fresh"
    shutil.copytree(duck, fresh, ignore=shutil.ignore_patterns("model"))
    model_dir = snapshot.registry_dir(fresh) / "model"
    eng = engine.SparkEngine(master="local[2]", work_dir=tmp_path / "work")
    snapshot.require_current(spark).register(eng, "nodes")
    hotkeys.build(eng)  # as the build does before training (blocking skips hot keys)
    scoring.train(eng, model_dir)
    saved = json.loads((model_dir / "person_model.json").read_text(encoding="utf-8"))
    assert saved["sql_dialect"] == "duckdb"
    assert "damerau_levenshtein(id_norm_l, id_norm_r) <= 1" in json.dumps(saved)
    assert scoring.model_is_current(model_dir)
    spark_model = registry_build._model_id(model_dir)
    api.build(fresh, full=True, engine="duckdb")
    assert snapshot.require_current(fresh).info["model_id"] == spark_model
    assert snapshot.require_current(duck).info["model_id"] != spark_model
    keys = ["source", "row", "person_key"]
    ours = api.links(fresh, SYSTEM).select(keys)
    theirs = api.links(duck, SYSTEM).select(keys)
    differ = ours.join(theirs, on=keys, how="anti").height
    assert ours.height == theirs.height and differ <= ours.height // 200, differ


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
        SPARK.string_agg("s", "o"): "ARRAY_JOIN(TRANSFORM(ARRAY_SORT(COLLECT_LIST("
        "NAMED_STRUCT('o', o, 'v', s))), x -> x.v), ';')",
        SPARK.array_contains("e.sources", "'amr'"): "ARRAY_CONTAINS(e.sources, 'amr')",
        SPARK.epoch_days("d"): "DATEDIFF(DAY, CAST('1970-01-01' AS DATE), d)",
    }
    for fragment, expected in cases.items():
        assert engine.to_spark_sql(f"SELECT {fragment}") == f"SELECT {expected}"
    # DuckDB-only syntax the registry uses, as Spark spells it
    assert (
        engine.to_spark_sql('SELECT arg_min(a, k) FILTER (WHERE a IS NOT NULL), t."row" FROM t')
        == "SELECT MIN_BY(a, k) FILTER(WHERE NOT a IS NULL), t.`row` FROM t"
    )
    # DuckDB's spellings mean the same: distinct non-null values, sorted; days since 1970
    import duckdb

    got = duckdb.sql(
        f"SELECT {DUCKDB.sorted_set('s')} AS v, max({DUCKDB.epoch_days('d')}) AS e "
        "FROM (VALUES ('b', DATE '1970-01-02'), ('a', NULL), (NULL, NULL), ('b', NULL)) t(s, d)"
    ).fetchall()
    assert got == [(["a", "b"], 1)]
    assert DUCKDB.string_agg("s", "o") == "string_agg(s, ';' ORDER BY o)"


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


# -- coverage ----------------------------------------------------------------------------------

# Every derived coverage table, with the key that identifies one of its rows.
COVERAGE_TABLES: dict[str, tuple[str, ...]] = {
    "record_status": ("batch_id", "row"),
    "person_scheme": ("person_key", "scheme"),
    "tax_rows": ("person_key", "employer_key", "period"),
    "person_segments": ("person_key",),  # every fact and the segment of each person
    "unlinked_candidates": ("other_key", "person_key"),
    "unlinked_cover": ("person_key",),
    "uninsured": ("person_key",),
    "duplicates": ("person_key", "kind", "schemes"),
    "deceased_enrolled": ("person_key", "scheme", "county_code", "death_date"),
    "employer_tax_month": ("employer_key", "period"),
    "employer_decl_month": ("employer_key", "period", "scheme"),
    "unregistered_employers": ("employer_key",),
    "headcount_month": ("employer_key", "scheme", "period"),
    "under_reporters": ("employer_key", "scheme"),
    "selective_employers": ("employer_key",),
    "record_ranges": ("person_key", "scheme", "county_code"),
    "land_farmers": ("person_key",),
}
# The work lists (canbao gaps), the export (canbao export coverage), statistics and actuals.
RESULT_KEYS: dict[str, tuple[str, ...]] = {
    "list uninsured": ("person_key",),
    "list missing_employee_pension": ("person_key",),
    "list identity_to_verify": ("person_key", "other_person_key"),
    "list presumed_students": ("person_key",),
    "list duplicates": ("person_key", "kind", "schemes"),
    "list deceased": ("person_key", "scheme", "scheme_county", "death_date"),
    "list unregistered_employers": ("employer_key",),
    "list under_reporters": ("employer_key", "scheme"),
    "list headcount_months": ("employer_key", "scheme", "period"),
    "list selective_employers": ("employer_key",),
    "list land_farmers_uninsured": ("person_key",),
    "export": ("person_key",),
    "enrolled": ("county_code", "scheme", "month"),
    "rates": ("county_code", "month"),
    "actuals": ("unit", "indicator"),
}
# Columns holding personal data: never shown in a failure message.
PERSONAL = {"id18", "name", "phone", "address", "birth_date", "death_date", "township"}
# Integer widths differ between the engines (DuckDB: year() is BIGINT and sum() of a BIGINT is
# a 128-bit HUGEINT, read as Decimal(38, 0); Spark: INT and BIGINT): values are compared as Int64.
INTEGER_LIKE = (pl.Int32, pl.Int64, pl.Decimal(38, 0))


def _coverage(data: Path, engine_name: str) -> dict[str, pl.DataFrame]:
    """Everything coverage computes, on one engine: lists, export, statistics, every table."""
    with coverage.session(data, SYSTEM, engine=engine_name, spark_master="local[2]") as s:
        out = {f"list {k}": v for k, v in coverage.gap_lists_in(s).items()}
        out["export"] = coverage.coverage_export_in(s)
        out["enrolled"] = stats.enrolled(s)
        out["rates"] = stats.rates(s)
        for table in COVERAGE_TABLES:
            out[table] = s.frame(f"SELECT * FROM {table}")
        day = s.as_of
    source = CoverageActuals(data, engine=engine_name, spark_master="local[2]")
    out["actuals"] = source.actuals(None, day)
    return out


@pytest.fixture(scope="module")
def coverages(
    builds: tuple[Path, Path],
) -> tuple[dict[str, pl.DataFrame], dict[str, pl.DataFrame]]:
    duck, spark = builds
    return _coverage(duck, "duckdb"), _coverage(spark, "spark")


def _shown(key: tuple[str, ...], row: tuple[Any, ...]) -> str:
    """A row's key for a failure message: keys masked, personal values hidden."""
    parts = []
    for name, value in zip(key, row, strict=True):
        if name in PERSONAL:
            parts.append(f"{name}=<hidden>")
        elif isinstance(value, str) and name.endswith(("_key", "_id")):
            parts.append(f"{name}={mask(value)}")
        else:
            parts.append(f"{name}={value}")
    return ", ".join(parts)


def _normalised(df: pl.DataFrame) -> pl.DataFrame:
    return df.with_columns(
        pl.col(c).cast(pl.Int64) for c, t in df.schema.items() if t in INTEGER_LIKE
    )


def _differences(name: str, key: tuple[str, ...], a: pl.DataFrame, b: pl.DataFrame) -> list[str]:
    """Compare two results row by row (on ``key``) and column by column; describe differences."""
    if a.columns != b.columns:
        return [f"{name}: columns {a.columns} (duckdb) != {b.columns} (spark)"]
    problems = [
        f"{name}.{c}: type {a.schema[c]} (duckdb) != {b.schema[c]} (spark)"
        for c in a.columns
        if a.schema[c] != b.schema[c]
        and not (a.schema[c] in INTEGER_LIKE and b.schema[c] in INTEGER_LIKE)
    ]
    if problems:
        return problems
    a, b = _normalised(a), _normalised(b)
    for side, df in (("duckdb", a), ("spark", b)):
        if df.select(key).is_duplicated().any():
            problems.append(f"{name}: key {key} is not unique on {side}")
    if problems:
        return problems
    j = a.with_columns(__duckdb=pl.lit(True)).join(
        b.with_columns(__spark=pl.lit(True)),
        on=list(key),
        how="full",
        nulls_equal=True,
        coalesce=True,
        suffix="__spark",
    )
    for side, other in (("duckdb", "__spark"), ("spark", "__duckdb")):
        rows = j.filter(pl.col(other).is_null())
        if rows.height:
            eg = "; ".join(_shown(key, r) for r in rows.select(key).head(3).iter_rows())
            problems.append(f"{name}: {rows.height} rows only on {side}, e.g. {eg}")
    both = j.filter(pl.col("__duckdb") & pl.col("__spark"))
    for c in a.columns:
        if c in key:
            continue
        differs = both.filter(~pl.col(c).eq_missing(pl.col(f"{c}__spark")))
        if differs.height:
            eg = "; ".join(_shown(key, r) for r in differs.select(key).head(3).iter_rows())
            shown = (
                "" if c in PERSONAL else f" ({differs[c][0]!r} vs {differs[c + '__spark'][0]!r})"
            )
            problems.append(
                f"{name}.{c}: {differs.height} of {both.height} rows differ{shown}; e.g. {eg}"
            )
    return problems


@spark_needed
def test_coverage_on_spark_equals_coverage_on_duckdb(
    builds: tuple[Path, Path],
    coverages: tuple[dict[str, pl.DataFrame], dict[str, pl.DataFrame]],
) -> None:
    """Coverage on the Spark build, run by Spark, flags exactly what DuckDB flags: every person's
    status per scheme, segment and facts, gaps, duplicates, deceased-enrolled, employer findings,
    work lists, the export, monthly statistics and the plan's actuals."""
    duck, spark = coverages
    assert set(duck) == set(spark) == set(COVERAGE_TABLES) | set(RESULT_KEYS)
    problems: list[str] = []
    for name in sorted(duck):
        key = COVERAGE_TABLES.get(name) or RESULT_KEYS[name]
        problems += _differences(name, key, duck[name], spark[name])
    assert not problems, "coverage differs between DuckDB and Spark:\n" + "\n".join(problems)
    # the comparison is not vacuous: the city has findings of every kind
    for name in (
        "uninsured",
        "duplicates",
        "deceased_enrolled",
        "unregistered_employers",
        "under_reporters",
        "selective_employers",
        "list identity_to_verify",
    ):
        assert duck[name].height > 0, name
    assert duck["person_segments"].height == _table(builds[0], "persons").height
    assert duck["record_status"].height == _table(builds[0], "enrollments").height


@spark_needed
def test_likely_owners_on_spark_equal_duckdbs(spark_session: Any, tmp_path: Path) -> None:
    """The hand-made city of ``test_owners.py`` (records without ID whose likely owner is found
    by name and birth month in the county, by pinyin, and by name at the employer), with a
    reviewer's "different": the likely owners, the review queue and the coverage tables that
    read them are the same on both engines (the synthetic city has too few such records)."""
    from canbao.registry import decisions
    from tests.registry.test_owners import city

    duck, spark = tmp_path / "duck", tmp_path / "spark"
    api.build(duck, source=city())
    first = _table(duck, "review_items").filter(pl.col("reason") == "likely_owner").sort("pair_id")
    decisions.record(duck, first["left_key"][0], first["right_key"][0], "different")
    api.build(duck, source=city(), full=True)
    shutil.copytree(duck, spark)
    api.build(spark, source=city(), full=True, engine="spark", spark_master="local[2]")
    assert snapshot.require_current(spark).info["engine"] == "spark"
    assert _table(duck, "likely_owners").height == 2
    for name in ("likely_owners", "review_items", "links", "b_cluster"):
        _same(_table(duck, name), _table(spark, name))
    tables = {
        "unlinked_candidates": ("other_key", "person_key"),
        "unlinked_cover": ("person_key",),
        "duplicates": ("person_key", "kind", "schemes"),
        "deceased_enrolled": ("person_key", "scheme", "county_code", "death_date"),
    }
    from canbao.coverage import deceased, duplicates, gaps

    found = {}
    for data, name in ((duck, "duckdb"), (spark, "spark")):
        with coverage.session(data, SYSTEM, engine=name, spark_master="local[2]") as s:
            s.ensure("unlinked_cover", gaps.build_unlinked_cover)
            s.ensure("duplicates", duplicates.build_duplicates)
            s.ensure("deceased_enrolled", deceased.build_deceased)
            found[name] = {t: s.frame(f"SELECT * FROM {t}") for t in tables}
    problems: list[str] = []
    for t, key in tables.items():
        problems += _differences(t, key, found["duckdb"][t], found["spark"][t])
    assert not problems, "\n".join(problems)
    assert found["duckdb"]["unlinked_candidates"].height == 2


@spark_needed
def test_a_kind_never_ingested_is_an_empty_view_on_spark(spark_session: Any) -> None:
    """The empty ``cov_<kind>`` view (SELECT without FROM) runs on Spark with its types."""
    eng = engine.SparkEngine()
    try:
        eng.execute(records_view_sql("declaration", None))
        empty = eng.fetch("SELECT * FROM cov_declaration")
    finally:
        eng.close()
    assert empty.height == 0
    assert empty.schema["as_of"] == pl.Date and empty.schema["due"] == pl.Int64
    assert empty.columns == [*RECORD_COLUMNS["declaration"], "file_batch"]
    assert empty.schema["file_batch"] == pl.Utf8


def test_coverage_commands_take_the_engine_options(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """``canbao gaps`` and ``canbao export coverage`` pass --engine/--spark-master (or
    $CANBAO_ENGINE / $CANBAO_SPARK_MASTER) to the coverage API, as ``canbao build`` does."""
    seen: list[dict[str, Any]] = []

    def gap_lists(*args: Any, **kwargs: Any) -> dict[str, pl.DataFrame]:
        seen.append(kwargs)
        return {}

    def export(*args: Any, **kwargs: Any) -> pl.DataFrame:
        seen.append(kwargs)
        return pl.DataFrame({"person_key": ["P1"]})

    monkeypatch.setattr(coverage, "gap_lists", gap_lists)
    monkeypatch.setattr(coverage, "write_gap_lists", lambda lists, out: WriteSummary(out))
    monkeypatch.setattr(coverage, "coverage_export", export)
    monkeypatch.delenv("CANBAO_ENGINE", raising=False)
    monkeypatch.delenv("CANBAO_SPARK_MASTER", raising=False)
    out = ["--out", str(tmp_path / "x.csv"), "--data-dir", str(tmp_path)]
    assert cli.run(["gaps", *out, "--engine", "spark", "--spark-master", "local[3]"]) == 0
    assert cli.run(["export", "coverage", *out]) == 0
    monkeypatch.setenv("CANBAO_ENGINE", "spark")
    monkeypatch.setenv("CANBAO_SPARK_MASTER", "spark://head:7077")
    assert cli.run(["export", "coverage", *out]) == 0
    seen = [{k: v for k, v in kw.items() if k in ("engine", "spark_master")} for kw in seen]
    assert seen == [
        {"engine": "spark", "spark_master": "local[3]"},
        {"engine": None, "spark_master": None},
        {"engine": "spark", "spark_master": "spark://head:7077"},
    ]


@spark_needed
def test_late_fee_sql_on_spark_agrees_with_python(spark_session: Any) -> None:
    """Due dates, late days under both day rules and the fee: the ledger's SQL, transpiled to
    Spark, gives what the Python functions give (known answers in tests/collection)."""
    from canbao.collection.late_fees import (
        days_sql,
        due_date,
        due_date_sql,
        late_days,
        late_fee_fen,
        late_fee_sql,
    )  # fmt: skip
    from canbao.registry.engine import to_spark_sql

    D = dt.date

    def _lit(d: dt.date) -> str:
        return f"DATE '{d.isoformat()}'"

    rows = [
        ("2017-01", D(2017, 4, 10), 100_000, 41),
        ("2017-01", D(2017, 2, 28), 123_457, 3),
        ("2016-01", D(2016, 3, 1), 1_000, 1),
        ("2017-12", D(2018, 3, 2), -12_345, 3),
        ("2099-12", D(2000, 1, 1), 999, 1),
    ]
    values = ", ".join(f"('{p}', {_lit(u)}, {pr}, {d})" for p, u, pr, d in rows)
    due = due_date_sql("p")
    sql = (
        f"SELECT {due} AS due, {days_sql(due, 'u')} AS a, "
        f"{days_sql(due, 'u', 'second_month_start')} AS b, {late_fee_sql('pr', 'd')} AS fee "
        f"FROM (VALUES {values}) t(p, u, pr, d)"
    )
    got = [tuple(r) for r in spark_session.sql(to_spark_sql(sql)).collect()]
    want = [
        (
            due_date(p),
            late_days(due_date(p), u),
            late_days(due_date(p), u, "second_month_start"),
            late_fee_fen(pr, d),
        )
        for p, u, pr, d in rows
    ]
    assert got == want
    assert want[0] == (D(2017, 2, 28), 41, 40, 2050)  # worked by hand in tests/collection


@spark_needed
def test_ledger_arrears_and_kpis_on_spark_equal_duckdbs(spark_session: Any, tmp_path: Path) -> None:
    """The contribution ledger (estimated months, payments de-duplicated by transaction id and
    by content, opening arrears, late fees), the arrears list and the KPIs of the hand-made
    ledger city (tests/collection/ledger_city.py, every figure worked by hand in
    tests/collection/test_ledger.py; with an approved deferral) are the same when Spark runs the
    SQL."""
    from canbao.collection import api as ledger_api
    from canbao.collection import kpi, workflow_state
    from tests.collection.ledger_city import AS_OF, make_data

    data = make_data(tmp_path)
    _approved_deferral(data)  # the late fee's deferred days, computed in SQL on both engines
    duck = (
        ledger_api.ledger(data, SYSTEM, AS_OF),
        ledger_api.arrears(data, SYSTEM, AS_OF),
        ledger_api.kpis(data, SYSTEM, 2017, AS_OF),
    )
    assert all(frame.height > 0 for frame in duck)
    with coverage.session(data, SYSTEM, AS_OF, engine="spark", spark_master="local[2]") as s:
        spark = (
            ledger_api.ledger_in(s),
            workflow_state.with_states(ledger_api.arrears_in(s), data, SYSTEM),
            kpi.kpis_in(s),
        )
    for a, b in zip(duck, spark, strict=True):
        assert_frame_equal(a, b, check_dtypes=False)


def _approved_deferral(data: Path) -> None:
    """An approved deferral (January 2017) for employer B of the ledger city."""
    from canbao.collection import agreements
    from canbao.collection import api as ledger_api
    from canbao.store import Actor, open_store
    from tests.collection.ledger_city import AS_OF, codes

    led = ledger_api.ledger(data, SYSTEM, AS_OF)
    key = str(led.filter(pl.col("credit_code") == codes()["B"])["employer_key"][0])
    store = open_store(data)
    try:
        emp = agreements.Employer(key, "乙", codes()["B"], "360423")
        deal = agreements.propose(
            store, Actor.operator(), SYSTEM, emp, ["employee_pension"], "deferral", 80000,
            guarantee_note="担保", start=dt.date(2017, 1, 1), end=dt.date(2017, 1, 31),
        )  # fmt: skip
        agreements.approve(store, Actor.operator(), SYSTEM, deal.id, on=dt.date(2016, 12, 30))
    finally:
        store.dispose()
