"""Output formats, languages, wrapping on a terminal and the "not found" hint."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys

import pytest
from conftest import run_with_a_terminal
from dns_servers import Dnsmasq

import mailsettings
from mailsettings import Provider
from mailsettings.cli import main
from mailsettings.cli_output import Progress, display_width, wrap

COMMAND = [sys.executable, "-m", "mailsettings"]


def environment(**changes: str) -> dict[str, str]:
    keep = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("LC_") and name not in ("LANG", "LANGUAGE", "COLUMNS")
    }
    return {**keep, **changes}


def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*COMMAND, *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=environment(**env),
        check=False,
        timeout=60,
    )


def _qq() -> Provider:
    provider = mailsettings.default_registry().get("qq.com")
    assert provider is not None
    return provider


QQ = _qq()
QQ_ZH = QQ.name_for("zh-CN")
STEP_ZH = QQ.instructions[0].text_for("zh-CN")
STEP_EN = QQ.instructions[0].text


def test_the_table_is_english_by_default() -> None:
    done = run("a@qq.com")
    assert done.returncode == 0
    first = done.stdout.splitlines()[0]
    assert first.startswith(f"a@qq.com: {QQ.name} / {QQ_ZH} ")
    assert STEP_EN in done.stdout and STEP_ZH not in done.stdout


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["--lang", "zh-CN"], {}),
        (["--lang", "zh-cn"], {}),
        (["--lang", "zh-CN-x-test"], {}),
        ([], {"LANG": "zh_CN.UTF-8"}),
        ([], {"LANG": "en_US.UTF-8", "LANGUAGE": "zh_CN:en"}),
        ([], {"LC_ALL": "zh_CN.UTF-8", "LANG": "en_US.UTF-8"}),
    ],
)
def test_lang_chooses_names_and_instructions(args: list[str], env: dict[str, str]) -> None:
    done = run(*args, "a@qq.com", **env)
    assert done.returncode == 0, done.stderr
    first = done.stdout.splitlines()[0]
    assert first.startswith(f"a@qq.com: {QQ_ZH} / {QQ.name} ")
    assert STEP_ZH in done.stdout and STEP_EN not in done.stdout
    # labels stay English
    for label in ("PROTO", "SERVER", "Password:", "Before logging in:", "Help:"):
        assert label in done.stdout


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["--lang", "en"], {"LANG": "zh_CN.UTF-8"}),
        (["--lang", "zh"], {}),  # RFC 4647 lookup: a range never matches a longer tag
        ([], {"LC_ALL": "C", "LANGUAGE": "zh_CN"}),  # the C locale is English
        ([], {"LANG": "fr_FR.UTF-8"}),
    ],
)
def test_english_when_the_language_has_no_translation(args: list[str], env: dict[str, str]) -> None:
    done = run(*args, "a@qq.com", **env)
    assert STEP_EN in done.stdout and STEP_ZH not in done.stdout


def test_lang_in_csv_and_list(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("LANGUAGE", raising=False)
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    assert main(["--format", "csv", "a@qq.com"]) == 0
    row = next(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert row["provider_name"] == QQ_ZH
    assert main(["--list", "--lang", "zh-CN"]) == 0
    assert f" {QQ_ZH} (qq.com, " in capsys.readouterr().out
    assert main(["--list", "--format", "csv", "--lang", "en"]) == 0
    rows = {row["id"]: row for row in csv.DictReader(io.StringIO(capsys.readouterr().out))}
    assert rows["qq.com"]["name"] == QQ.name and "foxmail.com" in rows["qq.com"]["domains"]


def test_list_with_addresses_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--list", "a@qq.com"])
    assert exit_.value.code == 2
    assert "--list takes no ADDRESS" in capsys.readouterr().err


def test_every_format_for_single_lookups(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["a@qq.com", "nobody@unknown-domain.example"]
    assert main(["--format", "csv", *args]) == 1
    captured = capsys.readouterr()
    rows = list(csv.DictReader(io.StringIO(captured.out)))
    assert [row["status"] for row in rows] == ["found", "not-found"]
    assert "mailsettings: No provider is known" in captured.err
    assert main(["--format", "jsonl", *args]) == 1
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["status"] for line in lines] == ["found", "not-found"]
    assert lines[1]["error"]["tried"] == ["bundled database"]
    assert main(["--format", "table", *args]) == 1
    captured = capsys.readouterr()
    assert "imap.qq.com:993" in captured.out and "unknown-domain" not in captured.out


def test_an_address_list_argument(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--json", "Jane <jane@qq.com>, b@163.com"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["address"] for line in lines] == ["jane@qq.com", "b@163.com"]


def test_not_found_names_every_discovery_flag(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["nobody@unknown-domain.example"]) == 1
    assert (
        capsys.readouterr()
        .err.strip()
        .endswith("Try --autoconfig, --mx, --srv, --autodiscover or --guess.")
    )


def test_not_found_names_only_the_flags_not_used(
    dns_server: Dnsmasq, capsys: pytest.CaptureFixture[str]
) -> None:
    server = ["--dns-server", f"127.0.0.1:{dns_server.port}"]
    assert main(["--mx", *server, "a@nomatch.test"]) == 1
    message = capsys.readouterr().err
    assert "mx1.nowhere.example" in message
    assert message.strip().endswith("Try --autoconfig, --srv, --autodiscover or --guess.")
    assert main(["--mx", "--srv", *server, "a@nomatch.test"]) == 1
    assert capsys.readouterr().err.strip().endswith("Try --autoconfig, --autodiscover or --guess.")
    # A definite answer (the domain does not exist) suggests nothing.
    assert main(["--mx", *server, "a@no-such-domain.test"]) == 1
    assert "Try" not in capsys.readouterr().err


def run_on_a_terminal(*args: str, columns: int) -> str:
    """The output of the command with a terminal of ``columns`` columns as standard output."""
    done, shown = run_with_a_terminal(
        [*COMMAND, *args], terminal="stdout", env=environment(COLUMNS=str(columns))
    )
    assert done.returncode == 0, done.stderr
    return shown.decode("utf-8").replace("\r\n", "\n")


def test_long_text_is_wrapped_on_a_terminal_counting_wide_characters() -> None:
    shown = run_on_a_terminal("--lang", "zh-CN", "a@qq.com", columns=72)
    lines = shown.splitlines()
    assert all(display_width(line) <= 72 for line in lines), lines
    wrapped = [line for line in lines if line.startswith("       ")]  # continued steps
    assert wrapped, lines
    steps = "".join(line.strip() for line in lines if line.startswith(("    1.", "       ")))
    assert STEP_ZH.replace(" ", "") in steps.replace(" ", "")
    # Wide characters count two: by character count these lines would look short.
    assert any(display_width(line) > len(line) + 10 for line in wrapped)


def test_long_text_is_not_wrapped_in_a_pipe() -> None:
    done = run("--lang", "zh-CN", "a@qq.com", COLUMNS="40")
    assert f"    1. {STEP_ZH}" in done.stdout.splitlines()


def test_wrap_breaks_between_wide_characters_and_keeps_punctuation() -> None:
    text = "开启服务需要安全验证（用绑定手机发送指定短信），验证后系统会显示16位授权码。"
    for width in range(12, 40):
        lines = wrap(text, width, indent="  ")
        assert all(display_width(line) <= width for line in lines)
        assert "".join(line[2:] for line in lines) == text
        assert not any(line[2:3] in "，。）" for line in lines)
        assert not any(line.endswith("（") for line in lines)


def test_wrap_keeps_words_whole() -> None:
    lines = wrap("see https://example.com/a/very/long/path/that/does/not/fit here", 20)
    assert "https://example.com/a/very/long/path/that/does/not/fit" in lines
    assert lines[0] == "see" and lines[-1] == "here"


def test_display_width() -> None:
    assert display_width("ＱＱ邮箱") == 8
    assert display_width("e\u0301") == 1  # a combining accent takes no column
    assert display_width("abc") == 3


def test_progress_shows_rate_and_time_left() -> None:
    now = [0.0]
    shown = io.StringIO()
    progress = Progress(shown, 1000, clock=lambda: now[0])
    now[0] = 2.0
    progress.update(500, 250)
    assert shown.getvalue() == "\r500 rows  250/s  25%  ETA 0:00:06"
    now[0] = 2.1
    progress.update(600, 300)  # too soon after the last redraw
    assert shown.getvalue().count("\r") == 1
    now[0] = 8.0
    progress.update(2000, 1000, final=True)
    assert shown.getvalue().endswith("\r2,000 rows  250/s  100%  done in 0:00:08\n")


def test_progress_without_a_size_shows_the_rate() -> None:
    now = [0.0]
    shown = io.StringIO()
    progress = Progress(shown, None, clock=lambda: now[0])
    now[0] = 4.0
    progress.update(1, 10)
    assert shown.getvalue() == "\r1 row  0/s"
