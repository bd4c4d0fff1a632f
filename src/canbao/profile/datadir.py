"""Which profile a data directory uses: ``DATA/region-profile.json`` remembers it.

The record holds the profile's name, its digest and where it came from (``shipped`` or the
absolute path of the file). It is written the first time a profile is used with a data directory
that holds data (batches, a registry or stored plans), and by :func:`use_profile`. After that:

- no ``--profile`` / ``$CANBAO_PROFILE``: the remembered profile is used;
- the same profile (same name): used; if its content changed (another digest) the record is
  updated and the caller gets a note to show;
- a different profile: a :class:`~canbao.errors.StateError` in Chinese, unless the change is
  explicit (``canbao profile use NAME|PATH``, :func:`use_profile`).

The record is small and written atomically (a temporary file renamed into place); the first
record is created exclusively, so two readers starting at once cannot record two profiles.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from canbao.errors import DataError, StateError
from canbao.profile.loader import load_profile, shipped
from canbao.profile.model import Profile
from canbao.warehouse.datadir import DataLayout, require_dir
from canbao.warehouse.lock import writer_lock

RECORD_FORMAT = "canbao-region-profile-record/1"


@dataclass(frozen=True)
class Record:
    name: str
    digest: str
    source: str  # "shipped" or an absolute path

    def describe(self) -> str:
        where = "内置" if self.source == "shipped" else self.source
        return f"“{self.name}”（{where}）"


@dataclass(frozen=True)
class Binding:
    profile: Profile
    note: str | None = None  # Chinese, for the user (the profile changed since it was recorded)


def record_path(data_dir: Path) -> Path:
    return DataLayout(Path(data_dir)).region_profile


def in_use(data_dir: Path) -> bool:
    """Does ``data_dir`` hold anything a profile gives meaning to?"""
    root = Path(data_dir)
    layout = DataLayout(root)
    return root.is_dir() and any(
        p.exists() for p in (layout.batches, layout.registry, root / "plans", layout.region_profile)
    )


def read_record(data_dir: Path) -> Record | None:
    path = record_path(data_dir)
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Record(str(data["name"]), str(data["digest"]), str(data["source"]))
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise DataError(
            f"数据目录的地区配置记录“{path}”已损坏；可用 canbao profile use 重新指定",
            f"unreadable profile record: {e}",
        ) from e


def _write(data_dir: Path, profile: Profile, *, replace: bool) -> bool:
    """Write the record; with ``replace`` False only if there is none. True if written."""
    path = record_path(data_dir)
    body = {
        "format": RECORD_FORMAT,
        "name": profile.name,
        "digest": profile.digest,
        "source": profile.source,
        "city": profile.city.name,
    }
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".region-profile-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(body, f, ensure_ascii=False, indent=1)
        if replace:
            os.replace(tmp, path)
            return True
        try:
            os.link(tmp, path)  # fails if another process recorded first
        except FileExistsError:
            return False
        return True
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _load(record: Record) -> Profile:
    if record.source == "shipped":
        return shipped(record.name)
    path = Path(record.source)
    if not path.is_file():
        raise StateError(
            f"数据目录使用的地区配置文件“{record.source}”已不存在；"
            "请用 --profile 指定该配置文件的新位置",
            "the data directory's profile file is gone",
        )
    return load_profile(path)


def _mismatch(data_dir: Path, record: Record, profile: Profile) -> StateError:
    return StateError(
        f"数据目录“{data_dir}”使用的是地区配置{record.describe()}，与所选的“{profile.name}”"
        f"（{profile.city.name}）不一致；如确需更换，请运行 "
        f"canbao profile use {profile.name if profile.source == 'shipped' else profile.source} "
        f"--data-dir {data_dir}",
        f"the data directory uses profile {record.name!r}, not {profile.name!r}",
    )


def _changed_note(record: Record, profile: Profile) -> str:
    return (
        f"地区配置“{profile.name}”的内容自上次使用后已变更"
        f"（{record.digest[:12]} → {profile.short_digest}），已按新内容记录"
    )


def profile_for(
    data_dir: Path | None, requested: str | Path | None = None, *, remember: bool = True
) -> Binding:
    """The profile to use with ``data_dir``: ``requested`` (a name or path; checked against the
    record), else the recorded one, else the default. With ``remember`` the choice is recorded
    when the data directory holds data (:func:`in_use`)."""
    record = read_record(data_dir) if data_dir is not None else None
    note = None
    if requested is not None and str(requested).strip():
        profile = load_profile(requested)
        if record is not None and record.name != profile.name:
            raise _mismatch(Path(data_dir or "."), record, profile)
    elif record is not None:
        profile = _load(record)
    else:
        profile = load_profile(None)
    if record is not None and (record.digest, record.source) != (profile.digest, profile.source):
        if record.digest != profile.digest:
            note = _changed_note(record, profile)
        if remember and data_dir is not None:
            _write(Path(data_dir), profile, replace=True)
    elif record is None and remember and data_dir is not None and in_use(Path(data_dir)):
        if not _write(Path(data_dir), profile, replace=False):
            return profile_for(data_dir, requested, remember=remember)  # recorded meanwhile
    return Binding(profile, note)


def remember(data_dir: Path, profile: Profile) -> None:
    """Record ``profile`` for ``data_dir`` after a command stored data computed with it (a plan
    import); a different recorded profile is an error, an updated one is recorded."""
    record = read_record(data_dir)
    if record is None:
        require_dir(Path(data_dir))
        Path(data_dir).mkdir(parents=True, exist_ok=True)
        _write(Path(data_dir), profile, replace=False)
    elif record.name != profile.name:
        raise _mismatch(Path(data_dir), record, profile)
    elif (record.digest, record.source) != (profile.digest, profile.source):
        _write(Path(data_dir), profile, replace=True)


def use_profile(data_dir: Path, requested: str | Path) -> tuple[Profile, Record | None]:
    """Explicitly set (or change) the data directory's profile. Returns the profile and the
    record it replaced (None if there was none). Plans stored for another profile then fail to
    load with a message naming both: re-import them."""
    profile = load_profile(requested)
    with writer_lock(Path(data_dir), "profile"):
        previous = read_record(data_dir)
        _write(Path(data_dir), profile, replace=True)
    return profile, previous
