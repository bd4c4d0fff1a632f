"""通报与清单: the monthly 通报 (xlsx, HTML, PDF as ``canbao report`` writes them) and the gap work
lists (xlsx as ``canbao gaps`` writes them), generated on request in a background thread.

A request starts a job; the page shows it as 生成中 and polls it (htmx) until its files are ready.
A job lives in ``DATA/web/reports/<job id>/`` (``job.json`` and the files), so any worker process
can show and serve it; only the user who asked for it can see or download it, and jobs older
than :data:`RETAIN` are removed. Gap lists hold personal data (masked, as the CLI writes them):
they need ``export.personal`` (the employer list alone: ``export.aggregate``), come from the
viewer's scope (county staff get their county only), and each export is audit-logged as the CLI
logs it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import secrets
import shutil
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse

from canbao.coverage import api as coverage
from canbao.coverage.api import KINDS
from canbao.coverage.worklist import LIST_TITLES_ZH
from canbao.errors import CanbaoError, NotFoundError, UsageError, unexpected
from canbao.plan import api as plan_api
from canbao.plan.actuals import default_actuals_source
from canbao.web import dashboard
from canbao.web.auth import Viewer, need
from canbao.web.errors import is_htmx
from canbao.web.state import WebState, state_of

router = APIRouter()
ROOT = ("web", "reports")
RETAIN = dt.timedelta(days=3)
STALE = dt.timedelta(hours=2)  # a job still "running" after this died with its process
SHOWN = 12  # the newest jobs listed on the page
_JOB_ID = re.compile(r"[0-9a-f]{16}")
KIND_LABELS = {
    "uninsured": "应保未保人员",
    "duplicates": "重复参保",
    "deceased": "死亡仍参保",
    "employers": "未参保登记、少报人数或基数的单位",
    "land_farmers": "被征地农民未参养老",
}


@dataclass
class Job:
    id: str
    kind: str  # tongbao | gaps
    owner: str
    title: str
    created: str  # ISO time
    status: str = "running"  # running | done | failed
    files: list[str] = field(default_factory=list)
    message: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def running(self) -> bool:
        return self.status == "running"


# ---- jobs on disk -------------------------------------------------------------------------


def _root(st: WebState) -> Path:
    return st.data_dir.joinpath(*ROOT)


def _save(folder: Path, job: Job) -> None:
    tmp = folder / ".job.json.part"
    tmp.write_text(json.dumps(asdict(job), ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, folder / "job.json")


def _load(folder: Path) -> Job | None:
    try:
        job = Job(**json.loads((folder / "job.json").read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None
    if job.running and dt.datetime.now() - dt.datetime.fromisoformat(job.created) > STALE:
        job.status, job.message = "failed", "任务已中断（服务可能已重启），请重新生成"
    return job


def _jobs(st: WebState, who: Viewer) -> list[Job]:
    root = _root(st)
    if not root.is_dir():
        return []
    found = [_load(d) for d in root.iterdir() if _JOB_ID.fullmatch(d.name)]
    mine = [j for j in found if j is not None and j.owner == who.name]
    return sorted(mine, key=lambda j: j.created, reverse=True)[:SHOWN]


def _job(st: WebState, who: Viewer, job_id: str) -> Job:
    """The viewer's job ``job_id``; anyone else's is not found (never shown)."""
    job = _load(_root(st) / job_id) if _JOB_ID.fullmatch(job_id) else None
    if job is None or job.owner != who.name:
        raise NotFoundError("没有找到该生成任务（可能已过期清理）", "no such report job")
    return job


def _purge(st: WebState) -> None:
    root = _root(st)
    if not root.is_dir():
        return
    cutoff = dt.datetime.now() - RETAIN
    for d in root.iterdir():
        job = _load(d) if _JOB_ID.fullmatch(d.name) else None
        if job is not None and dt.datetime.fromisoformat(job.created) < cutoff:
            shutil.rmtree(d, ignore_errors=True)


Work = Callable[[Path], tuple[list[str], str, list[str]]]  # folder → files, message, notes


def _run(folder: Path, job: Job, work: Work) -> None:
    try:
        job.files, job.message, job.notes = work(folder)
        job.status = "done"
    except CanbaoError as e:
        job.status, job.message = "failed", e.message_zh
    except Exception as e:  # noqa: BLE001 - the job reports it; the traceback goes to a file
        job.status, job.message = "failed", unexpected(e).message_zh
    _save(folder, job)


def _start(st: WebState, who: Viewer, kind: str, title: str, work: Work) -> Job:
    _purge(st)
    job_id = secrets.token_hex(8)
    folder = _root(st) / job_id
    folder.mkdir(parents=True)
    now = dt.datetime.now().isoformat(timespec="seconds")
    job = Job(job_id, kind, who.name, title, now)
    _save(folder, job)
    pool = st.extra.get("reports.pool")
    if not isinstance(pool, ThreadPoolExecutor):
        pool = st.extra.setdefault(
            "reports.pool", ThreadPoolExecutor(2, thread_name_prefix="canbao-reports")
        )
    pool.submit(_run, folder, Job(**asdict(job)), work)
    return job


def _answer(request: Request, who: Viewer, job: Job) -> Response:
    """The new job: its fragment for htmx (it polls), else back to the page."""
    if is_htmx(request):
        context: dict[str, Any] = {"viewer": who, "job": job}
        return state_of(request).templates.TemplateResponse(request, "reports_job.html", context)
    return RedirectResponse(f"/reports#job-{job.id}", status_code=303)


# ---- the page -------------------------------------------------------------------------------


def _gap_kinds(who: Viewer) -> list[tuple[str, str]]:
    """The gap lists the viewer may export ("" = every list they may see)."""
    if who.can("export.personal") and who.scope.personal:
        return [("", "全部清单"), *((k, KIND_LABELS.get(k, k)) for k in KINDS)]
    if who.can("export.aggregate") or who.can("export.personal"):
        return [("employers", KIND_LABELS["employers"])]
    return []


@router.get("/reports", response_class=HTMLResponse, include_in_schema=False)
def reports_page(
    request: Request, who: Annotated[Viewer, Depends(need("report.read"))]
) -> Response:
    st = state_of(request)
    v = dashboard.version(st)
    context: dict[str, Any] = {
        "viewer": who,
        "version": v,
        "day": v.day if v else dt.date.today(),
        "jobs": _jobs(st, who),
        "kinds": _gap_kinds(who),
        "plan": None,
        "plan_error": "",
    }
    try:
        context["plan"] = dashboard.choose_plan(st)
    except CanbaoError as e:
        context["plan_error"] = e.message_zh
    if who.scope.counties is None:
        context["counties"] = [(c.code, c.name) for c in st.profile.counties]
    else:
        codes = sorted(who.actor.counties or who.scope.counties)
        context["counties"] = [(c, dashboard.area_name(st.profile, c)) for c in codes]
    return st.templates.TemplateResponse(request, "reports.html", context)


@router.get("/reports/jobs/{job_id}", response_class=HTMLResponse, include_in_schema=False)
def job_fragment(
    request: Request, job_id: str, who: Annotated[Viewer, Depends(need("report.read"))]
) -> Response:
    """One job's state (the page polls it while it runs)."""
    st = state_of(request)
    context: dict[str, Any] = {"viewer": who, "job": _job(st, who, job_id)}
    return st.templates.TemplateResponse(request, "reports_job.html", context)


@router.get("/reports/jobs/{job_id}/files/{name}", include_in_schema=False)
def job_file(
    request: Request,
    job_id: str,
    name: str,
    who: Annotated[Viewer, Depends(need("report.read"))],
) -> Response:
    st = state_of(request)
    job = _job(st, who, job_id)
    if name not in job.files:
        raise NotFoundError("没有该文件", "no such file in the job")
    path = _root(st) / job.id / name
    if not path.is_file():
        raise NotFoundError("文件已不存在（可能已过期清理），请重新生成", "file gone")
    return FileResponse(path, filename=name)


# ---- the 通报 -------------------------------------------------------------------------------


def _tongbao_work(st: WebState, day: dt.date, pdf: bool, illustrative: bool) -> Work:
    plan = dashboard.choose_plan(st).plan  # refused before the job starts when there is none

    def work(folder: Path) -> tuple[list[str], str, list[str]]:
        notes = []
        if default_actuals_source(st.data_dir, plan.profile) is None:
            notes.append("参保、征缴数据尚未接入，通报只列示目标与时间进度。")
        files = plan_api.make_report(
            plan, day, folder, data_dir=st.data_dir, illustrative=illustrative, pdf=pdf,
            cases_store=st.store,
        )  # fmt: skip
        names = [files.xlsx.name, files.html.name] + ([files.pdf.name] if files.pdf else [])
        message = f"PDF 未生成：{files.pdf_error.message_zh}" if files.pdf_error else ""
        return names, message, notes

    return work


@router.post("/reports/tongbao", include_in_schema=False)
def make_tongbao(
    request: Request,
    who: Annotated[Viewer, Depends(need("report.read"))],
    as_of: Annotated[str, Form()] = "",
    pdf: Annotated[str, Form()] = "",
    illustrative: Annotated[str, Form()] = "",
) -> Response:
    """Generate the 通报 as of a date (default: the data's as-of date) in the background."""
    st = state_of(request)
    v = dashboard.version(st)
    day = dashboard.parse_day(as_of) or (v.day if v else dt.date.today())
    work = _tongbao_work(st, day, bool(pdf), bool(illustrative))
    title = f"月度通报（截至 {day.isoformat()}{'，含 PDF' if pdf else ''}）"
    return _answer(request, who, _start(st, who, "tongbao", title, work))


# ---- the gap lists -------------------------------------------------------------------------


def _check_gaps(who: Viewer, kind: str, county: str) -> None:
    if kind and kind not in KINDS:
        raise UsageError(f"未知的清单类型：{kind[:20]}", f"unknown gap kind {kind[:20]!r}")
    if kind == "employers" and not who.can("export.personal"):
        who.require("export.aggregate")  # employers only: nothing personal
    elif kind != "employers":
        who.require("export.personal")
        who.scope.require_personal()
    if county:
        who.scope.require_county(county)


def _gaps_work(st: WebState, who: Viewer, kind: str, county: str) -> Work:
    def work(folder: Path) -> tuple[list[str], str, list[str]]:
        lists = coverage.gap_lists(
            st.data_dir, who.scope, kind or None, county or None, profile=st.profile
        )
        where = dashboard.area_name(st.profile, county) if county else (
            "本人范围" if who.scope.counties is not None else "全市"
        )  # fmt: skip
        name = f"工作清单-{KIND_LABELS.get(kind, '全部')}-{where}.xlsx"
        written = coverage.write_gap_lists(lists, folder / name)
        rows = sum(frame.height for frame in lists.values())
        dashboard.audit_export(st, who, "gaps", written.path.name, rows)
        counts = "；".join(f"{LIST_TITLES_ZH.get(k, k)} {f.height:,} 条" for k, f in lists.items())
        return (
            [written.path.name],
            "",
            [f"共 {rows:,} 条（{counts}），证件号、电话已脱敏"] + list(written.notes_zh()),
        )

    return work


@router.post("/reports/gaps", include_in_schema=False)
def make_gaps(
    request: Request,
    who: Annotated[Viewer, Depends(need("report.read"))],
    kind: Annotated[str, Form()] = "",
    county: Annotated[str, Form()] = "",
) -> Response:
    """Generate gap work lists (xlsx) in the viewer's scope in the background."""
    st = state_of(request)
    kind, county = kind.strip(), county.strip()
    _check_gaps(who, kind, county)
    dashboard.require_version(st)
    label = KIND_LABELS.get(kind, "全部清单")
    where = dashboard.area_name(st.profile, county) if county else ""
    title = f"工作清单：{label}{'（' + where + '）' if where else ''}"
    return _answer(request, who, _start(st, who, "gaps", title, _gaps_work(st, who, kind, county)))
