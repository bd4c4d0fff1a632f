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


class AuthError(CanbaoError):
    """Sign-in failed: unknown user, wrong password, disabled or locked account, bad API key."""

    code = "auth"
    status = 401


class PermissionDenied(CanbaoError):
    """The signed-in user's role or county scope does not allow the action."""

    code = "forbidden"
    status = 403


class ConflictError(CanbaoError):
    """Someone else changed the record since it was read (乐观锁), or it already exists."""

    code = "conflict"
    status = 409


class RateLimited(CanbaoError):
    """Too many attempts from one client or for one account: wait ``retry_after`` seconds."""

    code = "rate_limited"
    status = 429

    def __init__(self, retry_after: int) -> None:
        minutes = max(1, (retry_after + 59) // 60)
        super().__init__(
            f"尝试次数过多，请约 {minutes} 分钟后再试", "too many attempts", retry_after=retry_after
        )
        self.retry_after = retry_after


class Busy(CanbaoError):
    """The work asked for cannot be done now (figures not yet computed, the server at its limit
    of heavy work): try again in ``retry_after`` seconds (HTTP 503 with ``Retry-After``)."""

    code = "busy"
    status = 503

    def __init__(self, message_zh: str, message_en: str = "", *, retry_after: int = 10) -> None:
        super().__init__(message_zh, message_en, retry_after=retry_after)
        self.retry_after = retry_after


class DependencyError(CanbaoError):
    """An optional component (e.g. Spark) is not installed."""

    code = "dependency"
    status = 500


class ResourceError(CanbaoError):
    """The machine ran out of something (memory, disk) or refused access."""

    code = "resource"
    status = 507


class InternalError(CanbaoError):
    """A fault in Canbao itself: the details went to a report file, not to the screen."""

    code = "internal"
    status = 500


def unexpected(exc: BaseException) -> CanbaoError:
    """Turn an exception no rule foresaw into a :class:`CanbaoError` for the user: memory,
    disk and permission problems get their own Chinese words; anything else is an internal
    error whose traceback is saved (ID numbers masked, readable by the owner only) in a report
    file named in the message. No traceback is ever shown."""
    import errno

    if isinstance(exc, MemoryError):
        return ResourceError(
            "内存不足，任务已停止；可设置环境变量 CANBAO_DUCKDB_MEMORY 降低内存上限，"
            "或改用 --engine spark",
            "out of memory",
        )
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return ResourceError(
            f"磁盘空间不足，任务已停止（{exc.filename or ''}）；已发布的数据不受影响，"
            "请清理空间后重试",
            "no space left on device",
        )
    if isinstance(exc, OSError) and exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return ResourceError(
            f"没有权限读写“{exc.filename or ''}”，请检查文件或目录权限",
            f"permission denied: {exc.strerror}",
        )
    report = _save_report(exc)
    where = f"详细信息已保存到 {report}，" if report else ""
    return InternalError(
        f"程序内部错误（不是您的操作问题）。{where}请将它和所用命令一并交给技术支持",
        f"internal error: {type(exc).__name__}",
    )


def _save_report(exc: BaseException) -> str | None:
    import datetime as dt
    import logging
    import os
    import tempfile
    import traceback

    from canbao.standards.masking import mask_text

    text = mask_text("".join(traceback.format_exception(exc)))
    logging.getLogger("canbao").debug("unexpected error:\n%s", text)
    stamp = dt.datetime.now().strftime("%Y%m%dT%H%M%S")
    path = os.path.join(tempfile.gettempdir(), f"canbao-error-{stamp}-{os.getpid()}.txt")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError:
        return None
    return path
