"""Ledger facts on a hand-made data directory (tests/collection/ledger_city.py): every figure
worked by hand below; the arrears work list; compliance; scope; the credit flag; the SQL twins of
the rounding and yuan helpers; DuckDB = Spark."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import shutil
from pathlib import Path

import duckdb
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from canbao.collection import api
from canbao.collection.ledger import region_policy
from canbao.collection.ledger_inputs import half_up_div_sql
from canbao.errors import NotFoundError, PermissionDenied, UsageError
from canbao.standards.money import div_half_up, yuan_text
from canbao.warehouse.scope import Scope
from tests.collection.ledger_city import AS_OF, codes, make_data
from tests.scopes import SYSTEM

D = dt.date
_CON = duckdb.connect()  # in memory, for the module


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_data(tmp_path_factory.mktemp("ledger"))


def _rows(frame: pl.DataFrame) -> dict[tuple[str, str], tuple[object, ...]]:
    """(employer letter, period) → (due, paid, balance, late_fee, estimated)."""
    letter = {v: k for k, v in codes().items()}
    return {
        (letter[r["credit_code"]], r["period"]): (
            r["due"], r["paid"], r["balance"], r["late_fee"], r["estimated"]
        )
        for r in frame.iter_rows(named=True)
    }  # fmt: skip


# Every row at 2017-06-30 (fen). Late fee = Σ principal × days × 5 / 10,000, rounded half-up
# once per row; days = the payment date (or 2017-06-30 for what is unpaid) − the due date.
EXPECTED = {
    # A: 2017-01 paid 2017-02-20, before its due date 2017-02-28: no fee
    ("A", "2017-01"): (100000, 100000, 0, 0, False),
    # 2017-02: the later batch's 1050.00; paid 2017-04-10, due 03-31: 105000 × 10 × 5/1e4 = 525
    ("A", "2017-02"): (105000, 105000, 0, 525, False),
    # 2017-03 not declared, between 02 and 04: 110 % of 1050.00 = 1155.00; its payment came on
    # 2017-07-05 (after the as-of date); due 04-30 → 61 days: 115500 × 61 × 5/1e4 = 3522.75 → 3523
    ("A", "2017-03"): (115500, 0, 115500, 3523, True),
    # 2017-04: 700.00 + 534.55 declared in two rows; 600.00 paid on the due date 05-31 (0 days),
    # 300.00 on 06-20 (20 days), 334.55 unpaid for 30 days:
    # (60000 × 0 + 30000 × 20 + 33455 × 30) × 5/1e4 = 1603650 × 5/1e4 = 801.825 → 802
    ("A", "2017-04"): (123455, 90000, 33455, 802, False),
    # 2017-05 after the last declared month, due 06-30 ≤ as-of: 110 % × 1234.55 = 1358.005 →
    # 1358.01 (half up); due today: no fee yet. 2017-06 (due 07-31) is not assessed.
    ("A", "2017-05"): (135801, 0, 135801, 0, True),
    # B: opening arrears 2016-10 800.00, due 2016-11-30, paid 2017-03-15 (105 days):
    # 80000 × 105 × 5/1e4 = 4200
    ("B", "2016-10"): (80000, 80000, 0, 4200, False),
    # 2016-11 500.00 as of 2016-12-31: the 200.00 of 2016-12-20 is already netted; 100.00 on
    # 2017-02-10 (41 days after 12-31), 400.00 unpaid for 181 days:
    # (10000 × 41 + 40000 × 181) × 5/1e4 = 7650000 × 5/1e4 = 3825
    ("B", "2016-11"): (50000, 10000, 40000, 3825, False),
    # 2017-01 declared 2000.00: the arrears list's 999.00 for it is ignored
    ("B", "2017-01"): (200000, 200000, 0, 0, False),
    ("B", "2017-02"): (200000, 200000, 0, 0, False),
    ("B", "2017-03"): (200000, 200000, 0, 0, False),
    ("B", "2017-04"): (200000, 200000, 0, 0, False),
    # 2017-05: two identical counter rows are two payments; the copy file's one row is one of them
    ("B", "2017-05"): (200000, 200000, 0, 0, False),
    ("B", "2017-06"): (200000, 0, 200000, 0, False),  # due 07-31: not late yet
    # C (cancelled): 2017-01 due 02-28, 122 days: 30000 × 122 × 5/1e4 = 1830; 2017-02: 91 days
    # → 1365; no estimate after its last declaration
    ("C", "2017-01"): (30000, 0, 30000, 1830, False),
    ("C", "2017-02"): (30000, 0, 30000, 1365, False),
    # D: 250.00 for 2017-01 on 02-15: 150.00 credit, stays with its period (policy default)
    ("D", "2017-01"): (10000, 25000, -15000, 0, False),
    ("D", "2017-02"): (10000, 0, 10000, 455, False),  # 10000 × 91 × 5/1e4
    ("D", "2017-03"): (10000, 0, 10000, 305, False),  # 10000 × 61 × 5/1e4
    ("D", "2017-04"): (10000, 10000, 0, 0, False),
    # 2017-05 paid without a date in a batch as of 06-30: received 06-30, the due date
    ("D", "2017-05"): (10000, 10000, 0, 0, False),
    # 2017-06: paid, nothing assessed (due 0): a credit
    ("D", "2017-06"): (0, 10000, -10000, 0, False),
}


def test_ledger_rows_worked_by_hand(data: Path) -> None:
    led = api.ledger(data, SYSTEM, AS_OF)
    assert tuple(led.columns) == api.LEDGER_EXPORT_COLUMNS
    assert _rows(led) == EXPECTED
    a = led.filter(pl.col("credit_code") == codes()["A"])
    assert a["due_date"].to_list() == [D(2017, 2, 28), D(2017, 3, 31), D(2017, 4, 30),
                                       D(2017, 5, 31), D(2017, 6, 30)]  # fmt: skip
    assert set(led.filter(pl.col("credit_code") == codes()["C"])["ownership"]) == {"individual"}


def test_ledger_earlier_date(data: Path) -> None:
    """At 2017-04-15: A's 2017-02 payment of 04-10 counts, 2017-03 (due 04-30) is estimated
    between declared months even though not yet due, 2017-04/05 are not assessed; D's undated
    payment (batch as of 06-30) and B's 2017-05 payments have not arrived."""
    got = _rows(api.ledger(data, SYSTEM, D(2017, 4, 15)))
    assert got[("A", "2017-02")] == (105000, 105000, 0, 525, False)
    assert got[("A", "2017-03")] == (115500, 0, 115500, 0, True)
    assert ("A", "2017-04") in got and ("A", "2017-05") not in got
    # 2016-11 at 04-15: 100.00 paid 41 days late, 400.00 unpaid 105 days:
    # (10000 × 41 + 40000 × 105) × 5/1e4 = 4610000 × 5/1e4 = 2305
    assert got[("B", "2016-11")] == (50000, 10000, 40000, 2305, False)
    # 2017-04 declared, nothing received yet; due 05-31
    assert got[("B", "2017-04")] == (200000, 0, 200000, 0, False)
    assert ("D", "2017-05") not in got  # not declared in an April ledger, payment not in yet


def test_duplicate_payments_count_once(data: Path) -> None:
    """T002 is in two files; the counter's 2016-10 payment is in two files without a number:
    each counts once (A's 2017-02 and B's 2016-10 paid exactly their due)."""
    got = _rows(api.ledger(data, SYSTEM, AS_OF))
    assert got[("A", "2017-02")][1] == 105000
    assert got[("B", "2016-10")][1] == 80000
    assert got[("B", "2017-05")][1] == 200000


def test_credits_applied_to_oldest_when_the_policy_says_so(data: Path) -> None:
    """D's 150.00 credit (2017-02-15) settles 2017-02 (100.00) and half of 2017-03, the 06-28
    prepayment the other half: 03's fee = (5000 × 0 + 5000 × 59) × 5/1e4 = 147.5 → 148."""
    base = region_policy(data, AS_OF)
    policy = dataclasses.replace(
        base, late_fee=dataclasses.replace(base.late_fee, apply_credits_to_oldest=True)
    )
    got = _rows(api.ledger(data, SYSTEM, AS_OF, policy=policy))
    assert got[("D", "2017-01")] == (10000, 10000, 0, 0, False)
    assert got[("D", "2017-02")] == (10000, 10000, 0, 0, False)
    assert got[("D", "2017-03")] == (10000, 10000, 0, 148, False)
    assert got[("D", "2017-06")] == (0, 5000, -5000, 0, False)
    others = {k: v for k, v in got.items() if k[0] != "D"}
    assert others == {k: v for k, v in EXPECTED.items() if k[0] != "D"}


def test_arrears_work_list(data: Path) -> None:
    arr = api.arrears(data, SYSTEM, AS_OF)
    letter = {v: k for k, v in codes().items()}
    rows = {letter[r["credit_code"]]: r for r in arr.iter_rows(named=True)}
    # most urgent first: B (181 days, bucket 181–365), C and D (91–180; C owes more), A (1–90)
    assert [letter[c] for c in arr["credit_code"]] == ["B", "C", "D", "A"]
    assert [rows[k]["priority"] for k in "BCDA"] == [2, 3, 3, 4]
    # A: 115500 + 33455 past due; 2017-05 (due today) is not arrears yet
    a = rows["A"]
    assert (a["arrears"], a["oldest_period"], a["days_past_due"], a["ageing"]) == (
        148955, "2017-03", 61, "1–90天"
    )  # fmt: skip
    assert (a["periods"], a["estimated_periods"], a["late_fee"]) == (2, 1, 525 + 3523 + 802)
    assert (rows["B"]["arrears"], rows["B"]["late_fee"], rows["B"]["owed_3"]) == (
        40000, 4200 + 3825, 40000
    )  # fmt: skip
    d = rows["D"]
    assert (d["arrears"], d["owed_1"], d["owed_2"], d["credit"], d["late_fee"]) == (
        20000, 10000, 10000, 25000, 760
    )  # fmt: skip
    assert rows["C"]["schemes"] == "employee_medical"
    assert arr["agreement_status"].null_count() == arr.height
    only = api.arrears(data, SYSTEM, AS_OF, county="360402")
    assert sorted(letter[c] for c in only["credit_code"]) == ["A", "C"]
    with pytest.raises(UsageError):
        api.arrears(data, SYSTEM, AS_OF, county="999999")


def test_scope_limits_rows(data: Path) -> None:
    county = Scope("li", "county_staff", frozenset({"360423"}), personal=False)
    led = api.ledger(data, county, AS_OF)
    assert set(led["county_code"]) == {"360423"} and led.height == 14  # B 8 + D 6
    assert set(api.arrears(data, county, AS_OF)["county_code"]) == {"360423"}
    with pytest.raises(PermissionDenied):
        api.arrears(data, county, AS_OF, county="360402")


def _key(data: Path, letter: str) -> str:
    led = api.ledger(data, SYSTEM, AS_OF)
    return str(led.filter(pl.col("credit_code") == codes()[letter])["employer_key"][0])


def test_compliance(data: Path) -> None:
    got = api.compliance(data, SYSTEM, _key(data, "A"), AS_OF)
    assert got["schemes"] == ["employee_pension"]
    assert (got["arrears_fen"], got["arrears"], got["arrears_periods"]) == (148955, "1489.55", 2)
    assert (got["oldest_period"], got["days_past_due"], got["ageing"]) == ("2017-03", 61, "1–90天")
    assert (got["late_fee_fen"], got["late_fee"], got["estimated_periods"]) == (4850, "48.50", 1)
    assert got["status"] == "存续" and got["as_of"] == "2017-06-30"
    assert got["agreement_status"] is None and got["enforcement_status"] is None
    assert not any(k in got for k in ("id18", "name", "phone"))
    d = api.compliance(data, SYSTEM, _key(data, "D"), AS_OF)
    assert (d["credit_fen"], d["arrears_fen"]) == (25000, 20000)
    county = Scope("li", "county_staff", frozenset({"360402"}), personal=False)
    with pytest.raises(PermissionDenied):
        api.compliance(data, county, _key(data, "D"), AS_OF)
    with pytest.raises(NotFoundError):
        api.compliance(data, SYSTEM, "Enosuchemployer", AS_OF)


@given(st.integers(-(10**12), 10**12), st.integers(1, 10**6))
def test_half_up_sql_is_div_half_up(numer: int, denom: int) -> None:
    got = _CON.execute(f"SELECT {half_up_div_sql(str(numer), denom)}").fetchall()
    assert got == [(div_half_up(numer, denom),)]


@given(st.lists(st.one_of(st.none(), st.integers(-(10**13), 10**13)), max_size=30))
def test_yuan_column_is_yuan_text(values: list[int | None]) -> None:
    frame = pl.DataFrame({"x": values}, schema={"x": pl.Int64})
    got = frame.select(api.yuan_column("x"))["x"].to_list()
    assert got == [None if v is None else yuan_text(v) for v in values]


@settings(max_examples=15, deadline=None)
@given(st.dates(D(2017, 1, 1), D(2018, 3, 31)), st.integers(1, 400))
def test_ledger_invariants_over_time(data: Path, day: dt.date, later: int) -> None:
    """due − paid = balance on every row; no row's late fee decreases as the date moves on."""
    first = api.ledger(data, SYSTEM, day)
    second = api.ledger(data, SYSTEM, day + dt.timedelta(days=later))
    for frame in (first, second):
        assert (frame["due"] - frame["paid"] == frame["balance"]).all()
    keys = ["employer_key", "scheme", "period"]
    both = first.join(second, on=keys, how="left", suffix="_later")
    assert both["late_fee_later"].null_count() == 0  # a row stays a row
    assert (both["late_fee_later"] >= both["late_fee"]).all()


def test_the_arrears_list_and_compliance_show_what_staff_recorded(
    data: Path, tmp_path: Path
) -> None:
    """A dunning case for B (order given), a proposed agreement for C: the arrears list and the
    compliance status carry their labels; a county reader sees only their county's records."""
    from canbao.collection import agreements, dunning
    from canbao.store import Actor, open_store

    mine = tmp_path / "data"
    shutil.copytree(data, mine)
    arr = api.arrears(mine, SYSTEM, AS_OF)
    row = {r["credit_code"]: r for r in arr.iter_rows(named=True)}
    b, c = row[codes()["B"]], row[codes()["C"]]
    op = Actor.operator()
    store = open_store(mine)
    try:
        emp_b = dunning.Employer(b["employer_key"], "乙", b["credit_code"], b["county_code"])
        case = dunning.start(store, op, SYSTEM, emp_b, ["employee_pension"], b["arrears"],
                             on=dt.date(2017, 7, 3))  # fmt: skip
        dunning.step(store, op, SYSTEM, case.id, "order", on=dt.date(2017, 7, 10),
                     deadline=dt.date(2017, 7, 25))  # fmt: skip
        emp_c = dunning.Employer(c["employer_key"], "丙", c["credit_code"], c["county_code"])
        agreements.propose(store, op, SYSTEM, emp_c, ["employee_medical"], "instalment",
                           c["arrears"], guarantee_note="担保人：法定代表人", instalments=2,
                           first_due=dt.date(2017, 8, 31))  # fmt: skip
    finally:
        store.dispose()
    got = api.arrears(mine, SYSTEM, AS_OF)
    labels = {
        r["credit_code"]: (r["agreement_status"], r["dunning_state"])
        for r in got.iter_rows(named=True)
    }
    assert labels[codes()["B"]] == (None, "已责令限期缴纳")
    assert labels[codes()["C"]] == ("待批准", None)
    assert labels[codes()["A"]] == (None, None)
    assert got.drop("agreement_status", "dunning_state").equals(
        arr.drop("agreement_status", "dunning_state")
    )
    status = api.compliance(mine, SYSTEM, b["employer_key"], AS_OF)
    assert (status["agreement_status"], status["enforcement_status"]) == (None, "已责令限期缴纳")
    county = Scope("li", "county_staff", frozenset({c["county_code"]}), personal=False)
    seen = api.arrears(mine, county, AS_OF)
    assert set(seen["county_code"]) == {c["county_code"]} != {b["county_code"]}
    assert seen["dunning_state"].null_count() == seen.height


def test_an_approved_deferral_stops_the_late_fee_on_its_days(data: Path, tmp_path: Path) -> None:
    """B's opening arrears of 2016-10 (800.00, due 2016-11-30, paid 2017-03-15): 105 late days,
    800.00 × 105 × 0.05% = 42.00. A deferral approved for January 2017 (31 days) leaves 74
    days: 800.00 × 74 × 0.05% = 29.60. A proposed (not approved) deferral changes nothing."""
    from canbao.collection import agreements, late_fees
    from canbao.store import Actor, open_store

    mine = tmp_path / "data"
    shutil.copytree(data, mine)
    before = _rows(api.ledger(mine, SYSTEM, AS_OF))
    assert before[("B", "2016-10")][3] == 4200
    key = _key(mine, "B")
    op = Actor.operator()
    store = open_store(mine)
    try:
        emp = agreements.Employer(key, "乙", codes()["B"], "360423")
        deal = agreements.propose(
            store, op, SYSTEM, emp, ["employee_pension"], "deferral", 80000,
            guarantee_note="担保：上级主管单位", start=dt.date(2017, 1, 1), end=dt.date(2017, 1, 31),
        )  # fmt: skip
        assert _rows(api.ledger(mine, SYSTEM, AS_OF)) == before  # proposed: no effect
        agreements.approve(store, op, SYSTEM, deal.id, on=dt.date(2016, 12, 30))
    finally:
        store.dispose()
    after = _rows(api.ledger(mine, SYSTEM, AS_OF))
    assert after[("B", "2016-10")][3] == 2960
    want = late_fees.late_fee(
        80000,
        "2016-10",
        dt.date(2017, 3, 15),
        deferrals=[(dt.date(2017, 1, 1), dt.date(2017, 1, 31))],
    )
    assert (want.days, want.fee_fen) == (74, 2960)
    # only B's pension rows whose charged days meet January lose fees; nothing else moves
    for k, row in before.items():
        if k[0] != "B":
            assert after[k] == row, k
        else:
            assert after[k][:3] == row[:3] and after[k][3] <= row[3], k
    assert sum(r[3] for r in after.values()) < sum(r[3] for r in before.values())


def test_agreements_are_checked_against_the_ledgers_payments(data: Path, tmp_path: Path) -> None:
    """B's opening arrears of 2016-10 (800.00) and 2016-11 (300.00 left): paid 100.00 on
    2017-02-10 (2016-11) and 800.00 on 2017-03-15 (2016-10). An agreement approved on
    2017-01-05 for 900.00 in two instalments of 450.00 due 2017-03-31 and 2017-04-30 is kept
    (900.00 by 31 March) and completed; one for 1100.00 due 2017-02-28 and 2017-03-31 is
    breached on 2017-03-01 (100.00 paid of 550.00 due) — and `check-all` finds both."""
    from canbao.cli import run
    from canbao.collection import agreements
    from canbao.collection.agreement_checks import check_agreements
    from canbao.store import Actor, open_store

    key = _key(data, "B")
    op = Actor.operator()
    results = {}
    for name, (principal, first) in {
        "kept": (90000, dt.date(2017, 3, 31)),
        "missed": (110000, dt.date(2017, 2, 28)),
    }.items():
        mine = tmp_path / name
        shutil.copytree(data, mine)
        store = open_store(mine)
        try:
            emp = agreements.Employer(key, "乙", codes()["B"], "360423")
            deal = agreements.propose(
                store, op, SYSTEM, emp, ["employee_pension"], "instalment", principal,
                guarantee_note="担保", instalments=2, first_due=first,
                periods=["2016-10", "2016-11"],
            )  # fmt: skip
            agreements.approve(store, op, SYSTEM, deal.id, on=dt.date(2017, 1, 5))
        finally:
            store.dispose()
        if name == "kept":
            [results[name]] = check_agreements(mine, op, SYSTEM, AS_OF)
        else:
            assert run(["agreements", "check-all", "--as-of", "2017-06-30",
                        "--data-dir", str(mine)]) == 0  # fmt: skip
            store = open_store(mine)
            try:
                results[name] = agreements.get(store, SYSTEM, deal.id)
            finally:
                store.dispose()
    kept = results["kept"]
    assert (kept.status, kept.paid_fen, kept.completed_on) == (
        "completed", 90000, dt.date(2017, 3, 15)
    )  # fmt: skip
    missed = results["missed"]
    assert missed.status == "breached"


def test_canbao_build_publishes_the_ledger_and_reads_use_it_while_it_answers(
    data: Path, tmp_path: Path
) -> None:
    """`canbao build` publishes the ledger at the data's as-of date; a read at that date gets
    the published rows (equal to a fresh computation, scoped); another date, another policy or
    a newly approved deferral compute afresh."""
    from canbao.cli import run
    from canbao.collection import agreements, published
    from canbao.store import Actor, open_store

    mine = tmp_path / "data"
    shutil.copytree(data, mine)
    day = published.data_as_of(mine)  # the newest payment, declaration or arrears extract
    assert day is not None and day >= AS_OF
    fresh = api.ledger(mine, SYSTEM, day)
    assert run(["build", "--data-dir", str(mine)]) == 0
    meta = json.loads(next((mine / "ledger").glob("*/published.json")).read_text("utf-8"))
    assert meta["as_of"] == day.isoformat() and meta["rows"] == fresh.height
    assert published.read(mine, SYSTEM, day) is not None
    assert api.ledger(mine, SYSTEM, day).equals(fresh)
    county = Scope("li", "county_staff", frozenset({"360423"}), personal=False)
    got = published.read(mine, county, day)
    assert got is not None and set(got["county_code"]) == {"360423"}
    assert published.read(mine, SYSTEM, day - dt.timedelta(days=1)) is None
    store = open_store(mine)
    try:
        emp = agreements.Employer(_key(mine, "B"), "乙", codes()["B"], "360423")
        deal = agreements.propose(
            store, Actor.operator(), SYSTEM, emp, ["employee_pension"], "deferral", 80000,
            guarantee_note="担保", start=dt.date(2017, 1, 1), end=dt.date(2017, 1, 31),
        )  # fmt: skip
        agreements.approve(store, Actor.operator(), SYSTEM, deal.id, on=dt.date(2016, 12, 30))
    finally:
        store.dispose()
    assert published.read(mine, SYSTEM, day) is None  # the deferral changes late fees
    assert _rows(api.ledger(mine, SYSTEM, AS_OF))[("B", "2016-10")][3] == 2960
