"""DATA/notify.toml: defaults without a file, every mistake a clear Chinese error."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from canbao.errors import DataError, UsageError
from canbao.notify import config
from canbao.notify.config import NotifyConfig, load_config, parse_config

GOOD = """
provider = "aliyun"
mode = "team"
sign_name = "九江人社"
team_numbers = ["13900001111"]
[quiet_hours]
start = "08:30"
end = "19:00"
[rules]
employer_due_days = 7
[aliyun.templates]
otp_login = "SMS_1"
"""


def test_defaults_without_a_file(tmp_path: Path) -> None:
    cfg = load_config(tmp_path)
    assert cfg == NotifyConfig()
    assert (cfg.provider, cfg.mode, cfg.quiet_start, cfg.quiet_end) == (
        "file", "test", dt.time(8), dt.time(20),
    )  # fmt: skip


def test_a_good_file(tmp_path: Path) -> None:
    (tmp_path / "notify.toml").write_text(GOOD, encoding="utf-8")
    cfg = load_config(tmp_path)
    assert (cfg.provider, cfg.mode, cfg.sign_name) == ("aliyun", "team", "九江人社")
    assert (cfg.quiet_start, cfg.quiet_end, cfg.employer_due_days) == (
        dt.time(8, 30), dt.time(19), 7,
    )  # fmt: skip
    assert cfg.template_code("otp_login") == "SMS_1"
    assert cfg.settings().endpoint == "https://dysmsapi.aliyuncs.com/"
    with pytest.raises(DataError, match="没有模板“employer_due”的模板编号"):
        cfg.template_code("employer_due")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('mode = "production"', "mode 应为 test | team | live"),
        ('provider = "sms-cat"', "provider 应为"),
        ('[quiet_hours]\nstart = "8点"', "HH:MM"),
        ('[quiet_hours]\nstart = "21:00"\nend = "08:00"', "start 应早于 end"),
        ('mode = "team"', "team_numbers"),
        ('team_numbers = ["12345"]', "11 位手机号码"),
        ('provider = "aliyun"\nmode = "live"\n[aliyun]', "sign_name"),
        ('provider = "tencent"\nmode = "live"\nsign_name = "x"', "[tencent] 一节"),
        ('provider = "tencent"\n[tencent]\nregion = "x"', "sdk_app_id"),
        ("[rules]\ninstalment_days = -1", "0–90"),
        ('password = "x"', "未知的设置项"),
    ],
)
def test_bad_config_is_a_chinese_error(text: str, message: str) -> None:
    import tomllib

    with pytest.raises(DataError, match="短信配置文件 notify.toml 有误") as e:
        parse_config(tomllib.loads(text))
    assert message in e.value.message_zh


def test_unreadable_file(tmp_path: Path) -> None:
    (tmp_path / "notify.toml").write_text("mode = ", encoding="utf-8")
    with pytest.raises(DataError, match="无法读取短信配置文件"):
        load_config(tmp_path)


def test_credentials_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(config.KEY_ID_ENV, raising=False)
    with pytest.raises(UsageError, match="CANBAO_SMS_KEY_ID"):
        config.credentials()
    monkeypatch.setenv(config.KEY_ID_ENV, "id")
    monkeypatch.setenv(config.KEY_SECRET_ENV, "secret")
    assert config.credentials() == ("id", "secret")
