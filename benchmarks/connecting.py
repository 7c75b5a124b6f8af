"""Guessing and verifying on loopback: wall time against the budget, time per verification.

Starts the test suite's Dovecot and Postfix (tests/mail_servers.py; run as root, as
.ci/run does) and a dnsmasq, then measures, each ``--runs`` times (medians):

* **guess, most candidates silent**: ``lookup(guess=True, timeout=BUDGET)`` for a domain
  whose IMAP-over-TLS and SMTP-over-TLS candidates answer (the real servers) and whose
  other sixteen candidates are silent servers: the wall time against the budget;
* **guess, every candidate answering**: the wall time against the slowest of the same
  eighteen probes run concurrently (``aprobe``, as guessing runs them);
* **verify**: ``verify`` of IMAP + SMTP for one user, the time per verification;
* **100 concurrent averify** under one event loop with a budget: the wall time and how
  many finished within it.

    python benchmarks/connecting.py [--runs 5] [--budget 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import socket
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import mailsettings
from mailsettings.sources.guess import candidates


def silent_server(host: str) -> tuple[socket.socket, int]:
    """A listener on ``host`` that accepts and never says a word (closed at exit)."""
    listener = socket.socket()
    listener.bind((host, 0))
    listener.listen(64)
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                held.append(listener.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    return listener, int(listener.getsockname()[1])


def guess_mostly_silent(
    servers: Any, common: dict[str, Any], silent: int, runs: int, budget: float
) -> None:
    """993 and 465 go to the real servers, the rest to a server that never answers."""
    mostly = dict.fromkeys((993, 143, 995, 110, 465, 587), silent)
    mostly.update({993: servers.port_map[993], 465: servers.port_map[465]})
    walls = []
    for _ in range(runs):
        registry = mailsettings.Registry(guess=True, port_map=mostly, timeout=budget, **common)
        started = time.monotonic()
        try:
            registry.lookup(f"alice@{servers.domain}")
        except mailsettings.MailSettingsError as error:
            print("  outcome:", type(error).__name__, str(error)[:120])
        walls.append(time.monotonic() - started)
    wall = statistics.median(walls)
    print(
        f"guess, 16 of 18 candidates silent: median {wall:.3f} s for a {budget:g} s budget "
        f"({wall - budget:+.3f} s)"
    )


def guess_answering(servers: Any, common: dict[str, Any], runs: int) -> None:
    """Every candidate answers: the guess against the slowest of the same probes run at once."""

    async def concurrent_probes() -> float:
        found = await asyncio.gather(
            *(
                mailsettings.aprobe(s, port_map=servers.port_map, **common)
                for s in candidates(servers.domain)
            )
        )
        return max(p.seconds for p in found if p.verified_tls)

    ratios = []
    for _ in range(runs):
        slowest = asyncio.run(concurrent_probes())
        registry = mailsettings.Registry(
            guess=True, port_map=servers.port_map, timeout=10, **common
        )
        started = time.monotonic()
        registry.lookup(f"alice@{servers.domain}")
        ratios.append((time.monotonic() - started) / slowest)
    print(
        f"guess, every candidate answering: median {statistics.median(ratios):.2f}x the "
        "slowest of the same probes run concurrently"
    )


def verifying(servers: Any, common: dict[str, Any], runs: int, budget: float) -> None:
    """verify IMAP + SMTP one at a time, then 100 at once under one budget."""
    alice = servers.full_address_user
    options = {
        "address": alice.address,
        "password": alice.password,
        "allow_untrusted": True,
        "port_map": servers.port_map,
        **common,
    }
    target = mailsettings.Registry(guess=True, port_map=servers.port_map, **common).lookup(
        alice.address
    )
    times = []
    for _ in range(runs):
        started = time.monotonic()
        assert mailsettings.verify(target, **options).ok
        times.append(time.monotonic() - started)
    print(f"verify IMAP + SMTP: median {statistics.median(times) * 1000:.0f} ms per verification")

    async def many() -> tuple[float, int]:
        started = time.monotonic()
        results = await asyncio.gather(
            *(mailsettings.averify(target, timeout=budget, **options) for _ in range(100))
        )
        return time.monotonic() - started, sum(v.ok for v in results)

    concurrent = [asyncio.run(many()) for _ in range(runs)]
    wall = statistics.median(c[0] for c in concurrent)
    print(
        f"100 concurrent averify, budget {budget:g} s: median {wall:.3f} s, "
        f"{statistics.median(c[1] for c in concurrent):.0f} of 100 verified"
    )


def main() -> None:
    from dns_servers import Dnsmasq
    from mail_servers import DOMAIN, MAIL_HOST, start_mail_servers

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--budget", type=float, default=2.0)
    args = parser.parse_args()
    servers = start_mail_servers()
    names = Dnsmasq([f"--address=/{DOMAIN}/{MAIL_HOST}"])
    listener, silent = silent_server(MAIL_HOST)
    try:
        common: dict[str, Any] = {
            "ssl_context": servers.client_context(),
            "resolver": names.resolver(),
            "allow_private_networks": True,
        }
        print(
            f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
            f"{platform.python_version()}; {args.runs} runs, budget {args.budget:g} s"
        )
        guess_mostly_silent(servers, common, silent, args.runs, args.budget)
        guess_answering(servers, common, args.runs)
        verifying(servers, common, args.runs, args.budget)
    finally:
        listener.close()
        names.stop()
        servers.stop()


if __name__ == "__main__":
    main()
