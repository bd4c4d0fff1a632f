"""Safe outputs: formula values never become live formulas, nothing is cut silently, masked
exports cannot be unmasked.

The end-to-end test poisons a small synthetic city with formula payloads in names, addresses,
townships, phones and employer names, runs every export a person receives, and opens every file:
every xlsx cell holding a payload is a text cell, and every CSV cell is neutralised."""

from __future__ import annotations

import csv
import re
import zipfile
from pathlib import Path

import openpyxl
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from canbao import outputs
from canbao.cli import run
from canbao.standards import masking
from canbao.synth import generate

PAYLOADS = [
    "=1+1",
    '=HYPERLINK("http://x","y")',
    "@SUM(A1)",
    "+1+1",
    "-1+1",
    "＝1+1",
    "=cmd|' /C calc'!A0",
    "\t=1+1",
]
FORMULA_START = tuple("=+-@\t\r＝＋－＠")
PLAIN_NUMBER = re.compile(r"^[+\-]?(\d+(\.\d*)?|\.\d+)([eE][+\-]?\d+)?$")


# --- the rule ------------------------------------------------------------------------------


def _neutralise(values: list[str | None]) -> list[str | None]:
    return (
        pl.DataFrame({"v": values}, schema={"v": pl.Utf8})
        .select(outputs.neutralise_expr(pl.col("v")).alias("v"))["v"]
        .to_list()
    )


@given(st.lists(st.one_of(st.none(), st.text(max_size=12)), max_size=30))
def test_neutralised_text_never_starts_a_formula(values: list[str | None]) -> None:
    for before, after in zip(values, _neutralise(values), strict=True):
        if before is None:
            assert after is None
            continue
        assert after in (before, "'" + before)  # nothing else changes
        if after.startswith(FORMULA_START):
            assert PLAIN_NUMBER.match(after), after  # only plain numbers keep a sign
        if before.startswith(FORMULA_START) and not PLAIN_NUMBER.match(before):
            assert after == "'" + before


def test_numbers_and_ordinary_text_are_left_alone() -> None:
    values = ["-12.50", "+3", "1e5", "张三", "360402", "a=b", "", "-"]
    assert _neutralise(values) == ["-12.50", "+3", "1e5", "张三", "360402", "a=b", "", "'-"]


def test_workbook_cells_stay_text_and_long_cells_are_cut_with_a_word(tmp_path: Path) -> None:
    long = "长" * 40_000
    df = pl.DataFrame({"name": [*PAYLOADS, long], "n": list(range(len(PAYLOADS) + 1))})
    summary = outputs.write_workbook({"名单[1]/测试:*?": df}, tmp_path / "x.xlsx")
    assert summary.cut_cells == 1 and summary.rows == df.height
    assert any("32,767" in n for n in summary.notes_zh())
    wb = openpyxl.load_workbook(tmp_path / "x.xlsx")
    ws = wb.worksheets[0]
    assert ws.title == "名单_1__测试___"  # illegal sheet-name characters replaced
    cells = [c for row in ws.iter_rows(min_row=2) for c in row[:1]]
    assert [c.data_type for c in cells] == ["s"] * len(cells)
    assert [c.value for c in cells[: len(PAYLOADS)]] == PAYLOADS
    assert len(cells[-1].value) == outputs.EXCEL_CELL_MAX
    assert cells[-1].value.endswith(outputs.CUT_MARK)
    assert [row[1].value for row in ws.iter_rows(min_row=2)] == list(range(len(PAYLOADS) + 1))
    assert not list(tmp_path.glob(".*.part"))  # no leftovers


def test_a_list_longer_than_a_sheet_continues_on_more_sheets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outputs, "EXCEL_MAX_ROWS", 11)  # 10 data rows per sheet
    df = pl.DataFrame({"i": list(range(25))})
    summary = outputs.write_workbook({"清单": df, "另一个": df.head(3)}, tmp_path / "x.xlsx")
    assert summary.sheets == ["清单", "清单(2)", "清单(3)", "另一个"]
    assert summary.continued == {"清单": 3}
    wb = openpyxl.load_workbook(tmp_path / "x.xlsx")
    got = [
        c.value for name in ("清单", "清单(2)", "清单(3)") for (c,) in wb[name].iter_rows(min_row=2)
    ]
    assert got == list(range(25))


def test_unsupported_format_and_directory_targets_are_usage_errors(tmp_path: Path) -> None:
    from canbao.errors import UsageError

    df = pl.DataFrame({"a": [1]})
    with pytest.raises(UsageError, match="不支持的导出格式"):
        outputs.write_table(df, tmp_path / "x.txt")
    (tmp_path / "d.csv").mkdir()
    with pytest.raises(UsageError, match="是一个目录"):
        outputs.write_table(df, tmp_path / "d.csv")


# --- masking -------------------------------------------------------------------------------


def test_masked_frame_cannot_be_put_back_together() -> None:
    df = pl.DataFrame(
        {
            "id18": ["110101199003074514"],
            "birth_date": ["1990-03-07"],
            "right_key": ["A:110101199003074514"],
            "phone": ["13912345678"],
        }
    )
    row = masking.mask_frame(df).row(0, named=True)
    assert row["id18"] == "110101********4514"
    assert row["birth_date"] == "1990"  # never the full date beside a masked ID
    assert row["right_key"] == "A:110101********4514"
    assert row["phone"] == "139****5678"
    assert not any(masking.looks_like_id(str(v)) for v in row.values())


# --- end to end: a poisoned city ------------------------------------------------------------


def _poison_csv(path: Path, encoding: str, columns: dict[str, list[str]], every: int = 7) -> None:
    with path.open(encoding=encoding, newline="") as f:
        rows = list(csv.reader(f))
    head = rows[0]
    for i, row in enumerate(rows[1:]):
        if i % every:
            continue
        for col, values in columns.items():
            j = head.index(col)
            row[j] = values[(i // every) % len(values)]
    with path.open("w", encoding=encoding, newline="") as f:
        csv.writer(f).writerows(rows)


@pytest.fixture(scope="module")
def poisoned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("poisoned")
    city = root / "city"
    generate(500, 5, city)
    _poison_csv(
        city / "gongan/huji_2017.csv",
        "gb18030",
        {
            "户籍地址": [
                p for p in PAYLOADS if "＝" not in p
            ],  # GB18030 has ＝ too, keep it simple
            "乡镇(街道)": ["=1+1", "@SUM(A1)"],
            "联系电话": ["+1+1", "=1+1"],
        },
    )
    _poison_csv(city / "shebao/danwei_dengji_2017.csv", "utf-8-sig", {"单位名称": PAYLOADS}, 3)
    _poison_csv(city / "shuiwu/geshui_kouJiao_2017.csv", "utf-8-sig", {"扣缴义务人名称": PAYLOADS})
    data = root / "data"
    assert run(["ingest", str(city), "--data-dir", str(data)]) == 0
    assert run(["build", "--data-dir", str(data)]) == 0
    out = root / "out"
    for args in (
        ["gaps", "--out", str(out / "gaps.xlsx")],
        ["gaps", "--out", str(out / "gaps.csv")],
        ["export", "persons", "--out", str(out / "persons.csv")],
        ["export", "persons", "--out", str(out / "persons.xlsx")],
        ["export", "employers", "--out", str(out / "employers.csv")],
        ["export", "employers", "--out", str(out / "employers.xlsx")],
        ["export", "links", "--out", str(out / "links.csv")],
        ["export", "coverage", "--out", str(out / "coverage.csv")],
        ["review", "list", "--out", str(out / "review.xlsx")],
    ):
        assert run([*args, "--data-dir", str(data)]) == 0, args
    return root


def _xlsx_files(root: Path) -> list[Path]:
    return sorted(root.rglob("*.xlsx"))


def test_no_xlsx_produced_holds_a_formula(poisoned: Path) -> None:
    files = [p for p in _xlsx_files(poisoned) if "city" not in p.parts]
    assert len(files) >= 5  # the exports and the ingest reports
    seen_payload = 0
    for path in files:
        with zipfile.ZipFile(path) as z:  # a formula is an <f> element in the sheet XML
            for name in z.namelist():
                if name.startswith("xl/worksheets/"):
                    assert b"<f>" not in z.read(name) and b"<f " not in z.read(name), (path, name)
        wb = openpyxl.load_workbook(path)
        for ws in wb.worksheets:
            for row in ws.iter_rows():
                for c in row:
                    assert c.data_type != "f", (path.name, ws.title, c.coordinate)
                    if isinstance(c.value, str) and c.value in PAYLOADS:
                        assert c.data_type == "s"
                        seen_payload += 1
    assert seen_payload > 0  # the payloads did reach the workbooks (as text)


def test_every_csv_cell_is_neutralised(poisoned: Path) -> None:
    files = sorted((poisoned / "out").glob("*.csv"))
    assert {p.name for p in files} >= {"gaps.csv", "persons.csv", "coverage.csv", "links.csv"}
    neutralised = 0
    for path in files:
        with path.open(encoding="utf-8", newline="") as f:
            for row in csv.reader(f):
                for cell in row:
                    if cell.startswith(FORMULA_START):
                        assert PLAIN_NUMBER.match(cell), (path.name, "formula-like cell")
                    if cell.startswith("'") and cell[1:] in PAYLOADS:
                        neutralised += 1
    assert neutralised > 0


def test_review_export_shows_no_full_id_or_full_birth_date(poisoned: Path) -> None:
    path = poisoned / "out" / "review.xlsx"
    wb = openpyxl.load_workbook(path)
    for ws in wb.worksheets:
        for row in ws.iter_rows(values_only=True):
            for v in row:
                assert not masking.looks_like_id(str(v))
                assert not re.fullmatch(r"(19|20)\d\d-\d\d-\d\d", str(v))
