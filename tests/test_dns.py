"""DNS discovery against real DNS servers on 127.0.0.1 (dnsmasq and a small responder)."""

from __future__ import annotations

import asyncio
import copy
import subprocess
import sys
import time
from typing import Any, cast

import dns.resolver
import pytest
from conftest import server
from dns_servers import (
    Dnsmasq,
    Responder,
    data_mx_cases,
    dnsmasq_binary,
    make_resolver,
)
from hostile_servers import WireResponder

import mailsettings
from mailsettings import (
    DiscoveryError,
    DiscoveryTimeoutError,
    DomainNotFoundError,
    InvalidAddressError,
    LookupResult,
    MailSettingsError,
    NoMailError,
    Protocol,
    Provider,
    ProviderNotFoundError,
    Registry,
    Security,
    Server,
    Source,
    Status,
)
from mailsettings.models import MxRule
from mailsettings.options import LookupOptions


def _servers(prefix: str) -> tuple[Server, ...]:
    return (
        server("imap", f"imap.{prefix}", 993, "ssl"),
        server("smtp", f"smtp.{prefix}", 465, "ssl"),
    )


PLATFORM = Provider(
    id="platform.example",
    name="Platform",
    servers=_servers("platform.example"),
    mx=(
        MxRule(pattern="mx.platform.example"),
        MxRule(pattern="eu.platform.example", servers=_servers("eu.platform.example")),
        MxRule(pattern="in.platform.example", servers=_servers("in.platform.example")),
    ),
)
OTHER = Provider(
    id="other.example",
    name="Other",
    servers=_servers("other.example"),
    mx=(MxRule(pattern="mx.other.example"),),
)
WEBONLY = Provider(
    id="webonly.example",
    name="Web Only",
    status=Status.NO_STANDARD_ACCESS,
    status_note="Only a web client.",
    mx=(MxRule(pattern="mx.webonly.example"),),
)


@pytest.fixture
def registry() -> Registry:
    """A registry of the test platforms only (a fresh DNS cache per test)."""
    return Registry([PLATFORM, OTHER, WEBONLY], bundled=False)


def hosts(result: LookupResult, protocol: Protocol | None = None) -> list[str]:
    return [s.host for s in result.servers if protocol is None or s.protocol is protocol]


# --- import cost -------------------------------------------------------------


def test_dns_is_imported_only_when_a_lookup_asks_for_it() -> None:
    code = (
        "import sys, mailsettings\n"
        "mailsettings.lookup('x@qq.com')\n"
        "mailsettings.lookup('x@qq.com', mx=True, srv=True)\n"  # known: no DNS
        "try:\n"
        "    mailsettings.lookup('x@unknown.test')\n"
        "except mailsettings.ProviderNotFoundError:\n"
        "    pass\n"
        "assert not [m for m in sys.modules if m == 'dns' or m.startswith('dns.')], 'dns imported'\n"
        "assert 'mailsettings.sources.dns' not in sys.modules\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr


def test_known_domain_sends_no_query(responder: Responder) -> None:
    options: LookupOptions = {
        "mx": True,
        "srv": True,
        "autoconfig": True,
        "autodiscover": True,
        "resolver": responder.resolver(),
        "timeout": 0.3,
    }
    registry = Registry()
    result = registry.lookup("someone@qq.com", **options)
    assert result.source is Source.BUNDLED and result.trusted
    assert asyncio.run(registry.alookup("Someone@QQ.com", **options)) is result
    assert registry.lookup_many(["a@qq.com", "b@foxmail.com"], **options)[0] is result
    assert responder.total == 0


# --- MX ----------------------------------------------------------------------


def _expected_match(host: str) -> tuple[Provider, MxRule] | None:
    """Independent reading of the data: the longest pattern among all rules matching ``host``."""
    matches = [(rule, p) for p in mailsettings.providers() for rule in p.mx if rule.matches(host)]
    if not matches:
        return None
    rule, provider = max(matches, key=lambda m: len(m[0].pattern))
    return provider, rule


@pytest.mark.parametrize(
    ("domain", "provider_id", "pattern"),
    data_mx_cases(),
    ids=[f"{pid}:{pattern}" for _, pid, pattern in data_mx_cases()],
)
def test_every_mx_rule_in_the_data_selects_its_provider(
    dns_server: Dnsmasq, domain: str, provider_id: str, pattern: str
) -> None:
    provider = next(p for p in mailsettings.providers() if p.id == provider_id)
    rule = next(r for r in provider.mx if r.pattern == pattern)
    registry = Registry()
    try:
        result = registry.lookup(f"someone@{domain}", mx=True, resolver=dns_server.resolver())
    except ProviderNotFoundError as error:
        assert not (rule.servers or provider.servers), error  # only providers without access
        assert error.provider is not None and error.provider.id == provider_id
        return
    assert result.provider.id == provider_id
    assert (result.source, result.mx_host, result.trusted) == (Source.MX, pattern, False)
    expected = LookupResult.create(
        provider,
        domain=domain,
        domain_ascii=domain,
        source=Source.MX,
        trusted=False,
        servers=rule.servers if rule.servers is not None else provider.servers,
    )
    assert result.servers == expected.servers
    assert any("MX" in warning and pattern in warning for warning in result.warnings)


@pytest.mark.parametrize(
    ("domain", "host", "check"),
    [
        ("exmail.test", "mxbiz1.qq.com", lambda r: "exmail" in r.provider.id + str(r.imap)),
        ("zoho-com.test", "mx.zoho.com", lambda r: r.imap.host.endswith(".com")),
        ("zoho-eu.test", "mx.zoho.eu", lambda r: r.imap.host.endswith(".eu")),
        ("zoho-in.test", "mx.zoho.in", lambda r: r.imap.host.endswith(".in")),
        ("google.test", "aspmx.l.google.com", lambda r: r.imap.host == "imap.gmail.com"),
        (
            "microsoft.test",
            "contoso-test.mail.protection.outlook.com",
            lambda r: r.imap.host == "outlook.office365.com",
        ),
    ],
    ids=["tencent-exmail", "zoho-com", "zoho-eu", "zoho-in", "google", "microsoft"],
)
def test_well_known_platforms_when_in_the_data(
    dns_server: Dnsmasq, domain: str, host: str, check: object
) -> None:
    expected = _expected_match(host)
    if expected is None:
        pytest.skip(f"the bundled data has no MX rule for {host} yet")
    result = Registry().lookup(f"a@{domain}", mx=True, resolver=dns_server.resolver())
    assert result.provider.id == expected[0].id
    assert result.mx_host == host
    assert callable(check) and check(result), [s.host for s in result.servers]


@pytest.mark.parametrize(
    ("domain", "imap", "mx_host"),
    [
        ("com.region.test", "imap.platform.example", "mx.platform.example"),
        ("eu.region.test", "imap.eu.platform.example", "mx1.eu.platform.example"),
        ("in.region.test", "imap.in.platform.example", "mx.in.platform.example"),
    ],
)
def test_region_selects_the_rules_servers(
    registry: Registry, dns_server: Dnsmasq, domain: str, imap: str, mx_host: str
) -> None:
    result = registry.lookup(f"a@{domain}", mx=True, resolver=dns_server.resolver())
    assert result.provider.id == "platform.example"
    assert hosts(result, Protocol.IMAP) == [imap]
    assert result.mx_host == mx_host
    assert (result.domain, result.source, result.trusted) == (domain, Source.MX, False)


def test_mx_hosts_are_tried_by_preference(registry: Registry, dns_server: Dnsmasq) -> None:
    resolver = dns_server.resolver()
    second = registry.lookup("a@pref.test", mx=True, resolver=resolver)
    assert (second.provider.id, second.mx_host) == ("platform.example", "mx.platform.example")
    lowest = registry.lookup("a@pref2.test", mx=True, resolver=resolver)
    assert (lowest.provider.id, lowest.mx_host) == ("platform.example", "mx.platform.example")


def test_mx_host_never_becomes_a_server(registry: Registry, dns_server: Dnsmasq) -> None:
    result = registry.lookup("a@eu.region.test", mx=True, resolver=dns_server.resolver())
    assert "mx1.eu.platform.example" not in hosts(result)
    assert set(hosts(result)) <= {s.host for s in PLATFORM.mx[1].servers or ()}


def test_mx_matching_nothing_names_the_hosts(registry: Registry, dns_server: Dnsmasq) -> None:
    with pytest.raises(ProviderNotFoundError) as caught:
        registry.lookup("a@nomatch.test", mx=True, resolver=dns_server.resolver())
    assert type(caught.value) is ProviderNotFoundError
    assert "mx1.nowhere.example, mx2.nowhere.example" in str(caught.value)
    assert caught.value.tried == ("bundled database", "MX")
    assert caught.value.domain == "nomatch.test"


def test_pattern_matches_whole_labels_only(registry: Registry, dns_server: Dnsmasq) -> None:
    with pytest.raises(ProviderNotFoundError, match=r"mx\.evilplatform\.example"):
        registry.lookup("a@lookalike.test", mx=True, resolver=dns_server.resolver())


def test_null_mx_means_no_mail(registry: Registry, dns_server: Dnsmasq) -> None:
    with pytest.raises(NoMailError, match="accepts no mail") as caught:
        registry.lookup("a@nullmx.test", mx=True, srv=True, resolver=dns_server.resolver())
    assert isinstance(caught.value, ProviderNotFoundError)


def test_domain_without_mx_is_not_found(registry: Registry, dns_server: Dnsmasq) -> None:
    with pytest.raises(ProviderNotFoundError, match="no MX records") as caught:
        registry.lookup("a@nomx.test", mx=True, resolver=dns_server.resolver())
    assert type(caught.value) is ProviderNotFoundError


def test_nxdomain_is_domain_not_found(registry: Registry, dns_server: Dnsmasq) -> None:
    with pytest.raises(DomainNotFoundError, match="does not exist") as caught:
        registry.lookup("a@no-such-domain.test", mx=True, srv=True, resolver=dns_server.resolver())
    assert isinstance(caught.value, ProviderNotFoundError)
    assert caught.value.domain == "no-such-domain.test"


def test_platform_without_standard_access(registry: Registry, dns_server: Dnsmasq) -> None:
    with pytest.raises(ProviderNotFoundError, match="has no known IMAP") as caught:
        registry.lookup("a@webonly.test", mx=True, resolver=dns_server.resolver())
    assert caught.value.provider is not None and caught.value.provider.id == "webonly.example"


# --- SRV ---------------------------------------------------------------------


def test_srv_order_priority_then_weight_and_dot_targets(
    registry: Registry, dns_server: Dnsmasq
) -> None:
    result = registry.lookup("jane@srv.test", srv=True, resolver=dns_server.resolver())
    assert (result.source, result.trusted, result.mx_host) == (Source.SRV, True, None)
    imap = [(s.host, s.port, s.security) for s in result.servers if s.protocol is Protocol.IMAP]
    # _imap._tcp has the '.' target: not offered, so only implicit TLS servers
    assert imap == [
        ("imap3.srv.test", 993, Security.SSL),
        ("imap1.srv.test", 993, Security.SSL),
        ("imap2.srv.test", 993, Security.SSL),
    ]
    smtp = [(s.host, s.port, s.security) for s in result.servers if s.protocol is Protocol.SMTP]
    assert smtp == [("smtp.srv.test", 465, Security.SSL), ("smtp.srv.test", 587, Security.STARTTLS)]
    pop3 = [(s.host, s.port, s.security) for s in result.servers if s.protocol is Protocol.POP3]
    assert pop3 == [("pop.srv.test", 110, Security.STARTTLS)]
    assert result.imap is not None and result.imap.host == "imap3.srv.test"
    assert result.imap.login_for("jane@srv.test") == "jane@srv.test"
    assert not any("outside" in w for w in result.warnings)


def test_srv_outside_the_domain_is_untrusted(registry: Registry, dns_server: Dnsmasq) -> None:
    result = registry.lookup("a@outside.test", srv=True, resolver=dns_server.resolver())
    assert not result.trusted
    warned = [w for w in result.warnings if "outside" in w]
    assert len(warned) == 1 and "imap.hoster.example" in warned[0] and "RFC 6186" in warned[0]
    lookalike = registry.lookup("a@evil.test", srv=True, resolver=dns_server.resolver())
    assert not lookalike.trusted  # imap.notevil.test is not inside evil.test


def test_srv_not_offered_everywhere_is_not_found(registry: Registry, dns_server: Dnsmasq) -> None:
    with pytest.raises(ProviderNotFoundError, match="no mail SRV records") as caught:
        registry.lookup("a@none.test", srv=True, resolver=dns_server.resolver())
    assert caught.value.tried == ("bundled database", "SRV")


def test_order_of_sources_bundled_mx_srv(registry: Registry, dns_server: Dnsmasq) -> None:
    resolver = dns_server.resolver()
    srv = registry.lookup("a@both.test", mx=True, srv=True, resolver=resolver)
    assert srv.source is Source.SRV and hosts(srv) == ["imap.both.test"]
    mx = registry.lookup("a@mxwins.test", mx=True, srv=True, resolver=resolver)
    assert mx.source is Source.MX and mx.provider.id == "platform.example"
    with pytest.raises(ProviderNotFoundError) as caught:
        registry.lookup("a@nomatch.test", mx=True, srv=True, resolver=resolver)
    assert caught.value.tried == ("bundled database", "MX", "SRV")
    assert "mx1.nowhere.example" in str(caught.value) and "SRV" in str(caught.value)


def test_registry_defaults_and_per_call_overrides(dns_server: Dnsmasq) -> None:
    registry = Registry(
        [PLATFORM], bundled=False, mx=True, resolver=dns_server.resolver(), timeout=5
    )
    assert registry.lookup("a@com.region.test").source is Source.MX
    with pytest.raises(ProviderNotFoundError) as caught:
        registry.lookup("a@com.region.test", mx=False)
    assert caught.value.tried == ("bundled database",)
    assert registry.lookup("a@srv.test", mx=False, srv=True).source is Source.SRV


# --- failures and time budget ------------------------------------------------------


def test_refused_is_a_discovery_error(registry: Registry, dns_server: Dnsmasq) -> None:
    # dnsmasq answers REFUSED outside its local .test zone (it never forwards)
    with pytest.raises(DiscoveryError, match="REFUSED") as caught:
        registry.lookup("a@outside-zone.example", mx=True, resolver=dns_server.resolver())
    assert not isinstance(caught.value, ProviderNotFoundError | DiscoveryTimeoutError)


def test_servfail_is_a_discovery_error_never_not_found(
    registry: Registry, servfail_server: Responder
) -> None:
    resolver = servfail_server.resolver()
    all_options: tuple[LookupOptions, ...] = (
        {"mx": True, "resolver": resolver},
        {"srv": True, "resolver": resolver},
        {"mx": True, "srv": True, "resolver": resolver},
    )
    for options in all_options:
        before = servfail_server.total
        with pytest.raises(DiscoveryError, match="SERVFAIL") as caught:
            registry.lookup("a@servfail.test", **options)
        assert not isinstance(caught.value, ProviderNotFoundError | DiscoveryTimeoutError)
        # each name asked once (twice if a try timed out): a SERVFAIL is not retried
        # until the budget runs out
        names = (1 if options.get("mx") else 0) + (6 if options.get("srv") else 0)
        assert names <= servfail_server.total - before <= 2 * names


def test_unreachable_server_is_a_discovery_error(registry: Registry) -> None:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    resolver = make_resolver(port)
    resolver.timeout = 0.2
    with pytest.raises(DiscoveryError):
        registry.lookup("a@closed.test", mx=True, resolver=resolver, timeout=1)


@pytest.mark.parametrize("budget", [0.3, 0.5])
@pytest.mark.parametrize("per_try", [0.1, 2.0])
def test_silent_server_times_out_within_the_budget(
    registry: Registry, silent_server: Responder, budget: float, per_try: float
) -> None:
    resolver = silent_server.resolver(timeout=per_try)
    started = time.monotonic()
    with pytest.raises(DiscoveryTimeoutError, match="budget") as caught:
        registry.lookup("a@silent.test", mx=True, srv=True, resolver=resolver, timeout=budget)
    elapsed = time.monotonic() - started
    assert isinstance(caught.value, TimeoutError) and isinstance(caught.value, DiscoveryError)
    assert budget * 0.9 <= elapsed < 3 * budget + 1.0


@pytest.mark.parametrize("budget", [0.3, 0.5])
def test_silent_server_times_out_async(
    registry: Registry, silent_server: Responder, budget: float
) -> None:
    resolver = silent_server.resolver(timeout=0.1, asynchronous=True)

    async def main() -> float:
        started = time.monotonic()
        with pytest.raises(DiscoveryTimeoutError):
            await registry.alookup(
                "a@silent.test", mx=True, srv=True, resolver=resolver, timeout=budget
            )
        return time.monotonic() - started

    assert asyncio.run(main()) < 3 * budget + 1.0


def test_dead_first_server_fails_over_to_the_second(
    registry: Registry, silent_server: Responder, dns_server: Dnsmasq
) -> None:
    resolver = make_resolver(silent_server.port, dns_server.port, timeout=0.2)
    result = registry.lookup("a@com.region.test", mx=True, resolver=resolver, timeout=3)
    assert result.provider.id == "platform.example"


def test_the_callers_resolver_is_never_modified(
    registry: Registry, silent_server: Responder
) -> None:
    resolver = silent_server.resolver(timeout=5.0)
    resolver.lifetime = 7.0
    before = copy.copy(vars(resolver))
    default = dns.resolver.default_resolver
    with pytest.raises(DiscoveryTimeoutError):
        registry.lookup("a@silent.test", mx=True, resolver=resolver, timeout=0.3)
    assert vars(resolver) == before
    assert dns.resolver.default_resolver is default  # dnspython's shared resolver untouched


# --- caching -----------------------------------------------------------------------


def test_answers_are_cached_for_their_ttl(registry: Registry, responder: Responder) -> None:
    responder.records = {
        ("cached.test.", "MX"): (60, ["10 mx.platform.example."]),
        ("short.test.", "MX"): (1, ["10 mx.other.example."]),
        ("zero.test.", "MX"): (0, ["10 mx.other.example."]),
    }
    resolver = responder.resolver()
    for _ in range(3):
        assert registry.lookup("a@cached.test", mx=True, resolver=resolver).provider.id == (
            "platform.example"
        )
    assert responder.queries[("cached.test.", "MX")] == 1
    # negative answers are cached too
    for _ in range(2):
        with pytest.raises(DomainNotFoundError):
            registry.lookup("a@gone.test", mx=True, resolver=resolver)
    assert responder.queries[("gone.test.", "MX")] == 1
    # TTL 0 is never cached; a short TTL expires
    for _ in range(2):
        registry.lookup("a@zero.test", mx=True, resolver=resolver)
    assert responder.queries[("zero.test.", "MX")] == 2
    registry.lookup("a@short.test", mx=True, resolver=resolver)
    registry.lookup("a@short.test", mx=True, resolver=resolver)
    assert responder.queries[("short.test.", "MX")] == 1
    time.sleep(1.1)
    registry.lookup("a@short.test", mx=True, resolver=resolver)
    assert responder.queries[("short.test.", "MX")] == 2


def test_cache_is_per_registry_and_per_name_server(responder: Responder) -> None:
    responder.records = {("cached.test.", "MX"): (60, ["10 mx.platform.example."])}
    first, second = (Registry([PLATFORM], bundled=False) for _ in range(2))
    first.lookup("a@cached.test", mx=True, resolver=responder.resolver())
    second.lookup("a@cached.test", mx=True, resolver=responder.resolver())
    assert responder.queries[("cached.test.", "MX")] == 2
    other = Responder("servfail")
    try:
        with pytest.raises(DiscoveryError):  # another server: its own answer, not the cache's
            first.lookup("a@cached.test", mx=True, resolver=other.resolver())
    finally:
        other.stop()


def test_failures_are_not_cached(registry: Registry, responder: Responder) -> None:
    responder.mode = "servfail"
    with pytest.raises(DiscoveryError):
        registry.lookup("a@flaky.test", mx=True, resolver=responder.resolver())
    responder.mode = "answer"
    responder.records = {("flaky.test.", "MX"): (60, ["10 mx.platform.example."])}
    assert registry.lookup("a@flaky.test", mx=True, resolver=responder.resolver()).source is (
        Source.MX
    )


def test_cached_answer_survives_the_server(start_dnsmasq: type[Dnsmasq]) -> None:
    server = start_dnsmasq(["--mx-host=gone-soon.test,mx.platform.example,10"], ttl=300)
    registry = Registry([PLATFORM], bundled=False)
    resolver = server.resolver(timeout=0.2)
    assert registry.lookup("a@gone-soon.test", mx=True, resolver=resolver).source is Source.MX
    server.stop()
    result = registry.lookup("b@gone-soon.test", mx=True, resolver=resolver, timeout=0.5)
    assert result.provider.id == "platform.example"
    with pytest.raises(DiscoveryError):  # anything not cached now fails: the server is gone
        registry.lookup("a@com.region.test", mx=True, resolver=resolver, timeout=0.5)


# --- async twins -------------------------------------------------------------------


def test_async_twins(registry: Registry, dns_server: Dnsmasq) -> None:
    async def main() -> None:
        resolver = dns_server.async_resolver()
        eu = await registry.alookup("a@eu.region.test", mx=True, resolver=resolver)
        assert hosts(eu, Protocol.IMAP) == ["imap.eu.platform.example"]
        srv = await registry.alookup("a@srv.test", srv=True, resolver=resolver)
        assert hosts(srv, Protocol.IMAP) == ["imap3.srv.test", "imap1.srv.test", "imap2.srv.test"]
        with pytest.raises(DomainNotFoundError):
            await registry.alookup("a@no-such-domain.test", mx=True, resolver=resolver)
        with pytest.raises(NoMailError):
            await registry.alookup("a@nullmx.test", mx=True, resolver=resolver)
        # a synchronous resolver works for alookup too (it is only read)
        sync = await registry.alookup("a@in.region.test", mx=True, resolver=dns_server.resolver())
        assert hosts(sync, Protocol.IMAP) == ["imap.in.platform.example"]

    asyncio.run(main())


def test_async_uses_the_cache(registry: Registry, responder: Responder) -> None:
    responder.records = {("cached.test.", "MX"): (60, ["10 mx.platform.example."])}
    resolver = responder.resolver(asynchronous=True)

    async def main() -> None:
        for _ in range(3):
            await registry.alookup("a@cached.test", mx=True, resolver=resolver)

    asyncio.run(main())
    asyncio.run(main())  # another event loop, same registry and cache
    assert responder.queries[("cached.test.", "MX")] == 1


def test_module_level_functions_take_the_options(dns_server: Dnsmasq) -> None:
    resolver = dns_server.resolver()
    with pytest.raises(ProviderNotFoundError, match=r"mx1\.nowhere\.example"):
        mailsettings.lookup("a@nomatch.test", mx=True, resolver=resolver)
    result = asyncio.run(mailsettings.alookup("a@srv.test", srv=True, resolver=resolver))
    assert result.source is Source.SRV


# --- many addresses ----------------------------------------------------------------


def test_lookup_many_order_dedup_and_errors(registry: Registry, responder: Responder) -> None:
    responder.records = {
        ("one.test.", "MX"): (60, ["10 mx.platform.example."]),
        ("two.test.", "MX"): (60, ["10 mx1.eu.platform.example."]),
    }
    addresses = [
        "a@one.test",
        "not an address",
        "b@two.test",
        "c@ONE.test",
        "d@missing.test",
        "e@one.test",
        "f@missing.test",
    ]
    outcomes = registry.lookup_many(addresses, mx=True, resolver=responder.resolver())
    assert len(outcomes) == len(addresses)
    kinds = [type(o).__name__ for o in outcomes]
    assert kinds == [
        "LookupResult",
        "InvalidAddressError",
        "LookupResult",
        "LookupResult",
        "DomainNotFoundError",
        "LookupResult",
        "DomainNotFoundError",
    ]
    one, two = outcomes[0], outcomes[2]
    assert isinstance(one, LookupResult) and isinstance(two, LookupResult)
    assert hosts(two, Protocol.IMAP) == ["imap.eu.platform.example"]
    assert outcomes[3] is one and outcomes[5] is one
    assert responder.queries == {
        ("one.test.", "MX"): 1,
        ("two.test.", "MX"): 1,
        ("missing.test.", "MX"): 1,
    }


def test_lookup_many_is_concurrent(registry: Registry) -> None:
    # the server answers only once it was asked about all eight domains: lookups one
    # after another would each run out of their budget instead
    server = WireResponder(hold_until=8)
    try:
        outcomes = registry.lookup_many(
            [f"a@slow{i}.test" for i in range(8)],
            mx=True,
            resolver=server.resolver(),
            timeout=10,
            concurrency=8,
        )
    finally:
        server.stop()
    assert all(isinstance(o, DomainNotFoundError) for o in outcomes), outcomes
    assert {name for name, _ in server.queries} == {f"slow{i}.test." for i in range(8)}


def test_alookup_many(registry: Registry, dns_server: Dnsmasq) -> None:
    addresses = ["a@eu.region.test", "x@@y", "b@srv.test", "c@eu.region.test", "d@qq.com"]
    outcomes = asyncio.run(
        mailsettings.alookup_many(addresses, mx=True, srv=True, resolver=dns_server.resolver())
    )
    # the default registry knows no test platform: eu.region.test is not found through
    # MX (and has no SRV); srv.test is found through SRV; qq.com is bundled
    assert [type(o).__name__ for o in outcomes] == [
        "ProviderNotFoundError",
        "InvalidAddressError",
        "LookupResult",
        "ProviderNotFoundError",
        "LookupResult",
    ]
    assert outcomes[0] is outcomes[3]
    assert [getattr(o, "source", None) for o in outcomes][2:] == [Source.SRV, None, Source.BUNDLED]
    custom = asyncio.run(
        registry.alookup_many(
            addresses, mx=True, resolver=dns_server.async_resolver(), concurrency=2
        )
    )
    assert [getattr(o, "source", None) for o in custom] == [
        Source.MX,
        None,
        None,
        Source.MX,
        None,
    ]
    assert isinstance(custom[2], ProviderNotFoundError)  # no MX record
    assert isinstance(custom[4], DiscoveryError)  # not bundled here: dnsmasq refuses qq.com


# --- bad input ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("timeout", "error"),
    [
        (0, ValueError),
        (-1, ValueError),
        (float("nan"), ValueError),
        (float("inf"), ValueError),
        ("5", TypeError),
        (True, TypeError),
    ],
)
def test_invalid_timeout(registry: Registry, timeout: object, error: type[Exception]) -> None:
    with pytest.raises(error, match="timeout"):
        registry.lookup("a@unknown.test", mx=True, timeout=timeout)  # type: ignore[arg-type]
    with pytest.raises(error, match="timeout"):
        Registry(timeout=timeout)  # type: ignore[arg-type]


def test_invalid_resolver_and_concurrency(registry: Registry) -> None:
    with pytest.raises(TypeError, match="resolver must be"):
        registry.lookup("a@unknown.test", mx=True, resolver="127.0.0.1")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="concurrency"):
        registry.lookup_many(["a@qq.com"], concurrency=0)
    with pytest.raises(TypeError, match="iterable"):
        registry.lookup_many("a@qq.com")


def test_invalid_addresses_fail_before_any_query(
    registry: Registry, silent_server: Responder
) -> None:
    before = silent_server.total
    for text in ["", "a@@b.test", "a@[127.0.0.1]", "a@" + "x" * 300 + ".test"]:
        with pytest.raises(InvalidAddressError):
            registry.lookup(text, mx=True, srv=True, resolver=silent_server.resolver())
    assert silent_server.total == before


def test_long_domains_do_not_break_srv_names(registry: Registry, dns_server: Dnsmasq) -> None:
    # _submissions._tcp. + a 250-octet domain exceeds DNS's 255-octet limit
    domain = ".".join(["a" * 61] * 4) + ".test"
    with pytest.raises(MailSettingsError):
        registry.lookup(f"a@{domain}", mx=True, srv=True, resolver=dns_server.resolver())


def test_no_dnspython_exception_escapes_or_is_chained(
    registry: Registry, servfail_server: Responder, silent_server: Responder, dns_server: Dnsmasq
) -> None:
    cases = [
        (servfail_server.resolver(), "a@x.test"),
        (silent_server.resolver(timeout=0.1), "a@x.test"),
        (dns_server.resolver(), "a@outside-zone.example"),
        (dns_server.resolver(), "a@no-such-domain.test"),
    ]
    for resolver, address in cases:
        with pytest.raises(MailSettingsError) as caught:
            registry.lookup(address, mx=True, srv=True, resolver=resolver, timeout=0.3)
        error: BaseException | None = caught.value
        while error is not None:
            assert not type(error).__module__.startswith("dns"), repr(error)
            error = error.__cause__ or error.__context__


def test_dnsmasq_is_available() -> None:
    # fails (never skips) with an installation hint when dnsmasq is missing
    assert dnsmasq_binary()


def test_options_are_keyword_only_and_checked_even_for_known_domains(registry: Registry) -> None:
    with pytest.raises(TypeError, match="positional"):
        cast(Any, registry.lookup)("a@qq.com", True)
    with pytest.raises(TypeError, match="positional"):
        cast(Any, mailsettings.lookup)("a@qq.com", True)
    with pytest.raises(TypeError, match="unknown lookup option"):
        registry.lookup("a@qq.com", retries=2)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="timeout"):
        mailsettings.lookup("a@qq.com", timeout=-1)


def test_repeated_not_found_is_served_from_the_cache_as_a_fresh_error(
    registry: Registry, responder: Responder
) -> None:
    responder.records = {("nowhere.test.", "MX"): (60, ["10 mx.nowhere.example."])}
    errors = []
    for _ in range(3):
        with pytest.raises(ProviderNotFoundError) as caught:
            registry.lookup("a@nowhere.test", mx=True, resolver=responder.resolver())
        errors.append(caught.value)
    assert responder.queries[("nowhere.test.", "MX")] == 1
    assert errors[0] is not errors[1] is not errors[2]
    assert {str(e) for e in errors} == {str(errors[0])} and "mx.nowhere.example" in str(errors[0])
    assert all(e.domain == "nowhere.test" and e.tried == ("bundled database", "MX") for e in errors)
