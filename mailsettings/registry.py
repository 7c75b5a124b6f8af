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
from collections.abc import Iterable, Iterator
from pathlib import Path

from .address import Address, is_plain_local_part, parse_address
from .errors import InvalidAddressError, ProviderNotFoundError
from .models import LookupResult, Provider, Source

__all__ = ["Registry"]


class Registry:
    """A set of providers and the defaults for looking addresses up in it.

    ``providers`` are the application's own; with ``bundled=True`` (the default) they
    are added to the bundled database, replacing a bundled provider with the same id and
    taking over any domain they list. Data is loaded on first use, once, thread-safely.
    A registry holds no state tied to a thread or an event loop and may be shared.
    """

    def __init__(self, providers: Iterable[Provider] = (), *, bundled: bool = True) -> None:
        self._own = tuple(providers)
        self._bundled = bundled
        self._lock = threading.Lock()
        self._providers: tuple[Provider, ...] | None = None
        self._by_domain: dict[str, Provider] = {}
        # Results for known domains, keyed by both domain forms: the lookup fast path.
        self._results: dict[str, LookupResult] = {}

    @classmethod
    def from_directory(cls, path: str | Path, *, bundled: bool = True) -> Registry:
        """A registry with the providers in a folder of TOML files (one per provider)."""
        from .data import load_provider_files

        return cls(load_provider_files(Path(path).glob("*.toml")), bundled=bundled)

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

    def lookup(self, address: str, /) -> LookupResult:
        """Return the mail settings for an address (or a bare domain).

        Raises :class:`~mailsettings.InvalidAddressError` for malformed input and
        :class:`~mailsettings.ProviderNotFoundError` when no provider is known.
        """
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
        return self._lookup(parse_address(address))

    async def alookup(self, address: str, /) -> LookupResult:
        """Asynchronous twin of :meth:`lookup`."""
        return self.lookup(address)

    def _lookup(self, address: Address) -> LookupResult:
        result = self._known(address)
        if result is not None:
            return result
        raise ProviderNotFoundError(
            f"No provider is known for {address.domain!r}.",
            domain=address.domain_ascii,
            tried=("bundled database",),
        )

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
