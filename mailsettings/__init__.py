"""POP3, IMAP and SMTP settings for any e-mail address.

>>> import mailsettings
>>> result = mailsettings.lookup("someone@qq.com")
>>> result.provider.name
'QQ Mail'
>>> result.imap.host, result.imap.port, result.imap.security.value
('imap.qq.com', 993, 'ssl')
>>> result.smtp.login_for("someone@qq.com")
'someone@qq.com'

Nothing is loaded at import: the database is read on the first lookup.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import TYPE_CHECKING

from .bulk import DEFAULT_WINDOW
from .errors import (
    AutoconfigError,
    DiscoveryError,
    DiscoveryTimeoutError,
    DomainNotFoundError,
    InvalidAddressError,
    MailSettingsError,
    NoMailError,
    ProviderNotFoundError,
)
from .models import (
    AuthMethod,
    Instruction,
    LookupResult,
    PasswordKind,
    Protocol,
    Provider,
    Security,
    Server,
    Source,
    Status,
)
from .options import LookupOptions
from .registry import DEFAULT_CONCURRENCY, Registry

if TYPE_CHECKING:
    from typing_extensions import Unpack

__version__ = "0.1.0"

__all__ = [
    "AuthMethod",
    "AutoconfigError",
    "DiscoveryError",
    "DiscoveryTimeoutError",
    "DomainNotFoundError",
    "Instruction",
    "InvalidAddressError",
    "LookupOptions",
    "LookupResult",
    "MailSettingsError",
    "NoMailError",
    "PasswordKind",
    "Protocol",
    "Provider",
    "ProviderNotFoundError",
    "Registry",
    "Security",
    "Server",
    "Source",
    "Status",
    "__version__",
    "alookup",
    "alookup_many",
    "alookup_stream",
    "default_registry",
    "lookup",
    "lookup_many",
    "lookup_stream",
    "providers",
]

_default: Registry | None = None
_default_lock = threading.Lock()


def default_registry() -> Registry:
    """The shared registry behind :func:`lookup`: the bundled database, default options."""
    global _default  # noqa: PLW0603 - built on first use, never at import
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = Registry()
    return _default


def lookup(address: str, /, **options: Unpack[LookupOptions]) -> LookupResult:
    """Return the mail settings for ``address`` (see :meth:`Registry.lookup` for the options)."""
    registry = _default or default_registry()
    return registry.lookup(address, **options) if options else registry.lookup(address)


async def alookup(address: str, /, **options: Unpack[LookupOptions]) -> LookupResult:
    """Asynchronous twin of :func:`lookup`."""
    return await (_default or default_registry()).alookup(address, **options)


def lookup_many(
    addresses: Iterable[str],
    /,
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    **options: Unpack[LookupOptions],
) -> list[LookupResult | MailSettingsError]:
    """Look many addresses up concurrently (see :meth:`Registry.lookup_many`).

    >>> [type(r).__name__ for r in lookup_many(["a@qq.com", "bad@@address", "b@qq.com"])]
    ['LookupResult', 'InvalidAddressError', 'LookupResult']
    """
    registry = _default or default_registry()
    return registry.lookup_many(addresses, concurrency=concurrency, **options)


async def alookup_many(
    addresses: Iterable[str],
    /,
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    **options: Unpack[LookupOptions],
) -> list[LookupResult | MailSettingsError]:
    """Asynchronous twin of :func:`lookup_many`."""
    registry = _default or default_registry()
    return await registry.alookup_many(addresses, concurrency=concurrency, **options)


def lookup_stream(
    addresses: Iterable[str],
    /,
    *,
    window: int = DEFAULT_WINDOW,
    **options: Unpack[LookupOptions],
) -> Iterator[LookupResult | MailSettingsError]:
    """Look addresses up as they come, in input order (see :meth:`Registry.lookup_stream`).

    >>> for outcome in lookup_stream(["a@qq.com", "not an address"]):
    ...     print(type(outcome).__name__)
    LookupResult
    InvalidAddressError
    """
    registry = _default or default_registry()
    return registry.lookup_stream(addresses, window=window, **options)


def alookup_stream(
    addresses: Iterable[str],
    /,
    *,
    window: int = DEFAULT_WINDOW,
    **options: Unpack[LookupOptions],
) -> AsyncIterator[LookupResult | MailSettingsError]:
    """Asynchronous twin of :func:`lookup_stream` (``async for``)."""
    registry = _default or default_registry()
    return registry.alookup_stream(addresses, window=window, **options)


def providers() -> Iterator[Provider]:
    """Iterate over the bundled providers."""
    return default_registry().providers()
