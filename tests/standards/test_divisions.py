from __future__ import annotations

from canbao.standards import divisions


def test_current_and_retired_codes() -> None:
    d = divisions.lookup("360421")
    assert d is not None and d.name == "九江县" and not d.current
    assert d.valid_to == 2017 and d.level == "county" and d.parent == "360400"
    x = divisions.lookup("360427")
    assert x is not None and x.name == "星子县" and x.valid_to == 2016
    new = divisions.lookup("360404")
    assert new is not None and new.name == "柴桑区" and new.current and new.valid_from == 2017


def test_renamed_code_keeps_history() -> None:
    d = divisions.lookup("360402")
    assert d is not None
    assert d.name_in(2010) == "庐山区" and d.name_in(2017) == "濂溪区"
    assert d.full_name() == "江西省九江市濂溪区"


def test_levels_and_parents() -> None:
    prov = divisions.lookup("360000")
    city = divisions.lookup("360400")
    assert prov is not None and prov.level == "province" and prov.parent is None
    assert city is not None and city.level == "prefecture" and city.parent == "360000"


def test_unknown_code() -> None:
    assert divisions.lookup("999999") is None
    assert not divisions.existed("999999")
    assert divisions.existed("362621")  # 九江地区九江县, before 1983


def test_no_city_is_wired_into_the_division_table() -> None:
    """The county units of a city and their predecessors are the region profile's
    (tests/profile/test_profile.py), not helpers of this module."""
    assert not any(n.startswith("jiujiang_") for n in dir(divisions))
    assert not hasattr(divisions, "CountyUnit")
