"""The senders: the file sender (mode test), the Aliyun and Tencent adapters' request and
answer shapes through a fake transport (no network), mode team, and the signatures."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import urllib.parse
from pathlib import Path

import pytest

from canbao.notify import signing
from canbao.notify.config import NotifyConfig, ProviderSettings
from canbao.notify.senders import (
    AliyunSender,
    FileSender,
    Outgoing,
    TeamOnly,
    TencentSender,
    sender_for,
)

PHONE = "13900001234"  # synthetic
KEY = ("test-key-id", "test-key-secret")
MSG = Outgoing("employer_due:employer:E1:2017-11", PHONE, "employer_due",
               {"employer": "某公司", "period": "2017年11月", "due_date": "12月31日"})  # fmt: skip


class FakeTransport:
    """Records each request and answers like the provider."""

    def __init__(self, answer: dict, status: int = 200) -> None:
        self.answer, self.status = answer, status
        self.requests: list[tuple[str, dict[str, str], bytes]] = []

    def post(self, url: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        self.requests.append((url, headers, body))
        return self.status, json.dumps(self.answer).encode()


def _cfg(provider: str, mode: str = "live", team: tuple[str, ...] = ()) -> NotifyConfig:
    return NotifyConfig(
        provider=provider, mode=mode, sign_name="九江人社", team_numbers=team,
        providers={
            "aliyun": ProviderSettings("https://dysmsapi.aliyuncs.com/", {"employer_due": "SMS_7"}),
            "tencent": ProviderSettings("https://sms.tencentcloudapi.com/",
                                        {"employer_due": "1007"}, "1400000001", "ap-guangzhou"),
        },
    )  # fmt: skip


def test_aliyun_request_shape_and_answer() -> None:
    fake = FakeTransport({"Code": "OK", "Message": "OK", "BizId": "900619746936498440^0",
                          "RequestId": "F655A8D5"})  # fmt: skip
    got = AliyunSender(_cfg("aliyun"), fake, KEY).send(MSG)
    assert got.ok and got.provider_id == "900619746936498440^0"
    url, headers, body = fake.requests[0]
    assert url == "https://dysmsapi.aliyuncs.com/"
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    form = dict(urllib.parse.parse_qsl(body.decode()))
    assert form["Action"] == "SendSms" and form["Version"] == "2017-05-25"
    assert form["PhoneNumbers"] == PHONE and form["SignName"] == "九江人社"
    assert form["TemplateCode"] == "SMS_7" and form["OutId"] == MSG.out_id
    assert json.loads(form["TemplateParam"]) == MSG.params
    assert form["AccessKeyId"] == KEY[0] and form["SignatureMethod"] == "HMAC-SHA1"
    # the signature is the documented HMAC-SHA1 over the canonical query
    sig = form.pop("Signature")
    canonical = "&".join(
        f"{urllib.parse.quote(k, safe='~')}={urllib.parse.quote(v, safe='~')}"
        for k, v in sorted(form.items())
    )
    to_sign = "POST&%2F&" + urllib.parse.quote(canonical, safe="~")
    want = hmac.new(b"test-key-secret&", to_sign.encode(), hashlib.sha1).digest()
    assert sig == base64.b64encode(want).decode()


def test_aliyun_refusal_and_network_error() -> None:
    fake = FakeTransport({"Code": "isv.BUSINESS_LIMIT_CONTROL", "Message": "触发流控"})
    got = AliyunSender(_cfg("aliyun"), fake, KEY).send(MSG)
    assert not got.ok and got.error.startswith("isv.BUSINESS_LIMIT_CONTROL")

    class Down:
        def post(self, url: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
            raise TimeoutError("timed out")

    got = AliyunSender(_cfg("aliyun"), Down(), KEY).send(MSG)
    assert not got.ok and "以回执为准" in got.error


def test_tencent_request_shape_and_answer() -> None:
    answer = {"Response": {"SendStatusSet": [{
        "SerialNo": "5000:1045710669157053657849499619", "PhoneNumber": "+86" + PHONE, "Fee": 1,
        "SessionContext": MSG.out_id, "Code": "Ok", "Message": "send success", "IsoCode": "CN",
    }], "RequestId": "a0aabda6"}}  # fmt: skip
    fake = FakeTransport(answer)
    got = TencentSender(_cfg("tencent"), fake, KEY).send(MSG)
    assert got.ok and got.provider_id == "5000:1045710669157053657849499619"
    url, headers, body = fake.requests[0]
    assert url == "https://sms.tencentcloudapi.com/"
    payload = json.loads(body)
    assert payload == {
        "PhoneNumberSet": ["+86" + PHONE], "SmsSdkAppId": "1400000001", "TemplateId": "1007",
        "SignName": "九江人社",
        "TemplateParamSet": ["某公司", "2017年11月", "12月31日"],  # the template's order
        "SessionContext": MSG.out_id,
    }  # fmt: skip
    assert headers["X-TC-Action"] == "SendSms" and headers["X-TC-Version"] == "2021-01-11"
    assert headers["X-TC-Region"] == "ap-guangzhou" and headers["Host"] == "sms.tencentcloudapi.com"
    assert headers["Authorization"].startswith(f"TC3-HMAC-SHA256 Credential={KEY[0]}/")
    assert "SignedHeaders=content-type;host, Signature=" in headers["Authorization"]


def test_tencent_refusals() -> None:
    bad = {"Response": {"SendStatusSet": [{"SerialNo": "", "Code": "LimitExceeded.PhoneNumberDailyLimit",
                                           "Message": "单个手机号日下发条数超过设定的上限"}]}}  # fmt: skip
    got = TencentSender(_cfg("tencent"), FakeTransport(bad), KEY).send(MSG)
    assert not got.ok and got.error.startswith("LimitExceeded")
    err = {"Response": {"Error": {"Code": "AuthFailure.SignatureFailure", "Message": "x"}}}
    got = TencentSender(_cfg("tencent"), FakeTransport(err), KEY).send(MSG)
    assert not got.ok and got.error.startswith("AuthFailure")


def test_tc3_signature_is_deterministic() -> None:
    when = dt.datetime(2021, 1, 11, 8, 0, tzinfo=dt.UTC)
    a = signing.tencent_headers(b"{}", "sms.tencentcloudapi.com", "SendSms", "2021-01-11",
                                "ap-guangzhou", *KEY, now=when)  # fmt: skip
    b = signing.tencent_headers(b"{}", "sms.tencentcloudapi.com", "SendSms", "2021-01-11",
                                "ap-guangzhou", *KEY, now=when)  # fmt: skip
    assert a == b and a["X-TC-Timestamp"] == str(int(when.timestamp()))
    assert "/2021-01-11/sms/tc3_request" in a["Authorization"]


def test_modes_choose_the_sender(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CANBAO_SMS_KEY_ID", KEY[0])
    monkeypatch.setenv("CANBAO_SMS_KEY_SECRET", KEY[1])
    fake = FakeTransport({"Code": "OK", "BizId": "1"})
    # test never leaves the machine, whatever the provider
    test = sender_for(tmp_path, config=_cfg("aliyun", "test"), transport=fake)
    assert isinstance(test, FileSender)
    assert test.send(MSG).ok and fake.requests == []
    live = sender_for(tmp_path, config=_cfg("aliyun", "live"), transport=fake)
    assert isinstance(live, AliyunSender)
    team = sender_for(tmp_path, config=_cfg("aliyun", "team", (PHONE,)), transport=fake)
    assert isinstance(team, TeamOnly)
    other = Outgoing("k2", "13900009999", MSG.template, MSG.params)
    refused = team.send(other)
    assert not refused.ok and refused.error.startswith(TeamOnly.NOT_TEAM) and fake.requests == []
    assert team.send(MSG).ok and len(fake.requests) == 1
