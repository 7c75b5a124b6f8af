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
from collections.abc import Iterator

from .errors import (
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
from .registry import Registry

__version__ = "0.1.0"

__all__ = [
    "AuthMethod",
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
    "default_registry",
    "lookup",
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


def lookup(address: str, /) -> LookupResult:
    """Return the mail settings for ``address`` (see :meth:`Registry.lookup`)."""
    return (_default or default_registry()).lookup(address)


async def alookup(address: str, /) -> LookupResult:
    """Asynchronous twin of :func:`lookup`."""
    return await (_default or default_registry()).alookup(address)


def providers() -> Iterator[Provider]:
    """Iterate over the bundled providers."""
    return default_registry().providers()
