"""Guessing finds the real Dovecot and Postfix on loopback for a domain nobody lists."""

from __future__ import annotations

import asyncio
import time

import pytest
from dns_servers import Dnsmasq
from hostile_mail_servers import HostileFactory
from mail_servers import DOMAIN, MAIL_HOST, MailServers

from mailsettings import ProviderNotFoundError, Registry, Source
from mailsettings.access.probe import ProbeFailure
from mailsettings.sources.guess import candidates


@pytest.fixture
def names(start_dnsmasq: type[Dnsmasq]) -> Dnsmasq:
    return start_dnsmasq(
        [
            f"--address=/{DOMAIN}/{MAIL_HOST}",
            "--address=/plain.test/127.0.0.1",
            "--address=/silent.test/127.0.0.1",
        ]
    )


def registry(mail_servers: MailServers, names: Dnsmasq, **options: object) -> Registry:
    return Registry(guess=True, **mail_servers.network(names.resolver(), **options))


def test_guess_finds_the_loopback_servers(mail_servers: MailServers, names: Dnsmasq) -> None:
    result = registry(mail_servers, names).lookup(f"alice@{DOMAIN}")
    assert result.source is Source.GUESS and not result.trusted
    assert "Confirm them with the user" in result.warnings[0]
    found = {(s.protocol.value, s.host, s.port, s.security.value) for s in result.servers}
    # Every candidate answers on these servers: all eighteen verify (the certificate covers the names).
    assert found == {
        (s.protocol.value, s.host, s.port, s.security.value) for s in candidates(DOMAIN)
    }
    assert result.imap is not None and result.imap.security.value == "ssl"
    assert result.smtp is not None and result.smtp.port == 465
    assert all(s.note and "SASL" in s.note and "PLAIN" in s.note for s in result.servers)
    assert all(s.note and "certificate valid until" in s.note for s in result.servers)


def test_guess_is_the_last_source_and_off_by_default(
    mail_servers: MailServers, names: Dnsmasq
) -> None:
    with pytest.raises(ProviderNotFoundError) as caught:
        Registry(resolver=names.resolver()).lookup(f"alice@{DOMAIN}", mx=True)
    assert "guessing" not in caught.value.tried
    result = asyncio.run(registry(mail_servers, names).alookup(f"bob@{DOMAIN}", srv=True))
    assert result.source is Source.GUESS


def test_a_certificate_for_other_names_does_not_count(
    mail_servers_factory: object,
    names: Dnsmasq,
    start_dnsmasq: type[Dnsmasq],
    mail_servers: MailServers,
) -> None:
    # other.test's names resolve to the same servers, whose certificate does not cover them.
    other = start_dnsmasq([f"--address=/other.test/{MAIL_HOST}"])
    with pytest.raises(ProviderNotFoundError) as caught:
        registry(mail_servers, other).lookup("alice@other.test", timeout=8)
    assert ProbeFailure.CERTIFICATE_INVALID.value in str(caught.value)


def test_a_server_without_tls_is_named_but_not_returned(
    hostile_mail_server: HostileFactory, names: Dnsmasq
) -> None:
    imap, smtp = hostile_mail_server("no-tls", "imap"), hostile_mail_server("no-tls", "smtp")
    unused = hostile_mail_server("silent", "imap").port  # nothing answers on the other ports
    port_map = {993: unused, 143: imap.port, 995: unused, 110: unused, 465: unused, 587: smtp.port}
    plain = Registry(
        guess=True,
        resolver=names.resolver(),
        allow_private_networks=True,
        port_map=port_map,
        timeout=3,
    )
    with pytest.raises(ProviderNotFoundError) as caught:
        plain.lookup("a@plain.test")
    assert "guessing found no usable server" in str(caught.value)
    assert "pass allow_plaintext=True" in str(caught.value)
    result = plain.lookup("a@plain.test", allow_plaintext=True)
    assert {(s.protocol.value, s.port, s.security.value) for s in result.servers} == {
        ("imap", 143, "plain"),
        ("smtp", 587, "plain"),
    }
    assert any("without encryption" in w for w in result.warnings)
    assert b"PASS" not in imap.received and b"AUTH" not in smtp.received


def test_silent_candidates_end_within_the_budget(
    hostile_mail_server: HostileFactory, names: Dnsmasq
) -> None:
    silent = hostile_mail_server("silent", "imap")
    port_map = dict.fromkeys((993, 143, 995, 110, 465, 587), silent.port)
    started = time.monotonic()
    with pytest.raises(Exception) as caught:  # noqa: PT011 - the outcome is checked below
        Registry(
            guess=True,
            resolver=names.resolver(),
            allow_private_networks=True,
            port_map=port_map,
            timeout=1.0,
        ).lookup("a@silent.test")
    elapsed = time.monotonic() - started
    assert "timed-out" in str(caught.value) or "budget" in str(caught.value)
    assert elapsed < 3 * 1.0 + 1


def test_port_map_is_checked() -> None:
    with pytest.raises(TypeError, match="port_map"):
        Registry(port_map={"993": 1})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="port_map"):
        Registry(port_map={993: 0})
