"""HTTP that is safe to point at names users typed (mailsettings.net.http), against real loopback servers.

Every fetch resolves its names through :class:`mailsettings.net.dns.Dns` (dnsmasq on
loopback): ``socket.getaddrinfo`` is made to fail for the whole module, so a second
resolution path would show up as a failing test.
"""

from __future__ import annotations

import asyncio
import re
import socket
import subprocess
import sys
import time
from ipaddress import ip_address
from pathlib import Path
from typing import Any

import dns.asyncresolver
import dns.nameserver
import dns.resolver
import pytest
from dns_servers import Responder
from https_server import (
    LOOPBACK,
    Network,
    drip,
    huge,
    redirect,
    reply,
)

from mailsettings.cache import TTLCache
from mailsettings.errors import MailSettingsError
from mailsettings.net.budget import Budget
from mailsettings.net.dns import Dns
from mailsettings.net.http import (
    Fetched,
    Fetcher,
    FetchError,
    FetchPolicy,
    FetchRefusedError,
    FetchTimeoutError,
)
from mailsettings.net.policy import is_public_address, is_public_suffix, registrable_domain

pytestmark = pytest.mark.usefixtures("no_getaddrinfo")

PATH = "/mail/config-v1.1.xml"
DOC = b"<clientConfig/>"


def fetcher(
    net: Network,
    *,
    budget: float = 10.0,
    resolver: dns.resolver.BaseResolver | None = None,
    **policy: Any,
) -> Fetcher:
    """A fetcher with the test DNS, the test CA and (unless told otherwise) private networks allowed."""
    policy.setdefault("allow_private_networks", True)
    policy.setdefault("ssl_context", net.ssl_context)
    dns_ = Dns(
        resolver if resolver is not None else net.resolver(), TTLCache(), Budget.start(budget)
    )
    return Fetcher(dns_, FetchPolicy(**policy))


def get(net: Network, url: str, *, budget: float = 10.0, **policy: Any) -> Fetched:
    return asyncio.run(fetcher(net, budget=budget, **policy).fetch(url))


def refused(net: Network, url: str, **policy: Any) -> FetchError:
    with pytest.raises(FetchError) as caught:
        get(net, url, **policy)
    assert isinstance(caught.value, MailSettingsError)
    assert caught.value.reason == str(caught.value)
    return caught.value


# --- success ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["dns.resolver", "dns.asyncresolver"])
def test_fetch_connects_to_the_checked_address_with_the_real_name(net: Network, kind: str) -> None:
    net.https.route("autoconfig.example.test", PATH, reply(200, DOC))
    url = net.https.url("autoconfig.example.test", PATH + "?emailaddress=jane%40example.test")
    resolver = net.resolver() if kind == "dns.resolver" else net.async_resolver()
    fetched = asyncio.run(fetcher(net, resolver=resolver).fetch(url))
    assert fetched == Fetched(url, url, DOC, True, "application/xml")
    # The Host header carried the name (and the certificate was checked against it).
    [seen] = net.https.seen
    assert (seen.host, seen.path, seen.query) == (
        "autoconfig.example.test",
        PATH,
        "emailaddress=jane%40example.test",
    )


def test_ipv6_addresses_are_bracketed_and_tried_in_turn(net: Network) -> None:
    # v6.example.test has 127.0.0.1 (nothing listens on that port) and ::1 (the server).
    if net.https_v6 is None:
        pytest.skip("this machine has no IPv6 loopback (::1)")
    net.https_v6.route("v6.example.test", PATH, reply(200, DOC))
    fetched = get(net, net.https_v6.url("v6.example.test", PATH))
    assert fetched.body == DOC
    assert len(net.https_v6.seen) == 1


@pytest.mark.parametrize(
    "content_type",
    [
        "application/xml",
        "text/xml; charset=utf-8",
        "text/plain",
        "application/autoconfig+xml",
        None,
    ],
)
def test_lenient_content_types(net: Network, content_type: str | None) -> None:
    net.https.route("example.test", PATH, reply(200, DOC, content_type))
    assert get(net, net.https.url("example.test", PATH)).body == DOC


def test_without_a_resolver_names_resolve_through_dnspython_configured_from_the_system(
    net: Network, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_getaddrinfo: list[object]
) -> None:
    # resolver=None: a dnspython resolver read from a resolv.conf (here the test's, naming
    # the loopback dnsmasq), never getaddrinfo (which fails for this whole module).
    conf = tmp_path / "resolv.conf"
    conf.write_text(f"nameserver {LOOPBACK}\n")
    made: list[dns.resolver.Resolver] = []

    def from_system() -> dns.resolver.Resolver:
        resolver = dns.resolver.Resolver(filename=str(conf))
        resolver.port = net.dnsmasq.port
        made.append(resolver)
        return resolver

    monkeypatch.setattr("mailsettings.net.dns.system_resolver", from_system)
    net.http.route("example.test", PATH, reply(200, DOC))
    url = net.http.url("example.test", PATH)

    def fetch(**policy: Any) -> Fetched:
        dns_ = Dns(None, TTLCache(), Budget.start(10.0))
        return asyncio.run(Fetcher(dns_, FetchPolicy(**policy)).fetch(url))

    fetched = fetch(allow_http=True, allow_private_networks=True)
    assert (fetched.body, fetched.https) == (DOC, False)
    assert len(made) == 1
    with pytest.raises(
        FetchRefusedError, match=r"example\.test resolves to the non-public address"
    ):
        fetch(allow_http=True)
    assert no_getaddrinfo == []


# --- TLS ------------------------------------------------------------------------------


def test_untrusted_certificate(net: Network) -> None:
    net.https.route("untrusted.test", PATH, reply(200, DOC))
    error = refused(net, net.https.url("untrusted.test", PATH))
    assert "TLS certificate of untrusted.test not accepted" in error.reason
    assert net.https.seen == []


def test_certificate_for_another_name(net: Network) -> None:
    # wrong.test maps to 127.0.0.1, but the server's certificate does not name it.
    error = refused(net, net.https.url("wrong.test", PATH))
    assert "TLS certificate of wrong.test not accepted" in error.reason


def test_system_trust_store_is_the_default(net: Network) -> None:
    net.https.route("example.test", PATH, reply(200, DOC))
    with pytest.raises(FetchError, match="TLS certificate"):
        get(net, net.https.url("example.test", PATH), ssl_context=None)
    assert net.https.seen == []


# --- addresses ------------------------------------------------------------------------


def test_private_address_refused_without_connecting(net: Network) -> None:
    net.https.route("autoconfig.example.test", PATH, reply(200, DOC))
    error = refused(
        net, net.https.url("autoconfig.example.test", PATH), allow_private_networks=False
    )
    assert isinstance(error, FetchRefusedError)
    assert "non-public address 127.0.0.1" in error.reason
    assert net.https.connections == 0
    assert net.https.seen == []


@pytest.mark.parametrize("host", ["127.0.0.1", "[::1]", "[::ffff:127.0.0.1]", "0.0.0.0"])
def test_address_literals_refused_without_connecting(net: Network, host: str) -> None:
    url = f"http://{host}:{net.http.port}{PATH}"
    error = refused(net, url, allow_http=True, allow_private_networks=False)
    assert error.reason.startswith("the URL names the non-public address")
    assert net.http.connections == 0


def test_address_literal_allowed_for_private_networks(net: Network) -> None:
    net.http.route(LOOPBACK, PATH, reply(200, DOC))
    fetched = get(net, f"http://{LOOPBACK}:{net.http.port}{PATH}", allow_http=True)
    assert fetched.body == DOC


def test_allowed_networks_and_a_redirect_to_a_private_address(net: Network) -> None:
    # 127.0.0.1/32 is allowed; private.example.test (127.0.0.2) is not, even by redirect.
    target = net.https_other.url("private.example.test", PATH)
    net.https.route("example.test", "/start", redirect(target))
    net.https_other.route("private.example.test", PATH, reply(200, DOC))
    error = refused(
        net,
        net.https.url("example.test", "/start"),
        allow_private_networks=False,
        allowed_networks=("127.0.0.1/32",),
    )
    assert "non-public address 127.0.0.2" in error.reason
    assert len(net.https.seen) == 1
    assert net.https_other.connections == 0
    # With private networks allowed the same redirect is followed.
    assert get(net, net.https.url("example.test", "/start")).final_url == target


def test_unknown_name(net: Network) -> None:
    error = refused(net, net.https.url("nowhere.test", PATH))
    assert error.reason == "nowhere.test does not resolve"
    assert not error.temporary
    assert net.https.connections == 0


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("8.8.8.8", True),
        ("2606:4700:4700::1111", True),
        ("::ffff:8.8.8.8", True),
        ("127.0.0.1", False),
        ("127.8.9.10", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("100.64.0.1", False),
        ("100.127.255.254", False),
        ("169.254.169.254", False),
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("239.255.255.250", False),
        ("240.0.0.1", False),
        ("255.255.255.255", False),
        ("192.0.2.1", False),
        ("198.18.0.1", False),
        ("::", False),
        ("::1", False),
        ("::127.0.0.1", False),
        ("fe80::1", False),
        ("fe80::1%1", False),
        ("fc00::1", False),
        ("fd12:3456::1", False),
        ("fec0::1", False),
        ("ff02::1", False),
        ("ff0e::1", False),
        ("2001:db8::1", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:10.0.0.1", False),
        ("::ffff:169.254.169.254", False),
        ("2002:7f00:1::", False),  # 6to4 of 127.0.0.1
        ("2002:a00:1::", False),  # 6to4 of 10.0.0.1
        ("64:ff9b::a00:1", False),  # NAT64 of 10.0.0.1
        ("64:ff9b:1::1", False),
        ("2001::1", False),  # Teredo
    ],
)
def test_public_addresses(address: str, public: bool) -> None:
    assert is_public_address(ip_address(address)) is public


def test_registrable_domains() -> None:
    assert registrable_domain("autoconfig.example.test") == "example.test"
    assert registrable_domain("a.b.example.co.uk") == "example.co.uk"
    assert registrable_domain("a.github.io") != registrable_domain("b.github.io")
    assert registrable_domain("127.0.0.1") == "127.0.0.1"
    assert is_public_suffix("co.uk")
    assert is_public_suffix("test")
    assert not is_public_suffix("example.test")


# --- redirects ------------------------------------------------------------------------


def test_redirect_within_the_registrable_domain(net: Network) -> None:
    final = net.https.url("example.test", "/real.xml")
    net.https.route("autoconfig.example.test", PATH, redirect(final, 301))
    net.https.route("example.test", "/real.xml", reply(200, DOC))
    start = net.https.url("autoconfig.example.test", PATH)
    fetched = get(net, start)
    assert (fetched.url, fetched.final_url, fetched.body) == (start, final, DOC)


def test_relative_redirect(net: Network) -> None:
    net.https.route("example.test", PATH, redirect("/moved.xml", 308))
    net.https.route("example.test", "/moved.xml", reply(200, DOC))
    fetched = get(net, net.https.url("example.test", PATH))
    assert fetched.final_url == net.https.url("example.test", "/moved.xml")


def test_redirect_to_another_domain_refused(net: Network) -> None:
    net.https.route("autoconfig.example.test", PATH, redirect(net.https.url("other.test", PATH)))
    net.https.route("other.test", PATH, reply(200, DOC))
    error = refused(net, net.https.url("autoconfig.example.test", PATH))
    assert error.reason == "redirect to another domain refused (other.test, not example.test)"
    assert [s.host for s in net.https.seen] == ["autoconfig.example.test"]


def test_redirect_to_http_refused_even_when_http_is_allowed(net: Network) -> None:
    net.https.route("example.test", PATH, redirect(net.http.url("example.test", PATH)))
    net.http.route("example.test", PATH, reply(200, DOC))
    error = refused(net, net.https.url("example.test", PATH), allow_http=True)
    assert error.reason.startswith("redirect from HTTPS to plain HTTP refused")
    assert net.http.connections == 0


def test_redirect_limit(net: Network) -> None:
    for hop in range(5):
        net.https.route("example.test", f"/{hop}", redirect(f"/{hop + 1}"))
    net.https.route("example.test", "/5", reply(200, DOC))
    error = refused(net, net.https.url("example.test", "/0"))
    assert error.reason == "too many redirects (more than 3)"
    assert len(net.https.seen) == 4
    assert get(net, net.https.url("example.test", "/0"), max_redirects=5).body == DOC
    assert (
        "more than 0" in refused(net, net.https.url("example.test", "/4"), max_redirects=0).reason
    )


def test_redirect_to_a_malformed_host_name_refused(net: Network) -> None:
    net.https.route("example.test", PATH, redirect("https://a..b.example.test/x"))
    error = refused(net, net.https.url("example.test", PATH))
    assert isinstance(error, FetchRefusedError) and not error.temporary
    assert "'a..b.example.test' is not a valid host name" in error.reason


def test_redirect_to_another_scheme_refused(net: Network) -> None:
    net.https.route("example.test", PATH, redirect("file:///etc/passwd"))
    error = refused(net, net.https.url("example.test", PATH))
    assert "only http(s) URLs" in error.reason


# --- schemes and URLs -------------------------------------------------------------------


def test_plain_http_refused_by_default(net: Network) -> None:
    net.http.route("example.test", PATH, reply(200, DOC))
    error = refused(net, net.http.url("example.test", PATH))
    assert error.reason == "plain HTTP is not allowed (HTTPS only)"
    assert net.http.connections == 0
    fetched = get(net, net.http.url("example.test", PATH), allow_http=True)
    assert (fetched.body, fetched.https) == (DOC, False)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://example.test/x", "only http(s) URLs"),
        ("https://user:secret@example.test/x", "credentials"),
        ("https:///x", "with a host"),
        ("https://example.test:99999/x", "malformed URL"),
        ("https://exa mple.test/x", "white space"),
        ("https://a..b/x", "'a..b' is not a valid host name"),
        ("https://[fe80::1%25eth0]/x", "non-public address"),
    ],
)
def test_malformed_urls_are_refused_before_any_query(
    net: Network, responder: Responder, url: str, reason: str
) -> None:
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [dns.nameserver.Do53Nameserver(LOOPBACK, responder.port)]
    with pytest.raises(FetchRefusedError, match=re.escape(reason)):
        asyncio.run(fetcher(net, resolver=resolver, allow_private_networks=False).fetch(url))
    assert responder.total == 0


# --- responses ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "temporary"), [(404, False), (403, False), (500, True), (503, True), (204, False)]
)
def test_only_status_200_is_accepted(net: Network, status: int, temporary: bool) -> None:
    net.https.route("example.test", PATH, reply(status, DOC))
    error = refused(net, net.https.url("example.test", PATH))
    assert (error.reason, error.status, error.temporary) == (
        f"HTTP status {status}",
        status,
        temporary,
    )


def test_wrong_content_type(net: Network) -> None:
    net.https.route("example.test", PATH, reply(200, b"<html></html>", "text/html"))
    error = refused(net, net.https.url("example.test", PATH))
    assert isinstance(error, FetchRefusedError)
    assert error.reason == "unexpected content type 'text/html'"


def test_content_types_are_chosen_by_the_caller(net: Network) -> None:
    net.https.route("example.test", PATH, reply(200, b"{}", "application/json"))
    url = net.https.url("example.test", PATH)
    assert "unexpected content type 'application/json'" in refused(net, url).reason
    chosen = frozenset({"application/json"})
    fetched = asyncio.run(fetcher(net).fetch(url, content_types=chosen))
    assert (fetched.body, fetched.content_type) == (b"{}", "application/json")


def test_compressed_response_refused(net: Network) -> None:
    net.https.route(
        "example.test", PATH, reply(200, b"\x1f\x8b", headers={"Content-Encoding": "gzip"})
    )
    error = refused(net, net.https.url("example.test", PATH))
    assert "compressed responses are refused" in error.reason


def test_redirect_without_location(net: Network) -> None:
    net.https.route("example.test", PATH, reply(302, b""))
    error = refused(net, net.https.url("example.test", PATH))
    assert (error.reason, error.status) == ("HTTP status 302 without a Location", 302)


# --- limits ---------------------------------------------------------------------------

FIFTY_MB = 50 * 1024 * 1024


def test_declared_oversize_body_refused_before_reading(net: Network) -> None:
    net.https.route("example.test", PATH, huge(FIFTY_MB, declare_length=True))
    error = refused(net, net.https.url("example.test", PATH))
    assert error.reason == f"response too large ({FIFTY_MB} bytes; the limit is 1048576)"
    time.sleep(0.2)
    assert net.https.sent.get("huge", 0) < FIFTY_MB // 2


def test_undeclared_oversize_body_stops_at_the_cap(net: Network) -> None:
    net.https.route("example.test", PATH, huge(FIFTY_MB, declare_length=False))
    error = refused(net, net.https.url("example.test", PATH))
    assert error.reason == "response too large (more than 1048576 bytes)"
    time.sleep(0.2)
    assert net.https.sent.get("huge", 0) < FIFTY_MB // 2


def test_redirect_bodies_are_capped_too(net: Network) -> None:
    def oversized_redirect(request: Any) -> None:
        request.head(302, "text/plain", {"Location": "/next"})
        chunk = b"x" * 65536
        try:
            for _ in range(FIFTY_MB // len(chunk)):
                if request.stopping():
                    return
                request.wfile.write(chunk)
        except OSError:
            pass

    net.https.route("example.test", PATH, oversized_redirect)
    net.https.route("example.test", "/next", reply(200, DOC))
    error = refused(net, net.https.url("example.test", PATH))
    assert error.reason == "response too large (more than 1048576 bytes)"
    assert [seen.path for seen in net.https.seen] == [PATH]


def test_size_cap_is_configurable(net: Network) -> None:
    net.https.route("example.test", PATH, reply(200, b"x" * 100))
    assert len(get(net, net.https.url("example.test", PATH), max_bytes=100).body) == 100
    assert "too large" in refused(net, net.https.url("example.test", PATH), max_bytes=99).reason


@pytest.mark.parametrize("budget", [0.3, 0.5])
def test_drip_server_cannot_stretch_the_timeout(net: Network, budget: float) -> None:
    net.https.route("example.test", PATH, drip(DOC * 10, interval=0.1))
    started = time.monotonic()
    with pytest.raises(FetchTimeoutError) as caught:
        get(net, net.https.url("example.test", PATH), timeout=budget)
    elapsed = time.monotonic() - started
    assert budget * 0.9 <= elapsed < 3 * budget + 1.0
    assert caught.value.temporary
    assert "timed out" in caught.value.reason


def test_one_byte_a_second_against_the_lookups_budget(net: Network) -> None:
    net.https.route("example.test", PATH, drip(DOC, interval=1.0))
    started = time.monotonic()
    with pytest.raises(FetchTimeoutError):
        get(net, net.https.url("example.test", PATH), budget=0.4)
    assert time.monotonic() - started < 3 * 0.4 + 1.0


def test_silent_server_before_headers(net: Network) -> None:
    net.https.route("example.test", PATH, drip(DOC, before_headers=5.0))
    started = time.monotonic()
    with pytest.raises(FetchTimeoutError):
        get(net, net.https.url("example.test", PATH), timeout=0.4)
    assert time.monotonic() - started < 3 * 0.4 + 1.0


def test_budget_already_spent(net: Network) -> None:
    spent = Fetcher(
        Dns(net.resolver(), TTLCache(), Budget(1.0, time.monotonic() - 1)),
        FetchPolicy(allow_private_networks=True, ssl_context=net.ssl_context),
    )
    with pytest.raises(FetchTimeoutError):
        asyncio.run(spent.fetch(net.https.url("example.test", PATH)))
    assert net.https.connections == 0


def test_policy_is_validated() -> None:
    with pytest.raises(ValueError, match="timeout"):
        FetchPolicy(timeout=0)
    with pytest.raises(ValueError, match="max_bytes"):
        FetchPolicy(max_bytes=0)
    with pytest.raises(ValueError, match="does not appear to be"):
        FetchPolicy(allowed_networks=("not a network",))


def test_httpx_is_imported_only_by_the_live_sources() -> None:
    code = (
        "import sys, mailsettings\n"
        "from mailsettings.address import parse_address\n"
        "from mailsettings.option import defaults, option_specs\n"
        "from mailsettings.sources import SOURCES\n"
        "from mailsettings.sources.autoconfig import ISPDB_MX, AutoconfigOptions, mx_domains\n"
        "mailsettings.lookup('a@qq.com')\n"
        "mailsettings.Registry(autoconfig=True).lookup('a@qq.com')\n"
        "settings = defaults(option_specs(AutoconfigOptions))\n"
        "address = parse_address('a@example.org')\n"
        "urls = [u for s in (*SOURCES[:3], ISPDB_MX) for u in s.urls(address, settings, 'mx.h.net')]\n"
        "assert len(urls) == 4, urls\n"
        "assert mx_domains('example.org', 'mx.mail.example.net') == ('mail.example.net', 'example.net')\n"
        "assert 'httpx' not in sys.modules and 'httpcore' not in sys.modules, 'imported'\n"
        "import mailsettings.net.http\n"
        "assert 'httpx' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("kind", ["dns.resolver", "dns.asyncresolver"])
def test_silent_dns_server(net: Network, kind: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind((LOOPBACK, 0))
        server = dns.nameserver.Do53Nameserver(LOOPBACK, silent.getsockname()[1])
        # A short per-try timeout: many rounds, with dnspython's back-off between them.
        resolver: dns.resolver.BaseResolver = (
            dns.resolver.Resolver(configure=False)
            if kind == "dns.resolver"
            else dns.asyncresolver.Resolver(configure=False)
        )
        resolver.nameservers = [server]
        resolver.timeout = 0.1
        url = "https://autoconfig.example.test/x"
        started = time.monotonic()
        with pytest.raises(FetchTimeoutError) as caught:
            asyncio.run(fetcher(net, resolver=resolver, timeout=0.4).fetch(url))
        assert time.monotonic() - started < 3 * 0.4 + 1.0
        assert caught.value.reason == "timed out resolving autoconfig.example.test"
        assert caught.value.temporary


def test_a_plain_http_hop_makes_the_fetch_plain(net: Network) -> None:
    net.http.route("example.test", PATH, redirect(net.https.url("example.test", PATH)))
    net.https.route("example.test", PATH, reply(200, DOC))
    fetched = get(net, net.http.url("example.test", PATH), allow_http=True)
    assert fetched.final_url == net.https.url("example.test", PATH)
    assert (fetched.body, fetched.https) == (DOC, False)


def test_proxy_settings_from_the_environment_are_ignored(
    net: Network, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A proxy would be what gets checked and pinned: the fetch goes to the server itself.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as proxy:
        proxy.bind((LOOPBACK, 0))
        proxy.listen()
        proxy.setblocking(False)
        address = f"http://{LOOPBACK}:{proxy.getsockname()[1]}"
        for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY"):
            monkeypatch.setenv(name, address)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        net.https.route("example.test", PATH, reply(200, DOC))
        assert get(net, net.https.url("example.test", PATH)).body == DOC
        with pytest.raises(BlockingIOError):
            proxy.accept()
