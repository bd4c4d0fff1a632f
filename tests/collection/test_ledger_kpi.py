"""Collection KPIs from the ledger, worked by hand on tests/collection/ledger_city.py at
2017-06-30 (the rows of each ledger figure: test_ledger.py's EXPECTED), and the plan's actuals
contract of :class:`LedgerActuals`."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from canbao.collection import api
from canbao.collection.kpi import LedgerActuals, ledger_actuals_source
from canbao.errors import UsageError
from canbao.profile import default_profile
from canbao.warehouse.scope import Scope
from tests.collection.ledger_city import AS_OF, make_data
from tests.scopes import SYSTEM


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_data(tmp_path_factory.mktemp("ledger-kpi"))


def _values(frame: pl.DataFrame) -> dict[tuple[str, str], str]:
    return {(u, i): v for u, i, v in frame.select("unit", "indicator", "value").iter_rows()}


ZERO = {"collected.maternity": "0.00", "collected.unemployment": "0.00"}
# Units: A and C (360402) and B (360423) by their county; D is managed by 市本级: city_level.
#
# Dues in the year (due date in 2017-01-01..06-30) and new arrears (unpaid at 06-30):
#   private (A, C): A 100000 + 105000 + 115500 + 123455 + 135801 = 579756, C 30000 + 30000
#     → dues 639756; unpaid A 115500 + 33455 + 135801 = 284756, C 60000 → 344756
#     → 344756 / 639756 = 0.53888… → 0.5389
#   public: B 2017-01..05 5 × 200000 = 1000000, all paid → 0.0000 (2017-06 due 07-31: not yet);
#     D 5 × 10000 = 50000, unpaid 02 + 03 = 20000 → 0.4000; city 20000 / 1050000 = 0.01904… → 0.0190
# Opening arrears (ledger at 2016-12-31, periods due by then): B 2016-10 80000 + 2016-11 50000
#   = 130000; recovered in 2017: 80000 (2017-03-15) + 10000 (2017-02-10) = 90000
#   → 90000 / 130000 = 0.69230… → 0.6923 (public only: private has none, so no row)
# Collected (received 2017-01-01..06-30, each payment once, any period):
#   pension A 1000.00 + 1050.00 + 600.00 + 300.00 = 2950.00 (the 07-05 payment is later);
#   B 800.00 + 100.00 + 4 × 2000.00 + 2 × 1000.00 = 10900.00 (the 2016-12-20 one is before);
#   work injury D 250.00 + 100.00 + 100.00 (undated, batch 06-30) + 100.00 = 550.00
EXPECTED_BY_UNIT = {
    "360402": {"collected.employee_pension": "2950.00", "collected.medical": "0.00",
               "collected.work_injury": "0.00", **ZERO, "new_arrears_ratio.private": "0.5389"},
    "360423": {"collected.employee_pension": "10900.00", "collected.medical": "0.00",
               "collected.work_injury": "0.00", **ZERO, "new_arrears_ratio.public": "0.0000",
               "clearance_rate.public": "0.6923"},
    "city_level": {"collected.employee_pension": "0.00", "collected.medical": "0.00",
                   "collected.work_injury": "550.00", **ZERO,
                   "new_arrears_ratio.public": "0.4000"},
    "city": {"collected.employee_pension": "13850.00", "collected.medical": "0.00",
             "collected.work_injury": "550.00", **ZERO, "new_arrears_ratio.private": "0.5389",
             "new_arrears_ratio.public": "0.0190", "clearance_rate.public": "0.6923"},
}  # fmt: skip


def _flat(expected: dict[str, dict[str, str]]) -> dict[tuple[str, str], str]:
    return {(u, i): v for u, rows in expected.items() for i, v in rows.items()}


def test_kpis_per_plan_unit(data: Path) -> None:
    frame = api.kpis(data, SYSTEM, 2017, AS_OF)
    assert frame.columns == ["unit", "indicator", "value"]
    assert _values(frame) == _flat(EXPECTED_BY_UNIT)


def test_kpis_per_county(data: Path) -> None:
    """By the employer's county D counts for 360423 (public: dues 1050000, unpaid 20000)."""
    got = _values(api.kpis(data, SYSTEM, 2017, AS_OF, by="county"))
    county = dict(EXPECTED_BY_UNIT)
    county.pop("city_level")
    county["360423"] = {**county["360423"], "collected.work_injury": "550.00",
                        "new_arrears_ratio.public": "0.0190"}  # fmt: skip
    assert got == _flat(county)


def test_kpi_parts(data: Path) -> None:
    parts = api.kpi_parts(data, SYSTEM, 2017, AS_OF)
    got = {(r["unit"], r["group"]): (r["dues_in_year"], r["new_arrears"], r["opening_arrears"],
                                     r["recovered"]) for r in parts.iter_rows(named=True)}  # fmt: skip
    assert got == {
        ("360402", "private"): (639756, 344756, 0, 0),
        ("360423", "public"): (1000000, 0, 130000, 90000),
        ("city_level", "public"): (50000, 20000, 0, 0),
        ("city", "private"): (639756, 344756, 0, 0),
        ("city", "public"): (1050000, 20000, 130000, 90000),
    }


def test_kpis_later_in_the_year(data: Path) -> None:
    """At 2017-12-31 (a date after the year is taken as 31 December): A's 2017-03 payment of
    07-05 is collected and recovers nothing (not an opening period); every declared period is
    due in the year. Dues private: A 100000 + 105000 + 115500 + 123455 + 135801 + 2017-06..11
    estimated 6 × 135801 = 1394562, C 60000 → 1454562; unpaid A 0 + 0 + 0 + 33455 + 135801
    + 814806 = 984062, C 60000 → 1044062 / 1454562 = 0.71778… → 0.7178."""
    late = _values(api.kpis(data, SYSTEM, 2017, dt.date(2018, 2, 1)))
    assert late == _values(api.kpis(data, SYSTEM, 2017, dt.date(2017, 12, 31)))
    assert late[("360402", "collected.employee_pension")] == "4105.00"  # 2950.00 + 1155.00
    assert late[("360402", "new_arrears_ratio.private")] == "0.7178"
    assert late[("city", "clearance_rate.public")] == "0.6923"
    with pytest.raises(UsageError):
        api.kpis(data, SYSTEM, 2018, AS_OF)


def test_kpis_in_scope(data: Path) -> None:
    county = Scope("li", "county_staff", frozenset({"360402"}), personal=False)
    got = _values(api.kpis(data, county, 2017, AS_OF))
    assert got == _flat({"360402": EXPECTED_BY_UNIT["360402"]})


def test_ledger_actuals_contract(data: Path) -> None:
    """The plan's actuals source: unit, indicator, value, as_of for the plan's year."""
    from canbao.plan import catalog

    plan = catalog.load("jiujiang-2017")
    source = ledger_actuals_source(data, default_profile())
    assert isinstance(source, LedgerActuals) and "缴费到账" in source.label
    frame = source.actuals(plan, AS_OF)
    assert frame.columns == ["unit", "indicator", "value", "as_of"]
    assert set(frame["as_of"]) == {AS_OF}
    assert _values(frame) == _flat(EXPECTED_BY_UNIT)
    assert Decimal(_values(frame)[("city", "clearance_rate.public")]) == Decimal("0.6923")
    before = source.actuals(plan, dt.date(2016, 12, 31))
    assert before.height == 0
    assert ledger_actuals_source(None) is None


def test_the_plans_actuals_come_from_the_ledger(data: Path) -> None:
    """canbao.plan.actuals.default_actuals_source takes the ledger's actuals: the plan's
    combined actuals carry clearance_rate.* from the ledger."""
    from canbao.plan import catalog
    from canbao.plan.actuals import default_actuals_source

    source = default_actuals_source(data, default_profile())
    assert source is not None
    frame = source.actuals(catalog.load("jiujiang-2017"), AS_OF)
    city = _values(frame.filter(pl.col("unit") == "city"))
    assert city[("city", "clearance_rate.public")] == "0.6923"
    assert city[("city", "collected.employee_pension")] == "13850.00"
