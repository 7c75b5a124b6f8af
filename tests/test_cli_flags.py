"""The discovery flags are derived from the option groups: one flag per option, checked alike."""

from __future__ import annotations

import pytest

from mailsettings.cli import discovery_flags, main
from mailsettings.option import option_specs
from mailsettings.options import LookupOptions


def test_every_option_with_a_flag_is_on_the_command_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    wanted = [name for name, spec in option_specs(LookupOptions).items() if spec.option.flag]
    assert wanted and sorted(spec.name for spec in discovery_flags().values()) == sorted(wanted)
    for flag in (*discovery_flags(), "--dns-server", "--ca-file"):
        assert flag in text
    for kept in (
        "--mx",
        "--srv",
        "--autoconfig",
        "--ispdb-url",
        "--allow-http",
        "--allow-private-networks",
        "--timeout",
        "--autodiscover",
        "--guess",
    ):
        assert kept in discovery_flags() or kept in text


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--timeout", "0", "a@x.test"], "--timeout: timeout must be a positive number"),
        (["--allow-plaintext", "a@x.test"], "--allow-plaintext needs --guess"),
        (["--ispdb-url", "https://ispdb.test/", "a@x.test"], "--ispdb-url needs --autoconfig"),
        (["--allow-http", "a@x.test"], "--allow-http needs --autoconfig or --autodiscover"),
        (
            ["--autoconfig-url", "ftp://x/{domain}", "--autoconfig", "a@x.test"],
            "http:// or https://",
        ),
    ],
)
def test_flags_are_checked_like_options(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2
    assert message in capsys.readouterr().err
