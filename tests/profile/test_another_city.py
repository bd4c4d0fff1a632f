"""The plan, its 附件1 and the 通报 for a second city: nothing of Jiujiang shows through."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from openpyxl import load_workbook

from canbao.cli import run
from canbao.errors import DataError
from canbao.plan import api, catalog, xlsx_io
from canbao.plan.actuals import FrameActuals
from canbao.plan.model import Period, Plan, Target
from canbao.plan.units import plan_units, resolve_unit
from canbao.profile import Profile, load_profile, read_record

GANZHOU = Path(__file__).parent / "data" / "ganzhou.toml"
JIUJIANG_WORDS = ("九江", "浔阳", "修水", "柴桑", "庐山", "3604", "jiujiang")


@pytest.fixture(scope="module")
def gz() -> Profile:
    return load_profile(str(GANZHOU))


def _plan(gz: Profile) -> Plan:
    counties = [c.code for c in gz.counties]
    targets = [Target("city", "enrolled.employee_pension", "2021", Decimal(900_000))]
    targets += [
        Target(c, "enrolled.employee_pension", "2021", Decimal(40_000 + 1000 * i))
        for i, c in enumerate(counties)
    ]
    targets += [Target("rongjiang", "enrolled.employee_pension", "2021", Decimal(20_000))]
    return Plan(
        code="ganzhou-2021",
        title="2021年全市社会保险扩面征缴工作方案",
        period=Period("2021", date(2021, 1, 1), date(2021, 12, 31), "2021年"),
        targets=tuple(targets),
        profile=gz,
    )


def test_units_of_another_city(gz: Profile) -> None:
    units = plan_units(gz)
    assert [u.code for u in units[:2]] == ["city", "city_level"]
    assert [u.code for u in units[-2:]] == ["devzone", "rongjiang"]
    assert len([u for u in units if u.ranked]) == 20
    assert resolve_unit("赣县", units).code == "360704"  # type: ignore[union-attr]
    assert resolve_unit("南康市", units).code == "360703"  # type: ignore[union-attr]
    assert resolve_unit("修水县", units) is None  # a Jiujiang county is not a unit here


def test_plans_never_cross_cities(gz: Profile) -> None:
    with pytest.raises(DataError, match="属于地区配置“jiujiang”"):
        catalog.shipped("jiujiang-2017", gz)
    again = Plan.from_dict(_plan(gz).to_dict(), gz)
    assert again == _plan(gz) and again.to_dict()["profile"] == "ganzhou"


def test_template_and_import_for_another_city(gz: Profile, tmp_path: Path) -> None:
    tpl = xlsx_io.write_template(tmp_path / "tpl.xlsx", _plan(gz))
    wb = load_workbook(tpl)
    ws = wb["任务分解表"]
    assert ws["A1"].value == "2021年度赣州市社会保险扩面征缴任务分解表"
    assert ws["B7"].value == "全市" and ws["A9"].value == "360702"
    notes = " ".join(str(c.value) for c in wb["填表说明"]["A"])
    assert "rongjiang（蓉江新区）" in notes and "“南康市”即南康区 360703" in notes
    assert not any(w in notes for w in JIUJIANG_WORDS)
    got = xlsx_io.read_targets(tpl, units=plan_units(gz))
    assert {t.unit for t in got.targets} >= {"city", "360702", "rongjiang"}
    ws["B9"] = "修水县"  # a Jiujiang county: unknown in Ganzhou
    ws["A9"] = None
    wb.save(tmp_path / "bad.xlsx")
    with pytest.raises(DataError, match="B9 未知单位“修水县”"):
        xlsx_io.read_targets(tmp_path / "bad.xlsx", units=plan_units(gz))


def test_report_for_another_city(gz: Profile, tmp_path: Path) -> None:
    plan = _plan(gz)
    units = [c.code for c in gz.counties] + ["rongjiang"]
    frame = pl.DataFrame(
        {
            "unit": units,
            "indicator": ["enrolled.employee_pension"] * len(units),
            "value": [str(30_000 + 700 * i) for i in range(len(units))],
        }
    )
    files = api.make_report(
        plan, date(2021, 9, 30), tmp_path, actuals=FrameActuals(frame, "测试"), pdf=False
    )
    html = files.html.read_text("utf-8")
    assert "赣州市人力资源和社会保障局" in html  # the profile's letterhead (plan has none)
    assert "蓉江新区" in html and "章贡区" in html and "后三位" in html
    assert not any(w in html for w in JIUJIANG_WORDS)


def test_cli_selects_and_remembers_the_profile(
    gz: Profile, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CANBAO_PROFILE", raising=False)
    dd = tmp_path / "data"
    tpl = tmp_path / "tpl.xlsx"
    assert run(["plan", "template", "--profile", str(GANZHOU), "--out", str(tpl)]) == 0
    assert load_workbook(tpl)["任务分解表"]["A1"].value.endswith("赣州市社会保险扩面征缴任务分解表")
    filled = xlsx_io.write_template(tmp_path / "filled.xlsx", _plan(gz))
    args = ["--plan", "ganzhou-2021", "--data-dir", str(dd)]
    assert run(["plan", "import", str(filled), *args, "--profile", str(GANZHOU)]) == 0
    record = read_record(dd)
    assert record is not None and record.name == "ganzhou"
    capsys.readouterr()
    # remembered: no --profile needed
    assert run(["plan", "show", "--json", *args]) == 0
    rows = json.loads(capsys.readouterr()[0])
    assert {"360702", "rongjiang"} <= {r["unit"] for r in rows}
    csv = tmp_path / "完成数.csv"
    csv.write_text("单位,指标,完成数\n赣县,enrolled.employee_pension,30000\n", encoding="utf-8")
    out = tmp_path / "rep"
    report = ["report", "--as-of", "2021-09-30", "--out", str(out), "--actuals", str(csv)]
    assert run([*report, *args, "--no-pdf"]) == 0
    html = next(out.glob("*.html")).read_text("utf-8")
    assert "赣县区" in html and not any(w in html for w in JIUJIANG_WORDS)
    # another profile on this data directory: a clear Chinese error, by option or environment
    capsys.readouterr()
    assert run([*report, *args, "--no-pdf", "--profile", "jiujiang"]) == 1
    err = "".join(capsys.readouterr()[1].split())
    assert "使用的是地区配置“ganzhou”" in err and "canbaoprofileusejiujiang" in err
    monkeypatch.setenv("CANBAO_PROFILE", "jiujiang")
    assert run(["plan", "show", *args]) == 1
    monkeypatch.delenv("CANBAO_PROFILE")
    # no default plan in this profile
    assert run(["plan", "show", "--data-dir", str(dd)]) == 2
    assert "没有默认计划" in capsys.readouterr()[1]
    # an explicit change: the stored Ganzhou plan no longer loads
    assert run(["profile", "use", "jiujiang", "--data-dir", str(dd)]) == 0
    assert "由“ganzhou”改为“jiujiang”" in "".join(capsys.readouterr()[0].split())
    assert run(["plan", "show", *args]) == 1
    assert "属于地区配置“ganzhou”" in "".join(capsys.readouterr()[1].split())
    assert run(["profile", "show", "--json", "--data-dir", str(dd)]) == 0
    shown = json.loads(capsys.readouterr()[0])
    assert shown["name"] == "jiujiang" and len(shown["counties"]) == 13
    assert run(["profile", "list", "--data-dir", str(dd)]) == 0
    listed = [line.split() for line in capsys.readouterr()[0].splitlines()]
    assert ["jiujiang", "九江市", "（数据目录使用中）"] in listed
