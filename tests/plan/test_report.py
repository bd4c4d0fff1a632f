from __future__ import annotations

import json
import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest
from openpyxl import load_workbook

from canbao.cli import run
from canbao.errors import DependencyError
from canbao.plan import catalog, sample
from canbao.plan.actuals import FrameActuals
from canbao.plan.api import make_report
from canbao.plan.model import Plan
from canbao.plan.report import pdf as pdfmod
from tests.plan.illustrative import illustrative_actuals

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "plan"
AS_OF = date(2017, 9, 30)


@pytest.fixture(scope="module")
def plan() -> Plan:
    p = catalog.shipped("jiujiang-2017")
    merged, _, _ = p.with_targets(sample.synthetic_task_table(p))
    return merged


def test_synthetic_split_adds_up(plan: Plan) -> None:
    for t in plan.targets:
        if t.unit == "city" and t.ind.cumulative:
            lvl = plan.target("city_level", t.indicator)
            parts = sum(
                (
                    x.value
                    for x in plan.targets
                    if x.indicator == t.indicator and plan.unit(x.unit).ranked
                ),
                start=0,
            )
            assert parts + (lvl.value if lvl else 0) == t.value, t.indicator


def test_xlsx_report_formatting(plan: Plan, tmp_path: Path) -> None:
    actuals = FrameActuals(illustrative_actuals(plan, AS_OF), "示例")
    files = make_report(plan, AS_OF, tmp_path, actuals=actuals, illustrative=True, pdf=False)
    assert files.pdf is None and files.pdf_error is None
    wb = load_workbook(files.xlsx)
    assert wb.sheetnames == [
        "通报",
        "综合排名",
        "完成情况明细",
        "县区分项完成率",
        "争资情况",
        "指标口径",
    ]  # 争资: the plan sets subsidy_growth targets (no 附件3, no key-group targets)
    ws = wb["综合排名"]
    assert ws.freeze_panes == "A4"
    assert ws["A3"].value == "排名" and ws["A3"].font.b
    assert ws["A3"].border.left.style == "thin"
    assert ws["D4"].number_format == "0.0%"
    assert ws.column_dimensions["B"].width >= 12
    assert "示例数据" in str(ws["A2"].value)
    ranks = [ws.cell(row=r, column=1).value for r in range(4, 18)]
    assert ranks[0] == 1 and len([x for x in ranks if x is not None]) == 14
    flags = [ws.cell(row=r, column=8).value for r in range(4, 18)]
    assert sum("后三位" in (f or "") for f in flags) >= 3
    detail = wb["完成情况明细"]
    assert detail.freeze_panes == "A4" and detail["B3"].value == "指标"
    assert wb["通报"]["A6"].value == "总体情况"
    html = files.html.read_text(encoding="utf-8")
    assert html.count("<svg") == 13  # composite + 12 cumulative indicators
    assert "<script" not in html and "http://" not in html.replace("http://www.w3.org", "")
    assert 'class="sub demo">截至2017年9月30日　示例数据' in html and "综合完成率" in html


def test_report_without_actuals_lists_targets_only(tmp_path: Path) -> None:
    files = make_report(catalog.shipped("jiujiang-2017"), AS_OF, tmp_path, pdf=False)
    html = files.html.read_text(encoding="utf-8")
    assert "暂无实际完成数据" in html and "<svg" not in html
    assert "90.8万人" in html


def test_missing_chromium_is_a_clear_dependency_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("CANBAO_CHROMIUM", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(DependencyError) as ei:
        pdfmod.find_chromium()
    assert "apt-get install chromium" in ei.value.message_zh
    monkeypatch.setenv("CANBAO_CHROMIUM", str(tmp_path / "nope"))
    with pytest.raises(DependencyError, match="CANBAO_CHROMIUM"):
        pdfmod.find_chromium()


def test_cli_report_without_chromium_keeps_xlsx_and_html(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CANBAO_CHROMIUM", str(tmp_path / "nope"))
    out = tmp_path / "r"
    code = run(["report", "--as-of", "2017-09-30", "--out", str(out), "--data-dir", str(tmp_path)])
    _, err = capsys.readouterr()
    assert code == 1
    assert "错误" in err and "Traceback" not in err and "chromium" in err
    assert sorted(p.suffix for p in out.iterdir()) == [".html", ".xlsx"]


@pytest.mark.skipif(
    not (shutil.which("chromium") or shutil.which("chromium-browser"))
    or not shutil.which("pdftoppm"),
    reason="needs chromium and poppler-utils (scripts/system-deps.sh)",
)
def test_pdf_rendered_and_pages_to_png(plan: Plan) -> None:
    """Renders the 通报 PDF and its pages as PNG under test-artifacts/plan/ for a person to look at."""
    fonts = subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True, text=True)
    assert "Noto" in fonts.stdout, "CJK fonts missing: install fonts-noto-cjk"
    if ARTIFACTS.exists():
        shutil.rmtree(ARTIFACTS)
    actuals = FrameActuals(illustrative_actuals(plan, AS_OF), "示例")
    files = make_report(plan, AS_OF, ARTIFACTS, actuals=actuals, illustrative=True)
    assert files.pdf_error is None and files.pdf is not None
    assert files.pdf.read_bytes()[:5] == b"%PDF-"
    info = subprocess.run(["pdfinfo", str(files.pdf)], capture_output=True, text=True, check=True)
    pages = int(
        next(line for line in info.stdout.splitlines() if line.startswith("Pages:")).split()[1]
    )
    assert 2 <= pages <= 12
    assert "A4" in info.stdout
    text = subprocess.run(
        ["pdftotext", "-layout", str(files.pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    text = "".join(text.split())  # a title may wrap over two lines
    for needle in (
        "全市社会保险扩面征缴工作进展情况通报",
        "示例数据",
        "予以通报表扬",
        "柴桑区",
        "时间进度",
    ):
        assert needle in text
    subprocess.run(
        ["pdftoppm", "-r", "80", "-png", str(files.pdf), str(ARTIFACTS / "page")], check=True
    )
    pngs = sorted(ARTIFACTS.glob("page-*.png"))
    assert len(pngs) == pages and all(p.stat().st_size > 10_000 for p in pngs)
    (ARTIFACTS / "README.txt").write_text(
        "Pages of the jiujiang-2017 通报 with illustrative data (test_report.py).\n",
        encoding="utf-8",
    )


def test_cli_plan_show_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code = run(["plan", "show", "--plan", "jiujiang-2017", "--json", "--data-dir", str(tmp_path)])
    out, _ = capsys.readouterr()
    assert code == 0
    rows = json.loads(out)
    assert all(set(r) == {"unit", "indicator", "value", "period"} for r in rows)
    got = {(r["unit"], r["indicator"]): r["value"] for r in rows}
    assert got[("city", "enrolled.employee_pension")] == 908000
    assert got[("city_level", "collected.work_injury")] == 28250000
    assert got[("city", "clearance_rate.private")] == 0.9
    assert got[("city", "subsidy_growth")] == 0.055
    assert len(rows) == 32


def test_cli_template_import_report(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, plan: Plan
) -> None:
    from canbao.plan import xlsx_io

    tpl = tmp_path / "tpl.xlsx"
    assert run(["plan", "template", "--out", str(tpl)]) == 0
    assert load_workbook(tpl).sheetnames[0] == "任务分解表"
    filled = xlsx_io.write_template(tmp_path / "filled.xlsx", plan)
    dd = tmp_path / "data"
    assert run(["plan", "import", str(filled), "--data-dir", str(dd)]) == 0
    out, _ = capsys.readouterr()
    assert "已导入" in out and (dd / "plans" / "jiujiang-2017.json").is_file()
    assert run(["plan", "show", "--json", "--data-dir", str(dd)]) == 0
    rows = json.loads(capsys.readouterr()[0])
    assert len(rows) == len(plan.targets)
    assert {"360404", "devzone"} <= {r["unit"] for r in rows}
    # actuals as CSV with Chinese headers and names
    csv = tmp_path / "完成数.csv"
    csv.write_text(
        "单位,指标,完成数\n九江县,城镇职工基本养老保险参保人数,30000\n开发区,enrolled.employee_pension,9000\n"
        "全市,enrolled.employee_pension,800000\n",
        encoding="utf-8",
    )
    out_dir = tmp_path / "rep"
    args = ["report", "--as-of", "2017-09-30", "--out", str(out_dir), "--actuals", str(csv)]
    assert run([*args, "--data-dir", str(dd), "--no-pdf"]) == 0
    html = next(out_dir.glob("*.html")).read_text(encoding="utf-8")
    assert "柴桑区" in html and "后三位" in html
    # bad input: a unit the plan does not know → error naming the row, exit 1
    csv.write_text("单位,指标,完成数\n火星县,enrolled.medical,1\n", encoding="utf-8")
    assert run([*args, "--data-dir", str(dd), "--no-pdf"]) == 1
    assert "火星县" in capsys.readouterr()[1]
    # bad sheet on import
    bad = tmp_path / "bad.xlsx"
    wb = load_workbook(filled)
    wb["任务分解表"]["D9"] = "abc"
    wb.save(bad)
    assert run(["plan", "import", str(bad), "--data-dir", str(dd)]) == 1
    assert "D9" in capsys.readouterr()[1]
    assert run(["report", "--as-of", "2017-13-01", "--out", str(out_dir)]) == 2
