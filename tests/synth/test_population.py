"""The residents: distributions, households, names and valid IDs carrying the right region codes."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from canbao.standards import citizen_id, divisions
from canbao.synth.config import CENSUS_2020, CENSUS_TOTAL, SynthConfig
from canbao.synth.population import build_population, region_for

N = 40_000


@pytest.fixture(scope="module")
def people() -> pl.DataFrame:
    return build_population(SynthConfig(persons=N, seed=5))


def test_size_and_unique_pids(people: pl.DataFrame) -> None:
    assert people.height == N
    assert people["pid"].n_unique() == N
    assert people["id18"].n_unique() == N


def test_county_shares_follow_the_census(people: pl.DataFrame) -> None:
    shares = people["county_code"].value_counts(normalize=True)
    got = dict(zip(shares["county_code"], shares["proportion"], strict=True))
    assert set(got) == set(CENSUS_2020)
    for code, pop in CENSUS_2020.items():
        expected = pop / CENSUS_TOTAL
        sigma = (expected * (1 - expected) / N) ** 0.5
        assert abs(got[code] - expected) < 5 * sigma, code


def test_age_and_sex_structure(people: pl.DataFrame) -> None:
    age = people["age"]
    assert 0.14 <= float((age < 15).mean()) <= 0.22
    assert 0.15 <= float((age >= 60).mean()) <= 0.25
    assert 0.55 <= float(((age >= 15) & (age < 60)).mean()) <= 0.70
    men = float((people["sex"] == "M").mean())
    assert 0.49 <= men <= 0.53
    old = people.filter(pl.col("age") >= 80)
    assert float((old["sex"] == "M").mean()) < 0.47  # women live longer


def test_check_characters_valid_before_damage(people: pl.DataFrame) -> None:
    checked = citizen_id.check_frame(
        people["id18"], today=__import__("datetime").date(2017, 12, 31)
    )
    assert checked["id_valid"].all()
    assert (checked["id_birth"] == people["birth_date"]).all()
    assert (checked["id_sex"] == people["sex"]).all()


def test_region_codes_existed_in_the_birth_year(people: pl.DataFrame) -> None:
    pairs = people.select("id_region", year=pl.col("birth_date").dt.year()).unique()
    for code, year in pairs.iter_rows():
        d = divisions.lookup(code)
        assert d is not None, code
        assert any(n.covers(year) for n in d.names), (code, year)


def test_retired_codes_are_kept_by_older_residents(people: pl.DataFrame) -> None:
    regions = set(people["id_region"].unique().to_list())
    assert {"360421", "360427", "362621", "362627", "360400"} <= regions
    local = people.filter(~pl.col("migrant"))
    assert (
        local.filter(pl.col("id_region").str.starts_with("3626"))["birth_date"].dt.year().max()
        < 1983
    )
    # migrants carry codes of other provinces
    mig = people.filter("migrant")
    assert mig.height > 0.03 * N
    assert (
        ~mig["id_region"].str.starts_with("3604") & ~mig["id_region"].str.starts_with("3626")
    ).all()


def test_region_for_known_answers() -> None:
    county = np.array([360404, 360404, 360404, 360483, 360483, 360481, 360403, 360424])
    birth = np.array(
        [
            "1970-05-01",
            "1990-05-01",
            "2017-10-01",
            "2000-01-01",
            "2016-03-01",
            "1985-01-01",
            "1975-01-01",
            "1983-01-01",
        ],
        dtype="datetime64[D]",
    )
    assert region_for(county, birth).tolist() == [
        362621, 360421, 360404, 360427, 360483, 360422, 360400, 360424,
    ]  # fmt: skip


def test_households_names_namesakes_and_twins(people: pl.DataFrame) -> None:
    heads = people.group_by("household_id").agg((pl.col("relation") == "户主").sum().alias("h"))
    assert (heads["h"] == 1).all()
    sizes = people.group_by("household_id").len()["len"]
    assert 2.0 <= float(sizes.mean()) <= 3.5
    kids = people.filter(pl.col("mother_pid").is_not_null())
    moms = people.select(
        pl.col("pid").alias("mother_pid"), mage=pl.col("age"), mhh=pl.col("household_id")
    )
    k = kids.join(moms, on="mother_pid")
    assert ((k["mage"] - k["age"]) >= 18).all()
    assert (k["household_id"] == k["mhh"]).all()
    # surname concentration: the top 10 surnames cover roughly 40-55% of people
    top10 = people["surname"].value_counts(sort=True).head(10)["count"].sum() / N
    assert 0.38 <= top10 <= 0.60
    assert people["name"].is_duplicated().sum() > 0.05 * N  # common names repeat
    twins = people.filter(pl.col("twin_of").is_not_null())
    assert twins.height > 0
    pair = twins.join(people, left_on="twin_of", right_on="pid", suffix="_t")
    assert (pair["birth_date"] == pair["birth_date_t"]).all()
    assert (pair["mother_pid"] == pair["mother_pid_t"]).all()
    assert (pair["name"] != pair["name_t"]).all()


def test_year_events(people: pl.DataFrame) -> None:
    deaths = people["death_date"].is_not_null().mean()
    assert 0.004 <= float(deaths) <= 0.010
    ev = people["event"].value_counts()
    assert set(ev["event"].drop_nulls()) == {"出生", "迁入", "迁出", "死亡"}
    dead = people.filter(pl.col("event") == "死亡")
    assert (dead["event_date"] >= dead["death_date"]).all()
