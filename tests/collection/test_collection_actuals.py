"""Collection actuals against the synthetic city's raw payment extract and its truth."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from canbao.collection.actuals import SCHEME_INDICATORS, collection_actuals
from canbao.ingest.kinds import SCHEME_LABELS_ZH
from canbao.registry import api
from tests.registry.city import ingest, make_city

AS_OF = dt.date(2017, 12, 31)


@pytest.fixture(scope="module")
def city_data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    city = make_city(tmp_path_factory.mktemp("coll-city"), persons=3000, seed=11)
    data = tmp_path_factory.mktemp("coll-data")
    ingest(city, data)
    api.build(data)
    return city, data


def _date(text: str | None) -> dt.date | None:
    """The date formats the synthetic extracts use (an independent reading of the raw file)."""
    if not text:
        return None
    t = text.strip()
    if t.isdigit() and len(t) == 8:
        return dt.date(int(t[:4]), int(t[4:6]), int(t[6:]))
    if t.isdigit():  # Excel serial
        return dt.date(1899, 12, 30) + dt.timedelta(days=int(t))
    for sep in ("-", "/"):
        if sep in t:
            y, m, d = (int(x) for x in t.split(sep))
            return dt.date(y, m, d)
    y, rest = t.split("年")
    m, rest = rest.split("月")
    return dt.date(int(y), int(m), int(rest.rstrip("日")))


def _raw_payments(city: Path) -> pl.DataFrame:
    spec = next(
        f for f in json.loads((city / "manifest.json").read_text("utf-8"))["files"]
        if f["kind"] == "payment"
    )  # fmt: skip
    df = pl.read_csv(
        city / spec["path"], infer_schema_length=0, encoding=spec.get("encoding") or "utf8"
    )
    return df.rename(
        {"所属期": "period", "征收项目": "scheme", "实缴金额": "paid", "到账日期": "d"}
    )


def test_collected_equals_raw_extract_sums(city_data: tuple[Path, Path]) -> None:
    city, data = city_data
    got = collection_actuals(data, 2017, AS_OF).filter(pl.col("unit") == "city")
    got_map = {r["indicator"]: Decimal(r["value"]) for r in got.iter_rows(named=True)}
    raw = _raw_payments(city)
    by_label = {v: k for k, v in SCHEME_LABELS_ZH.items()}
    expected: dict[str, Decimal] = {}
    for r in raw.iter_rows(named=True):
        scheme = by_label.get(r["scheme"])
        if scheme not in SCHEME_INDICATORS or not r["period"].startswith("2017"):
            continue
        paid_on = _date(r["d"])
        if paid_on is None or paid_on > AS_OF:
            continue
        key = SCHEME_INDICATORS[scheme]
        expected[key] = expected.get(key, Decimal(0)) + Decimal(r["paid"] or "0")
    assert expected, "the synthetic payment extract has payments"
    for key, value in expected.items():
        assert got_map[key] == value, key


def test_units_add_up_to_the_city(city_data: tuple[Path, Path]) -> None:
    _, data = city_data
    df = collection_actuals(data, 2017, AS_OF).filter(
        pl.col("indicator").str.starts_with("collected")
    )
    city = df.filter(pl.col("unit") == "city")
    units = df.filter(pl.col("unit") != "city")
    assert set(units["unit"]) <= {"360402", "360403", "360404", "360423", "360424", "360425",
                                  "360426", "360428", "360429", "360430", "360481", "360482",
                                  "360483"}  # fmt: skip
    for ind in city["indicator"]:
        total = sum(Decimal(v) for v in units.filter(pl.col("indicator") == ind)["value"])
        assert total == Decimal(city.filter(pl.col("indicator") == ind)["value"][0])


def test_new_arrears_match_the_truth(city_data: tuple[Path, Path]) -> None:
    city, data = city_data
    truth = pl.read_csv(city / "truth" / "arrears.csv").join(
        pl.read_parquet(city / "truth" / "employers.parquet").select("eid", "ownership"), on="eid"
    )
    df = collection_actuals(data, 2017, AS_OF).filter(pl.col("unit") == "city")
    ratios = {r["indicator"]: Decimal(r["value"]) for r in df.iter_rows(named=True)}
    assert "new_arrears_ratio.private" in ratios and "new_arrears_ratio.public" in ratios
    owed_private = truth.filter(pl.col("ownership").is_in(["private", "individual"]))[
        "arrears"
    ].sum()
    assert (ratios["new_arrears_ratio.private"] > 0) == (owed_private > 0)
    assert Decimal(0) <= ratios["new_arrears_ratio.private"] < Decimal(1)


def test_plan_gets_enrolment_and_collection_actuals(city_data: tuple[Path, Path]) -> None:
    from canbao.plan import catalog
    from canbao.plan.actuals import default_actuals_source

    _, data = city_data
    source = default_actuals_source(data)
    assert source is not None
    frame = source.actuals(catalog.load("jiujiang-2017"), AS_OF)
    indicators = set(frame.filter(pl.col("unit") == "city")["indicator"])
    assert "collected.employee_pension" in indicators
    assert any(i.startswith("enrolled.") for i in indicators)
    assert "缴费到账" in source.label


def test_units_follow_the_unit_table(city_data: tuple[Path, Path]) -> None:
    """Units come from the region profile's area table (here a hand-made one)."""
    _, data = city_data
    base = collection_actuals(data, 2017, AS_OF)
    moved = collection_actuals(data, 2017, AS_OF, units={"360424": "devzone"})
    assert set(moved["unit"]) == {"city", "devzone"}

    def values(frame: pl.DataFrame, unit: str) -> dict[str, str]:
        return dict(frame.filter(pl.col("unit") == unit).select("indicator", "value").iter_rows())

    assert values(moved, "devzone") == values(base, "360424")
    assert values(moved, "city") == values(base, "city")
