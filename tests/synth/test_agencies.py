"""The synthetic city's managing agencies (参保经办机构): who the city-level agency (市本级) and the
development zone's agency manage, in the truth and in the extracts (issue 16 item 3)."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from canbao.profile import load_profile
from canbao.synth.agencies import ZONE_COUNTIES
from canbao.synth.extracts import AGENCY_STYLE, specs
from tests.synth.conftest import manifest, read_extract

SPECIAL = ("city_level", "devzone")


def test_agencies_in_the_truth(city: Path) -> None:
    counties = {c.code for c in load_profile().counties}
    emp = pl.read_parquet(city / "truth" / "employers.parquet")
    assert set(emp["agency_unit"]) == counties | set(SPECIAL)
    city_level = emp.filter(pl.col("agency_unit") == "city_level")
    assert "individual" not in set(city_level["ownership"])
    zone = emp.filter(pl.col("agency_unit") == "devzone")
    assert zone.height > 0 and zone["park"].all()
    assert set(zone["county_code"]) <= set(ZONE_COUNTIES)
    county = emp.filter(~pl.col("agency_unit").is_in(SPECIAL))
    assert (county["agency_unit"] == county["county_code"]).all()

    enr = pl.read_parquet(city / "truth" / "enrollments.parquet")
    with_emp = enr.filter(pl.col("eid").is_not_null()).join(
        emp.select("eid", employer_unit="agency_unit"), on="eid"
    )
    assert (with_emp["agency_unit"] == with_emp["employer_unit"]).all()
    without = enr.filter(pl.col("eid").is_null())
    assert (without["agency_unit"] == without["county_code"]).all()
    # 市本级 manages a large share of the employees, as in the plan (26 of 90.8 万 in pension)
    staff = with_emp.filter(
        (pl.col("scheme") == "employee_pension") & (pl.col("status") == "active")
    )
    share = staff.filter(pl.col("agency_unit") == "city_level").height / staff.height
    assert 0.15 < share < 0.45, share
    assert staff.filter(pl.col("agency_unit") == "devzone").height > 0


def test_extracts_carry_the_agency_the_profile_resolves(city: Path) -> None:
    """Every agency cell of every extract that has the column resolves, through the region
    profile, to the truth's unit: the employer's agency, else the row's county."""
    p = load_profile()
    emp = pl.read_parquet(city / "truth" / "employers.parquet").select("eid", "agency_unit")
    elinks = pl.read_csv(city / "truth" / "employer_links.csv")
    columns = {s: dict(e.columns) for s, e in specs(2017).items()}
    files = {f["source"]: f for f in manifest(city)["files"]}
    seen = set()
    for source, style in AGENCY_STYLE.items():
        header, county_header = columns[source]["agency_code"], columns[source]["county_code"]
        df = read_extract(city, files[source]).with_row_index("row", offset=1)
        values = df.select(pl.col(header).unique()).to_series().to_list()
        units = {v: p.resolve_agency(v) for v in values}
        assert all(m is not None for m in units.values()), source
        if style == "code":  # codes: the counties' own codes and 市本级's (the zone has none)
            assert "360424" in values and ("360400" in values) == (source != "si_resident_medical")
        got = df.select(
            "row",
            pl.col(county_header).alias("county"),
            pl.col(header)
            .replace_strict({v: m.unit for v, m in units.items() if m}, return_dtype=pl.Utf8)
            .alias("unit"),
        ).with_columns(pl.col("row").cast(pl.Int64))
        links = elinks.filter(pl.col("source") == source).join(emp, on="eid")
        got = got.join(links.select("row", "agency_unit"), on="row", how="left")
        want = pl.coalesce("agency_unit", "county")
        assert got.filter(pl.col("unit") != want).height == 0, source
        seen |= set(got["unit"])
    assert set(SPECIAL) <= seen
