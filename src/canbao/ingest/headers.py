"""Header rows and header mapping: find the header under title rows, combine two-row (merged)
headers, and map each column to a canonical field of the record kind.

Mapping order: explicit overrides (``--map 列名=field`` and the source's saved profile) first,
then the Chinese header vocabulary of :mod:`canbao.ingest.kinds`. When two columns claim the
same field (身份证号码 and 社会保障号码 both mean ``id``), the header listed earlier in the
vocabulary wins and the other is reported as unmapped.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache

from canbao.errors import DataError, UsageError
from canbao.ingest import kinds

IGNORE = "-"  # --map 列名=- ignores a column
_DECOR_RE = re.compile(r"[\s*＊:：\u200b\ufeff]")
_BRACKETS = str.maketrans({"（": "(", "）": ")", "【": "(", "】": ")", "[": "(", "]": ")"})


SHOWN_NAMES = 20  # column names listed in messages before "…等 N 列"


def shorten(names: Sequence[str], limit: int = SHOWN_NAMES, sep: str = "、") -> str:
    """At most ``limit`` names (each cut to 40 characters), then "…等 N 列": a file with 10,000
    columns must not put 80 KB of names into one message."""
    shown = [n if len(n) <= 40 else n[:40] + "…" for n in names[:limit]]
    text = sep.join(shown)
    if len(names) > limit:
        text += f"{sep}…等 {len(names)} 列"
    return text


def clean_header(text: str | None) -> str:
    """Header text as compared: NFKC, no whitespace, no required-marks (*) or colons."""
    if text is None:
        return ""
    t = unicodedata.normalize("NFKC", str(text)).translate(_BRACKETS)
    return _DECOR_RE.sub("", t)


@cache
def _vocabulary(kind: str) -> dict[str, tuple[str, int]]:
    """clean header → (field, preference rank); lower rank = preferred."""
    out: dict[str, tuple[str, int]] = {}
    for f in kinds.FIELDS[kind]:
        for rank, h in enumerate(f.headers):
            out.setdefault(clean_header(h), (f.name, rank))
        out.setdefault(clean_header(f.name), (f.name, len(f.headers)))
    return out


@cache
def _all_headers() -> frozenset[str]:
    out: set[str] = set()
    for kind in kinds.KINDS:
        out |= set(_vocabulary(kind))
    return frozenset(out)


def header_score(row: Sequence[str | None], kind: str, extra: Collection[str] = ()) -> int:
    vocab = _vocabulary(kind)
    known = _all_headers()
    mapped = {clean_header(e) for e in extra}
    score = 0
    for cell in row:
        c = clean_header(cell)
        if c in vocab or (c and c in mapped):
            score += 2
        elif c in known:
            score += 1
    return score


def locate_header(
    rows: Sequence[Sequence[str | None]], kind: str, scan: int = 30, extra: Collection[str] = ()
) -> int:
    """Index of the header row among the first ``scan`` rows: the row that names the most known
    fields (title rows above it name none). Falls back to the first row with ≥2 non-empty cells."""
    best, best_score = -1, 0
    for i, row in enumerate(rows[:scan]):
        s = header_score(row, kind, extra)
        if s > best_score:
            best, best_score = i, s
    if best >= 0:
        return best
    for i, row in enumerate(rows[:scan]):
        if sum(1 for c in row if c not in (None, "")) >= 2:
            return i
    return 0


def compose_two_row_header(
    top: Sequence[str | None], sub: Sequence[str | None], kind: str
) -> list[str] | None:
    """If ``sub`` is the second row of a merged header, the combined names; else None.

    ``top`` must already have merged cells filled across their span. ``sub`` is a header row
    when every non-empty cell is a known header or repeats the cell above, and at least one is a
    known header that differs from the cell above.
    """
    known = _all_headers()
    vocab = _vocabulary(kind)
    filled = [(t, s) for t, s in zip(top, sub, strict=False) if s not in (None, "")]
    if not filled:
        return None
    differs = False
    for t, s in filled:
        cs = clean_header(s)
        if cs == clean_header(t):
            continue
        if cs not in known:
            return None
        differs = True
    if not differs:
        return None
    names: list[str] = []
    for top_cell, sub_cell in zip(top, sub, strict=False):
        ts, ss = (top_cell or "").strip(), (sub_cell or "").strip()
        if ss and clean_header(ss) != clean_header(ts):
            # A sub-header under a group title: keep the sub-header when it is a field of this
            # kind, otherwise keep both words.
            names.append(ss if clean_header(ss) in vocab or not ts else f"{ts}-{ss}")
        else:
            names.append(ts or ss)
    # Repeated sub-headers under different groups (养老/缴费基数, 医疗/缴费基数): keep the group.
    counts: dict[str, int] = {}
    for n in names:
        counts[n] = counts.get(n, 0) + 1
    out = []
    for n, t2, s2 in zip(names, top, sub, strict=False):
        if counts[n] > 1 and t2 and s2 and clean_header(t2) != clean_header(s2):
            out.append(f"{t2.strip()}-{s2.strip()}")
        else:
            out.append(n)
    return out


_RESERVED = {"_i"}  # the row-index working column of the readers


def _literal_name(name: str, i: int) -> str:
    """Polars reads ``*`` and ``^…$`` in ``pl.col`` as a wildcard and a regex, not as names: such
    a header (and a reader's working-column name) gets its position appended (``*（列3）``)."""
    if name == "*" or (name.startswith("^") and name.endswith("$")) or name in _RESERVED:
        return f"{name}（列{i + 1}）"
    return name


def finalize_names(names: Sequence[str | None], file_name: str) -> list[str]:
    """Trimmed header names; empty headers become 列N; duplicates are an error. The names are
    safe in ``pl.col`` (see :func:`_literal_name`)."""
    out = []
    for i, n in enumerate(names):
        t = (n or "").strip().replace("\n", "")
        out.append(_literal_name(t, i) if t else f"列{i + 1}")
    seen: dict[str, int] = {}
    dups = []
    for i, n in enumerate(out):
        if n in seen:
            dups.append(n)
        seen.setdefault(n, i)
    if dups:
        unique = list(dict.fromkeys(dups))
        raise DataError(
            f"文件“{file_name}”的表头有重复列名：{shorten(unique)}，无法确定用哪一列，请修改表头或删除重复列",
            f"{len(unique)} duplicate header names: {', '.join(unique[:SHOWN_NAMES])}",
        )
    return out


@dataclass
class Mapping_:
    """Column → field mapping of one file."""

    columns: dict[str, str] = field(default_factory=dict)  # original column → field
    unmapped: list[str] = field(default_factory=list)
    shadowed: list[tuple[str, str]] = field(default_factory=list)  # (column, field) lost to another
    overridden: dict[str, str] = field(default_factory=dict)

    def field_to_column(self) -> dict[str, str]:
        return {f: c for c, f in self.columns.items()}


def parse_map_args(items: Sequence[str]) -> dict[str, str]:
    """``["列名=field", ...]`` → dict (field ``-`` ignores the column)."""
    out = {}
    for item in items:
        if "=" not in item:
            raise UsageError(
                f"--map 参数“{item}”格式应为 列名=字段名",
                f"--map expects COLUMN=FIELD, got {item!r}",
            )
        col, f = item.rsplit("=", 1)
        out[col.strip()] = f.strip()
    return out


def check_overrides(kind: str, overrides: Mapping[str, str]) -> None:
    valid = {f.name for f in kinds.FIELDS[kind]}
    for col, f in overrides.items():
        if f != IGNORE and f not in valid:
            raise UsageError(
                f"--map {col}={f}：“{f}”不是“{kinds.KIND_LABELS_ZH[kind]}”的字段，可用字段："
                + "、".join(sorted(valid)),
                f"unknown field {f!r} for kind {kind}",
            )


def map_columns(
    kind: str,
    columns: Sequence[str],
    overrides: Mapping[str, str] | None = None,
    profile: Mapping[str, str] | None = None,
    file_name: str = "",
) -> Mapping_:
    """Map the file's columns to canonical fields. ``overrides`` must name existing columns;
    ``profile`` entries for columns this file does not have are ignored."""
    overrides = dict(overrides or {})
    profile = dict(profile or {})
    check_overrides(kind, overrides)
    check_overrides(kind, profile)
    by_clean = {clean_header(c): c for c in columns}
    explicit: dict[str, str] = {}
    for src, f in [*profile.items(), *overrides.items()]:
        col = src if src in columns else by_clean.get(clean_header(src))
        if col is None:
            if src in overrides:
                raise UsageError(
                    f"--map 指定的列“{src}”在文件“{file_name}”中不存在；文件的列："
                    + shorten(columns),
                    f"--map names a column not in the file: {src!r}",
                )
            continue
        explicit[col] = f
    m = Mapping_(overridden=dict(explicit))
    taken = {f for f in explicit.values() if f != IGNORE}
    for col, f in explicit.items():
        if f != IGNORE:
            m.columns[col] = f
    vocab = _vocabulary(kind)
    candidates: dict[str, list[tuple[int, int, str]]] = {}
    for pos, col in enumerate(columns):
        if col in explicit:
            continue
        hit = vocab.get(clean_header(col))
        if hit is None:
            m.unmapped.append(col)
            continue
        f, rank = hit
        candidates.setdefault(f, []).append((rank, pos, col))
    for f, cands in candidates.items():
        cands.sort()
        if f in taken:
            m.shadowed.extend((c, f) for _, _, c in cands)
            continue
        m.columns[cands[0][2]] = f
        m.shadowed.extend((c, f) for _, _, c in cands[1:])
    m.columns = {c: m.columns[c] for c in columns if c in m.columns}
    return m


def require_identity(kind: str, mapping: Mapping_, columns: Sequence[str], file_name: str) -> None:
    """A person kind needs an ID or a name column; an employer kind a code or a name column."""
    present = set(mapping.columns.values())
    need: tuple[str, ...]
    if kind in kinds.PERSON_KINDS:
        need, label = ("id", "name"), "身份证号码或姓名"
    else:
        need, label = (
            ("credit_code", "org_code", "employer_name"),
            "统一社会信用代码、组织机构代码或单位名称",
        )
    if not present & set(need):
        raise DataError(
            f"文件“{file_name}”中找不到可识别的{label}列（{kinds.KIND_LABELS_ZH[kind]}）。文件的列："
            + shorten(columns)
            + "。可用 --map 列名=字段名 指定",
            f"no recognisable {'/'.join(need)} column for kind {kind}",
        )
