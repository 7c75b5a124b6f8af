"""The live autoconfig sources (mailsettings.sources.autoconfig) against real loopback servers.

Most tests look addresses up through the public API, once with :meth:`Registry.lookup`
and once with :meth:`Registry.alookup` (the ``mode`` fixture); what a lookup cannot show
(a source's notes, a single source's outcome) is checked through the source interface
with a :class:`~mailsettings.sources.base.Context`. ``socket.getaddrinfo`` fails for the
whole module: every name resolves through the library's DNS module.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dns.resolver
import pytest
from conftest import server
from https_server import (
    AUTOCONFIG_PATH,
    BILLION_LAUGHS,
    EXTERNAL_ENTITY,
    LOOPBACK,
    MALFORMED,
    WELL_KNOWN_PATH,
    Network,
    config_xml,
    drip,
    huge,
    redirect,
    reply,
    require_ispdb,
)

from mailsettings import Registry
from mailsettings.address import Address, parse_address
from mailsettings.autoconfig import parse_autoconfig
from mailsettings.cache import TTLCache
from mailsettings.errors import (
    AutoconfigError,
    DiscoveryError,
    DiscoveryTimeoutError,
    MailSettingsError,
    ProviderNotFoundError,
)
from mailsettings.models import BRIDGE_HOST, LookupResult, OAuth2, Provider, Source
from mailsettings.net.budget import Budget
from mailsettings.net.http import Fetcher
from mailsettings.net.policy import ip_literal
from mailsettings.option import checked, defaults, option_specs
from mailsettings.options import LookupOptions
from mailsettings.sources import SOURCES as ALL_SOURCES
from mailsettings.sources.autoconfig import (
    ISPDB_MX,
    SOURCES,
    AutoconfigOptions,
    AutoconfigSource,
    mx_domains,
)
from mailsettings.sources.base import Context
from mailsettings.store import ProviderStore

pytestmark = pytest.mark.usefixtures("no_getaddrinfo")

AUTOCONFIG, WELL_KNOWN, ISPDB = SOURCES


def lookup(
    net: Network, mode: str, address: str, *, registry: Registry | None = None, **extra: Any
) -> LookupResult:
    """``address`` looked up with ``Network.autoconfig_options``, sync or async by ``mode``."""
    registry = registry if registry is not None else Registry()
    if mode == "sync":
        return registry.lookup(address, **net.autoconfig_options(**extra))
    extra.setdefault("resolver", net.async_resolver())
    return asyncio.run(registry.alookup(address, **net.autoconfig_options(**extra)))


def not_found(net: Network, mode: str, address: str, **extra: Any) -> str:
    """The "not found" message of a lookup that finds nothing (it lists skipped URLs)."""
    with pytest.raises(ProviderNotFoundError) as caught:
        lookup(net, mode, address, **extra)
    return str(caught.value)


def hosts_seen(net: Network) -> list[str]:
    return [seen.host for seen in net.https.seen]


def context(
    net: Network, address: str | Address, *, budget: float = 5.0, **extra: Any
) -> Context[Any]:
    """A lookup's context for running sources directly (the engine makes the same)."""
    specs = option_specs(LookupOptions)
    settings = {**defaults(specs), **checked(specs, net.autoconfig_options(**extra))}
    parsed = parse_address(address) if isinstance(address, str) else address
    return Context(parsed, Budget.start(budget), settings, ProviderStore(), TTLCache(64))


def tighten(fetcher: Fetcher, **policy: Any) -> None:
    """Change fields of a fetcher's policy that no lookup option sets (timeout, networks)."""
    fetcher.policy = dataclasses.replace(fetcher.policy, **policy)


FetchPolicyChange = Callable[..., None]


@pytest.fixture
def fetch_policy(monkeypatch: pytest.MonkeyPatch) -> FetchPolicyChange:
    """Change, for every lookup of the test, fields of the fetch policy no option sets.

    The per-request ``timeout`` (so a slow source can be skipped within the budget) and
    ``allowed_networks``; everything else is built by the library as usual.
    """
    build = vars(Context)["http"].func

    def change(**policy: Any) -> None:
        def http(self: Context[Any]) -> Fetcher:
            fetcher: Fetcher = build(self)
            tighten(fetcher, **policy)
            return fetcher

        prop = functools.cached_property(http)
        prop.__set_name__(Context, "http")
        monkeypatch.setattr(Context, "http", prop)

    return change


# --- sources and URLs (offline) ---------------------------------------------------------


def settings_with(**options: Any) -> dict[str, Any]:
    specs = option_specs(AutoconfigOptions)
    return {**defaults(specs), "autoconfig": True, **checked(specs, options)}


def test_source_order_and_templates() -> None:
    assert [s.name for s in ALL_SOURCES[:3]] == ["autoconfig", "well-known", "ispdb"]
    assert ALL_SOURCES[4] is ISPDB_MX  # after MX
    assert [s.kind for s in SOURCES] == [Source.AUTOCONFIG, Source.WELL_KNOWN, Source.ISPDB]
    assert [s.label for s in SOURCES] == ["provider autoconfig", "well-known autoconfig", "ISPDB"]
    address = parse_address("Jane.Doe+tag@Bücher.example")
    settings = settings_with()
    assert [url for s in SOURCES for url in s.urls(address, settings)] == [
        "https://autoconfig.xn--bcher-kva.example/mail/config-v1.1.xml"
        "?emailaddress=Jane.Doe%2Btag%40xn--bcher-kva.example",
        "https://xn--bcher-kva.example/.well-known/autoconfig/mail/config-v1.1.xml",
        "https://autoconfig.thunderbird.net/v1.1/xn--bcher-kva.example",
    ]


def test_urls_for_a_bare_domain_and_a_selection() -> None:
    settings = settings_with(
        autoconfig_sources=("ispdb", "autoconfig"), ispdb_url="https://db.example/{domain}.xml"
    )
    assert settings["autoconfig_sources"] == ("autoconfig", "ispdb")  # the order is fixed
    address = parse_address("example.org")
    assert [url for s in SOURCES if s.enabled(settings) for url in s.urls(address, settings)] == [
        "https://autoconfig.example.org/mail/config-v1.1.xml?emailaddress=",
        "https://db.example/example.org.xml",
    ]
    assert [s.name for s in SOURCES if s.enabled(settings)] == ["autoconfig", "ispdb"]
    assert not ISPDB_MX.enabled(settings)
    assert not any(s.enabled({**settings, "autoconfig": False}) for s in (*SOURCES, ISPDB_MX))


@pytest.mark.parametrize(
    ("domain", "mx_host", "expected"),
    [
        ("example.org", "mx1.mail.hoster.net", ("mail.hoster.net", "hoster.net")),
        ("example.org", "mx.hoster.net.", ("hoster.net",)),
        ("example.org", "aspmx.l.google.com", ("l.google.com", "google.com")),
        ("example.org", "mx.example.org", ()),
        ("example.org", "mx1.example.org", ()),
        ("example.org", "mx.sub.example.org", ("sub.example.org",)),
        ("example.co.uk", "mx.hoster.co.uk", ("hoster.co.uk",)),
        ("example.org", "mx.co.uk", ("mx.co.uk",)),  # "co.uk" is a public suffix
        ("example.org", "localhost", ()),
    ],
)
def test_mx_derived_domains(domain: str, mx_host: str, expected: tuple[str, ...]) -> None:
    assert mx_domains(domain, mx_host) == expected


def test_ispdb_by_mx_host_urls() -> None:
    address = parse_address("someone@customer.example")
    settings = settings_with()
    assert ISPDB_MX.urls(address, settings, "MX1.Mail.Hoster.Example.") == (
        "https://autoconfig.thunderbird.net/v1.1/mail.hoster.example",
        "https://autoconfig.thunderbird.net/v1.1/hoster.example",
    )
    assert ISPDB_MX.urls(address, settings) == ()  # no MX host known
    assert (ISPDB_MX.name, ISPDB_MX.label, ISPDB_MX.kind) == (
        "ispdb-mx",
        "ISPDB by MX host",
        Source.ISPDB,
    )
    assert ISPDB_MX.enabled(settings)
    assert not ISPDB_MX.enabled(settings_with(autoconfig_sources=("ispdb",)))


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"autoconfig_sources": ("autoconfig", "ldap")}, ValueError, "unknown autoconfig source"),
        ({"autoconfig_sources": "ispdb"}, TypeError, "tuple of source names"),
        ({"autoconfig_url": "https://{domain}/{user}"}, ValueError, "unknown placeholder"),
        ({"well_known_url": "https://{domain}/?{address}"}, ValueError, "unknown placeholder"),
        ({"ispdb_url": "ftp://ispdb.example/"}, ValueError, "http:// or https://"),
        ({"ispdb_url": "https://x/{domain"}, ValueError, "malformed template"),
        ({"ispdb_url": 42}, TypeError, "must be a str"),
        ({"timeout": 0}, ValueError, "positive"),
        ({"allow_http": "yes"}, TypeError, "True or False"),
    ],
)
def test_options_are_validated(
    options: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        Registry(**options)
    with pytest.raises(error, match=message):
        Registry().lookup("jane@example.test", autoconfig=True, **options)


# --- results and trust ------------------------------------------------------------------


def test_provider_autoconfig_from_the_domain_is_trusted(net: Network, mode: str) -> None:
    net.https.route(
        "autoconfig.example.test", AUTOCONFIG_PATH, reply(200, config_xml("example.test"))
    )
    result = lookup(net, mode, "jane@example.test")
    assert (result.source, result.trusted, result.domain) == (
        Source.AUTOCONFIG,
        True,
        "example.test",
    )
    assert result.url == net.https.url(
        "autoconfig.example.test", AUTOCONFIG_PATH + "?emailaddress=jane%40example.test"
    )
    assert result.imap is not None and result.imap.host == "imap.example.test"
    assert result.warnings == ()
    assert hosts_seen(net) == ["autoconfig.example.test"]  # nothing was skipped first
    assert net.https.seen[0].query == "emailaddress=jane%40example.test"


def test_well_known_after_a_missing_provider_file(net: Network, mode: str) -> None:
    net.https.route("example.test", WELL_KNOWN_PATH, reply(200, config_xml("example.test")))
    result = lookup(net, mode, "jane@example.test")
    assert (result.source, result.trusted) == (Source.WELL_KNOWN, True)
    assert hosts_seen(net) == ["autoconfig.example.test", "example.test"]
    # What a skipped source says, in the "not found" message.
    message = not_found(net, mode, "jane@example.test", autoconfig_sources=("autoconfig",))
    skipped = (
        "provider autoconfig "
        + net.https.url("autoconfig.example.test", AUTOCONFIG_PATH)
        + "?emailaddress=jane%40example.test skipped: HTTP status 404"
    )
    assert message == f"No provider is known for 'example.test': {skipped}."


def test_file_from_outside_the_domain_is_untrusted(net: Network, mode: str) -> None:
    # mail.example.test's well-known file redirects to example.test: same registrable
    # domain (followed), but not the queried domain itself.
    final = net.https.url("example.test", "/shared-config.xml")
    net.https.route("mail.example.test", WELL_KNOWN_PATH, redirect(final))
    net.https.route("example.test", "/shared-config.xml", reply(200, config_xml("example.test")))
    result = lookup(net, mode, "jane@mail.example.test")
    assert (result.source, result.trusted, result.url) == (Source.WELL_KNOWN, False, final)
    assert "Read from example.test, not from mail.example.test itself" in result.warnings[0]


def test_ispdb_over_https_is_trusted_and_the_result_is_for_the_queried_domain(
    net: Network, mode: str
) -> None:
    document = config_xml("hoster.test", imap_host="imap.%EMAILDOMAIN%")
    net.https.route("ispdb.test", "/v1.1/fallback.test", reply(200, document))
    result = lookup(net, mode, "jane@fallback.test")
    assert (result.source, result.trusted) == (Source.ISPDB, True)
    assert (result.domain, result.domain_ascii) == ("fallback.test", "fallback.test")
    assert result.provider.domains == ("hoster.test",)
    assert result.imap is not None and result.imap.host == "imap.fallback.test"
    assert hosts_seen(net) == ["autoconfig.fallback.test", "fallback.test", "ispdb.test"]


def test_plain_http_results_are_untrusted(net: Network, mode: str) -> None:
    port = net.http.port
    net.http.route("ispdb.test", "/v1.1/example.test", reply(200, config_xml("example.test")))
    ispdb_url = f"http://ispdb.test:{port}/v1.1/"
    result = lookup(
        net,
        mode,
        "jane@example.test",
        autoconfig_sources=("ispdb",),
        ispdb_url=ispdb_url,
        allow_http=True,
    )
    assert (result.source, result.trusted, result.url) == (
        Source.ISPDB,
        False,
        f"{ispdb_url}example.test",
    )
    assert any("plain HTTP" in w for w in result.warnings)
    # Without allow_http the same source is skipped before any connection.
    net.http.reset()
    message = not_found(
        net, mode, "jane@example.test", autoconfig_sources=("ispdb",), ispdb_url=ispdb_url
    )
    assert f"ISPDB {ispdb_url}example.test skipped: plain HTTP is not allowed (HTTPS only)" in (
        message
    )
    assert net.http.connections == 0


def test_mx_derived_ispdb(net: Network, mode: str) -> None:
    # customer.test's MX host is mx1.mail.hoster.test: the ISPDB is asked for
    # mail.hoster.test (missing), then hoster.test.
    document = config_xml("hoster.test", imap_host="imap.hoster.test")
    net.https.route("ispdb.test", "/v1.1/hoster.test", reply(200, document))
    result = lookup(net, mode, "jane@customer.test")
    assert [seen.path for seen in net.https.seen if seen.host == "ispdb.test"] == [
        "/v1.1/customer.test",
        "/v1.1/mail.hoster.test",
        "/v1.1/hoster.test",
    ]
    assert (result.source, result.mx_host, result.domain) == (
        Source.ISPDB,
        "mx1.mail.hoster.test",
        "customer.test",
    )
    assert result.url == net.https.url("ispdb.test", "/v1.1/hoster.test")
    assert result.trusted is False
    assert any("MX host mx1.mail.hoster.test" in w for w in result.warnings)


OAUTH2 = """<oAuth2><issuer>{issuer}</issuer><scope>mail</scope>
<authURL>https://{issuer}/auth</authURL><tokenURL>https://{issuer}/token</tokenURL></oAuth2>"""


def test_oauth2_from_a_live_source_needs_a_known_issuer(net: Network, mode: str) -> None:
    known = OAuth2(
        issuer="login.example.test",
        authorization_url="https://login.example.test/reviewed-auth",
        token_url="https://login.example.test/reviewed-token",
        scopes=("mail",),
    )
    reviewed = Provider(
        id="reviewed-test",
        name="Reviewed",
        domains=("reviewed.test",),
        servers=(server("imap", "imap.reviewed.test", 993, "ssl"),),
        oauth2=known,
    )
    registry = Registry([reviewed])  # the store knows the issuer through this provider
    unknown_doc = config_xml("example.test", extra=OAUTH2.format(issuer="evil.test"))
    net.https.route("autoconfig.example.test", AUTOCONFIG_PATH, reply(200, unknown_doc))
    result = lookup(net, mode, "jane@example.test", registry=registry)
    assert result.provider.oauth2 is None
    assert any("Dropped the OAuth2 settings (issuer evil.test)" in w for w in result.warnings)

    known_doc = config_xml("example.test", extra=OAUTH2.format(issuer="login.example.test"))
    net.https.route("autoconfig.example.test", AUTOCONFIG_PATH, reply(200, known_doc))
    result = lookup(net, mode, "jane@example.test", registry=registry)
    assert result.provider.oauth2 == known
    assert any("Used the bundled OAuth2 settings" in w for w in result.warnings)

    # A registry without that provider does not know the issuer.
    assert lookup(net, mode, "jane@example.test").provider.oauth2 is None


def test_servers_on_the_local_host_are_dropped(
    net: Network, mode: str, fetch_policy: FetchPolicyChange
) -> None:
    # Only loopback is reachable here: allowed as a network, while the lookup keeps
    # allow_private_networks off (which would also allow such servers in answers).
    fetch_policy(allowed_networks=("127.0.0.0/8",))
    document = config_xml("example.test", imap_host=BRIDGE_HOST)
    net.https.route("autoconfig.example.test", AUTOCONFIG_PATH, reply(200, document))
    result = lookup(net, mode, "jane@example.test", allow_private_networks=False)
    assert result.imap is None and result.smtp is not None
    assert any("Ignored servers at an IP address or a local name" in w for w in result.warnings)
    # A document naming nothing else is skipped.
    only_local = config_xml("example.test", imap_host=BRIDGE_HOST).replace(
        b"smtp.example.test", b"localhost"
    )
    net.https.route("autoconfig.example.test", AUTOCONFIG_PATH, reply(200, only_local))
    message = not_found(
        net,
        mode,
        "jane@example.test",
        allow_private_networks=False,
        autoconfig_sources=("autoconfig",),
    )
    assert "skipped: the document names only servers at an IP address or a local name" in message
    # allow_private_networks allows them (the setting for tests and intranets).
    net.https.route("autoconfig.example.test", AUTOCONFIG_PATH, reply(200, document))
    result = lookup(net, mode, "jane@example.test")
    assert result.imap is not None and result.imap.host == BRIDGE_HOST


# --- hostile servers: each ends in a skipped source, and the next source answers --------

FIFTY_MB = 50 * 1024 * 1024


def _route(path: str, handler: Callable[..., None]) -> Callable[[Network], None]:
    def setup(net: Network) -> None:
        net.https.route("autoconfig.hostile.test", path, handler)

    return setup


def _redirect_to(target: Callable[[Network], str]) -> Callable[[Network], None]:
    def setup(net: Network) -> None:
        net.https.route("autoconfig.hostile.test", AUTOCONFIG_PATH, redirect(target(net)))

    return setup


HOSTILE: dict[str, tuple[Callable[[Network], None], str, bool]] = {
    "entity bomb": (
        _route(AUTOCONFIG_PATH, reply(200, BILLION_LAUGHS)),
        "not a usable autoconfig document",
        False,
    ),
    "external entity": (
        _route(AUTOCONFIG_PATH, reply(200, EXTERNAL_ENTITY)),
        "not a usable autoconfig document",
        False,
    ),
    "malformed XML": (
        _route(AUTOCONFIG_PATH, reply(200, MALFORMED)),
        "not a usable autoconfig document",
        False,
    ),
    "50 MB body": (
        _route(AUTOCONFIG_PATH, huge(FIFTY_MB, declare_length=False)),
        "response too large",
        False,
    ),
    "50 MB declared": (
        _route(AUTOCONFIG_PATH, huge(FIFTY_MB, declare_length=True)),
        "response too large",
        False,
    ),
    "drip": (_route(AUTOCONFIG_PATH, drip(b"<clientConfig/>", 1.0)), "timed out", True),
    "404": (_route(AUTOCONFIG_PATH, reply(404, b"")), "HTTP status 404", False),
    "500": (_route(AUTOCONFIG_PATH, reply(500, b"")), "HTTP status 500", True),
    "text/html": (
        _route(AUTOCONFIG_PATH, reply(200, config_xml("hostile.test"), "text/html")),
        "unexpected content type 'text/html'",
        False,
    ),
    "redirect to another domain": (
        _redirect_to(lambda net: net.https.url("other.test", "/x.xml")),
        "redirect to another domain refused",
        False,
    ),
    "redirect to HTTP": (
        _redirect_to(lambda net: net.http.url("hostile.test", "/x.xml")),
        "redirect from HTTPS to plain HTTP refused",
        False,
    ),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_provider_file_is_skipped_and_the_ispdb_answers(
    net: Network, mode: str, fetch_policy: FetchPolicyChange, case: str
) -> None:
    setup, reason, temporary = HOSTILE[case]
    setup(net)
    net.https.route("ispdb.test", "/v1.1/hostile.test", reply(200, config_xml("hostile.test")))
    budget = 0.5  # for each request; the lookup's budget is 5 s
    fetch_policy(timeout=budget)
    started = time.monotonic()
    result = lookup(net, mode, "jane@hostile.test", allow_http=True)
    elapsed = time.monotonic() - started
    assert result.source is Source.ISPDB
    # The provider file was asked, then the well-known file (404), then the ISPDB.
    assert hosts_seen(net)[-2:] == ["hostile.test", "ispdb.test"]
    assert hosts_seen(net)[0] == "autoconfig.hostile.test"
    assert elapsed < 3 * budget + 1.0

    # What the provider file alone ends in: "not found" naming the reason, or a
    # temporary failure (a timeout for the drip) that is never "not found".
    with pytest.raises(MailSettingsError) as caught:
        lookup(net, mode, "jane@hostile.test", allow_http=True, autoconfig_sources=("autoconfig",))
    error = caught.value
    assert isinstance(error, DiscoveryError) is temporary
    assert isinstance(error, ProviderNotFoundError) is not temporary
    assert isinstance(error, DiscoveryTimeoutError) is (reason == "timed out")
    assert reason in str(error)
    assert "provider autoconfig" in str(error)
    assert net.https.url("autoconfig.hostile.test", AUTOCONFIG_PATH) in str(error)
    assert "Traceback" not in str(error) and "httpx" not in str(error)


def test_untrusted_certificate_is_skipped(net: Network, mode: str) -> None:
    net.https.route(
        "autoconfig.untrusted.test", AUTOCONFIG_PATH, reply(200, config_xml("untrusted.test"))
    )
    net.https.route("ispdb.test", "/v1.1/untrusted.test", reply(200, config_xml("untrusted.test")))
    result = lookup(net, mode, "jane@untrusted.test")
    assert result.source is Source.ISPDB
    assert hosts_seen(net) == ["ispdb.test"]  # only the ISPDB request got through
    message = not_found(
        net, mode, "jane@untrusted.test", autoconfig_sources=("autoconfig", "well-known")
    )
    assert [part.split(" skipped: ")[1].split(":")[0] for part in message.split("; ")] == [
        "TLS certificate of autoconfig.untrusted.test not accepted",
        "TLS certificate of untrusted.test not accepted",
    ]


def test_redirect_to_a_private_address_is_skipped(
    net: Network, mode: str, fetch_policy: FetchPolicyChange
) -> None:
    net.https.route(
        "autoconfig.example.test",
        AUTOCONFIG_PATH,
        redirect(net.https_other.url("private.example.test", AUTOCONFIG_PATH)),
    )
    net.https_other.route(
        "private.example.test", AUTOCONFIG_PATH, reply(200, config_xml("example.test"))
    )
    fetch_policy(allowed_networks=("127.0.0.1/32",))
    message = not_found(
        net,
        mode,
        "jane@example.test",
        allow_private_networks=False,
        autoconfig_sources=("autoconfig",),
    )
    assert "non-public address 127.0.0.2" in message
    assert hosts_seen(net) == ["autoconfig.example.test"]
    assert net.https_other.connections == 0


def test_private_addresses_are_refused_by_default(net: Network, mode: str) -> None:
    net.https.route(
        "autoconfig.example.test", AUTOCONFIG_PATH, reply(200, config_xml("example.test"))
    )
    message = not_found(net, mode, "jane@example.test", allow_private_networks=False)
    assert message.count("skipped: ") == 3
    assert message.count("resolves to the non-public address 127.0.0.1") == 3
    assert net.https.connections == 0


def test_the_budget_ends_the_chain(net: Network, mode: str) -> None:
    net.https.route("autoconfig.example.test", AUTOCONFIG_PATH, drip(b"<clientConfig/>", 1.0))
    started = time.monotonic()
    with pytest.raises(DiscoveryTimeoutError) as caught:
        lookup(net, mode, "jane@example.test", timeout=0.4)
    assert time.monotonic() - started < 3 * 0.4 + 1.0
    message = str(caught.value)
    assert message.startswith("The lookup for 'example.test' ran out of its 0.4 s budget (")
    # The source's own timeout or the engine's, whichever came first at the deadline.
    assert re.search(
        r"\(provider autoconfig: (the 0.4 s time budget ran out|[^;]* timed out [^;]*);", message
    ), message
    assert "well-known autoconfig: not tried" in message
    assert "ISPDB: not tried" in message
    assert hosts_seen(net) == ["autoconfig.example.test"]


def test_names_resolve_through_the_dns_module_without_a_resolver(
    net: Network,
    mode: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    no_getaddrinfo: list[object],
) -> None:
    # resolver=None: one dnspython resolver configured from the system (a resolv.conf;
    # here the test's, naming the loopback dnsmasq) for MX and for every HTTP host name.
    conf = tmp_path / "resolv.conf"
    conf.write_text(f"nameserver {LOOPBACK}\n")

    def from_system() -> dns.resolver.Resolver:
        resolver = dns.resolver.Resolver(filename=str(conf))
        resolver.port = net.dnsmasq.port
        return resolver

    monkeypatch.setattr("mailsettings.net.dns.system_resolver", from_system)
    net.https.route("ispdb.test", "/v1.1/hoster.test", reply(200, config_xml("hoster.test")))
    result = lookup(net, mode, "jane@customer.test", resolver=None)
    assert (result.source, result.mx_host) == (Source.ISPDB, "mx1.mail.hoster.test")
    assert no_getaddrinfo == []


# --- the source interface ---------------------------------------------------------------


def test_sources_through_the_interface(net: Network) -> None:
    net.https.route("ispdb.test", "/v1.1/hoster.test", reply(200, config_xml("hoster.test")))
    net.https.route("example.test", WELL_KNOWN_PATH, reply(200, config_xml("example.test")))
    # Each kind of resolver works with run (a private event loop) and arun.
    for resolver in (net.resolver(), net.async_resolver()):
        ctx = context(net, "jane@example.test", resolver=resolver)
        assert isinstance(AUTOCONFIG, AutoconfigSource)
        assert AUTOCONFIG.run(ctx) is None
        assert len(ctx.notes) == 1 and ctx.notes[0].endswith(" skipped: HTTP status 404")
        result = asyncio.run(WELL_KNOWN.arun(ctx))
        assert result is not None and result.source is Source.WELL_KNOWN
        assert ctx.expires == 0  # an HTTP answer is never reused from the cache

        ctx = context(net, "jane@example.test", resolver=resolver)
        assert ISPDB_MX.run(ctx) is None  # example.test has no MX hosts
        assert ctx.notes == [] and ctx.mx_hosts == ()
        ctx = context(net, "jane@other.test", resolver=resolver)
        ctx.mx_hosts = ("mx.hoster.test",)  # read by an earlier source
        result = asyncio.run(ISPDB_MX.arun(ctx))
        assert result is not None and result.mx_host == "mx.hoster.test"
        assert result.domain == "other.test"


def test_sources_report_temporary_failures(net: Network) -> None:
    net.https.route("ispdb.test", "/v1.1/example.test", reply(503, b""))
    ctx = context(net, "jane@example.test")
    with pytest.raises(DiscoveryError, match="HTTP status 503") as caught:
        ISPDB.run(ctx)
    assert not isinstance(caught.value, DiscoveryTimeoutError)
    assert ctx.notes[0].endswith(" skipped: HTTP status 503")

    net.https.route("ispdb.test", "/v1.1/example.test", drip(b"<x/>", 1.0))
    ctx = context(net, "jane@example.test")
    tighten(ctx.http, timeout=0.3)
    with pytest.raises(DiscoveryTimeoutError, match="timed out"):
        asyncio.run(ISPDB.arun(ctx))


def test_temporary_failures_are_never_not_found(net: Network, mode: str) -> None:
    net.https.route("ispdb.test", "/v1.1/example.test", reply(503, b""))
    with pytest.raises(DiscoveryError) as caught:
        lookup(net, mode, "jane@example.test")
    assert not isinstance(caught.value, ProviderNotFoundError | DiscoveryTimeoutError)
    assert str(caught.value).startswith("The lookup for 'example.test' failed temporarily (")
    assert "HTTP status 503" in str(caught.value)


# --- the ISPDB snapshot, served over HTTPS ----------------------------------------------


def _usable(host: str) -> bool:
    return host != "localhost" and ip_literal(host) is None


def test_every_ispdb_file_through_the_live_source(net: Network) -> None:
    folder = require_ispdb()
    net.https.ispdb = folder
    files = sorted(folder.glob("*.xml"))
    resolver = net.resolver()

    async def main() -> list[tuple[LookupResult | None, list[str]]]:
        outcomes = []
        for file in files:
            domain = file.name.removesuffix(".xml")
            address = Address("user", domain, domain)  # some files are for one-label names
            ctx = context(net, address, resolver=resolver, allow_private_networks=False)
            tighten(ctx.http, allowed_networks=("127.0.0.0/8",))  # servers at IPs still dropped
            outcomes.append((await ISPDB.arun(ctx), ctx.notes))
        return outcomes

    outcomes = asyncio.run(main())
    for file, (outcome, notes) in zip(files, outcomes, strict=True):
        domain = file.name.removesuffix(".xml")
        try:
            expected = parse_autoconfig(file.read_bytes()).provider
        except AutoconfigError:
            assert outcome is None, file.name
            assert notes[0].split(" skipped: ")[1].startswith("not a usable autoconfig document")
            continue
        kept = {s.for_domain(domain) for s in expected.servers if _usable(s.host)}
        if not kept:
            assert outcome is None and "names only servers at an IP address" in notes[0], file.name
            continue
        assert isinstance(outcome, LookupResult), (file.name, notes)
        assert (outcome.source, outcome.trusted) == (Source.ISPDB, True)
        assert outcome.url == net.https.url("ispdb.test", f"/v1.1/{domain}")
        assert set(outcome.servers) == kept, file.name
    assert len(net.https.seen) == len(files)


def test_ispdb_files_sample_through_lookup(net: Network, mode: str) -> None:
    folder = require_ispdb()
    net.https.ispdb = folder
    known = {domain for provider in Registry().providers() for domain in provider.domains}
    # The first ten usable files for domains the store does not know (it would answer).
    sample = [
        file.name.removesuffix(".xml")
        for file in sorted(folder.glob("*.xml"))
        if file.name.removesuffix(".xml") not in known and _parses(file)
    ][:10]
    assert len(sample) == 10
    for domain in sample:
        result = lookup(net, mode, f"user@{domain}", autoconfig_sources=("ispdb",))
        assert (result.source, result.trusted) == (Source.ISPDB, True), domain
        assert result.url == net.https.url("ispdb.test", f"/v1.1/{domain}")


def _parses(file: Path) -> bool:
    try:
        parse_autoconfig(file.read_bytes())
    except AutoconfigError:
        return False
    return True
