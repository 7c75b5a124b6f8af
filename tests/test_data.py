"""Integrity of the whole bundled database, and the project's reference table."""

from __future__ import annotations

from collections import Counter

import idna
import pytest

import mailsettings
from mailsettings.data import (
    load_bundled,
    load_provider_files,
    source_dir,
)
from mailsettings.models import Protocol, Provider, Security, Server, Status, preference_key

SOURCES = load_provider_files(source_dir().glob("*.toml"))
PROVIDERS = load_bundled()


def test_domains_are_unique_across_providers() -> None:
    counts = Counter(domain for provider in PROVIDERS for domain in provider.domains)
    assert [domain for domain, n in counts.items() if n > 1] == []


def test_domains_are_valid_idna_in_ascii_form() -> None:
    for provider in PROVIDERS:
        for domain in provider.domains:
            assert idna.encode(idna.decode(domain)).decode() == domain, domain


def test_mx_patterns_are_unique_across_providers() -> None:
    counts = Counter(rule.pattern for provider in PROVIDERS for rule in provider.mx)
    assert [pattern for pattern, n in counts.items() if n > 1] == []


def _server_sets(provider: Provider) -> list[tuple[str, tuple[Server, ...]]]:
    sets = [(provider.id, provider.servers)]
    sets += [
        (f"{provider.id} mx {rule.pattern}", rule.servers) for rule in provider.mx if rule.servers
    ]
    return sets


@pytest.mark.parametrize("provider", PROVIDERS, ids=lambda provider: provider.id)
def test_provider_integrity(provider: Provider) -> None:
    for name, servers in _server_sets(provider):
        protocols = {server.protocol for server in servers if not server.legacy}
        if provider.status in (Status.ACTIVE, Status.NEEDS_BRIDGE):
            assert protocols & {Protocol.IMAP, Protocol.POP3}, f"{name}: no incoming server"
            assert Protocol.SMTP in protocols, f"{name}: no outgoing server"
        for server in servers:
            # A TLS mode the port does not imply (implicit TLS on 587, ...) must say why.
            assert server.note or not server.unusual_security, f"{name}: {server.host}:{server.port}"
        keys = [(s.protocol, s.host, s.port) for s in servers]
        assert len(keys) == len(set(keys)), f"{name}: a server is listed twice"
    assert len(set(provider.provenance)) == len(provider.provenance), "a check is listed twice"
    if provider.status is Status.NO_STANDARD_ACCESS:
        assert provider.status_note, "say what users can do instead"
    if provider.status is Status.DISCONTINUED:
        assert provider.status_since and provider.status_note


@pytest.mark.parametrize(
    "provider", [p for p in PROVIDERS if p.servers and p.domains], ids=lambda provider: provider.id
)
def test_every_domain_looks_up_with_servers_in_preference_order(provider: Provider) -> None:
    for domain in provider.domains:
        result = mailsettings.lookup(f"someone@{domain}")
        assert result.provider.id == provider.id
        assert list(result.servers) == sorted(result.servers, key=preference_key)
        assert all("%" not in server.host for server in result.servers)


# The reference table this project started from: (domain, provider name fragment, POP3 hosts,
# SMTP host). Every host must be among the provider's servers (current or legacy).
REFERENCE_TABLE = [
    ("163.com", "163", {"pop3.163.com"}, "smtp.163.com"),
    ("yahoo.com.cn", "Yahoo", {"pop.mail.yahoo.com.cn"}, "smtp.mail.yahoo.com"),
    ("sohu.com", "Sohu", {"pop3.sohu.com"}, "smtp.sohu.com"),
    ("sina.com", "Sina", {"pop.sina.com.cn", "pop3.sina.com.cn"}, "smtp.sina.com.cn"),
    ("139.com", "139", {"pop3.139.com"}, "smtp.139.com"),
    ("gmail.com", "Gmail", {"pop.gmail.com"}, "smtp.gmail.com"),
    ("qq.com", "QQ", {"pop.qq.com"}, "smtp.qq.com"),
    ("tom.com", "Tom", {"pop.tom.com.cn"}, "smtp.tom.com.cn"),
]


@pytest.mark.parametrize(
    ("domain", "name", "pop3_hosts", "smtp_host"),
    REFERENCE_TABLE,
    ids=[row[0] for row in REFERENCE_TABLE],
)
def test_reference_table_row(domain: str, name: str, pop3_hosts: set[str], smtp_host: str) -> None:
    result = mailsettings.lookup(f"someone@{domain}")
    assert name.lower() in result.provider.name.lower()
    hosts = {(server.protocol, server.host) for server in result.servers}
    for host in pop3_hosts:
        assert (Protocol.POP3, host) in hosts
    assert (Protocol.SMTP, smtp_host) in hosts
    for server in result.servers:
        if server.legacy:
            assert server.legacy_reason


def test_gmail_row_details() -> None:
    result = mailsettings.lookup("someone@gmail.com")
    pop3 = result.pop3
    assert pop3 is not None and (pop3.host, pop3.port, pop3.security) == (
        "pop.gmail.com",
        995,
        "ssl",
    )
    smtp = {(s.port, s.security) for s in result.servers if s.host == "smtp.gmail.com"}
    assert {(465, Security.SSL), (587, Security.STARTTLS)} <= smtp
    assert all(s.login_for("someone@gmail.com") == "someone@gmail.com" for s in result.servers)


def test_yahoo_china_is_returned_as_discontinued() -> None:
    result = mailsettings.lookup("someone@yahoo.com.cn")
    assert result.provider.status is Status.DISCONTINUED
    assert any("discontinued" in warning for warning in result.warnings)


@pytest.mark.parametrize("domain", ["qq.com", "sina.com"])
def test_smtp_requires_authentication(domain: str) -> None:
    smtp = mailsettings.lookup(domain).smtp
    assert smtp is not None and "none" not in smtp.auth


def test_a_tls_mode_the_port_does_not_imply_is_explained_in_the_warnings() -> None:
    result = mailsettings.lookup("someone@charter.net")
    smtp = result.smtp
    assert smtp is not None and (smtp.port, smtp.security) == (587, Security.SSL)
    assert smtp.unusual_security and smtp.note
    assert [w for w in result.warnings if "implicit TLS" in w and smtp.note in w]
    usual = mailsettings.lookup("someone@gmail.com")
    assert not any(server.unusual_security for server in usual.servers)
    assert not [w for w in usual.warnings if "usually means" in w]


def test_the_registry_lists_every_bundled_provider_in_order() -> None:
    assert tuple(mailsettings.Registry().providers()) == PROVIDERS
