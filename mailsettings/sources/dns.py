"""MX and SRV discovery with dnspython: the only module that imports :mod:`dns`.

It is imported when a lookup first asks for ``mx=True`` or ``srv=True`` (through
:func:`mailsettings.sources.base.step`), never by ``import mailsettings``.

* **MX** (:data:`MX_STEP`): the domain's MX hosts, lowest preference first, are
  matched against the MX patterns in the registry's provider data. The data is an
  allow-list: an MX host only ever selects a provider that is already there, and no
  name read from DNS becomes a server. The result is untrusted (see
  :func:`_mx_result`).
* **SRV** (:data:`SRV_STEP`): RFC 6186 and RFC 8314 service records. The result is
  trusted only when every target lies inside the queried domain.

**The time budget.** A lookup has one budget, ``timeout`` seconds, that covers every
query it sends. dnspython's ``Resolver.resolve(lifetime=...)`` does not hold its
lifetime: between rounds over the name servers it sleeps a back-off (0.1 s doubling to
2 s) before checking the clock, so a 15 s lifetime with the default 2 s per-try
timeout ends after about 17 s against a silent server. This module therefore drives
the exchange itself with dnspython's public building blocks
(:func:`dns.message.make_query` and :meth:`dns.nameserver.Nameserver.query`): every
try gets ``min(resolver.timeout, time left)``, back-offs are cut to at most half the
time left, and the budget is checked before every try. The caller's resolver is only read (its
name servers, ports, per-try ``timeout``, EDNS, TSIG, ``rotate`` and
``retry_servfail`` settings), never modified, so a ``dns.resolver.Resolver`` and a
``dns.asyncresolver.Resolver`` both work for both :meth:`~Registry.lookup` and
:meth:`~Registry.alookup`. Without a resolver, each registry builds one of its own
from the system's configuration, once; dnspython's shared default resolver is never used.

**Caching.** Answers, negative ones (NXDOMAIN, no records) included, are kept in the
registry's :class:`~mailsettings.sources.base.TTLCache` for their time to live
(dnspython's rules: the answer's smallest TTL; for negative answers the SOA's
negative TTL, or 300 s without an SOA), capped at :data:`MAX_TTL` and
:data:`MAX_NEGATIVE_TTL`, per set of name servers. Failures are not cached.

**Errors.** No dnspython exception escapes: NXDOMAIN of the domain raises
:class:`DomainNotFoundError`, a null MX :class:`NoMailError`; SERVFAIL, REFUSED,
malformed answers and network errors :class:`DiscoveryError`; the end of the budget
:class:`DiscoveryTimeoutError`.
"""

from __future__ import annotations

import asyncio
import random
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import dns.asyncbackend
import dns.exception
import dns.inet
import dns.message
import dns.name
import dns.nameserver
import dns.rcode
import dns.rdatatype
import dns.resolver
import dns.rrset
from pydantic import ValidationError

from ..errors import (
    DiscoveryError,
    DiscoveryTimeoutError,
    DomainNotFoundError,
    NoMailError,
    ProviderNotFoundError,
)
from ..models import (
    LookupResult,
    MxRule,
    Protocol,
    Provider,
    Security,
    Server,
    Source,
)
from .base import Context, Step, TTLCache

if TYPE_CHECKING:
    from ..registry import Registry

__all__ = [
    "MAX_NEGATIVE_TTL",
    "MAX_TTL",
    "MX_STEP",
    "SRV_SERVICES",
    "SRV_STEP",
    "amx_hosts",
    "mx_hosts",
    "resolver_for",
]

MAX_TTL = 86_400
"""Longest time, in seconds, a positive answer is cached, whatever its TTL says."""
MAX_NEGATIVE_TTL = 3_600
"""Longest time a negative answer (NXDOMAIN, no records) is cached."""
CACHE_SIZE = 4096
"""Answers a registry keeps, least recently used dropped first."""

SRV_SERVICES: tuple[tuple[str, Protocol, Security], ...] = (
    ("_submissions._tcp", Protocol.SMTP, Security.SSL),
    ("_submission._tcp", Protocol.SMTP, Security.STARTTLS),
    ("_imaps._tcp", Protocol.IMAP, Security.SSL),
    ("_imap._tcp", Protocol.IMAP, Security.STARTTLS),
    ("_pop3s._tcp", Protocol.POP3, Security.SSL),
    ("_pop3._tcp", Protocol.POP3, Security.STARTTLS),
)
"""The RFC 6186 / RFC 8314 services: ``s`` names are implicit TLS, the others STARTTLS."""

_MX_SHOWN = 5  # MX hosts named in a message

# --- registry state ----------------------------------------------------------


def _cache(registry: Registry) -> TTLCache[tuple[object, ...], _Answer]:
    cache: TTLCache[tuple[object, ...], _Answer] = registry._shared(
        "dns.cache", lambda: TTLCache(CACHE_SIZE)
    )
    return cache


def _mx_index(registry: Registry) -> dict[str, tuple[Provider, MxRule]]:
    """Pattern -> (provider, rule); the registry's own providers win a shared pattern."""

    def build() -> dict[str, tuple[Provider, MxRule]]:
        index: dict[str, tuple[Provider, MxRule]] = {}
        for provider in (*registry.providers(), *registry._own):
            for rule in provider.mx:
                index[rule.pattern] = (provider, rule)
        return index

    index: dict[str, tuple[Provider, MxRule]] = registry._shared("dns.mx-index", build)
    return index


def _resolver(context: Context) -> dns.resolver.BaseResolver:
    resolver = context.resolver
    if resolver is None:
        resolver = context.registry._shared("dns.system-resolver", _system_resolver)
    if not isinstance(resolver, dns.resolver.BaseResolver):
        raise TypeError(
            "resolver must be a dns.resolver.Resolver or dns.asyncresolver.Resolver, "
            f"not {type(resolver).__name__}"
        )
    return resolver


def _system_resolver() -> dns.resolver.BaseResolver:
    """A resolver of our own configured from the system (never dnspython's shared default)."""
    try:
        return dns.resolver.Resolver()
    except (dns.exception.DNSException, OSError) as error:
        raise DiscoveryError(
            f"No DNS resolver is configured on this system ({error}); pass resolver=."
        ) from None


def _nameservers(resolver: dns.resolver.BaseResolver) -> list[dns.nameserver.Nameserver]:
    servers: list[dns.nameserver.Nameserver] = []
    for server in resolver.nameservers:
        if isinstance(server, dns.nameserver.Nameserver):
            servers.append(server)
        elif dns.inet.is_address(server):
            port = resolver.nameserver_ports.get(server, resolver.port)
            servers.append(dns.nameserver.Do53Nameserver(server, port))
        else:  # the resolver's setter accepts only addresses and https URLs
            servers.append(dns.nameserver.DoHNameserver(server))
    if not servers:
        raise DiscoveryError("The DNS resolver has no name servers.")
    return servers


def resolver_for(servers: Sequence[tuple[str, int]]) -> dns.resolver.Resolver:
    """A new resolver asking exactly these ``(IP address, port)`` name servers.

    Nothing is read from the system's configuration.
    """
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [dns.nameserver.Do53Nameserver(host, port) for host, port in servers]
    return resolver


# --- one query: the exchange, with its deadline ------------------------------


@dataclass(frozen=True)
class _Answer:
    """A parsed, cacheable answer."""

    exists: bool
    """False for NXDOMAIN."""
    records: tuple[Any, ...]
    """MX: ``(preference, host)``; SRV: ``(priority, weight, port, target)``; host names
    in lower-case ASCII without the final dot, ``""`` for the root (``.``)."""
    expires: float
    """``time.monotonic()`` value at which the answer's TTL runs out."""


def _seen(context: Context, answer: _Answer) -> _Answer:
    """Note the answer's expiry: the chain caches its outcome no longer than its answers."""
    context.expires = min(context.expires, answer.expires)
    return answer


def _host(name: dns.name.Name) -> str:
    return "" if name == dns.name.root else name.to_text(omit_final_dot=True).lower()


def _parse(rrset: dns.rrset.RRset | None, rdtype: dns.rdatatype.RdataType) -> tuple[Any, ...]:
    if rrset is None:
        return ()
    if rdtype == dns.rdatatype.MX:
        return tuple(sorted((rd.preference, _host(rd.exchange)) for rd in rrset))
    return tuple(sorted((rd.priority, -rd.weight, rd.port, _host(rd.target)) for rd in rrset))


class _Exchange:
    """The state of one query against the resolver's name servers, I/O left to the caller.

    Each try is ``(name server, over TCP, timeout)``; :meth:`next_try` returns a pause
    (float) between rounds, raises :class:`DiscoveryTimeoutError` when the budget is
    spent and :class:`DiscoveryError` when every server failed for good.
    """

    def __init__(
        self,
        resolver: dns.resolver.BaseResolver,
        qname: dns.name.Name,
        rdtype: dns.rdatatype.RdataType,
        context: Context,
    ) -> None:
        self.qname, self.rdtype, self.context = qname, rdtype, context
        self.request = dns.message.make_query(qname, rdtype)
        if resolver.keyname is not None:
            self.request.use_tsig(
                resolver.keyring, resolver.keyname, algorithm=resolver.keyalgorithm
            )
        self.request.use_edns(
            resolver.edns, resolver.ednsflags, resolver.payload, options=resolver.ednsoptions
        )
        if resolver.flags is not None:
            self.request.flags = resolver.flags
        self.per_try = float(resolver.timeout)
        self.retry_servfail = bool(resolver.retry_servfail)
        self.servers = _nameservers(resolver)
        if resolver.rotate:
            random.shuffle(self.servers)
        self.round: list[dns.nameserver.Nameserver] = []
        self.backoff = 0.1
        self.tcp_retry: dns.nameserver.Nameserver | None = None
        self.errors: list[str] = []

    def what(self) -> str:
        return f"{dns.rdatatype.to_text(self.rdtype)} query for {self.qname}"

    def next_try(self) -> tuple[dns.nameserver.Nameserver, bool, float] | float:
        remaining = self.context.remaining()
        if remaining <= 0:
            raise self.timeout()
        if self.tcp_retry is not None:
            server, self.tcp_retry = self.tcp_retry, None
            return server, True, min(self.per_try, remaining) if self.per_try > 0 else remaining
        if not self.round:
            if not self.servers:
                raise DiscoveryError(
                    f"The DNS {self.what()} failed: {'; '.join(self.errors[-4:])}."
                )
            if self.errors:  # a new round after a failed one: pause, within the budget
                # dnspython's back-off (0.1 s doubling to 2 s), but never past the budget:
                # at most half the time left, so another round still has time.
                pause = min(self.backoff, remaining / 2)
                self.backoff = min(self.backoff * 2, 2.0)
                self.round = list(self.servers)
                return pause
            self.round = list(self.servers)
        server = self.round.pop(0)
        timeout = min(self.per_try, remaining) if self.per_try > 0 else remaining
        return server, server.is_always_max_size(), timeout

    def failed(self, server: dns.nameserver.Nameserver, tcp: bool, error: BaseException) -> None:
        """Record an exception from a try."""
        if isinstance(error, dns.message.Truncated) and not tcp:
            self.tcp_retry = server
            return
        if isinstance(error, dns.exception.Timeout):
            self.errors.append(f"{server.answer_nameserver()} did not answer in time")
            return
        self.errors.append(f"{server.answer_nameserver()}: {_describe(error)}")
        self._drop(server)

    def answered(
        self, server: dns.nameserver.Nameserver, response: dns.message.Message
    ) -> tuple[_Answer, float] | None:
        """The answer and its TTL, or ``None`` when the response is a failure (recorded)."""
        rcode = response.rcode()
        where = server.answer_nameserver()
        if rcode in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
            try:
                if not isinstance(response, dns.message.QueryMessage):
                    raise ValueError("not a query response")
                chain = response.resolve_chaining()
                records = _parse(chain.answer, self.rdtype)
            except (dns.exception.DNSException, AttributeError, ValueError) as error:
                self.errors.append(f"{where} sent a malformed answer ({_describe(error)})")
                self._drop(server)
                return None
            exists = rcode == dns.rcode.NOERROR
            cap = MAX_TTL if records else MAX_NEGATIVE_TTL
            ttl = float(min(chain.minimum_ttl, cap))
            return _Answer(exists, records, time.monotonic() + ttl), ttl
        self.errors.append(f"{where} answered {dns.rcode.to_text(rcode)}")
        if rcode != dns.rcode.SERVFAIL or not self.retry_servfail:
            self._drop(server)
        return None

    def _drop(self, server: dns.nameserver.Nameserver) -> None:
        if server in self.servers:
            self.servers.remove(server)
        if server in self.round:
            self.round.remove(server)

    def timeout(self) -> DiscoveryTimeoutError:
        detail = f" ({'; '.join(self.errors[-2:])})" if self.errors else ""
        return DiscoveryTimeoutError(
            f"The DNS lookup for {self.context.address.domain!r} ran out of its "
            f"{self.context.timeout:g} s budget during the {self.what()}{detail}."
        )


def _describe(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return text if len(text) <= 120 else text[:117] + "..."


# resolver -> (its name server list, port, per-server ports, the servers' cache key part)
_SERVER_KEYS: weakref.WeakKeyDictionary[
    dns.resolver.BaseResolver, tuple[object, int, dict[str, int], tuple[str, ...]]
] = weakref.WeakKeyDictionary()


def _key(
    resolver: dns.resolver.BaseResolver, name: str, rdtype: dns.rdatatype.RdataType
) -> tuple[object, ...]:
    """The cache key: the name servers asked (with their ports), the name and the type."""
    known = _SERVER_KEYS.get(resolver)
    if (
        known is None
        or known[0] is not resolver.nameservers
        or known[1] != resolver.port
        or known[2] != resolver.nameserver_ports
    ):
        servers = tuple(str(server) for server in _nameservers(resolver))
        known = (resolver.nameservers, resolver.port, dict(resolver.nameserver_ports), servers)
        _SERVER_KEYS[resolver] = known
    return (known[3], name, int(rdtype))


def _query(context: Context, name: str, rdtype: dns.rdatatype.RdataType) -> _Answer:
    resolver = _resolver(context)
    key, cache = _key(resolver, name, rdtype), _cache(context.registry)
    cached = cache.get(key)
    if cached is not None:
        return _seen(context, cached)
    qname = _qname(name)
    if qname is None:  # too long to exist
        return _Answer(False, (), time.monotonic() + MAX_NEGATIVE_TTL)
    exchange = _Exchange(resolver, qname, rdtype, context)
    while True:
        step = exchange.next_try()
        if isinstance(step, float):
            time.sleep(step)
            continue
        server, tcp, timeout = step
        exchange.request.set_random_id()  # type: ignore[no-untyped-call]
        try:
            response = server.query(
                exchange.request, timeout=timeout, source=None, source_port=0, max_size=tcp
            )
        except Exception as error:  # every I/O failure is a recorded try
            exchange.failed(server, tcp, error)
            continue
        outcome = exchange.answered(server, response)
        if outcome is not None:
            cache.put(key, *outcome)
            return _seen(context, outcome[0])


async def _aquery(context: Context, name: str, rdtype: dns.rdatatype.RdataType) -> _Answer:
    resolver = _resolver(context)
    key, cache = _key(resolver, name, rdtype), _cache(context.registry)
    cached = cache.get(key)
    if cached is not None:
        return _seen(context, cached)
    qname = _qname(name)
    if qname is None:  # too long to exist
        return _Answer(False, (), time.monotonic() + MAX_NEGATIVE_TTL)
    exchange = _Exchange(resolver, qname, rdtype, context)
    backend = dns.asyncbackend.get_default_backend()
    while True:
        step = exchange.next_try()
        if isinstance(step, float):
            await backend.sleep(step)  # type: ignore[no-untyped-call]
            continue
        server, tcp, timeout = step
        exchange.request.set_random_id()  # type: ignore[no-untyped-call]
        try:
            response = await server.async_query(
                exchange.request,
                timeout=timeout,
                source=None,
                source_port=0,
                max_size=tcp,
                backend=backend,
            )
        except Exception as error:  # every I/O failure is a recorded try
            exchange.failed(server, tcp, error)
            continue
        outcome = exchange.answered(server, response)
        if outcome is not None:
            cache.put(key, *outcome)
            return _seen(context, outcome[0])


def _qname(name: str) -> dns.name.Name | None:
    """The absolute query name, or ``None`` when it cannot exist (longer than 255 octets)."""
    try:
        return dns.name.from_text(name, origin=dns.name.root)
    except dns.name.NameTooLong:
        return None
    except dns.exception.DNSException as error:
        raise DiscoveryError(f"{name!r} cannot be queried in DNS ({_describe(error)}).") from None


# --- MX ----------------------------------------------------------------------


def _mx_result(context: Context, answer: _Answer) -> LookupResult | None:
    """The provider an MX host names, or ``None`` (with a note) when none matches.

    MX results are **untrusted**: DNS answers are not authenticated here (no DNSSEC
    validation), and a domain's MX may name a filtering or forwarding service rather
    than the platform that holds its mailboxes. Like Thunderbird, which asks the user
    to confirm a configuration found through MX, the result says so in its warnings.
    The allow-list still holds: only servers from the data are returned.
    """
    address = context.address
    if not answer.exists:
        raise DomainNotFoundError(
            f"The domain {address.domain!r} does not exist (DNS answered NXDOMAIN).",
            domain=address.domain_ascii,
            tried=("bundled database", "MX"),
        )
    hosts = [host for _, host in answer.records]  # sorted by preference, then name
    if hosts and all(host == "" for host in hosts):
        raise NoMailError(
            f"The domain {address.domain!r} accepts no mail (null MX record, RFC 7505).",
            domain=address.domain_ascii,
            tried=("bundled database", "MX"),
        )
    hosts = [host for host in hosts if host]
    context.state["mx_hosts"] = tuple(hosts)
    if not hosts:
        context.notes.append("it has no MX records")
        return None
    index = _mx_index(context.registry)
    for host in hosts:
        match = _match(index, host)
        if match is None:
            continue
        provider, rule = match
        servers = rule.servers if rule.servers is not None else provider.servers
        if not servers:
            raise ProviderNotFoundError(
                f"{provider.name} (MX host {host}) has no known IMAP, POP3 or SMTP server"
                + (f": {provider.status_note}" if provider.status_note else "."),
                domain=address.domain_ascii,
                tried=("bundled database", "MX"),
                provider=provider,
            )
        return LookupResult.create(
            provider,
            domain=address.domain,
            domain_ascii=address.domain_ascii,
            source=Source.MX,
            trusted=False,
            servers=servers,
            warnings=(
                f"Found through the domain's MX record {host}, which belongs to "
                f"{provider.name}. DNS answers are not authenticated (no DNSSEC check), and "
                "a domain may receive mail through a service that does not hold its "
                "mailboxes: confirm the provider with the user before sending a password.",
            ),
            mx_host=host,
        )
    shown = ", ".join(hosts[:_MX_SHOWN]) + (" ..." if len(hosts) > _MX_SHOWN else "")
    context.notes.append(f"its MX hosts ({shown}) match no platform in the database")
    return None


def _match(index: dict[str, tuple[Provider, MxRule]], host: str) -> tuple[Provider, MxRule] | None:
    """The most specific rule covering ``host``: the host itself, then each parent domain."""
    candidate = host
    while True:
        match = index.get(candidate)
        if match is not None:
            return match
        _, dot, candidate = candidate.partition(".")
        if not dot:
            return None


def _mx(context: Context) -> LookupResult | None:
    return _mx_result(context, _query(context, context.address.domain_ascii, dns.rdatatype.MX))


async def _amx(context: Context) -> LookupResult | None:
    answer = await _aquery(context, context.address.domain_ascii, dns.rdatatype.MX)
    return _mx_result(context, answer)


MX_STEP = Step("MX", _mx, _amx)


def _hosts(context: Context, answer: _Answer) -> tuple[str, ...]:
    hosts = tuple(host for _, host in answer.records if host) if answer.exists else ()
    context.state["mx_hosts"] = hosts
    return hosts


def mx_hosts(context: Context) -> tuple[str, ...]:
    """The domain's MX hosts by preference (none for NXDOMAIN or a null MX), from the cache.

    For sources that need the hosts without the MX platform match (``autoconfig=True``
    with ``mx=False``); leaves them in ``context.state["mx_hosts"]`` like the MX step.
    Temporary failures raise :class:`~mailsettings.DiscoveryError`.
    """
    found = context.state.get("mx_hosts")
    if isinstance(found, tuple):
        return found
    return _hosts(context, _query(context, context.address.domain_ascii, dns.rdatatype.MX))


async def amx_hosts(context: Context) -> tuple[str, ...]:
    """Asynchronous twin of :func:`mx_hosts`."""
    found = context.state.get("mx_hosts")
    if isinstance(found, tuple):
        return found
    answer = await _aquery(context, context.address.domain_ascii, dns.rdatatype.MX)
    return _hosts(context, answer)


# --- SRV ---------------------------------------------------------------------


def _srv_result(
    context: Context, outcomes: Sequence[_Answer | DiscoveryError]
) -> LookupResult | None:
    """A provider built from the SRV records, or ``None`` (with a note) when there are none."""
    address = context.address
    domain = address.domain_ascii
    servers: list[Server] = []
    warnings: list[str] = []
    outside: list[str] = []
    failures: list[DiscoveryError] = []
    for (service, protocol, security), outcome in zip(SRV_SERVICES, outcomes, strict=True):
        if isinstance(outcome, DiscoveryError):
            failures.append(outcome)
            continue
        records = [r for r in outcome.records if r[3]]  # "." alone: service not offered
        for _, _, port, target in records:
            try:
                server = Server(protocol=protocol, host=target, port=port, security=security)
            except ValidationError:
                warnings.append(
                    f"Ignored the SRV record {service}.{domain} -> {target[:80]!r}:{port}, "
                    "which is not a usable host name and port."
                )
                continue
            if server in servers:
                continue
            servers.append(server)
            if target != domain and not target.endswith("." + domain) and target not in outside:
                outside.append(target)
    if not servers:
        if failures:
            raise failures[0]
        context.notes.append("it publishes no mail SRV records (RFC 6186)")
        return None
    if failures:
        warnings.append(f"Some SRV queries failed ({failures[0]}); other servers may exist.")
    warnings.extend(
        f"The SRV records point to {target}, outside {domain}: DNS answers are not "
        "authenticated, so RFC 6186 (section 6) asks clients to confirm such a server "
        "with the user."
        for target in outside
    )
    if not any(server.protocol is not Protocol.SMTP for server in servers):
        warnings.append("No IMAP or POP3 service is published in SRV records.")
    warnings.append("SRV records do not say which login name to use; the full address is assumed.")
    provider = Provider(
        id=_provider_id(domain),
        name=address.domain,
        domains=(domain,),
        servers=tuple(servers),
    )
    return LookupResult.create(
        provider,
        domain=address.domain,
        domain_ascii=domain,
        source=Source.SRV,
        trusted=not outside,
        warnings=tuple(warnings),
    )


def _provider_id(domain: str) -> str:
    return domain if len(domain) <= 64 else domain[-64:].lstrip(".-")


def _srv(context: Context) -> LookupResult | None:
    domain = context.address.domain_ascii
    outcomes: list[_Answer | DiscoveryError] = []
    for service, _, _ in SRV_SERVICES:
        try:
            outcomes.append(_query(context, f"{service}.{domain}", dns.rdatatype.SRV))
        except DiscoveryTimeoutError:
            raise
        except DiscoveryError as error:
            outcomes.append(error)
    return _srv_result(context, outcomes)


async def _asrv(context: Context) -> LookupResult | None:
    domain = context.address.domain_ascii
    gathered = await asyncio.gather(
        *(
            _aquery(context, f"{service}.{domain}", dns.rdatatype.SRV)
            for service, _, _ in SRV_SERVICES
        ),
        return_exceptions=True,
    )
    outcomes: list[_Answer | DiscoveryError] = []
    for outcome in gathered:
        if isinstance(outcome, DiscoveryTimeoutError) or (
            isinstance(outcome, BaseException) and not isinstance(outcome, DiscoveryError)
        ):
            raise outcome
        outcomes.append(outcome)
    return _srv_result(context, outcomes)


SRV_STEP = Step("SRV", _srv, _asrv)
