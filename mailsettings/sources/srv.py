"""SRV discovery: the domain's RFC 6186 / RFC 8314 service records.

The six services are queried at once. A target that is ``.`` means the service is not
offered; a target that is an IP address or ``localhost`` is ignored unless
``allow_private_networks``. At most :data:`mailsettings.net.dns.MAX_RECORDS` records of
each service are read. The result is trusted only when every target lies inside the
queried domain (RFC 6186, section 6); SRV records do not say which login name to use,
so the full address is assumed.
"""

# No ``from __future__ import annotations``: the option annotations are read at run time.
import asyncio
from typing import Annotated

from pydantic import ValidationError

from ..errors import DiscoveryError, DiscoveryTimeoutError
from ..models import LookupResult, Protocol, Security, Server, Source
from ..net import NetworkOptions
from ..net.policy import usable_host, within_domain
from ..option import Option
from .base import BaseSource, Context

__all__ = ["SRV_SERVICES", "SrvOptions", "SrvSource"]

SRV_SERVICES: tuple[tuple[str, Protocol, Security], ...] = (
    ("_submissions._tcp", Protocol.SMTP, Security.SSL),
    ("_submission._tcp", Protocol.SMTP, Security.STARTTLS),
    ("_imaps._tcp", Protocol.IMAP, Security.SSL),
    ("_imap._tcp", Protocol.IMAP, Security.STARTTLS),
    ("_pop3s._tcp", Protocol.POP3, Security.SSL),
    ("_pop3._tcp", Protocol.POP3, Security.STARTTLS),
)
"""The RFC 6186 / RFC 8314 services: ``s`` names are implicit TLS, the others STARTTLS."""


class SrvOptions(NetworkOptions, total=False):
    """Options of SRV discovery."""

    srv: Annotated[bool, Option(False, "read the domain's RFC 6186 SRV records")]
    """Read the domain's RFC 6186 / RFC 8314 SRV records (default off)."""


class SrvSource(BaseSource[SrvOptions]):
    """Servers from the domain's SRV records."""

    name = Source.SRV.value
    label = "SRV"
    options = SrvOptions
    switch = "srv"

    async def arun(self, ctx: Context[SrvOptions]) -> LookupResult | None:
        """Query the six services at once and build a provider from their targets."""
        domain = ctx.address.domain_ascii
        outcomes = await asyncio.gather(
            *(ctx.dns.query(f"{service}.{domain}", "SRV") for service, _, _ in SRV_SERVICES),
            return_exceptions=True,
        )
        allow_private = ctx.options["allow_private_networks"]
        servers: dict[tuple[object, ...], Server] = {}
        warnings: list[str] = []
        outside: dict[str, None] = {}
        failures: list[DiscoveryError] = []
        for (service, protocol, security), outcome in zip(SRV_SERVICES, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                if isinstance(outcome, DiscoveryTimeoutError) or not isinstance(
                    outcome, DiscoveryError
                ):
                    raise outcome
                failures.append(outcome)
                continue
            if outcome.truncated:
                warnings.append(
                    f"Only the first {len(outcome.records)} SRV records of {service}.{domain} "
                    "were read."
                )
            for _, _, port, target in outcome.records:
                if not target:
                    continue  # "." alone: service not offered
                if not usable_host(target, allow_private_networks=allow_private):
                    warnings.append(
                        f"Ignored the SRV record {service}.{domain} -> {target[:80]!r}: an IP "
                        "address or local name is not used as a server."
                    )
                    continue
                key = (protocol, target, port, security)
                if key in servers:
                    continue
                try:
                    servers[key] = Server(
                        protocol=protocol, host=target, port=port, security=security
                    )
                except ValidationError:
                    warnings.append(
                        f"Ignored the SRV record {service}.{domain} -> {target[:80]!r}:{port}, "
                        "which is not a usable host name and port."
                    )
                    continue
                if not within_domain(target, domain):
                    outside[target] = None
        if not servers:
            if failures:
                raise failures[0]
            ctx.notes.append("it publishes no mail SRV records (RFC 6186)")
            return None
        if failures:
            warnings.append(f"Some SRV queries failed ({failures[0]}); other servers may exist.")
        warnings.extend(
            f"The SRV records point to {target}, outside {domain}: DNS answers are not "
            "authenticated, so RFC 6186 (section 6) asks clients to confirm such a server "
            "with the user."
            for target in outside
        )
        if not any(server.protocol is not Protocol.SMTP for server in servers.values()):
            warnings.append("No IMAP or POP3 service is published in SRV records.")
        warnings.append(
            "SRV records do not say which login name to use; the full address is assumed."
        )
        return ctx.result(
            ctx.domain_provider(tuple(servers.values())),
            source=Source.SRV,
            trusted=not outside,
            warnings=tuple(warnings),
        )
