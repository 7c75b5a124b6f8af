"""Guessing: probe the host names a self-hosted domain most likely uses (``guess=True``).

Asked last, after every other source found nothing. Eighteen candidates are probed at
once, under the lookup's one budget (:mod:`mailsettings.access.probe`; no credentials):

* IMAP: ``imap.<d>``, ``mail.<d>``, ``<d>`` on 993 (implicit TLS) and 143 (STARTTLS);
* POP3: ``pop3.<d>``, ``pop.<d>``, ``mail.<d>`` on 995 and 110;
* SMTP: ``smtp.<d>``, ``mail.<d>``, ``<d>`` on 465 and 587.

A candidate counts only when its greeting is the protocol's and TLS verifies for that
host name (implicit, or STARTTLS that succeeded). A server that offers no TLS at all is
named in the outcome but returned only with ``allow_plaintext=True``. The result has
source ``guess``, is never trusted, carries a warning, and says in each server's
``note`` what the probe found (TLS version, certificate expiry, SASL mechanisms); each
server's ``auth`` follows the SASL mechanisms offered.
"""

# No ``from __future__ import annotations``: the option annotations are read at run time.
import asyncio
from typing import TYPE_CHECKING, Annotated, Any

from ..enums import SASL_METHODS, AuthMethod, Protocol, Security, Source
from ..models import LookupResult, Server
from ..net import MailOptions
from ..option import Option
from .base import BaseSource, Context

if TYPE_CHECKING:
    from ..access.probe import ProbeResult

__all__ = ["CANDIDATES", "GuessOptions", "GuessSource", "candidates"]

CANDIDATES: tuple[tuple[Protocol, tuple[str, ...], tuple[tuple[int, Security], ...]], ...] = (
    (Protocol.IMAP, ("imap.", "mail.", ""), ((993, Security.SSL), (143, Security.STARTTLS))),
    (Protocol.POP3, ("pop3.", "pop.", "mail."), ((995, Security.SSL), (110, Security.STARTTLS))),
    (Protocol.SMTP, ("smtp.", "mail.", ""), ((465, Security.SSL), (587, Security.STARTTLS))),
)
"""Per protocol: the host-name prefixes and the (port, TLS mode) pairs tried."""

class GuessOptions(MailOptions, total=False):
    """Options of guessing (and of the probes behind it)."""

    guess: Annotated[
        bool, Option(False, "probe the usual mail host names of the domain (last resort)")
    ]
    """Probe the usual mail host names of a domain no other source knows (default off)."""
    allow_plaintext: Annotated[
        bool, Option(False, "accept a guessed server that offers no TLS at all")
    ]
    """Return a guessed server that offers no TLS at all (default off: such servers are
    only named in the outcome)."""


def candidates(domain: str) -> tuple[Server, ...]:
    """The servers guessing probes for ``domain``, in order.

    >>> [f"{s.host}:{s.port}" for s in candidates("example.org")][:4]
    ['imap.example.org:993', 'imap.example.org:143', 'mail.example.org:993', 'mail.example.org:143']
    >>> len(candidates("example.org"))
    18
    """
    return tuple(
        Server(protocol=protocol, host=f"{prefix}{domain}", port=port, security=security)
        for protocol, prefixes, ports in CANDIDATES
        for prefix in prefixes
        for port, security in ports
    )


def _found(probe: "ProbeResult", *, plaintext: bool) -> Server:
    """The server a successful probe found, with what it found in its note."""
    from pydantic import ValidationError

    methods = tuple(
        dict.fromkeys(SASL_METHODS[m] for m in probe.sasl_mechanisms if m in SASL_METHODS)
    )
    fields = {
        **probe.server.model_dump(),
        "auth": methods or (AuthMethod.PASSWORD_CLEARTEXT,),
        "note": f"Found by probing: {probe.describe().partition(': ')[2]}.",
    }
    if plaintext:
        fields["security"] = Security.PLAIN
    try:
        return Server.model_validate(fields)
    except ValidationError:  # what the server said does not fit a note
        return Server.model_validate({**fields, "note": None})


class GuessSource(BaseSource[GuessOptions]):
    """The usual mail host names of the domain, probed."""

    name = Source.GUESS.value
    label = "guessing"
    options = GuessOptions
    switch = "guess"

    async def arun(self, ctx: Context[GuessOptions]) -> LookupResult | None:
        """Probe the eighteen candidates at once; keep those that verify."""
        from ..access.probe import probe_with
        from ..net.budget import Budget
        from ..net.dns import Dns

        options: Any = ctx.options
        domain = ctx.address.domain_ascii
        # The probes end a little before the lookup's deadline, so that what the answering
        # candidates said can still be put together when the others stay silent.
        margin = min(0.2, max(ctx.budget.remaining(), 0.0) * 0.1)
        budget = Budget(ctx.budget.seconds, ctx.budget.deadline - margin)
        dns = Dns(options["resolver"], ctx.dns_cache, budget)
        probes = await asyncio.gather(
            *(
                probe_with(
                    candidate,
                    dns=dns,
                    budget=budget,
                    ssl_context=options["ssl_context"],
                    allow_private_networks=options["allow_private_networks"],
                    allowed_networks=options["allowed_networks"],
                    port_map=options["port_map"],
                )
                for candidate in candidates(domain)
            )
        )
        servers = [
            _found(p, plaintext=False) for p in probes if p.verified_tls and p.failure is None
        ]
        plain = [p for p in probes if p.plaintext_only]
        if options["allow_plaintext"]:
            servers += [_found(p, plaintext=True) for p in plain]
        if not servers:
            self._nothing(ctx, probes, plaintext=bool(plain))
            return None
        warnings = [
            f"Found by probing the usual host names of {ctx.address.domain}: anyone who controls "
            "those names could run these servers. Confirm them with the user before sending a "
            "password."
        ]
        if plain and not options["allow_plaintext"]:
            warnings.append(
                "Servers without TLS were left out: "
                + ", ".join(f"{p.server.host}:{p.port}" for p in plain)
                + "."
            )
        if not any(s.protocol is Protocol.SMTP for s in servers):
            warnings.append("No SMTP server was found.")
        if not any(s.protocol is not Protocol.SMTP for s in servers):
            warnings.append("No IMAP or POP3 server was found.")
        warnings.append(
            "Guessing cannot tell which login name to use; the full address is assumed."
        )
        return ctx.result(
            ctx.domain_provider(tuple(servers)),
            source=Source.GUESS,
            trusted=False,
            warnings=tuple(warnings),
        )

    @staticmethod
    def _nothing(
        ctx: Context[GuessOptions], probes: "list[ProbeResult]", *, plaintext: bool
    ) -> None:
        """Say why no candidate counted; when some only ran out of time, that is temporary."""
        from collections import Counter

        from ..access.probe import ProbeFailure
        from ..errors import DiscoveryTimeoutError

        answered = "; ".join(p.describe() for p in probes if p.reachable)
        silent = Counter(p.failure.value for p in probes if not p.reachable and p.failure)
        counts = ", ".join(f"{count} {failure}" for failure, count in sorted(silent.items()))
        said = "; ".join(part for part in (answered, counts) if part)
        if not answered and silent.get(ProbeFailure.TIMED_OUT.value):
            raise DiscoveryTimeoutError(f"no candidate answered in time ({said})")
        ctx.notes.append(f"guessing found no usable server ({said})")
        if plaintext:
            ctx.notes.append(
                "servers without TLS were found; pass allow_plaintext=True to accept them"
            )
