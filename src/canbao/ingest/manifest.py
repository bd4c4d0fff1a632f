"""``DIR/manifest.json`` (format ``canbao-manifest/1``, see docs/manifest.md): the list of files
of one delivery with their source, kind, scheme, encoding claim, as-of date, sheet and map.

The whole manifest is checked against one schema before any file is read: the type of every
field, dates, and that every path stays inside the manifest's folder (no absolute path, no
``..`` out of it, no symlink pointing out of it). Every violation is reported at once, in one
:class:`DataError` naming the entry and the field; nothing is ingested from a bad manifest.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError

from canbao.errors import DataError, InputFileError

FORMAT = "canbao-manifest/1"
MAX_BYTES = 16 * 1024**2  # a manifest lists files; a bigger one is not a manifest
SHOWN_ERRORS = 20

_Text = Annotated[str, StringConstraints(pattern=r"\S")]  # a string with a non-blank character


class _FileEntry(BaseModel):
    """One entry of ``files`` (strict: a number is not a string, a list is not a map)."""

    model_config = ConfigDict(strict=True, extra="forbid")

    path: _Text
    source: _Text
    kind: _Text
    scheme: str | None = None
    encoding: str | None = None
    as_of: dt.date | None = None
    sheet: str | None = None
    map: dict[str, str] | None = None


class _Manifest(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow")  # city, year, generator… are free

    format: str
    as_of: dt.date | None = None
    files: list[_FileEntry]


ENTRY_FIELDS = tuple(_FileEntry.model_fields)


@dataclass
class ManifestFile:
    path: Path
    source: str
    kind: str
    scheme: str | None = None
    encoding: str | None = None
    as_of: str | None = None
    sheet: str | None = None
    map: dict[str, str] = field(default_factory=dict)


@dataclass
class Manifest:
    root: Path
    as_of: str | None
    files: list[ManifestFile]
    raw: dict[str, Any]


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "布尔值"
    if isinstance(value, int | float):
        return f"数字 {value}"
    if isinstance(value, list):
        return "列表"
    if isinstance(value, dict):
        return "对象"
    text = str(value)
    return f"“{text[:40]}{'…' if len(text) > 40 else ''}”"


_DATE = "应为 YYYY-MM-DD 格式的有效日期"
_PROBLEMS = {
    "missing": "缺少（必填）",
    "string_type": "应为文本（字符串）",
    "string_pattern_mismatch": "不能为空",
    "dict_type": '应为对象，如 {"列名": "字段"}',
    "model_type": "应为对象 {…}",
    "list_type": "应为列表 […]",
    "extra_forbidden": "不是清单的字段（可用：" + "、".join(ENTRY_FIELDS) + "）",
}


def _where(loc: tuple[int | str, ...]) -> str:
    if len(loc) >= 2 and loc[0] == "files" and isinstance(loc[1], int):
        rest = loc[2:]
        if not rest:
            return f"第 {loc[1] + 1} 项"
        if rest[0] == "map" and len(rest) > 1:
            return f"第 {loc[1] + 1} 项 map 中“{rest[1]}”的值"
        return f"第 {loc[1] + 1} 项的 {rest[0]}"
    return "清单的 " + ".".join(str(x) for x in loc)


def _describe(err: Any) -> str:
    kind = err["type"]
    problem = _DATE if kind.startswith("date") else _PROBLEMS.get(kind, err["msg"])
    shown = "" if kind in ("missing", "extra_forbidden") else f"（现为{_json_type(err['input'])}）"
    where = _where(tuple(err["loc"]))
    return f"{where}{' ' if where[-1].isascii() else ''}{problem}{shown}"


def _confined(root: Path, text: str) -> tuple[Path | None, str | None]:
    """``root/text`` when it stays inside ``root`` (symlinks resolved), else why not."""
    if "\x00" in text:
        return None, "含有空字符"
    if PurePosixPath(text).is_absolute() or PureWindowsPath(text).anchor:
        return None, f"“{text}”是绝对路径，应为相对于清单所在文件夹的路径"
    path = root / text
    try:
        inside = path.resolve().is_relative_to(root.resolve())
    except (OSError, RuntimeError):  # a symlink loop
        return None, f"“{text}”无法解析（符号链接循环？）"
    if not inside:
        return None, f"“{text}”指向清单所在文件夹之外（.. 或符号链接），不允许"
    return path, None


def load(directory: Path) -> Manifest:
    """Read and check ``directory/manifest.json``; raises before any listed file is read."""
    directory = Path(directory)
    path = directory / "manifest.json"
    if not path.is_file():
        raise InputFileError(
            f"目录“{directory}”中没有 manifest.json（文件清单）", f"no manifest.json in {directory}"
        )
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_BYTES + 1)
        if len(raw) > MAX_BYTES:
            raise InputFileError(
                f"文件清单“{path}”超过 {MAX_BYTES // 1024**2} MB，不像是文件清单",
                "manifest.json too large",
            )
        data = json.loads(raw.decode("utf-8-sig"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as e:
        raise InputFileError(
            f"文件清单“{path}”不是有效的 JSON（UTF-8）", f"invalid manifest JSON: {e}"
        ) from e
    except OSError as e:
        raise InputFileError(f"无法读取文件清单“{path}”", f"cannot read manifest: {e}") from e
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise DataError(
            f"文件清单“{path}”的 format 应为 {FORMAT}", f"manifest format must be {FORMAT}"
        )
    problems: list[str] = []
    try:
        checked = _Manifest.model_validate_json(json.dumps(data))
    except ValidationError as e:
        problems = [_describe(err) for err in e.errors()]
        checked = None
    files: list[ManifestFile] = []
    if checked is not None:
        default_as_of = checked.as_of.isoformat() if checked.as_of else None
        for i, entry in enumerate(checked.files):
            where, why = _confined(directory, entry.path)
            if where is None:
                problems.append(f"第 {i + 1} 项的 path {why}")
                continue
            files.append(
                ManifestFile(
                    path=where,
                    source=entry.source,
                    kind=entry.kind,
                    scheme=entry.scheme,
                    encoding=entry.encoding,
                    as_of=entry.as_of.isoformat() if entry.as_of else default_as_of,
                    sheet=entry.sheet,
                    map=dict(entry.map or {}),
                )
            )
    if problems:
        shown = "；".join(problems[:SHOWN_ERRORS])
        more = f"；…等共 {len(problems)} 处" if len(problems) > SHOWN_ERRORS else ""
        raise DataError(
            f"文件清单“{path}”有 {len(problems)} 处错误，未导入任何文件：{shown}{more}",
            f"manifest.json: {len(problems)} schema violation(s)",
            problems=len(problems),
        )
    return Manifest(directory, data.get("as_of"), files, data)
