"""Nothing of a lookup outlives it: no thread, socket or executor job, no traceback in a cache.

A silent name server on loopback (``dns_servers.silent_server``) makes every lookup
run to the end of its budget. ``socket.getaddrinfo`` is replaced by one that never
answers, as a silent system resolver does: a second name-resolution path would leave a
thread behind (and keep ``asyncio.run`` waiting for it), and shows up here. The
library's own resolver without ``resolver=`` is the silent server too.
"""

from __future__ import annotations

import asyncio
import gc
import socket
import threading
import time
import types
from collections.abc import Iterator
from typing import Any

import pytest
from dns_servers import Dnsmasq, Responder
from hostile_servers import Sampler, back_to, process_state

import mailsettings.engine
from mailsettings import (
    DiscoveryTimeoutError,
    DomainNotFoundError,
    ProviderNotFoundError,
    Registry,
)
from mailsettings.options import LookupOptions

BUDGET = 1.0
GRACE = 0.2
"""How long after a lookup returns its threads and sockets may take to be gone."""

ALL_SOURCES: LookupOptions = {"autoconfig": True, "mx": True, "srv": True, "autodiscover": True}


@pytest.fixture
def silent_getaddrinfo(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[object]]:
    """``socket.getaddrinfo`` that never answers (until the test ends); yields the hosts asked."""
    asked: list[object] = []
    released = threading.Event()

    def never(host: object, *args: object, **kwargs: object) -> Any:
        asked.append(host)
        released.wait(10)
        raise socket.gaierror(socket.EAI_AGAIN, "the system resolver did not answer")

    monkeypatch.setattr(socket, "getaddrinfo", never)
    yield asked
    released.set()


@pytest.fixture(params=["resolver given", "system resolver"])
def silent_resolver(
    request: pytest.FixtureRequest,
    silent_server: Responder,
    monkeypatch: pytest.MonkeyPatch,
    silent_getaddrinfo: list[object],
) -> Any:
    """The ``resolver`` option: the silent server, given or as the system's resolver."""
    if request.param == "resolver given":
        return silent_server.resolver()
    monkeypatch.setattr("mailsettings.net.dns.system_resolver", silent_server.resolver)
    return None


@pytest.mark.parametrize("sources", [{"autoconfig": True}, ALL_SOURCES], ids=["autoconfig", "all"])
def test_asyncio_run_of_alookup_leaves_nothing_running(
    silent_resolver: Any, silent_getaddrinfo: list[object], sources: LookupOptions
) -> None:
    registry = Registry()
    options: LookupOptions = {**sources, "resolver": silent_resolver, "timeout": BUDGET}
    baseline = process_state()
    started = time.monotonic()
    with pytest.raises(DiscoveryTimeoutError):
        asyncio.run(registry.alookup("a@quiet.test", **options))
    elapsed = time.monotonic() - started
    assert elapsed < 3 * BUDGET + 1.0
    assert back_to(baseline, GRACE) == baseline  # threads (Python, native), sockets
    assert silent_getaddrinfo == []


@pytest.mark.parametrize("sources", [{"autoconfig": True}, ALL_SOURCES], ids=["autoconfig", "all"])
def test_lookup_leaves_nothing_running(
    silent_resolver: Any, silent_getaddrinfo: list[object], sources: LookupOptions
) -> None:
    registry = Registry()
    options: LookupOptions = {**sources, "resolver": silent_resolver, "timeout": BUDGET}
    baseline = process_state()
    started = time.monotonic()
    with pytest.raises(DiscoveryTimeoutError):
        registry.lookup("a@quiet.test", **options)
    assert time.monotonic() - started < 3 * BUDGET + 1.0
    assert back_to(baseline, GRACE) == baseline
    assert silent_getaddrinfo == []


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_200_silent_domains_run_in_a_handful_of_threads(
    silent_resolver: Any, silent_getaddrinfo: list[object], mode: str
) -> None:
    addresses = [f"user@quiet{index}.test" for index in range(200)]
    options: LookupOptions = {"autoconfig": True, "resolver": silent_resolver, "timeout": BUDGET}
    registry = Registry()
    with Sampler() as sampler:
        baseline = process_state()
        started = time.monotonic()
        if mode == "sync":
            rows = registry.lookup_many(addresses, concurrency=100, **options)
        else:
            rows = asyncio.run(registry.alookup_many(addresses, concurrency=100, **options))
        elapsed = time.monotonic() - started
        after = back_to(baseline, GRACE)
    assert all(isinstance(row, DiscoveryTimeoutError) for row in rows), rows[:3]
    assert elapsed < 2 * (3 * BUDGET + 1.0)  # two rounds of 100 lookups
    assert sampler.peak_python - sampler.baseline_python <= 2
    assert sampler.peak_native - sampler.baseline_native <= 2
    assert after == baseline
    assert silent_getaddrinfo == []


def test_sync_lookup_inside_an_event_loop_leaves_nothing_running(
    silent_server: Responder, silent_getaddrinfo: list[object]
) -> None:
    # a synchronous call from a coroutine runs on a private loop in a worker thread
    registry = Registry()

    async def main() -> None:
        with pytest.raises(DiscoveryTimeoutError):
            registry.lookup(
                "a@quiet.test", autoconfig=True, resolver=silent_server.resolver(), timeout=BUDGET
            )

    baseline = process_state()
    asyncio.run(main())
    assert back_to(baseline, GRACE) == baseline
    assert silent_getaddrinfo == []


# --- the outcome cache ------------------------------------------------------------------


def reachable_runtime_state(root: object, limit: int = 20_000) -> list[object]:
    """Frames and tracebacks reachable from ``root`` (not descending into code or modules)."""
    found: list[object] = []
    seen: set[int] = set()
    stack = [root]
    while stack and len(seen) < limit:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, types.FrameType | types.TracebackType):
            found.append(item)
            continue
        if isinstance(item, type | types.ModuleType | types.FunctionType | types.CodeType):
            continue
        stack.extend(gc.get_referents(item))
    return found


def test_the_cache_keeps_outcomes_not_tracebacks(dns_server: Dnsmasq) -> None:
    registry = Registry()
    domains = [f"unknown{index}.test" for index in range(300)]
    rows = registry.lookup_many(
        [f"a@{domain}" for domain in domains], mx=True, resolver=dns_server.resolver()
    )
    assert all(isinstance(row, DomainNotFoundError) for row in rows)
    outcomes = registry._discovery().outcomes
    cached = [value for _, value in outcomes._entries.values()]
    assert len(cached) == len(domains)
    for error in cached:
        assert isinstance(error, ProviderNotFoundError)
        assert error.__traceback__ is None
        assert error.__context__ is None and error.__cause__ is None
        assert reachable_runtime_state(error) == []
    assert {error.domain for error in cached if isinstance(error, ProviderNotFoundError)} == set(
        domains
    )

    # a cached "not found" is raised as a fresh copy, equal in what it says
    with pytest.raises(DomainNotFoundError) as first:
        registry.lookup("a@unknown7.test", mx=True, resolver=dns_server.resolver())
    with pytest.raises(DomainNotFoundError) as second:
        registry.lookup("a@unknown7.test", mx=True, resolver=dns_server.resolver())
    assert first.value is not second.value
    assert str(first.value) == str(second.value) and first.value.domain == "unknown7.test"
    assert all(
        error.__traceback__ is None
        for _, error in outcomes._entries.values()
        if isinstance(error, ProviderNotFoundError)
    )


def test_no_traceback_is_cached_where_exception_reducers_copy_them(dns_server: Dnsmasq) -> None:
    # Dask's ``distributed`` installs tblib's reducers for every exception class, which
    # ``copy.copy`` would use too: the traceback and its frames would stay in the cache
    pickling_support = pytest.importorskip("tblib.pickling_support")
    pickling_support.install()
    registry = Registry()
    rows = registry.lookup_many(
        [f"a@tblib{index}.test" for index in range(20)], mx=True, resolver=dns_server.resolver()
    )
    assert all(isinstance(row, DomainNotFoundError) and row.__traceback__ for row in rows)
    for _, error in registry._discovery().outcomes._entries.values():
        assert isinstance(error, ProviderNotFoundError)
        assert error.__traceback__ is None
        assert reachable_runtime_state(error) == []


def test_the_caches_are_bounded(dns_server: Dnsmasq, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mailsettings.engine, "OUTCOMES", 50)
    monkeypatch.setattr(mailsettings.engine, "DNS_ANSWERS", 80)
    registry = Registry()
    rows = registry.lookup_many(
        [f"a@bounded{index}.test" for index in range(200)], mx=True, resolver=dns_server.resolver()
    )
    assert all(isinstance(row, DomainNotFoundError) for row in rows)
    engine = registry._discovery()
    assert len(engine.outcomes) == 50
    assert len(engine.dns_cache) == 80
