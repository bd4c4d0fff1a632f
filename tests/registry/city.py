"""A small synthetic city, generated and ingested once per test session (shared fixture code)."""

from __future__ import annotations

from pathlib import Path

from canbao.errors import CanbaoError
from canbao.ingest import manifest
from canbao.ingest.api import ingest_manifest
from canbao.ingest.batches import ingest_file
from canbao.synth import generate
from canbao.synth.month import new_enrolment_extract


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


def ingest_month(city: Path, data: Path, files: Path) -> None:
    """The next month: the death list delivered again without its last three entries (it
    supersedes last month's) and 1 % of residents newly in resident medical insurance."""
    deaths = next(f for f in manifest.load(city).files if f.kind == "death")
    encoding = deaths.encoding or "utf-8"
    lines = Path(deaths.path).read_text(encoding).splitlines(keepends=True)
    files.mkdir(parents=True, exist_ok=True)
    again = files / ("2018_01_" + Path(deaths.path).name)
    again.write_text("".join(lines[:-3]), encoding)
    ingest_file(
        data, again, source=deaths.source, kind="death", as_of="2018-01-31",
        mapping=deaths.map, encoding=deaths.encoding,
    )  # fmt: skip
    extract = new_enrolment_extract(city, files / "jumin_yibao_2018_01.csv")
    ingest_file(
        data, extract, source="si_resident_medical_m2", kind="enrollment",
        scheme="resident_medical", as_of="2018-01-31",
    )  # fmt: skip
