"""The reminder rules on the synthetic city give the right recipients: each rule is compared
with a direct Polars computation from the registry snapshot, the ledger or the store."""

from __future__ import annotations

import datetime as dt
import json

import polars as pl
import pytest

from canbao.collection import api as collection
from canbao.notify import rules
from canbao.notify.config import NotifyConfig
from canbao.notify.windows import parse_windows, windows_for
from canbao.registry import snapshot
from canbao.store.db import Store
from canbao.store.models import Agreement, Instalment
from canbao.warehouse.scope import Scope
from tests.notify.conftest import City

SYSTEM = Scope.system("tests: reminder rules")
REGION = "360400"  # the Jiujiang profile's policy region (falls back to 江西省 360000)


def _resident_expected(city: City, as_of: dt.date, open_years: dict[str, int]) -> set[tuple]:
    snap = snapshot.require_current(city.data)
    enr = snap.scan("enrollments").collect()
    persons = snap.scan("persons").collect()
    alive = set(persons.filter(pl.col("death_date").is_null())["person_key"].to_list())
    out = set()
    for r in enr.iter_rows(named=True):  # a plain loop: an independent computation
        if r["scheme"] not in open_years or r["status"] not in ("active", "suspended"):
            continue
        if r["start_date"] is not None and r["start_date"] > as_of:
            continue
        if r["end_date"] is not None and r["end_date"] < as_of:
            continue
        if r["scheme"] == "resident_pension" and r["benefit"] == "receiving":
            continue
        if r["person_key"] in alive:
            out.add((r["person_key"], f"{r['scheme']}-{open_years[r['scheme']]}"))
    return out


def test_resident_window_both_schemes_open(city: City) -> None:
    as_of = dt.date(2017, 12, 20)  # medical window (for 2018) and pension window (2017) open
    got = rules.resident_payment(city.data, as_of, REGION)
    expected = _resident_expected(city, as_of, {"resident_medical": 2018, "resident_pension": 2017})
    assert set(zip(got["recipient_key"], got["period"], strict=True)) == expected
    assert got.height == len(expected) > 100
    persons = snapshot.require_current(city.data).scan("persons").collect()
    phones = dict(zip(persons["person_key"], persons["phone"], strict=True))
    assert all(phones[k] == p for k, p in zip(got["recipient_key"], got["phone"], strict=True))
    params = json.loads(
        got.filter(pl.col("period").str.starts_with("resident_medical"))["params"][0]
    )
    assert params == {"year": "2018", "schemes": "城乡居民基本医疗保险", "end": "12月31日"}


def test_resident_window_closed_scheme_left_out(city: City) -> None:
    as_of = dt.date(2017, 12, 21)  # the example pension window of 江西 ends 12-20
    got = rules.resident_payment(city.data, as_of, REGION)
    assert set(got["period"].unique()) == {"resident_medical-2018"}
    assert set(zip(got["recipient_key"], got["period"], strict=True)) == _resident_expected(
        city, as_of, {"resident_medical": 2018}
    )
    assert rules.resident_payment(city.data, dt.date(2017, 2, 1), "110000").height == 0


def test_windows_are_policy_data_with_fallback() -> None:
    jiangxi = windows_for("360424")
    assert jiangxi["resident_pension"].region == "360000"
    assert windows_for("110000")["resident_pension"].region == "000000"
    assert all(w.example for w in jiangxi.values())
    with pytest.raises(Exception, match="缴费期参数文件有误"):
        parse_windows({"regions": [{"region": "360000", "windows": [
            {"scheme": "resident_medical", "start": "12-31", "end": "09-01"}]}]})  # fmt: skip


def test_employer_due(city: City) -> None:
    as_of = dt.date(2017, 12, 27)
    got = rules.employer_due(city.data, SYSTEM, as_of, days=5)
    ledger = collection.ledger(city.data, SYSTEM, as_of)
    due = ledger.filter(
        (pl.col("balance") > 0) & pl.col("due_date").is_between(as_of, as_of + dt.timedelta(days=5))
    )
    expected = set(zip(due["employer_key"], due["period"], strict=True))
    assert set(zip(got["recipient_key"], got["period"], strict=True)) == expected
    assert got.height == len(expected) > 0
    no_phone = got.filter(pl.col("phone").is_null())["recipient_key"].unique().to_list()
    assert set(no_phone) <= set(city.no_contact)
    assert rules.employer_due(city.data, SYSTEM, dt.date(2017, 12, 20), days=5).height == 0


def test_arrears_notice_skips_employers_under_agreement(city: City, store: Store) -> None:
    as_of = dt.date(2017, 12, 20)
    arrears = collection.arrears(city.data, SYSTEM, as_of)
    owing = arrears.filter(pl.col("days_past_due") >= 1)
    assert owing.height > 1
    got = rules.arrears_notice(store, city.data, SYSTEM, as_of, min_days=1)
    assert sorted(got["recipient_key"]) == sorted(owing["employer_key"])
    assert set(got["period"]) == {"2017-12"}
    first = owing.row(0, named=True)
    _agreement(store, first, "approved", [(as_of + dt.timedelta(days=2), 10_000, 0)])
    again = rules.arrears_notice(store, city.data, SYSTEM, as_of, min_days=1)
    assert first["employer_key"] not in set(again["recipient_key"])
    assert again.height == got.height - 1


def _agreement(store: Store, employer: dict, status: str, plan: list[tuple]) -> int:
    with store.transaction() as s:
        a = Agreement(
            employer_key=employer["employer_key"], credit_code=employer["credit_code"],
            employer_name=employer["employer_name"], county_code=employer["county_code"],
            schemes=["employee_pension"], periods=["2017-01"], kind="instalment",
            principal_fen=sum(p[1] for p in plan), status=status, created_by="qian_city",
        )  # fmt: skip
        s.add(a)
        s.flush()
        for i, (due, amount, paid) in enumerate(plan, start=1):
            s.add(Instalment(agreement_id=a.id, seq=i, due_date=due, amount_fen=amount,
                             paid_fen=paid))  # fmt: skip
        return a.id


def test_instalment_due(city: City, store: Store) -> None:
    as_of = dt.date(2017, 12, 20)
    emp = snapshot.require_current(city.data).scan("employers").collect().sort("employer_key")
    e1 = emp.row(5, named=True) | {"employer_name": emp.row(5, named=True)["name"]}
    e2 = emp.row(6, named=True) | {"employer_name": emp.row(6, named=True)["name"]}
    day = dt.timedelta(days=1)
    a1 = _agreement(store, e1, "approved", [
        (as_of + 2 * day, 150_050, 50_000),  # due in 2 days, partly paid: reminded (1000.50)
        (as_of + 40 * day, 100_000, 0),  # too far ahead
        (as_of + day, 100_000, 100_000),  # paid in full
    ])  # fmt: skip
    _agreement(store, e2, "proposed", [(as_of + day, 100_000, 0)])  # not in force
    got = rules.instalment_due(store, city.data, as_of, days=3)
    assert got["period"].to_list() == [f"{a1}-1"]
    row = got.row(0, named=True)
    assert row["recipient_key"] == e1["employer_key"] and row["phone"] is not None
    assert json.loads(row["params"]) == {
        "employer": e1["name"], "seq": "1", "due_date": "12月22日", "amount": "1000.50",
    }  # fmt: skip


def test_candidates_have_every_column(city: City, store: Store) -> None:
    got = rules.candidates(store, city.data, dt.date(2017, 12, 27), NotifyConfig(), REGION)
    assert got.schema == pl.Schema(rules.COLUMNS)
    assert set(got["reason"]) == {"resident_payment", "employer_due", "arrears_notice"}
