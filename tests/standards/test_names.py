from __future__ import annotations

import polars as pl
import pytest

from canbao.standards import names


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("黄  虹", "黄虹"),
        ("黄\u3000虹", "黄虹"),
        (" 黃虹 ", "黄虹"),
        ("歐陽修", "欧阳修"),
        ("阿依古丽•买买提", "阿依古丽·买买提"),
        ("阿依古丽・买买提", "阿依古丽·买买提"),
        ("阿依古丽.买买提", "阿依古丽·买买提"),
        ("", None),
        ("　", None),
    ],
)
def test_normalize_person_name(raw: str, expected: str | None) -> None:
    assert names.normalize_person_name(raw) == expected


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("曾国藩", "zengguofan"),
        ("单雄信", "shanxiongxin"),
        ("解缙", "xiejin"),
        ("区志明", "ouzhiming"),
        ("仇英", "qiuying"),
        ("朴树", "piaoshu"),
        ("查良镛", "zhaliangyong"),
        ("盖聂", "genie"),
        ("尉迟恭", "yuchigong"),
        ("黄  虹", "huanghong"),
    ],
)
def test_pinyin_key_uses_surname_readings(raw: str, key: str) -> None:
    assert names.pinyin_key(raw) == key


def test_homophones_share_a_key() -> None:
    assert names.pinyin_key("王伟") == names.pinyin_key("王薇") == "wangwei"
    assert names.pinyin_key("张丽") == names.pinyin_key("章莉")


@pytest.mark.parametrize(
    ("raw", "split"),
    [
        ("欧阳修", ("欧阳", "修")),
        ("司马光", ("司马", "光")),
        ("诸葛亮", ("诸葛", "亮")),
        ("上官婉儿", ("上官", "婉儿")),
        ("夏侯惇", ("夏侯", "惇")),
        ("皇甫嵩", ("皇甫", "嵩")),
        ("黄  虹", ("黄", "虹")),
        ("欧阳", ("欧", "阳")),  # a two-character name is surname + given name
    ],
)
def test_split_name(raw: str, split: tuple[str, str]) -> None:
    assert names.split_name(raw) == split


def test_vectorised_names_keep_order_and_nulls() -> None:
    s = pl.Series("n", ["黃  虹", None, "歐陽修"])
    assert names.person_name_series(s).to_list() == ["黄虹", None, "欧阳修"]
    assert names.pinyin_key_series(names.person_name_series(s)).to_list() == [
        "huanghong",
        None,
        "ouyangxiu",
    ]


@pytest.mark.parametrize(
    "raw",
    [
        "九江市长江机械有限责任公司",
        "九江市长江机械 有限公司",
        "九江市長江機械有限公司",
        "九江市长江机械有限公司",
    ],
)
def test_employer_names_unify(raw: str) -> None:
    assert names.normalize_employer_name(raw) == "九江市长江机械有限公司"


def test_employer_brackets_and_key() -> None:
    a = names.normalize_employer_name("九江（庐山）旅游股份有限公司")
    b = names.normalize_employer_name("九江(庐山)旅游股份有限公司")
    assert a == b == "九江(庐山)旅游股份有限公司"
    keys = names.employer_name_key_series(
        pl.Series(["九江（庐山）旅游股份有限公司", "九江庐山旅游有限责任公司"])
    )
    assert keys[0] == keys[1] == "九江庐山旅游"
