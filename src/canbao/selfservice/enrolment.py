"""A person's own enrolment, as the self-service status page shows it: one line per scheme —
the scheme, its status (参保缴费 / 暂停缴费 / 终止参保: the payment state the enrolment
extracts carry), since when, until when, the employer of an employee scheme — and the person's
name, ID and phone masked.

Reads: the snapshot's ID index for the look-up by ID (one row group) and the person's rows of
``enrollments`` through a reader the caller gives (the web passes the build's person-sorted
copies: one or two row groups), by default a filtered scan of the snapshot.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import polars as pl
from pydantic import BaseModel

from canbao.ingest.kinds import SCHEME_LABELS_ZH
from canbao.registry import snapshot
from canbao.standards import masking
from canbao.standards.citizen_id import mask as mask_id

SCHEME_ORDER = (
    "employee_pension", "resident_pension", "employee_medical", "resident_medical",
    "work_injury", "maternity", "unemployment",
)  # fmt: skip
STATUS_ZH = {"active": "参保缴费", "suspended": "暂停缴费", "ended": "终止参保"}
STATUS_RANK = {"active": 3, "suspended": 2, "ended": 1}
PERSON_COLUMNS = ("person_key", "name", "id18", "phone", "county_code", "death_date")

Rows = Callable[[str, str], pl.DataFrame]  # (table, person_key) -> that person's rows


class SchemeLine(BaseModel):
    scheme: str
    scheme_label: str
    status: str | None
    status_label: str
    since: dt.date | None
    until: dt.date | None
    employer_name: str | None
    as_of: dt.date | None  # the extract's date: the status holds as of this day


class PersonStatus(BaseModel):
    name: str  # masked
    id18: str  # masked
    phone: str  # masked
    county_code: str | None
    lines: list[SchemeLine]
    as_of: dt.date | None


def find_person(data_dir: Path, id18: str) -> pl.DataFrame:
    """The master persons with this ID (the snapshot's ID index)."""
    snap = snapshot.require_current(data_dir)
    return snap.find_id(id18).select([c for c in PERSON_COLUMNS])


def snapshot_rows(data_dir: Path) -> Rows:
    """A reader of the current snapshot's tables (a filtered scan)."""

    def rows(table: str, person_key: str) -> pl.DataFrame:
        snap = snapshot.require_current(data_dir)
        lf = snap.scan(table).filter(pl.col("person_key") == person_key)
        if table == "enrollments":
            names = snap.scan("employers").select(
                "employer_key", pl.col("name").alias("employer_name")
            )
            lf = lf.join(names, on="employer_key", how="left")
        return lf.collect()

    return rows


def _lines(enrollments: pl.DataFrame) -> list[SchemeLine]:
    if enrollments.height == 0:
        return []
    if "employer_name" not in enrollments.columns:
        enrollments = enrollments.with_columns(employer_name=pl.lit(None, pl.Utf8))
    order = {s: i for i, s in enumerate(SCHEME_ORDER)}
    ranked = enrollments.with_columns(
        _rank=pl.col("status").fill_null("active").replace_strict(STATUS_RANK, default=0),
        _o=pl.col("scheme").replace_strict(order, default=99, return_dtype=pl.Int32),
    )
    best = (
        ranked.sort("_rank", "start_date", descending=[True, False], nulls_last=True)
        .group_by("scheme", maintain_order=True)
        .agg(
            pl.col("status").first().fill_null("active"),
            pl.col("start_date").min().alias("since"),
            pl.col("end_date").first().alias("until"),
            pl.col("employer_name").drop_nulls().first(),
            pl.col("as_of").max(),
            pl.col("_o").first(),
        )
        .sort("_o")
    )
    return [
        SchemeLine(
            scheme=r["scheme"],
            scheme_label=SCHEME_LABELS_ZH.get(r["scheme"], r["scheme"]),
            status=r["status"],
            status_label=STATUS_ZH.get(r["status"], r["status"] or "—"),
            since=r["since"],
            until=r["until"] if r["status"] != "active" else None,
            employer_name=r["employer_name"]
            if r["scheme"].startswith("employee_")
            or r["scheme"] in ("work_injury", "maternity", "unemployment")
            else None,
            as_of=r["as_of"],
        )
        for r in best.to_dicts()
    ]


def person_status(data_dir: Path, person_key: str, rows: Rows | None = None) -> PersonStatus:
    """What the person's status page shows (masked); ``rows``: see :data:`Rows`."""
    read = rows or snapshot_rows(data_dir)
    person = read("persons", person_key)
    enrollments = read("enrollments", person_key)
    row = person.row(0, named=True) if person.height else {}
    lines = _lines(enrollments)
    days = [x.as_of for x in lines if x.as_of is not None]
    return PersonStatus(
        name=masking.mask_name(row.get("name")),
        id18=mask_id(row.get("id18")),
        phone=masked_phone(row.get("phone")),
        county_code=row.get("county_code"),
        lines=lines,
        as_of=max(days) if days else None,
    )


def masked_phone(phone: str | None) -> str:
    if not phone:
        return ""
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 7 else "****"
