"""Region profiles: the shipped Jiujiang profile, a second city (Ganzhou, TOML), validation,
and how a data directory remembers its profile."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from canbao.errors import DataError, InputFileError, NotFoundError, StateError
from canbao.profile import (
    CITY,
    DEFAULT_PROFILE,
    load_profile,
    parse,
    profile_for,
    read_record,
    remember,
    shipped_names,
    use_profile,
)
from canbao.standards import divisions

GANZHOU = Path(__file__).parent / "data" / "ganzhou.toml"
JIUJIANG_COUNTIES = [
    "360402", "360403", "360404", "360423", "360424", "360425", "360426",
    "360428", "360429", "360430", "360481", "360482", "360483",
]  # fmt: skip


def _raw(name: str = "jiujiang") -> dict[str, object]:
    from importlib import resources

    text = resources.files("canbao.profile").joinpath(f"data/{name}.json").read_text("utf-8")
    return json.loads(text)  # type: ignore[no-any-return]


def test_shipped_jiujiang() -> None:
    assert DEFAULT_PROFILE in shipped_names()
    p = load_profile("jiujiang")
    assert p == load_profile() and p.source == "shipped"
    assert p.city.code == "360400" and p.city.name == "九江市" and p.year == 2017
    assert [c.code for c in p.counties] == JIUJIANG_COUNTIES
    assert p.county("360421").code == "360404"  # type: ignore[union-attr]  # 九江县 → 柴桑区
    assert p.county("360427").code == "360483"  # type: ignore[union-attr]  # 星子县 → 庐山市
    assert p.county("110105") is None
    assert p.resolve_county("九江县").code == "360404"  # type: ignore[union-attr]
    assert p.resolve_county(" 修水 ").code == "360424"  # type: ignore[union-attr]
    assert [u.code for u in p.units] == [CITY, "city_level", "devzone"]
    assert p.letterhead.issuer == "九江市人力资源和社会保障局"
    assert p.letterhead.document_no(2017, 85) == "九人社字〔2017〕85号"
    assert p.default_plan == "jiujiang-2017" and p.policy_region == "360400"
    area = p.area_units()
    assert area["360421"] == "360404" and area["362627"] == "360483" and "110105" not in area
    assert p.agency_units()["九江经开区"] == "devzone"
    for c in p.counties:  # every name is the division table's
        d = divisions.lookup(c.code)
        assert d is not None and c.name in {n.name for n in d.names}
        assert all(divisions.existed(x) for x in c.predecessors)


def test_shipped_policy_table_is_for_the_profiles_policy_region() -> None:
    from importlib import resources

    text = resources.files("canbao.coverage").joinpath("data/policy.json").read_text("utf-8")
    assert json.loads(text)["region"] == load_profile().policy_region


def test_second_city_from_toml() -> None:
    p = load_profile(str(GANZHOU))
    assert p.name == "ganzhou" and p.city.name == "赣州市" and p.source == str(GANZHOU.resolve())
    assert len(p.counties) == 18 and all(c.code.startswith("3607") for c in p.counties)
    assert not {c.code for c in p.counties} & set(JIUJIANG_COUNTIES)
    assert p.county("360721").code == "360704"  # type: ignore[union-attr]  # 赣县 → 赣县区
    assert p.county("360782").code == "360703"  # type: ignore[union-attr]  # 南康市 → 南康区
    assert p.county("360727").code == "360783"  # type: ignore[union-attr]  # 龙南县 → 龙南市
    assert p.resolve_county("龙南县").code == "360783"  # type: ignore[union-attr]
    assert [u.code for u in p.zones] == ["devzone", "rongjiang"]
    assert p.letterhead.document_prefix == "赣市人社字" and p.default_plan is None
    assert p != load_profile("jiujiang")


def test_same_content_same_digest_in_either_format(tmp_path: Path) -> None:
    data = tomllib.loads(GANZHOU.read_text("utf-8"))
    as_json = tmp_path / "gz.json"
    as_json.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    a, b = load_profile(str(GANZHOU)), load_profile(str(as_json))
    assert a.digest == b.digest and a == b
    data["letterhead"]["document_prefix"] = "赣人社字"  # type: ignore[index]
    as_json.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    assert load_profile(str(as_json)).digest != a.digest


def test_every_problem_is_reported_at_once() -> None:
    raw = _raw()
    raw["colour"] = "red"
    counties = raw["counties"]
    assert isinstance(counties, list)
    counties[0] = {**counties[0], "code": "110105"}  # another prefecture's county
    counties[1] = {**counties[1], "name": "浔阳县"}  # not the table's name
    counties[2] = {**counties[2], "aliases": ["修水"]}  # another county's short name
    counties.append({"code": "36O402", "name": "x", "short": "x"})
    with pytest.raises(DataError) as e:
        parse(raw, "bad.json")
    msg = e.value.message_zh
    assert "colour 不是地区配置的字段" in msg
    assert "counties 第 14 项 code 应为 6 位行政区划代码" in msg
    raw.pop("colour")
    counties.pop()
    with pytest.raises(DataError) as e:
        parse(raw, "bad.json")
    msg = e.value.message_zh
    assert "110105）不属于 360400 九江市" in msg
    assert "名称“浔阳县”与区划表不符" in msg
    assert "“修水”同时指向" in msg


def test_structure_rules() -> None:
    raw = _raw()
    units = raw["units"]
    assert isinstance(units, list)
    raw["units"] = [u for u in units if u["kind"] != "city"]
    raw["agencies"] = [{"name": "某机构", "unit": "nowhere"}]
    with pytest.raises(DataError) as e:
        parse(raw, "bad.json")
    assert "kind 为 city 的单位" in e.value.message_zh
    assert "unit“nowhere”不是本配置的单位" in e.value.message_zh
    with pytest.raises(DataError, match="format 应为 canbao-profile/1"):
        parse({"name": "x"}, "x.json")


def test_unknown_names_and_bad_files(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="没有名为“nowhere”的地区配置"):
        load_profile("nowhere")
    with pytest.raises(InputFileError, match="不存在"):
        load_profile(str(tmp_path / "missing.toml"))
    bad = tmp_path / "bad.json"
    bad.write_text("{", encoding="utf-8")
    with pytest.raises(InputFileError, match="不是有效的 JSON"):
        load_profile(str(bad))
    with pytest.raises(InputFileError, match=r"\.json 或 \.toml"):
        load_profile(tmp_path / "p.yaml")


# --- the data directory remembers its profile ----------------------------------------------------


def test_first_use_is_recorded_only_where_there_is_data(tmp_path: Path) -> None:
    dd = tmp_path / "data"
    assert profile_for(dd).profile.name == DEFAULT_PROFILE
    assert not dd.exists()  # nothing to remember for: nothing written
    dd.mkdir()
    profile_for(dd, str(GANZHOU))
    assert read_record(dd) is None  # an empty directory holds no data yet
    (dd / "batches").mkdir()
    assert profile_for(dd, str(GANZHOU)).profile.name == "ganzhou"
    record = read_record(dd)
    assert record is not None and record.name == "ganzhou" and record.source.endswith(".toml")
    assert record.digest == load_profile(str(GANZHOU)).digest
    # later commands without --profile get the remembered one
    assert profile_for(dd).profile.city.name == "赣州市"


def test_a_different_profile_is_an_error_unless_changed_explicitly(tmp_path: Path) -> None:
    dd = tmp_path / "data"
    remember(dd, load_profile("jiujiang"))
    with pytest.raises(StateError) as e:
        profile_for(dd, str(GANZHOU))
    msg = e.value.message_zh
    assert "使用的是地区配置“jiujiang”" in msg and "“ganzhou”（赣州市）不一致" in msg
    assert "canbao profile use" in msg
    with pytest.raises(StateError):
        remember(dd, load_profile(str(GANZHOU)))
    profile, previous = use_profile(dd, str(GANZHOU))
    assert previous is not None and previous.name == "jiujiang" and profile.name == "ganzhou"
    assert profile_for(dd).profile.name == "ganzhou"


def test_a_changed_profile_is_noted_and_recorded(tmp_path: Path) -> None:
    dd = tmp_path / "data"
    own = tmp_path / "gz.toml"
    own.write_text(GANZHOU.read_text("utf-8"), encoding="utf-8")
    remember(dd, load_profile(str(own)))
    own.write_text(GANZHOU.read_text("utf-8").replace("赣市人社字", "赣人社字"), encoding="utf-8")
    binding = profile_for(dd)
    assert binding.note is not None and "已变更" in binding.note
    assert binding.profile.letterhead.document_prefix == "赣人社字"
    assert profile_for(dd).note is None  # recorded: said once
    own.unlink()
    with pytest.raises(StateError, match="已不存在"):
        profile_for(dd)
    with pytest.raises(DataError, match="已损坏"):
        (dd / "region-profile.json").write_text("{", encoding="utf-8")
        profile_for(dd)
