"""``python -m mailsettings.check`` with bundled host names pointed at loopback servers."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from dns_servers import Dnsmasq
from mail_servers import MAIL_HOST, MailServers

from mailsettings import Registry
from mailsettings.check import check, main, problems

QQ_HOSTS = ("imap.qq.com", "pop.qq.com", "smtp.qq.com")


@pytest.fixture
def qq_names(start_dnsmasq: type[Dnsmasq]) -> Dnsmasq:
    """qq.com's server names at the loopback mail servers; 163.com's do not exist."""
    return start_dnsmasq(
        [f"--address=/{host}/{MAIL_HOST}" for host in QQ_HOSTS] + ["--local=/163.com/"]
    )


@pytest.fixture(scope="module")
def qq_servers(mail_servers_factory: Callable[..., MailServers]) -> MailServers:
    """Loopback servers whose certificate also covers qq.com's server names."""
    return mail_servers_factory(*QQ_HOSTS)


def test_a_provider_whose_servers_answer_as_the_data_says(
    qq_servers: MailServers, qq_names: Dnsmasq
) -> None:
    qq = Registry().get("qq.com")
    assert qq is not None
    checks = check([qq], **qq_servers.network(qq_names.resolver()))
    assert [(c.probe.server.host, c.probe.server.port) for c in checks] == [
        (s.host, s.port) for s in qq.servers
    ]
    assert [c.problems for c in checks] == [()] * len(qq.servers)


def test_certificates_for_other_names_are_reported(
    mail_servers: MailServers, qq_names: Dnsmasq
) -> None:
    out = io.StringIO()
    code = main(
        [
            "qq.com",
            "--dns-server",
            f"127.0.0.1:{qq_names.port}",
            "--allow-private-networks",
            *[f"--port-map={a}={b}" for a, b in mail_servers.port_map.items()],
        ],
        out=out,
    )
    assert code == 1
    text = out.getvalue()
    assert text.count("\n    certificate-invalid: ") == 4
    assert "unable to get local issuer certificate" in text  # the system's CAs, not the test CA
    assert text.endswith("4 servers checked, 4 with problems\n")


def test_unreachable_servers_and_json(qq_names: Dnsmasq) -> None:
    out = io.StringIO()
    code = main(
        ["163.com", "--json", "--dns-server", f"127.0.0.1:{qq_names.port}", "--timeout", "3"],
        out=out,
    )
    assert code == 1
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert lines and all(line["provider"] == "163.com" for line in lines)
    assert all(line["problems"][0].startswith("does-not-resolve") for line in lines)


def test_expiring_certificates_and_sasl_differences() -> None:
    from mailsettings.access.probe import ProbeResult
    from mailsettings.models import Server

    server = Server(
        protocol="imap", host="imap.example.com", port=993, security="ssl", auth=("oauth2",)
    )
    found = ProbeResult(
        server=server,
        port=993,
        reachable=True,
        protocol_matches=True,
        tls_version="TLSv1.3",
        certificate_verified=True,
        certificate_expires=datetime.now(UTC) + timedelta(days=3),
        sasl_mechanisms=("PLAIN", "LOGIN"),
    )
    said = problems(server, found)
    assert said[0].startswith("certificate expires on")
    assert "it says oauth2, the server offers LOGIN PLAIN" in said[1]


def test_usage_errors() -> None:
    with pytest.raises(SystemExit) as caught:
        main(["no-such-provider.example"])
    assert caught.value.code == 2
