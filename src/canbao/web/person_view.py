"""Persons in the web workspace: the search (by citizen ID, name or pinyin) and the person 360
page's data (master record, source records with their link evidence, enrolment history,
flags, cases, ID corrections). The routes (:mod:`canbao.web.routes.search`,
:mod:`canbao.web.routes.persons`) render what this module assembles; the JSON of the API is
the same models.

**Search index.** A look-up by ID goes through the snapshot's ID index
(:meth:`canbao.registry.snapshot.Snapshot.find_id`: one row group read). Everything else goes
through a second index, made once per registry build and kept beside the data
(``DATA/web/persons-<build_id>.parquet``; in memory when the directory cannot be written): one
row per person and key — the normalised name, its toneless pinyin key, and every ID as
delivered that the registry corrected to this person — sorted by key in row groups of
:data:`ROW_GROUP` rows with statistics. The footers of both indexes are read once per build
(:class:`canbao.web.keyed.Table`); an exact look-up then reads the one or two row groups whose
min/max hold the key (a few milliseconds on millions of residents), never the whole table; the
row carries what a hit shows (masked ID, birth year, township …), so nothing else is read. The
index is made in the background when a build appears (20–35 s for 5 million residents on two
cores: :mod:`canbao.web.warmup`; the search page also starts it); meanwhile the previous
build's index answers, and only the very first search of a data directory waits for it. Every
result is filtered by the viewer's scope before it is counted, and at most :data:`CAP` hits are
returned, with the total.

**Person 360.** The person's rows of ``persons``, ``links``, ``enrollments``,
``id_corrections``, ``likely_owners`` and the model's link probabilities are read from the
build's person-sorted copies (:mod:`canbao.web.keyed`: one or two row groups each, tens of
milliseconds in all on 5 million residents) — the previous build's while the current one's are
made (the page says so) — or, when there are none, from the snapshot's tables (whole-table
scans: a heavy slot of :mod:`canbao.web.limits`). Both give the same page (tests compare).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import polars as pl
from pydantic import BaseModel
from sqlalchemy import select

from canbao.cases import KINDS as CASE_KINDS
from canbao.cases import OUTCOMES, STATE_LABELS, lifecycle
from canbao.coverage.api import SCHEME_ORDER
from canbao.coverage.status import STATUS_RANK, STATUS_ZH
from canbao.errors import NotFoundError, StateError
from canbao.ingest.kinds import KIND_LABELS_ZH, SCHEME_LABELS_ZH
from canbao.profile import Profile
from canbao.registry import api as registry_api
from canbao.registry import id_index, snapshot
from canbao.registry.corrections import (
    ID_ERROR_SHORT_ZH,
    METHOD_EVIDENCE_ZH,
    METHOD_LABELS_ZH,
)
from canbao.standards import citizen_id, masking, names
from canbao.store.models import Case
from canbao.warehouse.scope import Scope
from canbao.web import keyed, limits
from canbao.web.state import WebState

CAP = 50  # hits shown at most
ROW_GROUP = 4096
INDEX_DIR = "web"
SEX_ZH = {"M": "男", "F": "女"}
MATCH_ZH = {
    "id": "身份证号",
    "corrected_id": "原始证件号（已更正）",
    "name": "姓名",
    "homophone": "同音姓名",
    "pinyin": "拼音",
}
_ID_LIKE = re.compile(r"^[0-9]{14,17}[0-9Xx]$")
_PINYIN = re.compile(r"^[a-zü:'’·\-\s]+$", re.IGNORECASE)
_HAN = re.compile(r"[\u3400-\u9fff]")
_KEY = re.compile(r"^[A-Za-z0-9]{1,40}$")
T = TypeVar("T")


# --- models (the page and the API) --------------------------------------------------------


class PersonHit(BaseModel):
    person_key: str
    name: str | None
    id18: str | None  # masked
    sex: str | None
    birth_year: int | None
    county_code: str | None
    county_name: str | None
    township: str | None
    deceased: bool
    match: str  # id | corrected_id | name | homophone | pinyin
    match_label: str


class PersonSearch(BaseModel):
    kind: str  # id | name | pinyin | empty | unknown
    total: int  # hits in the viewer's scope
    shown: int
    capped: bool
    note: str
    items: list[PersonHit]


class Cached:
    """Values made once per registry build, shared by a process's requests: one lock per kind
    of value, so that making the search index does not hold up the employers' frame."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.locks: dict[str, threading.Lock] = {}
        self.values: dict[tuple[str, str], Any] = {}


def cached(st: WebState, name: str, build_id: str, make: Callable[[], T]) -> T:
    """``make()`` once per (``name``, build): later builds replace earlier values."""
    box = st.extra.setdefault("per_build", Cached())
    assert isinstance(box, Cached)
    with box.lock:
        lock = box.locks.setdefault(name, threading.Lock())
    with lock:
        key = (name, build_id)
        if key not in box.values:
            value = make()
            for old in [k for k in box.values if k[0] == name]:
                del box.values[old]
            box.values[key] = value
        found: T = box.values[key]
        return found


def latest(st: WebState, name: str) -> tuple[str, Any] | None:
    """(build, value) of the value of ``name`` this process holds, of whatever build."""
    box = st.extra.get("per_build")
    if not isinstance(box, Cached):
        return None
    with box.lock:
        for (kind, build_id), value in list(box.values.items()):
            if kind == name:
                return build_id, value
    return None


CASE_SCHEME_ZH = {"pension": "养老保险", "medical": "医疗保险", **SCHEME_LABELS_ZH}


def scheme_text(scheme: str) -> str:
    """A case's scheme in words (``pension``; ``medical:employee_medical|resident_medical``)."""
    words = [CASE_SCHEME_ZH.get(w, w) for w in re.split(r"[:|;]", scheme or "") if w]
    return "、".join(dict.fromkeys(words))


def county_names(profile: Profile) -> dict[str, str]:
    """Area code → county name (retired codes named after the county that replaced them)."""
    out = {}
    for c in profile.counties:
        out[c.code] = c.name
        for p in c.predecessors:
            out.setdefault(p, c.name)
    return out


# --- the name / pinyin index --------------------------------------------------------------

_HIT_COLUMNS = (
    "person_key", "name", "id18", "sex", "birth_year", "county_code", "township", "deceased",
)  # fmt: skip


def _index_frame(snap: snapshot.Snapshot) -> pl.DataFrame:
    """The index rows of a snapshot, each block sorted by its key: the IDs as delivered that
    the registry corrected (key = that number, upper case), the pinyin of each name and each
    name (key = the normalised name). The blocks' keys do not overlap (digits and capitals,
    lower-case Latin letters, Chinese characters)."""
    hits = (
        snap.scan("persons")
        .select(
            "person_key",
            "name",
            masking.mask_id_expr(pl.col("id18")).alias("id18"),
            "sex",
            pl.col("birth_date").dt.year().cast(pl.Int16).alias("birth_year"),
            "county_code",
            "township",
            pl.col("death_date").is_not_null().alias("deceased"),
        )
        .collect()
    )
    corrected = (
        snap.scan("id_corrections")
        .select(
            pl.col("id_as_delivered").str.to_uppercase().str.replace_all(r"\s+", "").alias("key"),
            "person_key",
        )
        .filter(pl.col("key").is_not_null() & (pl.col("key") != ""))
        .unique()
        .collect()
        .join(hits, on="person_key", how="inner")
        .sort("key")
        .select("key", *_HIT_COLUMNS)
    )
    named = hits.filter(pl.col("name").is_not_null() & (pl.col("name") != ""))
    # pinyin once per distinct name; rows sorted by the rank of their key among the distinct
    # keys (an integer sort: sorting millions of rows by a text key is several times slower)
    distinct = named["name"].unique().sort()
    keys = pl.DataFrame({"name": distinct, "pinyin": names.pinyin_key_series(distinct)})
    ranks = keys.select("pinyin").drop_nulls().unique().sort("pinyin").with_row_index("py_rank")
    keys = keys.with_row_index("name_rank").join(ranks, on="pinyin", how="left")
    named = named.join(keys, on="name", how="left")
    by_pinyin = (
        named.filter(pl.col("pinyin").is_not_null())
        .sort("py_rank")
        .select(pl.col("pinyin").alias("key"), *_HIT_COLUMNS)
    )
    by_name = named.sort("name_rank").select(pl.col("name").alias("key"), *_HIT_COLUMNS)
    return pl.concat([corrected, by_pinyin, by_name])


def index_path(data_dir: Path, build_id: str) -> Path:
    return data_dir / INDEX_DIR / f"persons-{build_id}.parquet"


@dataclass(frozen=True)
class SearchIndex:
    """The index of one build: its file, whose footer (the key range of every row group) is
    read once (:class:`canbao.web.keyed.Table`: a look-up reads one or two row groups), or the
    rows in memory when the data directory could not be written."""

    table: keyed.Table | None
    frame: pl.LazyFrame

    def rows(self, key: str) -> pl.LazyFrame:
        if self.table is not None:
            return self.table.rows(key).lazy()
        return self.frame.filter(pl.col("key") == key)


def _opened(path: Path) -> SearchIndex:
    try:
        table: keyed.Table | None = keyed.Table.open(path, "key")
    except (StateError, OSError, ValueError):  # no statistics: filtered scans of the file
        table = None
    return SearchIndex(table, pl.scan_parquet(path, glob=False))


def _make_index(data_dir: Path, snap: snapshot.Snapshot) -> SearchIndex:
    """The index of ``snap``'s build: the file when there is one (another process may have
    made it), else made now and written (a temporary name first; older builds' files removed);
    kept in memory when the data directory cannot be written."""
    path = index_path(data_dir, snap.build_id)
    if path.exists():
        return _opened(path)
    frame = _index_frame(snap)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}.parquet")
        frame.write_parquet(tmp, row_group_size=ROW_GROUP, statistics=True)
        tmp.replace(path)
    except OSError:
        return SearchIndex(None, frame.lazy())
    _prune(path)
    return _opened(path)


def _prune(keep: Path) -> None:
    """Remove older builds' indexes and temporary files left by a killed process (an hour old:
    another process may be writing its own)."""
    stale = time.time() - 3600
    for old in keep.parent.glob("*.parquet"):
        try:
            if old.name.startswith("persons-") and old != keep:
                old.unlink(missing_ok=True)
            elif old.name.startswith(".tmp-") and old.stat().st_mtime < stale:
                old.unlink(missing_ok=True)
        except OSError:
            continue


def _current_index(st: WebState, snap: snapshot.Snapshot) -> SearchIndex:
    return cached(st, "person_index", snap.build_id, lambda: _make_index(st.data_dir, snap))


def person_index(st: WebState) -> SearchIndex:
    """The name/pinyin index of the current build (made on first use). After a new build,
    while its index is being made in the background, the previous build's index answers
    (person keys do not change between builds; what a hit shows is the previous build's)."""
    snap = snapshot.require_current(st.data_dir)
    have = latest(st, "person_index")
    if have is None or have[0] == snap.build_id or index_path(st.data_dir, snap.build_id).exists():
        return _current_index(st, snap)
    warm(st)
    found: SearchIndex = have[1]
    return found


def ensure_index(st: WebState) -> None:
    """Make the current build's index now (the start-up warm-up thread calls it)."""
    snap = snapshot.current(st.data_dir)
    if snap is not None:
        _current_index(st, snap)


def warm(st: WebState) -> None:
    """Start making the current build's index in the background (the search page calls it, so
    the first search does not wait)."""
    snap = snapshot.current(st.data_dir)
    if snap is None or st.extra.get("person_index_warming") == snap.build_id:
        return
    st.extra["person_index_warming"] = snap.build_id

    def run() -> None:
        try:
            _current_index(st, snap)
        except Exception:  # noqa: BLE001 - the next search makes it and reports the error
            st.extra.pop("person_index_warming", None)

    threading.Thread(target=run, name="canbao-person-index", daemon=True).start()


# --- search -------------------------------------------------------------------------------


def classify(query: str) -> tuple[str, str]:
    """(kind, normalised query): ``id`` (an ID-shaped number), ``name`` (Chinese characters),
    ``pinyin`` (Latin letters), ``empty`` or ``unknown``."""
    q = query.strip()
    compact = re.sub(r"\s+", "", q)
    if not compact:
        return "empty", ""
    if _ID_LIKE.match(compact):
        return "id", compact.upper()
    if _HAN.search(compact):
        return "name", names.normalize_person_name(compact) or ""
    if _PINYIN.match(q):
        key = re.sub(r"[^a-z]", "", q.lower().replace("ü", "v").replace("u:", "v"))
        return ("pinyin", key) if key else ("unknown", "")
    return "unknown", ""


def _by_id(st: WebState, scope: Scope, number: str) -> pl.DataFrame:
    """The person with this ID (through the snapshot's ID index) and the persons whose records
    carried it as a damaged or someone else's number that the registry corrected (through the
    search index): in ``scope``."""
    snap = snapshot.require_current(st.data_dir)
    checked = citizen_id.check_frame([number]).row(0, named=True)
    found: list[pl.DataFrame] = []
    if checked["id_valid"] and checked["id18"]:
        own = _hits(_find_id(st, snap, checked["id18"]), "id")
        found.append(own.filter(scope.expr("county_code")))
    found.append(_by_key(person_index(st), scope, number, "corrected_id").collect())
    return pl.concat(found).unique("person_key", keep="first", maintain_order=True)


def _find_id(st: WebState, snap: snapshot.Snapshot, id18: str) -> pl.DataFrame:
    """The master persons with this ID: :meth:`~canbao.registry.snapshot.Snapshot.find_id`,
    through the ID index's footer read once per build (one row group read per look-up)."""

    def open_index() -> keyed.Table | None:
        try:
            return keyed.Table.open(snap.path / id_index.FILE, "id18")
        except (StateError, OSError, ValueError):
            return None

    table = cached(st, "id_index", snap.build_id, open_index)
    if table is None:
        return snap.find_id(id18)
    return id_index.current_rows(snap.path, table.rows(id18), id18)


def _hits(persons: pl.DataFrame, match: str) -> pl.DataFrame:
    """Rows of ``persons`` (the snapshot's columns) as index rows (masked), with ``match``."""
    return persons.select(
        "person_key",
        "name",
        masking.mask_id_expr(pl.col("id18")).alias("id18"),
        "sex",
        pl.col("birth_date").dt.year().cast(pl.Int16).alias("birth_year"),
        "county_code",
        "township",
        pl.col("death_date").is_not_null().alias("deceased"),
        pl.lit(match).alias("match"),
    )


def _by_key(index: SearchIndex, scope: Scope, key: str, match: str) -> pl.LazyFrame:
    return (
        index.rows(key)
        .filter(scope.expr("county_code"))
        .select(*_HIT_COLUMNS, pl.lit(match).alias("match"))
    )


def search_persons(st: WebState, scope: Scope, query: str) -> PersonSearch:
    """Persons in ``scope`` matching ``query`` (see :func:`classify`): an ID finds its person
    (and persons whose records carried it before correction); a name finds that name, then
    its homophones; pinyin finds names that read so. At most :data:`CAP` hits."""
    scope.require_personal()
    kind, q = classify(query)
    if kind in ("empty", "unknown"):
        note = "请输入身份证号（15 或 18 位）、中文姓名或姓名拼音"
        return PersonSearch(kind=kind, total=0, shown=0, capped=False, note=note, items=[])
    if kind == "id":
        frame = _by_id(st, scope, q)
    else:
        index = person_index(st)
        parts = [_by_key(index, scope, q, kind)]
        if kind == "name":
            py = names.pinyin_key(q)
            if py:
                parts.append(_by_key(index, scope, py, "homophone"))
        frame = pl.concat(pl.collect_all(parts)).unique(
            "person_key", keep="first", maintain_order=True
        )
    return _result(st, kind, frame)


def _result(st: WebState, kind: str, frame: pl.DataFrame) -> PersonSearch:
    total = frame.height
    shown = frame.head(CAP)
    counties = county_names(st.profile)
    rows = shown.with_columns(
        county_name=pl.col("county_code").replace_strict(counties, default=None),
        match_label=pl.col("match").replace_strict(MATCH_ZH, default=None),
        sex=pl.col("sex").replace_strict(SEX_ZH, default=pl.col("sex")),
    ).to_dicts()
    items = [PersonHit(**r) for r in rows]
    if total == 0:
        note = "没有找到（只查询您有权限的区县）"
    elif total > CAP:
        note = f"共 {total} 人，只显示前 {CAP} 人；请用身份证号或更完整的姓名缩小范围"
    else:
        note = f"共 {total} 人"
    return PersonSearch(
        kind=kind, total=total, shown=len(items), capped=total > CAP, note=note, items=items
    )


# --- person 360 ---------------------------------------------------------------------------


class MasterRecord(BaseModel):
    person_key: str
    name: str | None
    id18: str | None  # masked
    sex: str | None
    birth_year: str | None
    county_code: str | None
    county_name: str | None
    township: str | None
    household_id: str | None
    phone: str | None  # masked
    death_date: dt.date | None
    id_status: str | None
    n_records: int | None
    sources: list[str]


class SourceRecord(BaseModel):
    source: str
    row: int
    batch_id: str | None
    kind: str | None
    kind_label: str | None
    scheme: str | None
    scheme_label: str | None
    method: str | None
    method_label: str | None
    evidence: str | None
    match_probability: float | None  # the model's, for a record linked by the model


class Enrolment(BaseModel):
    scheme: str
    scheme_label: str
    status: str | None
    status_label: str | None
    start_date: dt.date | None
    end_date: dt.date | None
    county_code: str | None
    county_name: str | None
    employer_key: str | None
    employer_name: str | None
    person_type: str | None
    benefit: str | None
    source: str | None
    row: int | None
    as_of: dt.date | None


class SchemeHistory(BaseModel):
    scheme: str
    scheme_label: str
    status: str | None  # the best recorded status of the scheme's records (active first)
    status_label: str | None
    records: list[Enrolment]


class Flag(BaseModel):
    code: str
    label: str
    level: str  # bad | warn | ok
    detail: str


class CaseSummary(BaseModel):
    id: int
    kind: str
    kind_label: str
    scheme: str
    scheme_label: str
    state: str
    state_label: str
    is_open: bool
    assignee: str | None
    outcome_label: str | None
    reason: str | None
    opened_at: dt.datetime


class IdCorrection(BaseModel):
    source: str
    row: int
    batch_id: str | None
    id_as_delivered: str | None  # masked
    proposed_id18: str | None  # masked
    method: str | None
    method_label: str | None
    errors: str | None


class Person360(BaseModel):
    person: MasterRecord
    records: list[SourceRecord]
    enrolments: list[SchemeHistory]
    flags: list[Flag]
    cases: list[CaseSummary] | None  # None: the viewer may not read cases
    corrections: list[IdCorrection]
    likely_records: int  # records without ID the registry thinks are this person's
    build_id: str  # the registry build shown
    refreshing: bool = False  # a newer build's index is being made: this is an earlier build


class Revealed(BaseModel):
    person_key: str
    id18: str | None
    phone: str | None
    address: str | None
    birth_date: dt.date | None


def _label(column: str, labels: dict[str, str]) -> pl.Expr:
    return pl.col(column).replace_strict(labels, default=None, return_dtype=pl.Utf8)


NOT_FOUND_ZH = "登记库中没有这个人员（或不在您负责的区县）"


def _master(st: WebState, row: dict[str, Any]) -> MasterRecord:
    """The master record from a masked row of ``persons``."""
    fields = {k: row.get(k) for k in MasterRecord.model_fields if k in row}
    fields.update(
        id18=row.get("id18") or None,
        phone=row.get("phone") or None,
        sex=SEX_ZH.get(str(row.get("sex")), row.get("sex")),
        birth_year=row.get("birth_date"),  # masked: the year only
        county_name=county_names(st.profile).get(str(row.get("county_code"))),
        sources=row.get("sources") or [],
    )
    return MasterRecord.model_validate(fields)


@dataclass
class Reads:
    """One person's rows, of build ``build_id``: the master row (masked), the source records'
    links, the model's probabilities (rec_key, match_probability), the enrolment records with
    their employer's name, the ID corrections and the records likely theirs (other_key)."""

    person: dict[str, Any]
    links: pl.DataFrame
    probs: pl.DataFrame
    enrollments: pl.DataFrame
    corrections: pl.DataFrame
    likely: pl.DataFrame
    build_id: str


def _reads(snap: snapshot.Snapshot, key: str) -> dict[str, pl.DataFrame]:
    """This person's rows of the snapshot tables (read together, in parallel)."""
    mine = pl.col("person_key") == key
    frames = {
        "links": snap.scan("links").filter(mine).drop("name_pinyin", "birth_date", strict=False),
        "enrollments": snap.scan("enrollments").filter(mine),
        "corrections": snap.scan("id_corrections").filter(mine),
        "likely": snap.scan("likely_owners").filter(mine).select("other_key"),
    }
    return dict(zip(frames, pl.collect_all(list(frames.values())), strict=True))


def _direct(st: WebState, scope: Scope, key: str) -> Reads:
    """The person's rows read from the current snapshot (scans of whole tables: one of the
    heavy slots of :mod:`canbao.web.limits`)."""
    with limits.heavy("人员详情"):
        row = registry_api.person_by_key(st.data_dir, key, scope)
        snap = snapshot.require_current(st.data_dir)
        got = _reads(snap, key)
        return Reads(
            person=row,
            links=got["links"],
            probs=_probabilities(snap, got["links"]),
            enrollments=_employer_names(snap, got["enrollments"]),
            corrections=got["corrections"],
            likely=got["likely"],
            build_id=snap.build_id,
        )


def _indexed(kset: keyed.KeyedSet, scope: Scope, key: str) -> Reads | None:
    """The person's rows read from the build's person-sorted copies (:mod:`canbao.web.keyed`:
    one or two row groups per table); None when the copies have no such person in ``scope``."""
    scope.require_personal()
    found = kset.rows("persons", key).filter(scope.expr("county_code"))
    if found.height == 0:
        return None
    parts = {p: kset.rows(p, key) for p in ("links", "probs", "enrollments", "corrections")}
    return Reads(
        person=masking.mask_frame(found.head(1)).row(0, named=True),
        links=parts["links"],
        probs=parts["probs"].select("rec_key", "match_probability"),
        enrollments=parts["enrollments"],
        corrections=parts["corrections"],
        likely=kset.rows("likely", key).select("other_key"),
        build_id=kset.build_id,
    )


def person_reads(st: WebState, scope: Scope, key: str, *, use_index: bool = True) -> Reads:
    """The person's rows: from the person-sorted copies when a set is ready (the current
    build's, or the previous build's while the current one's is made), else — or for a person
    the previous build did not have — from the current snapshot."""
    if not _KEY.match(key):
        raise NotFoundError(NOT_FOUND_ZH, "malformed person key")
    kset = keyed.ready(st, keyed.PERSONS) if use_index else None
    if kset is not None:
        try:
            got = _indexed(kset, scope, key)
        except OSError:  # its files were removed meanwhile (a newer build's are ready)
            got = None
        if got is not None:
            return got
        current = snapshot.current(st.data_dir)
        if current is not None and current.build_id == kset.build_id:
            raise NotFoundError(NOT_FOUND_ZH, "no such person key in scope")
    return _direct(st, scope, key)


def _probabilities(snap: snapshot.Snapshot, links: pl.DataFrame) -> pl.DataFrame:
    """rec_key, match_probability: for each record the model linked, the best probability of a
    pair between its node and another node of the same person."""
    model = links.filter(pl.col("method") == "model")
    if model.height == 0 or not links.height:
        return pl.DataFrame(schema={"rec_key": pl.Utf8, "match_probability": pl.Float64})
    members = (
        snap.scan("node_members")
        .filter(pl.col("rec_key").is_in(links["rec_key"].to_list()))
        .select("rec_key", "node_id")
        .collect()
    )
    nodes = members["node_id"].unique().to_list()
    pairs = (
        snap.scan("pairs")
        .filter(pl.col("node_id_l").is_in(nodes) & pl.col("node_id_r").is_in(nodes))
        .select("node_id_l", "node_id_r", "match_probability")
        .collect()
    )
    both = pl.concat(
        [
            pairs.select(pl.col("node_id_l").alias("node_id"), "match_probability"),
            pairs.select(pl.col("node_id_r").alias("node_id"), "match_probability"),
        ]
    )
    best = both.group_by("node_id").agg(pl.col("match_probability").max())
    return (
        members.filter(pl.col("rec_key").is_in(model["rec_key"].to_list()))
        .join(best, on="node_id", how="inner")
        .group_by("rec_key")
        .agg(pl.col("match_probability").max())
    )


def _records(links: pl.DataFrame, probs: pl.DataFrame) -> list[SourceRecord]:
    rows = (
        links.join(probs, on="rec_key", how="left")
        .with_columns(
            kind_label=_label("kind", KIND_LABELS_ZH),
            scheme_label=_label("scheme", SCHEME_LABELS_ZH),
            method_label=_label("method", METHOD_LABELS_ZH),
            evidence=_label("method", METHOD_EVIDENCE_ZH),
        )
        .sort("source", "row", "batch_id", "method", nulls_last=True)
        .select(*SourceRecord.model_fields)
        .to_dicts()
    )
    return [SourceRecord(**r) for r in rows]


def _employer_names(snap: snapshot.Snapshot, enrollments: pl.DataFrame) -> pl.DataFrame:
    """The enrolment records with their employer's name (``employer_name``)."""
    employers = enrollments["employer_key"].drop_nulls().unique().to_list()
    names_of = (
        snap.scan("employers")
        .filter(pl.col("employer_key").is_in(employers))
        .select("employer_key", pl.col("name").alias("employer_name"))
        .collect()
    )
    return enrollments.join(names_of, on="employer_key", how="left")


def _enrolments(st: WebState, enrollments: pl.DataFrame) -> list[SchemeHistory]:
    order = {s: i for i, s in enumerate(SCHEME_ORDER)}
    rows = (
        enrollments.with_columns(
            scheme_label=_label("scheme", SCHEME_LABELS_ZH).fill_null(pl.col("scheme")),
            status_label=_label("status", STATUS_ZH),
            county_name=_label("county_code", county_names(st.profile)),
            _o=pl.col("scheme").replace_strict(order, default=99, return_dtype=pl.Int32),
        )
        .sort("_o", "start_date", "end_date", "source", "row", "batch_id", nulls_last=True)
        .select(*Enrolment.model_fields)
        .to_dicts()
    )
    out: dict[str, list[Enrolment]] = {}
    for r in rows:
        e = Enrolment(**r)
        out.setdefault(e.scheme, []).append(e)
    histories = []
    for scheme, records in out.items():
        best = max((r.status for r in records if r.status), key=_rank, default=None)
        histories.append(
            SchemeHistory(
                scheme=scheme,
                scheme_label=records[0].scheme_label,
                status=best,
                status_label=STATUS_ZH.get(best, best) if best else None,
                records=records,
            )
        )
    return histories


def _rank(status: str) -> int:
    return STATUS_RANK.get(status, 0)


def _corrections(frame: pl.DataFrame) -> list[IdCorrection]:
    errors = pl.col("id_errors").list.eval(pl.element().replace(ID_ERROR_SHORT_ZH)).list.join("、")
    rows = (
        masking.mask_frame(frame)
        .with_columns(method_label=_label("method", METHOD_LABELS_ZH), errors=errors)
        .sort("source", "row", "batch_id", nulls_last=True)
        .select(*IdCorrection.model_fields)
        .to_dicts()
    )
    return [IdCorrection(**r) for r in rows]


def cases_of(st: WebState, scope: Scope, subject_type: str, subject_key: str) -> list[CaseSummary]:
    """The cases about one person or employer in ``scope``, newest first (by the store's index
    on the subject key; no address, no history). Needs ``worklist.read``."""
    lifecycle.can_read(scope)
    q = (
        select(Case)
        .where(
            lifecycle.in_scope(scope),
            Case.subject_type == subject_type,
            Case.subject_key == subject_key,
        )
        .order_by(Case.id.desc())
        .limit(200)
    )
    with st.store.sessions() as s:
        found = list(s.execute(q).scalars())
    return [
        CaseSummary(
            id=c.id,
            kind=c.kind,
            kind_label=CASE_KINDS[c.kind].label if c.kind in CASE_KINDS else c.kind,
            scheme=c.scheme,
            scheme_label=scheme_text(c.scheme),
            state=c.state,
            state_label=STATE_LABELS.get(c.state, c.state),
            is_open=c.state in lifecycle.OPEN,
            assignee=c.assignee,
            outcome_label=OUTCOMES[c.outcome].label if c.outcome in OUTCOMES else c.outcome,
            reason=(c.subject or {}).get("reason"),
            opened_at=c.opened_at,
        )
        for c in found
    ]


def _flags(
    person: MasterRecord,
    records: list[SourceRecord],
    corrections: list[IdCorrection],
    likely: int,
    cases: list[CaseSummary] | None,
) -> list[Flag]:
    out: list[Flag] = []
    if person.death_date is not None:
        out.append(Flag(code="deceased", label="已死亡", level="bad",
                        detail=f"死亡日期 {person.death_date.isoformat()}"))  # fmt: skip
    if person.id_status != "trusted":
        out.append(Flag(code="no_trusted_id", label="无可信身份证号", level="warn",
                        detail="由无有效证件号的记录聚合而成，身份待核实"))  # fmt: skip
    if corrections:
        out.append(Flag(code="id_corrected", label="证件号经更正", level="warn",
                        detail=f"{len(corrections)} 条来源记录的证件号有误，已关联到本人"))  # fmt: skip
    model = sum(1 for r in records if r.method == "model")
    if model:
        out.append(Flag(code="model_linked", label="概率模型关联", level="warn",
                        detail=f"{model} 条来源记录由概率模型判定为本人"))  # fmt: skip
    if likely:
        out.append(Flag(code="likely_records", label="疑似本人记录", level="warn",
                        detail=f"{likely} 条无证件号的记录可能属于本人（待复核）"))  # fmt: skip
    for c in cases or []:
        if c.is_open:
            out.append(Flag(code=f"case:{c.kind}", label=c.kind_label, level="bad",
                            detail=c.reason or f"个案 #{c.id}：{c.state_label}"))  # fmt: skip
    return out


def person_360(
    st: WebState, scope: Scope, person_key: str, *, with_cases: bool, use_index: bool = True
) -> Person360:
    """Everything about one person in ``scope`` (masked); a person outside it is not found.
    ``use_index=False``: read the snapshot, never the person-sorted copies (tests compare)."""
    got = person_reads(st, scope, person_key, use_index=use_index)
    person = _master(st, got.person)
    records = _records(got.links, got.probs)
    corrections = _corrections(got.corrections)
    cases = cases_of(st, scope, "person", person.person_key) if with_cases else None
    likely = got.likely["other_key"].n_unique()
    current = snapshot.current(st.data_dir)
    return Person360(
        person=person,
        records=records,
        enrolments=_enrolments(st, got.enrollments),
        flags=_flags(person, records, corrections, likely, cases),
        cases=cases,
        corrections=corrections,
        likely_records=likely,
        build_id=got.build_id,
        refreshing=current is not None and current.build_id != got.build_id,
    )


def reveal(st: WebState, scope: Scope, person_key: str) -> Revealed:
    """The full ID, phone, address and birth date of one person in ``scope``: an audit-log entry
    (``person.reveal``, the person key, never the ID) through the web's store."""
    if not _KEY.match(person_key):
        raise NotFoundError(NOT_FOUND_ZH, "malformed person key")
    row = registry_api.person_by_key(st.data_dir, person_key, scope, reveal=True, store=st.store)
    return Revealed.model_validate({k: row.get(k) for k in Revealed.model_fields})
