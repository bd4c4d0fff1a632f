"""The registry build on a Spark *cluster*, submitted with ``spark-submit`` as docs/scale.md says.

A standalone cluster runs on this machine: a master and a worker started with the ``spark-class``
launcher that PySpark ships, so executors are separate JVMs that receive Splink's UDF jar over
the network, exactly as on a real cluster. ``spark-submit --master spark://127.0.0.1:PORT``
runs ``canbao build --engine spark`` (the application file from ``python -m canbao.spark_app``);
the result must equal a DuckDB build of the same data with the same trained model.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

from canbao.registry import api, snapshot
from canbao.spark_app import app_file
from tests.registry.city import ingest, make_city

pytestmark = pytest.mark.skipif(
    shutil.which("java") is None, reason="Spark needs Java 17 (CI has it: scripts/system-deps.sh)"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _spark_home() -> Path:
    pyspark = pytest.importorskip("pyspark", reason="pip install 'canbao[spark]'")
    return Path(pyspark.__file__).parent


def _env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        SPARK_HOME=str(home),
        SPARK_LOCAL_IP="127.0.0.1",
        PYSPARK_PYTHON=sys.executable,
        PYSPARK_DRIVER_PYTHON=sys.executable,
    )
    env.pop("PYSPARK_GATEWAY_PORT", None)
    env.pop("CANBAO_SPARK_MASTER", None)
    return env


def _workers_alive(ui_port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{ui_port}/json/", timeout=2) as r:
            state = json.load(r)
    except (urllib.error.URLError, OSError, ValueError):
        return 0
    return sum(1 for w in state.get("workers", []) if w.get("state") == "ALIVE")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = _spark_home()
    env = _env(home)
    logs = tmp_path_factory.mktemp("spark-cluster")
    port, ui = _free_port(), _free_port()
    launcher = str(home / "bin" / "spark-class")
    procs = [
        subprocess.Popen(
            [
                launcher,
                "org.apache.spark.deploy.master.Master",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--webui-port",
                str(ui),
            ],
            env=env,
            stdout=(logs / "master.log").open("w"),
            stderr=subprocess.STDOUT,
        ),  # fmt: skip
    ]
    url = f"spark://127.0.0.1:{port}"
    try:
        procs.append(
            subprocess.Popen(
                [
                    launcher,
                    "org.apache.spark.deploy.worker.Worker",
                    "--host",
                    "127.0.0.1",
                    "--cores",
                    "2",
                    "--memory",
                    "2g",
                    "--webui-port",
                    str(_free_port()),
                    "--work-dir",
                    str(logs / "work"),
                    url,
                ],
                env=env,
                stdout=(logs / "worker.log").open("w"),
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        )
        deadline = time.monotonic() + 90
        while _workers_alive(ui) < 1:
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                pytest.fail("the standalone Spark cluster did not start: see " + str(logs))
            time.sleep(1)
        yield url
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()


def test_spark_submit_on_a_standalone_cluster_equals_duckdb(
    cluster: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from splink.backends.spark import similarity_jar_location

    root = tmp_path_factory.mktemp("spark-submit")
    city = make_city(root, persons=300, seed=31)
    duck = root / "duck"
    ingest(city, duck)
    api.build(duck, full=True)
    spark = root / "spark"
    # without the derivation cache: the Spark build derives every batch on the executors
    shutil.copytree(duck, spark, ignore=shutil.ignore_patterns("cache"))

    home = _spark_home()
    submit = [
        str(home / "bin" / "spark-submit"), "--master", cluster,
        "--jars", similarity_jar_location(),
        "--conf", "spark.executor.memory=1g", "--conf", "spark.sql.shuffle.partitions=4",
        "--driver-memory", "1g",
        str(app_file()), "build", "--engine", "spark", "--full", "--data-dir", str(spark),
    ]  # fmt: skip
    done = subprocess.run(
        submit, env=_env(home), capture_output=True, text=True, timeout=900, check=False
    )
    output = (done.stdout + "\n" + done.stderr).splitlines()
    errors = [line for line in output if "Error" in line or "错误" in line or "Traceback" in line]
    assert done.returncode == 0, "\n".join(errors[-20:]) or done.stderr[-3000:]

    cache = spark / "registry" / "cache"
    spark_parts = list(cache.glob("*/*/part-*.parquet"))
    assert spark_parts and all(p.name.endswith(".snappy.parquet") for p in spark_parts)
    info = snapshot.require_current(spark).info
    assert info["engine"] == "spark"
    assert info["mode"] == "full"
    for table, key in (
        ("links", ["source", "row"]),
        ("persons", ["person_key"]),
        ("employer_links", ["source", "row"]),
    ):
        a = snapshot.require_current(duck).scan(table).collect().sort(key)
        b = snapshot.require_current(spark).scan(table).collect().sort(key)
        assert a.height == b.height, table
        cols = [c for c in a.columns if a.schema[c] != pl.Float64]
        assert a.select(cols).equals(b.select(cols).cast(a.select(cols).schema)), table
