"""Soak test: memory stays flat over a million lookups, and bounded over 100,000 MX lookups.

Two parts, each in this process, with the resident set size (RSS, from ``/proc``)
sampled as it goes:

* ``mixed`` — ``--lookups`` (default 1,000,000) offline lookups through
  ``mailsettings.lookup`` of a repeating mix of inputs: known domains typed plainly, in
  mixed case, with spaces or a full-width ``＠``; distinct unknown domains; distinct
  internationalized domains; invalid inputs (two ``@``, non-strings, 1,000-character
  strings). Every outcome is checked to be a result or a documented error.
* ``mx`` — ``--unknown`` (default 100,000) distinct unknown domains looked up with
  ``mx=True`` through ``Registry.lookup_many`` against dnsmasq on 127.0.0.1, which
  answers NXDOMAIN for each: every outcome is a ``DomainNotFoundError`` and goes into
  the registry's outcome cache, which is bounded.

Nothing leaves 127.0.0.1.

    python benchmarks/soak.py [--part mixed|mx|both] [--lookups 1000000] [--unknown 100000]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import dns.nameserver
import dns.resolver

import mailsettings
from mailsettings import (
    DomainNotFoundError,
    InvalidAddressError,
    LookupResult,
    ProviderNotFoundError,
    Registry,
)

MiB = 1 << 20
PAGE = os.sysconf("SC_PAGE_SIZE")


def rss() -> int:
    """The resident set size now, in bytes."""
    return int(Path("/proc/self/statm").read_text().split()[1]) * PAGE


def peak_rss() -> int:
    """The largest resident set size so far, in bytes (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def report(samples: list[tuple[int, int]], label: str) -> None:
    """Print RSS samples ``(done, bytes)`` and the growth after the first tenth."""
    warm = samples[max(1, len(samples) // 10)]
    last = samples[-1]
    highest = max(value for _, value in samples)
    print(f"{label}: RSS by lookups done (MiB):")
    step = max(1, len(samples) // 10)
    print("  " + "  ".join(f"{done:>9,}: {value / MiB:6.1f}" for done, value in samples[::step]))
    print(
        f"  after {warm[0]:,}: {warm[1] / MiB:.1f} MiB; at the end: {last[1] / MiB:.1f} MiB; "
        f"growth since then {(last[1] - warm[1]) / MiB:+.1f} MiB; highest sample "
        f"{highest / MiB:.1f} MiB; peak RSS of the process {peak_rss() / MiB:.1f} MiB"
    )


# --- mixed offline lookups -----------------------------------------------------------------


def mixed_inputs(known: list[str]) -> Iterator[tuple[str, object]]:
    """An endless, deterministic mix of ``(kind, input)``."""
    index = 0
    while True:
        domain = known[index % len(known)]
        yield "known", f"user{index}@{domain}"
        yield "mixed case", f"User{index}@{domain.upper()}"
        yield "spaces, full-width @", f"  user{index}＠{domain} "
        yield "unknown", f"user@unknown{index}.example"
        yield "IDN", f"用户{index}@例子{index}.中国"
        yield "invalid", f"bad@@{domain}"
        yield "non-string", f"user{index}@{domain}".encode()
        yield "long", "x" * 1000 + f"{index}@{domain}"
        index += 1


def soak_mixed(lookups: int, every: int) -> None:
    known = sorted({d for p in mailsettings.providers() if p.servers for d in p.domains})
    counts: dict[str, int] = {}
    samples = [(0, rss())]
    inputs = mixed_inputs(known)
    lookup: Callable[..., LookupResult] = mailsettings.lookup
    started = time.perf_counter()
    for done in range(1, lookups + 1):
        kind, value = next(inputs)
        try:
            lookup(value)
            outcome = "result"
        except InvalidAddressError:
            outcome = "invalid"
        except ProviderNotFoundError:
            outcome = "not found"
        counts[f"{kind} -> {outcome}"] = counts.get(f"{kind} -> {outcome}", 0) + 1
        if done % every == 0:
            samples.append((done, rss()))
    elapsed = time.perf_counter() - started
    print(f"mixed: {lookups:,} lookups in {elapsed:.1f} s ({elapsed / lookups * 1e6:.2f} µs each)")
    for name in sorted(counts):
        print(f"  {name}: {counts[name]:,}")
    report(samples, "mixed")


# --- MX lookups of unknown domains ------------------------------------------------------------


def soak_mx(unknown: int, chunk: int, concurrency: int) -> None:
    from dns_bulk import start_dnsmasq  # beside this file

    process, port, config = start_dnsmasq([])
    try:
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [dns.nameserver.Do53Nameserver("127.0.0.1", port)]
        registry = Registry()
        samples = [(0, rss())]
        started = time.perf_counter()
        for first in range(0, unknown, chunk):
            addresses = [f"user@u{i}.soak.test" for i in range(first, min(first + chunk, unknown))]
            rows = registry.lookup_many(
                addresses, mx=True, resolver=resolver, concurrency=concurrency
            )
            strays = [row for row in rows if not isinstance(row, DomainNotFoundError)]
            if strays:
                raise SystemExit(f"unexpected outcome: {strays[0]!r}")
            samples.append((first + len(addresses), rss()))
        elapsed = time.perf_counter() - started
        engine = registry._discovery()
        print(
            f"mx: {unknown:,} unknown domains in {elapsed:.1f} s ({unknown / elapsed:,.0f} "
            f"domains/s, concurrency {concurrency}); cached outcomes {len(engine.outcomes):,}, "
            f"DNS answers {len(engine.dns_cache):,}"
        )
        report(samples, "mx")
    finally:
        process.terminate()
        process.wait(5)
        os.unlink(config)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=["mixed", "mx", "both"], default="both")
    parser.add_argument("--lookups", type=int, default=1_000_000)
    parser.add_argument("--unknown", type=int, default=100_000)
    parser.add_argument("--chunk", type=int, default=2_000, help="addresses per lookup_many call")
    parser.add_argument("--concurrency", type=int, default=50)
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, mailsettings {mailsettings.__version__}"
    )
    if args.part in ("mixed", "both"):
        soak_mixed(args.lookups, every=max(1, args.lookups // 50))
    if args.part in ("mx", "both"):
        soak_mx(args.unknown, args.chunk, args.concurrency)


if __name__ == "__main__":
    main()
