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
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

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
from .registry import _KEYWORD_ONLY, DEFAULT_CONCURRENCY, Registry

if TYPE_CHECKING:
    from .registry import AnyResolver

__version__ = "0.1.0"

__all__ = [
    "AuthMethod",
    "AutoconfigError",
    "DiscoveryError",
    "DiscoveryTimeoutError",
    "DomainNotFoundError",
    "Instruction",
    "InvalidAddressError",
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
    "default_registry",
    "lookup",
    "lookup_many",
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


if TYPE_CHECKING:  # the signature: options are keyword-only

    def lookup(
        address: str,
        /,
        *,
        mx: bool | None = None,
        srv: bool | None = None,
        timeout: float | None = None,
        resolver: AnyResolver | None = None,
    ) -> LookupResult:
        """Return the mail settings for ``address`` (see the run-time definition)."""
        ...

else:
    # Options sit behind a positional sentinel at run time, as in Registry.lookup: keyword-only
    # defaults make every call about 80 ns slower, and this is the fast path.
    def lookup(
        address, /, _keyword_only=_KEYWORD_ONLY, mx=None, srv=None, timeout=None, resolver=None
    ):
        """Return the mail settings for ``address`` (see :meth:`Registry.lookup` for the options).

        The options ``mx``, ``srv``, ``timeout`` and ``resolver`` are keyword-only.
        """
        if _keyword_only is not _KEYWORD_ONLY:
            raise TypeError("lookup() takes the address as its only positional argument")
        registry = _default or default_registry()
        if mx is None and srv is None and timeout is None and resolver is None:
            return registry.lookup(address)  # the common call, without keyword passing
        return registry.lookup(address, mx=mx, srv=srv, timeout=timeout, resolver=resolver)


async def alookup(
    address: str,
    /,
    *,
    mx: bool | None = None,
    srv: bool | None = None,
    timeout: float | None = None,
    resolver: AnyResolver | None = None,
) -> LookupResult:
    """Asynchronous twin of :func:`lookup`."""
    return await (_default or default_registry()).alookup(
        address, mx=mx, srv=srv, timeout=timeout, resolver=resolver
    )


def lookup_many(
    addresses: Iterable[str],
    /,
    *,
    mx: bool | None = None,
    srv: bool | None = None,
    timeout: float | None = None,
    resolver: AnyResolver | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> list[LookupResult | MailSettingsError]:
    """Look many addresses up concurrently (see :meth:`Registry.lookup_many`).

    >>> [type(r).__name__ for r in lookup_many(["a@qq.com", "bad@@address", "b@qq.com"])]
    ['LookupResult', 'InvalidAddressError', 'LookupResult']
    """
    return (_default or default_registry()).lookup_many(
        addresses, mx=mx, srv=srv, timeout=timeout, resolver=resolver, concurrency=concurrency
    )


async def alookup_many(
    addresses: Iterable[str],
    /,
    *,
    mx: bool | None = None,
    srv: bool | None = None,
    timeout: float | None = None,
    resolver: AnyResolver | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> list[LookupResult | MailSettingsError]:
    """Asynchronous twin of :func:`lookup_many`."""
    return await (_default or default_registry()).alookup_many(
        addresses, mx=mx, srv=srv, timeout=timeout, resolver=resolver, concurrency=concurrency
    )


def providers() -> Iterator[Provider]:
    """Iterate over the bundled providers."""
    return default_registry().providers()
