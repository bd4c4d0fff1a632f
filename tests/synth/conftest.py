from __future__ import annotations

import json
from pathlib import Path

import fastexcel
import polars as pl
import pytest

from canbao.synth import generate


@pytest.fixture(scope="session")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small city (20,000 residents) shared by the tests that only read it."""
    out = tmp_path_factory.mktemp("city")
    generate(20_000, 11, out)
    return out


def manifest(root: Path) -> dict:
    return json.loads((root / "manifest.json").read_text(encoding="utf-8"))


def read_extract(root: Path, entry: dict) -> pl.DataFrame:
    """Read an extract back as text columns (header row found below any title rows)."""
    path = root / entry["path"]
    if path.suffix == ".xlsx":
        sheet = fastexcel.read_excel(str(path)).load_sheet(0, header_row=None)
        raw = sheet.to_polars()
        # the header row is the first row whose cells are all filled
        filled = raw.select(pl.all_horizontal(pl.all().is_not_null()).alias("f"))["f"].to_list()
        h = filled.index(True)
        sheet = fastexcel.read_excel(str(path)).load_sheet(0, header_row=h, dtypes="string")
        return sheet.to_polars()
    text = path.read_bytes().decode(entry["encoding"])
    return pl.read_csv(text.encode("utf-8"), infer_schema=False)
