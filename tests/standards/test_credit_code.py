from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from canbao.standards import credit_code as cc

# Real, published credit codes of well-known companies.
REAL_CODES = {
    "91110000600037341L": "600037341",  # GB 32100 / python-stdnum example
    "91350100M000100Y43": "M000100Y4",  # the standard's worked example
    "91110108551385082Q": "551385082",  # 小米科技有限责任公司
    "9144030071526726XG": "71526726X",  # 深圳市腾讯计算机系统有限公司
    "91440300708461136T": "708461136",  # 华为技术有限公司
    "914403001922038216": "192203821",  # 万科企业股份有限公司
}


@pytest.mark.parametrize(("code", "org"), REAL_CODES.items())
def test_real_codes(code: str, org: str) -> None:
    r = cc.check(code)
    assert r.valid and r.kind == "uscc" and r.errors == []
    assert r.org_code == org and cc.org_code_of(code) == org
    assert cc.check(org).valid and cc.check(org).kind == "org_code"


def test_circulating_invalid_code_is_rejected() -> None:
    r = cc.check("91310115MA1G4L1WXK")  # the check should be 7
    assert not r.valid and "checksum" in r.errors


def test_letter_authorities_accepted() -> None:
    for authority in "ANY":
        code = cc.make_uscc(authority, "1", "360402", "MA35C2R4")
        r = cc.check(code)
        assert r.valid, r
        assert r.region_code == "360402"


def test_unknown_authority_rejected() -> None:
    body = "B1360402" + "MA35C2R4" + cc.compute_org_check("MA35C2R4")
    r = cc.check(body + cc.compute_uscc_check(body))
    assert r.errors == ["authority"]


def test_region_and_embedded_org_check() -> None:
    body = "91999999" + "12345678" + cc.compute_org_check("12345678")
    assert cc.check(body + cc.compute_uscc_check(body)).errors == ["region"]
    body = "91360402" + "123456781"  # wrong organisation-code check (should be 8)
    assert cc.check(body + cc.compute_uscc_check(body)).errors == ["org_checksum"]


@pytest.mark.parametrize(
    ("value", "errors"),
    [
        ("", ["empty"]),
        ("9111000060003734", ["length"]),
        ("91110000600037341I", ["charset"]),  # I is not in the alphabet
        ("91110000600037341M", ["checksum"]),
        ("600037342", ["checksum"]),
        ("6000373-4!", ["charset"]),
    ],
)
def test_errors(value: str, errors: list[str]) -> None:
    assert cc.check(value).errors == errors


@pytest.mark.parametrize(
    "value",
    ["９１１１００００６０００３７３４１Ｌ", " 9111 0000 6000 3734 1l ", "91110000600037341l"],
)
def test_normalisation(value: str) -> None:
    r = cc.check(value)
    assert r.valid and r.code == "91110000600037341L"


def test_org_code_with_hyphen() -> None:
    r = cc.check("60003734-1")
    assert r.valid and r.code == "600037341" and r.kind == "org_code"


_BODY = st.text(alphabet="0123456789ABCDEFGHJKLMNPQRTUWXY", min_size=8, max_size=8)


@given(_BODY, st.sampled_from(["360402", "360423", "360483", "110105"]), st.data())
def test_every_single_substitution_is_detected(body: str, region: str, data: st.DataObject) -> None:
    code = cc.make_uscc("9", "1", region, body)
    assert cc.check(code).valid
    pos = data.draw(st.integers(0, 17))
    ch = data.draw(st.sampled_from([c for c in cc.USCC_ALPHABET if c != code[pos]]))
    assert not cc.check(code[:pos] + ch + code[pos + 1 :]).valid


@given(st.text(max_size=30))
def test_any_text_gets_an_answer(value: str) -> None:
    r = cc.check(value)
    assert r.valid == (r.errors == [])
    assert set(r.errors) <= set(cc.ERROR_CODES)
