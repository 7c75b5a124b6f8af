"""The source interface: what a discovery source is, and the context it runs in.

A discovery source turns an address its registry does not know into a
:class:`~mailsettings.LookupResult`. It is an object with

* ``name`` — its key (the :class:`~mailsettings.Source` value of its results, e.g. ``"mx"``);
* ``label`` — how messages and :attr:`ProviderNotFoundError.tried` name it (``"MX"``);
* ``options`` — its option group, a ``TypedDict`` of
  :mod:`mailsettings.options` (the options it reads, shared groups included);
* ``enabled(options)`` — whether a lookup with these options asks it;
* ``arun(ctx)`` — the source itself, a coroutine; ``run(ctx)`` runs it from
  synchronous code (:class:`BaseSource` provides it).

``arun`` returns a result, which ends the lookup; or ``None``, after adding a finding to
``ctx.notes`` (e.g. "its MX hosts match no known platform"), and the next source runs; or
raises :class:`~mailsettings.ProviderNotFoundError` for a definitive negative answer
(NXDOMAIN, null MX), which ends the lookup; or raises
:class:`~mailsettings.DiscoveryError` for a temporary failure — the lookup goes on, and
reports the failure only if no later source answers. Any other exception is a bug in
the source: the lookup reports it as that domain's :class:`DiscoveryError`.

Sources get everything through the :class:`Context`: the address, the budget, their
options, the provider store, DNS (:mod:`mailsettings.net.dns`) and HTTP
(:mod:`mailsettings.net.http`), created on first use. They never import the registry or
the package root.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, cast, runtime_checkable

from ..models import LookupResult, Provider, Server, Source

if TYPE_CHECKING:
    from ..address import Address
    from ..cache import TTLCache
    from ..net.budget import Budget
    from ..net.dns import Answer, Dns
    from ..net.http import Fetcher
    from ..store import ProviderStore

__all__ = ["BaseSource", "Context", "DiscoverySource"]

OptionsT = TypeVar("OptionsT", bound=Mapping[str, Any])


@dataclass(eq=False)
class Context(Generic[OptionsT]):
    """What one lookup's sources share: the address, the budget, options, findings."""

    address: Address
    budget: Budget
    settings: Mapping[str, Any]
    """Every option of the lookup, resolved (read them through :attr:`options`)."""
    store: ProviderStore
    dns_cache: TTLCache[tuple[object, ...], Answer]
    notes: list[str] = field(default_factory=list)
    """Findings for the "not found" message, e.g. which MX hosts matched nothing."""
    mx_hosts: tuple[str, ...] | None = None
    """The domain's MX hosts by preference, once a source read them."""
    expires: float = math.inf
    """``time.monotonic()`` value until which every answer used so far stays valid.

    DNS answers lower it; :attr:`http` sets it to ``0`` (an HTTP answer has no TTL), and
    so may a source whose answer must not be reused. The registry keeps the lookup's
    outcome until then (never while it is still infinite)."""

    @property
    def options(self) -> OptionsT:
        """The lookup's options, typed as the running source's option group."""
        return cast(OptionsT, self.settings)

    @cached_property
    def dns(self) -> Dns:
        """DNS under this lookup's budget and the registry's cache (imports dnspython)."""
        from ..net.dns import Dns

        return Dns(
            self.settings["resolver"], self.dns_cache, self.budget, on_answer=self._answered
        )

    @cached_property
    def http(self) -> Fetcher:
        """HTTP pinned to checked addresses, under this lookup's budget (imports httpx).

        An HTTP answer has no time to live: a lookup that fetched anything keeps no outcome.
        """
        from ..net.http import Fetcher, FetchPolicy

        self.expires = 0
        policy = FetchPolicy(
            allow_http=self.settings["allow_http"],
            allow_private_networks=self.settings["allow_private_networks"],
            allowed_networks=self.settings["allowed_networks"],
            ssl_context=self.settings["ssl_context"],
        )
        return Fetcher(self.dns, policy)

    def _answered(self, expires: float) -> None:
        self.expires = min(self.expires, expires)

    def usable_servers(self, servers: tuple[Server, ...], warnings: list[str]) -> tuple[Server, ...]:
        """``servers`` without those a live source may not name: at an IP address or a local name.

        Kept with ``allow_private_networks``; a warning says when any was dropped.
        """
        from ..net.policy import usable_host

        allow_private = self.settings["allow_private_networks"]
        usable = tuple(
            s for s in servers if usable_host(s.host, allow_private_networks=allow_private)
        )
        if len(usable) != len(servers):
            warnings.append(
                "Ignored servers at an IP address or a local name: a live source may not "
                "name them."
            )
        return usable

    def domain_provider(self, servers: tuple[Server, ...], *, name: str | None = None) -> Provider:
        """A provider for the lookup's domain itself (what SRV records, Autodiscover or guessing found).

        It is named after the domain unless ``name`` is given.
        """
        domain = self.address.domain_ascii
        return Provider(
            id=domain if len(domain) <= 64 else domain[-64:].lstrip(".-"),
            name=name or self.address.domain,
            domains=(domain,),
            servers=servers,
        )

    def result(
        self,
        provider: Provider,
        *,
        source: Source,
        trusted: bool,
        servers: tuple[Server, ...] | None = None,
        warnings: tuple[str, ...] = (),
        **extra: Any,
    ) -> LookupResult:
        """A result for this lookup's domain (see :meth:`LookupResult.create`)."""
        return LookupResult.create(
            provider,
            domain=self.address.domain,
            domain_ascii=self.address.domain_ascii,
            source=source,
            trusted=trusted,
            servers=servers,
            warnings=warnings,
            **extra,
        )


@runtime_checkable
class DiscoverySource(Protocol):
    """The interface every discovery source implements (see the module's description)."""

    @property
    def name(self) -> str:
        """The source's key, e.g. ``"mx"``."""

    @property
    def label(self) -> str:
        """How messages name the source, e.g. ``"MX"``."""

    @property
    def options(self) -> type:
        """The source's option group (a ``TypedDict``)."""

    def enabled(self, options: Mapping[str, Any]) -> bool:
        """Whether a lookup with these (resolved) options asks this source."""

    def run(self, ctx: Context[Any]) -> LookupResult | None:
        """The source, from synchronous code."""

    async def arun(self, ctx: Context[Any]) -> LookupResult | None:
        """The source."""


class BaseSource(ABC, Generic[OptionsT]):
    """A convenient base for a discovery source.

    ``switch`` names the ``bool`` option that turns the source on, and :meth:`run` runs
    :meth:`arun` on a private event loop.
    """

    name: str
    label: str
    options: type
    switch: str

    def enabled(self, options: Mapping[str, Any]) -> bool:
        """Whether the source's switch option is on."""
        return bool(options[self.switch])

    def run(self, ctx: Context[Any]) -> LookupResult | None:
        """Run :meth:`arun` from synchronous code."""
        from ..net.runner import run_sync

        return run_sync(self.arun(ctx))

    @abstractmethod
    async def arun(self, ctx: Context[OptionsT]) -> LookupResult | None:
        """The source."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"
