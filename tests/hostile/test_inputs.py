"""Hostile and careless inputs to ``canbao ingest``: every one gives a clear Chinese error (or a
quarantine with its reason), never a traceback, never a partial batch; a file name is only ever
that file (never a glob pattern); a manifest is checked whole before any file is read.

The corpus is generated here, in tmp_path (no binary files in the repository). Personal values
are the fictional IDs of tests/ingest/helpers.py and are never printed.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import re
import struct
import zipfile
from pathlib import Path

import polars as pl
import pytest
from openpyxl import Workbook

from canbao.cli import run
from canbao.errors import CanbaoError, DataError, InputFileError, UsageError
from canbao.ingest import api, excel
from canbao.ingest.batches import ingest_file
from tests.ingest.helpers import ID_A, ID_B, ID_C, population_lines, write_xlsx_titled

HEADER = "姓名,身份证号码,住址"
ROWS = [f"张三,{ID_A},浔阳区", f"李四,{ID_B},濂溪区", f"王五,{ID_C},德安县"]


def _csv(path: Path, lines: list[str], encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return path


@pytest.fixture(autouse=True)
def _wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """No line wrapping in captured output (messages are searched whole)."""
    from canbao.cli import _app

    monkeypatch.setattr(_app.console, "_width", 10_000)
    monkeypatch.setattr(_app.console_err, "_width", 10_000)


def _chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def _nothing_partial(data: Path) -> None:
    """No half-written batch anywhere: every batch folder is complete, no temporary folder."""
    root = data / "batches"
    if not root.exists():
        return
    for p in root.iterdir():
        assert not p.name.startswith(".tmp-"), p.name
        if p.is_dir():
            assert (p / "batch.json").exists() and (p / "records.parquet").exists(), p.name


def _no_batch(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``canbao batches`` lists nothing, and nothing partial is on disk."""
    capsys.readouterr()
    assert run(["batches", "--json", "--data-dir", str(data)]) == 0
    assert json.loads(capsys.readouterr().out) == []
    _nothing_partial(data)


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = run(list(args))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return rc, out, err


def _ingest_cli(
    capsys: pytest.CaptureFixture[str], path: Path, data: Path, *extra: str
) -> tuple[int, str, str]:
    args = ["ingest", str(path), "--source", "s", "--kind", "population"]
    if "--as-of" not in extra:
        args += ["--as-of", "2017-12-31"]
    return _cli(capsys, *args, *extra, "--data-dir", str(data))


def _refused(
    capsys: pytest.CaptureFixture[str],
    path: Path,
    data: Path,
    expect: str,
    *extra: str,
    exc: type[CanbaoError] = InputFileError,
    code: int = 1,
    **api_kw: str,
) -> CanbaoError:
    """Refused through the CLI (exit ``code``, ``expect`` in the error, nothing in the catalog)
    and through the Python API (the same error type and message; ``api_kw`` as ``extra``)."""
    rc, out, err = _ingest_cli(capsys, path, data, *extra)
    assert rc == code, out + err
    flat = err
    assert "错误" in flat and expect in flat, flat
    _no_batch(data, capsys)
    with pytest.raises(exc) as ei:
        ingest_file(data, path, source="s", kind="population", as_of="2017-12-31", **api_kw)  # type: ignore[arg-type]
    assert expect in ei.value.message_zh and _chinese(ei.value.message_zh)
    assert ei.value.message_en
    _no_batch(data, capsys)
    return ei.value


def _names(data: Path, kind: str = "population") -> list[str]:
    return api.current_records(data, kind).collect().sort("row")["name"].to_list()


# --- item 1: a file name is never a glob pattern ----------------------------------------------


@pytest.mark.parametrize("name", ["data[12].csv", "x?.csv", "*.csv", "[a].csv"])
def test_glob_characters_name_exactly_one_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    folder = tmp_path / "g"
    for other, row in [("data1.csv", ROWS[0]), ("data2.csv", ROWS[1]), ("x1.csv", ROWS[0]),
                       ("a.csv", ROWS[1])]:  # fmt: skip
        _csv(folder / other, [HEADER, row])
    target = _csv(folder / name, [HEADER, ROWS[2]])
    data = tmp_path / "data"
    rc, out, err = _ingest_cli(capsys, target, data)
    assert rc == 0, out + err
    [b] = api.batches(data)
    assert (b.file_name, b.rows) == (name, 1)
    assert _names(data) == ["王五"]  # the named file's row, not data1/data2/x1/a


def test_parquet_and_excel_names_with_glob_characters(tmp_path: Path) -> None:
    folder = tmp_path / "g"
    folder.mkdir()
    frame = pl.DataFrame({"姓名": ["王五"], "身份证号码": [ID_C]})
    frame.write_parquet(folder / "p[1].parquet")
    pl.DataFrame({"姓名": ["张三"], "身份证号码": [ID_A]}).write_parquet(folder / "p1.parquet")
    write_xlsx_titled(folder / "x[1].xlsx")
    data = tmp_path / "data"
    res = ingest_file(data, folder / "p[1].parquet", source="p", kind="population",
                      as_of="2017-12-31")  # fmt: skip
    assert res.batch.rows == 1 and _names(data) == ["王五"]
    res = ingest_file(data, folder / "x[1].xlsx", source="x", kind="enrollment",
                      scheme="maternity", as_of="2017-12-31")  # fmt: skip
    assert res.batch.rows == 3


def test_odd_characters_in_data_dir_and_file_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Spaces, quotes, brackets, a leading ~ and Chinese, in the data directory and the file."""
    odd = tmp_path / "数据 [1] 'q' ~x"
    data = odd / "canbao data"
    folder = tmp_path / "来 源 [x] 'y'"
    files = [
        _csv(folder / "户籍 [2017] 'a'.csv", [HEADER, ROWS[0]]),
        _csv(folder / "~b.csv", [HEADER, ROWS[1]]),
        _csv(folder / "[bold]c.csv", [HEADER, ROWS[2]]),
    ]
    for i, f in enumerate(files):
        rc, out, err = _cli(capsys, "ingest", str(f), "--source", f"s{i}", "--kind",
                            "population", "--as-of", "2017-12-31", "--data-dir", str(data))  # fmt: skip
        assert rc == 0, out + err
        assert f.name in out  # Rich markup in a name is printed as text
    assert sorted(_names(data)) == sorted(["张三", "李四", "王五"])
    assert api.current_quarantine(data).collect().height == 0
    rc, out, _err = _cli(capsys, "batches", "--data-dir", str(data))
    assert rc == 0 and "bold" in out  # the table is printed (the name as text, maybe cut)
    rc, out, _err = _cli(capsys, "batches", "--json", "--data-dir", str(data))
    assert sorted(b["file_name"] for b in json.loads(out)) == sorted(f.name for f in files)
    # relative paths with ~ are not the home directory
    cwd = os.getcwd()
    try:
        os.chdir(odd)
        assert api.current_records(Path("canbao data"), "population").collect().height == 3
        tilde = Path("~") / "t.csv"
        _csv(odd / tilde, [HEADER, ROWS[0]])
        res = ingest_file(Path("canbao data"), tilde, source="t", kind="population",
                          as_of="2017-12-31")  # fmt: skip
        assert res.batch.rows == 1
    finally:
        os.chdir(cwd)
    # an error message quoting such a path is printed, not read as markup
    rc, _out, err = _ingest_cli(capsys, folder / "x[" / "[/]y.csv", tmp_path / "d2")
    assert rc == 1 and "x[/[/]y.csv" in err


# --- item 4: quoting errors -------------------------------------------------------------------


def test_unclosed_quote_names_the_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = ["户籍人口名单", HEADER, ROWS[0], f'李四,{ID_B},"濂溪区', ROWS[2], ROWS[0]]
    path = _csv(tmp_path / "unclosed.csv", lines)
    err = _refused(capsys, path, tmp_path / "data", "第 4 行有一个引号")
    assert err.details["line"] == 4
    # the same in GB18030 (decoded in memory: the other code path)
    gb = _csv(tmp_path / "unclosed_gb.csv", lines, encoding="gb18030")
    _refused(capsys, gb, tmp_path / "data", "第 4 行有一个引号")


def test_text_after_a_closing_quote_names_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _csv(tmp_path / "junk.csv", [HEADER, ROWS[0], ROWS[1], f'"王"五,{ID_C},德安县'])
    _refused(capsys, path, tmp_path / "data", "第 4 行的引号不规范")


def test_quote_that_swallows_rows_names_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An unclosed quote closed by a stray quote rows later would merge those rows into one
    cell silently; it is refused, naming where it starts."""
    lines = [HEADER, ROWS[0], f'李四,{ID_B},"濂溪区', ROWS[2], f'赵六,{ID_A},湖口"', ROWS[1]]
    path = _csv(tmp_path / "swallow.csv", lines)
    _refused(capsys, path, tmp_path / "data", "第 3–5 行被引号连成了一个字段")


def test_stray_quotes_inside_fields_are_text(tmp_path: Path) -> None:
    """A quote inside an unquoted field (5"号, 某"有限"公司) is a character, as in Excel."""
    lines = [HEADER, f'张三,{ID_A},甘棠街5"号', f'李四,{ID_B},"濂溪区,十里"', ROWS[2]]
    path = _csv(tmp_path / "stray.csv", lines)
    data = tmp_path / "data"
    res = ingest_file(data, path, source="s", kind="population", as_of="2017-12-31")
    assert (res.batch.rows, res.batch.accepted) == (3, 3)
    got = api.current_records(data, "population").collect().sort("row")["address"].to_list()
    assert got == ['甘棠街5"号', "濂溪区,十里", "德安县"]


def test_stray_quote_and_extra_fields_line_by_line(tmp_path: Path) -> None:
    """When the line-by-line reader is used, rows with too many fields are still quarantined
    with their whole line."""
    lines = [HEADER, f'张三,{ID_A},5"号', f"李四,{ID_B},濂溪区,多余", ROWS[2]]
    data = tmp_path / "data"
    res = ingest_file(data, _csv(tmp_path / "m.csv", lines), source="s", kind="population",
                      as_of="2017-12-31")  # fmt: skip
    assert (res.batch.rows, res.batch.accepted, res.batch.quarantined) == (3, 2, 1)
    q = api.current_quarantine(data).collect()
    assert q["reason"].to_list() == ["extra_fields"] and q["row"].to_list() == [2]


def test_manifest_goes_on_after_a_badly_quoted_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "delivery"
    _csv(src / "a.csv", [HEADER, *ROWS])
    _csv(src / "bad.csv", [HEADER, ROWS[0], f'李四,{ID_B},"濂溪区', ROWS[2]])
    _csv(src / "c.csv", ["姓名,身份证号码,死亡日期", f"张三,{ID_A},2017-05-01"])
    manifest = {
        "format": "canbao-manifest/1",
        "as_of": "2017-12-31",
        "files": [
            {"path": "a.csv", "source": "police", "kind": "population"},
            {"path": "bad.csv", "source": "town", "kind": "population"},
            {"path": "c.csv", "source": "civil", "kind": "death"},
        ],
    }
    (src / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), "utf-8")
    data = tmp_path / "data"
    rc, out, err = _cli(capsys, "ingest", str(src), "--data-dir", str(data))
    assert rc == 1
    assert "失败：bad.csv：文件“bad.csv”第 3 行有一个引号" in out and "1 个文件导入失败" in err
    assert sorted(b.source for b in api.batches(data)) == ["civil", "police"]
    _nothing_partial(data)
    # the Python API: the same, each file's result in manifest order
    data2 = tmp_path / "data2"
    results = api.ingest_manifest(data2, src)
    assert [type(r).__name__ for _f, r in results] == ["IngestResult", "InputFileError",
                                                       "IngestResult"]  # fmt: skip


def test_unexpected_error_in_one_file_does_not_stop_a_manifest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Even an error no reader foresaw is reported for its file; the others are ingested."""
    from canbao.ingest import normalize

    src = tmp_path / "delivery"
    _csv(src / "a.csv", [HEADER, *ROWS])
    _csv(src / "b.csv", ["姓名,身份证号码,死亡日期", f"张三,{ID_A},2017-05-01"])
    files = [{"path": "a.csv", "source": "police", "kind": "population"},
             {"path": "b.csv", "source": "civil", "kind": "death"}]  # fmt: skip
    (src / "manifest.json").write_text(
        json.dumps({"format": "canbao-manifest/1", "as_of": "2017-12-31", "files": files}), "utf-8"
    )
    real = normalize.normalize

    def boom(text: pl.DataFrame, kind: str, **kw: object) -> pl.DataFrame:
        if kind == "population":
            raise ZeroDivisionError("boom")
        return real(text, kind, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(normalize, "normalize", boom)
    data = tmp_path / "data"
    rc, out, _err = _cli(capsys, "ingest", str(src), "--data-dir", str(data))
    assert rc == 1 and "失败：a.csv：导入文件“a.csv”时发生意外错误（ZeroDivisionError）" in out
    assert [b.source for b in api.batches(data)] == ["civil"]
    _nothing_partial(data)
    # a single file: the same message, exit 1, no traceback, no batch
    rc, _out, err = _ingest_cli(capsys, src / "a.csv", tmp_path / "d2")
    assert rc == 1 and "意外错误（ZeroDivisionError）" in err and "boom" not in err
    _no_batch(tmp_path / "d2", capsys)


# --- item 5: one manifest schema, checked before any file is read ----------------------------


def _manifest(src: Path, files: object, **top: object) -> Path:
    src.mkdir(parents=True, exist_ok=True)
    doc = {"format": "canbao-manifest/1", "as_of": "2017-12-31", "files": files, **top}
    (src / "manifest.json").write_text(json.dumps(doc, ensure_ascii=False), "utf-8")
    return src


def _manifest_refused(
    capsys: pytest.CaptureFixture[str], src: Path, data: Path, *expect: str
) -> str:
    rc, _out, err = _cli(capsys, "ingest", str(src), "--data-dir", str(data))
    flat = err
    assert rc == 1 and "未导入任何文件" in flat, flat
    for e in expect:
        assert e in flat, (e, flat)
    _no_batch(data, capsys)
    with pytest.raises(DataError) as ei:
        api.ingest_manifest(data, src)
    for e in expect:
        assert e in ei.value.message_zh
    _no_batch(data, capsys)
    return flat


def test_manifest_field_types(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "src"
    _csv(src / "a.csv", [HEADER, *ROWS])
    good = {"path": "a.csv", "source": "police", "kind": "population"}
    files = [
        good,  # valid, but nothing is ingested while another entry is wrong
        {"path": 5, "source": 1, "kind": ["population"]},
        {"path": "a.csv", "source": "s", "kind": "population", "map": ["a=b"], "encoding": 5},
        {"path": "a.csv", "source": "s", "kind": "population", "map": {"a": 1}},
        {"path": "a.csv", "source": "s", "kind": "population", "as_of": "2017-02-30"},
        {"path": "a.csv", "source": "s", "kind": "population", "as_of": "20171231"},
        {"path": "a.csv", "source": " ", "kind": "population", "sheet": 1, "scheme": True},
        {"path": "a.csv", "kind": "population", "asof": "2017-12-31"},
        "a.csv",
    ]
    flat = _manifest_refused(
        capsys, _manifest(src, files), tmp_path / "data",
        "第 2 项的 path 应为文本", "第 2 项的 source 应为文本", "第 2 项的 kind 应为文本",
        "第 3 项的 map 应为对象", "第 3 项的 encoding 应为文本", "第 4 项 map 中“a”的值应为文本",
        "第 5 项的 as_of 应为 YYYY-MM-DD", "第 6 项的 as_of 应为 YYYY-MM-DD",
        "第 7 项的 source 不能为空", "第 7 项的 sheet 应为文本", "第 7 项的 scheme 应为文本",
        "第 8 项的 source 缺少", "第 8 项的 asof 不是清单的字段", "第 9 项应为对象",
    )  # fmt: skip
    assert "第 1 项" not in flat
    # top level: files not a list, a bad manifest date, not JSON at all
    _manifest_refused(capsys, _manifest(src, {"a.csv": 1}), tmp_path / "d", "files 应为列表")
    _manifest_refused(capsys, _manifest(src, [good], as_of="31/12/2017"), tmp_path / "d",
                      "清单的 as_of 应为 YYYY-MM-DD")  # fmt: skip
    (src / "manifest.json").write_text("[" * 100_000, "utf-8")
    rc, _out, err = _cli(capsys, "ingest", str(src), "--data-dir", str(tmp_path / "d"))
    assert rc == 1 and "不是有效的 JSON" in err


def test_manifest_paths_stay_inside_its_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "src"
    _csv(src / "in.csv", [HEADER, *ROWS])
    outside = _csv(tmp_path / "outside.csv", [HEADER, *ROWS])
    (src / "link_out.csv").symlink_to(outside)
    (src / "sub").mkdir()
    (src / "sub" / "up").symlink_to(tmp_path)
    (src / "link_in.csv").symlink_to(src / "in.csv")
    entry = {"source": "s", "kind": "population"}
    files = [
        {"path": "../outside.csv", **entry},
        {"path": str(outside), **entry},
        {"path": "link_out.csv", **entry},
        {"path": "sub/up/outside.csv", **entry},
        {"path": "sub/../in.csv", **entry},  # stays inside: fine
        {"path": "C:\\data\\x.csv", **entry},
    ]
    _manifest_refused(
        capsys, _manifest(src, files), tmp_path / "data",
        "第 1 项的 path “../outside.csv”指向清单所在文件夹之外", "第 2 项的 path", "是绝对路径",
        "第 3 项的 path “link_out.csv”指向", "第 4 项的 path “sub/up/outside.csv”指向",
        "第 6 项的 path “C:\\data\\x.csv”是绝对路径",
    )  # fmt: skip
    # inside the folder (also through a symlink that stays inside): ingested
    ok = [{"path": "sub/../in.csv", **entry}, {"path": "link_in.csv", **entry, "source": "t"}]
    results = api.ingest_manifest(tmp_path / "data", _manifest(src, ok))
    assert [r.batch.rows for _f, r in results if not isinstance(r, CanbaoError)] == [3, 3]


# --- item 6: xlsx size guard, corrupt workbooks ------------------------------------------------


def _bomb(path: Path, padding: int) -> Path:
    """A valid workbook whose sheet XML carries ``padding`` bytes of blanks (packs ~1000:1)."""
    buf = io.BytesIO()
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["姓名", "身份证号码"])
    ws.append(["张三", ID_A])
    wb.save(buf)
    src = zipfile.ZipFile(buf)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            part = src.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                at = part.index(b"<sheetData>") + len(b"<sheetData>")
                part = part[:at] + b" " * padding + part[at:]
            out.writestr(info.filename, part)
    return path


def _lie_about_size(path: Path, member: str, size: int) -> None:
    """Rewrite the declared unpacked size of ``member`` (local header and central directory)."""
    raw = bytearray(path.read_bytes())
    info = zipfile.ZipFile(path).getinfo(member)
    struct.pack_into("<I", raw, info.header_offset + 22, size)
    at = raw.find(b"PK\x01\x02")
    while at >= 0:
        n = struct.unpack_from("<H", raw, at + 28)[0]
        if bytes(raw[at + 46 : at + 46 + n]) == member.encode():
            struct.pack_into("<I", raw, at + 24, size)
        at = raw.find(b"PK\x01\x02", at + 4)
    path.write_bytes(bytes(raw))


def test_xlsx_zip_bomb_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bomb = _bomb(tmp_path / "bomb.xlsx", excel.RATIO_MIN_PART + 1024**2)
    assert bomb.stat().st_size < 1024**2  # a small file…
    err = _refused(capsys, bomb, tmp_path / "data", "压缩比异常")  # …that unpacks to 51 MB
    assert "解压后有 51 MB" in err.message_zh and err.details["ratio"] > excel.MAX_RATIO


def test_xlsx_over_the_unpacked_limit_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_xlsx_titled(tmp_path / "wb.xlsx")
    monkeypatch.setenv(excel.MAX_UNPACKED_ENV, "2K")
    err = _refused(capsys, path, tmp_path / "data", "超过上限 2 KB",
                   "--kind", "enrollment", "--scheme", "maternity")  # fmt: skip
    assert "CANBAO_MAX_XLSX_UNPACKED" in err.message_zh and err.details["limit"] == 2048
    monkeypatch.setenv(excel.MAX_UNPACKED_ENV, "lots")
    rc, _out, err_text = _ingest_cli(capsys, path, tmp_path / "data")
    assert rc == 2 and "CANBAO_MAX_XLSX_UNPACKED 的值“lots”无效" in err_text
    monkeypatch.setenv(excel.MAX_UNPACKED_ENV, "1G")
    res = ingest_file(tmp_path / "data", path, source="s", kind="enrollment",
                      scheme="maternity", as_of="2017-12-31")  # fmt: skip
    assert res.batch.rows == 3


def test_xlsx_that_lies_about_its_size_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The directory says the sheet is 2 KB; it inflates to 5 MB. Refused before it is parsed."""
    path = _bomb(tmp_path / "liar.xlsx", 5 * 1024**2)
    _lie_about_size(path, "xl/worksheets/sheet1.xml", 2000)
    _refused(capsys, path, tmp_path / "data", "解压后的大小超过了压缩包记录的 2000 字节")


def test_real_workbooks_pass_the_guard(tmp_path: Path) -> None:
    """A 20,000-row workbook as a department writes it (xlsxwriter, like the synthetic city):
    accepted whole. (A 1,000,000-row one packs 9:1 to 18:1, far from the 100:1 guard.)"""
    import xlsxwriter

    path = tmp_path / "big.xlsx"
    with xlsxwriter.Workbook(path, {"constant_memory": True}) as wb:
        ws = wb.add_worksheet("参保人员")
        ws.write_row(0, 0, ["姓名", "身份证号码", "参保状态"])
        for i in range(1, 20_001):
            ws.write_row(i, 0, ["张三", ID_A, "参保缴费"])
    with zipfile.ZipFile(path) as zf:
        excel.check_xlsx_size(path, zf)
        sheet = zf.getinfo("xl/worksheets/sheet1.xml")
        assert sheet.file_size / sheet.compress_size < excel.MAX_RATIO
    res = ingest_file(tmp_path / "data", path, source="s", kind="enrollment",
                      scheme="maternity", as_of="2017-12-31")  # fmt: skip
    assert res.batch.rows == res.batch.accepted == 20_000


def test_corrupt_excel_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    full = write_xlsx_titled(tmp_path / "full.xlsx").read_bytes()
    cases = {
        "truncated.xlsx": (full[: len(full) // 2], "不是有效的 Excel 文件"),
        "text.xlsx": ("姓名,身份证号码\n".encode() * 50, "不是 Excel 文件"),
        "garbage.xls": (b"not an excel file at all" * 20, "不是 Excel 文件"),
        "ole.xls": (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, "不是有效的 Excel 文件"),
        "locked.xlsx": (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600
                        + "EncryptedPackage".encode("utf-16-le"), "设置了打开密码"),
        "no_sheets.xlsx": (_zip({"[Content_Types].xml": b"<Types/>"}), "不是有效的 Excel 文件"),
        "bad_xml.xlsx": (_zip({"xl/workbook.xml": b"<workbook><sheets><", "xl/_rels/"
                               "workbook.xml.rels": b"<x/>"}), "不是有效的 Excel 文件"),
    }  # fmt: skip
    for name, (content, expect) in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        _refused(capsys, path, tmp_path / "data", expect)


def _zip(parts: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, part in parts.items():
            z.writestr(name, part)
    return buf.getvalue()


def test_excel_read_by_content_whatever_the_extension(tmp_path: Path) -> None:
    """An xlsx saved as .xls (and the reverse) is read as what it is."""
    path = tmp_path / "really_xlsx.xls"
    path.write_bytes(write_xlsx_titled(tmp_path / "w.xlsx").read_bytes())
    res = ingest_file(tmp_path / "data", path, source="s", kind="enrollment",
                      scheme="maternity", as_of="2017-12-31")  # fmt: skip
    assert res.batch.rows == 3 and res.batch.format == "xlsx"


# --- item 9: thousands of unknown columns ------------------------------------------------------


def test_ten_thousand_unknown_columns(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    unknown = [f"未知列{i}" for i in range(10_000)]
    path = _csv(tmp_path / "wide.csv", ["姓名,身份证号码," + ",".join(unknown),
                                        f"张三,{ID_A}," + ",".join("x" * 10_000)])  # fmt: skip
    data = tmp_path / "data"
    rc, out, err = _ingest_cli(capsys, path, data)
    assert rc == 0, err
    listed = [c for c in unknown if c + "、" in out]
    assert 10 <= len(listed) <= 25 and len(out) < 5_000
    assert re.search(r"10,?000 列", out)
    # without an identity column: the error lists 20 names, then how many
    path2 = _csv(tmp_path / "wide2.csv", [",".join(unknown), ",".join("x" * 10_000)])
    rc, out, err = _ingest_cli(capsys, path2, tmp_path / "d2")
    assert rc == 1 and "…等 10000 列" in err and len(err) < 3_000
    _no_batch(tmp_path / "d2", capsys)


# --- item 10: --as-of is never a file date ------------------------------------------------------


def test_as_of_default_is_the_ingest_date_and_is_recorded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = _csv(tmp_path / "old.csv", [HEADER, *ROWS])
    os.utime(old, (978307200, 978307200))  # 2001-01-01: never the as-of date
    data = tmp_path / "data"
    rc, out, err = _cli(capsys, "ingest", str(old), "--source", "s", "--kind", "population",
                        "--data-dir", str(data))  # fmt: skip
    assert rc == 0, err
    today = dt.date.today()
    assert f"按导入日期 {today} 计" in out
    [b] = api.batches(data)
    assert b.as_of == today
    meta = json.loads((data / "batches" / b.batch_id / "batch.json").read_text("utf-8"))
    assert meta["as_of_given"] is False and b.as_of_given is False
    rc, out, _err = _cli(capsys, "batches", "--data-dir", str(data))
    assert rc == 0 and "按导入日期" in out  # the listing says so too
    # a second file of the same source without --as-of: which one is current would be a guess
    copy = _csv(tmp_path / "copy.csv", [HEADER, ROWS[0]])
    rc, _out, err = _cli(capsys, "ingest", str(copy), "--source", "s", "--kind", "population",
                         "--data-dir", str(data))  # fmt: skip
    assert rc == 2 and "请用 --as-of YYYY-MM-DD 注明" in err
    assert len(api.batches(data)) == 1
    with pytest.raises(UsageError):
        ingest_file(data, copy, source="s", kind="population")
    # stated: fine, and recorded as given
    res = ingest_file(data, copy, source="s", kind="population", as_of="2016-12-31")
    meta = json.loads((data / "batches" / res.batch.batch_id / "batch.json").read_text("utf-8"))
    assert meta["as_of_given"] is True and res.batch.as_of == dt.date(2016, 12, 31)
    # another source is a first batch again
    res = ingest_file(data, copy, source="other", kind="population")
    assert res.batch.as_of == today and "按导入日期" in res.message_zh


# --- item 7 and the rest: the corpus -------------------------------------------------------------


def test_duplicate_headers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _csv(tmp_path / "dup.csv", ["姓名,身份证号码,姓名", f"张三,{ID_A},张三"])
    _refused(capsys, path, tmp_path / "data", "表头有重复列名：姓名", exc=DataError)


def test_nul_bytes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    early = tmp_path / "early.csv"
    early.write_bytes(f"{HEADER}\n张\x00三,{ID_A},x\n".encode())
    _refused(capsys, early, tmp_path / "data", "不是文本文件")
    late = tmp_path / "late.csv"
    body = "".join(f"{r}\n" for r in ROWS * 3000)
    late.write_bytes(f"{HEADER}\n{body}王\x00五,{ID_C},x\n".encode())
    _refused(capsys, late, tmp_path / "data", "第 9002 行含有空字符")


def test_empty_whitespace_and_header_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "empty.csv").write_bytes(b"")
    _refused(capsys, tmp_path / "empty.csv", tmp_path / "data", "是空文件")
    (tmp_path / "blank.csv").write_bytes(b"\n \n\t\n")
    _refused(capsys, tmp_path / "blank.csv", tmp_path / "data", "没有内容")
    head = _csv(tmp_path / "head.csv", [HEADER])
    rc, out, _err = _ingest_cli(capsys, head, tmp_path / "data")
    assert rc == 0 and "0 行" in out
    [b] = api.batches(tmp_path / "data")
    assert (b.rows, b.accepted, b.quarantined) == (0, 0, 0)
    report = json.loads((tmp_path / "data" / "batches" / b.batch_id / "report.json").read_text())
    assert "文件只有表头，没有数据行：本批次为空（0 行）" in report["notes"]


def test_binary_files_renamed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    png = tmp_path / "photo.csv"
    png.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8)
    _refused(capsys, png, tmp_path / "data", "不是文本文件")
    xlsx = tmp_path / "book.csv"
    xlsx.write_bytes(write_xlsx_titled(tmp_path / "b.xlsx").read_bytes())
    _refused(capsys, xlsx, tmp_path / "data", "可能是 Excel")
    noise = tmp_path / "noise.txt"  # no NUL, not UTF-8, not GB18030
    noise.write_bytes(bytes([0x81, 0x20, 0xFF, 0xFE, 0x80]) * 200)
    _refused(capsys, noise, tmp_path / "data", "无法按 UTF-8 或 GB18030 解码")
    pq = tmp_path / "broken.parquet"
    pq.write_bytes(b"PAR1" + b"\x01" * 100)
    _refused(capsys, pq, tmp_path / "data", "不是有效的 Parquet 文件")
    nested = tmp_path / "nested.parquet"
    pl.DataFrame({"姓名": ["张三"], "身份证号码": [[ID_A]]}).write_parquet(nested)
    _refused(capsys, nested, tmp_path / "data", "是嵌套类型")


def test_wrong_encodings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    u16 = tmp_path / "u16.csv"
    u16.write_bytes("\n".join([HEADER, *ROWS]).encode("utf-16"))
    _refused(capsys, u16, tmp_path / "data", "UTF-16 编码")
    gb = _csv(tmp_path / "gb.csv", population_lines(), encoding="gb18030")
    _refused(capsys, gb, tmp_path / "data", "声明为 utf-8 编码", "--encoding", "utf-8",
             encoding="utf-8")  # fmt: skip
    u8 = _csv(tmp_path / "u8.csv", population_lines())
    _refused(capsys, u8, tmp_path / "data", "内容是 UTF-8 编码", "--encoding", "gbk",
             encoding="gbk")  # fmt: skip
    rc, _out, err = _ingest_cli(capsys, u8, tmp_path / "data", "--encoding", "latin-9")
    assert rc == 2 and "不支持的编码“latin-9”" in err
    _no_batch(tmp_path / "data", capsys)


def test_huge_cell_is_kept_whole(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    big = "甲" * (5 * 1024**2 // 3)  # 5 MB of UTF-8
    for name, enc in [("big.csv", "utf-8"), ("big_gb.csv", "gb18030")]:
        path = _csv(tmp_path / name, [HEADER, f"张三,{ID_A},{big}", f"李四,{ID_B},x"], enc)
        data = tmp_path / f"data_{enc}"
        rc, _out, err = _ingest_cli(capsys, path, data)
        assert rc == 0, err
        addresses = api.current_records(data, "population").collect().sort("row")["address"]
        assert addresses.str.len_chars().to_list() == [len(big), 1]
    quoted = _csv(tmp_path / "bigq.csv", [HEADER, f'张三,{ID_A},"{big},5""号"', ROWS[1]])
    res = ingest_file(tmp_path / "dq", quoted, source="s", kind="population", as_of="2017-12-31")
    assert res.batch.rows == 2


def test_control_characters_and_pattern_like_headers(tmp_path: Path) -> None:
    """Control characters in cells reach the report workbook safely; headers that Polars would
    read as a wildcard or a regex (``*``, ``^.*$``) are names."""
    lines = ["姓名,身份证号码,*,^.*$,_i", f"张\x07三,{ID_A},a,b,c", f"李四,{ID_B},\x1b[31m,d,e"]
    data = tmp_path / "data"
    res = ingest_file(data, _csv(tmp_path / "ctl.csv", lines), source="s", kind="population",
                      as_of="2017-12-31")  # fmt: skip
    assert (res.batch.rows, res.batch.accepted) == (2, 2)
    assert res.report["unmapped_columns"] == ["*（列3）", "^.*$（列4）", "_i（列5）"]
    q = pl.read_parquet(data / "batches" / res.batch.batch_id / "records.parquet")
    assert q.height == 2
