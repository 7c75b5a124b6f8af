"""probe, verify and the connection helpers check their arguments as lookups check them.

Every call here fails before any connection is made: nothing goes to the network.
"""

from __future__ import annotations

from typing import Any

import pytest

import mailsettings
from mailsettings import AuthMethod, Server
from mailsettings.access.probe import ProbeResult
from mailsettings.check import problems
from mailsettings.sources.guess import _found

SERVER = Server(protocol="imap", host="imap.example.com", port=993, security="ssl")

BAD_NETWORK_ARGUMENTS: list[tuple[dict[str, Any], type[Exception], str]] = [
    ({"port_map": "993:10993"}, TypeError, "port_map must be a mapping"),
    ({"port_map": {993: 0}}, ValueError, "0 is not a port"),
    ({"ssl_context": "system"}, TypeError, r"ssl_context must be an ssl\.SSLContext"),
    ({"resolver": "127.0.0.1"}, TypeError, "resolver must be a dns"),
    ({"allowed_networks": "10.0.0.0/8"}, TypeError, "allowed_networks must be a tuple"),
    ({"allowed_networks": ["not a network"]}, ValueError, "allowed_networks: 'not a network'"),
    ({"allow_private_networks": "no"}, TypeError, "allow_private_networks must be True or False"),
]


@pytest.mark.parametrize(("arguments", "error", "message"), BAD_NETWORK_ARGUMENTS)
def test_probe_checks_its_network_arguments(
    arguments: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        mailsettings.probe(SERVER, timeout=1, **arguments)


@pytest.mark.parametrize(("arguments", "error", "message"), BAD_NETWORK_ARGUMENTS)
def test_the_connection_helpers_check_their_network_arguments(
    arguments: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        mailsettings.connect_imap(SERVER, "jane@example.com", password="secret", **arguments)


@pytest.mark.parametrize(("arguments", "error", "message"), BAD_NETWORK_ARGUMENTS)
def test_verify_checks_the_options_of_a_result_it_is_given(
    arguments: dict[str, Any], error: type[Exception], message: str
) -> None:
    result = mailsettings.lookup("jane@qq.com")
    with pytest.raises(error, match=message):
        mailsettings.verify(result, address="jane@qq.com", password="secret", **arguments)


def test_a_flag_that_is_not_a_bool_never_allows_plain_text() -> None:
    plain = Server(protocol="imap", host="imap.example.com", port=143, security="plain")
    with pytest.raises(TypeError, match="allow_plaintext must be True or False"):
        mailsettings.connect_imap(plain, "jane@example.com", password="x", allow_plaintext="no")  # type: ignore[arg-type]
    result = mailsettings.lookup("jane@qq.com")
    with pytest.raises(TypeError, match="allow_plaintext must be True or False"):
        mailsettings.verify(result, address="jane@qq.com", password="x", allow_plaintext="no")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="allow_untrusted must be True or False"):
        mailsettings.verify(result, address="jane@qq.com", password="x", allow_untrusted=1)  # type: ignore[arg-type]


def test_verify_refuses_unknown_options_and_unsendable_secrets() -> None:
    result = mailsettings.lookup("jane@qq.com")
    with pytest.raises(TypeError, match="unknown lookup option"):
        mailsettings.verify(result, address="jane@qq.com", password="x", retries=2)
    with pytest.raises(TypeError, match="password must be a str"):
        mailsettings.verify(result, address="jane@qq.com", password=b"x")  # type: ignore[arg-type]
    with pytest.raises(mailsettings.MailSettingsError, match="line break"):
        mailsettings.verify(result, address="jane@qq.com", password="x\r\nA2 LOGOUT")


def test_one_table_says_which_sasl_mechanism_is_which_method() -> None:
    found = ProbeResult(
        server=SERVER,
        port=993,
        reachable=True,
        protocol_matches=True,
        tls_version="TLSv1.3",
        certificate_verified=True,
        sasl_mechanisms=("DIGEST-MD5",),
    )
    # guessing and the database check read DIGEST-MD5 alike: an encrypted password method
    assert _found(found, plaintext=False).auth == (AuthMethod.PASSWORD_ENCRYPTED,)
    encrypted = SERVER.model_copy(update={"auth": (AuthMethod.PASSWORD_ENCRYPTED,)})
    assert not problems(encrypted, found.model_copy(update={"server": encrypted}))
