"""Synthetic cities for benchmarks, generated and ingested once and cached in bench/.cache/."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from canbao.ingest.api import ingest_file, ingest_manifest  # noqa: E402
from canbao.synth import generate  # noqa: E402
from canbao.synth.month import new_enrolment_extract  # noqa: E402

CACHE = HERE / ".cache"


def city(persons: int, seed: int = 7) -> Path:
    root = CACHE / f"city-{persons}-{seed}"
    if not (root / "manifest.json").exists():
        if root.exists():
            shutil.rmtree(root)
        generate(persons, seed, root)
    return root


def ingested(persons: int, seed: int = 7) -> tuple[Path, Path]:
    """(city dir, data dir with every file ingested; no registry build)."""
    c = city(persons, seed)
    data = CACHE / f"data-{persons}-{seed}"
    done = data / ".ingested"
    if not done.exists():
        if data.exists():
            shutil.rmtree(data)
        for f, res in ingest_manifest(data, c):
            if isinstance(res, Exception):
                raise RuntimeError(f"{f.path}: {res}")
        done.write_text("ok")
    return c, data


def fresh_copy(data: Path, name: str) -> Path:
    """A copy of an ingested data dir without any registry, to build into."""
    dest = CACHE / name
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(data, dest, ignore=shutil.ignore_patterns("registry"))
    return dest


def ingest_new_month(city_dir: Path, data: Path, share: float = 0.01) -> None:
    """Ingest a next month's extract into ``data``: ``share`` of the city's residents newly in
    resident medical insurance (the monthly update the benchmarks time)."""
    extract = new_enrolment_extract(city_dir, CACHE / f"month2-{city_dir.name}.csv", share)
    ingest_file(
        data, extract, source="si_resident_medical_m2", kind="enrollment",
        scheme="resident_medical", as_of="2018-01-31",
    )  # fmt: skip
