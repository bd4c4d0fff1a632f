"""数据: the ingested batches and their validation reports, the registry snapshot and its
history, and the data team's upload of a new extract (ingested and the registry updated in a
background job, :mod:`canbao.web.jobs`, with a progress page polled by htmx).

The uploaded file is written as it arrives into ``DATA/uploads/<job>/`` (never a shared
temporary directory: an extract is personal data), under a sanitised name (the client's name is
never trusted as a path), and refused past the size limit (``$CANBAO_UPLOAD_MAX_MB``, default
1024). A browser page sends the CSRF token as the ``X-CSRF-Token`` header (htmx), so the body is
streamed here; a plain form post has had its body parsed by the CSRF check already and its file
is copied from there.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import re
import shutil
import unicodedata
from pathlib import Path
from typing import IO, Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.datastructures import UploadFile
from starlette.requests import ClientDisconnect

from canbao.errors import NotFoundError, UsageError
from canbao.ingest import batches as ingest_batches
from canbao.ingest import kinds, readers
from canbao.registry import snapshot
from canbao.store import audit_log
from canbao.warehouse import catalog
from canbao.warehouse.catalog import BatchInfo
from canbao.warehouse.datadir import DataLayout
from canbao.web import jobs as web_jobs
from canbao.web.auth import CSRF_HEADER, Viewer, client_of, need
from canbao.web.errors import is_htmx
from canbao.web.state import WebState, state_of

router = APIRouter()
ACTION = "data.ingest"
LIMIT_ENV = "CANBAO_UPLOAD_MAX_MB"
DEFAULT_LIMIT_MB = 1024
LIMIT_KEY = "data.upload_max_bytes"  # WebState.extra override (bytes), e.g. for tests
FIELD_MAX = 4096  # bytes of a text field of the upload form
ENCODINGS = {"": "自动识别", "utf-8": "UTF-8", "gb18030": "GB18030 / GBK"}
HISTORY = 30  # registry builds listed
need_data = need(ACTION)


# --- helpers ---------------------------------------------------------------------------------


def _jobs(st: WebState) -> web_jobs.Jobs:
    return web_jobs.jobs_of(st.extra, st.data_dir, st.store)


def upload_limit(st: WebState) -> int:
    """The largest accepted file, in bytes."""
    override = st.extra.get(LIMIT_KEY)
    if isinstance(override, int) and override > 0:
        return override
    text = os.environ.get(LIMIT_ENV, "").strip()
    try:
        mb = float(text) if text else DEFAULT_LIMIT_MB
    except ValueError:
        mb = DEFAULT_LIMIT_MB
    return int(max(mb, 1) * 1024 * 1024)


def _mb(size: int) -> str:
    return f"{size / 1024 / 1024:,.0f} MB" if size >= 1024 * 1024 else f"{size / 1024:,.0f} KB"


def too_big(limit: int) -> UsageError:
    err = UsageError(
        f"文件太大：上传的文件不能超过 {_mb(limit)}（可由系统管理员调整 {LIMIT_ENV}）；"
        "更大的文件请在服务器上用 canbao ingest 导入",
        f"upload larger than {limit} bytes",
    )
    err.status = 413
    return err


def safe_name(raw: str | None) -> str:
    """A file name to store the upload under: the last part of the client's name, reduced to
    letters, digits, CJK characters, ``_ . -``; its extension one ingest reads."""
    name = unicodedata.normalize("NFKC", raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = re.sub(r"[^\w.\-]+", "_", name, flags=re.UNICODE).strip("._ ")
    stem, dot, ext = name.rpartition(".")
    suffix = f".{ext.lower()}" if dot else ""
    if suffix not in readers.FORMATS:
        shown = suffix or "（无扩展名）"
        allowed = "、".join(sorted({s.lstrip(".") for s in readers.FORMATS}))
        raise UsageError(
            f"不支持的文件类型“{shown}”，可上传：{allowed}", f"unsupported upload type {suffix!r}"
        )
    stem = stem.strip("._ ")[:80] or "upload"
    return stem + suffix


def _built_at(build_id: str, path: Path) -> dt.datetime | None:
    try:
        return dt.datetime.strptime(build_id[:15], "%Y%m%dT%H%M%S")
    except ValueError:
        try:
            return dt.datetime.fromtimestamp(path.stat().st_mtime).replace(microsecond=0)
        except OSError:
            return None


def _build_row(build_id: str, path: Path, info: dict[str, Any]) -> dict[str, Any]:
    inc = info.get("incremental") or {}
    return {
        "build_id": build_id,
        "built_at": _built_at(build_id, path),
        "mode": "增量" if info.get("mode") == "incremental" else "全量",
        "previous": info.get("previous"),
        "counts": info.get("counts") or {},
        "engine": info.get("engine", ""),
        "seconds": round(sum((info.get("seconds") or {}).values()), 1),
        "added": len(inc.get("added") or []),
        "removed": len(inc.get("removed") or []),
        "batches": len(info.get("person_batches") or []),
    }


def registry_state(data_dir: Path) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The current build and the newest :data:`HISTORY` published builds."""
    current = snapshot.current(data_dir)
    now = _build_row(current.build_id, current.path, current.info) if current else None
    root = snapshot.registry_dir(data_dir) / "snapshots"
    history = []
    if root.is_dir():
        for meta in sorted(root.glob("*/build.json"), reverse=True):
            if meta.parent.name.startswith("."):
                continue
            try:
                info = json.loads(meta.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            history.append(_build_row(meta.parent.name, meta.parent, info))
    history.sort(key=lambda r: (r["built_at"] or dt.datetime.min, r["build_id"]), reverse=True)
    return now, history[:HISTORY]


def _find_batch(data_dir: Path, batch_id: str) -> BatchInfo:
    for b in catalog.list_batches(data_dir):
        if b.batch_id == batch_id:
            return b
    raise NotFoundError("没有这个批次（可能已被删除）", "no such batch")


def _report_path(data_dir: Path, batch: BatchInfo, fmt: str) -> Path:
    path = DataLayout(data_dir).batch(batch.batch_id) / f"report.{fmt}"
    if not path.is_file():
        raise NotFoundError("该批次没有校验报告文件", f"batch has no report.{fmt}")
    return path


def _labels() -> dict[str, Any]:
    return {
        "kind_labels": kinds.KIND_LABELS_ZH,
        "scheme_labels": kinds.SCHEME_LABELS_ZH,
        "scheme_kinds": ingest_batches.SCHEME_KINDS,
        "stages": web_jobs.STAGES,
    }


# --- pages -----------------------------------------------------------------------------------


@router.get("/data", response_class=HTMLResponse, include_in_schema=False)
def data_page(request: Request, who: Annotated[Viewer, Depends(need_data)]) -> Response:
    who.scope.require_city_wide("数据导入")
    st = state_of(request)
    batches = sorted(catalog.list_batches(st.data_dir), key=lambda b: b.ingested_at, reverse=True)
    current, history = registry_state(st.data_dir)
    jobs = _jobs(st)
    context: dict[str, Any] = {
        "viewer": who,
        "batches": batches,
        "current_count": sum(1 for b in batches if b.current),
        "build": current,
        "history": history,
        "jobs": jobs.recent(),
        "busy": jobs.busy(),
        "limit": _mb(upload_limit(st)),
        "formats": ",".join(sorted(readers.FORMATS)),
        "encodings": ENCODINGS,
        "today": dt.date.today().isoformat(),
        **_labels(),
    }
    return st.templates.TemplateResponse(request, "data.html", context)


@router.get("/data/batches/{batch_id}", response_class=HTMLResponse, include_in_schema=False)
def batch_page(
    request: Request, batch_id: str, who: Annotated[Viewer, Depends(need_data)]
) -> Response:
    who.scope.require_city_wide("数据导入")
    st = state_of(request)
    batch = _find_batch(st.data_dir, batch_id)
    report = json.loads(_report_path(st.data_dir, batch, "json").read_text(encoding="utf-8"))
    context: dict[str, Any] = {
        "viewer": who,
        "batch": batch,
        "report": report,
        "examples": who.scope.personal,  # masked IDs and names of example rows
        "has_xlsx": (DataLayout(st.data_dir).batch(batch.batch_id) / "report.xlsx").is_file(),
        **_labels(),
    }
    return st.templates.TemplateResponse(request, "data_batch.html", context)


@router.get("/data/batches/{batch_id}/report", include_in_schema=False)
def batch_report(
    request: Request,
    batch_id: str,
    who: Annotated[Viewer, Depends(need_data)],
    format: str = "xlsx",
) -> Response:
    """The validation report file (xlsx or json; IDs and names masked), logged as an export."""
    who.scope.require_city_wide("数据导入")
    if format not in ("xlsx", "json"):
        raise UsageError("报告格式只能是 xlsx 或 json", f"bad report format {format!r}")
    st = state_of(request)
    batch = _find_batch(st.data_dir, batch_id)
    path = _report_path(st.data_dir, batch, format)
    name = f"校验报告-{batch.batch_id}.{format}"
    audit_log.log(
        st.store,
        audit_log.Event(
            who.name, who.role, "export", "ingest_report", (batch.batch_id, name), (),
            client_of(request), {"format": format},
        ),
    )  # fmt: skip
    media = (
        "application/json"
        if format == "json"
        else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    return FileResponse(path, media_type=media, filename=name)


@router.get("/data/jobs/{job_id}", response_class=HTMLResponse, include_in_schema=False)
def job_page(request: Request, job_id: str, who: Annotated[Viewer, Depends(need_data)]) -> Response:
    who.scope.require_city_wide("数据导入")
    st = state_of(request)
    job = _job_view(st, job_id)
    context: dict[str, Any] = {"viewer": who, "job": job, **_labels()}
    name = "job_status.html" if is_htmx(request) else "job.html"
    return st.templates.TemplateResponse(request, name, context)


def _job_view(st: WebState, job_id: str) -> dict[str, Any]:
    job = _jobs(st).get(job_id)
    if job is None and re.fullmatch(r"[0-9]{14}-[0-9a-f]{8}", job_id):
        job = web_jobs.from_audit(st.store, job_id)
    if job is None:
        raise NotFoundError("没有这个导入任务", "no such job")
    return job


# --- the upload --------------------------------------------------------------------------------


@dataclasses.dataclass
class _Received:
    fields: dict[str, str]
    client_name: str | None
    size: int


class _Stream:
    """The callbacks of a streamed multipart body: the one file part written to ``part`` as it
    arrives (at most ``limit`` bytes), the text fields kept (each at most :data:`FIELD_MAX`)."""

    def __init__(self, part: Path, limit: int) -> None:
        self.part, self.limit = part, limit
        self.fields: dict[str, str] = {}
        self.client_name: str | None = None
        self.size = 0
        self._out: IO[bytes] | None = None
        self._header = [b"", b""]
        self._disposition = b""
        self._name = ""
        self._is_file = False
        self._text = bytearray()

    def callbacks(self) -> dict[str, Any]:
        return {
            "on_part_begin": self._begin,
            "on_header_field": lambda d, s, e: self._add(0, d[s:e]),
            "on_header_value": lambda d, s, e: self._add(1, d[s:e]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_done,
            "on_part_data": self._data,
            "on_part_end": self._end,
        }

    def _begin(self) -> None:
        self._header, self._disposition, self._text = [b"", b""], b"", bytearray()

    def _add(self, i: int, data: bytes) -> None:
        self._header[i] += data

    def _header_end(self) -> None:
        if self._header[0].lower() == b"content-disposition":
            self._disposition = self._header[1]
        self._header = [b"", b""]

    def _headers_done(self) -> None:
        _, options = parse_options_header(self._disposition)
        self._name = options.get(b"name", b"").decode("utf-8", "replace")
        self._is_file = b"filename" in options
        if self._is_file:
            if self._out is not None or self._name != "file":
                raise UsageError("一次只能上传一个文件", "more than one file part")
            self.client_name = options[b"filename"].decode("utf-8", "replace")
            self._out = self.part.open("wb")

    def _data(self, data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        if not self._is_file:
            if len(self._text) + len(chunk) > FIELD_MAX:
                raise UsageError("表单内容过长", f"form field {self._name!r} too long")
            self._text += chunk
            return
        self.size += len(chunk)
        if self.size > self.limit:
            raise too_big(self.limit)
        assert self._out is not None
        self._out.write(chunk)

    def _end(self) -> None:
        if not self._is_file:
            if len(self.fields) >= 20:
                raise UsageError("表单字段过多", "too many form fields")
            self.fields[self._name] = self._text.decode("utf-8", "replace")

    def close(self) -> None:
        if self._out is not None:
            self._out.close()


async def _stream_body(request: Request, part: Path, limit: int) -> _Received:
    ctype = request.headers.get("content-type", "")
    kind, params = parse_options_header(ctype)
    boundary = params.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise UsageError("请通过上传表单提交文件（multipart/form-data）", "not a multipart body")
    sink = _Stream(part, limit)
    parser = MultipartParser(boundary, sink.callbacks())  # type: ignore[arg-type]
    try:
        async for chunk in request.stream():
            if chunk:
                parser.write(chunk)
        parser.finalize()
    except ClientDisconnect as e:
        raise UsageError("上传中断，请重新上传", "client disconnected during upload") from e
    except (UsageError, OSError):
        raise
    except Exception as e:  # noqa: BLE001 (a malformed body: python_multipart's parse errors)
        raise UsageError("上传的表单格式不正确，请重新上传", "malformed multipart body") from e
    finally:
        sink.close()
    return _Received(sink.fields, sink.client_name, sink.size)


def _copy_upload(upload: UploadFile, part: Path, limit: int) -> int:
    size = 0
    upload.file.seek(0)
    with part.open("wb") as out:
        while chunk := upload.file.read(1 << 20):
            size += len(chunk)
            if size > limit:
                raise too_big(limit)
            out.write(chunk)
    return size


async def _parsed_form(request: Request, part: Path, limit: int) -> _Received:
    """The body the CSRF check has parsed already (a plain form post)."""
    form = await request.form()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        return _Received(fields, None, 0)
    size = await run_in_threadpool(_copy_upload, upload, part, limit)
    return _Received(fields, upload.filename, size)


def _check_request(got: _Received, file_name: str) -> web_jobs.Request:
    f = {k: v.strip() for k, v in got.fields.items()}
    source, kind, scheme = f.get("source", ""), f.get("kind", ""), f.get("scheme") or None
    if not source:
        raise UsageError("请填写数据来源（如 police_hukou）", "source is required")
    if len(source) > 64 or any(unicodedata.category(c).startswith("C") for c in source):
        raise UsageError("数据来源名称过长或含有不可见字符", "bad source name")
    if kind in kinds.KINDS and kind == "enrollment" and scheme is None:
        raise UsageError("参保登记数据须选择险种（每个文件一个险种）", "enrollment needs a scheme")
    if kind in kinds.KINDS and scheme is not None and kind not in ingest_batches.SCHEME_KINDS:
        label = kinds.KIND_LABELS_ZH[kind]
        raise UsageError(
            f"记录类型“{label}”不区分险种，请将险种选为“不区分险种”", "scheme not for this kind"
        )
    ingest_batches.check_kind(kind, scheme)
    if not f.get("as_of"):
        raise UsageError("请填写数据截止日期（YYYY-MM-DD）", "as_of is required")
    as_of = ingest_batches.parse_as_of(f["as_of"])
    assert as_of is not None
    encoding = f.get("encoding") or None
    if encoding is not None and encoding not in ENCODINGS:
        raise UsageError("不支持的文本编码，请选择“自动识别”", f"bad encoding {encoding!r}")
    sheet = f.get("sheet") or None
    if sheet is not None and len(sheet) > 100:
        raise UsageError("工作表名称过长", "sheet name too long")
    return web_jobs.Request(source, kind, scheme, as_of, file_name, got.size, sheet, encoding)


@router.post("/data/upload", include_in_schema=False)
async def upload(request: Request, who: Annotated[Viewer, Depends(need_data)]) -> Response:
    """Save the file, queue its ingest and the registry update, send the browser to the job."""
    who.scope.require_city_wide("数据导入")
    st = state_of(request)
    limit = upload_limit(st)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit + 64 * 1024:
        raise too_big(limit)
    jobs = _jobs(st)
    job_id = jobs.new_id()
    folder = jobs.upload_dir(job_id)
    await run_in_threadpool(folder.mkdir, parents=True)
    part = folder / ".upload.part"
    try:
        streamed = who.via == "api" or bool(request.headers.get(CSRF_HEADER))
        got = await (_stream_body if streamed else _parsed_form)(request, part, limit)
        if got.client_name is None or not part.exists():
            raise UsageError("请选择要上传的文件", "no file in the upload")
        if got.size == 0:
            raise UsageError("上传的文件是空文件", "empty upload")
        ask = _check_request(got, safe_name(got.client_name))
        path = folder / ask.file_name
        part.rename(path)
        actor = dataclasses.replace(who.actor, client=client_of(request))
        await run_in_threadpool(jobs.submit, job_id, actor, ask, path)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    url = f"/data/jobs/{job_id}"
    if who.via == "api":
        return JSONResponse({"job_id": job_id, "url": url}, status_code=202)
    if is_htmx(request):
        return HTMLResponse("<p>正在跳转到任务进度…</p>", headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


# --- API twins -----------------------------------------------------------------------------


@router.get("/api/data/batches", tags=["数据"])
def api_batches(request: Request, who: Annotated[Viewer, Depends(need_data)]) -> dict[str, Any]:
    """已导入的批次（当前与已被取代的）。The ingested batches, newest first."""
    who.scope.require_city_wide("数据导入")
    st = state_of(request)
    rows = sorted(catalog.list_batches(st.data_dir), key=lambda b: b.ingested_at, reverse=True)
    keep = ("batch_id", "source", "kind", "scheme", "file_name", "rows", "accepted",
            "quarantined", "warned", "ingested_at", "as_of_given")  # fmt: skip
    current, _history = registry_state(st.data_dir)
    return {
        "batches": [
            {k: getattr(b, k) for k in keep}
            | {"as_of": b.as_of.isoformat(), "current": b.current, "superseded_by": b.superseded_by}
            for b in rows
        ],
        "registry": None
        if current is None
        else {
            "build_id": current["build_id"],
            "built_at": current["built_at"].isoformat() if current["built_at"] else None,
            "counts": current["counts"],
        },
    }


@router.get("/api/data/jobs/{job_id}", tags=["数据"])
def api_job(
    request: Request, job_id: str, who: Annotated[Viewer, Depends(need_data)]
) -> dict[str, Any]:
    """导入任务的进度与结果。The stage and result of an upload's ingest and registry update."""
    who.scope.require_city_wide("数据导入")
    return _job_view(state_of(request), job_id)
