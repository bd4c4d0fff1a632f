"""The 通报 as one self-contained HTML file (inline CSS and SVG charts, no scripts)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import jinja2

from canbao.plan import fmt
from canbao.plan.indicators import CATEGORY_LABELS
from canbao.plan.report import cases as case_section
from canbao.plan.report import land_farmers as land_section
from canbao.plan.report import subsidies as subsidy_section
from canbao.plan.report.data import ReportData
from canbao.plan.report.definitions import DEFINITIONS

_CN = "一二三四五六七八九十"


def _cn_num(n: int) -> str:
    return _CN[n - 1] if 1 <= n <= 10 else str(n)


@cache
def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("canbao.plan.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["cn_num"] = _cn_num
    env.filters["cat"] = lambda c: CATEGORY_LABELS.get(c, c)
    env.globals["pct"] = fmt.pct
    env.globals["val"] = fmt.value
    env.globals["persons"] = land_section.persons
    env.globals["wan"] = subsidy_section.wan_number
    env.globals["land_title"] = land_section.SECTION
    env.globals["land_note"] = land_section.NOTE
    env.globals["subsidy_title"] = subsidy_section.SECTION
    env.globals["subsidy_note"] = subsidy_section.NOTE
    env.globals["cases_title"] = case_section.SECTION
    env.globals["cases_headers"] = case_section.HEADERS
    env.globals["cases_none"] = case_section.NONE_TEXT
    return env


def render_html(data: ReportData) -> str:
    return _env().get_template("tongbao.html.j2").render(d=data, definitions=DEFINITIONS)


def write_html(data: ReportData, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(data), encoding="utf-8")
    return path
