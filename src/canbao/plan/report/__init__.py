"""The monthly 通报: build once (:func:`build_report`), write xlsx, HTML and PDF."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from canbao.errors import DependencyError
from canbao.plan.report.data import ReportData, build_report
from canbao.plan.report.html import render_html, write_html
from canbao.plan.report.pdf import html_to_pdf
from canbao.plan.report.xlsx import write_xlsx


@dataclass(frozen=True)
class ReportFiles:
    xlsx: Path
    html: Path
    pdf: Path | None
    pdf_error: DependencyError | None = None


def write_report(data: ReportData, out_dir: Path, *, pdf: bool = True) -> ReportFiles:
    """Write ``通报-<plan>-<date>.{xlsx,html,pdf}``. A PDF failure is returned, not raised,
    so the xlsx and HTML are always there; callers decide whether it is an error."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"tongbao-{data.plan.code}-{data.as_of.isoformat()}"
    xlsx = write_xlsx(data, out_dir / f"{stem}.xlsx")
    html = write_html(data, out_dir / f"{stem}.html")
    if not pdf:
        return ReportFiles(xlsx, html, None)
    try:
        return ReportFiles(xlsx, html, html_to_pdf(html, out_dir / f"{stem}.pdf"))
    except DependencyError as e:
        return ReportFiles(xlsx, html, None, e)


__all__ = ["ReportData", "ReportFiles", "build_report", "render_html", "write_report"]
