"""The discovery engine: runs a lookup's sources in order, under one budget, and caches outcomes.

For an address its store does not know, the engine asks the sources the options turn
on (:data:`mailsettings.sources.SOURCES`, then a registry's extra sources), in order,
until one answers. Everything a source can do is said in :mod:`mailsettings.sources.base`;
here:

* **One budget.** ``timeout`` covers every source; a source still running at the
  deadline is cancelled, and a source whose turn comes after it is not tried.
* **Temporary failures are never "not found".** A :class:`DiscoveryError` is reported
  only when no later source answered, with what ran out (or failed) and what each
  source did, each said once.
* **A source's bug stays its domain's outcome.** Any other exception becomes a
  :class:`DiscoveryError` naming the source (and is logged on the ``mailsettings``
  logger), so one hostile domain cannot end a batch.
* **Outcomes are cached** (a result, or a "not found" without its traceback) until the
  first answer they were built from expires, keyed by the domain, the sources asked and
  the options they read.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import math
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .cache import TTLCache
from .errors import DiscoveryError, DiscoveryTimeoutError, MailSettingsError, ProviderNotFoundError
from .net.budget import Budget

if TYPE_CHECKING:
    from .address import Address
    from .models import LookupResult
    from .net.dns import Answer
    from .sources.base import Context, DiscoverySource
    from .store import ProviderStore

__all__ = ["Engine"]

logger = logging.getLogger("mailsettings")

OUTCOMES = 4096
"""Outcomes a registry keeps, least recently stored dropped first."""
DNS_ANSWERS = 4096
"""DNS answers a registry keeps, least recently stored dropped first."""


class Engine:
    """The sources of one registry, their caches, and the loop that asks them."""

    def __init__(self, store: ProviderStore, sources: Sequence[DiscoverySource]) -> None:
        self.store = store
        self.sources = tuple(sources)
        self.outcomes: TTLCache[tuple[object, ...], LookupResult | ProviderNotFoundError] = (
            TTLCache(OUTCOMES)
        )
        self.dns_cache: TTLCache[tuple[object, ...], Answer] = TTLCache(DNS_ANSWERS)

    def active(self, settings: Mapping[str, Any]) -> tuple[DiscoverySource, ...]:
        """The sources these options turn on, in order."""
        return tuple(source for source in self.sources if source.enabled(settings))

    def cached(
        self, address: Address, settings: Mapping[str, Any], sources: tuple[DiscoverySource, ...]
    ) -> tuple[tuple[object, ...], LookupResult | None]:
        """The cache key of a lookup, and its cached result (a cached "not found" is raised)."""
        key = self._key(address, settings, sources)
        known = self.outcomes.get(key)
        if isinstance(known, ProviderNotFoundError):
            raise copy.copy(known)  # a fresh error: no traceback of an earlier call
        return key, known

    async def discover(
        self,
        address: Address,
        settings: Mapping[str, Any],
        sources: tuple[DiscoverySource, ...],
        key: tuple[object, ...],
    ) -> LookupResult:
        """Ask ``sources`` in order; the first result wins (see the module's description)."""
        from .sources.base import Context

        budget = Budget.start(settings["timeout"])
        context: Context[Any] = Context(address, budget, settings, self.store, self.dns_cache)
        said: list[str] = []  # what each source did that the final message must say
        failure: DiscoveryError | None = None
        try:
            for source in sources:
                if budget.expired():
                    said.append(f"{source.label}: not tried")
                    failure = failure or _ran_out(budget)
                    continue
                try:
                    async with asyncio.timeout(budget.remaining()):
                        result = await source.arun(context)
                except (DiscoveryError, TimeoutError) as error:
                    if not isinstance(error, DiscoveryError):
                        error = _ran_out(budget)
                    said.append(f"{source.label}: {_reason(error)}")
                    failure = failure or error
                    continue
                except ProviderNotFoundError:
                    raise
                except MailSettingsError as error:  # no other error is a source's to raise
                    error = _broken(error)
                    said.append(f"{source.label}: {_reason(error)}")
                    failure = failure or error
                    continue
                except Exception as error:  # a bug in a source: this domain's outcome only
                    logger.warning(
                        "discovery source %s failed for %s", source.name, address.domain_ascii,
                        exc_info=True,
                    )
                    broken = _broken(error)
                    said.append(f"{source.label}: {_reason(broken)}")
                    failure = failure or broken
                    continue
                if result is not None:
                    self._remember(key, context, result)
                    return result
            if failure is not None:
                raise _failed(address, budget, failure, said, context.notes)
            raise _not_found(address, context, sources)
        except ProviderNotFoundError as error:
            self._remember(key, context, error)
            raise

    def _remember(
        self, key: tuple[object, ...], context: Context[Any], outcome: LookupResult | Exception
    ) -> None:
        if not math.isfinite(context.expires):
            return  # nothing said how long the answers stay valid
        if isinstance(outcome, ProviderNotFoundError):
            outcome = copy.copy(outcome)  # the outcome, not the traceback and its frames
        elif isinstance(outcome, Exception):
            return
        self.outcomes.put(key, outcome, context.expires - time.monotonic())

    @staticmethod
    def _key(
        address: Address, settings: Mapping[str, Any], sources: tuple[DiscoverySource, ...]
    ) -> tuple[object, ...]:
        read: dict[str, object] = {}
        for source in sources:
            for name in source.options.__annotations__:
                if name not in read:
                    read[name] = _key_part(settings[name])
        return (address.domain_ascii, address.domain, tuple(s.name for s in sources), *read.items())


def _key_part(value: object) -> object:
    """An option's value as a cache key part: a resolver by what it asks, as well as by itself."""
    if str(getattr(type(value), "__module__", None) or "").startswith("dns."):
        from .net.dns import resolver_key

        return (value, resolver_key(value))  # type: ignore[arg-type]
    return value


def _reason(error: MailSettingsError) -> str:
    text = str(error)
    return text[:1].lower() + text[1:].rstrip(".") if text else type(error).__name__


def _ran_out(budget: Budget) -> DiscoveryTimeoutError:
    return DiscoveryTimeoutError(f"the {budget.seconds:g} s time budget ran out")


def _broken(error: BaseException) -> DiscoveryError:
    broken = DiscoveryError(f"failed unexpectedly ({type(error).__name__}: {str(error)[:120]})")
    broken.__cause__ = error
    return broken


def _failed(
    address: Address, budget: Budget, failure: DiscoveryError, said: list[str], notes: list[str]
) -> DiscoveryError:
    """The temporary failure to report, each part said once.

    It says what ran out or failed, what each source did, and what the others found.
    """
    details = f" ({'; '.join(dict.fromkeys(said))})" if said else ""
    findings = f" Also: {'; '.join(dict.fromkeys(notes))}." if notes else ""
    subject = f"The lookup for {address.domain!r}"
    error: DiscoveryError
    if budget.expired():
        error = DiscoveryTimeoutError(
            f"{subject} ran out of its {budget.seconds:g} s budget{details}.{findings}"
        )
    elif isinstance(failure, DiscoveryTimeoutError):
        error = DiscoveryTimeoutError(f"{subject} timed out{details}.{findings}")
    else:
        error = DiscoveryError(f"{subject} failed temporarily{details}.{findings}")
    error.__cause__ = failure
    return error


def _not_found(
    address: Address, context: Context[Any], sources: tuple[DiscoverySource, ...]
) -> ProviderNotFoundError:
    findings = "; ".join(dict.fromkeys(context.notes))
    return ProviderNotFoundError(
        f"No provider is known for {address.domain!r}" + (f": {findings}." if findings else "."),
        domain=address.domain_ascii,
        tried=("bundled database", *(source.label for source in sources)),
    )
