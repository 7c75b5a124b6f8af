"""MX discovery: the domain's MX hosts matched against the platforms in the provider store.

The store's MX patterns are an allow-list: an MX host only ever selects a provider that
is already there, and no name read from DNS becomes a server. The result is
**untrusted**: DNS answers are not authenticated here (no DNSSEC validation), and a
domain's MX may name a filtering or forwarding service rather than the platform that
holds its mailboxes. Like Thunderbird, which asks the user to confirm a configuration
found through MX, the result says so in its warnings.

NXDOMAIN raises :class:`~mailsettings.DomainNotFoundError`, a null MX (RFC 7505)
:class:`~mailsettings.NoMailError`.
"""

# No ``from __future__ import annotations``: the option annotations are read at run time.
from typing import Annotated, Any

from ..errors import DomainNotFoundError, NoMailError, ProviderNotFoundError
from ..models import LookupResult, Source
from ..net import NetworkOptions
from ..option import Option
from .base import BaseSource, Context

__all__ = ["MxOptions", "MxSource", "read_mx_hosts"]

_MX_SHOWN = 5  # MX hosts named in a message


class MxOptions(NetworkOptions, total=False):
    """Options of MX discovery."""

    mx: Annotated[bool, Option(False, "match the domain's MX records against known platforms")]
    """Match the domain's MX hosts against the platforms in the database (default off)."""


async def read_mx_hosts(ctx: Context[Any], *, strict: bool = False) -> tuple[str, ...]:
    """The domain's MX hosts by preference, read once per lookup (``ctx.mx_hosts``).

    With ``strict``, NXDOMAIN raises :class:`DomainNotFoundError` and a null MX
    :class:`NoMailError`; otherwise both give no hosts.
    """
    if ctx.mx_hosts is not None and not strict:
        return ctx.mx_hosts
    address = ctx.address
    answer = await ctx.dns.query(address.domain_ascii, "MX")
    names = [host for _, host in answer.records] if answer.exists else []
    ctx.mx_hosts = tuple(host for host in names if host)
    if strict and not answer.exists:
        raise DomainNotFoundError(
            f"The domain {address.domain!r} does not exist (DNS answered NXDOMAIN).",
            domain=address.domain_ascii,
            tried=("bundled database", "MX"),
        )
    if strict and names and not ctx.mx_hosts:
        raise NoMailError(
            f"The domain {address.domain!r} accepts no mail (null MX record, RFC 7505).",
            domain=address.domain_ascii,
            tried=("bundled database", "MX"),
        )
    return ctx.mx_hosts


class MxSource(BaseSource[MxOptions]):
    """The domain's MX hosts against the store's MX patterns."""

    name = Source.MX.value
    label = "MX"
    options = MxOptions
    switch = "mx"

    async def arun(self, ctx: Context[MxOptions]) -> LookupResult | None:
        """Match the MX hosts, most preferred first; the first match wins."""
        hosts = await read_mx_hosts(ctx, strict=True)
        if not hosts:
            ctx.notes.append("it has no MX records")
            return None
        for host in hosts:
            match = ctx.store.match_mx(host)
            if match is None:
                continue
            provider, rule = match
            servers = rule.servers if rule.servers is not None else provider.servers
            if not servers:
                raise ProviderNotFoundError(
                    f"{provider.name} (MX host {host}) has no known IMAP, POP3 or SMTP server"
                    + (f": {provider.status_note}" if provider.status_note else "."),
                    domain=ctx.address.domain_ascii,
                    tried=("bundled database", self.label),
                    provider=provider,
                )
            return ctx.result(
                provider,
                source=Source.MX,
                trusted=False,
                servers=servers,
                warnings=(
                    f"Found through the domain's MX record {host}, which belongs to "
                    f"{provider.name}. DNS answers are not authenticated (no DNSSEC check), "
                    "and a domain may receive mail through a service that does not hold its "
                    "mailboxes: confirm the provider with the user before sending a password.",
                ),
                mx_host=host,
            )
        shown = ", ".join(hosts[:_MX_SHOWN]) + (" ..." if len(hosts) > _MX_SHOWN else "")
        ctx.notes.append(f"its MX hosts ({shown}) match no platform in the database")
        return None
