"""A Spark standalone cluster on this machine, for the Spark equivalence tests.

A master and a worker are started with the ``spark-class`` launcher that PySpark ships, so
executors are separate JVMs that receive Splink's UDF jar over the network, exactly as on a real
cluster; :func:`submit_build` runs ``canbao build --engine spark`` with ``spark-submit`` (the
application file from ``python -m canbao.spark_app``), as docs/scale.md tells the data team.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from canbao.spark_app import app_file


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def spark_home() -> Path:
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


@contextmanager
def standalone_cluster(logs: Path) -> Iterator[str]:
    """A master and one worker (2 cores, 2 GB) on 127.0.0.1; yields the master's URL and stops
    both on exit."""
    home = spark_home()
    env = _env(home)
    logs.mkdir(parents=True, exist_ok=True)
    port, ui = _free_port(), _free_port()
    launcher = str(home / "bin" / "spark-class")
    url = f"spark://127.0.0.1:{port}"
    procs = [
        subprocess.Popen(
            [launcher, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
             "--port", str(port), "--webui-port", str(ui)],
            env=env, stdout=(logs / "master.log").open("w"), stderr=subprocess.STDOUT,
        )
    ]  # fmt: skip
    try:
        procs.append(
            subprocess.Popen(
                [launcher, "org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1",
                 "--cores", "2", "--memory", "2g", "--webui-port", str(_free_port()),
                 "--work-dir", str(logs / "work"), url],
                env=env, stdout=(logs / "worker.log").open("w"), stderr=subprocess.STDOUT,
            )
        )  # fmt: skip
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


def submit_build(master: str, data_dir: Path) -> None:
    """``spark-submit --master MASTER … canbao build --engine spark --full`` on ``data_dir``;
    fails the test with the output's error lines when the build does not succeed."""
    from splink.backends.spark import similarity_jar_location

    home = spark_home()
    submit = [
        str(home / "bin" / "spark-submit"), "--master", master,
        "--jars", similarity_jar_location(),
        "--conf", "spark.executor.memory=1g", "--conf", "spark.sql.shuffle.partitions=4",
        "--conf", "spark.ui.enabled=false", "--driver-memory", "1g",
        str(app_file()), "build", "--engine", "spark", "--full", "--data-dir", str(data_dir),
    ]  # fmt: skip
    done = subprocess.run(
        submit, env=_env(home), capture_output=True, text=True, timeout=1200, check=False
    )
    output = (done.stdout + "\n" + done.stderr).splitlines()
    errors = [line for line in output if "Error" in line or "错误" in line or "Traceback" in line]
    assert done.returncode == 0, "\n".join(errors[-20:]) or done.stderr[-3000:]
