"""Lookup options: what a call may pass, and the registry's defaults for them.

Every option is a keyword of :func:`mailsettings.lookup`, :meth:`Registry.lookup` and
their twins, and of :class:`~mailsettings.Registry` itself (as the default):

>>> from mailsettings import Registry
>>> registry = Registry(mx=True, timeout=3.0)
>>> registry.lookup("someone@qq.com").provider.id  # a known domain asks no network source
'qq.com'
>>> registry.lookup("someone@qq.com", retries=2)
Traceback (most recent call last):
...
TypeError: unknown lookup option(s): retries
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any, TypedDict

if TYPE_CHECKING:
    import ssl

    import dns.asyncresolver
    import dns.resolver

__all__ = [
    "AUTOCONFIG_SOURCES",
    "DEFAULT_AUTOCONFIG_URL",
    "DEFAULT_ISPDB_URL",
    "DEFAULT_WELL_KNOWN_URL",
    "LookupOptions",
    "Options",
]

DEFAULT_AUTOCONFIG_URL = "https://autoconfig.{domain}/mail/config-v1.1.xml?emailaddress={address}"
"""The provider's own autoconfig file (``{address}`` is URL-encoded)."""
DEFAULT_WELL_KNOWN_URL = "https://{domain}/.well-known/autoconfig/mail/config-v1.1.xml"
DEFAULT_ISPDB_URL = "https://autoconfig.thunderbird.net/v1.1/"
AUTOCONFIG_SOURCES = ("autoconfig", "well-known", "ispdb", "ispdb-mx")
"""The live autoconfig sources, in the order they are tried (``ispdb-mx`` after MX)."""


class LookupOptions(TypedDict, total=False):
    """The options of a lookup; each one left out takes the registry's default."""

    mx: bool
    """Match the domain's MX hosts against the platforms in the database (default off)."""
    srv: bool
    """Read the domain's RFC 6186 / RFC 8314 SRV records (default off)."""
    autoconfig: bool
    """Ask the live autoconfig sources: the provider's own file, the well-known URL and
    Thunderbird's ISPDB, by domain and by MX host (default off). The MX hosts are
    queried for the ISPDB by MX host, but matched against the database's platforms
    only with ``mx=True``."""
    timeout: float
    """One budget in seconds for the whole lookup, every source included (default 10)."""
    resolver: dns.resolver.Resolver | dns.asyncresolver.Resolver | None
    """The dnspython resolver for DNS queries and for the names of autoconfig hosts
    (default: the system's name servers)."""
    ssl_context: ssl.SSLContext | None
    """TLS settings and trusted certificate authorities for autoconfig fetches
    (default: the system's)."""
    autoconfig_sources: tuple[str, ...]
    """Which live sources ``autoconfig=True`` asks, of :data:`AUTOCONFIG_SOURCES` (default all)."""
    autoconfig_url: str
    """Template of the provider's own file, with ``{domain}`` and ``{address}``
    (default :data:`DEFAULT_AUTOCONFIG_URL`)."""
    well_known_url: str
    """Template of the well-known URL, with ``{domain}`` (default :data:`DEFAULT_WELL_KNOWN_URL`)."""
    ispdb_url: str
    """Base URL of the ISPDB; the domain is appended (default :data:`DEFAULT_ISPDB_URL`)."""
    allow_http: bool
    """Allow plain-HTTP autoconfig URLs; their results are never trusted (default off)."""
    allow_private_networks: bool
    """Allow autoconfig fetches from loopback, private and other non-public addresses
    (default off: a lookup must not become a way into internal hosts)."""


@dataclass(frozen=True, slots=True)
class Options:
    """Resolved lookup options (every value set); see :class:`LookupOptions`."""

    mx: bool = False
    srv: bool = False
    autoconfig: bool = False
    timeout: float = 10.0
    resolver: Any = None
    ssl_context: ssl.SSLContext | None = None
    autoconfig_sources: tuple[str, ...] = AUTOCONFIG_SOURCES
    autoconfig_url: str = DEFAULT_AUTOCONFIG_URL
    well_known_url: str = DEFAULT_WELL_KNOWN_URL
    ispdb_url: str = DEFAULT_ISPDB_URL
    allow_http: bool = False
    allow_private_networks: bool = False

    def __post_init__(self) -> None:
        timeout = self.timeout
        if (
            isinstance(timeout, bool)
            or not isinstance(timeout, int | float)
            or not math.isfinite(timeout)
            or timeout <= 0
        ):
            raise ValueError(f"timeout must be a positive number of seconds, not {timeout!r}")
        if self.ssl_context is not None:
            import ssl  # only when a context is given: the module costs milliseconds at import

            if not isinstance(self.ssl_context, ssl.SSLContext):
                raise TypeError("ssl_context must be an ssl.SSLContext")
        for name in ("autoconfig_url", "well_known_url", "ispdb_url"):
            if not isinstance(getattr(self, name), str):
                raise TypeError(f"{name} must be a str")
        object.__setattr__(self, "autoconfig_sources", tuple(self.autoconfig_sources))
        unknown = set(self.autoconfig_sources) - set(AUTOCONFIG_SOURCES)
        if unknown:
            raise ValueError(f"unknown autoconfig source(s): {', '.join(sorted(unknown))}")

    def merged(self, overrides: Mapping[str, Any]) -> Options:
        """These options with ``overrides`` applied; unknown names raise :class:`TypeError`."""
        unknown = overrides.keys() - _NAMES
        if unknown:
            raise TypeError(f"unknown lookup option(s): {', '.join(sorted(unknown))}")
        flags = {name: bool(overrides[name]) for name in _FLAGS if name in overrides}
        return replace(self, **{**overrides, **flags})

    @property
    def sources(self) -> frozenset[str]:
        """Which network sources are on (keys of ``sources.base.SOURCE_ORDER``)."""
        on = {"mx"} if self.mx else set()
        if self.srv:
            on.add("srv")
        if self.autoconfig:
            on.update(self.autoconfig_sources)
        return frozenset(on)


_NAMES = frozenset(field.name for field in fields(Options))
_FLAGS = ("mx", "srv", "autoconfig", "allow_http", "allow_private_networks")
