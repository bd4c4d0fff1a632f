"""Senders: what hands an outbox message to an SMS channel.

- :class:`FileSender` (provider ``file`` and every ``test`` mode): writes each message as one
  JSON line to ``DATA/outbox/sms.jsonl`` (fields ``at, out_id, phone, template, params,
  provider_id``); nothing leaves the machine.
- :class:`AliyunSender`: 阿里云短信 SendSms (RPC API 2017-05-25): ``PhoneNumbers``,
  ``SignName``, ``TemplateCode``, ``TemplateParam`` (JSON object), ``OutId`` (our idempotency
  key) → ``Code`` ``"OK"`` and ``BizId`` (the receipt's ``biz_id``).
- :class:`TencentSender`: 腾讯云短信 SendSms (API 2021-01-11): ``PhoneNumberSet`` (E.164),
  ``SmsSdkAppId``, ``TemplateId``, ``SignName``, ``TemplateParamSet`` (positional, the
  template's ``params`` order), ``SessionContext`` (our key, echoed back) →
  ``SendStatusSet[{SerialNo, Code: "Ok"}]`` (the receipt's ``sid``).

Both adapters talk through a :class:`Transport` (``post(url, headers, body) → (status,
body)``): :class:`UrllibTransport` in production, a fake one in tests. Signing
(:mod:`canbao.notify.signing`) follows the providers' documented schemes (Aliyun RPC
HMAC-SHA1, Tencent TC3-HMAC-SHA256) but has not been checked against the live services.
Neither SendSms is idempotent: a timeout is recorded as failed with the reason, and the
delivery receipt (by ``OutId`` / ``SessionContext``) says whether it went.
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from canbao.notify import signing
from canbao.notify.config import NotifyConfig, credentials, load_config
from canbao.notify.templates import template
from canbao.store.models import utcnow


@dataclass(frozen=True)
class Outgoing:
    out_id: str  # the outbox's idempotency key (OutId / SessionContext)
    phone: str
    template: str
    params: dict[str, str]


@dataclass(frozen=True)
class Accepted:
    ok: bool
    provider_id: str  # BizId / SerialNo
    error: str = ""


class Sender(Protocol):
    name: str

    def send(self, message: Outgoing) -> Accepted: ...


class Transport(Protocol):
    def post(self, url: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]: ...


class UrllibTransport:
    """HTTPS POST with the standard library (10 s timeout)."""

    def post(self, url: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        req = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=10) as r:  # noqa: S310 - https only
                return int(r.status), r.read()
        except urllib.error.HTTPError as e:
            return int(e.code), e.read()


def sent_file(data_dir: Path) -> Path:
    return data_dir / "outbox" / "sms.jsonl"


class FileSender:
    """Writes each message to :func:`sent_file` (mode ``test``: nothing is sent)."""

    name = "file"

    def __init__(self, data_dir: Path) -> None:
        self.path = sent_file(data_dir)

    def send(self, message: Outgoing) -> Accepted:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        biz = uuid.uuid4().hex[:20]
        line = {
            "at": utcnow().isoformat(),
            "out_id": message.out_id,
            "phone": message.phone,
            "template": message.template,
            "params": message.params,
            "provider_id": biz,
        }
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(line, ensure_ascii=False) + "\n")
        return Accepted(True, biz)


def _answer(status: int, body: bytes) -> dict[str, object] | None:
    try:
        found = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return found if isinstance(found, dict) and status < 500 else None


class AliyunSender:
    """阿里云 SendSms, one phone number per call (each message has its own OutId)."""

    name = "aliyun"

    def __init__(self, config: NotifyConfig, transport: Transport, key: tuple[str, str]) -> None:
        self.config, self.transport, self.key = config, transport, key

    def request(self, message: Outgoing, now: dt.datetime | None = None) -> dict[str, str]:
        """The signed form parameters of the call (what :meth:`send` posts)."""
        params = {
            "Action": "SendSms",
            "Version": "2017-05-25",
            "RegionId": "cn-hangzhou",
            "PhoneNumbers": message.phone,
            "SignName": self.config.sign_name,
            "TemplateCode": self.config.template_code(message.template),
            "TemplateParam": json.dumps(message.params, ensure_ascii=False),
            "OutId": message.out_id,
            "Format": "JSON",
        }
        return signing.aliyun_sign(params, *self.key, now=now)

    def send(self, message: Outgoing) -> Accepted:
        form = urllib.parse.urlencode(self.request(message)).encode("ascii")
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        try:
            status, body = self.transport.post(self.config.settings().endpoint, headers, form)
        except OSError as e:
            return Accepted(False, "", f"网络错误：{type(e).__name__}（结果以回执为准）")
        answer = _answer(status, body)
        if answer is None:
            return Accepted(False, "", f"服务商应答无法解析（HTTP {status}）")
        if answer.get("Code") != "OK":
            return Accepted(False, "", f"{answer.get('Code')}: {answer.get('Message', '')}")
        return Accepted(True, str(answer.get("BizId", "")))


def e164(phone: str) -> str:
    """A mainland mobile number as E.164 (``+86…``)."""
    return phone if phone.startswith("+") else "+86" + phone


class TencentSender:
    """腾讯云 SendSms, one phone number per call."""

    name = "tencent"

    def __init__(self, config: NotifyConfig, transport: Transport, key: tuple[str, str]) -> None:
        self.config, self.transport, self.key = config, transport, key

    def payload(self, message: Outgoing) -> dict[str, object]:
        """The JSON body of the call."""
        t = template(message.template)
        return {
            "PhoneNumberSet": [e164(message.phone)],
            "SmsSdkAppId": self.config.settings().sdk_app_id,
            "TemplateId": self.config.template_code(message.template),
            "SignName": self.config.sign_name,
            "TemplateParamSet": [str(message.params[p]) for p in t.params],
            "SessionContext": message.out_id,
        }

    def send(self, message: Outgoing) -> Accepted:
        settings = self.config.settings()
        body = json.dumps(self.payload(message), ensure_ascii=False).encode("utf-8")
        host = urllib.parse.urlsplit(settings.endpoint).netloc
        headers = signing.tencent_headers(
            body, host, "SendSms", "2021-01-11", settings.region, *self.key
        )
        try:
            status, raw = self.transport.post(settings.endpoint, headers, body)
        except OSError as e:
            return Accepted(False, "", f"网络错误：{type(e).__name__}（结果以回执为准）")
        answer = _answer(status, raw)
        resp = answer.get("Response") if answer else None
        if not isinstance(resp, dict):
            return Accepted(False, "", f"服务商应答无法解析（HTTP {status}）")
        if "Error" in resp:
            err = resp["Error"] if isinstance(resp["Error"], dict) else {}
            return Accepted(False, "", f"{err.get('Code')}: {err.get('Message', '')}")
        sent = resp.get("SendStatusSet")
        first = sent[0] if isinstance(sent, list) and sent and isinstance(sent[0], dict) else {}
        if first.get("Code") != "Ok":
            return Accepted(False, "", f"{first.get('Code')}: {first.get('Message', '')}")
        return Accepted(True, str(first.get("SerialNo", "")))


class TeamOnly:
    """Mode ``team``: only the configured staff numbers are handed on; any other message is
    refused (:attr:`Accepted.error` starts with :data:`NOT_TEAM`) and stays queued."""

    NOT_TEAM = "团队模式"

    def __init__(self, inner: Sender, numbers: tuple[str, ...]) -> None:
        self.inner, self.numbers, self.name = inner, frozenset(numbers), inner.name

    def send(self, message: Outgoing) -> Accepted:
        if message.phone not in self.numbers:
            return Accepted(False, "", f"{self.NOT_TEAM}：非登记的工作人员号码，未发送")
        return self.inner.send(message)


def sender_for(
    data_dir: Path,
    mode: str | None = None,
    *,
    config: NotifyConfig | None = None,
    transport: Transport | None = None,
) -> Sender:
    """The sender for ``mode`` (default: the configuration's): the file sender in mode
    ``test`` or with provider ``file``; else the provider's adapter (``team``: wrapped in
    :class:`TeamOnly`)."""
    cfg = config or load_config(data_dir)
    mode = mode or cfg.mode
    if mode == "test" or cfg.provider == "file":
        inner: Sender = FileSender(data_dir)
    else:
        way = transport or UrllibTransport()
        cls = AliyunSender if cfg.provider == "aliyun" else TencentSender
        inner = cls(cfg, way, credentials())
    return TeamOnly(inner, cfg.team_numbers) if mode == "team" else inner
