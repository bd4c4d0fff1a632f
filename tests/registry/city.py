"""A small synthetic city, generated and ingested once per test session (shared fixture code)."""

from __future__ import annotations

from pathlib import Path

from canbao.errors import CanbaoError
from canbao.ingest import manifest
from canbao.ingest.api import ingest_manifest
from canbao.ingest.batches import ingest_file
from canbao.synth import generate


def make_city(root: Path, persons: int = 3000, seed: int = 11) -> Path:
    city = root / "city"
    if not (city / "manifest.json").exists():
        generate(persons, seed, city)
    return city


def ingest(city: Path, data: Path, only: set[str] | None = None) -> None:
    """Ingest the city's manifest (optionally only the given sources)."""
    if only is None:
        for f, res in ingest_manifest(data, city):
            assert not isinstance(res, CanbaoError), (f.path, res)
        return
    for f in manifest.load(city).files:
        if f.source in only:
            ingest_file(
                data, f.path, source=f.source, kind=f.kind, scheme=f.scheme, as_of=f.as_of,
                mapping=f.map, sheet=f.sheet, encoding=f.encoding,
            )  # fmt: skip
