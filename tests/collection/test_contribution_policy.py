"""Contribution policy: versions picked on a date, region fallback, strict file, rates sanity."""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from canbao.collection.policy import (
    FLAT_RATE_SCHEMES,
    ContributionPolicy,
    SchemeRate,
    average_wage_fen,
    fallback_chain,
    load_policies,
    policy_for,
)
from canbao.errors import DataError, InputFileError, NotFoundError, UsageError
from canbao.ingest.kinds import EMPLOYER_SCHEMES
from canbao.profile import load_profile

SHIPPED = Path(__file__).parents[2] / "src/canbao/collection/data/contribution_policy.json"


def _shipped() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(SHIPPED.read_text("utf-8"))
    return doc


def _version(valid_from: str, unemployment_employer: int) -> dict[str, Any]:
    v = copy.deepcopy(_shipped()["regions"][0]["versions"][0])
    v["valid_from"] = valid_from
    v["rates_bp"]["unemployment"]["employer"] = unemployment_employer
    return v


def _write(tmp_path: Path, doc: dict[str, Any]) -> Path:
    f = tmp_path / "policy.json"
    f.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return f


def test_fallback_chain() -> None:
    assert fallback_chain("360402") == ("360402", "360400", "360000", "000000")
    assert fallback_chain("360400") == ("360400", "360000", "000000")
    assert fallback_chain("360000") == ("360000", "000000")
    assert fallback_chain("000000") == ("000000",)
    with pytest.raises(UsageError):
        fallback_chain("3604")


def test_shipped_file_for_the_profile_region() -> None:
    region = load_profile("jiujiang").policy_region
    # no city entry: the province's versions apply; 2017 is the version from 2017-01-01
    p = policy_for(region, dt.date(2017, 6, 30))
    assert (p.region, p.valid_from, p.example) == ("360000", dt.date(2017, 1, 1), True)
    assert p.source  # says where the values come from, for the bureau to check
    assert (p.rate("unemployment").employer_bp, p.rate("unemployment").employee_bp) == (50, 50)
    assert p.rate("employee_pension").total_bp == 1900 + 800
    # the day before, the 2016 version (unemployment 1.5%: 1% + 0.5%)
    before = policy_for(region, dt.date(2016, 12, 31))
    assert before.valid_from == dt.date(2016, 5, 1)
    assert before.rate("unemployment").total_bp == 150
    with pytest.raises(NotFoundError, match="没有适用"):
        policy_for(region, dt.date(2016, 4, 30))
    # rules shipped as the defaults
    assert p.due_date_rule == "end_of_next_month"
    assert (p.late_fee.rate_per_10000_per_day, p.late_fee.day_rule) == (5, "after_due")
    assert p.late_fee.apply_credits_to_oldest is False
    assert (p.base_floor_bp, p.base_ceiling_bp) == (6000, 30000)
    assert (p.flexible_rate_bp, p.flexible_personal_account_bp) == (2000, 800)


def test_version_picked_on_a_date_and_fallback(tmp_path: Path) -> None:
    doc = _shipped()
    doc["regions"] = [
        {"region": "000000", "versions": [_version("2015-01-01", 11)]},
        {"region": "360000", "versions": [_version("2018-01-01", 33), _version("2017-01-01", 22)]},
        {"region": "360400", "versions": [_version("2018-07-01", 44)]},
    ]
    f = _write(tmp_path, doc)

    def employer(region: str, day: dt.date) -> int:
        return policy_for(region, day, f).rate("unemployment").employer_bp

    assert employer("360402", dt.date(2016, 12, 31)) == 11  # only the national default
    assert employer("360402", dt.date(2017, 1, 1)) == 22  # the province from its first day
    assert employer("360402", dt.date(2018, 6, 30)) == 33  # versions out of order in the file
    assert employer("360402", dt.date(2018, 7, 1)) == 44  # the city from its first day
    assert employer("360400", dt.date(2019, 1, 1)) == 44
    assert employer("110101", dt.date(2019, 1, 1)) == 11  # another province: national
    assert policy_for("360402", dt.date(2018, 7, 1), f).region == "360400"
    assert len(load_policies(f)) == 4


def test_rates_sum_sanity_in_the_shipped_file() -> None:
    for p in load_policies():
        assert set(p.rates) == set(FLAT_RATE_SCHEMES)
        assert set(FLAT_RATE_SCHEMES) | {"work_injury"} == set(EMPLOYER_SCHEMES)
        for scheme in FLAT_RATE_SCHEMES:
            r = p.rate(scheme)
            assert 0 <= r.employee_bp <= r.employer_bp  # the employer pays at least as much
        # the five schemes at work-injury class 1, base level: employer about 25–35%, employee
        # about 10–11% (pension 8, medical 2, unemployment ≤0.5)
        employer = sum(p.rate(s, 1).employer_bp for s in EMPLOYER_SCHEMES)
        employee = sum(p.rate(s, 1).employee_bp for s in EMPLOYER_SCHEMES)
        assert 2500 <= employer <= 3500, (p.region, p.valid_from, employer)
        assert 1000 <= employee <= 1100, (p.region, p.valid_from, employee)
        assert p.flexible_personal_account_bp < p.flexible_rate_bp
        # 人社部发〔2015〕71号: base rates 0.2 … 1.9%
        assert [c.rate_bp for c in p.work_injury] == [20, 40, 70, 90, 110, 130, 160, 190]


def test_work_injury_classes_and_levels() -> None:
    p = policy_for("360400", dt.date(2017, 6, 30))
    assert p.rate("work_injury", 1).employer_bp == 20  # 0.2%
    assert p.rate("work_injury", 1, 120).employer_bp == 24  # 20 × 120% = 24 bp
    assert p.rate("work_injury", 1, 150).employer_bp == 30
    assert p.rate("work_injury", 3, 50).employer_bp == 35  # 70 × 50%
    assert p.rate("work_injury", 8, 150).employer_bp == 285  # 190 × 150%
    assert p.rate("work_injury", 5, 80) == SchemeRate(88, 0)  # 110 × 80%; employers only
    with pytest.raises(UsageError, match="浮动档次"):
        p.rate("work_injury", 1, 50)  # class 1 cannot float down
    with pytest.raises(UsageError, match="行业风险类别"):
        p.rate("work_injury")
    with pytest.raises(UsageError, match="行业风险类别"):
        p.rate("work_injury", 9)
    with pytest.raises(UsageError, match="未知险种"):
        p.rate("resident_pension")


def test_base_bounds_from_the_coverage_average_wage() -> None:
    day = dt.date(2017, 6, 30)
    p = policy_for("360400", day)
    wage = average_wage_fen(day)
    assert wage == 460000  # the coverage policy's (assumed) 2016 figure, 4,600.00 yuan a month
    assert p.base_bounds_fen(wage) == (276000, 1380000)  # 60% and 300%
    assert p.base_bounds_fen(333333) == (200000, 999999)  # 199,999.8 → 200,000 half-up


def _buckets(p: ContributionPolicy, days: int) -> list[str]:
    return [b.label for b in p.ageing if b.holds(days)]


def test_ageing_buckets_known() -> None:
    p = policy_for("360400", dt.date(2017, 6, 30))
    assert p.bucket(0) is None and p.bucket(-3) is None  # not past due
    labels = [b.label for b in p.ageing]
    assert [p.bucket(d).label for d in (1, 90, 91, 180, 181, 365, 366, 5000)] == [  # type: ignore[union-attr]
        labels[0], labels[0], labels[1], labels[1], labels[2], labels[2], labels[3], labels[3],
    ]  # fmt: skip


@given(st.integers(1, 100_000))
def test_every_day_past_due_is_in_exactly_one_bucket(days: int) -> None:
    p = policy_for("360400", dt.date(2017, 6, 30))
    assert len(_buckets(p, days)) == 1


Mutation = Callable[[dict[str, Any]], None]


def _v(doc: dict[str, Any]) -> dict[str, Any]:
    v: dict[str, Any] = doc["regions"][0]["versions"][0]
    return v


MALFORMED: dict[str, tuple[Mutation, str]] = {
    "missing field": (lambda d: _v(d).pop("late_fee"), "缺少字段 late_fee"),
    "unknown field": (lambda d: _v(d).update(rates={}), "未知字段 rates"),
    "unknown scheme": (lambda d: _v(d)["rates_bp"].pop("maternity"), "缺少字段 maternity"),
    "rate above 100%": (
        lambda d: _v(d)["rates_bp"]["employee_pension"].update(employer=10001),
        "应为整数",
    ),
    "rates sum above 100%": (
        lambda d: _v(d)["rates_bp"]["employee_pension"].update(employer=9500),
        "之和超过100%",
    ),
    "negative rate": (
        lambda d: _v(d)["rates_bp"]["maternity"].update(employee=-1),
        "maternity.employee",
    ),
    "rate as text": (lambda d: _v(d)["rates_bp"]["maternity"].update(employer="50"), "应为整数"),
    "seven classes": (lambda d: _v(d)["work_injury"]["classes"].pop(), "8个行业风险类别"),
    "level not whole bp": (
        lambda d: _v(d)["work_injury"]["classes"][0].update(
            rate_bp=25
        ),  # 25 × 120% = 30, ×150% = 37.5
        "不是整数个基点",
    ),
    "no base level": (
        lambda d: _v(d)["work_injury"]["classes"][1].update(levels_pct=[50, 80]),
        "基准档 100",
    ),
    "ceiling below floor": (lambda d: _v(d)["base"].update(ceiling_bp=5000), "ceiling_bp"),
    "unknown day rule": (lambda d: _v(d)["late_fee"].update(day_rule="whenever"), "取值无效"),
    "unknown due rule": (lambda d: _v(d).update(due_date_rule="someday"), "取值无效"),
    "credits flag as text": (
        lambda d: _v(d)["late_fee"].update(apply_credits_to_oldest="no"),
        "true 或 false",
    ),
    "ageing gap": (lambda d: _v(d)["ageing_buckets"][1].update(from_days=92), "账龄区间"),
    "open bucket not last": (lambda d: _v(d)["ageing_buckets"][0].update(to_days=None), "应为整数"),
    "bad date": (lambda d: _v(d).update(valid_from="2017-02-30"), "日期无效"),
    "bad region": (lambda d: d["regions"][0].update(region="3604"), "6位行政区划代码"),
    "duplicate date": (
        lambda d: d["regions"][0]["versions"].append(copy.deepcopy(_v(d))),
        "重复",
    ),
    "bad format": (lambda d: d.update(format="canbao-coverage-policy/1"), "format"),
    "no regions": (lambda d: d.update(regions=[]), "非空列表"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_file_is_a_chinese_data_error(tmp_path: Path, case: str) -> None:
    mutate, words = MALFORMED[case]
    doc = _shipped()
    mutate(doc)
    f = _write(tmp_path, doc)
    with pytest.raises(DataError, match="缴费政策参数文件有误") as err:
        load_policies(f)
    assert words in err.value.message_zh
    assert err.value.message_en  # and an English reason
    with pytest.raises(DataError):
        policy_for("360400", dt.date(2017, 6, 30), f)


def test_unreadable_file_is_an_input_file_error(tmp_path: Path) -> None:
    f = tmp_path / "policy.json"
    f.write_text("{not json", encoding="utf-8")
    with pytest.raises(InputFileError, match="无法读取缴费政策参数文件"):
        load_policies(f)
    with pytest.raises(InputFileError):
        load_policies(tmp_path / "missing.json")
