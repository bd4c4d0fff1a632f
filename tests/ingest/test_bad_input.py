"""Every kind of bad input: a CanbaoError with a Chinese message, non-zero exit, no batch left."""

from __future__ import annotations

from pathlib import Path

import pytest

from canbao.cli import run
from canbao.errors import CanbaoError, DataError, InputFileError, NotFoundError, UsageError
from canbao.ingest.batches import ingest_file
from tests.ingest.helpers import population_lines, write_csv, write_xlsx_titled


def _no_batch_left(data: Path) -> None:
    batches = data / "batches"
    assert not batches.exists() or not any(batches.iterdir())


def _fails(tmp_path: Path, path: Path, exc: type[CanbaoError], **kw: object) -> CanbaoError:
    data = tmp_path / "data"
    kw.setdefault("kind", "population")
    with pytest.raises(exc) as ei:
        ingest_file(data, path, source="s", as_of="2017-12-31", **kw)  # type: ignore[arg-type]
    _no_batch_left(data)
    err = ei.value
    assert any("\u4e00" <= ch <= "\u9fff" for ch in err.message_zh) and err.message_en
    return err


def test_missing_file(tmp_path: Path) -> None:
    _fails(tmp_path, tmp_path / "nope.csv", InputFileError)


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "e.csv").write_bytes(b"")
    _fails(tmp_path, tmp_path / "e.csv", InputFileError)
    (tmp_path / "w.csv").write_bytes(b"\n\n  \n")
    _fails(tmp_path, tmp_path / "w.csv", InputFileError)


def test_binary_file(tmp_path: Path) -> None:
    (tmp_path / "b.csv").write_bytes(bytes(range(256)) * 4)
    _fails(tmp_path, tmp_path / "b.csv", InputFileError)
    write_xlsx_titled(tmp_path / "x.xlsx")
    (tmp_path / "x.csv").write_bytes((tmp_path / "x.xlsx").read_bytes())  # xlsx named .csv
    _fails(tmp_path, tmp_path / "x.csv", InputFileError)


def test_unknown_kind_and_scheme(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "p.csv", population_lines())
    _fails(tmp_path, path, UsageError, kind="people")
    _fails(tmp_path, path, UsageError, kind="enrollment", scheme="pension")
    _fails(tmp_path, path, UsageError, kind="enrollment")  # scheme required
    _fails(tmp_path, path, UsageError, kind="population", scheme="employee_pension")


def test_no_identity_column(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "p.csv", ["编号,地址", "1,浔阳区"])
    err = _fails(tmp_path, path, DataError)
    assert "身份证号码或姓名" in err.message_zh
    emp = write_csv(tmp_path / "e.csv", ["序号,备注", "1,x"])
    _fails(tmp_path, emp, DataError, kind="employer")


def test_wrong_encoding_claim(tmp_path: Path) -> None:
    gb = write_csv(tmp_path / "gb.csv", population_lines(), encoding="gb18030")
    _fails(tmp_path, gb, InputFileError, encoding="utf-8")
    u8 = write_csv(tmp_path / "u8.csv", population_lines(), encoding="utf-8")
    _fails(tmp_path, u8, InputFileError, encoding="gbk")
    _fails(tmp_path, u8, UsageError, encoding="latin-9")


def test_truncated_xlsx(tmp_path: Path) -> None:
    full = write_xlsx_titled(tmp_path / "full.xlsx").read_bytes()
    (tmp_path / "t.xlsx").write_bytes(full[: len(full) // 2])
    _fails(tmp_path, tmp_path / "t.xlsx", InputFileError, kind="enrollment", scheme="maternity")
    (tmp_path / "n.xls").write_bytes(b"not an excel file at all" * 20)
    _fails(tmp_path, tmp_path / "n.xls", InputFileError)


def test_missing_sheet(tmp_path: Path) -> None:
    path = write_xlsx_titled(tmp_path / "full.xlsx")
    _fails(tmp_path, path, NotFoundError, kind="enrollment", scheme="maternity", sheet="无此表")


def test_duplicate_headers(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "d.csv", ["姓名,身份证号码,姓名", "甲,1,乙"])
    err = _fails(tmp_path, path, DataError)
    assert "重复" in err.message_zh


def test_bad_map_argument(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "p.csv", population_lines())
    _fails(tmp_path, path, UsageError, mapping={"不存在的列": "name"})
    _fails(tmp_path, path, UsageError, mapping={"住址": "no_such_field"})


def test_cli_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    rc = run(["ingest", str(tmp_path / "nope.csv"), "--source", "s", "--kind", "population",
              "--data-dir", str(data)])  # fmt: skip
    err = capsys.readouterr().err
    assert rc == 1 and "文件不存在" in err and "not found" in err
    path = write_csv(tmp_path / "p.csv", population_lines())
    rc = run(["ingest", str(path), "--source", "s", "--kind", "nope", "--data-dir", str(data)])
    assert rc == 2 and "未知的记录类型" in capsys.readouterr().err
    rc = run(["ingest", str(path), "--kind", "population", "--data-dir", str(data)])
    assert rc == 2
    _no_batch_left(data)
