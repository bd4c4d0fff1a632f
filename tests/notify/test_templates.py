"""Every shipped template passes the rules providers apply (no links, no marketing or 催缴
wording, no opt-out line on a notice, declared parameters, one segment of fixed text)."""

from __future__ import annotations

import pytest

from canbao.errors import DataError
from canbao.notify.rules import TEMPLATES
from canbao.notify.templates import Template, parse_templates, problems, template, templates


@pytest.mark.parametrize("name", sorted(templates()))
def test_shipped_template_passes_the_rules(name: str) -> None:
    t = templates()[name]
    assert problems(t) == []
    assert "http" not in t.text and "催缴" not in t.text and "回复R" not in t.text
    text = t.render({p: "X" for p in t.params})
    assert "${" not in text


def test_every_rule_has_an_approved_template() -> None:
    for name in TEMPLATES.values():
        assert template(name).kind == "notice"
    assert template("otp_login").kind == "verification"


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("缴费提醒：详见 https://si.example.cn/pay ${a}", "链接"),
        ("缴费提醒：请登录 www.jxhrss.gov.cn 查询${a}", "链接"),
        ("缴费提醒：限时优惠，缴费送红包${a}", "营销"),
        ("社保催缴通知：${a}请立即缴纳", "不予通过"),
        ("缴费提醒：${a}。拒收请回复R", "退订"),
        ("缴费提醒：${a}${b}", "不一致"),
        ("缴费提醒" * 20 + "${a}", "超过"),
    ],
)
def test_bad_templates_are_refused(text: str, found: str) -> None:
    bad = Template("t", "测试", "notice", ("a",), text)
    assert any(found in p for p in problems(bad)), problems(bad)


def test_render_needs_every_parameter() -> None:
    t = template("employer_due")
    with pytest.raises(DataError, match="缺少参数"):
        t.render({"employer": "某公司"})
    text = t.render({"employer": "某公司", "period": "2017年11月", "due_date": "12月31日"})
    assert text.startswith("缴费提醒：某公司2017年11月")


def test_parse_templates_rejects_incomplete_entries() -> None:
    with pytest.raises(DataError, match="应有 title"):
        parse_templates('[x]\ntitle = "a"\n')
