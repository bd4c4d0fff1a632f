"""Files the pages hand out as downloads: the body with an ASCII file name for old clients and
the Chinese one (RFC 6266 ``filename*``), and documents written into a temporary folder."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from fastapi import Response

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def attachment(body: bytes, plain: str, words: str, media_type: str) -> Response:
    """A download of ``body`` named ``words`` (``plain``: its ASCII stand-in)."""
    disposition = f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(words)}"
    return Response(body, media_type=media_type, headers={"Content-Disposition": disposition})


def document(write: Callable[[Path], Path], plain: str) -> Response:
    """The .docx ``write(folder)`` makes (and names) in a temporary folder, as a download."""
    with tempfile.TemporaryDirectory(prefix="canbao-doc-") as tmp:
        path = write(Path(tmp))
        body, words = path.read_bytes(), path.name
    return attachment(body, plain, words, DOCX)
