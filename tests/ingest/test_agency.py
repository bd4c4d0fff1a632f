"""The managing agency (参保经办机构 / 统筹区, field ``agency_code``) at ingest: resolved against
the data directory's region profile to its canonical value; an unknown value is kept with a
warning and a note, never a crash."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from canbao.ingest import api, headers
from canbao.ingest.batches import ingest_file
from canbao.profile import use_profile
from tests.ingest.helpers import ID_B, ID_C, write_csv

GANZHOU = Path(__file__).parents[1] / "profile" / "data" / "ganzhou.toml"

EMPLOYERS = [
    "单位名称,所属区县代码,参保经办机构",
    "九江甲机械有限公司,360403,九江市本级社会保险经办机构",  # the city-level agency by name
    "九江乙商贸有限公司,360424,修水县社会保险事业管理局",  # a county's agency by its name
    "九江丙电子有限公司,360402,经开区",  # the zone by an alias
    "九江丁化工有限公司,360402,火星社会保险局",  # nobody's: kept, warned
    "九江戊食品有限公司,360402, 火星社会保险局 ",  # the same value, spaces around
    "九江己建材有限公司,360425,",  # no agency
]


def _employers(data: Path) -> pl.DataFrame:
    return (
        api.current_records(data, "employer")
        .select("row", "county_code", "agency_code", "warnings")
        .collect()
        .sort("row")
    )


def test_agency_values_resolve_and_unknown_ones_are_kept(tmp_path: Path) -> None:
    data = tmp_path / "data"
    path = write_csv(tmp_path / "e.csv", EMPLOYERS)
    res = ingest_file(data, path, source="si_employer", kind="employer", as_of="2017-12-31")
    assert (res.batch.accepted, res.batch.quarantined) == (6, 0)
    recs = _employers(data)
    assert recs["agency_code"].to_list() == [
        "360400",  # 九江市本级社会保险经办机构 has code 360400 in the profile
        "360424",
        "九江经济技术开发区社会保险经办机构",  # the zone's agency has no code: its name
        "火星社会保险局",
        "火星社会保险局",
        None,
    ]
    assert recs["county_code"].to_list()[:3] == ["360403", "360424", "360402"]
    assert recs["warnings"].to_list() == [
        [],
        [],
        [],
        ["agency_code_unknown"],
        ["agency_code_unknown"],
        [],
    ]
    rep = json.loads(Path(res.report_paths[0]).read_text("utf-8"))
    codes = {w["code"]: w for w in rep["warnings"]}
    assert codes["agency_code_unknown"]["count"] == 2
    note = next(n for n in rep["notes"] if "agency_code_unknown" in n)
    assert "2 行" in note and "“火星社会保险局” 2 行" in note


def test_enrolment_pooling_area_header_is_the_agency(tmp_path: Path) -> None:
    """统筹区编码 is the agency's area (agency_code), not the division (county_code)."""
    m = headers.map_columns("enrollment", ["身份证号码", "参保地区划", "统筹区编码"])
    assert m.columns == {
        "身份证号码": "id",
        "参保地区划": "county_code",
        "统筹区编码": "agency_code",
    }
    data = tmp_path / "data"
    path = write_csv(
        tmp_path / "en.csv",
        [
            "身份证号码,姓名,参保地区划,统筹区编码",
            f"{ID_B},测试一,360403,360400",  # pooling area / agency code of 市本级
            f"{ID_C},测试二,360426,362626",  # a county's retired code: the county's agency
        ],
    )
    ingest_file(
        data, path, source="si_ep", kind="enrollment", scheme="employee_pension",
        as_of="2017-12-31",
    )  # fmt: skip
    recs = api.current_records(data, "enrollment").collect().sort("row")
    assert recs["agency_code"].to_list() == ["360400", "360426"]
    assert recs["county_code"].to_list() == ["360403", "360426"]
    assert not recs["warnings"].list.contains("agency_code_unknown").any()


def test_another_citys_profile_resolves_its_own_agencies(tmp_path: Path) -> None:
    """A data directory using the Ganzhou test profile: its agencies resolve, Jiujiang's do
    not (kept and warned)."""
    data = tmp_path / "data"
    data.mkdir()
    use_profile(data, str(GANZHOU))
    path = write_csv(
        tmp_path / "e.csv",
        [
            "单位名称,统筹区编码",
            "赣州甲有限公司,360700",  # 赣州市本级
            "赣州乙有限公司,蓉江新区",  # the second zone, by its alias
            "赣州丙有限公司,章贡区社会保险事业管理局",  # a county's agency
            "赣州丁有限公司,九江市本级社会保险经办机构",  # another city's agency
        ],
    )
    ingest_file(data, path, source="si_employer", kind="employer", as_of="2021-12-31")
    recs = _employers(data)
    assert recs["agency_code"].to_list() == [
        "360700",
        "赣州蓉江新区社会保险经办机构",
        "360702",
        "九江市本级社会保险经办机构",
    ]
    assert recs["warnings"].to_list() == [[], [], [], ["agency_code_unknown"]]


def test_an_unreadable_profile_does_not_stop_ingest(tmp_path: Path) -> None:
    """The agency is not worth failing an ingest for: values stay as delivered, with a note."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "region-profile.json").write_text("{not json", encoding="utf-8")
    path = write_csv(tmp_path / "e.csv", EMPLOYERS[:3])
    res = ingest_file(data, path, source="si_employer", kind="employer", as_of="2017-12-31")
    assert res.batch.accepted == 2
    assert _employers(data)["agency_code"].to_list() == [
        "九江市本级社会保险经办机构",
        "修水县社会保险事业管理局",
    ]
    assert any("无法读取地区配置" in n for n in res.report["notes"])
