"""Hostile answers from the network: huge, malformed or pointing inward, within the budget.

Real servers on loopback only: :class:`hostile_servers.WireResponder` for DNS answers no
real name server would send (six SRV names of 1,500 records), the HTTPS server and
dnsmasq of ``https_server`` for autoconfig files. A budget test asserts the outcome's
type and an elapsed time under 3 x budget + 1 s; how far past the budget a lookup
returns is measured by the benchmarks, not asserted here.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest
from hostile_servers import WireResponder, autoconfig_with_domains, srv_records
from https_server import AUTOCONFIG_PATH, Network, config_xml, reply

from mailsettings import (
    DiscoveryTimeoutError,
    InvalidAddressError,
    LookupResult,
    MailSettingsError,
    ProviderNotFoundError,
    Registry,
    Source,
)
from mailsettings._autoconfig_xml import MAX_DOMAINS
from mailsettings.net.dns import MAX_RECORDS
from mailsettings.options import LookupOptions
from mailsettings.sources.srv import SRV_SERVICES

T = TypeVar("T")

SERVICES = tuple(service for service, _, _ in SRV_SERVICES)
BUDGET = 2.0


def within_budget(seconds: float, budget: float = BUDGET) -> bool:
    return seconds < 3 * budget + 1.0


def autoconfig_options(net: Network, **extra: Any) -> LookupOptions:
    """Live autoconfig against the loopback servers, within :data:`BUDGET` unless told."""
    return net.autoconfig_options(**{"timeout": BUDGET, **extra})


def outcome(call: Callable[[], T]) -> T | MailSettingsError:
    try:
        return call()
    except MailSettingsError as error:
        return error


async def ticking(lookup: Awaitable[T]) -> tuple[T | MailSettingsError, float, int]:
    """Run ``lookup`` beside a task that ticks every 5 ms; its outcome, the longest gap, ticks."""
    gaps: list[float] = []
    done = asyncio.Event()

    async def tick() -> None:
        while not done.is_set():
            started = time.monotonic()
            await asyncio.sleep(0.005)
            gaps.append(time.monotonic() - started)

    ticker = asyncio.create_task(tick())
    try:
        result: T | MailSettingsError = await lookup
    except MailSettingsError as error:
        result = error
    finally:
        done.set()
        await ticker
    return result, max(gaps, default=0.0), len(gaps)


@pytest.fixture
def many_srv() -> Any:
    """A factory of responders serving six SRV names of ``count`` records each."""
    started: list[WireResponder] = []

    def start(count: int) -> WireResponder:
        server = WireResponder(srv_records("many.test", count, SERVICES))
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


# --- SRV -------------------------------------------------------------------------------


def most_preferred(count: int) -> set[tuple[str, str, str, int]]:
    """The servers the most preferred :data:`MAX_RECORDS` records of each service name."""
    expected: set[tuple[str, str, str, int]] = set()
    for _, protocol, security in SRV_SERVICES:
        records = sorted(
            (index % 7, -(index % 1000), 1024 + index, f"h{index}.many.test")
            for index in range(count)
        )[:MAX_RECORDS]
        expected |= {(protocol.value, security.value, host, port) for _, _, port, host in records}
    return expected


@pytest.mark.parametrize("count", [1000, 1500])
def test_srv_reads_at_most_max_records_per_name(many_srv: Any, count: int) -> None:
    server = many_srv(count)
    result = Registry().lookup("a@many.test", srv=True, resolver=server.resolver(), timeout=20)
    assert isinstance(result, LookupResult) and result.source is Source.SRV
    servers = {(s.protocol.value, s.security.value, s.host, s.port) for s in result.servers}
    assert servers == most_preferred(count)  # 64 per name, the most preferred ones
    for service in SERVICES:
        assert f"Only the first {MAX_RECORDS} SRV records of {service}.many.test were read." in (
            result.warnings
        )
    assert {name for name, _ in server.queries} == {f"{service}.many.test." for service in SERVICES}


@pytest.mark.parametrize("count", [1000, 1500])
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_srv_flood_within_the_budget(many_srv: Any, count: int, mode: str) -> None:
    server = many_srv(count)
    registry = Registry()
    started = time.monotonic()
    if mode == "sync":
        found = outcome(
            lambda: registry.lookup(
                "a@many.test", srv=True, resolver=server.resolver(), timeout=BUDGET
            )
        )
    else:
        found = outcome(
            lambda: asyncio.run(
                registry.alookup(
                    "a@many.test", srv=True, resolver=server.resolver(), timeout=BUDGET
                )
            )
        )
    elapsed = time.monotonic() - started
    assert isinstance(found, LookupResult | DiscoveryTimeoutError), found
    assert within_budget(elapsed), elapsed
    if isinstance(found, LookupResult):
        assert len(found.servers) <= MAX_RECORDS * len(SERVICES)


def test_srv_flood_does_not_block_the_event_loop(many_srv: Any) -> None:
    server = many_srv(1500)
    lookup = Registry().alookup("a@many.test", srv=True, resolver=server.resolver(), timeout=BUDGET)
    found, longest_gap, ticks = asyncio.run(ticking(lookup))
    assert isinstance(found, LookupResult | DiscoveryTimeoutError), found
    assert ticks > 0
    assert longest_gap < BUDGET, longest_gap


INWARD_TARGETS = (
    "127.0.0.1.",
    "localhost.",
    "LocalHost.",
    "mail.localhost.",
    "10.0.0.1.",
    "0.0.0.0.",
    "::1.",
    "[::1].",
    "127.1.",
)


@pytest.mark.parametrize("allow_private_networks", [False, True])
def test_srv_targets_at_addresses_or_localhost(allow_private_networks: bool) -> None:
    records = {
        ("_imaps._tcp.inward.test.", "SRV"): (
            60,
            [f"0 0 993 {target}" for target in (*INWARD_TARGETS, "imap.inward.test.")],
        ),
        ("_submissions._tcp.inward.test.", "SRV"): (60, ["0 0 465 127.0.0.1."]),
    }
    server = WireResponder(records)
    try:
        result = Registry().lookup(
            "a@inward.test",
            srv=True,
            resolver=server.resolver(),
            allow_private_networks=allow_private_networks,
        )
    finally:
        server.stop()
    hosts = {(s.protocol.value, s.host) for s in result.servers}
    if allow_private_networks:
        # what the server model accepts as a host: the local bridge address, and names
        assert hosts == {
            ("imap", "imap.inward.test"),
            ("imap", "127.0.0.1"),
            ("imap", "mail.localhost"),
            ("smtp", "127.0.0.1"),
        }
        assert not result.trusted  # targets outside the domain
    else:
        assert hosts == {("imap", "imap.inward.test")}
        assert result.trusted
        assert any("127.0.0.1" in warning and "not used" in warning for warning in result.warnings)


# --- autoconfig files ------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_autoconfig_file_of_40000_domains_within_the_budget(net: Network, mode: str) -> None:
    body = autoconfig_with_domains("hostile.test", 40_000)
    assert 1_000_000 < len(body) <= 1 << 20
    net.https.route("autoconfig.hostile.test", AUTOCONFIG_PATH, reply(200, body))
    registry = Registry()
    started = time.monotonic()
    if mode == "sync":
        found = outcome(lambda: registry.lookup("a@hostile.test", **autoconfig_options(net)))
    else:
        found = outcome(
            lambda: asyncio.run(registry.alookup("a@hostile.test", **autoconfig_options(net)))
        )
    elapsed = time.monotonic() - started
    assert within_budget(elapsed), elapsed
    assert isinstance(found, LookupResult | DiscoveryTimeoutError), found
    if isinstance(found, LookupResult):
        assert found.source is Source.AUTOCONFIG
        assert found.provider.domains[0] == "hostile.test"
        assert len(found.provider.domains) == MAX_DOMAINS
        assert f"Read the first {MAX_DOMAINS} of 40001 <domain> elements." in found.warnings


def test_autoconfig_file_of_40000_domains_does_not_block_the_event_loop(net: Network) -> None:
    body = autoconfig_with_domains("hostile.test", 40_000)
    net.https.route("autoconfig.hostile.test", AUTOCONFIG_PATH, reply(200, body))
    lookup = Registry().alookup("a@hostile.test", **autoconfig_options(net))
    found, longest_gap, ticks = asyncio.run(ticking(lookup))
    assert isinstance(found, LookupResult | DiscoveryTimeoutError), found
    assert ticks > 0
    assert longest_gap < BUDGET, longest_gap


UNKNOWN_ENCODINGS = ("hex", "base64", "mbcs", "nonexistent", "rot13", "zlib_codec", "utf-16")


@pytest.mark.parametrize("encoding", UNKNOWN_ENCODINGS)
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_hostile_encoding_is_that_domains_outcome(net: Network, encoding: str, mode: str) -> None:
    declared = config_xml("hostile.test").replace(
        b'encoding="UTF-8"', f'encoding="{encoding}"'.encode()
    )
    assert f'encoding="{encoding}"'.encode() in declared
    net.https.route("autoconfig.hostile.test", AUTOCONFIG_PATH, reply(200, declared))
    net.https.route(
        "autoconfig.example.test", AUTOCONFIG_PATH, reply(200, config_xml("example.test"))
    )
    addresses = ["a@hostile.test", "b@example.test", "bad@@address", "c@qq.com", "d@hostile.test"]
    registry = Registry()
    options = autoconfig_options(net, timeout=10.0)
    if mode == "sync":
        rows = registry.lookup_many(addresses, **options)
    else:
        rows = asyncio.run(registry.alookup_many(addresses, **options))
    hostile, example, bad, bundled, hostile_again = rows
    assert isinstance(hostile, ProviderNotFoundError), hostile
    assert "encoding" in str(hostile)
    assert hostile_again is hostile
    assert isinstance(example, LookupResult) and example.source is Source.AUTOCONFIG
    assert isinstance(bad, InvalidAddressError)
    assert isinstance(bundled, LookupResult) and bundled.source is Source.BUNDLED
    with pytest.raises(ProviderNotFoundError, match="encoding"):
        registry.lookup("e@hostile.test", **options)
