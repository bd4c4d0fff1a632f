"""/reports: the 通报 generated on request is the workbook ``canbao report`` writes (and its
ranking the dashboard's); gap lists are real xlsx files of the viewer's scope — a county user's
hold their county only — need export.personal, and are audit-logged; a job is its owner's."""

from __future__ import annotations

import io
import re
import shutil
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from canbao.coverage import api as coverage
from canbao.coverage.worklist import COLUMNS_ZH, LIST_TITLES_ZH
from canbao.plan.report.pdf import CANDIDATES
from canbao.store import audit_log
from tests.web.conftest import csrf_of, signed_in
from tests.web.test_dashboard import Planned, pc, planned, tongbao_ranking  # noqa: F401


def start(c: TestClient, path: str, data: dict[str, str], htmx: bool = False) -> str:
    """Post a generation form; the job's id (from the fragment or the redirect)."""
    headers = {"HX-Request": "true"} if htmx else {}
    r = c.post(path, data={**data, "csrf_token": csrf_of(c)}, headers=headers,
               follow_redirects=False)  # fmt: skip
    if htmx:
        assert r.status_code == 200 and "生成中" in r.text and "hx-trigger" in r.text
        return re.search(r'id="job-([0-9a-f]{16})"', r.text).group(1)  # type: ignore[union-attr]
    assert r.status_code == 303, r.text[:300]
    return r.headers["location"].rsplit("#job-", 1)[1]


def finished(c: TestClient, job: str, seconds: float = 120) -> str:
    """Poll the job's fragment until it is no longer 生成中; its last fragment."""
    end = time.monotonic() + seconds
    while True:
        r = c.get(f"/reports/jobs/{job}", headers={"HX-Request": "true"})
        assert r.status_code == 200
        if "生成中" not in r.text:
            assert "hx-trigger" not in r.text  # polling stops
            return r.text
        assert time.monotonic() < end, "job did not finish"
        time.sleep(0.2)


def links(fragment: str) -> list[str]:
    return re.findall(r'href="(/reports/jobs/[0-9a-f]+/files/[^"]+)"', fragment)


def test_the_generated_tongbao_is_canbao_reports(
    planned: Planned,  # noqa: F811
    pc: TestClient,  # noqa: F811
    tmp_path: Path,
) -> None:
    signed_in(pc, "w_xiushui")
    page = pc.get("/reports")
    assert page.status_code == 200 and "生成通报" in page.text
    job = start(pc, "/reports/tongbao", {"as_of": planned.as_of.isoformat()}, htmx=True)
    done = finished(pc, job)
    assert "已完成" in done, done
    files = links(done)
    assert [f.rsplit(".", 1)[1] for f in files] == ["xlsx", "html"]
    xlsx = pc.get(files[0])
    assert xlsx.status_code == 200 and "attachment" in xlsx.headers["content-disposition"]
    got = load_workbook(io.BytesIO(xlsx.content), data_only=True)
    want_rows, tp, want_path = tongbao_ranking(planned, tmp_path)
    rows = [r for r in got["综合排名"].iter_rows(min_row=4, values_only=True) if r[1]]
    assert rows == want_rows
    assert got.sheetnames == load_workbook(want_path).sheetnames
    html = pc.get(files[1])
    assert html.status_code == 200 and "attachment" in html.headers["content-disposition"]
    assert "全市社会保险扩面征缴工作进展情况通报" in html.content.decode("utf-8")
    # the files live under the data directory, and the page lists the job
    assert (planned.city.data / "web" / "reports" / job / "job.json").is_file()
    assert f'id="job-{job}"' in pc.get("/reports").text


@pytest.mark.skipif(
    not any(shutil.which(n) for n in CANDIDATES), reason="Chromium is not installed"
)
def test_the_pdf_is_made_by_chromium_in_the_background(
    planned: Planned,  # noqa: F811
    pc: TestClient,  # noqa: F811
) -> None:
    signed_in(pc, "w_leader")
    job = start(pc, "/reports/tongbao", {"as_of": planned.as_of.isoformat(), "pdf": "1"})
    done = finished(pc, job, seconds=240)
    pdf = [f for f in links(done) if f.endswith(".pdf")]
    assert len(pdf) == 1, done
    r = pc.get(pdf[0])
    assert r.status_code == 200 and r.content.startswith(b"%PDF")


def test_a_county_users_gap_lists_hold_their_county_only(
    planned: Planned,  # noqa: F811
    pc: TestClient,  # noqa: F811
) -> None:
    signed_in(pc, "w_xiushui")
    job = start(pc, "/reports/gaps", {"kind": "", "county": ""})
    done = finished(pc, job)
    assert "已完成" in done and "已脱敏" in done, done
    [href] = links(done)
    r = pc.get(href)
    assert r.status_code == 200
    wb = load_workbook(io.BytesIO(r.content), read_only=True)
    want = coverage.gap_lists(planned.city.data, planned.scope("w_xiushui"))
    county = COLUMNS_ZH["county_code"]
    rows = 0
    for key, frame in want.items():
        ws = wb[LIST_TITLES_ZH.get(key, key)[:31]]
        values = list(ws.iter_rows(values_only=True))
        header, data = values[0], values[1:]
        assert len(data) == frame.height, key
        if county in header:
            assert {row[header.index(county)] for row in data} <= {planned.city.here}, key
        rows += frame.height
    assert rows > 0
    logged = audit_log.entries(planned.store, actor="w_xiushui", action="export", limit=5)
    assert logged[0].object_type == "gaps" and logged[0].detail == {"rows": rows}
    # another county's user cannot see or fetch the job
    signed_in(pc, "w_xunyang")
    assert pc.get(f"/reports/jobs/{job}").status_code == 404
    assert pc.get(href).status_code == 404
    assert f"job-{job}" not in pc.get("/reports").text


def test_gap_lists_need_the_export_permission(
    planned: Planned,  # noqa: F811
    pc: TestClient,  # noqa: F811
) -> None:
    signed_in(pc, "w_xiushui")
    refused = pc.post(
        "/reports/gaps",
        data={"kind": "", "county": planned.city.there, "csrf_token": csrf_of(pc)},
    )
    assert refused.status_code == 403  # another county
    signed_in(pc, "w_leader")  # export.aggregate, no personal data
    page = pc.get("/reports").text
    assert 'value="employers"' in page and 'value="uninsured"' not in page
    r = pc.post("/reports/gaps", data={"kind": "uninsured", "csrf_token": csrf_of(pc)})
    assert r.status_code == 403 and "导出含个人信息的清单" in r.text
    job = start(pc, "/reports/gaps", {"kind": "employers"})
    assert "已完成" in finished(pc, job)
    signed_in(pc, "w_collector")  # export.aggregate only
    r = pc.post("/reports/gaps", data={"kind": "", "csrf_token": csrf_of(pc)})
    assert r.status_code == 403
    bad = pc.post("/reports/gaps", data={"kind": "nope", "csrf_token": csrf_of(pc)})
    assert bad.status_code == 400 and "未知的清单类型" in bad.text


def test_forms_need_the_csrf_token(pc: TestClient) -> None:  # noqa: F811
    signed_in(pc, "w_city")
    r = pc.post("/reports/tongbao", data={"as_of": "2017-12-31"})
    assert r.status_code == 403
