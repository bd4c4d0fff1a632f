from __future__ import annotations

import json
from pathlib import Path

import pytest

from canbao.cli import run


def test_synth_command_writes_a_city(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "c"
    code = run(
        ["synth", "--persons", "600", "--seed", "9", "--out", str(out), "--damage-scale", "0"]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "manifest" in captured.out
    m = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert m["generator"]["seed"] == 9 and len(m["files"]) == 20
    damage = (out / "truth" / "damage.csv").read_text(encoding="utf-8").splitlines()
    assert damage == ["source,row,kinds"]  # --damage-scale 0: clean extracts


def test_synth_rates_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rates = tmp_path / "rates.json"
    rates.write_text(json.dumps({"id_missing": 0.2}), encoding="utf-8")
    code = run(["synth", "--persons", "400", "--out", str(tmp_path / "c"), "--rates", str(rates)])
    assert code == 0
    summary = json.loads((tmp_path / "c" / "truth" / "summary.json").read_text(encoding="utf-8"))
    assert summary["rates"]["id_missing"] == 0.2
    capsys.readouterr()


@pytest.mark.parametrize(
    "args",
    [
        ["--persons", "5"],
        ["--persons", "500", "--year", "1999"],
        ["--persons", "500", "--damage-scale", "-1"],
    ],
)
def test_synth_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    assert run(["synth", "--out", str(tmp_path / "x"), *args]) == 2
    assert "错误" in capsys.readouterr().err


def test_synth_bad_rates_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "r.json"
    bad.write_text('{"id_tyop": 0.1}', encoding="utf-8")
    assert (
        run(["synth", "--persons", "500", "--out", str(tmp_path / "x"), "--rates", str(bad)]) == 2
    )
    bad.write_text("not json", encoding="utf-8")
    assert (
        run(["synth", "--persons", "500", "--out", str(tmp_path / "x"), "--rates", str(bad)]) == 1
    )
    capsys.readouterr()
