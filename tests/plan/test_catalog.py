"""Every number, unit, group, member and phase of the seed plan text is in jiujiang-2017.

The expected values below were written by hand from
shared/seed/000_010f1094ead43160.txt (九人社字〔2017〕85号), converted to base measures.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from canbao.plan import catalog
from canbao.plan.indicators import indicator
from canbao.plan.model import Plan
from canbao.plan.units import plan_units, resolve_unit

D = Decimal

# (unit, indicator, value in base measure) — 一、工作目标 (一)…(四)
SEED_TARGETS = [
    # (一) 扩覆目标：全市 … 截至2017年底
    ("city", "enrolled.employee_pension", D(908_000)),  # 90.8万人
    ("city", "enrolled.medical", D(4_367_000)),  # 436.7万人
    ("city", "enrolled.work_injury", D(574_000)),  # 57.4万人
    ("city", "enrolled.maternity", D(247_000)),  # 24.7万人
    ("city", "enrolled.unemployment", D(340_000)),  # 34万人
    ("city", "enrolled.resident_pension", D(1_840_000)),  # 184万人
    # 其中市本级
    ("city_level", "enrolled.employee_pension", D(260_000)),  # 26万人
    ("city_level", "enrolled.medical", D(200_000)),  # 20万人
    ("city_level", "enrolled.work_injury", D(169_000)),  # 16.9万人
    ("city_level", "enrolled.maternity", D(72_000)),  # 7.2万人
    ("city_level", "enrolled.unemployment", D(129_000)),  # 12.9万人
    # (二) 清欠目标
    ("city", "clearance_rate.private", D("0.90")),  # 民营私营企业清欠率要超90%
    ("city", "new_arrears_ratio.private", D("0.10")),  # 新欠不超过当年应缴额10%
    ("city", "clearance_rate.public", D("0.80")),  # 国有集体企业和事业单位清欠率要超80%
    ("city", "new_arrears_ratio.public", D("0.15")),  # 新欠不超过15%
    ("city_level", "clearance_rate.private", D("0.92")),
    ("city_level", "new_arrears_ratio.private", D("0.08")),
    ("city_level", "clearance_rate.public", D("0.85")),
    ("city_level", "new_arrears_ratio.public", D("0.12")),
    # (三) 稽核目标：基金征缴
    ("city", "collected.employee_pension", D(3_096_000_000)),  # 30.96亿元
    ("city", "collected.medical", D(1_327_000_000)),  # 13.27亿元
    ("city", "collected.work_injury", D(79_000_000)),  # 7900万元
    ("city", "collected.maternity", D(54_000_000)),  # 5400万元
    ("city", "collected.unemployment", D(57_000_000)),  # 5700万元
    ("city", "collected.resident_pension", D(148_000_000)),  # 1.48亿元
    ("city_level", "collected.employee_pension", D(971_000_000)),  # 9.71亿元
    ("city_level", "collected.medical", D(500_000_000)),  # 5亿元
    ("city_level", "collected.work_injury", D(28_250_000)),  # 2825万元
    ("city_level", "collected.maternity", D(19_400_000)),  # 1940万元
    ("city_level", "collected.unemployment", D(22_550_000)),  # 2255万元
    # (四) 争资目标
    ("city", "subsidy_growth", D("0.055")),  # 比上年增长5.5%以上
    ("city_level", "subsidy_growth", D("0.06")),  # 市本级6%以上
]


@pytest.fixture(scope="module")
def plan() -> Plan:
    return catalog.shipped("jiujiang-2017")


def test_every_seed_target_present_with_exact_value(plan: Plan) -> None:
    got = {(t.unit, t.indicator): t.value for t in plan.targets}
    for unit, ind, value in SEED_TARGETS:
        assert got.get((unit, ind)) == value, (unit, ind)
        t = plan.target(unit, ind)
        assert t is not None and t.period == "2017"
    # nothing invented: exactly the seed's targets (per-county numbers come from 附件1)
    assert set(got) == {(u, i) for u, i, _ in SEED_TARGETS}
    assert all(isinstance(v, Decimal) for v in got.values())


def test_directions(plan: Plan) -> None:
    assert indicator("clearance_rate.private").direction == "minimum"
    assert indicator("clearance_rate.public").direction == "minimum"
    assert indicator("new_arrears_ratio.private").direction == "maximum"
    assert indicator("new_arrears_ratio.public").direction == "maximum"
    assert indicator("enrolled.medical").direction == "minimum"
    assert indicator("collected.unemployment").direction == "minimum"
    assert indicator("subsidy_growth").direction == "minimum"


def test_units(plan: Plan) -> None:
    codes = [u.code for u in plan.units]
    assert codes[:2] == ["city", "city_level"] and codes[-1] == "devzone"
    assert sorted(codes[2:-1]) == sorted(
        ["360402", "360403", "360404", "360423", "360424", "360425", "360426",
         "360428", "360429", "360430", "360481", "360482", "360483"]
    )  # fmt: skip
    assert len(plan.ranked_units()) == 14
    assert resolve_unit("九江县").code == "360404"  # type: ignore[union-attr]
    assert resolve_unit("庐山市(含庐山局)").code == "360483"  # type: ignore[union-attr]
    assert resolve_unit("庐山市（含庐山局）").code == "360483"  # type: ignore[union-attr]
    assert resolve_unit("开发区").code == "devzone"  # type: ignore[union-attr]
    assert resolve_unit("星子县").code == "360483"  # type: ignore[union-attr]
    assert resolve_unit("不存在县") is None
    assert len(plan_units()) == 16


def test_leadership(plan: Plan) -> None:
    ld = plan.leadership
    assert ld is not None
    assert ld.head == "占俊学" and ld.executive_deputy == "龚敏"
    assert ld.deputies == ("黄雄", "宋云")
    assert ld.members == ("张广军", "王海健", "黄虹", "曹文新", "淦进", "王文博", "齐飞", "刘涛")


def test_work_groups(plan: Plan) -> None:
    got = [(g.name, g.leader, g.members, g.contact) for g in plan.work_groups]
    assert got == [
        ("综合协调组", "占俊学", ("张广军", "王海健", "黄虹", "曹文新"), "张广军"),
        ("扩面征缴组", "宋云", ("淦进", "蔡方祎", "黄媛", "孟峰", "熊小丽"), "淦进"),
        ("缴费稽核组", "宋云", ("刘涛", "杨昊隽", "赵亮", "林青青", "詹赛凤"), "刘涛"),
        ("跑项争资组", "龚敏", ("刘涛", "徐美华", "周敏"), "刘涛"),
    ]
    assert all(g.duty for g in plan.work_groups)


def test_supervision_groups_own_units(plan: Plan) -> None:
    got = [(g.name, g.leader, g.members, g.contact, g.units) for g in plan.supervision_groups]
    assert got == [
        ("第一督导组", "占俊学", ("张广军", "王海健", "黄虹"), "张广军",
         ("city_level", "360403", "360402", "devzone")),
        ("第二督导组", "黄雄", ("涂薇", "赵亮", "何艳"), "涂薇",
         ("360428", "360429", "360430", "360483")),
        ("第三督导组", "周继忠", ("李江平", "齐飞", "英君"), "李江平",
         ("360481", "360404", "360426", "360482")),
        ("第四督导组", "刘洪林", ("曹文新", "淦进", "叶小英"), "曹文新",
         ("360424", "360423", "360425")),
    ]  # fmt: skip
    assert plan.supervision_groups[1].units_as_written[-1] == "庐山市(含庐山局)"
    assert plan.supervision_groups[2].units_as_written[1] == "九江县"
    # every unit but 全市 is owned by exactly one group
    owned = [u for g in plan.supervision_groups for u in g.units]
    assert sorted(owned) == sorted(u.code for u in plan.units if u.code != "city")
    assert plan.supervision_group_of("360404").name == "第三督导组"  # type: ignore[union-attr]


def test_phases(plan: Plan) -> None:
    got = [(p.name, p.start, p.end) for p in plan.phases]
    assert got == [
        ("宣传发动阶段", date(2017, 6, 1), date(2017, 6, 30)),
        ("自查摸底阶段", date(2017, 7, 1), date(2017, 7, 20)),
        ("重点推进阶段", date(2017, 7, 21), date(2017, 11, 30)),
        ("督导验收阶段", date(2017, 12, 1), date(2017, 12, 31)),
    ]
    assert plan.phase_at(date(2017, 7, 20)).name == "自查摸底阶段"  # type: ignore[union-attr]
    assert plan.phase_at(date(2017, 5, 31)) is None


def test_document_numbers(plan: Plan) -> None:
    doc = plan.document
    assert doc["document_no"] == "九人社字〔2017〕85号"
    assert doc["issued_on"] == "2017-06-28"
    assert doc["issuer"] == "九江市人力资源和社会保障局"
    assert doc["bottom_n"] == 3
    refs = " ".join(doc["policy_references"])
    for no in (
        "赣人社发〔2016〕16号",
        "九劳社就〔2006〕21号",
        "九府厅发〔2014〕60号",
        "九府厅发〔2015〕13号",
    ):
        assert no in refs
    arts = " ".join(doc["enforcement_articles"])
    assert "第84条" in arts and "第86条" in arts
    assert [a["no"] for a in doc["attachments"]] == [1, 2, 3, 4]
    assert doc["attachments"][0]["title"] == "2017年度九江市社会保险扩面征缴任务分解表"
    assert len(doc["supervision_content"]) == 6
    assert "12333全国统一咨询日" in doc["publicity_events"]
    assert doc["data_sharing_departments"] == ["公安", "工商", "税务", "民政", "统计"]
    assert plan.period.start == date(2017, 1, 1) and plan.period.end == date(2017, 12, 31)


def test_json_round_trip(plan: Plan) -> None:
    again = Plan.from_dict(plan.to_dict())
    assert again == plan
