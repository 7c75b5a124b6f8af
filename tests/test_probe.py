"""probe/aprobe against real Dovecot and Postfix, and against hostile servers, on loopback."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import pytest
from conftest import server
from dns_servers import Dnsmasq
from hostile_mail_servers import HostileCA, HostileFactory
from mail_servers import DOMAIN, MAIL_HOST, MailServers

from mailsettings.access.probe import ProbeFailure, ProbeResult, aprobe, probe


@pytest.fixture
def names(start_dnsmasq: type[Dnsmasq]) -> Dnsmasq:
    """The test domain's names at the mail servers' address; ``nowhere.test`` does not exist."""
    return start_dnsmasq(
        [
            f"--address=/{DOMAIN}/{MAIL_HOST}",
            "--address=/hostile.test/127.0.0.1",
            "--address=/nowhere.test/",
        ]
    )


@pytest.mark.parametrize(
    ("protocol", "host", "port", "security"),
    [
        ("imap", f"imap.{DOMAIN}", 993, "ssl"),
        ("imap", f"mail.{DOMAIN}", 143, "starttls"),
        ("pop3", f"pop.{DOMAIN}", 995, "ssl"),
        ("pop3", f"pop3.{DOMAIN}", 110, "starttls"),
        ("smtp", f"smtp.{DOMAIN}", 465, "ssl"),
        ("smtp", DOMAIN, 587, "starttls"),
    ],
)
def test_every_listener_is_described(
    mail_servers: MailServers, names: Dnsmasq, protocol: str, host: str, port: int, security: str
) -> None:
    found = probe(
        server(protocol, host, port, security),
        timeout=10,
        **mail_servers.network(names.resolver()),
    )
    assert found.failure is None, found.error
    assert found.reachable and found.protocol_matches and found.verified_tls
    assert found.address == MAIL_HOST and found.port == mail_servers.port_map[port]
    assert found.tls_version is not None and found.tls_version.startswith("TLSv1.")
    assert found.certificate_expires is not None and found.certificate_expires > datetime.now(UTC)
    assert "PLAIN" in found.sasl_mechanisms  # offered once TLS is up
    assert found.starttls_offered is (None if security == "ssl" else True)
    assert found.greeting


def test_mechanisms_before_tls_are_not_reported_as_after(
    mail_servers: MailServers, names: Dnsmasq
) -> None:
    found = probe(
        server("imap", f"imap.{DOMAIN}", 143, "plain"), **mail_servers.network(names.resolver())
    )
    assert found.starttls_offered is True and found.tls_version is None
    assert "PLAIN" not in found.sasl_mechanisms  # Dovecot refuses passwords before TLS
    assert "LOGINDISABLED" in found.capabilities


def test_the_default_policy_refuses_a_private_address_without_connecting(
    mail_servers: MailServers, names: Dnsmasq
) -> None:
    found = probe(
        server("imap", f"imap.{DOMAIN}", 993, "ssl"),
        resolver=names.resolver(),
        port_map=mail_servers.port_map,
    )
    assert found.failure is ProbeFailure.NOT_ALLOWED and not found.reachable
    assert "127.0.0.25" in (found.error or "")


@pytest.mark.parametrize(
    ("host", "failure"),
    [("imap.nowhere.test", ProbeFailure.DOES_NOT_RESOLVE), ("127.0.0.1", ProbeFailure.REFUSED)],
)
def test_unreachable_servers(names: Dnsmasq, host: str, failure: ProbeFailure) -> None:
    found = probe(
        server("imap", host, 1, "ssl"),
        resolver=names.resolver(),
        allow_private_networks=True,
        timeout=3,
    )
    assert found.failure is failure and not found.reachable


def test_a_certificate_for_another_name(
    hostile_mail_server: HostileFactory, hostile_ca: HostileCA, names: Dnsmasq
) -> None:
    hostile = hostile_mail_server("wrong-name", "imap")
    found = probe(
        server("imap", "imap.hostile.test", 993, "ssl"),
        ssl_context=hostile_ca.client_context(),
        resolver=names.resolver(),
        allow_private_networks=True,
        port_map={993: hostile.port},
    )
    assert found.failure is ProbeFailure.CERTIFICATE_INVALID
    assert found.certificate_verified is False and not found.verified_tls
    assert found.reachable and found.protocol_matches  # what the server is, reported anyway
    assert found.certificate_expires is None


@pytest.mark.parametrize(
    ("behaviour", "protocol", "failure"),
    [
        ("wrong-protocol", "imap", ProbeFailure.WRONG_PROTOCOL),
        ("wrong-protocol", "smtp", ProbeFailure.WRONG_PROTOCOL),
        ("endless-line", "pop3", ProbeFailure.PROTOCOL_ERROR),
        ("starttls-refused", "imap", ProbeFailure.STARTTLS_REFUSED),
        ("starttls-injection", "smtp", ProbeFailure.PROTOCOL_ERROR),
    ],
)
def test_hostile_servers(
    hostile_mail_server: HostileFactory,
    names: Dnsmasq,
    behaviour: str,
    protocol: str,
    failure: ProbeFailure,
) -> None:
    hostile = hostile_mail_server(behaviour, protocol)
    started = time.monotonic()
    found = probe(
        server(protocol, "hostile.test", 143, "starttls"),
        resolver=names.resolver(),
        allow_private_networks=True,
        port_map={143: hostile.port},
        timeout=5,
    )
    assert found.failure is failure, found.error
    assert time.monotonic() - started < 3 * 5 + 1
    assert b"PASS" not in hostile.received and b"AUTH" not in hostile.received


@pytest.mark.parametrize("behaviour", ["silent", "drip"])
def test_silent_and_dripping_servers_end_within_the_budget(
    hostile_mail_server: HostileFactory, names: Dnsmasq, behaviour: str
) -> None:
    hostile = hostile_mail_server(behaviour, "imap", interval=1.0)
    started = time.monotonic()
    found = asyncio.run(
        aprobe(
            server("imap", "hostile.test", 143, "starttls"),
            resolver=names.resolver(),
            allow_private_networks=True,
            port_map={143: hostile.port},
            timeout=1.0,
        )
    )
    assert found.failure is ProbeFailure.TIMED_OUT
    assert time.monotonic() - started < 3 * 1.0 + 1


def test_a_probe_result_is_a_value(mail_servers: MailServers, names: Dnsmasq) -> None:
    found = probe(
        server("smtp", f"smtp.{DOMAIN}", 465, "ssl"), **mail_servers.network(names.resolver())
    )
    again = ProbeResult.model_validate_json(found.model_dump_json())
    assert again == found and hash(again) == hash(found)
    assert "SASL" in found.describe()


def test_bad_arguments() -> None:
    with pytest.raises(TypeError, match=r"mailsettings\.Server"):
        probe("imap.example.com")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="template"):
        probe(server("imap", "mail.%EMAILDOMAIN%", 993, "ssl"))
    with pytest.raises(ValueError, match="timeout"):
        probe(server("imap", "imap.example.com", 993, "ssl"), timeout=0)
