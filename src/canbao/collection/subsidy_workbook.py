"""The subsidy register as xlsx (补助资金到账登记表): template and import into the register of
:mod:`canbao.collection.subsidies`.

Layout (written by :func:`write_template`; on import the header row is found by its words
under any title rows, and the column order is free):

===========  ==================================================================================
column       content
===========  ==================================================================================
文号          the allocation's document number (required)
来源          who allocated it (required): 财政部, 省财政厅 …
级别          中央 / 省级 (中央级, 中央财政, 省, 省级财政 accepted)
险种          a scheme (城镇职工基本养老保险, 城乡居民养老保险, 工伤 …) or 其他 / 综合
金额（万元）  the amount; the header's unit says 万元 or 元 (default 元)
到账日期      2017-03-15, 2017/3/15, 2017年3月15日, 20170315 or an Excel date
单位          optional: the county, 市本级 or zone it was received for; blank or 全市: the city
备注          optional
===========  ==================================================================================

Rules: every bad cell is reported at once by its address (``E7 金额不是正数：“-5”``) through a
:class:`~canbao.errors.DataError` (``details["cells"]``); a document number may appear once per
unit and scheme — twice in the workbook is an error; a receipt already in the register with the
same content is skipped (importing a workbook twice changes nothing), with different content it
is an error naming the document unless ``replace=True`` (``--replace``), which corrects it.
Amounts go to integer fen through the ingest's money rule (exact decimal, half-up beyond fen).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import polars as pl
from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side

from canbao import outputs
from canbao.collection.subsidies import (
    LEVEL_ZH,
    SCHEME_ZH,
    Receipt,
    load_receipts,
    save_receipts,
    yuan_text,
)
from canbao.errors import DataError
from canbao.ingest.forms import addr, find_header, norm, open_form
from canbao.ingest.kinds import SCHEME_VALUES
from canbao.ingest.normalize import parse_date, parse_money
from canbao.profile import CITY, Profile, name_key
from canbao.warehouse.lock import writes_data_dir

SHEET_NAME = "补助资金到账登记"
WHAT = "补助资金到账登记表"
FIELDS: dict[str, tuple[str, ...]] = {
    "document_no": ("文号", "发文字号", "文件号", "拨款文号", "指标文号"),
    "source": ("来源", "资金来源", "拨付单位", "下达单位", "拨款单位"),
    "level": ("级别", "资金级别", "层级"),
    "scheme": ("险种", "资金用途", "项目"),
    "amount": ("金额", "到账金额", "补助金额", "资金金额"),
    "received_on": ("到账日期", "拨付日期", "到账时间", "日期"),
    "unit": ("单位", "单位名称", "县(市、区)", "地区", "受助单位"),
    "note": ("备注", "说明"),
}
REQUIRED = ("document_no", "source", "level", "scheme", "amount", "received_on")
LEVELS = {
    "central": ("中央", "中央级", "中央财政", "国家", "central"),
    "provincial": ("省级", "省", "省财政", "省级财政", "provincial"),
}
OTHER_SCHEME = ("其他", "综合", "多险种", "other")
MAX_ERRORS = 20


def _word(text: object) -> str:
    """A level or scheme as compared: no spaces, upper case, without 基本/社会/保险
    (城乡居民基本养老保险 = 城乡居民养老保险 = 城乡居民养老)."""
    return re.sub("基本|社会|保险", "", name_key(text or "")).upper()


def _lookup(words: Mapping[str, Sequence[str]]) -> dict[str, str]:
    return {_word(w): code for code, ws in words.items() for w in (code, *ws)}


_LEVEL = _lookup(LEVELS)
_SCHEME = _lookup(
    {
        **{c: (SCHEME_ZH[c], *v) for c, v in SCHEME_VALUES.items()},
        "other": (SCHEME_ZH["other"], *OTHER_SCHEME),
    }
)


def resolve_unit(text: str, profile: Profile) -> str | None:
    """A receipt's unit: a county's code, ``city_level`` or a zone's code; None for the whole
    city (blank, 全市); :class:`KeyError` when ``text`` names no unit of ``profile``."""
    key = name_key(text)
    if not key or key in ("全市", "合计"):
        return None
    county = profile.resolve_county(key)
    if county is not None:
        return county.code
    for u in profile.units:
        if key in (u.code, *(name_key(n) for n in (u.name, *u.aliases))):
            return None if u.code == CITY else u.code
    raise KeyError(text)


# --- template -------------------------------------------------------------------------------


def write_template(
    path: Path,
    profile: Profile,
    receipts: list[Receipt] | None = None,
    *,
    title: str | None = None,
    remark: str = "",
) -> Path:
    """The register's workbook: empty, or listing ``receipts`` (amounts in 万元). ``remark``
    goes under the title (e.g. 示例数据)."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = SHEET_NAME
    headers = [("文号", 24), ("来源", 16), ("级别", 8), ("险种", 22), ("金额（万元）", 14),
               ("到账日期", 12), ("单位", 14), ("备注", 30)]  # fmt: skip
    ws.cell(row=1, column=1, value=title or f"{profile.city.name}社会保险补助资金到账登记表")
    ws.cell(row=1, column=1).font = Font(name="宋体", bold=True, size=16)
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(headers))
    grey = Font(name="宋体", color="808080", size=9)
    note = "级别填 中央 或 省级；金额单位见表头（万元，可改为元）；单位留空表示全市。"
    ws.cell(row=2, column=1, value=f"{remark}　{note}" if remark else note).font = grey
    thin = Side(style="thin", color="808080")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    for c, (h, w) in enumerate(headers, start=1):
        cell = ws.cell(row=3, column=c, value=h)
        cell.font = Font(name="宋体", bold=True)
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
        cell.border = border
        cell.alignment = Alignment(horizontal="center")
        ws.column_dimensions[cell.column_letter].width = w
    names = {c.code: c.name for c in profile.counties} | {u.code: u.name for u in profile.units}
    for r, rec in enumerate(receipts or [], start=4):
        wan = Decimal(rec.amount_fen) / Decimal(1_000_000)
        values = [rec.document_no, rec.source, LEVEL_ZH[rec.level], SCHEME_ZH[rec.scheme],
                  float(wan), rec.received_on, names.get(rec.unit or "", ""), rec.note]  # fmt: skip
        for c, v in enumerate(values, start=1):
            cell = ws.cell(row=r, column=c, value=v)
            cell.border = border
        ws.cell(row=r, column=5).number_format = "#,##0.00##"
        ws.cell(row=r, column=6).number_format = "yyyy-mm-dd"
    ws.freeze_panes = "A4"
    path.parent.mkdir(parents=True, exist_ok=True)
    outputs.save_openpyxl(wb, path)
    return path


# --- import ---------------------------------------------------------------------------------


def _text(value: Any) -> str | None:
    """A cell as text for the ingest parsers: dates ISO, numbers exact (repr of a float)."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value)
    return str(value).strip() or None


def _scaled(text: str | None, factor: int) -> str | None:
    """An amount in the sheet's unit as yuan text (exact); None if not a number."""
    if text is None:
        return None
    clean = re.sub(r"[,，¥￥元\s]", "", text)
    try:
        value = Decimal(clean) * factor
    except InvalidOperation:
        return None
    return format(value, "f") if value.is_finite() else None


def read_workbook(path: Path, profile: Profile) -> list[Receipt]:
    """The receipts of a filled register workbook (every bad cell reported at once)."""
    ws = open_form(path, SHEET_NAME, what=WHAT)
    head, cols = find_header(ws, FIELDS, REQUIRED, what=WHAT, file_name=path.name)
    amount_head = norm(ws.cell(row=head, column=cols["amount"]).value)
    factor = 10_000 if "万元" in amount_head else 1
    rows: list[tuple[int, dict[str, Any]]] = []
    for r in range(head + 1, ws.max_row + 1):
        raw = {f: ws.cell(row=r, column=c).value for f, c in cols.items()}
        if all(v is None or str(v).strip() == "" for v in raw.values()):
            continue
        if re.match(r"^(注|说明|合计|总计)", norm(raw["document_no"])):
            continue
        rows.append((r, raw))
    texts = pl.DataFrame(
        {
            "amount": [_scaled(_text(v["amount"]), factor) for _, v in rows],
            "day": [_text(v["received_on"]) for _, v in rows],
        },
        schema={"amount": pl.Utf8, "day": pl.Utf8},
    ).select(fen=parse_money(pl.col("amount")), day=parse_date(pl.col("day")))
    errors: list[str] = []
    seen: dict[tuple[str, str | None, str], int] = {}
    out: list[Receipt] = []
    for (r, raw), fen, day in zip(rows, texts["fen"], texts["day"], strict=True):
        bad = len(errors)
        doc = norm(raw["document_no"])
        source = str(raw["source"] or "").strip()
        level = _LEVEL.get(_word(raw["level"]))
        scheme = _SCHEME.get(_word(raw["scheme"])) if _word(raw["scheme"]) else None
        try:
            unit = resolve_unit(str(raw.get("unit") or ""), profile)
        except KeyError:
            errors.append(f"{addr(r, cols['unit'])} 未知单位“{raw['unit']}”")
            unit = None
        if not doc:
            errors.append(f"{addr(r, cols['document_no'])} 文号为空")
        if not source:
            errors.append(f"{addr(r, cols['source'])} 来源为空")
        if level is None:
            errors.append(f"{addr(r, cols['level'])} 级别“{raw['level'] or ''}”应为 中央 或 省级")
        if scheme is None:
            errors.append(f"{addr(r, cols['scheme'])} 险种“{raw['scheme'] or ''}”无法识别")
        if fen is None or fen <= 0:
            errors.append(f"{addr(r, cols['amount'])} 金额不是正数：“{raw['amount'] or ''}”")
        if day is None:
            errors.append(
                f"{addr(r, cols['received_on'])} 到账日期无法识别：“{raw['received_on'] or ''}”"
            )
        if len(errors) > bad:
            continue
        assert level and scheme and fen is not None and day is not None
        rec = Receipt(doc, source, level, scheme, int(fen), day, unit,
                      str(raw.get("note") or "").strip(), path.name)  # fmt: skip
        if rec.key in seen:
            errors.append(
                f"{addr(r, cols['document_no'])} 文号“{doc}”重复（同一单位、险种已在第 "
                f"{seen[rec.key]} 行）"
            )
            continue
        seen[rec.key] = r
        out.append(rec)
    if errors:
        shown = "；".join(errors[:MAX_ERRORS])
        more = f"；另有 {len(errors) - MAX_ERRORS} 处" if len(errors) > MAX_ERRORS else ""
        raise DataError(
            f"{WHAT}有误（{path.name}）：{shown}{more}",
            f"{len(errors)} bad cell(s) in the subsidy register workbook",
            cells=",".join(e.split(" ", 1)[0] for e in errors[:MAX_ERRORS]),
        )
    if not out:
        raise DataError(f"{WHAT}中没有任何到账记录（{path.name}）", "no receipts found")
    return out


@dataclass(frozen=True)
class SubsidyImport:
    path: Path  # the register
    added: int
    replaced: int
    unchanged: int
    total: int  # receipts in the register afterwards


def _same(a: Receipt, b: Receipt) -> bool:
    fields = ("source", "level", "amount_fen", "received_on", "note")
    return all(getattr(a, f) == getattr(b, f) for f in fields)


@writes_data_dir("subsidies")
def import_workbook(
    xlsx: Path, data_dir: Path, profile: Profile, *, replace: bool = False
) -> SubsidyImport:
    """Merge a filled workbook into the register of ``data_dir`` (see the module doc)."""
    new = read_workbook(xlsx, profile)
    old = {r.key: r for r in load_receipts(data_dir, profile)}
    conflicts = [r for r in new if r.key in old and not _same(r, old[r.key])]
    if conflicts and not replace:
        shown = "；".join(
            f"“{r.document_no}”（已登记 {yuan_text(old[r.key].amount_fen)} 元，"
            f"{old[r.key].received_on.isoformat()}）"
            for r in conflicts[:MAX_ERRORS]
        )
        raise DataError(
            f"以下文号已在争资登记簿中，内容与本表不同：{shown}；如确需更正，请加 --replace 重新导入",
            f"{len(conflicts)} receipt(s) differ from the register",
        )
    added = sum(1 for r in new if r.key not in old)
    unchanged = sum(1 for r in new if r.key in old and _same(r, old[r.key]))
    merged = dict(old)
    for r in new:
        if r.key not in old or not _same(r, old[r.key]):
            merged[r.key] = r
    path = save_receipts(data_dir, merged.values(), profile)
    return SubsidyImport(path, added, len(conflicts), unchanged, len(merged))
