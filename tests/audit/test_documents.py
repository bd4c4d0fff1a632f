"""The 稽核通知书 and 稽核意见书: Chinese .docx from the built-in templates (or the bureau's own),
every placeholder filled, the export logged."""

from __future__ import annotations

from pathlib import Path

import pytest
from docx import Document

from canbao.audit import cases
from canbao.audit import documents as audit_documents
from canbao.errors import NotFoundError
from canbao.store import Store, audit_log
from tests.audit.case_people import D, People, finding, opened


def _text(path: Path) -> str:
    doc = Document(str(path))
    cells = [c.text for t in doc.tables for row in t.rows for c in row.cells]
    return "\n".join([p.text for p in doc.paragraphs] + cells)


def test_notice_and_opinion(store: Store, people: People, tmp_path: Path) -> None:
    a = people.auditor
    sc = people.scope(a)
    c = opened(store, people)
    notice = audit_documents.document(store, sc, people.profile, c.id, "notice", tmp_path)
    text = _text(notice)
    assert "社会保险稽核通知书" in text and "2017年6月5日" in text
    assert people.profile.letterhead.issuer in text and "{{" not in text
    assert "2017年1月至2017年5月" in text and "参保人数、缴费基数、缴费情况" in text
    with pytest.raises(NotFoundError):
        audit_documents.document(store, sc, people.profile, c.id, "opinion", tmp_path)
    c = cases.record(store, a, sc, c.id, visited_on=D(2017, 6, 5), findings=[finding(people)])
    cases.finish(store, a, sc, c.id, on=D(2017, 6, 16), rectify_by=D(2017, 7, 16),
                 opinion_no="九人社稽〔2017〕12号")  # fmt: skip
    opinion = audit_documents.document(store, sc, people.profile, c.id, "opinion", tmp_path)
    text = _text(opinion)
    assert "社会保险稽核意见书" in text and "九人社稽〔2017〕12号" in text
    assert "270.00" in text and "贰佰柒拾元整" in text and "2017年7月16日" in text
    assert "张三丰" in text and "少报缴费基数" in text and "{{" not in text
    exports = [e for e in audit_log.entries(store) if e.action == "export"]
    assert [e.object_type for e in exports] == ["audit_document", "audit_document"]


def test_the_bureaus_own_template_wins(store: Store, people: People, tmp_path: Path) -> None:
    data = tmp_path / "data"
    written = audit_documents.write_templates(data / "templates")
    assert [w for _p, w in written] == [True, True]
    own = Document()
    own.add_paragraph("本局自拟：{{ employer_name }} {{ visit_date }}")
    own.save(str(data / "templates" / "audit_notice.docx"))
    c = opened(store, people)
    out = audit_documents.document(
        store, people.scope(people.auditor), people.profile, c.id, "notice", tmp_path / "out",
        data_dir=data,
    )  # fmt: skip
    assert _text(out).startswith("本局自拟：某某机械制造有限公司1 2017年6月5日")
