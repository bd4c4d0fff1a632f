from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest

from canbao.cli import run
from canbao.ingest import api
from canbao.ingest.batches import ingest_file
from canbao.warehouse import catalog
from tests.ingest.helpers import ID_A, ID_B, population_lines, write_csv

MESSY = [
    "九江市户籍人口",
    "姓名,公民身份号码,性别,出生日期",
    f"张三,{ID_A},女,1949-12-31",
    f"李四,{ID_B[:-1]}0,男,1990-01-01",  # wrong check character: accepted with a warning
    ",garbage,,",  # neither a usable ID nor a name: quarantined
    "王五,,男,1990-13-45",  # no ID, bad date: accepted with warnings
    ",,,",  # empty line: not a data row
    "合计,,,",  # summary line: quarantined
    f",{ID_B},,",  # ID only: accepted
]


def test_row_counts_balance_and_quarantine_keeps_original(tmp_path: Path) -> None:
    data = tmp_path / "data"
    path = write_csv(tmp_path / "p.csv", MESSY)
    res = ingest_file(data, path, source="police", kind="population", as_of="2017-12-31")
    b = res.batch
    assert (b.rows, b.accepted, b.quarantined) == (6, 4, 2)
    recs = api.current_records(data, "population").collect()
    q = api.current_quarantine(data).collect().sort("row")
    assert sorted(recs["row"].to_list() + q["row"].to_list()) == list(range(1, 7))
    assert q["reason"].to_list() == ["no_identity", "summary_row"]
    assert json.loads(q["original"][0]) == {
        "姓名": None,
        "公民身份号码": "garbage",
        "性别": None,
        "出生日期": None,
    }
    raw_q = pl.read_parquet(data / "batches" / b.batch_id / "quarantine.parquet")
    assert raw_q["公民身份号码"].to_list() == ["garbage", None]
    w = dict(zip(recs["row"].to_list(), recs["warnings"].to_list(), strict=True))
    assert w[2] == ["id_invalid"] and "checksum" in recs.filter(pl.col("row") == 2)["id_errors"][0]
    assert w[4] == ["birth_date_invalid", "id_missing"]
    assert w[6] == ["name_missing"]
    # the report: counts by reason, examples with masked IDs, JSON and xlsx
    rep = json.loads((data / "batches" / b.batch_id / "report.json").read_text("utf-8"))
    assert rep["counts"] == {
        "rows": 6,
        "accepted": 4,
        "quarantined": 2,
        "accepted_with_warnings": 3,
    }
    text = json.dumps(rep, ensure_ascii=False)
    assert ID_A not in text and ID_B not in text and "张三" not in text
    assert (data / "batches" / b.batch_id / "report.xlsx").stat().st_size > 0


def test_reingest_same_file_is_noop(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    path = write_csv(tmp_path / "p.csv", population_lines())
    args = ["ingest", str(path), "--source", "police", "--kind", "population",
            "--as-of", "2017-12-31", "--data-dir", str(data)]  # fmt: skip
    assert run(args) == 0
    capsys.readouterr()
    assert run(args) == 0
    assert "不重复导入" in capsys.readouterr().out.replace("\n", "")
    assert len(api.batches(data)) == 1
    # the same file from another source is another batch
    ingest_file(data, path, source="other", kind="population", as_of="2017-12-31")
    assert len(api.batches(data)) == 2


def test_newer_extract_supersedes_older(tmp_path: Path) -> None:
    data = tmp_path / "data"
    old = write_csv(tmp_path / "huji_2017-06.csv", population_lines()[:2])
    new = write_csv(tmp_path / "huji_2017-12.csv", population_lines())
    b_old = ingest_file(data, old, source="police", kind="population", as_of="2017-06-30").batch
    b_new = ingest_file(data, new, source="police", kind="population", as_of="2017-12-31").batch
    cur = api.current_batches(data, kind="population")
    assert [b.batch_id for b in cur] == [b_new.batch_id]
    all_ = {b.batch_id: b for b in api.batches(data)}
    assert all_[b_old.batch_id].superseded_by == b_new.batch_id
    assert (data / "batches" / b_old.batch_id / "records.parquet").exists()  # kept for history
    recs = api.current_records(data, "population").collect()
    assert recs.height == 3 and recs["as_of"].unique().to_list() == [dt.date(2017, 12, 31)]
    # an older extract ingested later does not take over
    older = write_csv(tmp_path / "huji_2017-03.csv", population_lines()[:3])
    ingest_file(data, older, source="police", kind="population", as_of="2017-03-31")
    assert [b.batch_id for b in api.current_batches(data, "population")] == [b_new.batch_id]
    # the DuckDB views see the same current batches
    con = catalog.connect(data)
    assert con.sql("select count(*) from records_population").fetchall() == [(3,)]
    assert con.sql("select count(*) from batches where current").fetchall() == [(1,)]


def test_map_override_and_saved_profile(tmp_path: Path) -> None:
    data = tmp_path / "data"
    lines = ["人员名字,号码,备注", f"张三,{ID_A},x"]
    path = write_csv(tmp_path / "a.csv", lines)
    # without a map nothing is recognised
    rc = run(["ingest", str(path), "--source", "town", "--kind", "special_group",
              "--data-dir", str(data)])  # fmt: skip
    assert rc == 1
    rc = run(["ingest", str(path), "--source", "town", "--kind", "special_group",
              "--map", "人员名字=name", "--map", "号码=id", "--map", "备注=-",
              "--as-of", "2017-01-31", "--data-dir", str(data)])  # fmt: skip
    assert rc == 0
    prof = json.loads((data / "profiles" / "town.json").read_text("utf-8"))
    assert prof["kinds"]["special_group"]["map"] == {"人员名字": "name", "号码": "id", "备注": "-"}
    # next month's file of the same source: the profile is reused without --map
    path2 = write_csv(tmp_path / "b.csv", [*lines, f"李四,{ID_B},y"])
    res = ingest_file(data, path2, source="town", kind="special_group", as_of="2017-02-28")
    assert res.batch.mapping == {"人员名字": "name", "号码": "id"}
    recs = api.current_records(data, "special_group").collect().sort("row")
    assert recs["id18"].to_list() == [ID_A, ID_B]
    assert recs["name_norm"].to_list() == ["张三", "李四"]


def test_current_records_schema_without_batches(tmp_path: Path) -> None:
    lf = api.current_records(tmp_path / "empty", "employment")
    schema = lf.collect_schema()
    for col in ("batch_id", "row", "id18", "id_errors", "credit_code", "cc_valid", "org_code",
                "employer_name_key", "wage", "period", "warnings"):  # fmt: skip
        assert col in schema
    assert schema["wage"] == pl.Int64 and schema["as_of"] == pl.Date
    assert lf.collect().height == 0


def test_repeated_header_lines_and_mapped_headers_under_titles(tmp_path: Path) -> None:
    data = tmp_path / "data"
    lines = [
        "某镇花名册",
        "人员名字,号码,备注",
        f"张三,{ID_A},x",
        "人员名字,号码,备注",
        f"李四,{ID_B},y",
    ]
    path = write_csv(tmp_path / "a.csv", lines)
    res = ingest_file(
        data, path, source="town", kind="special_group", as_of="2017-01-31",
        mapping={"人员名字": "name", "号码": "id"},
    )  # fmt: skip
    assert res.batch.header_row == 2
    assert (res.batch.rows, res.batch.accepted, res.batch.quarantined) == (3, 2, 1)
    q = api.current_quarantine(data).collect()
    assert q["reason"].to_list() == ["repeated_header"] and q["row"].to_list() == [2]


def test_header_only_file_is_an_empty_batch_and_report_opens(tmp_path: Path) -> None:
    from openpyxl import load_workbook

    data = tmp_path / "data"
    path = write_csv(tmp_path / "deaths.csv", ["姓名,身份证号码,死亡日期"])
    res = ingest_file(data, path, source="civil", kind="death", as_of="2017-12-31")
    assert (res.batch.rows, res.batch.accepted, res.batch.quarantined) == (0, 0, 0)
    assert api.current_records(data, "death").collect().height == 0
    wb = load_workbook(res.report_paths[1], read_only=True)
    assert wb.sheetnames == ["汇总", "隔离与警告", "示例", "列映射"]


def test_ingest_directory_manifest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "delivery"
    (src / "gongan").mkdir(parents=True)
    write_csv(src / "gongan" / "huji.csv", population_lines(), encoding="gb18030")
    write_csv(src / "bad.csv", ["编号,备注", "1,x"])
    manifest = {
        "format": "canbao-manifest/1",
        "as_of": "2017-12-31",
        "files": [
            {"path": "gongan/huji.csv", "source": "police_hukou", "kind": "population",
             "scheme": None, "encoding": "gb18030", "as_of": None, "sheet": None, "map": {}},
            {"path": "bad.csv", "source": "mystery", "kind": "death"},
        ],
    }  # fmt: skip
    (src / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    data = tmp_path / "data"
    assert run(["ingest", str(src), "--data-dir", str(data)]) == 1  # one file failed
    out = capsys.readouterr()
    assert "失败" in out.out and "1 个文件导入失败" in out.err
    [b] = api.batches(data)
    assert (b.source, b.as_of, b.rows, b.encoding) == (
        "police_hukou",
        dt.date(2017, 12, 31),
        3,
        "gb18030",
    )
    assert run(["ingest", str(src), "--data-dir", str(data), "--kind", "death"]) == 2
    assert run(["batches", "--data-dir", str(data), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [x["batch_id"] for x in listed] == [b.batch_id]
