"""verify/averify against the real Dovecot and Postfix, and against hostile servers, on loopback."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from dns_servers import Dnsmasq
from hostile_mail_servers import HostileFactory
from mail_servers import DOMAIN, MailServers, MailUser, domain_provider

import mailsettings
from mailsettings import (
    AppPasswordRequiredError,
    AuthenticationError,
    ConnectTimeoutError,
    LookupResult,
    Provider,
    Registry,
    TLSError,
)


def network(mail_servers: MailServers, mail_names: Dnsmasq) -> dict[str, Any]:
    return mail_servers.network(mail_names.resolver(), timeout=10.0)


def hostile_result(*servers: tuple[str, int, str]) -> LookupResult:
    """The result for jane@hostile.test at these (protocol, port, security) servers."""
    provider = Provider.model_validate(
        {
            "id": "hostile.test",
            "name": "Hostile",
            "domains": ["hostile.test"],
            "servers": [
                {"protocol": p, "host": "hostile.test", "port": port, "security": security}
                for p, port, security in servers
            ],
        }
    )
    return Registry([provider]).lookup("jane@hostile.test")


def result(user: MailUser, security: str = "ssl", **extra: Any) -> LookupResult:
    return Registry([domain_provider(security, **extra)]).lookup(user.address)


@pytest.mark.parametrize("security", ["ssl", "starttls"])
def test_a_good_password_verifies_every_protocol(
    mail_servers: MailServers, mail_names: Dnsmasq, security: str
) -> None:
    alice = mail_servers.full_address_user
    found = mailsettings.verify(
        result(alice, security),
        address=alice.address,
        password=alice.password,
        protocols=("imap", "pop3", "smtp"),
        **network(mail_servers, mail_names),
    )
    assert found.ok, [str(c.error) for c in found.checks]
    found.raise_for_failure()
    assert [(c.protocol.value, c.login, c.mechanism) for c in found.checks] == [
        ("imap", alice.address, "PLAIN"),
        ("pop3", alice.address, "PLAIN"),
        ("smtp", alice.address, "PLAIN"),
    ]


def test_a_non_ascii_password_goes_in_utf8(mail_servers: MailServers, mail_names: Dnsmasq) -> None:
    carol = mail_servers.utf8_user
    found = mailsettings.verify(
        result(carol),
        address=carol.address,
        password=carol.password,
        **network(mail_servers, mail_names),
    )
    assert found.ok, [str(c.error) for c in found.checks]


def test_guessed_servers_find_the_right_login_form_for_both_users(
    mail_servers: MailServers, mail_names: Dnsmasq
) -> None:
    for user in (mail_servers.full_address_user, mail_servers.local_part_user):
        found = mailsettings.verify(
            user.address,
            password=user.password,
            guess=True,
            allow_untrusted=True,
            **network(mail_servers, mail_names),
        )
        assert found.result.source.value == "guess"
        assert found.ok, [str(c.error) for c in found.checks]
        assert {c.login for c in found.checks} == {user.login}


def test_untrusted_results_get_no_credentials(
    mail_servers: MailServers, mail_names: Dnsmasq
) -> None:
    alice = mail_servers.full_address_user
    with pytest.raises(ValueError, match="not trusted"):
        mailsettings.verify(
            alice.address, password=alice.password, guess=True, **network(mail_servers, mail_names)
        )


def test_a_wrong_password(mail_servers: MailServers, mail_names: Dnsmasq) -> None:
    alice = mail_servers.full_address_user
    found = mailsettings.verify(
        result(alice),
        address=alice.address,
        password="wrong-1",
        **network(mail_servers, mail_names),
    )
    assert not found.ok
    error = found["imap"].error
    assert type(error) is AuthenticationError and error.login == alice.address
    with pytest.raises(AuthenticationError):
        found.raise_for_failure()
    assert "wrong-1" not in str(error) and "wrong-1" not in repr(found)


def test_an_authorization_code_provider_says_what_to_do(
    mail_servers: MailServers, mail_names: Dnsmasq
) -> None:
    alice = mail_servers.full_address_user
    steps = [
        {
            "kind": "authorization-code",
            "text": "Create a client authorization code in the web settings.",
        }
    ]
    found = mailsettings.verify(
        result(alice, password="authorization-code", instructions=steps),
        address=alice.address,
        password="the-web-password",
        **network(mail_servers, mail_names),
    )
    error = found["smtp"].error
    assert isinstance(error, AppPasswordRequiredError)
    assert error.provider is not None and error.provider.id == DOMAIN
    assert "wants a client authorization code" in str(error)
    assert "Create a client authorization code" in str(error)


def test_an_oauth2_token_where_none_is_offered(
    mail_servers: MailServers, mail_names: Dnsmasq
) -> None:
    alice = mail_servers.full_address_user
    found = mailsettings.verify(
        result(alice),
        address=alice.address,
        oauth2_token="ya29.token",
        **network(mail_servers, mail_names),
    )
    assert "offers no OAuth2 mechanism" in str(found["imap"].error)


def test_starttls_refused_means_no_password(
    hostile_mail_server: HostileFactory, mail_names: Dnsmasq
) -> None:
    hostile = hostile_mail_server("starttls-refused", "imap")
    target = hostile_result(("imap", 143, "starttls"))
    found = mailsettings.verify(
        target,
        address="jane@hostile.test",
        password="secret-xyz",
        protocols=("imap",),
        resolver=mail_names.resolver(),
        allow_private_networks=True,
        port_map={143: hostile.port},
    )
    assert isinstance(found["imap"].error, TLSError)
    assert b"secret-xyz" not in hostile.received and b"LOGIN" not in hostile.received


def test_a_plain_server_is_refused_unless_allowed(
    hostile_mail_server: HostileFactory, mail_names: Dnsmasq
) -> None:
    hostile = hostile_mail_server("no-tls", "pop3")
    target = hostile_result(("pop3", 110, "plain"), ("smtp", 25, "plain"))
    options: dict[str, Any] = {
        "resolver": mail_names.resolver(),
        "allow_private_networks": True,
        "port_map": {110: hostile.port},
        "protocols": ("pop3",),
    }
    found = mailsettings.verify(target, address="jane@hostile.test", password="pw-123", **options)
    assert isinstance(found["pop3"].error, TLSError) and hostile.connections == 0
    allowed = mailsettings.verify(
        target, address="jane@hostile.test", password="pw-123", allow_plaintext=True, **options
    )
    assert allowed.ok  # the hostile server accepts any login
    assert allowed["pop3"].mechanism == "PLAIN"


def test_a_silent_server_ends_within_the_budget(
    hostile_mail_server: HostileFactory, mail_names: Dnsmasq
) -> None:
    hostile = hostile_mail_server("silent", "smtp")
    target = hostile_result(("smtp", 465, "ssl"))
    started = time.monotonic()
    found = asyncio.run(
        mailsettings.averify(
            target,
            address="jane@hostile.test",
            password="pw",
            protocols=("smtp",),
            timeout=1.0,
            resolver=mail_names.resolver(),
            allow_private_networks=True,
            port_map={465: hostile.port},
        )
    )
    assert isinstance(found["smtp"].error, ConnectTimeoutError)
    assert time.monotonic() - started < 3 * 1.0 + 1


def test_bad_arguments(mail_servers: MailServers) -> None:
    alice = mail_servers.full_address_user
    target = result(alice)
    with pytest.raises(ValueError, match="exactly one"):
        mailsettings.verify(target, address=alice.address)
    with pytest.raises(ValueError, match="exactly one"):
        mailsettings.verify(target, address=alice.address, password="a", oauth2_token="b")
    with pytest.raises(ValueError, match="address= or login="):
        mailsettings.verify(target, password="a")
    with pytest.raises(ValueError, match="unknown protocol"):
        mailsettings.verify(target, address=alice.address, password="a", protocols=("jmap",))
