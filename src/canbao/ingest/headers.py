"""Header rows and header mapping: find the header under title rows, combine two-row (merged)
headers, and map each column to a canonical field of the record kind.

Mapping order: explicit overrides (``--map 列名=field`` and the source's saved profile) first,
then the Chinese header vocabulary of :mod:`canbao.ingest.kinds`. When two columns claim the
same field (身份证号码 and 社会保障号码 both mean ``id``), the header listed earlier in the
vocabulary wins and the other is reported as unmapped.

A header with a trailing bracketed qualifier (``实缴金额（元）``, ``费款所属期(YYYYMM)``) is read
as its word when the word alone is in the vocabulary (an exact header still wins over it). On an
amount the qualifier must be a unit of :data:`MONEY_UNITS` (``金额（万元）`` is scaled to fen by
it; ``实缴金额（个人部分）`` stays unmapped, it is not the row's amount); any other field takes any
qualifier.
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


# the units an amount column's header may name → fen per unit (the text is scaled by it)
MONEY_UNITS = {"元": 100, "人民币元": 100, "千元": 100_000, "万元": 1_000_000, "分": 1}
_QUALIFIED_RE = re.compile(r"^(.+?)\(([^()]+)\)$")
_QUALIFIED_RANK = 1000  # a qualified header ranks after every exact one of its field

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


def money_unit(header: str | None) -> int | None:
    """Fen per unit of the amount unit a header names in its trailing brackets (``欠费金额（万元）``
    → 1,000,000), None when it names none."""
    m = _QUALIFIED_RE.match(clean_header(header))
    return MONEY_UNITS.get(m.group(2)) if m else None


def lookup(kind: str, header: str | None) -> tuple[str, int] | None:
    """(field, preference rank) of a header of ``kind`` (see the module docstring), or None."""
    c = clean_header(header)
    vocab = _vocabulary(kind)
    hit = vocab.get(c)
    if hit is not None:
        return hit
    m = _QUALIFIED_RE.match(c)
    if m is None or m.group(1) not in vocab:
        return None
    f, rank = vocab[m.group(1)]
    if f in kinds.MONEY_FIELDS and m.group(2) not in MONEY_UNITS:
        return None
    return f, rank + _QUALIFIED_RANK


def _known(header: str | None) -> bool:
    """A header some kind knows."""
    c = clean_header(header)
    if c in _all_headers():
        return True
    m = _QUALIFIED_RE.match(c)
    return m is not None and any(lookup(k, c) for k in kinds.KINDS)


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
    mapped = {clean_header(e) for e in extra}
    score = 0
    for cell in row:
        c = clean_header(cell)
        if lookup(kind, c) is not None or (c and c in mapped):
            score += 2
        elif _known(c):
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
    filled = [(t, s) for t, s in zip(top, sub, strict=False) if s not in (None, "")]
    if not filled:
        return None
    differs = False
    for t, s in filled:
        cs = clean_header(s)
        if cs == clean_header(t):
            continue
        if not _known(cs):
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
            names.append(ss if lookup(kind, ss) is not None or not ts else f"{ts}-{ss}")
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
    units: dict[str, int] = field(default_factory=dict)  # amount column → fen per unit

    def field_to_column(self) -> dict[str, str]:
        return {f: c for c, f in self.columns.items()}

    def money_units(self) -> dict[str, int]:
        """Amount field → fen per unit of its column, where the header names a unit other than
        元 (:data:`MONEY_UNITS`)."""
        return {self.columns[c]: u for c, u in self.units.items() if u != MONEY_UNITS["元"]}


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
    candidates: dict[str, list[tuple[int, int, str]]] = {}
    for pos, col in enumerate(columns):
        if col in explicit:
            continue
        hit = lookup(kind, col)
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
    m.units = {
        c: u
        for c, f in m.columns.items()
        if f in kinds.MONEY_FIELDS and (u := money_unit(c)) is not None
    }
    return m


# the amount a ledger kind is about (kind → field)
LEDGER_AMOUNT = {"payment": "paid", "declaration": "due", "arrears": "amount"}


def amount_notes(kind: str, mapping: Mapping_, columns: Sequence[str], file_name: str) -> list[str]:
    """An opening-arrears list needs its 欠费金额 (:class:`DataError` without it); a payment or
    declaration file without its amount is still a record of who paid or declared (coverage
    and audit read them), but adds nothing to the contribution ledger: a report note says so."""
    need = LEDGER_AMOUNT.get(kind)
    if need is None or need in mapping.columns.values():
        return []
    label = next(f.label_zh for f in kinds.FIELDS[kind] if f.name == need)
    if kind == "arrears":
        raise DataError(
            f"文件“{file_name}”中找不到可识别的{label}列（{kinds.KIND_LABELS_ZH[kind]}）。文件的列："
            + shorten(columns)
            + f"。可用 --map 列名={need} 指定",
            f"no recognisable {need} column for kind {kind}",
        )
    return [
        f"文件中没有可识别的{label}列：本批次不计入征缴台账的{label}"
        f"（如有该列，可用 --map 列名={need} 指定后重新导入）"
    ]


def unit_notes(mapping: Mapping_) -> list[str]:
    """Report notes on the amount columns scaled by the unit their header names."""
    names = {u: n for n, u in MONEY_UNITS.items() if n != "人民币元"}
    return [
        f"金额列“{c}”以{names[u]}为单位，已换算为元"
        for c, u in mapping.units.items()
        if u != MONEY_UNITS["元"]
    ]


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
