"""The :class:`Registry`: a provider store, lookup defaults, and the lookup itself.

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
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .address import Address, parse_address, typed_local_part
from .bulk import DEFAULT_WINDOW, astream, stream
from .errors import InvalidAddressError, MailSettingsError, ProviderNotFoundError
from .models import LookupResult, Provider, Source
from .store import ProviderStore

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from .engine import Engine
    from .option import OptionSpecs
    from .options import LookupOptions
    from .sources.base import DiscoverySource

__all__ = ["DEFAULT_CONCURRENCY", "Registry", "default_registry"]

DEFAULT_CONCURRENCY = 20
"""How many lookups :meth:`Registry.lookup_many` runs at once unless told otherwise."""
SPELLINGS = 4096
"""Other spellings of known domains (``QQ.COM``, ``qq.com. ``) a registry remembers for its
fast path; the oldest is dropped first."""


class Registry:
    """A set of providers, the defaults for looking addresses up in it, and its caches.

    ``providers`` are the application's own (``Provider`` objects, or dicts validated as
    providers); with ``bundled=True`` (the default) they are laid over the bundled
    database: an application provider replaces a bundled one with the same id
    (:meth:`get`, :meth:`providers`) and takes over every domain and MX pattern it lists,
    while the bundled provider's other domains keep resolving to it. Two application
    providers claiming one domain raise :class:`ValueError` naming both.

    ``extra_sources`` are discovery sources (:mod:`mailsettings.sources.base`) asked
    after the bundled ones; their option groups add to the options a lookup accepts.
    ``defaults`` are the registry's values of the per-call options of :meth:`lookup`
    (see :class:`~mailsettings.LookupOptions`).

    Data is loaded on first use, by the piece, thread-safely. A registry holds no state
    tied to a thread or an event loop and may be shared; it caches results for known
    domains, DNS answers and discovery outcomes.
    """

    def __init__(
        self,
        providers: Iterable[Provider | Mapping[str, Any]] = (),
        *,
        bundled: bool = True,
        extra_sources: Iterable[DiscoverySource] = (),
        **defaults: Unpack[LookupOptions],
    ) -> None:
        self._store = ProviderStore(providers, bundled=bundled)
        self._extra = tuple(extra_sources)
        self._lock = threading.Lock()
        self._specs: OptionSpecs | None = None
        self._defaults: dict[str, Any] = {}
        self._settings: dict[str, Any] | None = None
        self._engine: Engine | None = None
        self._plan: tuple[Mapping[str, Any], tuple[DiscoverySource, ...]] | None = None
        # Results for known domains, keyed by both domain forms and by the other spellings
        # seen (at most SPELLINGS of them): the lookup fast path.
        self._results: dict[str, LookupResult] = {}
        self._spellings: dict[str, None] = {}
        if self._extra or defaults:
            self._check_sources()
            self._defaults = self._checked(defaults)

    @classmethod
    def from_directory(cls, path: str | Path, *, bundled: bool = True) -> Registry:
        """A registry with the providers in a folder of TOML files (one per provider).

        A missing folder, or one without ``*.toml`` files, raises :class:`FileNotFoundError`.
        """
        from .data import load_provider_files

        files = list(Path(path).glob("*.toml")) if Path(path).is_dir() else []
        if not files:
            raise FileNotFoundError(f"no provider files (*.toml) in {path}")
        return cls(load_provider_files(files), bundled=bundled)

    @classmethod
    def from_autoconfig_dir(cls, path: str | Path, *, bundled: bool = True) -> Registry:
        """A registry with the providers in a folder of autoconfig files (``*.xml``).

        A local clone of Thunderbird's ISPDB is such a folder. A file that cannot be used
        raises :class:`~mailsettings.AutoconfigError` naming it; see
        :func:`mailsettings.autoconfig.load_autoconfig_dir`.
        """
        from .autoconfig import load_autoconfig_dir

        return cls(load_autoconfig_dir(path), bundled=bundled)

    # --- providers -----------------------------------------------------------

    def providers(self) -> Iterator[Provider]:
        """Iterate over the registry's providers (bundled ones not replaced, then the application's)."""
        return iter(self._store)

    def get(self, provider_id: str) -> Provider | None:
        """The provider with this id (the application's, when it has one), or ``None``."""
        return self._store.get(provider_id)

    # --- options and sources ----------------------------------------------------

    def _check_sources(self) -> None:
        from .sources import SOURCES
        from .sources.base import DiscoverySource

        names = {source.name for source in SOURCES}
        for source in self._extra:
            if not isinstance(source, DiscoverySource):
                raise TypeError(f"{source!r} is not a discovery source (see mailsettings.sources.base)")
            if source.name in names:
                raise ValueError(f"two discovery sources are named {source.name!r}")
            names.add(source.name)

    def _option_specs(self) -> OptionSpecs:
        if self._specs is None:
            from .option import option_specs
            from .options import LookupOptions

            self._specs = option_specs(LookupOptions, *(source.options for source in self._extra))
        return self._specs

    def _checked(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """A call's options, checked (:class:`TypeError` / :class:`ValueError`)."""
        if not options:
            return {}
        from .option import checked

        return checked(self._option_specs(), options)

    def _settings_with(self, overrides: Mapping[str, Any]) -> dict[str, Any]:
        """Every option: the call's overrides, else the registry's defaults, else the default."""
        if self._settings is None:
            from .option import defaults

            self._settings = {**defaults(self._option_specs()), **self._defaults}
        return {**self._settings, **overrides} if overrides else self._settings

    def _discovery(self) -> Engine:
        if self._engine is None:
            with self._lock:
                if self._engine is None:
                    from .engine import Engine
                    from .sources import SOURCES

                    self._engine = Engine(self._store, (*SOURCES, *self._extra))
        return self._engine

    # --- lookup ------------------------------------------------------------

    def lookup(self, address: str, /, **options: Unpack[LookupOptions]) -> LookupResult:
        """Return the mail settings for an address (or a bare domain).

        The registry's providers are consulted first; a domain they know asks no
        network source. Otherwise the sources the options turn on are asked in the
        order of :data:`mailsettings.sources.SOURCES`: the provider's autoconfig file,
        the well-known URL and the ISPDB (``autoconfig=True``), the domain's MX hosts
        against the known platforms (``mx=True``), the ISPDB by MX host, the domain's SRV
        records (``srv=True``) and Exchange Autodiscover (``autodiscover=True``).
        ``timeout`` is one budget for all of them. Each option left out takes the
        registry's default; see :class:`~mailsettings.LookupOptions`.

        Raises :class:`~mailsettings.InvalidAddressError` for anything that is not an
        address or a domain (``bytes``, ``None`` and other non-strings included),
        :class:`~mailsettings.ProviderNotFoundError` (or its subclasses
        :class:`~mailsettings.DomainNotFoundError` and :class:`~mailsettings.NoMailError`)
        when no provider is found, :class:`~mailsettings.DiscoveryError` (or
        :class:`~mailsettings.DiscoveryTimeoutError`) when a source failed temporarily
        and nothing else answered, :class:`TypeError` for unknown options or options of
        the wrong type, and :class:`ValueError` for invalid option values.
        """
        if not options and type(address) is str:  # the fast path: a known domain, typed plainly
            local, at, domain = address.rpartition("@")
            result = self._results.get(domain)
            if result is not None and (
                not at
                or (local.isascii() and local.lstrip().isalnum() and len(local) <= 64)
                or typed_local_part(local) is not None
            ):
                return result
            if not at and not address.isascii():  # ＠ typed with a CJK keyboard
                # the @ forms of address.FULLWIDTH: str.translate made this path 2.7 times slower
                translated = address.replace("＠", "@").replace("﹫", "@")
                if translated != address:
                    try:
                        return self.lookup(translated)
                    except InvalidAddressError:
                        pass  # said below, quoting what was typed
        parsed, settings, sources, key, result = self._prepare(address, options)
        if result is not None:
            return result
        from .net.runner import run_sync

        return run_sync(self._discovery().discover(parsed, settings, sources, key))

    async def alookup(self, address: str, /, **options: Unpack[LookupOptions]) -> LookupResult:
        """Asynchronous twin of :meth:`lookup` (``resolver`` may be either kind of dnspython resolver)."""
        parsed, settings, sources, key, result = self._prepare(address, options)
        if result is None:
            result = await self._discovery().discover(parsed, settings, sources, key)
        return result

    def _prepare(
        self, address: object, options: Mapping[str, Any]
    ) -> tuple[Address, Mapping[str, Any], tuple[DiscoverySource, ...], tuple[object, ...], LookupResult | None]:
        """Everything a lookup does before going to the network.

        It checks the options, parses the address, answers from the store or the outcome
        cache, or says which sources to ask.
        """
        overrides = self._checked(options)
        parsed = parse_address(address)  # type: ignore[arg-type] # it says what is not a str
        known = self._known(parsed)
        if known is not None:
            if isinstance(address, str):
                self._remember_spelling(address, parsed, known)
            return parsed, {}, (), (), known
        settings, sources = self._plan_for(overrides)
        if not sources:
            raise ProviderNotFoundError(
                f"No provider is known for {parsed.domain!r}.",
                domain=parsed.domain_ascii,
                tried=("bundled database",),
            )
        key, cached = self._discovery().cached(parsed, settings, sources)
        return parsed, settings, sources, key, cached

    def _plan_for(
        self, overrides: Mapping[str, Any]
    ) -> tuple[Mapping[str, Any], tuple[DiscoverySource, ...]]:
        """The settings of a lookup and the sources they turn on (the defaults' plan is kept)."""
        if overrides:
            settings = self._settings_with(overrides)
            return settings, self._discovery().active(settings)
        if self._plan is None:
            settings = self._settings_with({})
            self._plan = (settings, self._discovery().active(settings))
        return self._plan

    def _remember_spelling(self, text: str, parsed: Address, result: LookupResult) -> None:
        """Let the fast path find a known domain typed otherwise (``QQ.COM``, ``qq.com ``)."""
        _, at, domain = text.rpartition("@")
        if (at or parsed.local is None) and domain not in self._results:
            self._spellings[domain] = None
            self._results[domain] = result
            while len(self._spellings) > SPELLINGS:
                oldest = next(iter(self._spellings), None)
                self._spellings.pop(oldest, None)  # type: ignore[arg-type]
                self._results.pop(oldest, None)  # type: ignore[arg-type]

    def _known(self, address: Address) -> LookupResult | None:
        """The store's result for the address's domain, cached per domain."""
        result = self._results.get(address.domain_ascii)
        if result is not None:
            return result
        provider = self._store.by_domain(address.domain_ascii)
        if provider is None:
            return None
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
            validate=False,  # built from the store's providers, which are valid
        )
        self._results[address.domain_ascii] = self._results[address.domain] = result
        return result

    # --- many addresses ------------------------------------------------------

    def lookup_many(
        self,
        addresses: Iterable[str],
        /,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        **options: Unpack[LookupOptions],
    ) -> list[LookupResult | MailSettingsError]:
        """Look many addresses up, ``concurrency`` domains at a time.

        Each domain is looked up once, however many addresses share it, with the
        options of :meth:`lookup` (``timeout`` is the budget of each domain's lookup).
        Returns a list in input order holding, for each address, its
        :class:`~mailsettings.LookupResult` or the :class:`~mailsettings.MailSettingsError`
        it raised (the same object for every address at one domain); an item that is not
        a string is an :class:`~mailsettings.InvalidAddressError` in its place.
        """
        from .net.runner import run_sync

        return run_sync(self.alookup_many(addresses, concurrency=concurrency, **options))

    async def alookup_many(
        self,
        addresses: Iterable[str],
        /,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        **options: Unpack[LookupOptions],
    ) -> list[LookupResult | MailSettingsError]:
        """Asynchronous twin of :meth:`lookup_many` (``concurrency`` lookups at a time)."""
        import asyncio

        if isinstance(concurrency, bool) or not isinstance(concurrency, int):
            raise TypeError(f"concurrency must be an int, not {type(concurrency).__name__}")
        if concurrency < 1:
            raise ValueError(f"concurrency must be a positive integer, not {concurrency!r}")
        if isinstance(addresses, str | bytes | bytearray | memoryview) or not isinstance(
            addresses, Iterable
        ):
            raise TypeError("addresses must be an iterable of addresses, not one address")
        self._checked(options)  # a bad option is the caller's error, once
        keys: list[str | MailSettingsError] = []
        pending: dict[str, object] = {}
        for item in addresses:
            try:
                parsed = parse_address(item)
            except InvalidAddressError as error:
                keys.append(error)
                continue
            keys.append(parsed.domain_ascii)
            pending.setdefault(parsed.domain_ascii, item)
        outcomes: dict[str, LookupResult | MailSettingsError] = {}
        queue = iter(list(pending.items()))

        async def worker() -> None:  # a few workers take domains in turn
            for key, item in queue:
                try:
                    outcomes[key] = await self.alookup(item, **options)  # type: ignore[arg-type]
                except MailSettingsError as error:
                    outcomes[key] = error

        await asyncio.gather(*(worker() for _ in range(min(concurrency, len(pending)))))
        return [outcomes[key] if isinstance(key, str) else key for key in keys]

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
        return stream(
            lambda address: self.lookup(str(address), **options),
            addresses,
            window=window,
            answer_now=self._answer_now(options),
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
        return astream(
            lambda address: self.alookup(str(address), **options),
            addresses,
            window=window,
            answer_now=self._answer_now(options),
        )

    def _answer_now(self, options: Mapping[str, Any]) -> Callable[[Address], LookupResult | None]:
        """What a stream answers without waiting.

        The registry's providers, and every lookup when no network source is on.
        """
        if self._plan_for(self._checked(options))[1]:
            return self._known
        return lambda address: self.lookup(str(address), **options)


_default: Registry | None = None
_default_lock = threading.Lock()


def default_registry() -> Registry:
    """The shared registry behind :func:`mailsettings.lookup`: the bundled database, default options.

    Built on first use, never at import.
    """
    global _default  # noqa: PLW0603 - built on first use, never at import
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = Registry()
    return _default
