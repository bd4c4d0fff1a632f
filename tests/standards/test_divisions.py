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


def test_jiujiang_helper() -> None:
    units = divisions.jiujiang_counties()
    assert [u.code for u in units] == [
        "360402", "360403", "360404", "360423", "360424", "360425", "360426",
        "360428", "360429", "360430", "360481", "360482", "360483",
    ]  # fmt: skip
    by_code = {u.code: u for u in units}
    assert "360421" in by_code["360404"].predecessors
    assert "360427" in by_code["360483"].predecessors
    assert divisions.jiujiang_successor("360421") == "360404"
    assert divisions.jiujiang_successor("360427") == "360483"
    assert divisions.jiujiang_successor("110105") is None
