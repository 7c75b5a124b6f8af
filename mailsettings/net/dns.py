"""Every DNS query of the library, under one budget and one cache: the only module importing dnspython.

Discovery sources ask it for records (:meth:`Dns.query`), and the HTTP and mail
protocol code asks it for the addresses of host names (:meth:`Dns.addresses`): there is
no second resolution path (no ``getaddrinfo``), so every name a lookup resolves is
bounded by the lookup's budget and shares its cache.

**The time budget.** dnspython's ``Resolver.resolve(lifetime=...)`` does not hold its
lifetime: between rounds over the name servers it sleeps a back-off (0.1 s doubling to
2 s) before checking the clock, so a 15 s lifetime with the default 2 s per-try timeout
ends after about 17 s against a silent server. This module drives the exchange itself
with dnspython's public building blocks (:func:`dns.message.make_query` and
:meth:`dns.nameserver.Nameserver.async_query`): every try gets ``min(resolver.timeout,
time left)``, back-offs are cut to at most half the time left, and the budget is
checked before every try. The caller's resolver is only read (its name servers, ports,
per-try ``timeout``, EDNS, TSIG, ``rotate`` and ``retry_servfail`` settings), never
modified, so a ``dns.resolver.Resolver`` and a ``dns.asyncresolver.Resolver`` both work.
Without a resolver, one configured from the system (``/etc/resolv.conf``) is built once;
dnspython's shared default resolver is never used.

**Caching.** Answers, negative ones (NXDOMAIN, no records) included, are kept in the
registry's :class:`~mailsettings.cache.TTLCache` for their time to live (the answer's
smallest TTL; for negative answers the SOA's negative TTL, or 300 s without an SOA),
capped at :data:`MAX_TTL` and :data:`MAX_NEGATIVE_TTL`, per set of name servers.
Failures are not cached.

**Hostile answers.** At most :data:`MAX_RECORDS` records of an answer are used (the
most preferred ones); parsing is linear in the answer's size.

**Errors.** No dnspython exception escapes: SERVFAIL, REFUSED, malformed answers and
network errors raise :class:`~mailsettings.DiscoveryError`, the end of the budget
:class:`~mailsettings.DiscoveryTimeoutError`. NXDOMAIN is an answer
(:attr:`Answer.exists` is false), for the caller to interpret.
"""

from __future__ import annotations

import asyncio
import functools
import random
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

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

from ..cache import TTLCache
from ..errors import DiscoveryError, DiscoveryTimeoutError
from .budget import Budget

__all__ = [
    "CACHE_SIZE",
    "MAX_NEGATIVE_TTL",
    "MAX_RECORDS",
    "MAX_TTL",
    "Answer",
    "Dns",
    "check_resolver",
    "resolver_for",
    "system_resolver",
]

MAX_TTL = 86_400
"""Longest time, in seconds, a positive answer is cached, whatever its TTL says."""
MAX_NEGATIVE_TTL = 3_600
"""Longest time a negative answer (NXDOMAIN, no records) is cached."""
CACHE_SIZE = 4096
"""Answers a registry keeps, least recently used dropped first."""
MAX_RECORDS = 64
"""Records of one answer that are used, most preferred first; the rest are ignored."""

AnyResolver = dns.resolver.BaseResolver


def check_resolver(value: object) -> AnyResolver | None:
    """``value`` when it is ``None`` or a dnspython resolver, else :class:`TypeError`."""
    if value is None or isinstance(value, dns.resolver.BaseResolver):
        return value
    raise TypeError(
        "resolver must be a dns.resolver.Resolver or dns.asyncresolver.Resolver, "
        f"not {type(value).__name__}"
    )


@functools.cache
def system_resolver() -> dns.resolver.Resolver:
    """A resolver of our own configured from the system (never dnspython's shared default)."""
    try:
        return dns.resolver.Resolver()
    except (dns.exception.DNSException, OSError) as error:
        raise DiscoveryError(
            f"No DNS resolver is configured on this system ({error}); pass resolver=."
        ) from None


def resolver_for(servers: Sequence[tuple[str, int]]) -> dns.resolver.Resolver:
    """A new resolver asking exactly these ``(IP address, port)`` name servers.

    Nothing is read from the system's configuration.

    >>> resolver_for([("127.0.0.1", 5353)]).nameservers[0].port
    5353
    """
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [dns.nameserver.Do53Nameserver(host, port) for host, port in servers]
    return resolver


def _nameservers(resolver: AnyResolver) -> list[dns.nameserver.Nameserver]:
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


# resolver -> (its name server list, port, per-server ports, the servers' cache key part)
_SERVER_KEYS: weakref.WeakKeyDictionary[
    AnyResolver, tuple[object, int, dict[str, int], tuple[str, ...]]
] = weakref.WeakKeyDictionary()


def resolver_key(resolver: AnyResolver) -> tuple[str, ...]:
    """What a resolver asks: its name servers with their ports (a cache key part)."""
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
    return known[3]


# --- answers -------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """A parsed, cacheable answer."""

    exists: bool
    """False for NXDOMAIN."""
    records: tuple[Any, ...]
    """MX: ``(preference, host)``; SRV: ``(priority, -weight, port, target)``; TXT: the
    text (its strings joined, UTF-8); A/AAAA: the address as text. Host names are lower-case ASCII without the final dot, ``""`` for
    the root (``.``). Sorted, most preferred first; at most :data:`MAX_RECORDS`."""
    expires: float
    """``time.monotonic()`` value at which the answer's TTL runs out."""
    truncated: bool = False
    """Whether the answer had more than :data:`MAX_RECORDS` records."""


def _host(name: dns.name.Name) -> str:
    return "" if name == dns.name.root else name.to_text(omit_final_dot=True).lower()


def _parse(
    rrset: dns.rrset.RRset | None, rdtype: dns.rdatatype.RdataType
) -> tuple[tuple[Any, ...], bool]:
    if rrset is None:
        return (), False
    records: list[Any]
    if rdtype == dns.rdatatype.MX:
        records = sorted((rd.preference, _host(rd.exchange)) for rd in rrset)
    elif rdtype == dns.rdatatype.SRV:
        records = sorted((rd.priority, -rd.weight, rd.port, _host(rd.target)) for rd in rrset)
    elif rdtype == dns.rdatatype.TXT:
        records = [b"".join(rd.strings).decode("utf-8", "replace") for rd in rrset]
    else:
        records = [rd.to_text() for rd in rrset]
    return tuple(records[:MAX_RECORDS]), len(records) > MAX_RECORDS


def _describe(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return text if len(text) <= 120 else text[:117] + "..."


class _Exchange:
    """The state of one query against the resolver's name servers, I/O left to the caller.

    Each try is ``(name server, over TCP, timeout)``; :meth:`next_try` returns a pause
    (float) between rounds, raises :class:`DiscoveryTimeoutError` when the budget is
    spent and :class:`DiscoveryError` when every server failed for good.
    """

    def __init__(
        self,
        resolver: AnyResolver,
        qname: dns.name.Name,
        rdtype: dns.rdatatype.RdataType,
        budget: Budget,
    ) -> None:
        self.qname, self.rdtype, self.budget = qname, rdtype, budget
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
        return f"DNS {dns.rdatatype.to_text(self.rdtype)} query for {self.qname}"

    def next_try(self) -> tuple[dns.nameserver.Nameserver, bool, float] | float:
        remaining = self.budget.remaining()
        if remaining <= 0:
            raise self.timeout()
        if self.tcp_retry is not None:
            server, self.tcp_retry = self.tcp_retry, None
            return server, True, self.budget.bound(self.per_try)
        if not self.round:
            if not self.servers:
                raise DiscoveryError(f"The {self.what()} failed: {self.reasons(4)}.")
            if self.errors:  # a new round after a failed one: pause, within the budget
                # dnspython's back-off (0.1 s doubling to 2 s), but never past the budget:
                # at most half the time left, so another round still has time.
                pause = min(self.backoff, remaining / 2)
                self.backoff = min(self.backoff * 2, 2.0)
                self.round = list(self.servers)
                return pause
            self.round = list(self.servers)
        server = self.round.pop(0)
        return server, server.is_always_max_size(), self.budget.bound(self.per_try)

    def failed(self, server: dns.nameserver.Nameserver, tcp: bool, error: BaseException) -> None:
        """Record an exception from a try."""
        if isinstance(error, dns.message.Truncated) and not tcp:
            self.tcp_retry = server
            return
        if isinstance(error, dns.exception.Timeout | TimeoutError):
            self.errors.append(f"{server.answer_nameserver()} did not answer in time")
            return
        self.errors.append(f"{server.answer_nameserver()}: {_describe(error)}")
        self._drop(server)

    def answered(
        self, server: dns.nameserver.Nameserver, response: dns.message.Message
    ) -> tuple[Answer, float] | None:
        """The answer and its TTL, or ``None`` when the response is a failure (recorded)."""
        rcode = response.rcode()
        where = server.answer_nameserver()
        if rcode in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
            try:
                if not isinstance(response, dns.message.QueryMessage):
                    raise ValueError("not a query response")
                chain = response.resolve_chaining()
                records, truncated = _parse(chain.answer, self.rdtype)
            except (dns.exception.DNSException, AttributeError, ValueError) as error:
                self.errors.append(f"{where} sent a malformed answer ({_describe(error)})")
                self._drop(server)
                return None
            exists = rcode == dns.rcode.NOERROR
            cap = MAX_TTL if records else MAX_NEGATIVE_TTL
            ttl = float(min(chain.minimum_ttl, cap))
            return Answer(exists, records, time.monotonic() + ttl, truncated), ttl
        self.errors.append(f"{where} answered {dns.rcode.to_text(rcode)}")
        if rcode != dns.rcode.SERVFAIL or not self.retry_servfail:
            self._drop(server)
        return None

    def _drop(self, server: dns.nameserver.Nameserver) -> None:
        if server in self.servers:
            self.servers.remove(server)
        if server in self.round:
            self.round.remove(server)

    def reasons(self, count: int) -> str:
        """The last ``count`` different failures, oldest first, each said once."""
        return "; ".join(list(dict.fromkeys(reversed(self.errors)))[:count][::-1])

    def timeout(self) -> DiscoveryTimeoutError:
        detail = f" ({self.reasons(2)})" if self.errors else ""
        return DiscoveryTimeoutError(
            f"the time budget ran out during the {self.what()}{detail}",
        )


# --- the lookup's view of DNS ---------------------------------------------------------


class Dns:
    """DNS for one lookup: a resolver, the registry's answer cache and the lookup's budget.

    ``on_answer`` is called with the expiry (``time.monotonic()`` value) of every answer
    used, so the caller can keep what it built from them no longer than they are valid.
    """

    def __init__(
        self,
        resolver: AnyResolver | None,
        cache: TTLCache[tuple[object, ...], Answer],
        budget: Budget,
        *,
        on_answer: Callable[[float], None] | None = None,
    ) -> None:
        self._resolver = resolver
        self._cache = cache
        self.budget = budget
        self._on_answer = on_answer

    @property
    def resolver(self) -> AnyResolver:
        """The resolver asked: the caller's, or one configured from the system."""
        if self._resolver is None:
            self._resolver = system_resolver()
        return self._resolver

    def _seen(self, answer: Answer) -> Answer:
        if self._on_answer is not None:
            self._on_answer(answer.expires)
        return answer

    async def query(self, name: str, rdtype: str) -> Answer:
        """The answer for ``name`` and record type ``rdtype`` (``"MX"``, ``"SRV"``, ...)."""
        kind = dns.rdatatype.RdataType.make(rdtype)
        resolver = self.resolver
        key = (resolver_key(resolver), name, int(kind))
        cached = self._cache.get(key)
        if cached is not None:
            return self._seen(cached)
        try:
            qname = dns.name.from_text(name, origin=dns.name.root)
        except dns.name.NameTooLong:  # too long to exist
            return Answer(False, (), time.monotonic() + MAX_NEGATIVE_TTL)
        except dns.exception.DNSException as error:
            raise DiscoveryError(f"{name[:80]!r} cannot be queried in DNS ({_describe(error)}).") from None
        exchange = _Exchange(resolver, qname, kind, self.budget)
        backend = dns.asyncbackend.get_backend("asyncio")
        while True:
            step = exchange.next_try()
            if isinstance(step, float):
                await asyncio.sleep(step)
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
                self._cache.put(key, *outcome)
                return self._seen(outcome[0])

    async def addresses(self, host: str) -> tuple[str, ...]:
        """The IPv4 and IPv6 addresses of ``host`` (none when it does not exist).

        Both queries run at once; a failure of one is ignored when the other answered.
        """
        answers = await asyncio.gather(
            self.query(host, "A"), self.query(host, "AAAA"), return_exceptions=True
        )
        found: list[str] = []
        failure: BaseException | None = None
        for answer in answers:
            if isinstance(answer, Answer):
                found.extend(answer.records)
            else:
                failure = failure or answer
        if failure is not None and not found:
            raise failure
        return tuple(dict.fromkeys(found))
