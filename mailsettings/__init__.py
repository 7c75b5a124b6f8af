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

from collections.abc import AsyncIterator, Iterable, Iterator
from typing import TYPE_CHECKING

from ._version import __version__
from .bulk import DEFAULT_WINDOW
from .errors import (
    AppPasswordRequiredError,
    AuthenticationError,
    AutoconfigError,
    ConnectError,
    ConnectTimeoutError,
    DiscoveryError,
    DiscoveryTimeoutError,
    DomainNotFoundError,
    InvalidAddressError,
    MailSettingsError,
    NoMailError,
    ProtocolError,
    ProviderNotFoundError,
    TLSError,
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
from .registry import DEFAULT_CONCURRENCY, Registry, default_registry

if TYPE_CHECKING:
    from types import ModuleType

    from typing_extensions import Unpack

    from .access.django import django_email_settings
    from .access.probe import ProbeResult, aprobe, probe
    from .access.stdlib import connect_imap, connect_pop3, connect_smtp
    from .access.verify import ProtocolCheck, Verification, averify, verify
    from .options import LookupOptions

__all__ = [
    "AppPasswordRequiredError",
    "AuthMethod",
    "AuthenticationError",
    "AutoconfigError",
    "ConnectError",
    "ConnectTimeoutError",
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
    "ProbeResult",
    "Protocol",
    "ProtocolCheck",
    "ProtocolError",
    "Provider",
    "ProviderNotFoundError",
    "Registry",
    "Security",
    "Server",
    "Source",
    "Status",
    "TLSError",
    "Verification",
    "__version__",
    "alookup",
    "alookup_many",
    "alookup_stream",
    "aprobe",
    "averify",
    "connect_imap",
    "connect_pop3",
    "connect_smtp",
    "default_registry",
    "django_email_settings",
    "lookup",
    "lookup_many",
    "lookup_stream",
    "probe",
    "providers",
    "verify",
]

def lookup(address: str, /, **options: Unpack[LookupOptions]) -> LookupResult:
    """Return the mail settings for ``address`` (see :meth:`Registry.lookup` for the options)."""
    registry = default_registry()
    return registry.lookup(address, **options) if options else registry.lookup(address)


async def alookup(address: str, /, **options: Unpack[LookupOptions]) -> LookupResult:
    """Asynchronous twin of :func:`lookup`."""
    return await default_registry().alookup(address, **options)


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
    registry = default_registry()
    return registry.lookup_many(addresses, concurrency=concurrency, **options)


async def alookup_many(
    addresses: Iterable[str],
    /,
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    **options: Unpack[LookupOptions],
) -> list[LookupResult | MailSettingsError]:
    """Asynchronous twin of :func:`lookup_many`."""
    registry = default_registry()
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
    registry = default_registry()
    return registry.lookup_stream(addresses, window=window, **options)


def alookup_stream(
    addresses: Iterable[str],
    /,
    *,
    window: int = DEFAULT_WINDOW,
    **options: Unpack[LookupOptions],
) -> AsyncIterator[LookupResult | MailSettingsError]:
    """Asynchronous twin of :func:`lookup_stream` (``async for``)."""
    registry = default_registry()
    return registry.alookup_stream(addresses, window=window, **options)


def providers() -> Iterator[Provider]:
    """Iterate over the bundled providers."""
    return default_registry().providers()


def __getattr__(name: str) -> object:
    # Public names imported on first use: a plain lookup needs none of their modules.
    module: ModuleType
    if name == "LookupOptions":
        from . import options as module
    elif name in ("ProbeResult", "aprobe", "probe"):
        from .access import probe as module
    elif name in ("ProtocolCheck", "Verification", "averify", "verify"):
        from .access import verify as module
    elif name in ("connect_imap", "connect_pop3", "connect_smtp"):
        from .access import stdlib as module
    elif name == "django_email_settings":
        from .access import django as module
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(module, name)
    globals()[name] = value  # found once; later reads do not come here
    return value
