"""The collection documents in Chinese (.docx): 催缴通知书, 责令限期缴纳社会保险费决定书, the
referral to labour inspection (移送函), the application for enforcement (强制执行申请书) and the
deferral / instalment agreement (缓缴 / 分期缴纳协议).

Each is rendered from a Word template with Jinja2 placeholders (``{{ employer_name }}``,
``{% if … %}``, table rows ``{%tr for i in instalments %}``) by ``docxtpl``. The bureau edits its
templates in Word: ``DATA/templates/<name>.docx`` overrides the built-in one of the same name
(:data:`TEMPLATES`); ``canbao dunning templates`` writes the built-in ones there to start from.
The built-in templates are made in code (python-docx), so the package ships no binary files.

Placeholders every template may use (:func:`base_context`): ``bureau`` (the region profile's
issuer, never a city in code), ``city``, ``document_no``, ``employer_name``, ``credit_code``,
``schemes``, ``periods``, ``amount`` / ``amount_upper`` (yuan, two decimals / 大写),
``late_fee``, ``total``, ``legal_basis``, ``deadline``, ``date``, ``note``; the dunning and the
agreement modules add their own (see docs/ledger.md). Values are escaped for Word's XML, and a
placeholder the program does not know is an error naming the template (never a blank).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from canbao.errors import DataError, DependencyError
from canbao.ingest.kinds import SCHEME_LABELS_ZH
from canbao.profile import Profile
from canbao.standards.money import yuan_text

TEMPLATE_DIR = "templates"  # under the data directory

TEMPLATES: dict[str, str] = {
    "dunning_notice": "社会保险费催缴通知书",
    "dunning_order": "责令限期缴纳社会保险费决定书",
    "dunning_referral": "欠缴社会保险费案件移送函",
    "dunning_enforcement": "强制执行申请书",
    "agreement": "社会保险费缓缴/分期缴纳协议",
}

LAW = "《中华人民共和国社会保险法》"
LEGAL_BASIS: dict[str, str] = {
    "dunning_notice": f"{LAW}第六十条、第六十三条、第八十六条",
    "dunning_order": f"{LAW}第六十三条、第八十六条",
    "dunning_referral": f"{LAW}第六十三条、第八十六条",
    "dunning_enforcement": f"{LAW}第六十三条和《中华人民共和国行政强制法》第五十三条、第五十四条",
    "agreement": f"{LAW}第六十三条",
}

_DIGITS = "零壹贰叁肆伍陆柒捌玖"
_SMALL = ("", "拾", "佰", "仟")
_BIG = ("", "万", "亿", "兆")


def yuan(fen: int) -> str:
    """Yuan with two decimals and thousands separators, as the documents print them."""
    return yuan_text(fen, thousands=True)


def yuan_upper(fen: int) -> str:
    """The amount in Chinese capitals (大写), as official documents write it:
    1234567 → 壹万贰仟叁佰肆拾伍元陆角柒分; 100 → 壹元整; 10005 → 壹佰元零伍分."""
    if fen < 0:
        return "负" + yuan_upper(-fen)
    whole, cents = divmod(fen, 100)
    jiao, fen_digit = divmod(cents, 10)
    out = _integer_upper(whole) + "元" if whole else ""
    if jiao == 0 and fen_digit == 0:
        return (out or "零元") + "整"
    if jiao:
        out += _DIGITS[jiao] + "角"
    elif whole:
        out += "零"
    if fen_digit:
        out += _DIGITS[fen_digit] + "分"
    return out


def _integer_upper(n: int) -> str:
    groups: list[int] = []
    while n:
        n, g = divmod(n, 10000)
        groups.append(g)
    out = ""
    zero = False  # a zero is pending between two non-zero digits
    for gi in range(len(groups) - 1, -1, -1):
        g = groups[gi]
        if g == 0:
            zero = bool(out)
            continue
        if out and g < 1000:
            zero = True
        for di in range(3, -1, -1):
            d = (g // 10**di) % 10
            if d == 0:
                zero = zero or bool(out)
                continue
            if zero:
                out += "零"
                zero = False
            out += _DIGITS[d] + _SMALL[di]
        out += _BIG[gi]
        zero = False
    return out


def date_zh(d: Any) -> str:
    """``2017年3月5日`` (empty for None)."""
    return f"{d.year}年{d.month}月{d.day}日" if d is not None else ""


def schemes_text(schemes: Iterable[str]) -> str:
    return "、".join(SCHEME_LABELS_ZH.get(s, s) for s in schemes)


_PERIOD = re.compile(r"^(\d{4})-(\d{2})$")


def periods_text(periods: Iterable[str]) -> str:
    """Contribution periods ``YYYY-MM`` as ranges: 2017年1月至2017年6月、2017年9月."""
    found = (_PERIOD.match(p) for p in periods)
    months = sorted({int(g[1]) * 12 + int(g[2]) - 1 for g in found if g})
    runs: list[tuple[int, int]] = []
    for mi in months:
        if runs and runs[-1][1] == mi - 1:
            runs[-1] = (runs[-1][0], mi)
        else:
            runs.append((mi, mi))

    def ym(m: int) -> str:
        return f"{m // 12}年{m % 12 + 1}月"

    return "、".join(ym(a) if a == b else f"{ym(a)}至{ym(b)}" for a, b in runs)


def base_context(
    name: str,
    profile: Profile,
    *,
    employer_name: str,
    credit_code: str,
    schemes: Iterable[str],
    periods: Iterable[str],
    amount_fen: int,
    late_fee_fen: int | None,
    date: Any,
    deadline: Any = None,
    doc_no: str = "",
    note: str = "",
) -> dict[str, Any]:
    """The placeholders every template has (see the module docstring)."""
    late = late_fee_fen or 0
    year = date.year if date is not None else profile.year
    return {
        "bureau": profile.letterhead.issuer,
        "city": profile.city.name,
        "document_no": doc_no or f"{profile.letterhead.document_prefix}〔{year}〕　　号",
        "title": TEMPLATES[name],
        "employer_name": employer_name,
        "credit_code": credit_code or "（未登记）",
        "schemes": schemes_text(schemes),
        "periods": periods_text(periods),
        "amount": yuan(amount_fen),
        "amount_upper": yuan_upper(amount_fen),
        "late_fee": yuan(late) if late_fee_fen else "",
        "total": yuan(amount_fen + late),
        "total_upper": yuan_upper(amount_fen + late),
        "legal_basis": LEGAL_BASIS[name],
        "deadline": date_zh(deadline),
        "date": date_zh(date),
        "note": note,
    }


def template_path(data_dir: Path | None, name: str) -> Path | None:
    """The bureau's own template for ``name`` (``DATA/templates/<name>.docx``), if there is one."""
    if data_dir is None:
        return None
    p = Path(data_dir) / TEMPLATE_DIR / f"{name}.docx"
    return p if p.is_file() else None


def render(
    name: str,
    context: Mapping[str, Any],
    out: Path,
    data_dir: Path | None = None,
    builtin: bytes | None = None,
) -> Path:
    """Render template ``name`` (the bureau's override, else the built-in one — ``builtin``
    when another module owns it, e.g. the audit documents) to ``out``."""
    try:
        from docxtpl import DocxTemplate
        from jinja2 import Environment, StrictUndefined, TemplateError
    except ModuleNotFoundError as e:  # pragma: no cover - a declared dependency
        raise DependencyError("缺少文书组件 docxtpl，请重新安装 canbao", str(e)) from e
    own = template_path(data_dir, name)
    where = str(own) if own else f"内置模板 {name}"
    try:
        default = builtin if builtin is not None else default_template(name)
        tpl = DocxTemplate(str(own) if own else io.BytesIO(default))
        env = Environment(autoescape=True, undefined=StrictUndefined)
        tpl.render(dict(context), jinja_env=env, autoescape=True)
    except TemplateError as e:
        raise DataError(
            f"文书模板“{where}”中的占位符有误：{e}；可用的占位符见 docs/ledger.md",
            f"template {name!r}: {type(e).__name__}: {e}",
        ) from e
    except (KeyError, ValueError, OSError) as e:
        raise DataError(
            f"无法读取文书模板“{where}”，请确认它是 Word（.docx）文件",
            f"template {name!r}: {type(e).__name__}",
        ) from e
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tpl.save(str(tmp))
    tmp.replace(out)
    return out


def write_templates(target: Path, *, force: bool = False) -> list[tuple[Path, bool]]:
    """Write the built-in templates to ``target`` (``DATA/templates``) for the bureau to edit:
    (path, written); an existing file is kept unless ``force``."""
    target.mkdir(parents=True, exist_ok=True)
    out = []
    for name in TEMPLATES:
        p = target / f"{name}.docx"
        if p.exists() and not force:
            out.append((p, False))
            continue
        p.write_bytes(default_template(name))
        out.append((p, True))
    return out


def safe_file_name(text: str) -> str:
    """A file name from a title and keys (no path separators or characters Windows refuses)."""
    return re.sub(r'[\\/:*?"<>|\s]+', "_", text).strip("._") or "document"


# --- the built-in templates ----------------------------------------------------------------

_TO = "{{ employer_name }}（统一社会信用代码：{{ credit_code }}）："
_LATE = "{% if late_fee %}，截至{{ date }}滞纳金{{ late_fee }}元，合计{{ total }}元{% endif %}"
_NOTE = "{% if note %}备注：{{ note }}{% endif %}"

_BODIES: dict[str, list[str]] = {
    "dunning_notice": [
        "#{{ bureau }}",
        "#{{ title }}",
        "={{ document_no }}",
        _TO,
        ">经核查，你单位{{ periods }}应缴未缴{{ schemes }}费{{ amount }}元（大写：人民币"
        "{{ amount_upper }}）" + _LATE + "。",
        ">依据{{ legal_basis }}的规定，用人单位应当自行申报、按时足额缴纳社会保险费。请你单位"
        "{% if deadline %}于{{ deadline }}前{% else %}自收到本通知之日起十五日内{% endif %}"
        "足额缴纳上述欠费。逾期仍未缴纳的，本局将依法责令你单位限期缴纳，并自欠缴之日起按日加收"
        "万分之五的滞纳金。",
        ">你单位如确有困难，可在上述期限内提供担保，依法申请缓缴或者分期缴纳。",
        ">" + _NOTE,
        ">特此通知。",
        "]{{ bureau }}",
        "]{{ date }}",
    ],
    "dunning_order": [
        "#{{ bureau }}",
        "#{{ title }}",
        "={{ document_no }}",
        _TO,
        ">你单位{{ periods }}未按时足额缴纳{{ schemes }}费，欠缴金额{{ amount }}元（大写：人民币"
        "{{ amount_upper }}）" + _LATE + "。"
        "{% if notice_date %}本局已于{{ notice_date }}向你单位发出催缴通知，你单位至今未缴纳。"
        "{% endif %}",
        ">依据{{ legal_basis }}的规定，现责令你单位于{{ deadline }}前足额缴纳上述社会保险费，"
        "并自欠缴之日起按日加收万分之五的滞纳金。",
        ">逾期仍不缴纳的，本局将依法申请有关行政部门作出划拨社会保险费的决定，或者申请人民法院"
        "强制执行，并由有关行政部门处欠缴数额一倍以上三倍以下的罚款。",
        ">你单位如不服本决定，可以自收到本决定书之日起六十日内依法申请行政复议，或者自收到本决定书"
        "之日起六个月内依法向人民法院提起行政诉讼。",
        ">" + _NOTE,
        "]{{ bureau }}",
        "]{{ date }}",
    ],
    "dunning_referral": [
        "#{{ bureau }}",
        "#关于移送{{ employer_name }}欠缴社会保险费案件的函",
        "={{ document_no }}",
        "{{ city }}劳动保障监察机构：",
        ">{{ employer_name }}（统一社会信用代码：{{ credit_code }}）{{ periods }}欠缴{{ schemes }}费"
        "{{ amount }}元（大写：人民币{{ amount_upper }}）" + _LATE + "。"
        "{% if notice_date %}本局于{{ notice_date }}向该单位发出催缴通知，{% endif %}"
        "于{{ order_date }}作出责令限期缴纳决定（限{{ deadline }}前缴纳），并先后{{ visits }}次上门"
        "催缴，该单位逾期仍未缴纳。",
        ">依据{{ legal_basis }}的规定，现将该案移送你单位依法处理。",
        ">附件：催缴通知书、责令限期缴纳社会保险费决定书、上门催缴记录",
        ">" + _NOTE,
        "]{{ bureau }}",
        "]{{ date }}",
    ],
    "dunning_enforcement": [
        "#{{ title }}",
        "={{ document_no }}",
        "申请人：{{ bureau }}",
        "被申请人：{{ employer_name }}，统一社会信用代码：{{ credit_code }}",
        ">申请事项：请求依法强制被申请人缴纳{{ periods }}欠缴的{{ schemes }}费{{ amount }}元（大写："
        "人民币{{ amount_upper }}）" + _LATE + "。",
        ">事实和理由：被申请人{{ periods }}未按时足额缴纳{{ schemes }}费。申请人"
        "{% if notice_date %}于{{ notice_date }}发出催缴通知，{% endif %}"
        "于{{ order_date }}作出责令限期缴纳决定，限被申请人于{{ deadline }}前缴纳；经{{ visits }}次"
        "上门催缴，被申请人逾期仍未缴纳，亦未在法定期限内申请行政复议或者提起行政诉讼。依据"
        "{{ legal_basis }}的规定，特申请强制执行。",
        ">" + _NOTE,
        "此致",
        "有管辖权的人民法院",
        "]申请人：{{ bureau }}",
        "]{{ date }}",
    ],
    "agreement": [
        "#{{ title }}",
        "=协议编号：{{ agreement_no }}",
        "甲方：{{ bureau }}",
        "乙方：{{ employer_name }}（统一社会信用代码：{{ credit_code }}）",
        ">乙方{{ periods }}欠缴{{ schemes }}费{{ amount }}元（大写：人民币{{ amount_upper }}）。"
        "{% if reason %}因{{ reason }}，{% endif %}乙方申请{{ kind_label }}并提供担保。依据"
        "{{ legal_basis }}的规定，甲乙双方协商一致，订立本协议。",
        ">一、{% if kind == 'deferral' %}缓缴期限自{{ start }}起至{{ end }}止，乙方应于{{ end }}前一次"
        "缴清上述欠费；缓缴期间不加收滞纳金。{% else %}乙方按下表分{{ count }}期缴清上述欠费：{% endif %}",
        "@table",
        ">二、担保：{{ guarantee }}",
        ">三、乙方未按期足额缴纳任一期款项（宽限{{ grace_days }}日）的，本协议即行终止，甲方恢复"
        "催缴，依法责令限期缴纳、加收滞纳金并申请强制执行。",
        ">四、本协议一式两份，甲乙双方各执一份，自甲方批准之日起生效。",
        ">" + _NOTE,
        "甲方（盖章）：{{ bureau }}",
        "乙方（盖章）：{{ employer_name }}",
        "]{% if approved %}批准日期：{{ approved }}{% else %}（待批准）{% endif %}",
        "]{{ date }}",
    ],
}


@cache
def default_template(name: str) -> bytes:
    """The built-in template ``name`` as .docx bytes (made with python-docx)."""
    if name not in TEMPLATES:
        raise KeyError(name)
    return build_template(tuple(_BODIES[name]))


_INSTALMENT_ROWS = (
    ("期次", "缴纳期限", "金额（元）"),
    ("{%tr for i in instalments %}", "", ""),
    ("第{{ i.seq }}期", "{{ i.due_date }}", "{{ i.amount }}"),
    ("{%tr endfor %}", "", ""),
)


def build_template(
    lines: Sequence[str], tables: Mapping[str, Sequence[Sequence[str]]] | None = None
) -> bytes:
    """A template as .docx bytes from its lines: ``#`` a centred bold title, ``=`` centred,
    ``>`` an indented paragraph, ``]`` right-aligned, ``@table`` the instalments' table and
    ``@<name>`` the table ``tables[name]`` (rows of cells; docxtpl's ``{%tr … %}`` rows repeat
    a row per item); one run per paragraph, so every placeholder stays whole."""
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml.ns import qn
    from docx.shared import Pt

    doc = Document()
    normal = doc.styles["Normal"]
    normal.font.name = "FangSong"
    normal.font.size = Pt(14)
    normal.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), "仿宋")
    known = {"table": _INSTALMENT_ROWS, **(tables or {})}
    for line in lines:
        if line.startswith("@") and line[1:] in known:
            rows = known[line[1:]]
            table = doc.add_table(rows=len(rows), cols=len(rows[0]))
            table.style = "Table Grid"
            for r, values in enumerate(rows):
                for c, v in enumerate(values):
                    table.cell(r, c).text = v
            continue
        mark, text = (line[0], line[1:]) if line[:1] in "#=>]" else ("", line)
        p = doc.add_paragraph()
        run = p.add_run(text)  # one run per paragraph: every placeholder stays whole
        if mark == "#":
            p.alignment = WD_ALIGN_PARAGRAPH.CENTER
            run.bold = True
            run.font.size = Pt(20 if text == "{{ title }}" or "关于" in text else 16)
        elif mark == "=":
            p.alignment = WD_ALIGN_PARAGRAPH.CENTER
        elif mark == ">":
            p.paragraph_format.first_line_indent = Pt(28)
        elif mark == "]":
            p.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


__all__ = [
    "LEGAL_BASIS",
    "TEMPLATES",
    "base_context",
    "build_template",
    "date_zh",
    "default_template",
    "periods_text",
    "render",
    "safe_file_name",
    "schemes_text",
    "template_path",
    "write_templates",
    "yuan",
    "yuan_upper",
]
