"""The approved SMS templates (``canbao/notify/data/templates.toml``) and the rules every
template must pass before it is filed with a provider: no links (a 12333 warning tells people
not to tap links in SMS), no marketing wording, no 催缴/催款 wording that providers refuse,
no opt-out line on a notice (Aliyun: only promotional SMS carry 拒收请回复R), declared
parameters only, at most :data:`MAX_CHARS` characters of fixed text."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources

from canbao.errors import DataError, NotFoundError

MAX_CHARS = 70  # one SMS segment (the sign name and parameters come on top)
KINDS = ("verification", "notice")
PARAM = re.compile(r"\$\{([a-z_]+)\}")
LINK = re.compile(r"https?://|www\.|\.(com|cn|net|org|gov)\b|[a-z0-9-]+\.[a-z]{2,}/", re.I)
MARKETING = ("优惠", "促销", "抢购", "活动", "红包", "免费", "限时", "中奖", "礼品", "折扣", "秒杀")
REFUSED = ("催缴", "催款", "追缴", "欠款", "代缴", "强制执行", "起诉", "黑名单", "失信")
OPT_OUT = ("回复R", "回复TD", "回T退订", "退订")


@dataclass(frozen=True)
class Template:
    name: str
    title: str
    kind: str
    params: tuple[str, ...]
    text: str

    def render(self, values: dict[str, str]) -> str:
        """The text with ``values`` filled in (a missing value is an error)."""
        missing = [p for p in self.params if p not in values]
        if missing:
            raise DataError(
                f"短信模板“{self.title}”缺少参数：{'、'.join(missing)}",
                f"template {self.name}: missing {missing}",
            )
        return PARAM.sub(lambda m: str(values[m.group(1)]), self.text)


def problems(t: Template) -> list[str]:
    """What is wrong with a template (empty when it may be filed)."""
    out: list[str] = []
    fixed = PARAM.sub("", t.text)
    if LINK.search(fixed):
        out.append("含有链接或网址")
    out += [f"含有营销用语“{w}”" for w in MARKETING if w in fixed]
    out += [f"含有服务商不予通过的用语“{w}”" for w in REFUSED if w in fixed]
    if t.kind == "notice":
        out += [f"通知类短信不应含退订用语“{w}”" for w in OPT_OUT if w in fixed]
    if t.kind not in KINDS:
        out.append(f"类型应为 {' | '.join(KINDS)}")
    used = PARAM.findall(t.text)
    if sorted(set(used)) != sorted(t.params) or len(set(t.params)) != len(t.params):
        out.append(f"参数列表 {list(t.params)} 与正文中的参数 {used} 不一致")
    if len(fixed) > MAX_CHARS:
        out.append(f"固定文字 {len(fixed)} 字，超过 {MAX_CHARS} 字")
    return out


def parse_templates(text: str) -> dict[str, Template]:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise DataError(f"短信模板文件有误：{e}", "templates.toml unreadable") from e
    out: dict[str, Template] = {}
    for name, raw in doc.items():
        if not isinstance(raw, dict) or not all(
            isinstance(raw.get(k), str) for k in ("title", "kind", "text")
        ):
            raise DataError(f"短信模板“{name}”应有 title、kind、text", f"bad template {name}")
        params = raw.get("params", PARAM.findall(raw["text"]))
        out[name] = Template(name, raw["title"], raw["kind"], tuple(params), raw["text"])
    return out


@cache
def templates() -> dict[str, Template]:
    """The shipped templates, each checked by :func:`problems` (a bad one stops here)."""
    text = resources.files("canbao.notify").joinpath("data/templates.toml").read_text("utf-8")
    found = parse_templates(text)
    for t in found.values():
        bad = problems(t)
        if bad:
            raise DataError(
                f"短信模板“{t.title}”（{t.name}）未通过检查：{'；'.join(bad)}",
                f"template {t.name} fails the rules",
            )
    return found


def template(name: str) -> Template:
    found = templates().get(name)
    if found is None:
        raise NotFoundError(f"没有名为“{name}”的短信模板", f"no template {name}")
    return found
