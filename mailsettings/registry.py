"""The :class:`Registry`: a set of providers, lookup options, and the lookup itself.

>>> registry = Registry()
>>> result = registry.lookup("someone@foxmail.com")
>>> result.provider.id, result.imap.host
('qq.com', 'imap.qq.com')

An application can add or override providers:

>>> from mailsettings.models import Provider, Server
>>> corp = Provider(id="corp.example", name="Corp Mail", domains=("corp.example",),
...     servers=(Server(protocol="imap", host="imap.corp.example", port=993, security="ssl"),))
>>> Registry([corp]).lookup("me@corp.example").imap.host
'imap.corp.example'
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from .address import Address, is_plain_local_part, parse_address
from .errors import InvalidAddressError, MailSettingsError, ProviderNotFoundError
from .models import LookupResult, Provider, Source

if TYPE_CHECKING:
    import dns.asyncresolver
    import dns.resolver

    AnyResolver = dns.resolver.Resolver | dns.asyncresolver.Resolver
    from .sources.base import Context

__all__ = ["Registry"]

T = TypeVar("T")
_KEYWORD_ONLY: Any = object()  # see Registry.lookup

DEFAULT_CONCURRENCY = 20
"""How many lookups :meth:`Registry.lookup_many` runs at once unless told otherwise."""


class Registry:
    """A set of providers and the defaults for looking addresses up in it.

    ``providers`` are the application's own; with ``bundled=True`` (the default) they
    are added to the bundled database, replacing a bundled provider with the same id and
    taking over any domain they list. Data is loaded on first use, once, thread-safely.
    A registry holds no state tied to a thread or an event loop and may be shared.

    ``mx``, ``srv``, ``timeout`` and ``resolver`` are the defaults of the per-call
    options of :meth:`lookup` (see there); DNS answers are cached per registry.
    """

    def __init__(
        self,
        providers: Iterable[Provider] = (),
        *,
        bundled: bool = True,
        mx: bool = False,
        srv: bool = False,
        timeout: float = 10.0,
        resolver: AnyResolver | None = None,
    ) -> None:
        self._own = tuple(providers)
        self._bundled = bundled
        self._mx, self._srv = bool(mx), bool(srv)
        self._timeout = _check_timeout(timeout)
        self._resolver = resolver
        self._lock = threading.Lock()
        # Per-registry state of the network sources (DNS cache, resolver, MX index).
        self._shared_lock = threading.RLock()
        self._shared_state: dict[str, Any] = {}
        self._providers: tuple[Provider, ...] | None = None
        self._by_domain: dict[str, Provider] = {}
        # Results for known domains, keyed by both domain forms: the lookup fast path.
        self._results: dict[str, LookupResult] = {}

    @classmethod
    def from_directory(cls, path: str | Path, *, bundled: bool = True) -> Registry:
        """A registry with the providers in a folder of TOML files (one per provider)."""
        from .data import load_provider_files

        return cls(load_provider_files(Path(path).glob("*.toml")), bundled=bundled)

    @classmethod
    def from_autoconfig_dir(cls, path: str | Path, *, bundled: bool = True) -> Registry:
        """A registry with the providers in a folder of autoconfig files (``*.xml``).

        A local clone of Thunderbird's ISPDB is such a folder. A file that cannot be used
        raises :class:`~mailsettings.AutoconfigError` naming it; see
        :func:`mailsettings.autoconfig.load_autoconfig_dir`.
        """
        from .autoconfig import load_autoconfig_dir

        return cls(load_autoconfig_dir(path), bundled=bundled)

    # --- loading -----------------------------------------------------------

    def _load(self) -> tuple[Provider, ...]:
        with self._lock:
            if self._providers is None:
                by_id: dict[str, Provider] = {}
                if self._bundled:
                    from .data import load_bundled

                    by_id.update((p.id, p) for p in load_bundled())
                by_id.update((p.id, p) for p in self._own)
                by_domain = {d: p for p in by_id.values() for d in p.domains}
                by_domain.update((d, p) for p in self._own for d in p.domains)
                self._by_domain = by_domain
                self._providers = tuple(by_id.values())
            return self._providers

    def providers(self) -> Iterator[Provider]:
        """Iterate over the registry's providers."""
        return iter(self._providers if self._providers is not None else self._load())

    def get(self, provider_id: str) -> Provider | None:
        """The provider with this id, or ``None``."""
        return next((p for p in self.providers() if p.id == provider_id), None)

    # --- lookup ------------------------------------------------------------

    if TYPE_CHECKING:  # the signature: options are keyword-only

        def lookup(
            self,
            address: str,
            /,
            *,
            mx: bool | None = None,
            srv: bool | None = None,
            timeout: float | None = None,
            resolver: AnyResolver | None = None,
        ) -> LookupResult:
            """Return the mail settings for an address (see the run-time definition)."""
            ...

    else:
        # At run time the options sit behind a positional sentinel instead of ``*``:
        # CPython calls a function with keyword-only defaults about 80 ns more slowly,
        # and this is the fast path for known domains. Passing an option positionally
        # still raises TypeError.
        def lookup(
            self,
            address,
            /,
            _keyword_only=_KEYWORD_ONLY,
            mx=None,
            srv=None,
            timeout=None,
            resolver=None,
        ):
            """Return the mail settings for an address (or a bare domain).

            The bundled database is consulted first; a domain it knows makes no query.
            Otherwise, with ``mx=True`` the domain's MX records are matched against the
            platforms in the database, then with ``srv=True`` its RFC 6186 SRV records are
            read. ``timeout`` (seconds) is one budget for the whole lookup; ``resolver``
            is a ``dns.resolver.Resolver`` choosing the name servers. ``None`` means the
            registry's default for each option.

            Raises :class:`~mailsettings.InvalidAddressError` for malformed input,
            :class:`~mailsettings.ProviderNotFoundError` (or its subclasses
            :class:`~mailsettings.DomainNotFoundError` and :class:`~mailsettings.NoMailError`)
            when no provider is found, :class:`~mailsettings.DiscoveryError` (or
            :class:`~mailsettings.DiscoveryTimeoutError`) when DNS failed temporarily, and
            :class:`ValueError` / :class:`TypeError` for an invalid ``timeout`` / ``resolver``.
            """
            if _keyword_only is not _KEYWORD_ONLY:
                raise TypeError("lookup() takes the address as its only positional argument")
            # Fast path: input that is already canonical and a known domain.
            try:
                local, at, domain = address.rpartition("@")
            except AttributeError:
                raise InvalidAddressError(
                    f"expected an address as str, got {type(address).__name__}"
                ) from None
            result = self._results.get(domain)
            if result is not None and (not at or is_plain_local_part(local)):
                return result
            return self._lookup(parse_address(address), mx, srv, timeout, resolver)

    async def alookup(
        self,
        address: str,
        /,
        *,
        mx: bool | None = None,
        srv: bool | None = None,
        timeout: float | None = None,
        resolver: AnyResolver | None = None,
    ) -> LookupResult:
        """Asynchronous twin of :meth:`lookup` (``resolver`` may be a ``dns.asyncresolver.Resolver``)."""
        try:
            local, at, domain = address.rpartition("@")
        except AttributeError:
            raise InvalidAddressError(
                f"expected an address as str, got {type(address).__name__}"
            ) from None
        result = self._results.get(domain)
        if result is not None and (not at or is_plain_local_part(local)):
            return result
        return await self._alookup(parse_address(address), mx, srv, timeout, resolver)

    def _lookup(
        self,
        address: Address,
        mx: bool | None = None,
        srv: bool | None = None,
        timeout: float | None = None,
        resolver: AnyResolver | None = None,
    ) -> LookupResult:
        result = self._known(address)
        if result is not None:
            return result
        sources = self._sources(mx, srv)
        if not sources:
            raise self._unknown(address)
        return _chain().run(self._context(address, timeout, resolver), sources)

    async def _alookup(
        self,
        address: Address,
        mx: bool | None = None,
        srv: bool | None = None,
        timeout: float | None = None,
        resolver: AnyResolver | None = None,
    ) -> LookupResult:
        result = self._known(address)
        if result is not None:
            return result
        sources = self._sources(mx, srv)
        if not sources:
            raise self._unknown(address)
        return await _chain().arun(self._context(address, timeout, resolver), sources)

    @staticmethod
    def _unknown(address: Address) -> ProviderNotFoundError:
        return ProviderNotFoundError(
            f"No provider is known for {address.domain!r}.",
            domain=address.domain_ascii,
            tried=("bundled database",),
        )

    def _sources(self, mx: bool | None, srv: bool | None) -> tuple[str, ...]:
        """The network sources asked for, in the chain's order (``sources.base.SOURCE_ORDER``)."""
        wanted = (self._mx if mx is None else bool(mx), self._srv if srv is None else bool(srv))
        keys = _SOURCES.get(wanted)
        if keys is None:
            chosen = {key for key, on in zip(("mx", "srv"), wanted, strict=True) if on}
            keys = _SOURCES[wanted] = tuple(k for k in _chain().SOURCE_ORDER if k in chosen)
        return keys

    def _context(
        self, address: Address, timeout: float | None, resolver: AnyResolver | None
    ) -> Context:
        budget = self._timeout if timeout is None else _check_timeout(timeout)
        return _chain().Context(
            address,
            self,
            budget,
            time.monotonic() + budget,
            self._resolver if resolver is None else resolver,
        )

    def _shared(self, key: str, factory: Callable[[], T]) -> T:
        """Per-registry state of the network sources, built once by ``factory``, thread-safely."""
        try:
            value: T = self._shared_state[key]
        except KeyError:
            with self._shared_lock:
                if key not in self._shared_state:
                    self._shared_state[key] = factory()
                value = self._shared_state[key]
        return value

    # --- many addresses ------------------------------------------------------

    def lookup_many(
        self,
        addresses: Iterable[str],
        /,
        *,
        mx: bool | None = None,
        srv: bool | None = None,
        timeout: float | None = None,
        resolver: AnyResolver | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
    ) -> list[LookupResult | MailSettingsError]:
        """Look many addresses up, ``concurrency`` at a time (in threads).

        Each domain is looked up once, however many addresses share it, with the
        options of :meth:`lookup` (``timeout`` is the budget of each domain's lookup).
        Returns a list in input order holding, for each address, its
        :class:`~mailsettings.LookupResult` or the :class:`~mailsettings.MailSettingsError`
        it raised (the same object for every address at one domain).
        """
        limit = _check_concurrency(concurrency)
        if timeout is not None:
            _check_timeout(timeout)
        parsed, pending = self._group(addresses)

        def one(address: Address) -> LookupResult | MailSettingsError:
            try:
                return self._lookup(address, mx, srv, timeout, resolver)
            except MailSettingsError as error:
                return error

        outcomes: dict[str, LookupResult | MailSettingsError] = {}
        queue = iter(list(pending.items()))
        lock = threading.Lock()

        def worker() -> None:  # a few workers take domains in turn: no thread per domain
            while True:
                with lock:
                    item = next(queue, None)
                if item is None:
                    return
                outcomes[item[0]] = one(item[1])

        workers = min(limit, len(pending))
        if workers <= 1:
            worker()
        else:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(max_workers=workers) as pool:
                for future in [pool.submit(worker) for _ in range(workers)]:
                    future.result()  # re-raises anything that is not a MailSettingsError
        return [outcomes[item] if isinstance(item, str) else item for item in parsed]

    async def alookup_many(
        self,
        addresses: Iterable[str],
        /,
        *,
        mx: bool | None = None,
        srv: bool | None = None,
        timeout: float | None = None,
        resolver: AnyResolver | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
    ) -> list[LookupResult | MailSettingsError]:
        """Asynchronous twin of :meth:`lookup_many` (``concurrency`` lookups at a time, asyncio)."""
        import asyncio

        limit = _check_concurrency(concurrency)
        if timeout is not None:
            _check_timeout(timeout)
        parsed, pending = self._group(addresses)
        outcomes: dict[str, LookupResult | MailSettingsError] = {}
        queue = iter(list(pending.items()))

        async def worker() -> None:  # ``limit`` workers take domains in turn
            for key, address in queue:
                try:
                    outcomes[key] = await self._alookup(address, mx, srv, timeout, resolver)
                except MailSettingsError as error:
                    outcomes[key] = error

        await asyncio.gather(*(worker() for _ in range(min(limit, len(pending)))))
        return [outcomes[item] if isinstance(item, str) else item for item in parsed]

    @staticmethod
    def _group(
        addresses: Iterable[str],
    ) -> tuple[list[str | MailSettingsError], dict[str, Address]]:
        """Per input: its domain key or its parse error; and one address per domain."""
        if isinstance(addresses, str):
            raise TypeError("addresses must be an iterable of addresses, not one str")
        parsed: list[str | MailSettingsError] = []
        pending: dict[str, Address] = {}
        for text in addresses:
            try:
                address = parse_address(text)
            except InvalidAddressError as error:
                parsed.append(error)
                continue
            parsed.append(address.domain_ascii)
            pending.setdefault(address.domain_ascii, address)
        return parsed, pending

    def _known(self, address: Address) -> LookupResult | None:
        """The bundled-database result for the address's domain, cached per domain."""
        result = self._results.get(address.domain_ascii)
        if result is not None:
            return result
        if self._providers is None:
            self._load()
        provider = self._by_domain.get(address.domain_ascii)
        if provider is None:
            return None
        if not provider.servers:
            raise ProviderNotFoundError(
                f"{provider.name} ({address.domain}) offers no IMAP, POP3 or SMTP access"
                + (f": {provider.status_note}" if provider.status_note else "."),
                domain=address.domain_ascii,
                tried=("bundled database",),
                provider=provider,
            )
        result = LookupResult.create(
            provider,
            domain=address.domain,
            domain_ascii=address.domain_ascii,
            source=Source.BUNDLED,
            trusted=True,
        )
        self._results[address.domain_ascii] = self._results[address.domain] = result
        return result


# (mx, srv) -> the chain's keys for them, in the chain's order
_SOURCES: dict[tuple[bool, bool], tuple[str, ...]] = {}


class _Chain(NamedTuple):
    """What a lookup needs from :mod:`mailsettings.sources.base`."""

    run: Callable[[Context, tuple[str, ...]], LookupResult]
    arun: Callable[[Context, tuple[str, ...]], Awaitable[LookupResult]]
    Context: type[Context]
    SOURCE_ORDER: tuple[str, ...]


_chain_parts: _Chain | None = None


def _chain() -> _Chain:
    """The source chain (:mod:`mailsettings.sources.base`), imported on first use only."""
    global _chain_parts  # noqa: PLW0603 - imported on first use, never at import
    if _chain_parts is None:
        from .sources import base

        _chain_parts = _Chain(base.run, base.arun, base.Context, base.SOURCE_ORDER)
    return _chain_parts


def _check_timeout(timeout: float) -> float:
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, int | float)
        or not math.isfinite(timeout)
        or timeout <= 0
    ):
        raise ValueError(f"timeout must be a positive number of seconds, not {timeout!r}")
    return float(timeout)


def _check_concurrency(concurrency: int) -> int:
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ValueError(f"concurrency must be a positive integer, not {concurrency!r}")
    return concurrency
