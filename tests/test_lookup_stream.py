"""Registry.lookup_stream and its async twin: order, window, sharing, laziness."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Iterator

import pytest
from dns_servers import Dnsmasq, data_mx_cases

import mailsettings
from mailsettings import (
    DomainNotFoundError,
    InvalidAddressError,
    LookupResult,
    MailSettingsError,
    ProviderNotFoundError,
    Registry,
)
from mailsettings.address import Address
from mailsettings.bulk import astream, stream

MIXED: list[object] = [
    "a@qq.com",
    "bad@@address",
    "nobody@unknown-domain.example",
    "B@QQ.COM",
    b"c@qq.com",
    None,
    "d@163.com",
    "",
]


def kinds(outcomes: object) -> list[str]:
    return [type(outcome).__name__ for outcome in outcomes]  # type: ignore[attr-defined]


def test_outcomes_in_input_order_as_lookup_many_gives_them() -> None:
    registry = Registry()
    streamed = list(registry.lookup_stream(MIXED))  # type: ignore[arg-type]
    many = registry.lookup_many(MIXED)  # type: ignore[arg-type]
    assert kinds(streamed) == kinds(many)
    assert kinds(streamed) == [
        "LookupResult",
        "InvalidAddressError",
        "ProviderNotFoundError",
        "LookupResult",
        "InvalidAddressError",
        "InvalidAddressError",
        "LookupResult",
        "InvalidAddressError",
    ]
    assert streamed[0] is streamed[3]  # one shared result per domain
    for mine, theirs in zip(streamed, many, strict=True):
        assert str(mine) == str(theirs)


def test_module_shortcuts() -> None:
    assert {"lookup_stream", "alookup_stream"} <= set(mailsettings.__all__)
    outcomes = list(mailsettings.lookup_stream(["a@qq.com", "x"], window=1))
    assert kinds(outcomes) == ["LookupResult", "InvalidAddressError"]

    async def collect() -> list[str]:
        return kinds([o async for o in mailsettings.alookup_stream(["a@qq.com", "x"])])

    assert asyncio.run(collect()) == ["LookupResult", "InvalidAddressError"]


def test_the_input_is_read_as_the_outcomes_are_taken() -> None:
    read = 0

    def addresses() -> Iterator[str]:
        nonlocal read
        for number in range(1_000_000):
            read += 1
            yield f"user{number}@qq.com"

    outcomes = Registry().lookup_stream(addresses(), window=8)
    assert read == 0  # nothing before the first outcome is asked for
    first = next(outcomes)
    assert isinstance(first, LookupResult)
    assert read <= 8
    for _ in range(99):
        next(outcomes)
    assert read <= 100 + 8


@pytest.mark.parametrize(
    ("inputs", "window", "error"),
    [
        ("a@qq.com", 4, TypeError),
        (b"a@qq.com", 4, TypeError),
        (["a@qq.com"], 0, ValueError),
        (["a@qq.com"], True, ValueError),
        (["a@qq.com"], 2.5, ValueError),
    ],
)
def test_bad_arguments_raise_at_once(
    inputs: object, window: object, error: type[Exception]
) -> None:
    with pytest.raises(error):
        Registry().lookup_stream(inputs, window=window)  # type: ignore[arg-type]
    with pytest.raises(error):
        Registry().alookup_stream(inputs, window=window)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="unknown lookup option"):
        Registry().lookup_stream(["a@qq.com"], retries=2)  # type: ignore[call-arg]


class Recorder:
    """A lookup that blocks until released and records how many run at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = 0
        self.most = 0
        self.calls: Counter[str] = Counter()
        self.release = threading.Event()
        self.first = threading.Event()  # releases first.example only

    def __call__(self, address: Address) -> LookupResult:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
            self.calls[address.domain] += 1
        (self.first if address.domain == "first.example" else self.release).wait(30)
        with self.lock:
            self.running -= 1
        if address.domain.startswith("missing"):
            raise ProviderNotFoundError("not here", domain=address.domain)
        return mailsettings.lookup("x@qq.com")


def wait_for(recorder: Recorder, running: int) -> None:
    """Wait until ``running`` lookups are running (failing after 30 s)."""
    for _ in range(3000):
        with recorder.lock:
            if recorder.running == running:
                return
        threading.Event().wait(0.01)
    raise AssertionError(f"{recorder.running} lookups running, not {running}")


def test_at_most_window_lookups_run_at_once() -> None:
    recorder = Recorder()
    inputs = [f"user@d{number}.example" for number in range(40)]
    outcomes = stream(recorder, inputs, window=5)
    taker = threading.Thread(target=lambda: list(outcomes))
    taker.start()
    wait_for(recorder, 5)
    recorder.release.set()
    taker.join(30)
    assert recorder.most == 5
    assert sum(recorder.calls.values()) == 40


def test_one_lookup_per_domain_among_the_inputs_held() -> None:
    recorder = Recorder()
    inputs = [
        "a@same.example",
        "b@same.example",
        "c@Same.Example",
        "d@missing.example",
        "e@missing.example",
    ]
    all_read = threading.Event()

    def every_input() -> Iterator[str]:
        yield from inputs
        all_read.set()

    taken: list[LookupResult | MailSettingsError] = []
    taker = threading.Thread(target=lambda: taken.extend(stream(recorder, every_input(), window=8)))
    taker.start()
    assert all_read.wait(30)  # every input is held before either lookup ends
    wait_for(recorder, 2)
    recorder.release.set()
    taker.join(30)
    outcomes = taken
    assert recorder.calls == {"same.example": 1, "missing.example": 1}
    assert outcomes[0] is outcomes[1] is outcomes[2]
    assert isinstance(outcomes[3], ProviderNotFoundError) and outcomes[3] is outcomes[4]
    # With a window of one, every input is its own lookup.
    recorder.calls.clear()
    list(stream(recorder, inputs, window=1))
    assert recorder.calls == {"same.example": 3, "missing.example": 2}


def test_answer_now_skips_the_workers() -> None:
    recorder = Recorder()
    recorder.release.set()
    known = mailsettings.lookup("x@163.com")

    def answer_now(address: Address) -> LookupResult | None:
        return known if address.domain == "known.example" else None

    outcomes = list(stream(recorder, ["a@known.example", "b@other.example"], answer_now=answer_now))
    assert outcomes[0] is known
    assert recorder.calls == {"other.example": 1}


def test_an_unexpected_exception_is_raised_by_the_iterator() -> None:
    def broken(address: Address) -> LookupResult:
        raise RuntimeError("a bug")

    with pytest.raises(RuntimeError, match="a bug"):
        list(stream(broken, ["a@x.example"]))


def test_closing_the_stream_does_not_wait_for_running_lookups() -> None:
    recorder = Recorder()
    inputs = ["a@first.example", *(f"a@d{number}.example" for number in range(10))]
    outcomes = stream(recorder, inputs, window=4)
    taken: list[LookupResult | MailSettingsError] = []
    taker = threading.Thread(target=lambda: taken.append(next(outcomes)))
    taker.start()
    wait_for(recorder, 4)  # the window is full
    recorder.first.set()
    taker.join(30)
    assert isinstance(taken[0], LookupResult)
    wait_for(recorder, 3)  # the other three held are still running
    closer = threading.Thread(target=outcomes.close)  # type: ignore[attr-defined]
    closer.start()
    closer.join(10)
    try:
        assert not closer.is_alive(), "close() waited for lookups that were still running"
        assert recorder.running == 3 and sum(recorder.calls.values()) == 4
    finally:
        recorder.release.set()


def test_async_twin_runs_at_most_window_tasks_and_cancels_on_close() -> None:
    running = most = 0
    cancelled = 0
    gate = asyncio.Event()

    async def lookup(address: Address) -> LookupResult:
        nonlocal running, most, cancelled
        running += 1
        most = max(most, running)
        try:
            if address.domain != "d0.example":
                await gate.wait()
        except asyncio.CancelledError:
            cancelled += 1
            raise
        finally:
            running -= 1
        return mailsettings.lookup("x@qq.com")

    async def scenario() -> None:
        nonlocal most
        inputs = [f"a@d{number}.example" for number in range(20)]
        outcomes = astream(lookup, inputs, window=4)
        first = await outcomes.__anext__()
        assert isinstance(first, LookupResult)
        await asyncio.sleep(0)
        assert most <= 4
        await outcomes.aclose()  # type: ignore[attr-defined]
        for _ in range(3):
            await asyncio.sleep(0)
        assert cancelled >= 1 and running == 0
        gate.set()
        most = 0
        results = [o async for o in astream(lookup, inputs, window=3)]
        assert len(results) == 20 and most <= 3

    asyncio.run(scenario())


_WITH_SERVERS = {p.id for p in mailsettings.providers() if p.servers}
MX_CASES = [(domain, pid) for domain, pid, _ in data_mx_cases() if pid in _WITH_SERVERS]


def test_with_mx_discovery_against_dnsmasq(dns_server: Dnsmasq) -> None:
    registry = Registry(resolver=dns_server.resolver(), timeout=5)
    with_servers = MX_CASES[:30]
    inputs = [f"user{n}@{domain}" for n, (domain, _) in enumerate(with_servers)]
    inputs += ["x@no-such-domain.test", "y@qq.com", "bad@@address", inputs[0]]
    outcomes = list(registry.lookup_stream(inputs, mx=True, window=7))
    assert len(outcomes) == len(inputs)
    for outcome, (_, provider_id) in zip(outcomes, with_servers, strict=False):
        assert isinstance(outcome, LookupResult)
        assert (outcome.provider.id, outcome.source.value) == (provider_id, "mx")
    assert isinstance(outcomes[-4], DomainNotFoundError)
    assert isinstance(outcomes[-3], LookupResult) and outcomes[-3].source.value == "bundled"
    assert isinstance(outcomes[-2], InvalidAddressError)
    assert outcomes[-1] == outcomes[0]


def test_async_with_mx_discovery_against_dnsmasq(dns_server: Dnsmasq) -> None:
    registry = Registry(resolver=dns_server.async_resolver(), timeout=5)
    domains = [domain for domain, _ in MX_CASES][:20]
    inputs = [f"user@{domain}" for domain in domains] + ["z@no-such-domain.test"]

    async def collect() -> list[LookupResult | MailSettingsError]:
        return [o async for o in registry.alookup_stream(inputs, mx=True, window=6)]

    outcomes = asyncio.run(collect())
    assert [getattr(o, "domain", None) for o in outcomes[:-1]] == domains
    assert isinstance(outcomes[-1], DomainNotFoundError)
