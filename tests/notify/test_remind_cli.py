"""``canbao remind``: a dry run, a draft batch, approval as a named user, the list, an opt-out
and employer contacts — through the command line on the synthetic city (its own store)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from canbao.cli import run
from canbao.registry import snapshot
from canbao.store import Actor, accounts, open_store
from tests.notify.conftest import City

PASSWORD = "Tixing2017duanxin"


def _json(capsys: pytest.CaptureFixture[str]) -> dict:
    return json.loads(capsys.readouterr().out)


def test_remind_commands(city: City, capsys: pytest.CaptureFixture[str]) -> None:
    store = open_store(city.data)
    try:
        accounts.add_user(store, Actor.operator(), "cli_city", "city_staff", PASSWORD, [])
        accounts.add_user(store, Actor.operator(), "cli_county", "county_staff", PASSWORD,
                          ["360424"])  # fmt: skip
    finally:
        store.dispose()
    dd = ["--data-dir", str(city.data)]
    assert run(["remind", "--as-of", "2017-12-27", "--dry-run", "--json", *dd]) == 0
    dry = _json(capsys)
    assert dry["batch_id"] is None and dry["total"] > 0
    assert run(["remind", "--as-of", "2017-12-27", "--as", "cli_county", *dd]) == 1
    assert "没有权限" in capsys.readouterr().err
    assert run(["remind", "--as-of", "2017-12-27", "--as", "cli_city", "--json", *dd]) == 0
    made = _json(capsys)
    assert made["batch_id"] is not None and made["reasons"] == dry["reasons"]
    batch = str(made["batch_id"])
    assert run(["remind", "approve", batch, "--as", "cli_city", *dd]) == 1
    assert "须由另一位工作人员审核批准" in capsys.readouterr().err
    assert run(["remind", "approve", batch, *dd]) == 0  # the local operator checks it
    assert f"已批准提醒批次 {batch}" in capsys.readouterr().out
    assert run(["remind", "list", "--json", *dd]) == 0
    listed = _json(capsys)
    assert listed[0]["id"] == made["batch_id"] and listed[0]["state"] == "approved"
    assert listed[0]["approved_by"].startswith("system:")
    assert run(["remind", "opt-out", "--person", "P0000", "--employer", "E1", *dd]) == 2
    capsys.readouterr()
    assert run(["remind", "opt-out", "--person", "P0000", "--note", "来电", *dd]) == 1
    assert "登记库中没有个人标识" in capsys.readouterr().err  # a mistyped key records nothing
    person = str(
        snapshot.require_current(city.data).scan("persons").select("person_key").head(1)
        .collect().item()
    )  # fmt: skip
    assert run(["remind", "opt-out", "--person", person, "--note", "来电", *dd]) == 0
    assert "已登记拒收" in capsys.readouterr().out
    assert run(["remind", *dd]) == 2  # neither --as-of nor a command
    assert run(["remind", "cancel", batch, *dd]) == 0
    assert "已取消提醒批次" in capsys.readouterr().out


def test_contacts_command_reports_bad_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "c.csv"
    f.write_text("统一社会信用代码,联系电话\n91360402MA35A00100,13900001111\nABC,123\n", "utf-8")
    assert run(["remind", "contacts", str(f), "--data-dir", str(tmp_path)]) == 1
    assert "有 " in capsys.readouterr().err
