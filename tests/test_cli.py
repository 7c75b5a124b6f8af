from __future__ import annotations

import json
import subprocess
import sys

import pytest

from mailsettings import Provider, Registry, Server
from mailsettings.cli import main
from mailsettings.cli_output import clean


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mailsettings", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_table_output_for_a_known_address() -> None:
    done = run("someone@qq.com")
    assert done.returncode == 0, done.stderr
    assert "QQ Mail" in done.stdout
    assert "imap.qq.com:993" in done.stdout
    assert "someone@qq.com" in done.stdout
    assert "授权码" in done.stdout
    assert done.stderr == ""


def test_json_output_is_one_valid_document_per_line() -> None:
    done = run("--json", "a@qq.com", "b@foxmail.com")
    assert done.returncode == 0
    documents = [json.loads(line) for line in done.stdout.splitlines()]
    assert [set(d) for d in documents] == [{"address", "status", "result", "error"}] * 2
    assert [d["result"]["provider"]["id"] for d in documents] == ["qq.com", "qq.com"]
    assert documents[1]["result"]["domain"] == "foxmail.com"
    assert [d["status"] for d in documents] == ["found", "found"]


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["nobody@unknown-domain.example"], 1),
        (["bad@@address"], 2),
        (["a@qq.com", "nobody@unknown-domain.example"], 1),
        (["nobody@unknown-domain.example", "bad@@address", "a@qq.com"], 2),
        ([], 2),
        (["--no-such-option"], 2),
    ],
)
def test_exit_codes_highest_wins(args: list[str], code: int) -> None:
    done = run(*args)
    assert done.returncode == code
    if code:
        assert done.stderr


def test_errors_go_to_stderr_and_results_to_stdout() -> None:
    done = run("a@qq.com", "bad@@address")
    assert done.returncode == 2
    assert "imap.qq.com" in done.stdout and "bad@@address" not in done.stdout
    assert "more than one '@'" in done.stderr


def test_a_json_failure_is_on_stdout_too() -> None:
    done = run("--json", "a@qq.com", "bad@@address")
    assert done.returncode == 2
    found, failed = (json.loads(line) for line in done.stdout.splitlines())
    assert found["result"]["provider"]["id"] == "qq.com" and found["error"] is None
    assert failed["status"] == "invalid" and failed["result"] is None
    assert failed["error"]["type"] == "InvalidAddressError"
    assert "more than one '@'" in failed["error"]["message"]
    assert "more than one '@'" in done.stderr


def test_list_providers() -> None:
    done = run("--list")
    assert done.returncode == 0
    assert any(line.startswith("qq.com ") for line in done.stdout.splitlines())
    as_json = run("--list", "--json")
    ids = [json.loads(line)["id"] for line in as_json.stdout.splitlines()]
    assert "qq.com" in ids and ids == sorted(ids)


def test_help_and_version() -> None:
    shown = run("--help").stdout
    assert "exit status:" in shown and "--strict" in shown and "141" in shown
    assert run("--version").stdout.startswith("mailsettings ")


def test_models_refuse_control_characters_in_text() -> None:
    with pytest.raises(ValueError, match="control characters"):
        Provider(id="evil.example", name="Evil\x1b[2J", domains=("evil.example",), mx=())


def test_control_characters_from_data_are_removed(capsys: pytest.CaptureFixture[str]) -> None:
    # Built without validation, as if hostile text had reached a model some other way.
    server = Server(protocol="imap", host="imap.evil.example", port=993, security="ssl")
    hostile = Provider.model_construct(
        **Provider(
            id="evil.example", name="x", domains=("evil.example",), servers=(server,)
        ).__dict__
        | {"name": "Evil\x1b[2J\u202eMail"}
    )
    code = main(["me@evil.example"], registry=Registry([hostile], bundled=False))
    out = capsys.readouterr().out
    assert code == 0
    assert "\x1b" not in out and "\u202e" not in out
    assert "Evil[2JMail" in out


def test_clean_keeps_ordinary_text() -> None:
    assert clean("QQ邮箱 – ok") == "QQ邮箱 – ok"
