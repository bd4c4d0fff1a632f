"""Logging for every face: one setup, and no personal number ever reaches a log line.

``CANBAO_LOG_LEVEL`` (``WARNING`` by default; ``INFO``, ``DEBUG``) sets the level; records go to
standard error. A filter on the handler masks anything shaped like a citizen ID in the final
message (``standards.masking.mask_text``), whatever the logger that wrote it.
"""

from __future__ import annotations

import logging
import os
import sys

from canbao.standards.masking import mask_text

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class MaskingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_text(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def configure(level: str | None = None) -> None:
    """Set up the root logger once (idempotent): level from ``level`` or ``$CANBAO_LOG_LEVEL``."""
    name = (level or os.environ.get("CANBAO_LOG_LEVEL") or "WARNING").upper()
    root = logging.getLogger()
    for h in root.handlers:
        if getattr(h, "_canbao", False):
            root.setLevel(getattr(logging, name, logging.WARNING))
            return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(MaskingFilter())
    handler._canbao = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(getattr(logging, name, logging.WARNING))
