"""One writer at a time per data directory, and scratch folders that never outlive their process.

**Writer lock.** Every command that changes a data directory (``canbao ingest``, ``canbao
build``, ``canbao review decide``, ``canbao plan import``) holds an exclusive ``flock`` on
``DATA/.lock`` while it works (:func:`writer_lock`, or the :func:`writes_data_dir` decorator). A
second writer fails at once with a clear message (or waits up to ``$CANBAO_LOCK_WAIT`` seconds);
it never interleaves with the first. Readers (gaps, exports, reports, ``canbao batches``) take no
lock: writers only ever add complete batches and snapshots by atomic renames, so a reader keeps
working on the published snapshot while a build runs.

The kernel releases the lock when its process ends, however it ends (SIGKILL included): a lock
never goes stale. The writer that takes it next removes what a killed writer left behind
(:meth:`canbao.warehouse.datadir.DataLayout.leftovers`: ``.tmp-*`` folders of batches, snapshots
and the derivation cache) and the scratch folders of processes that are gone.

**Scratch.** Working files of a process (DuckDB's spill files, Parquet the engine streams through)
can hold personal data, so they stay inside the data directory, in ``DATA/.work/<pid>-<hex>/``
(:func:`work_dir`), never in a shared ``$TMPDIR``. The folder is removed when the process exits
normally; its ``<pid>-<hex>.owner`` file stays ``flock``-ed while the process lives, so after a
crash the next writer knows the folder is dead and removes it.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import functools
import inspect
import json
import os
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import ParamSpec, TypeVar

from canbao.errors import StateError, UsageError
from canbao.warehouse.datadir import DataLayout, require_dir

WAIT_ENV = "CANBAO_LOCK_WAIT"
"""Seconds a writer waits for another writer to finish (default 0: fail at once)."""

TASKS = {
    "build": ("构建登记库", "build"),
    "ingest": ("导入数据", "ingest"),
    "decide": ("记录复核决定", "review decision"),
    "plan": ("导入计划", "plan import"),
    "profile": ("更换地区配置", "profile change"),
}

P = ParamSpec("P")
R = TypeVar("R")


class DataDirBusy(StateError):
    """Another writer holds the data directory's lock."""

    code = "busy"


@dataclass
class _Held:
    fd: int
    thread: int
    depth: int = 1


_held: dict[str, _Held] = {}
_guard = threading.Lock()


def lock_wait() -> float:
    """Seconds to wait for the lock (``$CANBAO_LOCK_WAIT``, default 0)."""
    text = os.environ.get(WAIT_ENV, "").strip()
    if not text:
        return 0.0
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0:  # also NaN
        raise UsageError(
            f"环境变量 {WAIT_ENV} 应为等待的秒数（如 30），而不是“{text}”",
            f"${WAIT_ENV} must be a number of seconds, got {text!r}",
        )
    return value


def _holder(path: Path) -> dict[str, object]:
    try:
        data = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _busy(root: Path, lock_file: Path, waited: float) -> DataDirBusy:
    info = _holder(lock_file)
    zh, en = TASKS.get(str(info.get("task")), ("构建/导入", "build/ingest"))
    pid = info.get("pid")
    who_zh = f"{zh}，进程 {pid}" if pid else zh
    who_en = f"{en}, pid {pid}" if pid else en
    after = f"（已等待 {waited:g} 秒）" if waited else ""
    return DataDirBusy(
        f"另一个任务（{who_zh}）正在使用数据目录“{root}”，请等待其完成后重试{after}",
        f"the data directory is locked by another writer ({who_en}); retry when it has "
        f"finished, or set ${WAIT_ENV} to wait",
    )


def _open_lock(root: Path) -> tuple[Path, int]:
    require_dir(root)
    layout = DataLayout(root)
    try:
        root.mkdir(parents=True, exist_ok=True)
        fd = os.open(layout.lock_file, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as err:
        raise StateError(
            f"无法在数据目录“{root}”中写入（请检查路径与权限）",
            f"cannot create the lock file of the data directory: {err.strerror}",
        ) from err
    return layout.lock_file, fd


def _acquire(root: Path, task: str, wait: float) -> int:
    lock_file, fd = _open_lock(root)
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() >= deadline:
                os.close(fd)
                raise _busy(root, lock_file, wait) from None
            time.sleep(0.1)
    info = {"pid": os.getpid(), "task": task, "since": time.strftime("%Y-%m-%dT%H:%M:%S")}
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(info).encode("utf-8"), 0)
    return fd


def _release(fd: int) -> None:
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)


@contextlib.contextmanager
def writer_lock(data_dir: Path, task: str, *, wait: float | None = None) -> Iterator[None]:
    """Hold the data directory's writer lock (re-entrant within a thread).

    ``task`` is a key of :data:`TASKS` (named in the message another writer sees); ``wait`` the
    seconds to wait for another writer (default ``$CANBAO_LOCK_WAIT``, else 0). Raises
    :class:`DataDirBusy` when the lock stays taken, :class:`StateError` when ``data_dir`` is not
    a usable directory. The first hold removes what killed writers left behind."""
    root = Path(data_dir)
    require_dir(root)
    key = os.path.realpath(root)
    me = threading.get_ident()
    with _guard:
        held = _held.get(key)
        if held is not None and held.thread == me:
            held.depth += 1
            reentered = True
        else:
            reentered = False
    if reentered:
        try:
            yield
        finally:
            with _guard:
                _held[key].depth -= 1
        return
    fd = _acquire(root, task, lock_wait() if wait is None else wait)
    with _guard:
        _held[key] = _Held(fd, me)
    try:
        clean_leftovers(root)
        yield
    finally:
        with _guard:
            del _held[key]
        _release(fd)


def writes_data_dir(task: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a function with a ``data_dir`` parameter: it runs under :func:`writer_lock`."""

    def wrap(fn: Callable[P, R]) -> Callable[P, R]:
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def locked(*args: P.args, **kwargs: P.kwargs) -> R:
            data_dir = signature.bind_partial(*args, **kwargs).arguments["data_dir"]
            with writer_lock(Path(data_dir), task):
                return fn(*args, **kwargs)

        return locked

    return wrap


def holds_lock(data_dir: Path) -> bool:
    """True when this thread holds the data directory's writer lock."""
    with _guard:
        held = _held.get(os.path.realpath(data_dir))
        return held is not None and held.thread == threading.get_ident()


def clean_leftovers(data_dir: Path) -> list[Path]:
    """Remove what killed writers left in ``data_dir`` (call it holding the writer lock): the
    ``.tmp-*`` folders and files of :meth:`DataLayout.leftovers` and dead processes' scratch
    folders. Returns what was removed."""
    layout = DataLayout(Path(data_dir))
    removed = [*_remove(layout.leftovers()), *_dead_scratch(layout.work)]
    return removed


def _remove(paths: Iterator[Path]) -> list[Path]:
    out = []
    for p in paths:
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
        out.append(p)
    return out


def _dead_scratch(work: Path) -> list[Path]:
    """Scratch folders whose process is gone (its ``.owner`` file is not locked any more)."""
    if not work.is_dir():
        return []
    out: list[Path] = []
    for owner in sorted(work.glob("*.owner")):
        folder = owner.with_suffix("")
        try:
            fd = os.open(owner, os.O_RDWR)
        except FileNotFoundError:
            continue
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # alive
            if not _same_file(fd, owner):
                continue  # replaced meanwhile by a live process
            shutil.rmtree(folder, ignore_errors=True)
            owner.unlink(missing_ok=True)
            out.append(folder)
        finally:
            os.close(fd)
    for folder in sorted(work.iterdir()):
        # a folder is made only after its owner file is locked, and the owner file is removed
        # only after its folder: a folder without one is a dead process's
        if folder.is_dir() and not folder.with_name(folder.name + ".owner").exists():
            shutil.rmtree(folder, ignore_errors=True)
            out.append(folder)
    return out


def _same_file(fd: int, path: Path) -> bool:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino)


# -- scratch ------------------------------------------------------------------------------------


class _Scratch:
    """This process's scratch folder of one data directory (or of ``$TMPDIR``)."""

    def __init__(self, parent: Path | None) -> None:
        self.pid = os.getpid()
        self.fd: int | None = None
        self.owner: Path | None = None
        self.path = self._in(parent) if parent is not None else None
        if self.path is None:  # no data directory, or not writable: a private temp folder
            self.path = Path(tempfile.mkdtemp(prefix="canbao-work-"))

    def _in(self, work: Path) -> Path | None:
        try:
            work.mkdir(exist_ok=True)
            for _ in range(5):
                name = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
                owner = work / f"{name}.owner"
                fd = os.open(owner, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX)
                    if not _same_file(fd, owner):  # a cleaner took it for dead meanwhile
                        os.close(fd)
                        continue
                    folder = work / name
                    folder.mkdir(mode=0o700)
                except OSError:
                    os.close(fd)
                    raise
                self.fd, self.owner = fd, owner
                return folder
        except OSError:
            return None
        return None

    def remove(self) -> None:
        if os.getpid() != self.pid:  # a forked child exiting: the folder is the parent's
            return
        if self.path is not None:
            shutil.rmtree(self.path, ignore_errors=True)
        if self.owner is not None:
            self.owner.unlink(missing_ok=True)
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


_scratch: dict[str, _Scratch] = {}


def _scratch_of(data_dir: Path | None) -> Path:
    parent: Path | None = None
    if data_dir is not None and Path(data_dir).is_dir():
        parent = DataLayout(Path(data_dir)).work
    key = os.path.realpath(parent) if parent is not None else ""
    with _guard:
        s = _scratch.get(key)
        if s is None or s.path is None or not s.path.is_dir():
            s = _scratch[key] = _Scratch(parent)
            atexit.register(s.remove)
        assert s.path is not None
        return s.path


def work_dir(data_dir: Path | None, prefix: str) -> Path:
    """A new folder for this process's working files: inside ``DATA/.work/`` (removed at exit,
    or after a crash by the next writer); in a private ``$TMPDIR`` folder (removed at exit) when
    there is no data directory or it cannot be written. Remove it when done."""
    return Path(tempfile.mkdtemp(prefix=prefix, dir=_scratch_of(data_dir)))


def spill_dir(data_dir: Path | None) -> Path:
    """A path (not created) for one DuckDB connection's spill files, in this process's scratch
    folder; DuckDB creates it when it first spills."""
    return _scratch_of(data_dir) / f"spill-{uuid.uuid4().hex[:8]}"
