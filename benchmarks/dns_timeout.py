"""How far a lookup overshoots its time budget against a DNS server that never answers.

A UDP socket on 127.0.0.1 receives the queries and never answers. For each budget,
the script times, in the same run and alternately:

* ``Registry.lookup(..., mx=True, timeout=budget)`` (sync) and ``alookup`` (async),
  with a resolver whose per-try timeout is dnspython's default (2 s);
* dnspython's own ``Resolver.resolve(name, "MX", lifetime=budget)`` with the same
  resolver settings, the baseline the budget enforcement replaces.

It prints the median overshoot (elapsed minus budget) of ``--runs`` runs each.

    python benchmarks/dns_timeout.py [--budgets 1 2 5] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import socket
import statistics
import time
from collections.abc import Callable

import dns.asyncresolver
import dns.exception
import dns.nameserver
import dns.resolver
import dns.version

from mailsettings import DiscoveryTimeoutError, Registry


def resolver(port: int, asynchronous: bool = False) -> dns.resolver.BaseResolver:
    made: dns.resolver.BaseResolver = (
        dns.asyncresolver.Resolver(configure=False)
        if asynchronous
        else dns.resolver.Resolver(configure=False)
    )
    made.nameservers = [dns.nameserver.Do53Nameserver("127.0.0.1", port)]
    made.timeout = 2.0  # dnspython's default per-try timeout
    return made


def timed(call: Callable[[float, list[int]], None], budget: float, counter: list[int]) -> float:
    started = time.monotonic()
    call(budget, counter)
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--budgets", type=float, nargs="+", default=[1.0, 2.0, 5.0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))  # receives, never answers
    port = silent.getsockname()[1]
    sync_resolver = resolver(port)
    async_resolver = resolver(port, asynchronous=True)
    assert isinstance(sync_resolver, dns.resolver.Resolver)
    assert isinstance(async_resolver, dns.asyncresolver.Resolver)

    def ours(budget: float, counter: list[int]) -> None:
        counter[0] += 1  # a new domain each time: nothing comes from the cache
        try:
            Registry(bundled=False).lookup(
                f"a@silent{counter[0]}.test", mx=True, timeout=budget, resolver=sync_resolver
            )
        except DiscoveryTimeoutError:
            return
        raise AssertionError("expected a timeout")

    def ours_async(budget: float, counter: list[int]) -> None:
        counter[0] += 1
        try:
            asyncio.run(
                Registry(bundled=False).alookup(
                    f"a@silent{counter[0]}.test", mx=True, timeout=budget, resolver=async_resolver
                )
            )
        except DiscoveryTimeoutError:
            return
        raise AssertionError("expected a timeout")

    def theirs(budget: float, counter: list[int]) -> None:
        counter[0] += 1
        try:
            sync_resolver.resolve(f"silent{counter[0]}.test.", "MX", lifetime=budget)
        except dns.exception.Timeout:
            return
        raise AssertionError("expected a timeout")

    contenders = {
        "mailsettings lookup (sync)": ours,
        "mailsettings alookup (async)": ours_async,
        "dnspython resolve(lifetime=)": theirs,
    }
    counter = [0]
    print(
        f"machine: {platform.machine()}, Python {platform.python_version()}, dnspython "
        f"{dns.version.version}; silent server on 127.0.0.1; per-try timeout 2 s; "
        f"median of {args.runs} runs"
    )
    print(f"{'budget':>7}  " + "  ".join(f"{name:>30}" for name in contenders))
    for budget in args.budgets:
        overshoot: dict[str, list[float]] = {name: [] for name in contenders}
        for _ in range(args.runs):
            for name, call in contenders.items():
                overshoot[name].append(timed(call, budget, counter) - budget)
        cells = [f"{statistics.median(overshoot[name]):+29.3f}s" for name in contenders]
        print(f"{budget:6.1f}s  " + "  ".join(cells))
    silent.close()


if __name__ == "__main__":
    main()
