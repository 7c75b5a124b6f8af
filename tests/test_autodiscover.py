"""Exchange Autodiscover (POX) against a real HTTPS server (trustme CA) and dnsmasq on loopback."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from dns_servers import Dnsmasq
from https_server import Network, drip, huge, redirect, reply

import mailsettings
from mailsettings import (
    DiscoveryTimeoutError,
    LookupResult,
    ProviderNotFoundError,
    Registry,
    Source,
)
from mailsettings.sources.autodiscover import RESPONSE_SCHEMA, read_pox

PATH = "/autodiscover/autodiscover.xml"


def pox(*protocols: str, display: str = "Example Corp", action: str = "settings") -> bytes:
    """An Autodiscover answer with these ``<Protocol>`` bodies."""
    entries = "".join(f"<Protocol>{body}</Protocol>" for body in protocols)
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006">'
        f'<Response xmlns="{RESPONSE_SCHEMA}">'
        f"<User><DisplayName>{display}</DisplayName></User>"
        f"<Account><AccountType>email</AccountType><Action>{action}</Action>{entries}</Account>"
        "</Response></Autodiscover>"
    ).encode()


def redirect_answer(element: str, value: str) -> bytes:
    kind = "redirectAddr" if element == "RedirectAddr" else "redirectUrl"
    return (
        f'<Autodiscover><Response xmlns="{RESPONSE_SCHEMA}"><Account><Action>{kind}</Action>'
        f"<{element}>{value}</{element}></Account></Response></Autodiscover>"
    ).encode()


IMAP = "<Type>IMAP</Type><Server>imap.example.test</Server><Port>993</Port><LoginName>jane</LoginName><SSL>on</SSL>"
SMTP = "<Type>SMTP</Type><Server>smtp.example.test</Server><Port>587</Port><SSL>on</SSL>"
POP3_PLAIN = "<Type>POP3</Type><Server>pop.example.test</Server><Port>110</Port><Encryption>None</Encryption>"
EWS = "<Type>EXCH</Type><EwsUrl>https://mail.example.test/EWS/Exchange.asmx</EwsUrl>"


@pytest.fixture
def dns(net: Network, start_dnsmasq: type[Dnsmasq]) -> Dnsmasq:
    """Every ``*.test`` name at 127.0.0.1; SRV records for the Autodiscover host of two domains."""
    port = net.https.port
    return start_dnsmasq(
        [
            "--address=/test/127.0.0.1",
            f"--srv-host=_autodiscover._tcp.fallback.test,ad.fallback.test,{port}",
            f"--srv-host=_autodiscover._tcp.hoster.test,ad.other.test,{port}",
            f"--srv-host=_autodiscover._tcp.hostile.test,127.0.0.1,{port}",
        ]
    )


@pytest.fixture
def registry(net: Network, dns: Dnsmasq) -> Registry:
    """A registry whose Autodiscover URLs carry the test server's port."""
    port = net.https.port
    return Registry(
        autodiscover=True,
        allow_private_networks=True,
        ssl_context=net.ssl_context,
        resolver=dns.resolver(),
        timeout=5.0,
        autodiscover_urls=(
            f"https://{{domain}}:{port}{PATH}",
            f"https://autodiscover.{{domain}}:{port}{PATH}",
        ),
    )


def lookup(registry: Registry, mode: str, address: str, **options: Any) -> LookupResult:
    if mode == "sync":
        return registry.lookup(address, **options)
    return asyncio.run(registry.alookup(address, **options))


def not_found(registry: Registry, address: str, **options: Any) -> str:
    with pytest.raises(ProviderNotFoundError) as caught:
        registry.lookup(address, **options)
    assert "Autodiscover" in caught.value.tried
    return str(caught.value)


def test_a_pox_answer_becomes_a_trusted_result(net: Network, registry: Registry, mode: str) -> None:
    net.https.route("example.test", PATH, reply(200, pox(IMAP, SMTP, POP3_PLAIN), "text/xml"))
    result = lookup(registry, mode, "jane@example.test")
    assert result.source is Source.AUTODISCOVER and result.trusted
    assert result.provider.name == "Example Corp"
    assert [(s.protocol.value, s.host, s.port, s.security.value, s.username) for s in result.servers] == [
        ("imap", "imap.example.test", 993, "ssl", "%EMAILLOCALPART%"),
        ("smtp", "smtp.example.test", 587, "starttls", "%EMAILADDRESS%"),
        ("pop3", "pop.example.test", 110, "plain", "%EMAILADDRESS%"),
    ]
    assert any("without encryption" in warning for warning in result.warnings)
    [seen] = net.https.seen
    headers = dict(seen.headers)
    assert seen.method == "POST" and seen.host == "example.test"
    assert headers["content-type"] == "text/xml; charset=utf-8"
    assert "authorization" not in headers and "cookie" not in headers
    assert b"<EMailAddress>jane@example.test</EMailAddress>" in seen.body
    assert RESPONSE_SCHEMA.encode() in seen.body


def test_the_urls_are_asked_in_order(net: Network, registry: Registry) -> None:
    net.https.route("autodiscover.example.test", PATH, reply(200, pox(IMAP, SMTP), "text/xml"))
    result = registry.lookup("jane@example.test")
    assert result.url is not None and "autodiscover.example.test" in result.url
    assert [s.host for s in net.https.seen] == ["example.test", "autodiscover.example.test"]


def test_the_srv_host_is_asked_last(net: Network, registry: Registry) -> None:
    net.https.route("ad.fallback.test", PATH, reply(200, pox(IMAP, SMTP), "text/xml"))
    result = registry.lookup("jane@fallback.test")
    assert result.trusted  # the SRV target lies inside the domain
    assert [s.host for s in net.https.seen] == [
        "fallback.test",
        "autodiscover.fallback.test",
        "ad.fallback.test",
    ]


def test_an_srv_host_outside_the_domain_is_untrusted(net: Network, registry: Registry) -> None:
    net.https.route("ad.other.test", PATH, reply(200, pox(IMAP, SMTP), "text/xml"))
    result = registry.lookup("jane@hoster.test")
    assert not result.trusted
    assert any("SRV record: ad.other.test, outside hoster.test" in w for w in result.warnings)


def test_an_srv_target_that_is_an_address_is_ignored(net: Network, registry: Registry) -> None:
    text = not_found(registry, "jane@hostile.test", allow_private_networks=False,
                     allowed_networks=("127.0.0.0/8",))
    assert all(seen.host != "127.0.0.1" for seen in net.https.seen)
    assert "Autodiscover" in text


def test_a_login_request_is_a_note_not_an_error(net: Network, registry: Registry) -> None:
    net.https.route("example.test", PATH, reply(401, b"", "text/plain", {"WWW-Authenticate": "Basic"}))
    net.https.route("autodiscover.example.test", PATH, reply(403, b"", "text/plain"))
    text = not_found(registry, "jane@example.test")
    assert "asks for a login (HTTP 401); no credentials are sent" in text
    assert "HTTP 403" in text


def test_an_exchange_only_answer_means_no_standard_protocols(net: Network, registry: Registry) -> None:
    net.https.route("example.test", PATH, reply(200, pox(EWS), "text/xml"))
    text = not_found(registry, "jane@example.test")
    assert "announces only Exchange protocols (EWS, ActiveSync), no IMAP, POP3 or SMTP" in text


def test_a_redirect_to_another_address_is_followed_and_untrusted(
    net: Network, registry: Registry
) -> None:
    net.https.route("example.test", PATH, reply(200, redirect_answer("RedirectAddr", "j.doe@other.test"), "text/xml"))
    net.https.route("other.test", PATH, reply(200, pox(IMAP, SMTP), "text/xml"))
    result = registry.lookup("jane@example.test")
    assert not result.trusted
    assert any("redirected by the answer to the address j.doe@other.test" in w for w in result.warnings)
    assert b"<EMailAddress>j.doe@other.test</EMailAddress>" in net.https.seen[-1].body
    assert result.domain == "example.test"


def test_a_redirect_url_within_the_domain_keeps_trust(net: Network, registry: Registry) -> None:
    target = net.https.url("mail.example.test", "/ad/pox.xml")
    net.https.route("example.test", PATH, reply(200, redirect_answer("RedirectUrl", target), "text/xml"))
    net.https.route("mail.example.test", "/ad/pox.xml", reply(200, pox(IMAP, SMTP), "text/xml"))
    result = registry.lookup("jane@example.test")
    assert result.trusted and result.url == target


def test_xml_redirects_to_http_and_without_end_are_refused(net: Network, registry: Registry) -> None:
    plain = net.http.url("example.test", PATH)
    net.https.route("example.test", PATH, reply(200, redirect_answer("RedirectUrl", plain), "text/xml"))
    assert "not HTTPS; refused" in not_found(registry, "jane@example.test")
    net.reset()
    loop = net.https.url("example.test", PATH)
    net.https.route("example.test", PATH, reply(200, redirect_answer("RedirectUrl", loop), "text/xml"))
    assert "more than 2 redirects" in not_found(registry, "jane@example.test")
    assert len(net.https.seen) == 3  # the first answer and two redirects, no more


@pytest.mark.parametrize(
    ("location", "reason"),
    [
        ("https://other.test:{port}/autodiscover/autodiscover.xml", "redirect to another domain refused"),
        ("http://example.test:{port}/autodiscover/autodiscover.xml", "redirect from HTTPS to plain HTTP refused"),
    ],
)
def test_http_redirects_leave_neither_site_nor_https(
    net: Network, registry: Registry, location: str, reason: str
) -> None:
    net.https.route("example.test", PATH, redirect(location.format(port=net.https.port), 307))
    net.https.route("other.test", PATH, reply(200, pox(IMAP, SMTP), "text/xml"))
    assert reason in not_found(registry, "jane@example.test")
    assert all(seen.host != "other.test" for seen in net.https.seen)


@pytest.mark.parametrize(
    ("handler", "reason"),
    [
        (huge(3 << 20, declare_length=False), "response too large"),
        (reply(200, b"<Autodiscover><Response>", "text/xml"), "not well-formed"),
        (
            reply(200, b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY e "x">]><Autodiscover/>', "text/xml"),
            "not well-formed or unsafe XML",
        ),
        (reply(200, b"<html>hello</html>", "text/html"), "unexpected content type"),
        (reply(200, b"<clientConfig/>", "text/xml"), "not an Autodiscover answer"),
    ],
)
def test_hostile_answers_are_skipped(
    net: Network, registry: Registry, handler: Any, reason: str
) -> None:
    net.https.route("example.test", PATH, handler)
    net.https.route("autodiscover.example.test", PATH, reply(200, pox(IMAP, SMTP), "text/xml"))
    result = registry.lookup("jane@example.test")  # the next URL answers
    assert result.source is Source.AUTODISCOVER
    net.reset()
    net.https.route("example.test", PATH, handler)
    assert reason in not_found(registry, "jane@example.test")


def test_private_addresses_are_refused_without_connecting(net: Network, registry: Registry) -> None:
    before = net.https.connections
    text = not_found(registry, "jane@example.test", allow_private_networks=False)
    assert "non-public address 127.0.0.1" in text
    assert net.https.connections == before


def test_a_silent_server_ends_within_the_budget(net: Network, registry: Registry) -> None:
    net.https.route("example.test", PATH, drip(pox(IMAP), 1.0, before_headers=30))
    started = time.monotonic()
    with pytest.raises(DiscoveryTimeoutError, match="budget"):
        registry.lookup("jane@example.test", timeout=1.0)
    assert time.monotonic() - started < 3 * 1.0 + 1


def test_a_bare_domain_is_not_asked(net: Network, registry: Registry) -> None:
    assert "needs an e-mail address" in not_found(registry, "example.test")
    assert net.https.seen == []


def test_autodiscover_is_off_by_default(net: Network, dns: Dnsmasq) -> None:
    net.https.route("example.test", PATH, reply(200, pox(IMAP, SMTP), "text/xml"))
    with pytest.raises(ProviderNotFoundError):
        mailsettings.Registry(resolver=dns.resolver()).lookup("jane@example.test")
    assert net.https.seen == []


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (pox("<Type>IMAP</Type><Server>h.example</Server><Port>143</Port>"), ("starttls", "%EMAILADDRESS%")),
        (pox("<Type>IMAP</Type><Server>h.example</Server><Port>10993</Port><SSL>on</SSL>"), ("ssl", "%EMAILADDRESS%")),
        (pox("<Type>IMAP</Type><Server>h.example</Server><Port>993</Port><SSL>off</SSL>"), ("plain", "%EMAILADDRESS%")),
        (pox("<Type>IMAP</Type><Server>h.example</Server><Port>993</Port><LoginName>DOM\\jane</LoginName>"), ("ssl", "DOM\\jane")),
        (pox("<Type>IMAP</Type><Server>h.example</Server><Port>993</Port><LoginName>JANE@example.org</LoginName>"), ("ssl", "%EMAILADDRESS%")),
    ],
)
def test_reading_security_and_login_names(body: bytes, expected: tuple[str, str]) -> None:
    [server] = read_pox(body, "jane@example.org").servers
    assert (server.security.value, server.username) == expected


def test_protocol_entries_are_capped() -> None:
    answer = read_pox(pox(*[IMAP.replace("993", str(1000 + n)) for n in range(100)]), "j@x.example")
    assert len(answer.servers) == 32
    assert "first 32 of 100" in answer.warnings[0]


@pytest.fixture(autouse=True)
def _no_getaddrinfo(no_getaddrinfo: list[object]) -> None:
    """Every name is resolved through the library's DNS module."""


@pytest.mark.parametrize("encoding", ["unicode-escape", "raw-unicode-escape", "hex", "base64"])
def test_an_answer_in_an_escape_codec_is_refused_like_an_autoconfig_file(encoding: str) -> None:
    body = pox("IMAP").replace(b'encoding="utf-8"', f'encoding="{encoding}"'.encode())
    assert f'encoding="{encoding}"'.encode() in body
    with pytest.raises(ValueError, match=f"declares '{encoding}', which is not a text encoding"):
        read_pox(body, "jane@example.test")
