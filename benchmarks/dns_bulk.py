"""Bulk MX discovery throughput against dnsmasq on 127.0.0.1, and the cache's speed-up.

Starts dnsmasq (Debian's ``dnsmasq-base``) serving one MX record for each of
``--count`` distinct domains under ``.test``, each naming a platform of the bundled
data, then looks all of them up with ``alookup_many`` (and ``lookup_many``) on a fresh
registry: a first pass that queries, and a second pass over the same domains that the
registry's cache serves. Nothing leaves 127.0.0.1.

    python benchmarks/dns_bulk.py [--count 1000] [--concurrency 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable

import dns.asyncresolver
import dns.nameserver
import dns.resolver

import mailsettings
from mailsettings import LookupResult, MailSettingsError, Registry


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_dnsmasq(lines: list[str]) -> tuple[subprocess.Popen[bytes], int, str]:
    binary = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
    if not os.access(binary, os.X_OK):
        raise SystemExit("dnsmasq is missing: apt-get install dnsmasq-base")
    config = tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False)  # noqa: SIM115
    config.write("\n".join(lines) + "\n")
    config.close()
    port = free_port()
    command = [
        binary,
        "--keep-in-foreground",
        f"--conf-file={config.name}",
        "--no-resolv",
        "--no-hosts",
        "--local=/test/",
        "--local-ttl=300",
        f"--port={port}",
        "--listen-address=127.0.0.1",
        "--bind-interfaces",
        "--pid-file=",
    ]
    if os.geteuid() == 0:
        command.append("--user=root")
    process = subprocess.Popen(command, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    return process, port, config.name


def timed(call: Callable[[], list[LookupResult | MailSettingsError]]) -> tuple[float, int]:
    started = time.perf_counter()
    outcomes = call()
    elapsed = time.perf_counter() - started
    return elapsed, sum(isinstance(o, LookupResult) for o in outcomes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=20)
    args = parser.parse_args()

    patterns = sorted(rule.pattern for p in mailsettings.providers() if p.servers for rule in p.mx)
    if not patterns:
        raise SystemExit("the bundled data has no MX rules")
    lines = [f"mx-host=d{i}.bench.test,{patterns[i % len(patterns)]},10" for i in range(args.count)]
    process, port, config = start_dnsmasq(lines)
    try:
        sync_resolver = dns.resolver.Resolver(configure=False)
        sync_resolver.nameservers = [dns.nameserver.Do53Nameserver("127.0.0.1", port)]
        async_resolver = dns.asyncresolver.Resolver(configure=False)
        async_resolver.nameservers = [dns.nameserver.Do53Nameserver("127.0.0.1", port)]
        addresses = [f"user{i}@d{i}.bench.test" for i in range(args.count)]
        print(
            f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
            f"{platform.python_version()}; {args.count} distinct domains, dnsmasq on "
            f"127.0.0.1, concurrency {args.concurrency}"
        )
        for name, run in (
            ("alookup_many", "async"),
            ("lookup_many", "sync"),
        ):
            registry = Registry()

            def once(
                registry: Registry = registry, run: str = run
            ) -> list[LookupResult | MailSettingsError]:
                if run == "async":
                    return asyncio.run(
                        registry.alookup_many(
                            addresses,
                            mx=True,
                            resolver=async_resolver,
                            concurrency=args.concurrency,
                        )
                    )
                return registry.lookup_many(
                    addresses, mx=True, resolver=sync_resolver, concurrency=args.concurrency
                )

            first, found = timed(once)
            second, again = timed(once)
            assert found == again == args.count, (found, again)
            print(
                f"{name:22} first pass {first:6.2f} s ({args.count / first:7.0f} domains/s); "
                f"cached pass {second * 1000:7.1f} ms ({args.count / second:9.0f} domains/s); "
                f"speed-up {first / second:5.0f}x"
            )
    finally:
        process.terminate()
        process.wait(5)
        os.unlink(config)


if __name__ == "__main__":
    main()
