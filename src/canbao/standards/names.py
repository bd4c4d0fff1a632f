"""Chinese person and employer names: normalisation, pinyin keys, surname split.

Person names: NFKC, all whitespace removed (two-character names are padded: "黄  虹"), middle-dot
variants of minority names unified to U+00B7, traditional → simplified with OpenCC. The pinyin
key is toneless, one syllable per character, with the surname readings of polyphonic surnames
(曾 zeng, 单 shan, 解 xie …), so homophone substitutions (王伟/王薇) share a key.

Everything has a vectorised Polars form (``*_expr`` / ``*_series``) used on registry-sized
columns; the scalar helpers run the same code. OpenCC and pypinyin are called once per distinct
value or character, never once per row.
"""

from __future__ import annotations

from functools import cache

import polars as pl

from canbao.standards._text import SPACES_RE, safe_str

MIDDLE_DOTS = ["•", "‧", "・", "･", "∙", "⋅", "﹒", ".", "\u2027", "\u2022", "\u30fb"]
MIDDLE_DOT = "·"

# Compound surnames (复姓), longest first when matching.
COMPOUND_SURNAMES = (
    "欧阳", "司马", "诸葛", "上官", "夏侯", "皇甫", "尉迟", "公孙", "慕容", "令狐", "东方",
    "长孙", "宇文", "司徒", "司空", "端木", "独孤", "南宫", "西门", "轩辕", "澹台", "公冶",
    "太史", "申屠", "呼延", "闻人", "万俟", "钟离", "赫连", "拓跋", "百里", "东郭", "濮阳",
)  # fmt: skip

# Surname readings that differ from the character's most common reading.
SURNAME_PINYIN = {
    "曾": "zeng", "单": "shan", "解": "xie", "区": "ou", "仇": "qiu", "朴": "piao",
    "查": "zha", "盖": "ge", "尉迟": "yuchi", "万俟": "moqi", "长孙": "zhangsun",
    "乐": "yue", "缪": "miao", "翟": "zhai", "繁": "po", "覃": "qin", "任": "ren",
    "华": "hua", "种": "chong", "员": "yun", "召": "shao", "秘": "bi", "冼": "xian",
    "相": "xiang", "宿": "su", "藏": "zang", "黑": "he", "沈": "shen", "石": "shi",
    "叶": "ye", "薄": "bo", "卜": "bu", "蔚": "yu", "纪": "ji", "牟": "mou",
}  # fmt: skip


@cache
def _t2s() -> object:
    import opencc

    return opencc.OpenCC("t2s")


def _convert_t2s(values: pl.Series) -> pl.Series:
    conv = _t2s()
    uniq = values.drop_nulls().unique()
    mapped = [conv.convert(v) for v in uniq.to_list()]  # type: ignore[attr-defined]
    return values.replace_strict(uniq, pl.Series(mapped, dtype=pl.Utf8), default=None)


def _empty_to_null(s: pl.Series) -> pl.Series:
    return pl.select(pl.when(s != "").then(s)).to_series()


def person_name_series(values: pl.Series) -> pl.Series:
    """Normalise a column of person names (see module docstring). Empty → null."""
    cleaned = (
        values.cast(pl.Utf8)
        .str.normalize("NFKC")
        .str.replace_all(SPACES_RE, "")
        .str.replace_many(MIDDLE_DOTS, [MIDDLE_DOT] * len(MIDDLE_DOTS))
    )
    out = _convert_t2s(cleaned)
    return _empty_to_null(out).rename(values.name)


def normalize_person_name(value: object) -> str | None:
    if value is None:
        return None
    out = person_name_series(pl.Series("n", [safe_str(value)]))[0]
    return str(out) if out is not None else None


_COMPOUND_RE = "^(" + "|".join(COMPOUND_SURNAMES) + ")"


def surname_expr(expr: pl.Expr) -> pl.Expr:
    """The surname of an already-normalised name (compound surnames recognised).

    A compound surname counts only when a given name follows it (欧阳 alone is 欧 + 阳). Minority
    names with a middle dot keep their first part. One regex pass, no per-surname branches.
    """
    compound = pl.when(expr.str.len_chars() > 2).then(expr.str.extract(_COMPOUND_RE, 1))
    return (
        pl.when(expr.str.contains(MIDDLE_DOT, literal=True))
        .then(expr.str.split(MIDDLE_DOT).list.first())
        .otherwise(pl.coalesce(compound, expr.str.slice(0, 1)))
    )


def surname_pinyin_series(names: pl.Series) -> pl.Series:
    """Pinyin of each normalised name's surname (computed once per distinct surname)."""
    surnames = pl.DataFrame({"n": names.cast(pl.Utf8)}).select(s=surname_expr(pl.col("n")))["s"]
    uniq = surnames.drop_nulls().unique()
    mapped = pinyin_key_series(uniq)
    return surnames.replace_strict(uniq, mapped, default=None).rename(names.name or "surname_py")


def split_name(value: str) -> tuple[str, str]:
    """('欧阳', '修') for 欧阳修; ('黄', '虹') for '黄  虹'. Input is normalised first."""
    name = normalize_person_name(value) or ""
    if not name:
        return "", ""
    df = pl.DataFrame({"n": [name]}).with_columns(s=surname_expr(pl.col("n")))
    surname = str(df["s"][0])
    given = name[len(surname) :].lstrip(MIDDLE_DOT)
    return surname, given


@cache
def _char_pinyin(ch: str) -> str:
    from pypinyin import Style, lazy_pinyin

    out = lazy_pinyin(ch, style=Style.NORMAL, errors="default")
    return "".join(out).lower()


def _pinyin_table(chars: pl.Series) -> tuple[list[str], list[str]]:
    uniq = [c for c in chars.drop_nulls().unique().to_list() if c]
    return uniq, [_char_pinyin(c) for c in uniq]


def pinyin_key_series(names: pl.Series) -> pl.Series:
    """Toneless pinyin of normalised names, syllables joined with no separator.

    The surname part uses :data:`SURNAME_PINYIN`; other characters their most common reading.
    Non-Chinese characters are kept as they are (lower-cased).
    """
    df = pl.DataFrame({"name": names.cast(pl.Utf8)}).with_row_index("_i")
    df = df.with_columns(surname=surname_expr(pl.col("name")))
    df = df.with_columns(given=pl.col("name").str.slice(pl.col("surname").str.len_chars()))
    chars = df.select(pl.col("name").str.split("").explode())["name"]
    keys, vals = _pinyin_table(chars)
    skeys = list(SURNAME_PINYIN)
    svals = list(SURNAME_PINYIN.values())

    def per_char(col: str) -> pl.Expr:
        return (
            pl.col(col)
            .str.split("")
            .list.eval(
                pl.element().replace_strict(keys, vals, default=pl.element().str.to_lowercase())
            )
            .list.join("")
        )

    out = df.with_columns(
        sp=pl.col("surname").replace_strict(skeys, svals, default=None),
        sp_chars=per_char("surname"),
        gp=per_char("given"),
    ).select(
        pl.when(pl.col("name").is_null() | (pl.col("name") == ""))
        .then(None)
        .otherwise(pl.concat_str(pl.coalesce("sp", "sp_chars"), pl.col("gp")))
        .alias(names.name or "pinyin")
    )
    return out.to_series()


def pinyin_key(value: str) -> str | None:
    name = normalize_person_name(value)
    if not name:
        return None
    out = pinyin_key_series(pl.Series("n", [name]))[0]
    return str(out) if out is not None else None


# --- employers -----------------------------------------------------------------------------

# Legal-form variants → one canonical spelling (applied after NFKC and t2s).
_LEGAL_FORMS = [
    ("有限责任公司", "有限公司"),
    ("有限公司", "有限公司"),
    ("股份有限公司", "股份有限公司"),
]
_SUFFIX_RE = r"(股份有限公司|有限责任公司|有限公司|股份公司|公司)$"


def employer_name_series(values: pl.Series) -> pl.Series:
    """Canonical employer name: NFKC (full-width brackets → half-width), no spaces, simplified
    characters, 有限责任公司 → 有限公司, Chinese brackets unified to ``()``."""
    cleaned = (
        values.cast(pl.Utf8)
        .str.normalize("NFKC")
        .str.replace_all(SPACES_RE, "")
        .str.replace_many(["〔", "〕", "【", "】", "[", "]"], ["(", ")", "(", ")", "(", ")"])
    )
    out = _convert_t2s(cleaned).str.replace_all("有限责任公司", "有限公司")
    return _empty_to_null(out).rename(values.name)


def normalize_employer_name(value: object) -> str | None:
    if value is None:
        return None
    out = employer_name_series(pl.Series("n", [safe_str(value)]))[0]
    return str(out) if out is not None else None


def employer_name_key_series(values: pl.Series) -> pl.Series:
    """Matching key: the canonical name without its legal-form suffix or brackets."""
    return employer_name_series(values).str.replace(_SUFFIX_RE, "").str.replace_all(r"[()]", "")
