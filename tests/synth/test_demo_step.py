from __future__ import annotations

import json
from pathlib import Path

from canbao.synth.demo import DEMO_PERSONS, run_synth_demo


def test_demo_step_writes_the_city_where_ingest_looks(tmp_path: Path) -> None:
    where = run_synth_demo(tmp_path)
    manifest = tmp_path / "city" / "manifest.json"
    assert str(manifest) in where.values()
    assert str(tmp_path / "city" / "truth") in where.values()
    data = json.loads(manifest.read_text(encoding="utf-8"))
    assert data["generator"]["persons"] == DEMO_PERSONS
    assert all((tmp_path / "city" / f["path"]).is_file() for f in data["files"])
    task = tmp_path / "city" / data["task_table"]["path"]  # the 附件1 at the city's size
    assert task.is_file() and str(task) in where.values()
