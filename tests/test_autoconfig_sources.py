"""The live autoconfig sources (mailsettings.sources.autoconfig) against real loopback servers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest
from https_server import (
    BILLION_LAUGHS,
    EXTERNAL_ENTITY,
    MALFORMED,
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
from mailsettings.errors import AutoconfigError, DiscoveryError, DiscoveryTimeoutError
from mailsettings.models import BRIDGE_HOST, LookupResult, OAuth2, Source
from mailsettings.sources.autoconfig import (
    AUTOCONFIG_STEP,
    ISPDB_MX_STEP,
    ISPDB_STEP,
    WELL_KNOWN_STEP,
    AutoconfigOptions,
    Candidate,
    Skipped,
    afetch_autoconfig,
    afirst_result,
    candidates,
    fetch_autoconfig,
    first_result,
    mx_candidates,
    mx_domains,
)
from mailsettings.sources.base import Context, Step

AUTOCONFIG_PATH = "/mail/config-v1.1.xml"
WELL_KNOWN_PATH = "/.well-known/autoconfig/mail/config-v1.1.xml"

Outcome = tuple[LookupResult | None, tuple[Skipped, ...]]


def live(net: Network, **options: Any) -> AutoconfigOptions:
    """Options whose URL templates point at the loopback HTTPS server's port."""
    port = net.https.port
    options.setdefault(
        "autoconfig_url",
        f"https://autoconfig.{{domain}}:{port}{AUTOCONFIG_PATH}?emailaddress={{address}}",
    )
    options.setdefault("well_known_url", f"https://{{domain}}:{port}{WELL_KNOWN_PATH}")
    options.setdefault("ispdb_url", f"https://ispdb.test:{port}/v1.1/")
    options.setdefault("allow_private_networks", True)
    options.setdefault("ssl_context", net.ssl_context)
    options.setdefault("request_timeout", 2.0)
    return AutoconfigOptions(**options)


def run(
    net: Network,
    mode: str,
    address: str | Address,
    options: AutoconfigOptions,
    *,
    mx_host: str | None = None,
    deadline: float | None = None,
    issuers: dict[str, OAuth2] | None = None,
) -> Outcome:
    parsed = parse_address(address) if isinstance(address, str) else address
    tried = (
        candidates(parsed, options) if mx_host is None else mx_candidates(parsed, mx_host, options)
    )
    common: dict[str, Any] = {
        "options": options,
        "deadline": deadline,
        "oauth2_issuers": issuers if issuers is not None else {},
    }
    if mode == "sync":
        return first_result(tried, parsed, resolver=net.resolver(), **common)
    return asyncio.run(afirst_result(tried, parsed, resolver=net.async_resolver(), **common))


# --- candidates (offline) -------------------------------------------------------------


def test_candidate_order_and_templates() -> None:
    address = parse_address("Jane.Doe+tag@Bücher.example")
    found = candidates(address, AutoconfigOptions())
    assert [c.source for c in found] == [Source.AUTOCONFIG, Source.WELL_KNOWN, Source.ISPDB]
    assert [c.url for c in found] == [
        "https://autoconfig.xn--bcher-kva.example/mail/config-v1.1.xml"
        "?emailaddress=Jane.Doe%2Btag%40xn--bcher-kva.example",
        "https://xn--bcher-kva.example/.well-known/autoconfig/mail/config-v1.1.xml",
        "https://autoconfig.thunderbird.net/v1.1/xn--bcher-kva.example",
    ]
    assert [c.label for c in found] == ["provider autoconfig", "well-known autoconfig", "ISPDB"]


def test_candidates_for_a_bare_domain_and_a_selection() -> None:
    options = AutoconfigOptions(
        sources=("autoconfig", "ispdb"), ispdb_url="https://db.example/{domain}.xml"
    )
    found = candidates(parse_address("example.org"), options)
    assert [c.url for c in found] == [
        "https://autoconfig.example.org/mail/config-v1.1.xml?emailaddress=",
        "https://db.example/example.org.xml",
    ]
    assert candidates(parse_address("example.org"), options, sources=["ispdb", "well-known"]) == (
        Candidate(Source.ISPDB, "https://db.example/example.org.xml"),
    )


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


def test_mx_candidates() -> None:
    address = parse_address("someone@customer.example")
    found = mx_candidates(address, "MX1.Mail.Hoster.Example.", AutoconfigOptions())
    assert [(c.url, c.mx_host) for c in found] == [
        ("https://autoconfig.thunderbird.net/v1.1/mail.hoster.example", "mx1.mail.hoster.example"),
        ("https://autoconfig.thunderbird.net/v1.1/hoster.example", "mx1.mail.hoster.example"),
    ]
    assert found[0].label == "ISPDB (from MX host mx1.mail.hoster.example)"
    assert mx_candidates(address, "mx.hoster.example", AutoconfigOptions(sources=("ispdb",))) == ()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"sources": ("autoconfig", "ldap")}, "unknown live source"),
        ({"autoconfig_url": "https://{domain}/{user}"}, "unknown placeholder"),
        ({"well_known_url": "https://{domain}/?{address}"}, "unknown placeholder"),
        ({"ispdb_url": "ftp://ispdb.example/"}, "http:// or https://"),
        ({"ispdb_url": "https://x/{domain"}, "malformed template"),
        ({"request_timeout": 0}, "positive"),
        ({"allowed_networks": ("10.0.0.0/33",)}, "does not appear to be"),
    ],
)
def test_options_are_validated(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        AutoconfigOptions(**options)


# --- results and trust ------------------------------------------------------------------


def test_provider_autoconfig_from_the_domain_is_trusted(net: Network, mode: str) -> None:
    net.https.route(
        "autoconfig.example.test", AUTOCONFIG_PATH, reply(200, config_xml("example.test"))
    )
    result, skipped = run(net, mode, "jane@example.test", live(net))
    assert skipped == ()
    assert result is not None
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
    assert net.https.seen[0].query == "emailaddress=jane%40example.test"


def test_well_known_after_a_missing_provider_file(net: Network, mode: str) -> None:
    net.https.route("example.test", WELL_KNOWN_PATH, reply(200, config_xml("example.test")))
    result, skipped = run(net, mode, "jane@example.test", live(net))
    assert result is not None
    assert (result.source, result.trusted) == (Source.WELL_KNOWN, True)
    assert [s.reason for s in skipped] == ["HTTP status 404"]
    assert str(skipped[0]).startswith("provider autoconfig https://autoconfig.example.test:")
    assert str(skipped[0]).endswith(" skipped: HTTP status 404")


def test_file_from_outside_the_domain_is_untrusted(net: Network, mode: str) -> None:
    # mail.example.test's well-known file redirects to example.test: same registrable
    # domain (followed), but not the queried domain itself.
    final = net.https.url("example.test", "/shared-config.xml")
    net.https.route("mail.example.test", WELL_KNOWN_PATH, redirect(final))
    net.https.route("example.test", "/shared-config.xml", reply(200, config_xml("example.test")))
    result, _ = run(net, mode, "jane@mail.example.test", live(net))
    assert result is not None
    assert (result.source, result.trusted, result.url) == (Source.WELL_KNOWN, False, final)
    assert "Read from example.test, not from mail.example.test itself" in result.warnings[0]


def test_ispdb_over_https_is_trusted_and_the_result_is_for_the_queried_domain(
    net: Network, mode: str
) -> None:
    document = config_xml("hoster.test", imap_host="imap.%EMAILDOMAIN%")
    net.https.route("ispdb.test", "/v1.1/fallback.test", reply(200, document))
    result, skipped = run(net, mode, "jane@fallback.test", live(net))
    assert result is not None
    assert (result.source, result.trusted) == (Source.ISPDB, True)
    assert (result.domain, result.domain_ascii) == ("fallback.test", "fallback.test")
    assert result.provider.domains == ("hoster.test",)
    assert result.imap is not None and result.imap.host == "imap.fallback.test"
    assert len(skipped) == 2


def test_plain_http_results_are_untrusted(net: Network, mode: str) -> None:
    port = net.http.port
    net.http.route("ispdb.test", "/v1.1/example.test", reply(200, config_xml("example.test")))
    options = live(
        net, sources=("ispdb",), ispdb_url=f"http://ispdb.test:{port}/v1.1/", allow_http=True
    )
    result, _ = run(net, mode, "jane@example.test", options)
    assert result is not None
    assert (result.source, result.trusted, result.url) == (
        Source.ISPDB,
        False,
        f"http://ispdb.test:{port}/v1.1/example.test",
    )
    assert any("plain HTTP" in w for w in result.warnings)
    # Without allow_http the same source is skipped before any connection.
    net.http.reset()
    result, skipped = run(
        net, mode, "jane@example.test", live(net, sources=("ispdb",), ispdb_url=options.ispdb_url)
    )
    assert result is None
    assert skipped[0].reason == "plain HTTP is not allowed (HTTPS only)"
    assert net.http.connections == 0


def test_mx_derived_ispdb(net: Network, mode: str) -> None:
    document = config_xml("hoster.test", imap_host="imap.hoster.test")
    net.https.route("ispdb.test", "/v1.1/hoster.test", reply(200, document))
    result, skipped = run(
        net, mode, "jane@customer.test", live(net), mx_host="mx1.mail.hoster.test"
    )
    assert [s.candidate.url for s in skipped] == [
        net.https.url("ispdb.test", "/v1.1/mail.hoster.test")
    ]
    assert result is not None
    assert (result.source, result.mx_host, result.domain) == (
        Source.ISPDB,
        "mx1.mail.hoster.test",
        "customer.test",
    )
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
    issuers = {known.issuer: known}
    unknown_doc = config_xml("example.test", extra=OAUTH2.format(issuer="evil.test"))
    net.https.route("autoconfig.example.test", AUTOCONFIG_PATH, reply(200, unknown_doc))
    result, _ = run(net, mode, "jane@example.test", live(net), issuers=issuers)
    assert result is not None and result.provider.oauth2 is None
    assert any("Dropped the OAuth2 settings (issuer evil.test)" in w for w in result.warnings)

    known_doc = config_xml("example.test", extra=OAUTH2.format(issuer="login.example.test"))
    net.https.route("autoconfig.example.test", AUTOCONFIG_PATH, reply(200, known_doc))
    result, _ = run(net, mode, "jane@example.test", live(net), issuers=issuers)
    assert result is not None and result.provider.oauth2 == known
    assert any("Used the bundled OAuth2 settings" in w for w in result.warnings)


def test_servers_on_the_local_host_are_dropped(net: Network) -> None:
    document = config_xml("example.test", imap_host=BRIDGE_HOST)
    net.https.route("autoconfig.example.test", AUTOCONFIG_PATH, reply(200, document))
    result, _ = run(net, "sync", "jane@example.test", live(net))
    assert result is not None
    assert result.imap is None and result.smtp is not None
    assert any(BRIDGE_HOST in w for w in result.warnings)


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
    net: Network, mode: str, case: str
) -> None:
    setup, reason, temporary = HOSTILE[case]
    setup(net)
    net.https.route("ispdb.test", "/v1.1/hostile.test", reply(200, config_xml("hostile.test")))
    budget = 0.5
    started = time.monotonic()
    result, skipped = run(
        net, mode, "jane@hostile.test", live(net, request_timeout=budget, allow_http=True)
    )
    elapsed = time.monotonic() - started
    assert result is not None and result.source is Source.ISPDB
    first, second = skipped
    assert first.candidate.source is Source.AUTOCONFIG
    assert reason in first.reason
    assert first.temporary is temporary
    assert first.timed_out is (reason == "timed out")
    assert second.reason == "HTTP status 404"  # no well-known file
    assert elapsed < 3 * budget + 1.0
    assert "Traceback" not in first.reason and "httpx" not in first.reason


def test_untrusted_certificate_is_skipped(net: Network, mode: str) -> None:
    net.https.route(
        "autoconfig.untrusted.test", AUTOCONFIG_PATH, reply(200, config_xml("untrusted.test"))
    )
    net.https.route("ispdb.test", "/v1.1/untrusted.test", reply(200, config_xml("untrusted.test")))
    result, skipped = run(net, mode, "jane@untrusted.test", live(net))
    assert result is not None and result.source is Source.ISPDB
    assert [s.reason.split(":")[0] for s in skipped] == [
        "TLS certificate of autoconfig.untrusted.test not accepted",
        "TLS certificate of untrusted.test not accepted",
    ]
    assert net.https.seen == [net.https.seen[-1]]  # only the ISPDB request got through


def test_redirect_to_a_private_address_is_skipped(net: Network, mode: str) -> None:
    net.https.route(
        "autoconfig.example.test",
        AUTOCONFIG_PATH,
        redirect(net.https_other.url("private.example.test", AUTOCONFIG_PATH)),
    )
    net.https_other.route(
        "private.example.test", AUTOCONFIG_PATH, reply(200, config_xml("example.test"))
    )
    options = live(
        net,
        sources=("autoconfig",),
        allow_private_networks=False,
        allowed_networks=("127.0.0.1/32",),
    )
    result, skipped = run(net, mode, "jane@example.test", options)
    assert result is None
    assert "non-public address 127.0.0.2" in skipped[0].reason
    assert net.https_other.connections == 0


def test_private_addresses_are_refused_by_default(net: Network, mode: str) -> None:
    net.https.route(
        "autoconfig.example.test", AUTOCONFIG_PATH, reply(200, config_xml("example.test"))
    )
    result, skipped = run(net, mode, "jane@example.test", live(net, allow_private_networks=False))
    assert result is None
    assert len(skipped) == 3
    assert all("non-public address 127.0.0.1" in s.reason for s in skipped)
    assert net.https.connections == 0


def test_the_budget_ends_the_chain(net: Network, mode: str) -> None:
    net.https.route("autoconfig.example.test", AUTOCONFIG_PATH, drip(b"<clientConfig/>", 1.0))
    started = time.monotonic()
    result, skipped = run(net, mode, "jane@example.test", live(net), deadline=started + 0.4)
    assert time.monotonic() - started < 1.2
    assert result is None
    assert [s.timed_out for s in skipped] == [True, True, True]
    assert skipped[1].reason == "not tried: the time budget ran out"


def test_single_candidate_entry_points(net: Network) -> None:
    net.https.route(
        "autoconfig.example.test", AUTOCONFIG_PATH, reply(200, config_xml("example.test"))
    )
    address = parse_address("jane@example.test")
    options = live(net)
    candidate = candidates(address, options)[0]
    result = fetch_autoconfig(candidate, address, options=options, resolver=net.resolver())
    assert isinstance(result, LookupResult)
    other = candidates(address, options)[1]
    skipped = asyncio.run(
        afetch_autoconfig(other, address, options=options, resolver=net.async_resolver())
    )
    assert isinstance(skipped, Skipped) and skipped.reason == "HTTP status 404"


# --- the ISPDB snapshot, served over HTTPS ----------------------------------------------


def test_every_ispdb_file_through_the_live_source(net: Network) -> None:
    folder = require_ispdb()
    net.https.ispdb = folder
    options = live(net, sources=("ispdb",))
    files = sorted(folder.glob("*.xml"))
    for file in files:
        domain = file.name.removesuffix(".xml")
        address = Address("user", domain, domain)
        [candidate] = candidates(address, options)
        outcome = fetch_autoconfig(candidate, address, options=options, resolver=net.resolver())
        try:
            expected = parse_autoconfig(file.read_bytes()).provider
        except AutoconfigError:
            assert isinstance(outcome, Skipped), file.name
            assert outcome.reason.startswith("not a usable autoconfig document"), file.name
            continue
        assert isinstance(outcome, LookupResult), (file.name, outcome)
        assert (outcome.source, outcome.trusted) == (Source.ISPDB, True)
        assert outcome.url == net.https.url("ispdb.test", f"/v1.1/{domain}")
        kept = {s.for_domain(domain) for s in expected.servers if s.host != BRIDGE_HOST}
        assert set(outcome.servers) == kept, file.name
    assert len(net.https.seen) == len(files)


def test_ispdb_files_async_sample(net: Network) -> None:
    folder = require_ispdb()
    net.https.ispdb = folder
    options = live(net, sources=("ispdb",))
    resolver = net.async_resolver()

    async def main() -> list[LookupResult | Skipped]:
        outcomes = []
        for file in sorted(folder.glob("*.xml"))[:10]:
            domain = file.name.removesuffix(".xml")
            address = Address("user", domain, domain)
            [candidate] = candidates(address, options)
            outcomes.append(
                await afetch_autoconfig(candidate, address, options=options, resolver=resolver)
            )
        return outcomes

    assert all(isinstance(o, LookupResult) and o.trusted for o in asyncio.run(main()))


# --- the discovery-chain steps ---------------------------------------------------------


def _context(net: Network, address: str, options: AutoconfigOptions, resolver: object) -> Context:
    context = Context.start(parse_address(address), Registry(), 5.0, resolver)
    context.state["autoconfig_options"] = options
    return context


def call(step: Step, context: Context, mode: str) -> LookupResult | None:
    if mode == "sync":
        return step.run(context)

    async def main() -> LookupResult | None:
        return await step.arun(context)

    return asyncio.run(main())


def test_steps(net: Network, mode: str) -> None:
    net.https.route("ispdb.test", "/v1.1/hoster.test", reply(200, config_xml("hoster.test")))
    net.https.route("example.test", WELL_KNOWN_PATH, reply(200, config_xml("example.test")))
    # Each kind of resolver works for both twins.
    resolver = net.resolver() if mode == "async" else net.async_resolver()

    context = _context(net, "jane@example.test", live(net), resolver)
    assert call(AUTOCONFIG_STEP, context, mode) is None
    assert context.notes and "HTTP status 404" in context.notes[0]
    result = call(WELL_KNOWN_STEP, context, mode)
    assert result is not None and result.source is Source.WELL_KNOWN

    context = _context(net, "jane@customer.test", live(net), resolver)
    assert call(ISPDB_MX_STEP, context, mode) is None  # no MX hosts known yet
    context.state["mx_hosts"] = ("mx.hoster.test",)
    result = call(ISPDB_MX_STEP, context, mode)
    assert result is not None and result.mx_host == "mx.hoster.test"

    # A source left out of the options does nothing.
    context = _context(net, "jane@example.test", live(net, sources=("ispdb",)), resolver)
    assert call(WELL_KNOWN_STEP, context, mode) is None and not context.notes


def test_steps_report_temporary_failures(net: Network, mode: str) -> None:
    net.https.route("ispdb.test", "/v1.1/example.test", reply(503, b""))
    context = _context(net, "jane@example.test", live(net), net.resolver())
    with pytest.raises(DiscoveryError, match="HTTP status 503"):
        call(ISPDB_STEP, context, mode)

    net.https.route("ispdb.test", "/v1.1/example.test", drip(b"<x/>", 1.0))
    context = _context(net, "jane@example.test", live(net, request_timeout=0.3), net.resolver())
    with pytest.raises(DiscoveryTimeoutError, match="timed out"):
        ISPDB_STEP.run(context)
