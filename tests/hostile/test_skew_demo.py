"""Skewed data: a skewed city (hot employers, a collective account per county, collective
households, common names) runs every command of the demo (issue 24)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl


def test_skewed_city_runs_the_whole_demo(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    env = {**os.environ, "CANBAO_NO_SERVE": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "canbao", "demo", "--skew", "--out", str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "演示完成" in proc.stdout
    # the city really is skewed, and the registry saw its hot keys
    cfg = json.loads((out / "city" / "truth" / "summary.json").read_text(encoding="utf-8"))
    assert cfg.get("skew"), "the demo city was not generated with a skew"
    current = (out / "data" / "registry" / "CURRENT").read_text(encoding="utf-8").strip()
    info = json.loads(
        (out / "data" / "registry" / "snapshots" / current / "build.json").read_text("utf-8")
    )
    assert info["hot_key_counts"]["household"] >= 1  # the collective households
    # every gap list and the 通报 were written
    lists = sorted((out / "coverage").rglob("*.xlsx"))
    assert len(lists) >= 3
    assert any((out / "plan").rglob("*.docx")) or any((out / "plan").rglob("*.xlsx"))
    persons = pl.read_parquet(
        out / "data" / "registry" / "snapshots" / current / "persons.parquet"
    ).height
    assert persons > 15_000
