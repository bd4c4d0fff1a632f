"""数据: batches and their validation reports, the registry snapshot, and the data team's
upload (ingest and an incremental build in a background job, with a progress page).

Uploads change the data directory, so they run on a module-scoped copy of the session city
with its own store and app; the read-only pages use the shared app."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from canbao.errors import UsageError
from canbao.registry import snapshot
from canbao.store import audit_log, open_store
from canbao.store.db import Store
from canbao.synth.month import new_enrolment_extract
from canbao.warehouse import catalog
from canbao.web import create_app
from canbao.web import jobs as web_jobs
from canbao.web.routes import data as data_routes
from tests.web.conftest import City, csrf_of, signed_in

TIMEOUT = 300.0  # seconds a job may take (an incremental build of the small city)


@dataclass(frozen=True)
class Copy:
    data: Path
    app: FastAPI
    store: Store

    @property
    def jobs(self) -> web_jobs.Jobs:
        st = self.app.state.canbao
        return web_jobs.jobs_of(st.extra, st.data_dir, st.store)


@pytest.fixture(scope="module")
def copy(city: City, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Copy]:
    data = tmp_path_factory.mktemp("web-data-copy") / "data"
    shutil.copytree(city.data, data, ignore=shutil.ignore_patterns(".work", ".lock"))
    store = open_store(data)
    app = create_app(data, store=store)
    yield Copy(data, app, store)
    jobs = app.state.canbao.extra.get(web_jobs.EXTRA_KEY)
    if jobs is not None:
        jobs.shutdown(wait=True)
    store.dispose()


@pytest.fixture
def staff(copy: Copy) -> Iterator[TestClient]:
    with TestClient(copy.app, raise_server_exceptions=False) as c:
        yield signed_in(c, "w_city")


def _form(**fields: str) -> dict[str, str]:
    base = {"source": "web_upload_test", "kind": "enrollment", "scheme": "resident_medical",
            "as_of": "2018-01-31", "sheet": "", "encoding": ""}  # fmt: skip
    return base | fields


def _upload(c: TestClient, name: str, body: bytes, *, header: bool = True, **fields: str) -> Any:
    csrf = csrf_of(c)
    form = _form(**fields)
    headers = {"X-CSRF-Token": csrf} if header else {}
    if not header:
        form["csrf_token"] = csrf
    return c.post(
        "/data/upload", data=form, files={"file": (name, body, "text/csv")},
        headers=headers, follow_redirects=False,
    )  # fmt: skip


def _job_of(r: Any) -> str:
    assert r.status_code == 303, r.text[:500]
    location = r.headers["location"]
    assert location.startswith("/data/jobs/")
    return str(location.rsplit("/", 1)[1])


def _wait(c: TestClient, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + TIMEOUT
    while True:
        r = c.get(f"/api/data/jobs/{job_id}")
        assert r.status_code == 200, r.text[:300]
        job: dict[str, Any] = r.json()
        if job["finished"]:
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.2)


def _entries(store: Store, job_id: str) -> list[Any]:
    found = audit_log.entries(store, limit=500)
    return [e for e in found if e.object_type == "ingest_job" and e.object_keys[0] == job_id]


# --- reading ---------------------------------------------------------------------------------


def test_the_data_page_lists_the_batches_and_the_registry(client: TestClient, city: City) -> None:
    signed_in(client, "w_city")
    page = client.get("/data")
    assert page.status_code == 200
    batches = catalog.list_batches(city.data)
    assert batches
    for b in batches:
        assert f'href="/data/batches/{b.batch_id}"' in page.text
    build = snapshot.require_current(city.data).build_id
    assert build in page.text and "当前登记库" in page.text
    assert 'name="kind"' in page.text and "参保登记（enrollment）" in page.text
    assert 'enctype="multipart/form-data"' in page.text and 'name="csrf_token"' in page.text
    assert "<script>" not in page.text and "style=" not in page.text
    api = client.get("/api/data/batches").json()
    assert {b["batch_id"] for b in api["batches"]} == {b.batch_id for b in batches}
    assert api["registry"]["build_id"] == build


def test_a_batch_report_renders_and_downloads(client: TestClient, city: City, app) -> None:  # type: ignore[no-untyped-def]
    signed_in(client, "w_city")
    batches = catalog.list_batches(city.data)
    batch = max(batches, key=lambda b: (b.quarantined, b.warned))
    page = client.get(f"/data/batches/{batch.batch_id}")
    assert page.status_code == 200
    assert "校验报告" in page.text and batch.file_name in page.text and "列映射" in page.text
    assert f"{batch.rows:,}" in page.text
    xlsx = client.get(f"/data/batches/{batch.batch_id}/report?format=xlsx")
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    assert "attachment" in xlsx.headers["content-disposition"]
    as_json = client.get(f"/data/batches/{batch.batch_id}/report?format=json")
    assert as_json.json()["counts"]["rows"] == batch.rows
    logged = audit_log.entries(app.state.canbao.store, action="export", limit=20)
    assert any(e.object_type == "ingest_report" and batch.batch_id in e.object_keys for e in logged)
    assert client.get("/data/batches/no-such-batch").status_code == 404
    assert client.get("/data/batches/..%2F..%2Fetc/report").status_code == 404


def test_other_roles_cannot_see_or_upload(copy: Copy) -> None:
    for user in ("w_xiushui", "w_leader", "w_auditor"):
        with TestClient(copy.app, raise_server_exceptions=False) as c:
            signed_in(c, user)
            assert c.get("/data").status_code == 403
            r = _upload(c, "x.csv", b"id,name\n1,2\n")
            assert r.status_code == 403, (user, r.status_code)
            assert "没有权限" in r.text
    assert not list((copy.data / web_jobs.UPLOADS).glob("*/*"))


def test_an_upload_without_the_csrf_token_is_refused(staff: TestClient, copy: Copy) -> None:
    r = staff.post(
        "/data/upload", data=_form(), files={"file": ("a.csv", b"x,y\n1,2\n", "text/csv")},
        follow_redirects=False,
    )  # fmt: skip
    assert r.status_code == 403 and "CSRF" in r.text
    r = staff.post(
        "/data/upload", data=_form() | {"csrf_token": "forged"},
        files={"file": ("a.csv", b"x,y\n1,2\n", "text/csv")}, follow_redirects=False,
    )  # fmt: skip
    assert r.status_code == 403


# --- uploading -------------------------------------------------------------------------------


def test_a_valid_extract_is_ingested_and_the_registry_updated(
    staff: TestClient, copy: Copy, city: City, tmp_path: Path
) -> None:
    before = snapshot.require_current(copy.data).build_id
    known = {b.batch_id for b in catalog.list_batches(copy.data)}
    extract = new_enrolment_extract(city.data.parent / "city", tmp_path / "jumin.csv", share=0.05)
    job_id = _job_of(_upload(staff, "../../居民医保 2018-01.csv", extract.read_bytes()))
    page = staff.get(f"/data/jobs/{job_id}")
    assert page.status_code == 200 and "导入任务" in page.text
    job = _wait(staff, job_id)
    assert job["state"] == "done", job
    assert job["stage"] == "完成" and "登记库已增量更新" in job["message"]
    new = [b for b in catalog.list_batches(copy.data) if b.batch_id not in known]
    assert [b.batch_id for b in new] == [job["result"]["batch_id"]]
    batch = new[0]
    assert batch.source == "web_upload_test" and batch.scheme == "resident_medical"
    assert batch.file_name == "居民医保_2018-01.csv"  # the client's path is not trusted
    stored = Path(batch.file_path)
    assert stored.parent.parent == (copy.data / web_jobs.UPLOADS).resolve()
    assert batch.rows == len(extract.read_text(encoding="utf-8").splitlines()) - 1
    after = snapshot.require_current(copy.data)
    assert after.build_id != before and after.build_id == job["result"]["build_id"]
    assert after.info["mode"] == "incremental"
    done = staff.get(f"/data/jobs/{job_id}")
    assert "完成" in done.text and 'hx-trigger="every 1s"' not in done.text
    assert batch.batch_id in staff.get("/data").text
    actions = [e.action for e in _entries(copy.store, job_id)]
    assert sorted(actions) == ["data.ingest", "data.upload"]
    result = next(e for e in _entries(copy.store, job_id) if e.action == "data.ingest")
    assert result.actor == "w_city" and result.detail["state"] == "done"
    assert result.detail["batch_id"] == batch.batch_id
    # the same file again: nothing new to import, no new build
    again = _wait(staff, _job_of(_upload(staff, "居民医保 2018-01.csv", extract.read_bytes())))
    assert again["state"] == "done" and "不重复导入" in again["message"]
    assert snapshot.require_current(copy.data).build_id == after.build_id


@pytest.mark.parametrize(
    ("name", "body", "words"),
    [
        ("wrong.csv", "甲,乙\n1,2\n3,4\n".encode(), "找不到可识别的身份证号码或姓名列"),
        ("binary.csv", b"\x00\x01\x02garbage\x00" * 50, "不是文本文件"),
    ],
)
def test_a_bad_file_fails_in_chinese_and_changes_nothing(
    staff: TestClient, copy: Copy, name: str, body: bytes, words: str
) -> None:
    before = snapshot.require_current(copy.data).build_id
    known = {b.batch_id for b in catalog.list_batches(copy.data)}
    job_id = _job_of(_upload(staff, name, body, header=False))  # a plain form post
    job = _wait(staff, job_id)
    assert job["state"] == "failed" and job["stage"] == "失败"
    assert words in job["message"] and any("\u4e00" <= ch <= "\u9fff" for ch in job["message"])
    assert {b.batch_id for b in catalog.list_batches(copy.data)} == known
    assert snapshot.require_current(copy.data).build_id == before
    assert not copy.jobs.upload_dir(job_id).exists()  # the upload is not kept
    page = staff.get(f"/data/jobs/{job_id}")
    assert "失败" in page.text and 'role="alert"' in page.text
    result = next(e for e in _entries(copy.store, job_id) if e.action == "data.ingest")
    assert result.detail["state"] == "failed" and result.detail["error"] == job["message"]


def test_uploads_are_checked_before_they_are_queued(staff: TestClient, copy: Copy) -> None:
    r = _upload(staff, "report.exe", b"MZ\x90\x00")
    assert r.status_code == 400 and "不支持的文件类型" in r.text
    r = _upload(staff, "a.csv", b"id,name\n1,2\n", scheme="")
    assert r.status_code == 400 and "须选择险种" in r.text
    r = _upload(staff, "a.csv", b"id,name\n1,2\n", as_of="")
    assert r.status_code == 400 and "截止日期" in r.text
    r = _upload(staff, "a.csv", b"id,name\n1,2\n", kind="population")
    assert r.status_code == 400 and "不区分险种" in r.text
    st = copy.app.state.canbao
    st.extra[data_routes.LIMIT_KEY] = 1000
    try:
        for header in (True, False):
            r = _upload(staff, "big.csv", b"id,name\n" + b"1,2\n" * 600, header=header)
            assert r.status_code == 413 and "文件太大" in r.text
    finally:
        del st.extra[data_routes.LIMIT_KEY]
    assert not list((copy.data / web_jobs.UPLOADS).glob("*/.upload.part"))


def test_a_second_upload_waits_in_the_queue(
    staff: TestClient, copy: Copy, monkeypatch: pytest.MonkeyPatch
) -> None:
    jobs = copy.jobs
    release = threading.Event()

    def slow(job: web_jobs.Job) -> None:  # stands in for the ingest and the build
        jobs._set(job, stage=web_jobs.BUILD, detail="测试")
        release.wait(30)
        jobs._finish(job, "测试完成", time.perf_counter())

    monkeypatch.setattr(jobs, "_work", slow)
    try:
        headers = {"X-CSRF-Token": csrf_of(staff), "HX-Request": "true"}
        first = staff.post(
            "/data/upload", data=_form(), files={"file": ("q1.csv", b"id\n1\n", "text/csv")},
            headers=headers,
        )  # fmt: skip
        assert first.status_code == 200 and first.headers["HX-Redirect"].startswith("/data/jobs/")
        one = first.headers["HX-Redirect"].rsplit("/", 1)[1]
        two = _job_of(_upload(staff, "q2.csv", b"id\n2\n"))
        deadline = time.monotonic() + 10
        while staff.get(f"/api/data/jobs/{one}").json()["state"] != "running":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        queued = staff.get(f"/api/data/jobs/{two}").json()
        assert queued["state"] == "queued" and queued["ahead"] == 1
        page = staff.get(f"/data/jobs/{two}")
        assert "排队中" in page.text and "前面还有 1 个" in page.text
        poll = staff.get(f"/data/jobs/{one}", headers={"HX-Request": "true"})
        assert poll.status_code == 200 and "<html" not in poll.text
        assert 'hx-trigger="every 1s"' in poll.text and "更新登记库" in poll.text
        assert "进行中" in poll.text
        assert "排队" in staff.get("/data").text
    finally:
        release.set()
    assert _wait(staff, one)["state"] == "done"
    assert _wait(staff, two)["state"] == "done"
    done = staff.get(f"/data/jobs/{two}", headers={"HX-Request": "true"})
    assert "hx-trigger" not in done.text and "测试完成" in done.text


def test_the_client_file_name_is_not_trusted() -> None:
    assert data_routes.safe_name("../../etc/居民 医保.CSV") == "居民_医保.csv"
    assert data_routes.safe_name("C:\\Users\\x\\.hidden.xlsx") == "hidden.xlsx"
    assert data_routes.safe_name("a\x00b;rm -rf.csv") == "a_b_rm_-rf.csv"
    for bad in ("passwd", "..csv", "x.csv.exe", ""):
        with pytest.raises(UsageError, match="不支持的文件类型"):
            data_routes.safe_name(bad)


def test_a_job_of_another_process_is_found_in_the_audit_log(staff: TestClient, copy: Copy) -> None:
    finished = [j for j in copy.jobs.recent(100) if j["state"] == "failed"]
    assert finished
    job_id = finished[0]["id"]
    st = copy.app.state.canbao
    fresh = web_jobs.from_audit(st.store, job_id)
    assert fresh is not None and fresh["state"] == "failed"
    assert fresh["message"] == finished[0]["message"]
    assert staff.get("/data/jobs/20990101000000-deadbeef").status_code == 404
