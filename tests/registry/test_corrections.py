"""``canbao export corrections``: the corrections sent back to each department, checked against
the synthetic city's truth and against the delivered files themselves.

No assertion prints a value: personal data never reaches the test output (counts only)."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

import openpyxl
import polars as pl
import pytest

from canbao.cli import run
from canbao.ingest import api as ingest_api
from canbao.registry import api, corrections, snapshot
from canbao.standards import citizen_id, masking, names
from tests.registry.city import ingest, make_city

FULL_ID = re.compile(r"(?<![0-9])[0-9]{17}[0-9X](?![0-9X])")
ID_RUN = r"[0-9]{17}[0-9X]"  # the same, for Polars (no look-around)


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_city(tmp_path_factory.mktemp("corr-city"))


@pytest.fixture(scope="module")
def built(city: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("corr-data")
    ingest(city, data)
    api.build(data)
    return data


@pytest.fixture(scope="module")
def result(built: Path) -> corrections.Corrections:
    return corrections.collect(built)


def _all(result: corrections.Corrections) -> pl.DataFrame:
    return pl.concat(list(result.frames.values()), how="vertical")


def _truth(city: Path) -> pl.DataFrame:
    """source,row → the record's true person: pid, true ID, true name, damage kinds."""
    truth = city / "truth"
    links = pl.read_csv(truth / "links.csv", schema_overrides={"source": pl.Utf8})
    persons = pl.read_parquet(truth / "persons.parquet").select(
        "pid", pl.col("id18").alias("true_id18"), pl.col("name").alias("true_name")
    )
    damage = pl.read_csv(truth / "damage.csv", schema_overrides={"kinds": pl.Utf8})
    return links.join(persons, on="pid", how="left").join(damage, on=["source", "row"], how="left")


def test_every_proposed_id_is_the_true_id(
    result: corrections.Corrections, city: Path, built: Path
) -> None:
    rows = _all(result).join(_truth(city), on=["source", "row"], how="left")
    ids = rows.filter(pl.col("item") == corrections.ITEM_ID)
    delivered = snapshot.require_current(built).scan("id_corrections").collect()
    assert ids.height == delivered.height > 50  # every registry proposal, no other
    assert ids["pid"].null_count() == 0
    assert int((ids["proposed"] != ids["true_id18"]).sum()) == 0
    # the repairs of the damage the city makes are there, in words
    assert {"校验位修复", "Excel数字截断恢复"} <= set(ids["basis"])
    assert set(ids["basis"]) <= set(corrections.METHOD_LABELS_ZH.values()) | {
        corrections.UPGRADE_15_ZH
    } | set(delivered["method"])
    assert ids["evidence"].str.contains("姓名一致").sum() > ids.height // 2
    # the department's copy: full proposed ID, delivered value masked
    assert ids["proposed"].str.len_chars().eq(18).all()
    assert int(ids["delivered"].str.contains(ID_RUN).sum()) == 0


def test_valid_but_wrong_ids_are_proposed(result: corrections.Corrections, city: Path) -> None:
    """A relative's valid ID and a valid 15-digit ID are corrected too, not only invalid IDs."""
    rows = _all(result).join(_truth(city), on=["source", "row"], how="left")
    ids = rows.filter(pl.col("item") == corrections.ITEM_ID)
    kinds = ids["kinds"].fill_null("")
    relative = ids.filter(kinds.str.contains("id_relative"))
    assert relative.height >= 3
    assert int((relative["proposed"] != relative["true_id18"]).sum()) == 0
    assert relative["evidence"].str.contains(corrections.OTHER_PERSON_ZH, literal=True).all()
    upgraded = ids.filter(kinds.str.contains("id_15_digit"))
    assert upgraded.height >= 20
    assert (upgraded["basis"] == corrections.UPGRADE_15_ZH).all()
    assert int((upgraded["proposed"] != upgraded["true_id18"]).sum()) == 0
    # an undamaged record with its own valid ID is never proposed
    assert int(kinds.eq("").sum()) == 0


def test_name_corrections_are_true_names_and_only_real_errors(
    result: corrections.Corrections, city: Path
) -> None:
    rows = _all(result).join(_truth(city), on=["source", "row"], how="left")
    nm = rows.filter(pl.col("item") == corrections.ITEM_NAME)
    assert nm.height > 10
    assert int((nm["proposed"] != nm["true_name"]).sum()) == 0
    # every proposed name correction undoes a homophone the city planted; a name that differs
    # only by normalisation (traditional characters, padding) is never one
    kinds = nm["kinds"].fill_null("")
    assert int((~kinds.str.contains("name_homophone")).sum()) == 0
    assert set(nm["basis"]) == {corrections.NAME_BASIS_ZH}
    assert int((~nm["evidence"].str.contains("读音相同")).sum()) == 0
    # the delivered name is masked (first character kept)
    assert int((~nm["delivered"].str.contains(r"^.\*+$")).sum()) == 0


def _delivered_rows(batch: ingest_api.BatchInfo, field: str) -> tuple[list[Any], bool]:
    """The cells of ``field`` of the data rows of the delivered file, read on its own (not with
    ingest's reader): rows after the header line, wholly empty rows skipped — the documented
    meaning of 行号. Second value: whether the file is an xlsx (cells keep their type)."""
    column = next(c for c, f in batch.mapping.items() if f == field)
    path = Path(batch.file_path)
    if batch.format == "xlsx":
        wb = openpyxl.load_workbook(path, read_only=True)
        ws = wb[batch.sheet] if batch.sheet else wb.worksheets[0]
        table = [list(r) for r in ws.iter_rows(values_only=True)]
        wb.close()
    else:
        text = path.read_bytes().decode(batch.encoding or "utf-8-sig")
        table = [list(r) for r in csv.reader(io.StringIO(text), delimiter=batch.delimiter or ",")]
    header = [str(c).strip() if c is not None else "" for c in table[batch.header_row - 1]]
    at = header.index(column)
    data = [
        r for r in table[batch.header_row :] if any(c is not None and str(c).strip() for c in r)
    ]
    return [r[at] if at < len(r) else None for r in data], batch.format == "xlsx"


def test_row_numbers_point_to_the_delivered_rows(
    result: corrections.Corrections, built: Path
) -> None:
    full = snapshot.require_current(built).scan("id_corrections").collect()
    batches = {b.batch_id: b for b in ingest_api.batches(built)}
    checked = mismatched = 0
    for (batch_id,), rows in _all(result).partition_by("batch_id", as_dict=True).items():
        batch = batches[str(batch_id)]
        ids = rows.filter(pl.col("item") == corrections.ITEM_ID).join(
            full.select("batch_id", "row", "id_as_delivered"), on=["batch_id", "row"]
        )
        if ids.height:
            cells, typed = _delivered_rows(batch, "id")
            for row, value, masked in ids.select("row", "id_as_delivered", "delivered").iter_rows():
                raw = cells[row - 1]
                if typed and isinstance(raw, int | float):  # an ID Excel stored as a number
                    same = abs(float(value) - float(raw)) <= 1e-14 * abs(float(raw))
                else:
                    norm = citizen_id.check_frame([raw])["id_norm"][0]
                    same = norm == value and citizen_id.mask(norm) == masked
                checked += 1
                mismatched += not same
        nm = rows.filter(pl.col("item") == corrections.ITEM_NAME)
        if nm.height:
            cells, _ = _delivered_rows(batch, "name")
            for row, masked, proposed in nm.select("row", "delivered", "proposed").iter_rows():
                norm = names.normalize_person_name(cells[row - 1])
                same = (
                    norm is not None
                    and norm != proposed
                    and masking.mask_name(norm) == masked
                    and names.pinyin_key(norm) == names.pinyin_key(proposed)
                )
                checked += 1
                mismatched += not same
    assert checked == _all(result).height
    assert mismatched == 0


def test_one_workbook_per_source(result: corrections.Corrections, tmp_path: Path) -> None:
    written = corrections.write(result, tmp_path / "out")
    with_rows = {s for s, df in result.frames.items() if df.height}
    assert set(written.where) == with_rows and len(with_rows) > 3
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
        corrections.file_name(s) for s in with_rows
    )
    for src in with_rows:
        wb = openpyxl.load_workbook(tmp_path / "out" / corrections.file_name(src), read_only=True)
        assert wb.sheetnames == ["说明", "更正清单", "批次"]
        note = [r[0] for r in wb["说明"].iter_rows(values_only=True)]
        assert "含个人信息，仅限发送给数据提供部门" in note[1]
        assert any("不计入" in str(line) and "表头" in str(line) for line in note)
        sheet = list(wb["更正清单"].iter_rows(values_only=True))
        assert list(sheet[0]) == [
            "数据来源", "批次", "原文件", "行号", "原值", "建议值", "更正项目", "依据", "证据",
        ]  # fmt: skip
        assert len(sheet) - 1 == result.frames[src].height
        assert {r[0] for r in sheet[1:]} == {src}
        assert {r[6] for r in sheet[1:]} <= {"身份证号", "姓名"}
        batches = list(wb["批次"].iter_rows(values_only=True))
        assert {r[1] for r in batches[1:]} == {r[1] for r in sheet[1:]}
        wb.close()


def test_one_workbook_with_a_sheet_per_source(
    result: corrections.Corrections, tmp_path: Path
) -> None:
    out = tmp_path / "all.xlsx"
    written = corrections.write(result, out)
    wb = openpyxl.load_workbook(out, read_only=True)
    with_rows = [s for s, df in result.frames.items() if df.height]
    assert wb.sheetnames == ["说明", *[written.where[s] for s in with_rows], "批次"]
    for src in with_rows:
        assert wb[written.where[src]].max_row - 1 == result.frames[src].height
    wb.close()


def test_source_filter(result: corrections.Corrections, built: Path, tmp_path: Path) -> None:
    one = corrections.collect(built, "police_hukou")
    assert list(one.frames) == ["police_hukou"]
    same = one.frames["police_hukou"].equals(result.frames["police_hukou"])
    assert same  # (a boolean: a failing comparison must not print the rows)
    out = tmp_path / "hukou"
    assert run(["export", "corrections", "--source", "police_hukou", "--out", str(out),
                "--data-dir", str(built)]) == 0  # fmt: skip
    assert [p.name for p in out.iterdir()] == [corrections.file_name("police_hukou")]


def test_cli_errors_in_chinese(
    built: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["export", "corrections", "--data-dir", str(built), "--out"]
    assert run([*args, str(tmp_path / "x"), "--source", "no_such_dept"]) == 2
    err = capsys.readouterr().err
    assert "未知的数据来源“no_such_dept”" in err and "police_hukou" in err
    assert run([*args, str(tmp_path / "x.csv")]) == 2
    assert "只能导出为 .xlsx 文件或目录" in capsys.readouterr().err
    blocker = tmp_path / "a-file"
    blocker.write_text("", encoding="utf-8")
    assert run([*args, str(blocker / "sub")]) != 0
    assert "无法写入" in capsys.readouterr().err
    assert run([*args, str(blocker)]) == 2
    assert "不是目录" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    code = run(["export", "corrections", "--out", str(tmp_path / "y"), "--data-dir", str(empty)])
    assert code == 1 and "登记库尚未建立" in capsys.readouterr().err


def test_terminal_output_is_masked(
    built: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "corr.xlsx"
    code = run(["export", "corrections", "--out", str(out), "--preview", "50",
                "--data-dir", str(built)])  # fmt: skip
    assert code == 0 and out.exists()
    printed = capsys.readouterr()
    text = printed.out + printed.err
    # booleans first: a failing assertion must not echo the terminal text
    notice = "仅限发送给数据提供部门" in text and "预览" in text
    full_id = FULL_ID.search(text) is not None or masking.looks_like_id(text)
    masked_id = re.search(r"[0-9]{6}\*{8}[0-9]{3}[0-9X]", text) is not None  # first 6, last 4
    assert notice and not full_id and masked_id


def test_staff_view_masks_the_proposed_value(result: corrections.Corrections) -> None:
    staff = corrections.staff_table(result)
    assert staff.height == _all(result).height
    assert int(staff["proposed"].str.contains(ID_RUN).sum()) == 0
    names_ = staff.filter(pl.col("item") == corrections.ITEM_NAME)["proposed"]
    assert int((~names_.str.contains(r"^.\*+$")).sum()) == 0


def test_formula_like_text_stays_text(tmp_path: Path) -> None:
    row = {
        "source": "dept", "batch_id": "b-1", "file_name": "=cmd|' /C calc'!A0", "row": 3,
        "delivered": "张*", "proposed": '=HYPERLINK("http://x","点我")', "item": "姓名",
        "basis": corrections.NAME_BASIS_ZH, "evidence": "+1",
    }  # fmt: skip
    frame = pl.DataFrame([row], schema=corrections.COLUMNS)
    batches = pl.DataFrame(schema=corrections.BATCH_COLUMNS)
    fake = corrections.Corrections("build-x", {"dept": frame}, batches, ("dept",))
    written = corrections.write(fake, tmp_path / "f.xlsx")
    ws = openpyxl.load_workbook(tmp_path / "f.xlsx")[written.where["dept"]]
    cell = ws.cell(row=2, column=6)
    assert cell.data_type == "s" and str(cell.value).startswith("=HYPERLINK")


def test_the_demo_writes_the_department_files(tmp_path: Path) -> None:
    from canbao.registry.demo import run_registry_demo

    out = tmp_path / "demo"
    ingest(make_city(out, persons=600, seed=2), out / "data")
    where = run_registry_demo(out)
    folder = next(Path(p) for k, p in where.items() if "corrections per department" in k)
    files = sorted(folder.glob("*" + corrections.FILE_SUFFIX))
    assert files and "含个人信息" in next(k for k in where if "per department" in k)
    overview = next(Path(p) for k, p in where.items() if "masked" in k and "correction" in k)
    staff = pl.read_excel(overview, infer_schema_length=0)
    assert staff.height > 0 and FULL_ID.search(staff.write_csv()) is None
