"""One exception hierarchy for everything a user can see.

Every error carries a Chinese message for the bureau's staff (shown first), an English reason
for developers and logs, a stable machine-readable ``code`` and an HTTP-like ``status`` so that
the CLI and the web layer render all of them in one handler.
"""

from __future__ import annotations

from typing import Any


class CanbaoError(Exception):
    """Base class: ``CanbaoError("中文说明", "English reason")``."""

    code = "error"
    status = 500
    exit_code = 1

    def __init__(self, message_zh: str, message_en: str = "", **details: Any) -> None:
        self.message_zh = message_zh
        self.message_en = message_en
        self.details = details
        super().__init__(self.render())

    def render(self) -> str:
        if self.message_en:
            return f"{self.message_zh}（{self.message_en}）"
        return self.message_zh

    def to_dict(self) -> dict[str, Any]:
        return {
            "error": self.code,
            "message": self.message_zh,
            "reason": self.message_en,
            **{k: v for k, v in self.details.items() if isinstance(v, str | int | float | bool)},
        }


class UsageError(CanbaoError):
    """The user asked for something that cannot be done as asked (bad option, unknown kind…)."""

    code = "usage"
    status = 400
    exit_code = 2


class InputFileError(CanbaoError):
    """A file given to Canbao cannot be read as what it claims to be."""

    code = "input_file"
    status = 422


class DataError(CanbaoError):
    """The data is readable but violates a rule (missing column, unknown code…)."""

    code = "data"
    status = 422


class NotFoundError(CanbaoError):
    code = "not_found"
    status = 404


class StateError(CanbaoError):
    """The data directory is not in the state the command needs (e.g. nothing built yet)."""

    code = "state"
    status = 409


class DependencyError(CanbaoError):
    """An optional component (e.g. Spark) is not installed."""

    code = "dependency"
    status = 500
