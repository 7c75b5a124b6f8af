"""What hostile answers cost: SRV floods from a loopback name server, and huge autoconfig files.

* SRV: a name server on 127.0.0.1 (``tests/hostile_servers.py``) answers each of the
  six RFC 6186 names with ``N`` distinct records (1,000, 1,500, and as many as fit in
  one UDP answer: 2,111). ``alookup(srv=True)`` runs beside a task that ticks every
  5 ms; the figures are the lookup's time past its budget (negative: it returned
  early), the longest time the event loop did not tick, and the outcome.
* Autoconfig: ``parse_autoconfig`` of a document with 40,000 distinct ``<domain>``
  elements (just under 1 MiB), against the same document with one domain.

    python benchmarks/hostile_answers.py [--runs 5] [--budgets 1 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from hostile_servers import WireResponder, autoconfig_with_domains, srv_records

from mailsettings import MailSettingsError, Registry
from mailsettings.autoconfig import parse_autoconfig
from mailsettings.sources.srv import SRV_SERVICES

SERVICES = tuple(service for service, _, _ in SRV_SERVICES)
PACKED = 2111
"""SRV records of one name that fit in a 65,507-byte UDP answer (one target, distinct ports)."""


def packed_records(domain: str) -> dict[tuple[str, str], tuple[int, list[str]]]:
    texts = [f"{i // 1000} {i % 1000} {i} a.{domain}." for i in range(PACKED)]
    return {(f"{service}.{domain}.", "SRV"): (60, texts) for service in SERVICES}


async def one_lookup(
    registry: Registry, server: WireResponder, budget: float
) -> tuple[float, float, str]:
    """Time past the budget, the longest event-loop stall, and the outcome's type."""
    gaps: list[float] = []
    done = asyncio.Event()

    async def tick() -> None:
        while not done.is_set():
            before = time.monotonic()
            await asyncio.sleep(0.005)
            gaps.append(time.monotonic() - before)

    ticker = asyncio.create_task(tick())
    started = time.monotonic()
    try:
        outcome = type(
            await registry.alookup(
                "a@many.test", srv=True, resolver=server.resolver(), timeout=budget
            )
        ).__name__
    except MailSettingsError as error:
        outcome = type(error).__name__
    elapsed = time.monotonic() - started
    done.set()
    await ticker
    return elapsed - budget, max(gaps, default=0.0), outcome


def srv_floods(runs: int, budgets: list[float]) -> None:
    print("SRV, six names; median of", runs, "runs (a fresh registry each run)")
    print(
        f"{'records per name':>16} {'budget':>7} {'past budget (median, worst)':>28} "
        f"{'longest stall (median, worst)':>30}  outcomes"
    )
    for label, records in (
        ("1,000", srv_records("many.test", 1000, SERVICES)),
        ("1,500", srv_records("many.test", 1500, SERVICES)),
        (f"{PACKED:,} (packed)", packed_records("many.test")),
    ):
        server = WireResponder(records)
        try:
            for budget in budgets:
                rows = [asyncio.run(one_lookup(Registry(), server, budget)) for _ in range(runs)]
                past = [row[0] for row in rows]
                stall = [row[1] for row in rows]
                outcomes = ", ".join(
                    f"{sum(row[2] == kind for row in rows)} {kind}"
                    for kind in sorted({row[2] for row in rows})
                )
                print(
                    f"{label:>16} {budget:>6g}s {statistics.median(past):>+18.3f}s {max(past):>+7.3f}s "
                    f"{statistics.median(stall):>20.3f}s {max(stall):>7.3f}s  {outcomes}"
                )
        finally:
            server.stop()


def autoconfig_files(runs: int) -> None:
    small = autoconfig_with_domains("hostile.test", 0)
    large = autoconfig_with_domains("hostile.test", 40_000)

    def timed(body: bytes) -> float:
        started = time.perf_counter()
        parse_autoconfig(body)
        return time.perf_counter() - started

    one = statistics.median(timed(small) for _ in range(runs))
    many = statistics.median(timed(large) for _ in range(runs))
    print(
        f"autoconfig: one domain {one * 1000:.2f} ms; 40,000 domains ({len(large):,} bytes) "
        f"{many * 1000:.1f} ms (median of {runs})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--budgets", type=float, nargs="+", default=[1.0, 2.0])
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    srv_floods(args.runs, args.budgets)
    autoconfig_files(args.runs)


if __name__ == "__main__":
    main()
