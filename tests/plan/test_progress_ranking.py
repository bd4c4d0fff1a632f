from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from canbao.plan.actuals import normalize_actuals
from canbao.plan.indicators import indicator
from canbao.plan.model import Period, Plan, Target
from canbao.plan.narrative import narrative
from canbao.plan.progress import completion, compute_progress, time_progress
from canbao.plan.ranking import rank_scores, rank_units

D = Decimal
Y2017 = Period("2017", date(2017, 1, 1), date(2017, 12, 31), "2017年")


def test_time_progress_known_values() -> None:
    assert time_progress(Y2017, date(2017, 1, 1)) == D("0.0027")  # 1/365
    assert time_progress(Y2017, date(2017, 6, 30)) == D("0.4959")  # 181/365
    assert time_progress(Y2017, date(2017, 9, 30)) == D("0.7479")  # 273/365
    assert time_progress(Y2017, date(2017, 12, 31)) == D(1)
    assert time_progress(Y2017, date(2016, 12, 31)) == D(0)
    assert time_progress(Y2017, date(2018, 3, 1)) == D(1)


def test_completion_minimum_and_maximum() -> None:
    emp = indicator("enrolled.employee_pension")
    assert completion(emp, D(908_000), D(454_000)) == D("0.5")
    assert completion(emp, D(100), D(130)) == D("1.3")
    na = indicator("new_arrears_ratio.private")
    assert completion(na, D("0.10"), D("0.10")) == D(1)  # at the ceiling
    assert completion(na, D("0.10"), D(0)) == D(2)  # no new arrears
    assert completion(na, D("0.10"), D("0.15")) == D("0.5")
    assert completion(na, D("0.10"), D("0.30")) == D(0)  # floored
    cr = indicator("clearance_rate.private")
    assert completion(cr, D("0.9"), D("0.81")) == D("0.9")


@given(
    st.decimals(min_value=0, max_value=1, places=4),
    st.decimals(min_value="0.01", max_value=1, places=2),
)
def test_maximum_completion_monotone_and_bounded(actual: Decimal, limit: Decimal) -> None:
    na = indicator("new_arrears_ratio.public")
    c = completion(na, limit, actual)
    assert D(0) <= c <= D(2)
    assert (c >= 1) == (actual <= limit)
    assert completion(na, limit, actual + D("0.01")) <= c


def _plan(units: list[str], targets: dict[tuple[str, str], Decimal]) -> Plan:
    return Plan(
        code="t",
        title="t",
        period=Y2017,
        targets=tuple(Target(u, i, "2017", v) for (u, i), v in targets.items()),
    )


def test_progress_rows_gap_and_benchmark() -> None:
    plan = _plan(
        ["360402"],
        {
            ("360402", "enrolled.employee_pension"): D(10_000),
            ("360402", "collected.medical"): D(1_000_000),
            ("360402", "new_arrears_ratio.private"): D("0.10"),
            ("360402", "clearance_rate.public"): D("0.80"),
        },
    )
    actuals = {
        ("360402", "enrolled.employee_pension"): D(9_000),
        ("360402", "collected.medical"): D(400_000),
        ("360402", "new_arrears_ratio.private"): D("0.12"),
    }
    p = compute_progress(plan, actuals, date(2017, 6, 30))
    e = p.row("360402", "enrolled.employee_pension")
    assert e is not None and e.completion == D("0.9") and e.benchmark == D("0.4959")
    assert e.gap == D("0.4041") and not e.behind and e.met is False
    c = p.row("360402", "collected.medical")
    assert c is not None and c.gap == D("-0.0959") and c.behind
    n = p.row("360402", "new_arrears_ratio.private")
    assert n is not None and n.completion == D("0.8") and n.benchmark == 1 and n.gap == D("-0.2")
    assert n.met is False
    missing = p.row("360402", "clearance_rate.public")
    assert missing is not None and missing.actual is None and missing.completion is None


# --- ranking on a constructed case -------------------------------------------------------


def test_rank_scores_with_ties_known_answer() -> None:
    scores = {
        "a": D("0.90"), "b": D("0.80"), "c": D("0.80"), "d": D("0.70"), "e": D("0.60"),
        "f": D("0.50"), "g": D("0.50"), "h": None,
    }  # fmt: skip
    r = {x.unit: x for x in rank_scores(scores, list(scores))}
    assert [r[u].rank for u in "abcdefg"] == [1, 2, 2, 4, 5, 6, 6]
    assert r["h"].rank is None and not r["h"].bottom and not r["h"].top
    # bottom three: fewer than 3 units strictly lower → e (2 lower), f, g (0 lower); d has 3 lower
    assert {u for u, x in r.items() if x.bottom} == {"e", "f", "g"}
    # top three: fewer than 3 strictly higher → a (0), b, c (1), d has 3 higher
    assert {u for u, x in r.items() if x.top} == {"a", "b", "c"}


def test_rank_scores_tie_at_boundary_flags_all_tied() -> None:
    scores = {"a": D(1), "b": D("0.9"), "c": D("0.7"), "d": D("0.7"), "e": D("0.6"), "f": D("0.5")}
    r = {x.unit: x for x in rank_scores(scores)}
    assert {u for u, x in r.items() if x.bottom} == {"c", "d", "e", "f"}  # c, d tied 3rd-last
    assert [x.unit for x in rank_scores(scores)][:2] == ["a", "b"]


def test_rank_scores_all_equal_flags_nobody() -> None:
    r = rank_scores({"a": D(1), "b": D(1), "c": D(1), "d": D(1)})
    assert all(x.rank == 1 and not x.bottom and not x.top for x in r)


def test_rank_scores_display_order_breaks_ties() -> None:
    r = rank_scores({"x": D("0.5"), "y": D("0.5"), "z": D("0.9")}, ["y", "x", "z"], n_bottom=1)
    assert [x.unit for x in r] == ["z", "y", "x"]
    assert [x.bottom for x in r] == [False, True, True]


def test_rank_units_composite_capped_mean() -> None:
    units = ["360402", "360403", "360404", "360423", "360424"]
    targets: dict[tuple[str, str], Decimal] = {}
    actuals: dict[tuple[str, str], Decimal] = {}
    # completions (enrolled.employee_pension, collected.employee_pension)
    comps = {
        "360402": ("1.50", "0.60"),  # capped 1.2 → mean 0.9
        "360403": ("0.80", "0.80"),  # 0.8
        "360404": ("0.90", "0.70"),  # 0.8 (tie with 360403)
        "360423": ("0.50", "0.50"),  # 0.5
        "360424": ("0.40", None),  # 0.4 from one indicator
    }
    for u, (e, c) in comps.items():
        targets[(u, "enrolled.employee_pension")] = D(10_000)
        targets[(u, "collected.employee_pension")] = D(1_000_000)
        targets[(u, "clearance_rate.private")] = D("0.9")  # rates are not in the score
        actuals[(u, "clearance_rate.private")] = D("0.1")
        actuals[(u, "enrolled.employee_pension")] = D(10_000) * D(e)
        if c is not None:
            actuals[(u, "collected.employee_pension")] = D(1_000_000) * D(c)
    progress = compute_progress(_plan(units, targets), actuals, date(2017, 9, 30))
    ranked = rank_units(progress, units, n_bottom=3)
    got = [(x.unit, x.score, x.rank, x.n_indicators, x.bottom) for x in ranked]
    assert got == [
        ("360402", D("0.9"), 1, 2, False),
        ("360403", D("0.8"), 2, 2, True),  # 2 units strictly lower → bottom three
        ("360404", D("0.8"), 2, 2, True),
        ("360423", D("0.5"), 4, 2, True),
        ("360424", D("0.4"), 5, 1, True),
    ]


def test_narrative_praises_top_and_reports_bottom() -> None:
    from canbao.plan import catalog

    base = catalog.shipped("jiujiang-2017")
    units = [u.code for u in base.ranked_units()]
    targets = {(u, "enrolled.employee_pension"): D(10_000) for u in units}
    plan, _, _ = base.with_targets(Target(u, i, "2017", v) for (u, i), v in targets.items())
    comp = {u: D("0.95") - D("0.05") * k for k, u in enumerate(units)}  # 95% … 30%
    actuals = {(u, "enrolled.employee_pension"): D(10_000) * c for u, c in comp.items()}
    progress = compute_progress(plan, actuals, date(2017, 6, 30))  # time progress 49.6%
    ranking = rank_units(progress, units)
    paras = {p.heading: p.text for p in narrative(plan, progress, ranking)}
    # top three: 濂溪区 95%, 浔阳区 90%, 柴桑区 85% — all above time progress
    assert paras["表扬"].startswith("濂溪区（95.0%）、浔阳区（90.0%）、柴桑区（85.0%）")
    assert "予以通报表扬" in paras["表扬"]
    # bottom three: 开发区 30%, 庐山市 35%, 共青城市 40%; in ranking order
    assert (
        "后3位的是共青城市（综合完成率40.0%，落后时间进度9.6个百分点，由第三督导组督导）"
        in paras["通报"]
    )
    assert "庐山市" in paras["通报"] and "开发区" in paras["通报"] and "第一督导组" in paras["通报"]
    assert "年终任务完成排名后3位将通报至当地党委和政府" in paras["通报"]
    assert "重点推进阶段" not in paras["总体情况"] and "宣传发动阶段" in paras["总体情况"]
    final = compute_progress(plan, actuals, date(2017, 12, 31))
    text = {p.heading: p.text for p in narrative(plan, final, rank_units(final, units))}
    assert "按照方案要求，任务完成排名后3位的情况通报至当地党委和政府" in text["通报"]
    # top units below time progress are named but not praised
    assert "本期不予表扬" in text["表扬"]


# --- actuals interface -----------------------------------------------------------------------


def test_normalize_actuals_names_percent_and_dates() -> None:
    frame = pl.DataFrame(
        {
            "unit": ["九江县", "360404", "全市", "开发区"],
            "indicator": [
                "城镇职工基本养老保险参保人数",
                "enrolled.employee_pension",
                "清欠率民营私营企业",
                "collected.medical",
            ],
            "value": ["12,000", "13000", "85%", "250000.5"],
            "as_of": [date(2017, 8, 31), date(2017, 9, 30), date(2017, 9, 30), date(2017, 10, 31)],
        }
    )
    got = normalize_actuals(frame, date(2017, 9, 30))
    assert got == {
        ("360404", "enrolled.employee_pension"): D(13_000),  # the later row wins
        ("city", "clearance_rate.private"): D("0.85"),
    }  # 开发区 row is after the report date
    frame2 = frame.with_columns(pl.lit(None, dtype=pl.Date).alias("as_of"))
    assert normalize_actuals(frame2, date(2017, 9, 30))[("devzone", "collected.medical")] == D(
        "250000.5"
    )


def test_normalize_actuals_rejects_unknowns() -> None:
    bad = pl.DataFrame(
        {"unit": ["火星县", "全市"], "indicator": ["enrolled.medical", "x"], "value": ["1", "a"]}
    )
    with pytest.raises(Exception, match="第1行 未知单位“火星县”.*第2行 未知指标") as ei:
        normalize_actuals(bad, date(2017, 9, 30))
    assert type(ei.value).__name__ == "DataError"


def test_file_actuals_xlsx_long_and_wide_and_gb18030_csv(tmp_path: Path) -> None:
    from openpyxl import Workbook

    from canbao.plan import catalog, xlsx_io
    from canbao.plan.actuals import FileActuals

    plan = catalog.shipped("jiujiang-2017")
    day = date(2017, 9, 30)
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["单位", "指标", "完成数", "截至日期"])
    ws.append(["九江县", "城镇职工基本养老保险参保人数", 30000, date(2017, 9, 30)])
    ws.append(["开发区", "collected.medical", 12345.5, None])
    ws.append(["全市", "清欠率民营私营企业", "85%", None])
    long_xlsx = tmp_path / "long.xlsx"
    wb.save(long_xlsx)
    got = normalize_actuals(FileActuals(long_xlsx).actuals(plan, day), day)
    assert got == {
        ("360404", "enrolled.employee_pension"): D(30_000),
        ("devzone", "collected.medical"): D("12345.5"),
        ("city", "clearance_rate.private"): D("0.85"),
    }
    wide = xlsx_io.write_template(tmp_path / "wide.xlsx", plan)  # 附件1 layout
    got = normalize_actuals(FileActuals(wide).actuals(plan, day), day)
    assert got[("city", "collected.employee_pension")] == D(3_096_000_000)
    assert len(got) == 32
    csv = tmp_path / "gbk.csv"
    csv.write_bytes("单位,指标,完成数\n瑞昌市,失业保险参保人数,4567\n".encode("gb18030"))
    got = normalize_actuals(FileActuals(csv).actuals(plan, day), day)
    assert got == {("360481", "enrolled.unemployment"): D(4567)}
    with pytest.raises(Exception, match="缺少列"):
        csv.write_text("单位,数值x\n瑞昌市,1\n", encoding="utf-8")
        FileActuals(csv).actuals(plan, day)
