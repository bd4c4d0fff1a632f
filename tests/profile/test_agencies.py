"""Managing agencies (参保经办机构) in the region profile: what an extract's agency value
resolves to, and the unit a record counts for (issue 16 item 3; docs/profile.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from canbao.errors import DataError
from canbao.profile import load_profile, parse, record_unit
from tests.profile.test_profile import _raw

GANZHOU = Path(__file__).parent / "data" / "ganzhou.toml"


def _resolved(profile_spec: str, text: str) -> tuple[str, str | None] | None:
    match = load_profile(profile_spec).resolve_agency(text)
    return None if match is None else (match.key, match.unit)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("360400", ("360400", "city_level")),  # the city-level agency's code (and pooling area)
        ("九江市本级社会保险经办机构", ("360400", "city_level")),
        (" 九江市本级 ", ("360400", "city_level")),  # an alias, spaces ignored
        ("九江经开区", ("九江经济技术开发区社会保险经办机构", "devzone")),  # no code: its name
        ("经济技术开发区", ("九江经济技术开发区社会保险经办机构", "devzone")),  # the unit's alias
        ("九江经济技术开发区社保分局", ("九江经济技术开发区社会保险经办机构", "devzone")),
        ("360424", ("360424", "360424")),  # a county's agency by the county's code
        ("362624", ("360424", "360424")),  # … or a retired code of it
        ("360424000000", ("360424", "360424")),  # a 12-digit statistical code
        ("修水县社会保险事业管理局", ("360424", "360424")),  # … or a name starting with it
        ("九江县社保局", ("360404", "360404")),  # a county's former name
        ("庐山区医保局", ("360402", "360402")),  # 庐山区 is 濂溪区's former name
        ("庐山市社保局", ("360483", "360483")),
        ("火星社会保险局", None),
        ("110105", None),  # another prefecture's county
        ("", None),
    ],
)
def test_jiujiang_agencies(text: str, expected: tuple[str, str | None] | None) -> None:
    assert _resolved("jiujiang", text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("360700", ("360700", "city_level")),
        ("赣州市本级社会保险经办机构", ("360700", "city_level")),
        ("赣州经开区", ("赣州经济技术开发区社会保险经办机构", "devzone")),
        ("赣州经济技术开发区", ("赣州经济技术开发区社会保险经办机构", "devzone")),
        ("蓉江新区社保局", ("赣州蓉江新区社会保险经办机构", "rongjiang")),
        ("362101", ("360702", "360702")),  # the county-level 赣州市 until 1998: 章贡区
        ("南康市社会保险事业管理局", ("360703", "360703")),
        ("九江市本级社会保险经办机构", None),  # another city's agency
        ("360400", None),
    ],
)
def test_ganzhou_maps_its_own_agencies(text: str, expected: tuple[str, str] | None) -> None:
    assert _resolved(str(GANZHOU), text) == expected


def test_non_county_agency_table() -> None:
    p = load_profile()
    table = p.agency_units(counties=False)
    assert set(table.values()) == {"city_level", "devzone"}
    assert table["360400"] == "city_level"
    assert table["九江经济技术开发区社会保险经办机构"] == "devzone"
    assert "360424" not in table and "360424" in p.agency_units()
    gz = load_profile(str(GANZHOU)).agency_units(counties=False)
    assert set(gz.values()) == {"city_level", "devzone", "rongjiang"}


def test_the_unit_a_record_counts_for() -> None:
    """A non-county agency takes the record from its county; else the county (or pooling
    area); else a county's agency; else the whole city only (None)."""
    p = load_profile()
    units, agencies = p.area_units(), p.agency_units(counties=False)

    def unit(county: str | None, agency: str | None) -> str | None:
        return record_unit(county, agency, units, agencies)

    assert unit("360403", "360400") == "city_level"
    assert unit("360402", "九江经济技术开发区社会保险经办机构") == "devzone"
    assert unit("360403", None) == "360403"
    assert unit("360421", None) == "360404"  # a retired code counts for its successor
    assert unit("360403", "360424") == "360403"  # a county's agency: the record's county
    assert unit("360403", "火星社会保险局") == "360403"  # an unknown agency: the county
    assert unit(None, "360424") == "360424"  # only the agency: a county's
    assert unit("360400", None) == "city_level"  # a pooling area in county_code
    assert unit(None, "火星社会保险局") is None
    assert unit("110105", None) is None


def test_an_agency_may_not_take_a_county_name() -> None:
    raw = _raw()
    agencies = raw["agencies"]
    assert isinstance(agencies, list)
    agencies[1] = {**agencies[1], "aliases": ["修水县"]}
    with pytest.raises(DataError) as e:
        parse(raw, "bad.json")
    assert "“修水县”是区县 360424 的名称" in e.value.message_zh
