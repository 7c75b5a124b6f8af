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

import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from .address import Address, is_plain_local_part, parse_address
from .bulk import DEFAULT_WINDOW, astream, stream
from .errors import InvalidAddressError, MailSettingsError, ProviderNotFoundError
from .models import LookupResult, Provider, Source
from .options import LookupOptions, Options

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from .sources.autoconfig import AutoconfigOptions
    from .sources.base import Context

__all__ = ["Registry"]

T = TypeVar("T")

DEFAULT_CONCURRENCY = 20
"""How many lookups :meth:`Registry.lookup_many` runs at once unless told otherwise."""


class Registry:
    """A set of providers and the defaults for looking addresses up in it.

    ``providers`` are the application's own; with ``bundled=True`` (the default) they
    are added to the bundled database, replacing a bundled provider with the same id and
    taking over any domain they list. Data is loaded on first use, once, thread-safely.
    A registry holds no state tied to a thread or an event loop and may be shared.

    ``defaults`` are the registry's values of the per-call options of :meth:`lookup`
    (see :class:`~mailsettings.options.LookupOptions`); DNS answers and discovery
    outcomes are cached per registry.
    """

    def __init__(
        self,
        providers: Iterable[Provider] = (),
        *,
        bundled: bool = True,
        **defaults: Unpack[LookupOptions],
    ) -> None:
        self._own = tuple(providers)
        self._use_bundled = bundled
        self._options = Options().merged(defaults)
        self._lock = threading.Lock()
        # Per-registry state of the network sources (DNS cache, resolver, MX index).
        self._shared_lock = threading.RLock()
        self._shared_state: dict[str, Any] = {}
        self._providers: tuple[Provider, ...] | None = None
        # Domain -> provider, or the provider's position in the bundled data, which is
        # validated on first use (``_provider``): a first lookup validates one provider.
        self._by_domain: dict[str, Provider | int] | None = None
        self._raw: list[dict[str, Any]] = []  # the bundled data, not yet validated
        self._validated: dict[int, Provider] = {}
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

    def _index(self) -> dict[str, Provider | int]:
        with self._lock:
            if self._by_domain is None:
                by_domain: dict[str, Provider | int] = {}
                if self._use_bundled:
                    from .data import read_bundled

                    self._raw = read_bundled()
                    replaced = {p.id for p in self._own}
                    for position, item in enumerate(self._raw):
                        if item["id"] not in replaced:
                            by_domain.update(dict.fromkeys(item.get("domains", ()), position))
                by_domain.update((d, p) for p in self._own for d in p.domains)
                self._by_domain = by_domain
            return self._by_domain

    def _provider(self, entry: Provider | int) -> Provider:
        """The provider an index entry stands for; a bundled one is validated on first use."""
        if isinstance(entry, Provider):
            return entry
        provider = self._validated.get(entry)
        if provider is None:
            provider = self._validated[entry] = Provider.model_validate(self._raw[entry])
        return provider

    def _load(self) -> tuple[Provider, ...]:
        if self._providers is None:
            self._index()
            own = {p.id: p for p in self._own}
            providers = [
                own.pop(item["id"]) if item["id"] in own else self._provider(position)
                for position, item in enumerate(self._raw)
            ]
            self._providers = (*providers, *own.values())
        return self._providers

    def providers(self) -> Iterator[Provider]:
        """Iterate over the registry's providers."""
        return iter(self._providers if self._providers is not None else self._load())

    def get(self, provider_id: str) -> Provider | None:
        """The provider with this id, or ``None``."""
        return next((p for p in self.providers() if p.id == provider_id), None)

    # --- lookup ------------------------------------------------------------

    def lookup(self, address: str, /, **options: Unpack[LookupOptions]) -> LookupResult:
        """Return the mail settings for an address (or a bare domain).

        The bundled database is consulted first; a domain it knows asks no network
        source. Otherwise the sources the options turn on are tried in a fixed order:
        the provider's autoconfig file, the well-known URL and the ISPDB
        (``autoconfig=True``), the domain's MX hosts against the platforms in the
        database (``mx=True``, implied by ``autoconfig``), the ISPDB by MX host, and the
        domain's SRV records (``srv=True``). ``timeout`` is one budget for all of them.
        Each option left out takes the registry's default; see
        :class:`~mailsettings.options.LookupOptions`.

        Raises :class:`~mailsettings.InvalidAddressError` for malformed input,
        :class:`~mailsettings.ProviderNotFoundError` (or its subclasses
        :class:`~mailsettings.DomainNotFoundError` and :class:`~mailsettings.NoMailError`)
        when no provider is found, :class:`~mailsettings.DiscoveryError` (or
        :class:`~mailsettings.DiscoveryTimeoutError`) when a source failed temporarily
        and nothing else answered, and :class:`TypeError` / :class:`ValueError` for
        unknown or invalid options.
        """
        # Fast path: input that is already canonical and a known domain.
        try:
            local, at, domain = address.rpartition("@")
        except AttributeError:
            raise InvalidAddressError(
                f"expected an address as str, got {type(address).__name__}"
            ) from None
        result = self._results.get(domain)
        settings = self._options.merged(options) if options else self._options
        if result is not None and (not at or is_plain_local_part(local)):
            return result
        return self._lookup(parse_address(address), settings)

    async def alookup(self, address: str, /, **options: Unpack[LookupOptions]) -> LookupResult:
        """Asynchronous twin of :meth:`lookup` (``resolver`` may be a ``dns.asyncresolver.Resolver``)."""
        # The fast path is written out in both twins rather than shared: a helper call
        # would cost the synchronous hot path a measurable share of its time.
        try:
            local, at, domain = address.rpartition("@")
        except AttributeError:
            raise InvalidAddressError(
                f"expected an address as str, got {type(address).__name__}"
            ) from None
        result = self._results.get(domain)
        settings = self._options.merged(options) if options else self._options
        if result is not None and (not at or is_plain_local_part(local)):
            return result
        return await self._alookup(parse_address(address), settings)

    def _lookup(self, address: Address, options: Options) -> LookupResult:
        result = self._known(address)
        if result is not None:
            return result
        sources = self._sources(options)
        if not sources:
            raise self._unknown(address)
        return _chain().run(self._context(address, options), sources)

    async def _alookup(self, address: Address, options: Options) -> LookupResult:
        result = self._known(address)
        if result is not None:
            return result
        sources = self._sources(options)
        if not sources:
            raise self._unknown(address)
        return await _chain().arun(self._context(address, options), sources)

    @staticmethod
    def _unknown(address: Address) -> ProviderNotFoundError:
        return ProviderNotFoundError(
            f"No provider is known for {address.domain!r}.",
            domain=address.domain_ascii,
            tried=("bundled database",),
        )

    @staticmethod
    def _sources(options: Options) -> tuple[str, ...]:
        """The network sources turned on, in the chain's order (``sources.base.SOURCE_ORDER``)."""
        wanted = options.sources
        return tuple(key for key in _chain().SOURCE_ORDER if key in wanted)

    def _context(self, address: Address, options: Options) -> Context:
        context = _chain().Context.start(address, self, options.timeout, options.resolver)
        if options.autoconfig:
            context.state["autoconfig_options"] = _autoconfig_options(options)
        return context

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
        concurrency: int = DEFAULT_CONCURRENCY,
        **options: Unpack[LookupOptions],
    ) -> list[LookupResult | MailSettingsError]:
        """Look many addresses up, ``concurrency`` at a time (in threads).

        Each domain is looked up once, however many addresses share it, with the
        options of :meth:`lookup` (``timeout`` is the budget of each domain's lookup).
        Returns a list in input order holding, for each address, its
        :class:`~mailsettings.LookupResult` or the :class:`~mailsettings.MailSettingsError`
        it raised (the same object for every address at one domain).
        """
        limit = _check_concurrency(concurrency)
        settings = self._options.merged(options) if options else self._options
        parsed, pending = self._group(addresses)

        def one(address: Address) -> LookupResult | MailSettingsError:
            try:
                return self._lookup(address, settings)
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
        concurrency: int = DEFAULT_CONCURRENCY,
        **options: Unpack[LookupOptions],
    ) -> list[LookupResult | MailSettingsError]:
        """Asynchronous twin of :meth:`lookup_many` (``concurrency`` lookups at a time, asyncio)."""
        import asyncio

        limit = _check_concurrency(concurrency)
        settings = self._options.merged(options) if options else self._options
        parsed, pending = self._group(addresses)
        outcomes: dict[str, LookupResult | MailSettingsError] = {}
        queue = iter(list(pending.items()))

        async def worker() -> None:  # ``limit`` workers take domains in turn
            for key, address in queue:
                try:
                    outcomes[key] = await self._alookup(address, settings)
                except MailSettingsError as error:
                    outcomes[key] = error

        await asyncio.gather(*(worker() for _ in range(min(limit, len(pending)))))
        return [outcomes[item] if isinstance(item, str) else item for item in parsed]

    def lookup_stream(
        self,
        addresses: Iterable[str],
        /,
        *,
        window: int = DEFAULT_WINDOW,
        **options: Unpack[LookupOptions],
    ) -> Iterator[LookupResult | MailSettingsError]:
        """Look addresses up as they come: each one's outcome, in input order.

        Like :meth:`lookup_many`, but an iterator that reads ``addresses`` only as it
        goes and holds at most ``window`` of them, so memory stays flat however long
        the input is and the first outcome comes out at once. At most ``window``
        lookups run at once (in threads); addresses at one domain among those held
        share one lookup. Each outcome is the address's
        :class:`~mailsettings.LookupResult` or the
        :class:`~mailsettings.MailSettingsError` it raised.

        >>> outcomes = Registry().lookup_stream(["a@qq.com", "bad@@address", "b@163.com"])
        >>> [getattr(o, "domain", type(o).__name__) for o in outcomes]
        ['qq.com', 'InvalidAddressError', '163.com']
        """
        settings = self._options.merged(options) if options else self._options
        return stream(
            lambda address: self._lookup(address, settings),
            addresses,
            window=window,
            answer_now=self._answer_now(settings),
        )

    def alookup_stream(
        self,
        addresses: Iterable[str],
        /,
        *,
        window: int = DEFAULT_WINDOW,
        **options: Unpack[LookupOptions],
    ) -> AsyncIterator[LookupResult | MailSettingsError]:
        """Asynchronous twin of :meth:`lookup_stream` (``async for``; lookups are asyncio tasks)."""
        settings = self._options.merged(options) if options else self._options
        return astream(
            lambda address: self._alookup(address, settings),
            addresses,
            window=window,
            answer_now=self._answer_now(settings),
        )

    def _answer_now(self, options: Options) -> Callable[[Address], LookupResult | None]:
        """What a stream answers without waiting.

        The bundled database, and every lookup when no network source is on.
        """
        if self._sources(options):
            return self._known
        return lambda address: self._lookup(address, options)

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
        by_domain = self._index() if self._by_domain is None else self._by_domain
        entry = by_domain.get(address.domain_ascii)
        if entry is None:
            return None
        provider = self._provider(entry)
        if not provider.servers:
            raise ProviderNotFoundError(
                f"{provider.name} ({address.domain}) has no known IMAP, POP3 or SMTP server"
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


def _autoconfig_options(options: Options) -> AutoconfigOptions:
    """The live autoconfig sources' settings for one lookup's options."""
    from .sources.autoconfig import AutoconfigOptions

    return AutoconfigOptions(
        sources=options.autoconfig_sources,
        autoconfig_url=options.autoconfig_url,
        well_known_url=options.well_known_url,
        ispdb_url=options.ispdb_url,
        allow_http=options.allow_http,
        allow_private_networks=options.allow_private_networks,
        ssl_context=options.ssl_context,
    )


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


def _check_concurrency(concurrency: int) -> int:
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ValueError(f"concurrency must be a positive integer, not {concurrency!r}")
    return concurrency
