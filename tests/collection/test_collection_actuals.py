"""Collection actuals against the synthetic city's raw payment extract and its truth."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from canbao.collection.actuals import OWNERSHIP_GROUP, SCHEME_INDICATORS, collection_actuals
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
    """Counties, 市本级 and the zone add up to the city: a payment counts for one unit only."""
    _, data = city_data
    df = collection_actuals(data, 2017, AS_OF).filter(
        pl.col("indicator").str.starts_with("collected")
    )
    city = df.filter(pl.col("unit") == "city")
    units = df.filter(pl.col("unit") != "city")
    assert set(units["unit"]) <= {"360402", "360403", "360404", "360423", "360424", "360425",
                                  "360426", "360428", "360429", "360430", "360481", "360482",
                                  "360483", "city_level", "devzone"}  # fmt: skip
    assert {"city_level", "devzone"} <= set(units["unit"])
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
    base = collection_actuals(data, 2017, AS_OF, agencies={})
    moved = collection_actuals(data, 2017, AS_OF, units={"360424": "devzone"}, agencies={})
    assert set(moved["unit"]) == {"city", "devzone"}

    def values(frame: pl.DataFrame, unit: str) -> dict[str, str]:
        return dict(frame.filter(pl.col("unit") == unit).select("indicator", "value").iter_rows())

    assert values(moved, "devzone") == values(base, "360424")
    assert values(moved, "city") == values(base, "city")


def _truth_payments(city: Path) -> pl.DataFrame:
    """The raw payment extract's rows with their true employer's unit (truth/employer_links.csv,
    truth/employers.parquet ``agency_unit``: 市本级, the zone or the county), scheme and money."""
    spec = next(
        f for f in json.loads((city / "manifest.json").read_text("utf-8"))["files"]
        if f["kind"] == "payment"
    )  # fmt: skip
    raw = (
        _raw_payments(city)
        .with_row_index("row", offset=1)
        .with_columns(pl.col("row").cast(pl.Int64))
    )
    links = pl.read_csv(city / "truth" / "employer_links.csv").filter(
        pl.col("source") == spec["source"]
    )
    emp = pl.read_parquet(city / "truth" / "employers.parquet").select(
        "eid", "agency_unit", "ownership"
    )
    by_label = {v: k for k, v in SCHEME_LABELS_ZH.items()}
    return (
        raw.join(links.select("row", "eid"), on="row")
        .join(emp, on="eid")
        .with_columns(
            scheme=pl.col("scheme").replace_strict(by_label, default=None),
            paid=pl.col("paid").cast(pl.Decimal(20, 2)).fill_null(0),
            due=pl.col("应缴费额").cast(pl.Decimal(20, 2)).fill_null(0),
            paid_on=pl.col("d").map_elements(_date, return_dtype=pl.Date),
        )
    )


def test_city_level_and_zone_collection_match_the_truth(city_data: tuple[Path, Path]) -> None:
    """Every unit's collected.* and new-arrears ratio equal the truth's sums over the payment
    rows of the employers the city-level agency, the zone's agency or a county manages: 市本级
    and 开发区 get the same actuals the counties get, and lose them from their counties."""
    city, data = city_data
    truth = _truth_payments(city).filter(pl.col("period").str.starts_with("2017"))
    assert truth.height == _raw_payments(city).height  # every row has its true employer
    got = {
        (r["unit"], r["indicator"]): Decimal(r["value"])
        for r in collection_actuals(data, 2017, AS_OF).iter_rows(named=True)
    }
    received = truth.filter(pl.col("paid_on").is_not_null() & (pl.col("paid_on") <= AS_OF))
    expected = (
        received.filter(pl.col("scheme").is_in(list(SCHEME_INDICATORS)))
        .group_by("agency_unit", "scheme")
        .agg(pl.col("paid").sum())
    )
    units = set(expected["agency_unit"])
    assert {"city_level", "devzone"} <= units and len(units) > 10
    for r in expected.iter_rows(named=True):
        key = (r["agency_unit"], SCHEME_INDICATORS[r["scheme"]])
        assert got[key] == r["paid"], key
    collected = {k for k in got if k[1].startswith("collected.") and k[0] != "city"}
    assert collected == {
        (u, SCHEME_INDICATORS[s]) for u, s in expected.select("agency_unit", "scheme").iter_rows()
    }
    # new arrears: owed (due − received by the as-of date) ÷ due, per unit and ownership group
    owed = (
        pl.when(pl.col("paid_on").is_not_null() & (pl.col("paid_on") <= AS_OF))
        .then(pl.col("due") - pl.col("paid"))
        .otherwise(pl.col("due"))
    )
    ratios = (
        truth.with_columns(
            group=pl.col("ownership").replace_strict(OWNERSHIP_GROUP), owed=owed.clip(0)
        )
        .group_by("agency_unit", "group")
        .agg(pl.col("owed").sum(), pl.col("due").sum())
        .filter(pl.col("due") > 0)
    )
    some_owed = False
    for r in ratios.iter_rows(named=True):
        want = (r["owed"] / r["due"]).quantize(Decimal("0.0001"))
        assert got[(r["agency_unit"], f"new_arrears_ratio.{r['group']}")] == want, r
        some_owed = some_owed or want > 0
    assert some_owed and {"city_level", "devzone"} <= set(ratios["agency_unit"])
