"""Warm lookup speed: ``mailsettings.lookup`` against a minimal dictionary lookup.

The baseline only splits at ``@``, lower-cases and does one ``dict.get``; mailsettings
validates every input fully. Both run in the same process, interleaved, over the same
20,000 distinct addresses at known domains; the figure is the ratio of medians.

    python benchmarks/lookup_speed.py [--rounds 15]
"""

from __future__ import annotations

import argparse
import platform
import random
import re
import statistics
import time
from collections.abc import Callable

import mailsettings


def addresses(count: int, domains: list[str], seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyz0123456789._-"
    result: set[str] = set()
    while len(result) < count:
        local = rng.choice("abcdefghijklmnopqrstuvwxyz") + "".join(
            rng.choice(letters) for _ in range(rng.randint(3, 14))
        )
        local = re.sub(r"\.+", ".", local).rstrip(".")
        result.add(f"{local}@{rng.choice(domains)}")
    return sorted(result, key=lambda _: rng.random())


def time_per_call(function: Callable[[str], object], inputs: list[str]) -> float:
    started = time.perf_counter()
    for text in inputs:
        function(text)
    return (time.perf_counter() - started) / len(inputs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--count", type=int, default=20_000)
    args = parser.parse_args()

    domains = sorted(d for p in mailsettings.providers() if p.servers for d in p.domains)
    table = {domain: object() for domain in domains}
    inputs = addresses(args.count, domains)

    def baseline(address: str) -> object:
        return table.get(address.split("@", 1)[1].lower())

    lookup = mailsettings.lookup
    for text in inputs:  # warm: every domain's result built once
        lookup(text)
    ours, base = [], []
    for _ in range(args.rounds):
        base.append(time_per_call(baseline, inputs))
        ours.append(time_per_call(lookup, inputs))
    ours_median, base_median = statistics.median(ours), statistics.median(base)
    print(
        f"machine: {platform.machine()}, {platform.python_implementation()} "
        f"{platform.python_version()}, {len(domains)} known domains, "
        f"{len(inputs)} distinct addresses, {args.rounds} rounds"
    )
    print(f"baseline (split, lower, dict.get): {base_median * 1e9:8.0f} ns per lookup (median)")
    print(f"mailsettings.lookup:               {ours_median * 1e9:8.0f} ns per lookup (median)")
    print(f"ratio: {ours_median / base_median:.2f}x  (bar 5x, goal 3x)")


if __name__ == "__main__":
    main()
