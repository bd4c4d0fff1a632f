"""The SMS configuration of a data directory: ``DATA/notify.toml`` (optional; without it the
file sender in mode ``test`` sends nothing anywhere).

```toml
provider = "aliyun"          # file | aliyun | tencent
mode = "team"                # test | team | live
sign_name = "九江人社"         # the approved signature (签名)
team_numbers = ["13800000000"]  # mode team: only these staff numbers receive anything

[quiet_hours]                # local time (Asia/Shanghai); nothing is sent outside it
start = "08:00"
end = "20:00"

[rules]                      # how far ahead the reminders are made
employer_due_days = 5        # an employer's monthly due date within N days
instalment_days = 3          # an instalment of an agreement due within N days
arrears_min_days = 1         # arrears at least N days past due

[aliyun]
endpoint = "https://dysmsapi.aliyuncs.com/"
[aliyun.templates]           # our template name → the provider's approved TemplateCode
otp_login = "SMS_000000001"

[tencent]
endpoint = "https://sms.tencentcloudapi.com/"
sdk_app_id = "1400000000"
region = "ap-guangzhou"
[tencent.templates]
otp_login = "1000001"
```

Modes (after GOV.UK Notify's keys): ``test`` never leaves the machine (the file sender,
whatever the provider); ``team`` sends through the provider only to ``team_numbers`` (the rest
stay queued); ``live`` sends. Credentials are never in the file: ``$CANBAO_SMS_KEY_ID`` and
``$CANBAO_SMS_KEY_SECRET`` (AccessKeyId/AccessKeySecret, SecretId/SecretKey).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from canbao.errors import DataError, UsageError

PROVIDERS = ("file", "aliyun", "tencent")
MODES = ("test", "team", "live")
MODE_LABELS = {"test": "测试（不发出）", "team": "团队（仅工作人员号码）", "live": "正式发送"}
ENDPOINTS = {
    "aliyun": "https://dysmsapi.aliyuncs.com/",
    "tencent": "https://sms.tencentcloudapi.com/",
}
KEY_ID_ENV, KEY_SECRET_ENV = "CANBAO_SMS_KEY_ID", "CANBAO_SMS_KEY_SECRET"
_HHMM = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")
_PHONE = re.compile(r"1[3-9][0-9]{9}")


def config_path(data_dir: Path) -> Path:
    return data_dir / "notify.toml"


@dataclass(frozen=True)
class ProviderSettings:
    endpoint: str
    templates: dict[str, str]  # our template name → provider template code / id
    sdk_app_id: str = ""  # tencent
    region: str = ""  # tencent


@dataclass(frozen=True)
class NotifyConfig:
    provider: str = "file"
    mode: str = "test"
    sign_name: str = ""
    team_numbers: tuple[str, ...] = ()
    quiet_start: dt.time = dt.time(8, 0)
    quiet_end: dt.time = dt.time(20, 0)
    employer_due_days: int = 5
    instalment_days: int = 3
    arrears_min_days: int = 1
    providers: dict[str, ProviderSettings] = field(default_factory=dict)

    def settings(self) -> ProviderSettings:
        """The chosen provider's section (an error when it is missing)."""
        found = self.providers.get(self.provider)
        if found is None:
            raise _bad(f"使用 {self.provider} 时须有 [{self.provider}] 一节", "section missing")
        return found

    def template_code(self, template: str) -> str:
        code = self.settings().templates.get(template)
        if not code:
            raise _bad(
                f"[{self.provider}.templates] 中没有模板“{template}”的模板编号",
                f"no {self.provider} template code for {template}",
            )
        return code


def _bad(what: str, reason: str) -> DataError:
    return DataError(f"短信配置文件 notify.toml 有误：{what}", f"notify.toml: {reason}")


def _time(raw: Any, where: str) -> dt.time:
    m = _HHMM.fullmatch(raw) if isinstance(raw, str) else None
    if m is None:
        raise _bad(f"{where} 应为 HH:MM 格式的时间（如 08:00），实为 {raw!r}", f"bad {where}")
    return dt.time(int(m.group(1)), int(m.group(2)))


def _days(raw: Any, where: str) -> int:
    if not isinstance(raw, int) or isinstance(raw, bool) or not 0 <= raw <= 90:
        raise _bad(f"{where} 应为 0–90 之间的整数天数，实为 {raw!r}", f"bad {where}")
    return raw


def _choice(raw: Any, where: str, choices: tuple[str, ...]) -> str:
    if raw not in choices:
        raise _bad(
            f"{where} 应为 {' | '.join(choices)} 之一，实为 {raw!r}", f"bad {where}: {raw!r}"
        )
    return str(raw)


def _provider(name: str, raw: Any) -> ProviderSettings:
    if not isinstance(raw, dict):
        raise _bad(f"[{name}] 应为一节设置", f"[{name}] is not a table")
    templates = raw.get("templates", {})
    if not isinstance(templates, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in templates.items()
    ):
        raise _bad(f'[{name}.templates] 应为“模板名 = "模板编号"”', f"bad [{name}.templates]")
    endpoint = raw.get("endpoint", ENDPOINTS[name])
    if not isinstance(endpoint, str) or not endpoint.startswith("https://"):
        raise _bad(f"[{name}] endpoint 应为 https:// 开头的地址", f"bad {name}.endpoint")
    settings = ProviderSettings(
        endpoint, {k: v.strip() for k, v in templates.items()},
        str(raw.get("sdk_app_id", "")), str(raw.get("region", "ap-guangzhou")),
    )  # fmt: skip
    if name == "tencent" and not settings.sdk_app_id:
        raise _bad("[tencent] 须填写 sdk_app_id（短信应用 SdkAppId）", "tencent.sdk_app_id missing")
    return settings


def parse_config(doc: dict[str, Any]) -> NotifyConfig:
    """A :class:`NotifyConfig` from the parsed TOML (every mistake a Chinese :class:`DataError`)."""
    known = {"provider", "mode", "sign_name", "team_numbers", "quiet_hours", "rules", *PROVIDERS}
    unknown = sorted(set(doc) - known)
    if unknown:
        raise _bad(f"未知的设置项：{'、'.join(unknown)}", f"unknown keys {unknown}")
    provider = _choice(doc.get("provider", "file"), "provider", PROVIDERS)
    mode = _choice(doc.get("mode", "test"), "mode", MODES)
    sign = doc.get("sign_name", "")
    if not isinstance(sign, str) or len(sign) > 20:
        raise _bad("sign_name 应为短信签名文字（不超过 20 字）", "bad sign_name")
    team = doc.get("team_numbers", [])
    if not isinstance(team, list) or not all(
        isinstance(p, str) and _PHONE.fullmatch(p) for p in team
    ):
        raise _bad("team_numbers 应为 11 位手机号码的列表", "bad team_numbers")
    quiet = doc.get("quiet_hours", {})
    rules = doc.get("rules", {})
    if not isinstance(quiet, dict) or not isinstance(rules, dict):
        raise _bad("[quiet_hours] 和 [rules] 应为一节设置", "bad section")
    start = _time(quiet.get("start", "08:00"), "quiet_hours.start")
    end = _time(quiet.get("end", "20:00"), "quiet_hours.end")
    if start >= end:
        raise _bad("quiet_hours 的 start 应早于 end（如 08:00 到 20:00）", "start not before end")
    providers: dict[str, ProviderSettings] = {
        p: _provider(p, doc[p]) for p in ("aliyun", "tencent") if p in doc
    }
    cfg = NotifyConfig(
        provider, mode, sign.strip(), tuple(team), start, end,
        _days(rules.get("employer_due_days", 5), "rules.employer_due_days"),
        _days(rules.get("instalment_days", 3), "rules.instalment_days"),
        _days(rules.get("arrears_min_days", 1), "rules.arrears_min_days"),
        providers,
    )  # fmt: skip
    if provider != "file" and mode != "test":
        cfg.settings()
        if not cfg.sign_name:
            raise _bad(
                f"使用 {provider} 发送时须填写 sign_name（已审核的短信签名）", "no sign_name"
            )
    if mode == "team" and not team:
        raise _bad('团队模式（mode = "team"）须在 team_numbers 中登记工作人员号码', "no team")
    return cfg


def load_config(data_dir: Path) -> NotifyConfig:
    """The data directory's ``notify.toml``, or the defaults (file sender, mode test)."""
    path = config_path(data_dir)
    if not path.exists():
        return NotifyConfig()
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise DataError(f"无法读取短信配置文件 {path}：{e}", f"cannot read {path}") from e
    return parse_config(doc)


def credentials() -> tuple[str, str]:
    """The provider's key id and secret from the environment (never from a file)."""
    key, secret = os.environ.get(KEY_ID_ENV, ""), os.environ.get(KEY_SECRET_ENV, "")
    if not key or not secret:
        raise UsageError(
            f"未设置短信服务的访问密钥：请设置环境变量 {KEY_ID_ENV} 和 {KEY_SECRET_ENV}",
            "SMS credentials missing from the environment",
        )
    return key, secret
