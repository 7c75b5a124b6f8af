"""Check the bundled database against the real servers: ``python -m mailsettings.check [PROVIDER_ID...]``.

Every current server of every bundled provider (or of the providers named) is probed
(:mod:`mailsettings.access.probe`; no credentials), concurrently with a rate limit, and
each problem is reported: unreachable, certificate invalid or expiring within
:data:`EXPIRY_WARNING` days, STARTTLS missing, wrong protocol, SASL mechanisms that
differ from the data, plain text only. It is how the data stays honest between
releases.

Exit status: 0 when no problem was found, 1 when some were, 2 for usage errors.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TextIO

from .enums import SASL_METHODS, AuthMethod, Security
from .models import Provider, Server

if TYPE_CHECKING:
    import ssl

    from .access.probe import ProbeResult

__all__ = ["EXPIRY_WARNING", "ServerCheck", "acheck", "check", "main"]

EXPIRY_WARNING = 30
"""A certificate that expires within this many days is reported."""
_MECHANISMS: dict[AuthMethod, frozenset[str]] = {
    method: frozenset(name for name, named in SASL_METHODS.items() if named is method)
    for method in SASL_METHODS.values()
}
"""The SASL mechanisms that stand for each authentication method."""


@dataclass(frozen=True, slots=True)
class ServerCheck:
    """One server of one provider, probed, with the problems found."""

    provider_id: str
    probe: ProbeResult
    problems: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        """The JSON form of a report line."""
        return {
            "provider": self.provider_id,
            "server": self.probe.server.model_dump(mode="json", exclude_defaults=True),
            "problems": list(self.problems),
            "probe": self.probe.model_dump(mode="json", exclude={"server"}),
        }


def problems(server: Server, found: ProbeResult, *, now: datetime | None = None) -> tuple[str, ...]:
    """What is wrong with ``server`` according to what a probe ``found``."""
    said: list[str] = []
    if found.failure is not None:
        said.append(f"{found.failure.value}: {found.error}")
    if found.reachable and found.protocol_matches:
        expires = found.certificate_expires
        moment = now or datetime.now(UTC)
        if expires is not None and expires - moment < timedelta(days=EXPIRY_WARNING):
            said.append(f"certificate expires on {expires:%Y-%m-%d}")
        if server.security is Security.PLAIN and found.starttls_offered is False:
            said.append("plain text only: no TLS offered")
        offered = set(found.sasl_mechanisms)
        if offered:
            missing = [
                method.value
                for method in server.auth
                if method in _MECHANISMS and not offered & _MECHANISMS[method]
            ]
            if missing:
                said.append(
                    f"SASL mechanisms differ from the data: it says {', '.join(missing)}, "
                    f"the server offers {' '.join(sorted(offered))}"
                )
    return tuple(dict.fromkeys(said))


async def acheck(
    providers: Iterable[Provider],
    *,
    timeout: float = 10.0,
    concurrency: int = 20,
    rate: float = 10.0,
    ssl_context: ssl.SSLContext | None = None,
    resolver: object | None = None,
    allow_private_networks: bool = False,
    port_map: Mapping[int, int] | None = None,
) -> list[ServerCheck]:
    """Probe every current server of ``providers``.

    At most ``concurrency`` probes run at once and ``rate`` start a second; each ends
    within ``timeout`` seconds.
    """
    from .access.probe import aprobe

    jobs = [
        (provider.id, server)
        for provider in providers
        for server in provider.servers
        if not server.legacy and not server.is_template
    ]
    if concurrency < 1 or rate <= 0:
        raise ValueError("concurrency must be at least 1 and rate positive")
    gate = asyncio.Semaphore(concurrency)
    started = time.monotonic()

    async def one(index: int, provider_id: str, server: Server) -> ServerCheck:
        await asyncio.sleep(max(started + index / rate - time.monotonic(), 0))
        async with gate:
            found = await aprobe(
                server,
                timeout=timeout,
                ssl_context=ssl_context,
                resolver=resolver,
                allow_private_networks=allow_private_networks,
                port_map=port_map,
            )
        return ServerCheck(provider_id, found, problems(server, found))

    return list(await asyncio.gather(*(one(i, *job) for i, job in enumerate(jobs))))


def check(providers: Iterable[Provider], **options: Any) -> list[ServerCheck]:
    """Synchronous twin of :func:`acheck`."""
    from .net.runner import run_sync

    return run_sync(acheck(providers, **options))


def _parser() -> argparse.ArgumentParser:
    from .cli import add_connection_arguments

    parser = argparse.ArgumentParser(
        prog="python -m mailsettings.check",
        description="Probe the servers of the bundled providers and report what is wrong.",
        epilog="Exit status: 0 no problem found, 1 problems found, 2 usage error.",
    )
    parser.add_argument(
        "providers", nargs="*", metavar="PROVIDER_ID", help="the providers to check (default: all)"
    )
    parser.add_argument("--json", action="store_true", help="one JSON document per server")
    parser.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="budget of each probe (default 10)",
    )
    parser.add_argument("--concurrency", type=int, default=20, help="probes at once (default 20)")
    parser.add_argument("--rate", type=float, default=10.0, help="new probes a second (default 10)")
    add_connection_arguments(parser)
    parser.add_argument(
        "--allow-private-networks",
        action="store_true",
        help="allow loopback and private addresses (testing)",
    )
    parser.add_argument(
        "--port-map",
        action="append",
        default=[],
        metavar="PORT=PORT",
        help="connect to another port than the standard one (testing); repeatable",
    )
    parser.add_argument("--all", action="store_true", help="list servers without problems too")
    return parser


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None) -> int:
    """Run the check; returns the exit status."""
    from .cli import connection_options
    from .registry import Registry

    out = out or sys.stdout
    parser = _parser()
    args = parser.parse_args(argv)
    registry = Registry()
    chosen: list[Provider] = []
    for provider_id in args.providers:
        provider = registry.get(provider_id)
        if provider is None:
            parser.error(f"no bundled provider has the id {provider_id!r}")
        chosen.append(provider)
    options: dict[str, Any] = {
        "timeout": args.timeout,
        "concurrency": args.concurrency,
        "rate": args.rate,
        "allow_private_networks": args.allow_private_networks,
    }
    try:
        options["port_map"] = {
            int(a): int(b) for a, _, b in (item.partition("=") for item in args.port_map)
        }
    except ValueError as error:
        parser.error(str(error))
    options.update(connection_options(parser, args))
    checks = check(chosen or list(registry.providers()), **options)
    bad = [item for item in checks if item.problems]
    for item in checks if args.all else bad:
        if args.json:
            out.write(json.dumps(item.as_json(), ensure_ascii=False) + "\n")
        else:
            where = f"{item.provider_id}: {item.probe.server.protocol.value.upper()} {item.probe.describe()}"
            out.write(where + "".join(f"\n    {problem}" for problem in item.problems) + "\n")
    if not args.json:
        out.write(f"{len(checks)} servers checked, {len(bad)} with problems\n")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
