"""A small synthetic city, generated and ingested once per test session (shared fixture code)."""

from __future__ import annotations

from collections.abc import Callable
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


def redeliver_population(city: Path, data: Path, files: Path, as_of: str, *, edit: bool) -> Path:
    """The household register delivered again in full as of ``as_of``, in another encoding,
    column order and row order; with ``edit``: every 40th address edited, every 97th row gone
    and five new residents (new IDs)."""
    from canbao.standards import citizen_id

    def edited(header: list[str], rows: list[list[str]]) -> list[list[str]]:
        if not edit:
            return rows
        address, ident, name = (
            header.index("户籍地址"),
            header.index("公民身份号码"),
            header.index("姓名"),
        )
        rows = [r for i, r in enumerate(rows) if i % 97 != 13]
        for i, r in enumerate(rows):
            if i % 40 == 7:
                r[address] = r[address] + "附1号"
        for k in range(5):
            new = list(rows[k * 7])
            body = f"36040219950{k + 1}0{k + 1}9{k}1"
            new[ident] = body + citizen_id.compute_check_char(body)
            new[name] = "新居民" + "甲乙丙丁戊"[k]
            rows.append(new)
        return rows

    return redeliver(city, data, files, "police_hukou", as_of, edited)


def source_rows(city: Path, source: str) -> tuple[list[str], list[list[str]]]:
    """The header and rows of the city's (CSV) extract of ``source``."""
    import csv
    import io

    f = next(f for f in manifest.load(city).files if f.source == source)
    text = Path(f.path).read_text(f.encoding or "utf-8")
    header, *rows = list(csv.reader(io.StringIO(text)))
    return header, rows


def redeliver(
    city: Path,
    data: Path,
    files: Path,
    source: str,
    as_of: str,
    edit: Callable[[list[str], list[list[str]]], list[list[str]]],
) -> Path:
    """The city's (CSV) extract of ``source`` delivered again in full as of ``as_of``, with
    ``edit(header, rows)`` applied, in UTF-8, its columns and rows in reverse order."""
    import csv

    f = next(f for f in manifest.load(city).files if f.source == source)
    header, rows = source_rows(city, source)
    rows = edit(header, rows)
    rows.reverse()
    order = list(reversed(range(len(header))))  # the columns in another order
    files.mkdir(parents=True, exist_ok=True)
    path = files / f"{source}_{as_of}.csv"
    with path.open("w", encoding="utf-8", newline="") as out:
        w = csv.writer(out)
        w.writerow([header[i] for i in order])
        w.writerows([r[i] for i in order] for r in rows)
    ingest_file(data, path, source=f.source, kind=f.kind, scheme=f.scheme, as_of=as_of)
    return path
