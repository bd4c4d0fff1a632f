"""A whole `canbao demo` run, with DEBUG logging on, prints no citizen ID and no full name.

The demo's terminal output, every log line (stderr at DEBUG) and its text logs (the ingest
summary) are searched for anything shaped like an ID number and for every full name of the
synthetic city's residents. On failure the test says where, never what."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import polars as pl

from canbao.standards import masking

ID_SHAPE = re.compile(r"(?<!\d)\d{6}(18|19|20)\d{2}(0[1-9]|1[0-2])[0-3]\d\d{3}[\dXx]?(?![\dXx])")


def _names(out: Path) -> set[str]:
    from canbao.ingest.api import current_records

    names = current_records(out / "data", "population").select("name").collect()["name"]
    return {n for n in names.drop_nulls().unique().to_list() if len(n) >= 2}


def test_demo_prints_no_id_and_no_full_name(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    env = {**os.environ, "CANBAO_LOG_LEVEL": "DEBUG", "CANBAO_NO_SERVE": "1", "COLUMNS": "200"}
    proc = subprocess.run(
        [sys.executable, "-m", "canbao", "demo", "--out", str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    texts = {"stdout": proc.stdout, "stderr": proc.stderr}
    texts.update({str(p.relative_to(out)): p.read_text("utf-8") for p in out.rglob("*.txt")})
    texts.update({str(p.relative_to(out)): p.read_text("utf-8") for p in out.rglob("*.log")})
    assert "演示完成" in proc.stdout
    names = _names(out)
    assert len(names) > 1000  # the city's residents are there to look for
    _check_store(out)
    _check_collection(out)
    for where, text in texts.items():
        assert not ID_SHAPE.search(text), f"an ID-shaped number in {where}"
        assert not masking.looks_like_id(text), f"an ID in {where}"
        words = set(re.findall(r"[\u4e00-\u9fff·]{2,}", text))
        leaked = sum(1 for w in words for n in names if n in w)
        assert leaked == 0, f"{leaked} full names in {where}"


def _check_store(out: Path) -> None:
    """The store step: accounts for every role (file readable by the owner only), a review
    decision signed by a named user, an audit log that verifies, a backup."""
    from canbao.store import audit_log, open_store, roles

    creds = out / "store" / "demo-accounts.txt"
    assert creds.stat().st_mode & 0o077 == 0
    listed = {
        line.split("\t")[1].split("（")[0] for line in creds.read_text("utf-8").splitlines()[1:]
    }
    assert listed == set(roles.ROLES)
    store = open_store(out / "data")
    assert audit_log.verify(store)[1] == []
    decided = audit_log.entries(store, action="review.decide")
    assert [e.actor for e in decided] == ["city_li"]
    store.dispose()
    assert (out / "store" / "backup.zip").stat().st_size > 0


def test_log_lines_are_masked(capsys) -> None:  # type: ignore[no-untyped-def]
    import logging

    from canbao import logs

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        logs.configure("INFO")
        logging.getLogger("canbao.test").warning("bad id %s in row %d", "110101199003074514", 3)
        err = capsys.readouterr().err
    finally:  # leave the test process's logging as it was
        root.handlers[:] = handlers
        root.setLevel(level)
    assert "110101********4514" in err and "in row 3" in err
    assert not masking.looks_like_id(err)
    assert pl.Series([err]).str.contains("199003").item() is False


def _check_collection(out: Path) -> None:
    """The collection step: the ledger export in the contract's columns (yuan text), the KPIs
    with 清欠率, and the debtor's three Word documents naming the employer."""
    import json

    from docx import Document

    base = out / "collection"
    ledger = pl.read_csv(base / "ledger.csv", infer_schema_length=0)
    assert ledger.columns == [
        "employer_key", "credit_code", "employer_name", "county_code", "ownership", "scheme",
        "period", "due_date", "due", "paid", "balance", "late_fee", "estimated",
    ]  # fmt: skip
    assert ledger.height > 1000 and ledger["balance"].str.contains(r"^-?\d+\.\d{2}$").all()
    kpis = json.loads((base / "kpi.json").read_text("utf-8"))
    assert {"clearance_rate.private", "new_arrears_ratio.public", "collected.employee_pension"} <= {
        k["indicator"] for k in kpis if k["unit"] == "city"
    }
    docs = sorted((base / "documents").glob("*.docx"))
    assert len(docs) == 3
    for doc in docs:
        text = "\n".join(par.text for par in Document(str(doc)).paragraphs)
        assert "统一社会信用代码" in text and "人力资源和社会保障局" in text, doc.name
