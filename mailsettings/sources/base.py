"""The discovery chain: the ordered network sources a lookup tries after the bundled database.

A source is a :class:`Step`: a label (what :attr:`ProviderNotFoundError.tried` names)
and a synchronous and an asynchronous function that take a :class:`Context` and
return a :class:`~mailsettings.LookupResult`, or ``None`` when the source has no
answer. A step

* returns a result, which ends the lookup;
* returns ``None`` and may append a finding to ``Context.notes`` (e.g. "its MX hosts
  match no known platform"), and the next step runs;
* raises a :class:`~mailsettings.ProviderNotFoundError` for a definitive negative
  answer (NXDOMAIN, null MX), which ends the lookup;
* raises a :class:`~mailsettings.DiscoveryError` for a temporary failure: the chain
  goes on, and re-raises the failure only if no later step finds an answer, so a
  temporary failure is never reported as "not found".

:data:`SOURCE_ORDER` is the order of the steps; :func:`step` loads one by key,
importing its module (and that module's network library) only then. Nothing here
imports a network library.
"""

from __future__ import annotations

import copy
import importlib
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, NamedTuple, TypeVar

from ..errors import DiscoveryError, ProviderNotFoundError

if TYPE_CHECKING:
    from ..address import Address
    from ..models import LookupResult
    from ..registry import Registry

__all__ = ["SOURCE_ORDER", "Context", "Step", "TTLCache", "arun", "run", "step"]

SOURCE_ORDER: tuple[str, ...] = ("autoconfig", "well-known", "ispdb", "mx", "ispdb-mx", "srv")
"""Keys of the network sources, in the order they are tried (after the bundled database):
the provider's own autoconfig file, the well-known URL, the ISPDB for the domain, the
MX hosts against the database's platforms, the ISPDB by MX host (reading
``Context.state["mx_hosts"]``), and SRV records. Thunderbird and Thunderbird for
Android try theirs in this order.
"""

# key -> (module, attribute holding the Step); the module is imported on first use.
_STEPS: dict[str, tuple[str, str]] = {
    "autoconfig": ("mailsettings.sources.autoconfig", "AUTOCONFIG_STEP"),
    "well-known": ("mailsettings.sources.autoconfig", "WELL_KNOWN_STEP"),
    "ispdb": ("mailsettings.sources.autoconfig", "ISPDB_STEP"),
    "mx": ("mailsettings.sources.dns", "MX_STEP"),
    "ispdb-mx": ("mailsettings.sources.autoconfig", "ISPDB_MX_STEP"),
    "srv": ("mailsettings.sources.dns", "SRV_STEP"),
}


@dataclass(slots=True)
class Context:
    """What one lookup's steps share: the address, the time budget, options and findings."""

    address: Address
    registry: Registry
    timeout: float
    """The whole lookup's budget in seconds."""
    deadline: float
    """``time.monotonic()`` value at which the budget runs out."""
    resolver: object | None = None
    """The resolver asked for by the call or the registry (``None``: the system's)."""
    notes: list[str] = field(default_factory=list)
    """Findings for the "not found" message, e.g. which MX hosts matched nothing."""
    state: dict[str, object] = field(default_factory=dict)
    """Data one step leaves for a later one (``"mx_hosts"``: the MX hosts, by preference)."""
    expires: float = math.inf
    """``time.monotonic()`` value until which every answer used so far stays valid.

    Steps lower it for each answer they use; the chain caches its outcome until then.
    While it is infinite (no step said), or once it is in the past, nothing is cached:
    a step whose answer must not be reused sets it to ``0``."""

    @classmethod
    def start(
        cls, address: Address, registry: Registry, timeout: float, resolver: object | None
    ) -> Context:
        """A context whose budget starts now."""
        return cls(address, registry, timeout, time.monotonic() + timeout, resolver)

    def remaining(self) -> float:
        """Seconds left in the budget (negative once it ran out)."""
        return self.deadline - time.monotonic()


class Step(NamedTuple):
    """One network source of the chain."""

    label: str
    """How :attr:`ProviderNotFoundError.tried` names the source, e.g. ``"MX"``."""
    run: Callable[[Context], LookupResult | None]
    arun: Callable[[Context], Awaitable[LookupResult | None]]


_loaded: dict[str, Step] = {}


def step(key: str) -> Step:
    """The step for a key of :data:`SOURCE_ORDER`, importing its module on first use."""
    found = _loaded.get(key)
    if found is None:
        module, attribute = _STEPS[key]
        found = _loaded[key] = getattr(importlib.import_module(module), attribute)
    return found


def run(context: Context, keys: tuple[str, ...]) -> LookupResult:
    """Run the steps in order; the first result wins (see the module's docstring).

    The outcome (a result or a "not found" error, never a temporary failure) is kept
    in the registry until the first answer it was built from expires, so repeating a
    lookup costs a dictionary read.
    """
    memo, key = _memo(context, keys)
    known = memo.get(key) if key else None
    if known is not None:
        return _replay(known)
    failure: DiscoveryError | None = None
    steps = [step(key) for key in keys]
    try:
        for current in steps:
            try:
                result = current.run(context)
            except DiscoveryError as error:
                failure = failure or error
                continue
            if result is not None:
                _remember(memo, key, context, result)
                return result
        raise _not_found(context, steps, failure)
    except ProviderNotFoundError as error:
        _remember(memo, key, context, error)
        raise


async def arun(context: Context, keys: tuple[str, ...]) -> LookupResult:
    """Asynchronous twin of :func:`run`."""
    memo, key = _memo(context, keys)
    known = memo.get(key) if key else None
    if known is not None:
        return _replay(known)
    failure: DiscoveryError | None = None
    steps = [step(key) for key in keys]
    try:
        for current in steps:
            try:
                result = await current.arun(context)
            except DiscoveryError as error:
                failure = failure or error
                continue
            if result is not None:
                _remember(memo, key, context, result)
                return result
        raise _not_found(context, steps, failure)
    except ProviderNotFoundError as error:
        _remember(memo, key, context, error)
        raise


def _memo(
    context: Context, keys: tuple[str, ...]
) -> tuple[TTLCache[tuple[object, ...], LookupResult | ProviderNotFoundError], tuple[object, ...]]:
    memo: TTLCache[tuple[object, ...], LookupResult | ProviderNotFoundError] = (
        context.registry._shared("chain.outcomes", TTLCache)
    )
    resolver = context.resolver
    servers = getattr(resolver, "nameservers", None)
    key: tuple[object, ...] = (
        context.address.domain_ascii,
        context.address.domain,
        keys,
        resolver,  # the object itself (kept alive by the key) and what it asks
        tuple(servers) if servers is not None else None,
        getattr(resolver, "port", None),
        context.state.get("autoconfig_options"),  # where and how the live sources fetch
    )
    try:
        hash(key)
    except TypeError:  # not a resolver at all: the step says so
        key = ()
    return memo, key


def _remember(
    memo: TTLCache[tuple[object, ...], LookupResult | ProviderNotFoundError],
    key: tuple[object, ...],
    context: Context,
    outcome: LookupResult | ProviderNotFoundError,
) -> None:
    if key and math.isfinite(context.expires):  # a step that cannot say keeps it out
        memo.put(key, outcome, context.expires - time.monotonic())


def _replay(outcome: LookupResult | ProviderNotFoundError) -> LookupResult:
    if isinstance(outcome, ProviderNotFoundError):
        raise copy.copy(outcome).with_traceback(None)
    return outcome


def _not_found(context: Context, steps: list[Step], failure: DiscoveryError | None) -> Exception:
    if failure is not None:
        return failure  # unknown, not negative: never turned into "not found"
    domain = context.address.domain
    findings = "; ".join(context.notes)
    return ProviderNotFoundError(
        f"No provider is known for {domain!r}" + (f": {findings}." if findings else "."),
        domain=context.address.domain_ascii,
        tried=("bundled database", *(s.label for s in steps)),
    )


# --- caching ---------------------------------------------------------------

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TTLCache(Generic[K, V]):
    """A bounded, thread-safe map whose entries expire after their own time to live.

    The oldest entries go first when ``maxsize`` is reached. Reads take no lock (a
    dictionary read is atomic); writes take a plain lock held only for dictionary
    operations. Nothing is tied to an event loop, so threads and event loops may share
    it. ``clock`` returns seconds (monotonic).
    """

    def __init__(self, maxsize: int = 4096, clock: Callable[[], float] = time.monotonic) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self.maxsize = maxsize
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()

    def get(self, key: K) -> V | None:
        """The live value for ``key``, or ``None``."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= self._clock():
            with self._lock:
                if self._entries.get(key) is entry:
                    del self._entries[key]
            return None
        return entry[1]

    def put(self, key: K, value: V, ttl: float) -> None:
        """Store ``value`` for ``ttl`` seconds; a ``ttl`` of zero or less stores nothing."""
        if ttl <= 0:
            return
        with self._lock:
            self._entries[key] = (self._clock() + ttl, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.maxsize:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
