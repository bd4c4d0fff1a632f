"""The one error handler of the CLI: no traceback ever reaches a user, no ID number either."""

from __future__ import annotations

import errno
import re
from pathlib import Path

import pytest

from canbao import cli
from canbao.registry import api
from canbao.standards import masking


def _fail_with(monkeypatch: pytest.MonkeyPatch, exc: BaseException) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise exc

    monkeypatch.setattr(api, "persons", boom)


def test_unexpected_error_is_a_chinese_message_and_a_private_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read TMPDIR
    _fail_with(monkeypatch, ValueError("bad value 110101199003074514"))
    code = cli.run(["export", "persons", "--out", str(tmp_path / "p.csv"), "--data-dir", "x"])
    err = capsys.readouterr().err
    assert code == 1
    assert "程序内部错误" in err and "Traceback" not in err
    assert not masking.looks_like_id(err)
    report = Path(re.search(r"保存到 (\S+?)，", err).group(1))  # type: ignore[union-attr]
    assert report.parent == tmp_path
    assert oct(report.stat().st_mode & 0o777) == "0o600"
    text = report.read_text("utf-8")
    assert "ValueError" in text and "Traceback" in text  # the details are kept for support
    assert "110101********4514" in text and not masking.looks_like_id(text)


@pytest.mark.parametrize(
    ("exc", "words"),
    [
        (MemoryError(), "内存不足"),
        (OSError(errno.ENOSPC, "No space left on device", "/data/x"), "磁盘空间不足"),
        (PermissionError(errno.EACCES, "Permission denied", "/data/x"), "没有权限"),
    ],
)
def test_resource_errors_say_what_ran_out(
    exc: BaseException,
    words: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _fail_with(monkeypatch, exc)
    code = cli.run(["export", "persons", "--out", str(tmp_path / "p.csv"), "--data-dir", "x"])
    err = capsys.readouterr().err
    assert code == 1 and words in err and "Traceback" not in err


def test_canbao_error_messages_are_masked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from canbao.errors import DataError

    _fail_with(monkeypatch, DataError("证件号 110101199003074514 [bold]重复[/bold]", "dup"))
    code = cli.run(["export", "persons", "--out", str(tmp_path / "p.csv"), "--data-dir", "x"])
    err = capsys.readouterr().err
    assert code == 1
    assert "110101********4514" in err and "[bold]重复[/bold]" in err  # masked, not markup


def test_legacy_decisions_are_migrated_once_and_a_torn_line_dropped(tmp_path: Path) -> None:
    from canbao.registry import decisions
    from canbao.store import open_store
    from canbao.store.audit_log import entries, verify

    legacy = decisions.legacy_path(tmp_path)
    legacy.parent.mkdir(parents=True)
    legacy.write_bytes(
        b'{"left_key": "B:1", "right_key": "A:2", "decision": "same", "decided_by": "li"}\n'
        b'{"left_key": "B:3", "right_k'  # a crash in the middle of an append
    )
    assert decisions.load(tmp_path).rows() == [("B:1", "A:2", "same")]
    assert not legacy.exists() and legacy.with_name("decisions.jsonl.migrated").exists()
    decisions.record(tmp_path, "B:4", "A:5", "different")
    decisions.record(tmp_path, "B:1", "A:2", "different")  # the latest decision wins
    got = decisions.load(tmp_path)
    assert got.rows() == [("B:1", "A:2", "different"), ("B:4", "A:5", "different")]
    store = open_store(tmp_path)
    actions = [e.action for e in entries(store)]
    assert actions.count("review.decide") == 2 and actions.count("review.migrate") == 1
    assert verify(store)[1] == []
    store.dispose()
