"""The ledger and its KPIs against the synthetic city's truth (truth/ledger.csv and
truth/collection_kpi.csv, canbao.synth.payments): every row and every figure equal at the
truth's as-of date — payments in three files (one re-sending a quarter of another, one without
transaction numbers), missing declarations, opening arrears, credits."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from canbao.collection import api
from canbao.registry import api as registry
from tests.registry.city import ingest, make_city
from tests.scopes import SYSTEM

AS_OF = dt.date(2017, 12, 31)


@pytest.fixture(scope="module")
def city_data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    city = make_city(tmp_path_factory.mktemp("ledger-city"), persons=3000, seed=11)
    data = tmp_path_factory.mktemp("ledger-city-data")
    ingest(city, data)
    registry.build(data)
    return city, data


def test_every_ledger_row_equals_the_truth(city_data: tuple[Path, Path]) -> None:
    city, data = city_data
    truth = pl.read_csv(
        city / "truth" / "ledger.csv", schema_overrides={"credit_code": pl.Utf8}
    ).select(
        "credit_code", "scheme", "period", "due_date", "estimated",
        due="due_fen", paid="paid_fen", balance="balance_fen", late_fee="late_fee_fen",
    )  # fmt: skip
    assert truth["estimated"].any() and truth.height > 500
    led = api.ledger(data, SYSTEM, AS_OF).select(truth.columns)
    keys = ["credit_code", "scheme", "period"]
    assert led.select(keys).is_duplicated().sum() == 0
    got = led.with_columns(pl.col("due_date").cast(pl.Utf8)).sort(keys)
    want = truth.with_columns(pl.col("due_date").cast(pl.Utf8)).sort(keys)
    assert got.to_dicts() == want.to_dicts()


def test_kpis_equal_the_truth(city_data: tuple[Path, Path]) -> None:
    city, data = city_data
    truth = pl.read_csv(
        city / "truth" / "collection_kpi.csv", schema_overrides={"unit": pl.Utf8, "value": pl.Utf8}
    )
    assert {"clearance_rate.private", "new_arrears_ratio.public"} <= set(truth["indicator"])
    got = api.kpis(data, SYSTEM, 2017, AS_OF)
    assert got.sort("unit", "indicator").to_dicts() == truth.sort("unit", "indicator").to_dicts()


def test_units_add_up_to_the_city(city_data: tuple[Path, Path]) -> None:
    """Counties, 市本级 and the zone add up to the city: an employer's money counts for one
    unit only (canbao.collection.actuals, the unit rule)."""
    _, data = city_data
    df = api.kpis(data, SYSTEM, 2017, AS_OF).filter(
        pl.col("indicator").str.starts_with("collected")
    )
    city = df.filter(pl.col("unit") == "city")
    units = df.filter(pl.col("unit") != "city")
    assert {"city_level", "devzone"} <= set(units["unit"])
    assert len(set(units["unit"])) >= 5
    for ind in city["indicator"]:
        total = sum(Decimal(v) for v in units.filter(pl.col("indicator") == ind)["value"])
        assert total == Decimal(city.filter(pl.col("indicator") == ind)["value"][0]), ind


def test_units_follow_the_unit_table(city_data: tuple[Path, Path]) -> None:
    """Units come from the region profile's area table (here a hand-made one)."""
    _, data = city_data
    base = api.kpis(data, SYSTEM, 2017, AS_OF, agencies={})
    moved = api.kpis(data, SYSTEM, 2017, AS_OF, units={"360424": "devzone"}, agencies={})
    assert set(moved["unit"]) == {"city", "devzone"}

    def values(frame: pl.DataFrame, unit: str) -> dict[str, str]:
        return dict(frame.filter(pl.col("unit") == unit).select("indicator", "value").iter_rows())

    assert values(moved, "devzone") == values(base, "360424")
    assert values(moved, "city") == values(base, "city")


def test_the_plan_gets_its_collection_actuals_from_the_ledger(
    city_data: tuple[Path, Path],
) -> None:
    from canbao.plan import catalog
    from canbao.plan.actuals import default_actuals_source

    city, data = city_data
    source = default_actuals_source(data)
    assert source is not None and "征缴台账" in source.label
    frame = source.actuals(catalog.load("jiujiang-2017"), AS_OF)
    got = dict(frame.filter(pl.col("unit") == "city").select("indicator", "value").iter_rows())
    assert any(i.startswith("enrolled.") for i in got)
    truth = pl.read_csv(
        city / "truth" / "collection_kpi.csv", schema_overrides={"unit": pl.Utf8, "value": pl.Utf8}
    ).filter(pl.col("unit") == "city")
    for ind, value in truth.select("indicator", "value").iter_rows():
        assert got[ind] == value, ind
