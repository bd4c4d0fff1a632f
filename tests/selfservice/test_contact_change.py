"""A change of phone or address becomes a case for staff review: masked where it is listed,
never written to the registry, resolved with the cases machinery."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from sqlalchemy import select

from canbao import cases
from canbao.errors import RateLimited, UsageError
from canbao.registry import snapshot
from canbao.selfservice import contact_change
from canbao.store import Actor, Store
from canbao.store.models import Case, CaseEvent
from canbao.warehouse.scope import Scope
from tests.selfservice.conftest import City

STAFF = Actor("li_city", "city_staff", (), "cli")


def _phone_of(city: City, key: str) -> str | None:
    snap = snapshot.require_current(city.data)
    row = snap.scan("persons").filter(pl.col("person_key") == key).collect()
    return row["phone"][0]


def test_a_phone_change_is_a_case_and_not_a_write(store: Store, city: City) -> None:
    key = str(city.person["person_key"])
    before = _phone_of(city, key)
    build = snapshot.require_current(city.data).build_id
    done = contact_change.request_change(store, city.data, key, "phone", "139 1234 5678", "1.2.3.4")
    assert done.ref.startswith("BG") and done.shown == "139****5678"
    with store.sessions() as s:
        case = s.execute(select(Case).where(Case.id == done.case_id)).scalar_one()
        event = s.execute(select(CaseEvent).where(CaseEvent.case_id == case.id)).scalar_one()
    assert case.kind == "contact_change" and case.state == "new" and case.subject_key == key
    assert "13912345678" not in str(case.subject)  # masked in the case
    assert case.subject["phone"] == "139****5678" and done.ref in case.subject["reason"]
    assert event.detail["new_value"] == "13912345678"  # for staff, in the case's history
    # staff see it and resolve it; the registry is not written
    scope = Scope("li_city", "city_staff", None)
    view = cases.get_case(store, scope, done.case_id)
    assert view.kind_label == "联系方式变更申请"
    resolved = cases.resolve(store, STAFF, scope, done.case_id, "已核实并在业务系统变更",
                             on=dt.date(2017, 12, 31), reason="户籍系统", version=view.version)  # fmt: skip
    assert resolved.state == "resolved"
    assert snapshot.require_current(city.data).build_id == build
    assert _phone_of(city, key) == before


def test_an_address_change_and_bad_values(store: Store, city: City) -> None:
    key = str(city.person["person_key"])
    done = contact_change.request_change(
        store, city.data, key, "address", "九江市浔阳区 湓浦路 88号", ""
    )
    assert done.field == "address"
    for field, value in (("phone", "12345"), ("address", "短"), ("address", "<script>x</script>地址"),
                         ("email", "a@b.c")):  # fmt: skip
        with pytest.raises(UsageError):
            contact_change.request_change(store, city.data, key, field, value, "")


def test_at_most_three_requests_a_day(store: Store, city: City) -> None:
    key = str(city.person["person_key"])
    for n in range(3):
        contact_change.request_change(store, city.data, key, "phone", f"1391234567{n}", "")
    with pytest.raises(RateLimited):
        contact_change.request_change(store, city.data, key, "phone", "13912345679", "")
