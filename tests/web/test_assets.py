"""The vendored scripts are the pinned npm releases (their SHA-256 as recorded), every template
keeps to the CSP (no inline script, no style attribute, no htmx ``hx-on``), and the static files
the pages name exist."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from canbao.web.state import STATIC, TEMPLATES


def test_vendored_files_match_their_recorded_sha256() -> None:
    sums = (STATIC / "vendor" / "SHA256SUMS").read_text(encoding="utf-8").split("\n")
    entries = [line.split() for line in sums if line.strip()]
    assert {name for _h, name in entries} >= {"htmx.min.js", "echarts.min.js"}
    for digest, name in entries:
        data = (STATIC / "vendor" / name.lstrip("*")).read_bytes()
        assert hashlib.sha256(data).hexdigest() == digest, name


def _templates() -> list[Path]:
    found = sorted(TEMPLATES.rglob("*.html"))
    assert found
    return found


def test_templates_keep_to_the_content_security_policy() -> None:
    for path in _templates():
        text = path.read_text(encoding="utf-8")
        inline = re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", text)
        assert inline == [], path.name
        assert not re.search(r"\sstyle\s*=", text), path.name
        assert not re.search(r"\shx-on[:-]", text), path.name
        assert not re.search(r"\son[a-z]+\s*=", text), path.name  # onclick= etc.
        assert "//cdn" not in text and "https://" not in text, path.name


def test_static_files_named_by_the_pages_exist() -> None:
    named = set()
    for path in _templates():
        named |= set(re.findall(r'"/static/([^"?]+)"', path.read_text(encoding="utf-8")))
    assert {"app.js", "app.css", "vendor/htmx.min.js", "vendor/echarts.min.js"} <= named
    for rel in named:
        assert (STATIC / rel).is_file(), rel
