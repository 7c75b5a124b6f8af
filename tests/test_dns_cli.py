"""The command line's discovery flags and bulk mode, against DNS servers on 127.0.0.1."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import run_with_a_terminal
from dns_servers import Dnsmasq, Responder, data_mx_cases

import mailsettings
from mailsettings.cli import main, parse_dns_server
from mailsettings.cli_output import CSV_COLUMNS, csv_cell

# A domain whose MX names a platform of the bundled data that offers standard access.
_WITH_SERVERS = {p.id for p in mailsettings.providers() if p.servers}
MX_DOMAIN = next(d for d, pid, pattern in data_mx_cases() if pid in _WITH_SERVERS)


COMMAND = [sys.executable, "-m", "mailsettings"]


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*COMMAND, *args],
        capture_output=True,
        text=True,
        input=stdin,
        check=False,
        timeout=60,
    )


def server(port: int) -> list[str]:
    return ["--dns-server", f"127.0.0.1:{port}"]


def test_mx_flag_finds_a_platform(dns_server: Dnsmasq) -> None:
    done = run("--mx", *server(dns_server.port), f"jane@{MX_DOMAIN}")
    assert done.returncode == 0, done.stderr
    assert "(source: mx, untrusted)" in done.stdout
    assert "Warning: Found through the domain's MX record" in done.stdout


def test_srv_flag_and_json(dns_server: Dnsmasq) -> None:
    done = run("--srv", "--json", *server(dns_server.port), "jane@srv.test")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)["result"]
    assert (document["source"], document["trusted"]) == ("srv", True)
    assert document["imap"]["host"] == "imap3.srv.test"


@pytest.mark.parametrize(
    ("address", "code", "message"),
    [
        ("a@no-such-domain.test", 1, "does not exist"),
        ("a@nullmx.test", 1, "accepts no mail"),
        ("a@nomatch.test", 1, "mx1.nowhere.example"),
        ("a@outside-zone.example", 3, "REFUSED"),
        ("a@@bad", 2, "more than one"),
    ],
)
def test_exit_codes(
    dns_server: Dnsmasq,
    capsys: pytest.CaptureFixture[str],
    address: str,
    code: int,
    message: str,
) -> None:
    assert main(["--mx", "--srv", *server(dns_server.port), address]) == code
    captured = capsys.readouterr()
    assert message in captured.err and captured.out == ""


def test_servfail_and_timeout_exit_3(
    servfail_server: Responder, silent_server: Responder, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--mx", *server(servfail_server.port), "a@x.test"]) == 3
    assert "SERVFAIL" in capsys.readouterr().err
    assert main(["--mx", "--timeout", "0.3", *server(silent_server.port), "a@x.test"]) == 3
    assert "budget" in capsys.readouterr().err


def test_several_dns_servers_fail_over(
    silent_server: Responder, dns_server: Dnsmasq, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--mx", "--timeout", "5", *server(silent_server.port), *server(dns_server.port)]
    assert main([*args, f"a@{MX_DOMAIN}"]) == 0
    assert "source: mx" in capsys.readouterr().out


def test_parse_dns_server() -> None:
    assert parse_dns_server("127.0.0.1") == ("127.0.0.1", 53)
    assert parse_dns_server("127.0.0.1:5353") == ("127.0.0.1", 5353)
    assert parse_dns_server("[::1]:5353") == ("::1", 5353)
    assert parse_dns_server("[::1]") == ("::1", 53)
    assert parse_dns_server("::1") == ("::1", 53)
    for bad in ["", "dns.example", "127.0.0.1:0", "127.0.0.1:70000", "[::1]:x", "1.2.3.4:5:6"]:
        with pytest.raises(ValueError, match="--dns-server"):
            parse_dns_server(bad)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dns-server", "dns.example", "--mx", "a@x.test"], "expected an IP address"),
        (
            ["--dns-server", "127.0.0.1", "a@x.test"],
            "needs --autoconfig, --mx, --srv, --autodiscover or --guess",
        ),
        (["--mx", "--timeout", "0", "a@x.test"], "--timeout"),
        (["--mx", "--timeout", "nan", "a@x.test"], "--timeout"),
        (["--column", "2", "a@x.test"], "--column applies to --bulk"),
        (["--strict", "a@x.test"], "--strict applies to --bulk"),
        (["--bulk", "-", "a@x.test"], "not both"),
        (["--bulk", "/nonexistent/file"], "cannot read"),
    ],
)
def test_invalid_flags_exit_2(args: list[str], message: str) -> None:
    done = run(*args)
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr


def test_csv_cell_escapes_formulas() -> None:
    assert [csv_cell(v) for v in ["=1+2", "+1", "-1", "@SUM(A1)", "a=b", 993]] == [
        "'=1+2",
        "'+1",
        "'-1",
        "'@SUM(A1)",
        "a=b",
        "993",
    ]
    assert csv_cell("\x00\t=evil") == "'=evil"  # control characters are removed first


def test_bulk_csv_from_a_file(dns_server: Dnsmasq, tmp_path: Path) -> None:
    addresses = [
        "=1+2@qq.com",
        "jane@srv.test",
        "",
        "+1@no-such-domain.test",
        "-x@@bad",
        "@qq.com",
        f"bob@{MX_DOMAIN}",
    ]
    source = tmp_path / "addresses.txt"
    source.write_text("\n".join(addresses) + "\n", encoding="utf-8")
    done = run("--bulk", str(source), "--mx", "--srv", *server(dns_server.port))
    assert done.returncode == 0, done.stderr  # every line produced a row
    assert done.stderr == ""  # not a terminal: no progress bar
    strict = run("--bulk", str(source), "--strict", "--mx", "--srv", *server(dns_server.port))
    assert strict.returncode == 2  # the highest row code: an invalid address
    assert strict.stdout == done.stdout
    rows = list(csv.reader(io.StringIO(done.stdout)))
    assert tuple(rows[0]) == CSV_COLUMNS
    table = [dict(zip(CSV_COLUMNS, row, strict=True)) for row in rows[1:]]
    assert [row["address"] for row in table] == [
        "'=1+2@qq.com",
        "jane@srv.test",
        "'+1@no-such-domain.test",
        "'-x@@bad",
        "'@qq.com",
        f"bob@{MX_DOMAIN}",
    ]
    assert [row["status"] for row in table] == [
        "found",
        "found",
        "not-found",
        "invalid",
        "invalid",
        "found",
    ]
    assert [row["source"] for row in table] == ["bundled", "srv", "", "", "", "mx"]
    assert table[0]["imap_host"] == "imap.qq.com" and table[0]["imap_port"] == "993"
    assert table[1]["trusted"] == "yes" and table[5]["trusted"] == "no"
    assert "does not exist" in table[2]["error"]
    for row in table:
        assert not any(cell[:1] in "=+-@" for cell in row.values() if cell)


def test_bulk_jsonl_from_stdin(dns_server: Dnsmasq) -> None:
    done = run(
        "--bulk",
        "-",
        "--format",
        "jsonl",
        "--strict",
        "--mx",
        *server(dns_server.port),
        stdin="a@qq.com\nb@nomatch.test\nc@outside-zone.example\n",
    )
    assert done.returncode == 3  # --strict: the highest row code
    documents = [json.loads(line) for line in done.stdout.splitlines()]
    assert [d["status"] for d in documents] == ["found", "not-found", "undetermined"]
    assert documents[0]["result"]["provider"]["id"] == "qq.com"
    assert documents[1]["error"]["type"] == "ProviderNotFoundError"
    assert documents[2]["error"]["type"] == "DiscoveryError"


def test_bulk_progress_bar_only_on_a_terminal(dns_server: Dnsmasq, tmp_path: Path) -> None:
    source = tmp_path / "addresses.txt"
    source.write_text("a@qq.com\nb@srv.test\n", encoding="utf-8")
    done, shown = run_with_a_terminal(
        [*COMMAND, "--bulk", str(source), "--srv", *server(dns_server.port)], terminal="stderr"
    )
    assert done.returncode == 0
    assert b"2 rows" in shown and b"/s" in shown and b"100%" in shown
    assert "rows" not in done.stdout
