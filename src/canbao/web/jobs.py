"""Background jobs of the web process: an uploaded extract is ingested and the registry updated
(incrementally when it can be) while the web keeps serving requests.

One worker thread per process (a ``ThreadPoolExecutor(max_workers=1)`` held in
``WebState.extra``): jobs run one after the other, a second upload waits in the queue. Across
processes (another web worker, ``canbao build`` on the command line) the data directory's
writer lock (:mod:`canbao.warehouse.lock`) keeps writers apart: a job waits for it, held for
its ingest and build together (re-entrant within the worker thread).

A job's state lives in memory (the progress page polls it) and its start and its result go to
the audit log (who uploaded what, with which result). After a restart a finished job is still
found there. No cell of the file reaches a log line or a message: errors are the Chinese
messages of :class:`canbao.errors.CanbaoError`; anything unforeseen goes through
:func:`canbao.errors.unexpected`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import re
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from canbao.errors import CanbaoError, unexpected
from canbao.ingest import batches as ingest_batches
from canbao.standards.masking import mask_text
from canbao.store import audit_log
from canbao.store.accounts import Actor
from canbao.store.db import Store
from canbao.warehouse.lock import DataDirBusy, writer_lock

if TYPE_CHECKING:
    from canbao.registry.api import BuildResult

log = logging.getLogger(__name__)

# The stages a job shows (the last one is 完成 or 失败).
READ, CHECK, IMPORT, BUILD, DONE, FAILED = "读取文件", "校验", "导入", "更新登记库", "完成", "失败"
STAGES = (READ, CHECK, IMPORT, BUILD, DONE)
QUEUED = "排队中"
# ingest_file's steps (canbao.ingest.batches.STEPS) → the page's stages
_INGEST_STAGE = {0: READ, 1: READ, 2: READ, 3: CHECK, 4: IMPORT}
LOCK_WAIT = 6 * 3600.0  # seconds a job waits for another writer of the data directory
UPLOADS = "uploads"  # DATA/uploads/<job_id>/<file name>
AUDIT_START, AUDIT_RESULT, AUDIT_TYPE = "data.upload", "data.ingest", "ingest_job"
KEEP_FINISHED = 200  # finished jobs kept in memory


@dataclass(frozen=True)
class Request:
    """What an upload asks for (the ingest options of ``canbao ingest``)."""

    source: str
    kind: str
    scheme: str | None
    as_of: dt.date
    file_name: str  # the sanitised name the file is stored (and catalogued) under
    size: int
    sheet: str | None = None
    encoding: str | None = None


@dataclass
class Job:
    id: str
    actor: Actor
    request: Request
    path: Path  # the uploaded file, under DATA/uploads/<id>/
    created_at: dt.datetime
    state: str = "queued"  # queued | running | done | failed
    stage: str = QUEUED
    detail: str = ""  # the current step within the stage
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    message: str = ""  # Chinese: the result or the error
    error_code: str = ""
    ahead: int = 0  # jobs before this one (queued or running) when it was queued
    failed_in: str = ""  # the stage a failed job stopped in
    result: dict[str, Any] = field(default_factory=dict)

    @property
    def finished(self) -> bool:
        return self.state in ("done", "failed")

    def view(self, ahead: int = 0) -> dict[str, Any]:
        """What a page or the API shows (no path on the server)."""
        r = self.request
        return {
            "id": self.id,
            "user": self.actor.name,
            "state": self.state,
            "stage": self.stage,
            "detail": self.detail,
            "stage_index": _index(self.failed_in or self.stage),
            "failed_in": self.failed_in,
            "finished": self.finished,
            "ahead": ahead,
            "created_at": self.created_at.isoformat(timespec="seconds"),
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "message": self.message,
            "error_code": self.error_code,
            "file_name": r.file_name,
            "size": r.size,
            "source": r.source,
            "kind": r.kind,
            "scheme": r.scheme,
            "as_of": r.as_of.isoformat(),
            "result": dict(self.result),
        }


def _index(stage: str) -> int:
    return STAGES.index(stage) if stage in STAGES else -1


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value is not None else None


def _now() -> dt.datetime:
    return dt.datetime.now().replace(microsecond=0)


def _plain(message: str) -> str:
    """A build progress message without its English gloss: ``读取人员记录 (reading …)``."""
    return re.sub(r"\s*\([^()]*\)\s*$", "", message).strip()


class Jobs:
    """The jobs of one web process over one data directory."""

    def __init__(self, data_dir: Path, store: Store) -> None:
        self.data_dir = Path(data_dir)
        self.store = store
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="canbao-data")
        self._lock = threading.Lock()
        self._jobs: dict[str, Job] = {}
        self._order: list[str] = []
        self._sweep()

    def _sweep(self, hours: float = 6.0) -> None:
        """Remove uploads a killed process left half-written (older than ``hours``)."""
        root = self.data_dir / UPLOADS
        cutoff = time.time() - hours * 3600
        for part in root.glob("*/.upload.part") if root.is_dir() else ():
            with contextlib.suppress(OSError):
                if part.stat().st_mtime < cutoff:
                    shutil.rmtree(part.parent, ignore_errors=True)

    # --- the uploaded file -------------------------------------------------------------

    def new_id(self) -> str:
        return f"{_now():%Y%m%d%H%M%S}-{uuid.uuid4().hex[:8]}"

    def upload_dir(self, job_id: str) -> Path:
        return self.data_dir / UPLOADS / job_id

    def discard(self, job_id: str) -> None:
        """Remove an upload that will not be (or was not) ingested."""
        shutil.rmtree(self.upload_dir(job_id), ignore_errors=True)

    # --- queue ---------------------------------------------------------------------------

    def submit(self, job_id: str, actor: Actor, request: Request, path: Path) -> Job:
        """Queue the ingest and build of ``path`` (already saved under :meth:`upload_dir`)."""
        job = Job(job_id, actor, request, path, _now())
        with self._lock:
            job.ahead = sum(1 for j in self._jobs.values() if not j.finished)
            self._jobs[job.id] = job
            self._order.append(job.id)
            self._forget_old()
        self._audit(job, AUDIT_START, {"ahead": job.ahead})
        self._executor.submit(self._run, job)
        return job

    def _forget_old(self) -> None:
        finished = [i for i in self._order if self._jobs[i].finished]
        for job_id in finished[: max(0, len(finished) - KEEP_FINISHED)]:
            self._order.remove(job_id)
            del self._jobs[job_id]

    def get(self, job_id: str) -> dict[str, Any] | None:
        """The job's view (with the number of jobs still before it), or None."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                return None
            ahead = 0
            if job.state == "queued":
                ahead = sum(
                    1
                    for i in self._order[: self._order.index(job_id)]
                    if not self._jobs[i].finished
                )
            return job.view(ahead)

    def recent(self, limit: int = 20) -> list[dict[str, Any]]:
        with self._lock:
            ids = self._order[-limit:][::-1]
        return [v for v in (self.get(i) for i in ids) if v is not None]

    def busy(self) -> int:
        """Jobs queued or running."""
        with self._lock:
            return sum(1 for j in self._jobs.values() if not j.finished)

    def shutdown(self, wait: bool = True) -> None:
        self._executor.shutdown(wait=wait, cancel_futures=not wait)

    def _set(self, job: Job, **changes: Any) -> None:
        with self._lock:
            for name, value in changes.items():
                setattr(job, name, value)

    def _note(self, job: Job, **result: Any) -> None:
        with self._lock:
            job.result.update(result)

    # --- the work --------------------------------------------------------------------------

    def _run(self, job: Job) -> None:
        self._set(job, state="running", stage=READ, detail="", started_at=_now())
        try:
            self._work(job)
        except CanbaoError as e:
            self._fail(job, e)
        except Exception as e:  # noqa: BLE001 (no traceback reaches a user: a report file)
            self._fail(job, unexpected(e))
        if not job.finished:  # never left unfinished: the page would poll for ever
            self._fail(job, CanbaoError("导入任务意外中止", "job ended without a result"))

    def _work(self, job: Job) -> None:
        r = job.request
        t0 = time.perf_counter()

        def step(i: int, label: str) -> None:
            self._set(job, stage=_INGEST_STAGE.get(i, READ), detail=label)

        with self._writer(job):
            res = ingest_batches.ingest_file(
                self.data_dir, job.path, source=r.source, kind=r.kind, scheme=r.scheme,
                as_of=r.as_of, sheet=r.sheet, encoding=r.encoding, progress=step,
            )  # fmt: skip
            b = res.batch
            self._note(
                job, batch_id=b.batch_id, rows=b.rows, accepted=b.accepted,
                quarantined=b.quarantined, warned=b.warned, skipped=res.skipped,
            )  # fmt: skip
            if res.skipped:  # the same file was ingested before: nothing to build
                self.discard(job.id)
                self._finish(job, res.message_zh, t0)
                return
            self._set(job, stage=BUILD, detail="准备更新登记库")
            try:
                built = self._build(job)
            except CanbaoError as e:
                e.message_zh = (
                    f"文件已导入为批次 {b.batch_id}，但更新登记库失败：{e.message_zh}"
                    "（可稍后在服务器上运行 canbao build 补做）"
                )
                raise
            except Exception as e:  # noqa: BLE001
                err = unexpected(e)
                err.message_zh = (
                    f"文件已导入为批次 {b.batch_id}，但更新登记库失败：{err.message_zh}"
                )
                raise err from e
        mode = "增量" if built.mode == "incremental" else "全量"
        self._note(job, build_id=built.build_id, mode=built.mode,
                   persons=built.counts.get("persons", 0))  # fmt: skip
        message = f"{res.message_zh}\n登记库已{mode}更新：版本 {built.build_id}"
        note = self._publish_ledger(job)
        self._finish(job, message + (f"\n{note}" if note else ""), t0)

    def _build(self, job: Job) -> BuildResult:
        from canbao.registry import api as registry

        def say(message: str) -> None:
            self._set(job, detail=_plain(message))

        return registry.build(self.data_dir, progress=say)

    def _publish_ledger(self, job: Job) -> str:
        """The ledger at the data's as-of date, as ``canbao build`` publishes it (outside the
        writer lock, like the command); a failure is a note, not a failed job: the registry is
        updated and the ledger is computed on request until the next build publishes it."""
        from canbao.collection import published

        self._set(job, detail="生成征缴台账")
        try:
            ledger = published.publish(self.data_dir)
        except CanbaoError as e:
            return f"注意：征缴台账未能随本次更新发布（{e.message_zh}），查询时将现场计算"
        except Exception as e:  # noqa: BLE001
            return f"注意：征缴台账未能随本次更新发布（{unexpected(e).message_zh}）"
        if ledger is None:
            return ""
        self._note(job, ledger_as_of=ledger.as_of.isoformat())
        return f"征缴台账已随本次更新发布：截至 {ledger.as_of}，{ledger.rows:,} 行"

    @contextlib.contextmanager
    def _writer(self, job: Job) -> Iterator[None]:
        """The data directory's writer lock, waiting (and saying so) while another holds it."""
        held = contextlib.ExitStack()
        try:
            held.enter_context(writer_lock(self.data_dir, "ingest", wait=0))
        except DataDirBusy as e:
            self._set(job, detail=f"等待中：{e.message_zh}")
            held.enter_context(writer_lock(self.data_dir, "ingest", wait=LOCK_WAIT))
            self._set(job, detail="")
        with held:
            yield

    # The result goes to the audit log before the page can show the job as finished.

    def _finish(self, job: Job, message: str, t0: float) -> None:
        self._note(job, seconds=round(time.perf_counter() - t0, 1))
        self._audit(job, AUDIT_RESULT, {"state": "done", **job.result})
        self._set(job, state="done", stage=DONE, detail="", message=message, finished_at=_now())

    def _fail(self, job: Job, err: CanbaoError) -> None:
        if not job.result.get("batch_id"):
            self.discard(job.id)  # nothing was imported: the upload is not kept
        # a file without a header row puts its first row into "the columns" of a message
        message = mask_text(err.message_zh)
        if "--map" in message:  # the command's advice; the upload form has no column mapping
            message += (
                "（网页上传不能指定列映射：请把表头改为标准列名（如“公民身份号码”“姓名”）后"
                "重新上传，或在服务器上用 canbao ingest --map 导入）"
            )
        self._note(job, error=message)
        self._audit(job, AUDIT_RESULT, {"state": "failed", **job.result})
        self._set(
            job, state="failed", failed_in=job.stage if job.stage in STAGES else READ,
            stage=FAILED, message=message, error_code=err.code, finished_at=_now(),
        )  # fmt: skip

    def _audit(self, job: Job, action: str, detail: dict[str, Any]) -> None:
        r, a = job.request, job.actor
        keys = [job.id] + ([str(job.result["batch_id"])] if job.result.get("batch_id") else [])
        info = {
            "file": r.file_name, "size": r.size, "source": r.source, "kind": r.kind,
            "scheme": r.scheme or "", "as_of": r.as_of.isoformat(), **detail,
        }  # fmt: skip
        event = audit_log.Event(a.name, a.role, action, AUDIT_TYPE, keys, (), a.client, info)
        try:
            audit_log.log(self.store, event)
        except Exception as e:  # noqa: BLE001 (the job's own result stands; say why in the log)
            log.warning("audit log entry for job %s failed: %s", job.id, type(e).__name__)


def from_audit(store: Store, job_id: str, limit: int = 2000) -> dict[str, Any] | None:
    """A job this process does not hold (started by another worker, or before a restart), as
    its audit-log entries tell it: finished (with its result) or still under way elsewhere."""
    found: dict[str, Any] | None = None
    for action in (AUDIT_RESULT, AUDIT_START):
        for e in audit_log.entries(store, action=action, limit=limit):
            if e.object_type == AUDIT_TYPE and e.object_keys and e.object_keys[0] == job_id:
                found = _audit_view(job_id, e, action == AUDIT_RESULT)
                break
        if found is not None:
            return found
    return None


def _audit_view(job_id: str, entry: Any, finished: bool) -> dict[str, Any]:
    d = dict(entry.detail or {})
    state = str(d.get("state", "running")) if finished else "running"
    stage = {"done": DONE, "failed": FAILED}.get(state, READ)
    message = str(d.get("error", "")) if state == "failed" else ""
    if state == "done" and d.get("batch_id"):
        message = f"已导入批次 {d['batch_id']}" + (
            f"，登记库版本 {d['build_id']}" if d.get("build_id") else ""
        )
    if not finished:
        message = "该任务由另一个服务进程处理，结果请稍后刷新查看"
    keep = ("batch_id", "rows", "accepted", "quarantined", "warned", "build_id", "mode")
    return {
        "id": job_id, "user": entry.actor, "state": state, "stage": stage, "detail": "",
        "stage_index": _index(stage), "failed_in": "", "finished": finished, "ahead": 0, "created_at": _iso(entry.at),
        "started_at": None, "finished_at": _iso(entry.at) if finished else None,
        "message": message, "error_code": "", "file_name": d.get("file", ""),
        "size": d.get("size", 0), "source": d.get("source", ""), "kind": d.get("kind", ""),
        "scheme": d.get("scheme") or None, "as_of": d.get("as_of", ""),
        "result": {k: d[k] for k in keep if k in d}, "from_audit": True,
    }  # fmt: skip


_create = threading.Lock()
EXTRA_KEY = "data.jobs"


def jobs_of(extra: dict[str, Any], data_dir: Path, store: Store) -> Jobs:
    """The process's :class:`Jobs` (created on first use) kept in ``WebState.extra``."""
    with _create:
        jobs = extra.get(EXTRA_KEY)
        if not isinstance(jobs, Jobs):
            jobs = extra[EXTRA_KEY] = Jobs(data_dir, store)
        return jobs


__all__ = ["Job", "Jobs", "Request", "STAGES", "from_audit", "jobs_of"]
