"""The incremental ledger (canbao.collection.ledger_incremental) equals a full computation, row
for row and to the exact late-fee numerator, on random histories: a state at D1 (batches of
declarations, payments with and without transaction numbers, opening arrears; master-employer
links; employers active or not; approved deferrals) and a later one at D2 ≥ D1 in which batches
were added and superseded, rows relinked to other employers (or linked for the first time),
employers closed or reopened.

The sessions are made by hand (tables in an in-memory DuckDB engine in place of the registry
snapshot and the ingest views, as in test_ledger_properties.py), so each example takes a
fraction of a second. The published ledger's files, fallbacks and ``canbao build`` are tested on
data directories in test_ledger_published.py."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from canbao.collection import ledger_audits, ledger_deferrals, ledger_incremental
from canbao.collection.ledger import build_ledger_at
from canbao.collection.ledger_incremental import KINDS, Update, build_accounts, update
from canbao.collection.ledger_inputs import linked_sql
from canbao.collection.policy import policy_for
from canbao.coverage.policy import policy_for as coverage_policy
from canbao.coverage.session import Session
from canbao.registry.engine import DuckDBEngine
from tests.scopes import SYSTEM
from tests.scratch import NOWHERE

# the sessions have no data directory; anything that would open its store finds an empty one
# here, never in the working directory

SCHEMES = ("employee_pension", "work_injury")
FIRST = 2016 * 12 + 10  # month index of 2016-11 (year × 12 + month − 1)
POLICY = policy_for("360400", dt.date(2017, 6, 30))
D = dt.date


def period(mi: int) -> str:
    return f"{mi // 12:04d}-{mi % 12 + 1:02d}"


@dataclass(frozen=True)
class Rec:
    emp1: int | None  # master employer in the first build (None: not linked)
    emp2: int | None  # in the second
    scheme: int
    mi: int
    amount: int
    paid: dt.date | None = None  # payments: the payment date (None: the batch's as-of date)
    txn: str | None = None


@dataclass(frozen=True)
class Batch:
    id: str
    kind: str
    as_of: dt.date
    recs: tuple[Rec, ...]
    first: bool  # current in the first state
    second: bool  # current in the second


@dataclass(frozen=True)
class Deferral:
    emp: int
    scheme: int
    periods: tuple[int, ...]  # empty: every period
    start: dt.date
    end: dt.date


@dataclass(frozen=True)
class Audit:
    """A finding of a finished audit case (the same at both dates: a change of the assessed
    findings makes the publish a full one)."""

    emp: int
    scheme: int
    mi: int
    amount: int
    case_id: int
    on: dt.date  # assessed on


@dataclass
class History:
    batches: list[Batch]
    active1: list[bool]
    active2: list[bool]
    deferrals: list[Deferral]
    day1: dt.date
    day2: dt.date
    audits: list[Audit] = field(default_factory=list)


@st.composite
def histories(draw: Any) -> History:
    n = draw(st.integers(1, 3))
    emp = st.integers(0, n - 1)

    def link(first: bool, second: bool) -> tuple[int | None, int | None]:
        e1 = draw(st.one_of(emp, st.none())) if draw(st.integers(0, 9)) == 0 else draw(emp)
        e2 = draw(st.one_of(emp, st.none())) if draw(st.integers(0, 5)) == 0 else e1
        return (e1 if first else None), (e2 if second else None)

    day1 = draw(st.dates(D(2017, 1, 1), D(2018, 3, 31)))
    day2 = day1 + dt.timedelta(days=draw(st.sampled_from([0, 1, 17, 31, 45, 92, 200])))
    contents = draw(
        st.lists(
            st.tuples(
                st.integers(0, 1), st.integers(FIRST, FIRST + 17), st.integers(1, 300_000),
                st.one_of(st.none(), st.integers(0, 600)), st.booleans(),
            ),
            min_size=1, max_size=10,
        )
    )  # fmt: skip
    batches = []
    for i in range(draw(st.integers(1, 7))):
        kind = draw(
            st.sampled_from(["payment", "payment", "declaration", "declaration", "arrears"])
        )
        first, second = draw(st.sampled_from([(True, True), (True, False), (False, True)]))
        as_of = draw(st.dates(D(2016, 12, 31), day2))
        recs = []
        for j in range(draw(st.integers(0, 6))):
            e1, e2 = link(first, second)
            if kind == "payment":
                sc, mi, amount, days, with_txn = draw(st.sampled_from(contents))
                paid = None if days is None else D(2016, 11, 1) + dt.timedelta(days=days)
                txn = f"T{mi}-{amount % 7}" if with_txn else None
                recs.append(Rec(e1, e2, sc, mi, amount, paid, txn))
            elif kind == "declaration":
                recs.append(
                    Rec(e1, e2, draw(st.integers(0, 1)), draw(st.integers(FIRST, FIRST + 17)),
                        draw(st.integers(0, 300_000)))
                )  # fmt: skip
            else:
                recs.append(
                    Rec(e1, e2, draw(st.integers(0, 1)), draw(st.integers(FIRST - 3, FIRST + 4)),
                        draw(st.integers(1, 300_000)), draw(st.dates(D(2016, 12, 1), day2)))
                )  # fmt: skip
            del j
        batches.append(Batch(f"B{i}", kind, as_of, tuple(recs), first, second))
    active1 = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    active2 = [a if draw(st.integers(0, 4)) else not a for a in active1]
    deferrals = draw(
        st.lists(
            st.builds(
                Deferral, emp, st.integers(0, 1),
                st.lists(st.integers(FIRST, FIRST + 17), max_size=2).map(tuple),
                st.dates(D(2017, 1, 1), D(2017, 12, 31)),
                st.just(D(2018, 1, 31)),
            ),
            max_size=1,
        )
    )  # fmt: skip
    last = day1.year * 12 + day1.month - 1
    audits = draw(
        st.lists(
            st.builds(
                Audit, emp, st.integers(0, 1), st.integers(FIRST, min(FIRST + 17, last)),
                st.integers(1, 200_000), st.integers(1, 3), st.dates(D(2017, 1, 1), day1),
            ),
            max_size=3,
        )
    )  # fmt: skip
    return History(batches, active1, active2, deferrals, day1, day2, audits)


def _table(
    eng: DuckDBEngine, name: str, rows: list[dict[str, Any]], schema: dict[str, Any]
) -> None:
    eng.create_table_from_arrow(name, pl.DataFrame(rows, schema=schema, orient="row").to_arrow())


def _load_deferrals(h: History) -> Any:
    """ledger_deferrals.load without a store: the history's approved deferrals."""

    def load(s: Session, name: str, employer: str | None = None) -> bool:
        if not h.deferrals:
            return False
        rows = []
        for d in h.deferrals:
            for p in d.periods or ("*",):
                key = period(p) if isinstance(p, int) else p
                rows.append((f"E{d.emp}", SCHEMES[d.scheme], key, d.start, d.end))
        s.eng.create_table_from_arrow(
            f"{name}_deferrals",
            pa.table(
                {
                    "employer_key": [r[0] for r in rows],
                    "scheme": [r[1] for r in rows],
                    "period": [r[2] for r in rows],
                    "d_start": pa.array([r[3] for r in rows], pa.date32()),
                    "d_end": pa.array([r[4] for r in rows], pa.date32()),
                }
            ),
        )
        return True

    return load


def _read_audits(h: History) -> Any:
    """ledger_audits._read without a store: the history's findings assessed by ``day``."""

    def read(data_dir: Path, day: dt.date, employer: str | None) -> list[Any]:
        out = [
            (f"E{a.emp}", SCHEMES[a.scheme], period(a.mi), a.amount, a.case_id, a.on)
            for a in h.audits
            if a.on <= day and period(a.mi) <= f"{day.year:04d}-{day.month:02d}"
        ]
        return sorted(r for r in out if employer is None or r[0] == employer)

    return read


@contextmanager
def session(h: History, second: bool) -> Iterator[Session]:
    """The data of the first (or second) state: the current batches' records, their links and
    the employers."""
    eng = DuckDBEngine()
    day = h.day2 if second else h.day1
    s = Session(NOWHERE, eng, day, coverage_policy(day), "test", SYSTEM)
    try:
        rows: dict[str, list[dict[str, Any]]] = {k: [] for k in KINDS}
        links = []
        for b in h.batches:
            if not (b.second if second else b.first):
                continue
            for i, r in enumerate(b.recs, start=1):
                common = {"batch_id": b.id, "row": i, "as_of": b.as_of, "period": period(r.mi),
                          "scheme": SCHEMES[r.scheme]}  # fmt: skip
                if b.kind == "payment":
                    rows[b.kind].append({**common, "paid": r.amount, "paid_date": r.paid,
                                         "txn_id": r.txn})  # fmt: skip
                elif b.kind == "declaration":
                    rows[b.kind].append({**common, "due": r.amount})
                else:
                    rows[b.kind].append({**common, "amount": r.amount,
                                         "arrears_as_of": r.paid})  # fmt: skip
                e = r.emp2 if second else r.emp1
                if e is not None:
                    links.append({"batch_id": b.id, "row": i, "employer_key": f"E{e}"})
        common = {"batch_id": pl.Utf8, "row": pl.Int64, "as_of": pl.Date, "period": pl.Utf8,
                  "scheme": pl.Utf8}  # fmt: skip
        _table(eng, "cov_declaration", rows["declaration"], {**common, "due": pl.Int64})
        _table(eng, "cov_arrears", rows["arrears"],
               {**common, "amount": pl.Int64, "arrears_as_of": pl.Date})  # fmt: skip
        _table(eng, "cov_payment", rows["payment"],
               {**common, "paid": pl.Int64, "paid_date": pl.Date, "txn_id": pl.Utf8})  # fmt: skip
        _table(eng, "employer_links", links,
               {"batch_id": pl.Utf8, "row": pl.Int64, "employer_key": pl.Utf8})  # fmt: skip
        active = h.active2 if second else h.active1
        emps = [{"employer_key": f"E{i}", "status": "存续" if a else "注销"}
                for i, a in enumerate(active)]  # fmt: skip
        _table(eng, "employers", emps, {"employer_key": pl.Utf8, "status": pl.Utf8})
        yield s
    finally:
        s.close()


def full(s: Session, day: dt.date) -> dict[str, pl.DataFrame]:
    """The full build as ``canbao build`` does it: the linked rows, the ledger, the accounts."""
    for kind in KINDS:
        s.execute(f"CREATE TABLE ledger_linked_{kind} AS SELECT * FROM {linked_sql(kind)} x")
    sources = {k: f"ledger_linked_{k}" for k in KINDS}
    build_ledger_at(s, day, "ledger", POLICY, None, sources)
    build_accounts(s, "(SELECT employer_key, scheme, period, due FROM ledger_decl)")
    out = {"ledger": s.frame("SELECT * FROM ledger_exact"),
           "accounts": s.frame("SELECT * FROM ledger_accounts")}  # fmt: skip
    out.update({k: s.frame(f"SELECT * FROM ledger_linked_{k}") for k in KINDS})
    return out


KEYS = ["employer_key", "scheme", "period"]


def rows(frame: pl.DataFrame, keys: list[str] = KEYS) -> list[dict[str, Any]]:
    return frame.sort(keys).to_dicts()


def batch_ids(h: History, second: bool) -> dict[str, list[str]]:
    return {
        k: sorted(b.id for b in h.batches if b.kind == k and (b.second if second else b.first))
        for k in KINDS
    }


def incremental(h: History) -> tuple[Update, dict[str, pl.DataFrame], dict[str, pl.DataFrame]]:
    """(the update, its tables, a full computation's tables) at the second state."""
    with (
        mock.patch.object(ledger_deferrals, "load", _load_deferrals(h)),
        mock.patch.object(ledger_audits, "_read", _read_audits(h)),
    ):
        with session(h, second=False) as s:
            before = full(s, h.day1)
        with session(h, second=True) as s:
            want = full(s, h.day2)
        with session(h, second=True) as s:
            s.eng.create_table_from_arrow("prev_ledger", before["ledger"].to_arrow())
            s.eng.create_table_from_arrow("prev_accounts", before["accounts"].to_arrow())
            for k in KINDS:
                s.eng.create_table_from_arrow(f"prev_linked_{k}", before[k].to_arrow())
            first = before["ledger"]["period"].min()
            with (
                mock.patch.object(ledger_incremental, "MAX_TOUCHED_SHARE", float("inf")),
                mock.patch.object(ledger_incremental, "MAX_RELINKED_SHARE", float("inf")),
            ):
                done = update(
                    s, h.day1, h.day2, POLICY, batch_ids(h, False), batch_ids(h, True),
                    first if isinstance(first, str) else None,
                )  # fmt: skip
            assert isinstance(done, Update), done
            got = {"ledger": s.frame("SELECT * FROM ledger_exact"),
                   "accounts": s.frame("SELECT * FROM ledger_accounts")}  # fmt: skip
            got.update({k: s.frame(f"SELECT * FROM inc_linked_{k}") for k in KINDS})
    return done, got, want


@settings(max_examples=150, deadline=None)
@given(histories())
def test_incremental_equals_full(h: History) -> None:
    _done, got, want = incremental(h)
    assert rows(got["ledger"]) == rows(want["ledger"])
    assert rows(got["accounts"], KEYS[:2]) == rows(want["accounts"], KEYS[:2])
    for k in KINDS:  # the state kept for the next update: the current batches' linked rows
        assert rows(got[k], ["batch_id", "row"]) == rows(want[k], ["batch_id", "row"])


def _pay(emp: int, mi: int, amount: int, paid: dt.date, txn: str | None = None) -> Rec:
    return Rec(emp, emp, 0, mi, amount, paid, txn)


def _decl(emp: int, mi: int, due: int) -> Rec:
    return Rec(emp, emp, 0, mi, due)


JAN = 2017 * 12  # 2017-01


def test_a_month_later_recomputes_only_what_changed() -> None:
    """One employer declares Jan–Nov 2017 and pays each month on time, another declares only
    January (an estimate for every later month) — as of 31 December. A month later: a December
    declaration for the first and its payment. Recomputed: the first's December (declared now)
    and the second's December (a new estimate, due on 31 January); everything else is carried,
    its late fee advanced by 31 days of the unpaid principal."""
    decl1 = [_decl(0, JAN + m, 100_000) for m in range(11)] + [_decl(1, JAN, 50_000)]
    pays1 = [_pay(0, JAN + m, 100_000, D(2017, m + 2, 10)) for m in range(11)]
    h = History(
        [
            Batch("D1", "declaration", D(2017, 12, 31), tuple(decl1), True, True),
            Batch("P1", "payment", D(2017, 12, 31), tuple(pays1), True, True),
            Batch("D2", "declaration", D(2018, 1, 31), (_decl(0, JAN + 11, 100_000),), False, True),
            Batch("P2", "payment", D(2018, 1, 31),
                  (_pay(0, JAN + 11, 100_000, D(2018, 1, 20)),), False, True),
        ],
        [True, True], [True, True], [], D(2017, 12, 31), D(2018, 1, 31),
    )  # fmt: skip
    done, got, want = incremental(h)
    assert rows(got["ledger"]) == rows(want["ledger"])
    assert (done.touched, done.previous) == (3, 22)  # E0 2017-12, 2018-01; E1 2017-12
    led = got["ledger"].filter(pl.col("employer_key") == "E1").sort("period")
    # 110 % of 500.00 for February … December; November (due 2017-12-31) was due on D1: no fee
    # then; by 2018-01-31, 31 days × 55000 × 5 / 10000 = 852.5 → 853
    nov = led.filter(pl.col("period") == "2017-11").row(0, named=True)
    assert (nov["due"], nov["estimated"], nov["late_fee"], nov["fee_e4"]) == (
        55000, True, 853, 55000 * 31 * 5
    )  # fmt: skip
    assert led["period"].to_list()[-1] == "2017-12"


@pytest.mark.parametrize("later", [0, 30])
def test_a_declaration_for_an_old_month_moves_the_estimates_after_it(later: int) -> None:
    """Declared January and April; February, March and every month after April estimated. A
    late declaration for March: February stays 110 % of January, March is declared, April is
    unchanged, and nothing else but March … is recomputed."""
    h = History(
        [
            Batch("D1", "declaration", D(2017, 6, 30),
                  (_decl(0, JAN, 100_000), _decl(0, JAN + 3, 200_000)), True, True),
            Batch("D2", "declaration", D(2017, 7, 1), (_decl(0, JAN + 2, 150_000),), False, True),
        ],
        [True], [True], [], D(2017, 6, 30), D(2017, 6, 30) + dt.timedelta(days=later),
    )  # fmt: skip
    done, got, want = incremental(h)
    assert rows(got["ledger"]) == rows(want["ledger"])
    dues = dict(got["ledger"].select("period", "due").iter_rows())
    assert dues["2017-02"] == 110_000 and dues["2017-03"] == 150_000
    assert dues["2017-05"] == 220_000


def test_an_approved_deferral_stops_the_fee_of_rows_carried_forward() -> None:
    """January 2017 (due 28 February) declared and never paid; a deferral for every period from
    1 April to 31 December. From 30 June to 31 July the unpaid principal gains no fee: the
    account is recomputed (a carried row would add 31 days)."""
    h = History(
        [Batch("D1", "declaration", D(2017, 6, 30), (_decl(0, JAN, 100_000),), True, True)],
        [False], [False], [Deferral(0, 0, (), D(2017, 4, 1), D(2017, 12, 31))],
        D(2017, 6, 30), D(2017, 7, 31),
    )  # fmt: skip
    _done, got, want = incremental(h)
    assert rows(got["ledger"]) == rows(want["ledger"])
    # charged 1–31 March only: 100000 × 31 × 5 / 10000 = 1550
    assert got["ledger"]["late_fee"].to_list() == [1550]
