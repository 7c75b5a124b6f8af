"""Network building blocks shared by the discovery sources, and their options.

* :mod:`~mailsettings.net.policy` — which addresses and host names may be reached, and
  registrable domains (Public Suffix List); no network code.
* :mod:`~mailsettings.net.dns` — every DNS query and every host-name resolution of the
  library, under one budget and one cache (dnspython).
* :mod:`~mailsettings.net.http` — HTTP requests pinned to checked addresses (httpx).
* :mod:`~mailsettings.net.runner` — runs the asynchronous I/O from synchronous code.

The I/O is written once, as asyncio code; the synchronous API runs it on a private
event loop (:func:`~mailsettings.net.runner.run_sync`). ``import mailsettings`` imports
none of these modules; the option groups below are plain declarations.
"""

# No ``from __future__ import annotations``: the option annotations are read at run time.
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Annotated, TypedDict

from ..option import Option, check_bool

if TYPE_CHECKING:
    import ssl

    import dns.asyncresolver
    import dns.resolver

__all__ = ["HttpOptions", "MailOptions", "NetworkOptions"]


def _check_resolver(name: str, value: object) -> object:
    if value is None:
        return None
    if not str(getattr(type(value), "__module__", None) or "").startswith("dns."):  # no import needed
        raise TypeError(
            f"{name} must be a dns.resolver.Resolver or dns.asyncresolver.Resolver, "
            f"not {type(value).__name__}"
        )
    from .dns import check_resolver

    return check_resolver(value)


def _check_ssl_context(name: str, value: object) -> object:
    if value is None:
        return None
    import ssl  # only when a context is given: the module costs milliseconds at import

    if not isinstance(value, ssl.SSLContext):
        raise TypeError(f"{name} must be an ssl.SSLContext, not {type(value).__name__}")
    return value


def _check_networks(name: str, value: object) -> tuple[str, ...]:
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise TypeError(f"{name} must be a tuple of networks such as '10.1.2.0/24'")
    import ipaddress

    checked = []
    for item in value:
        if not isinstance(item, str):
            raise TypeError(f"{name} must hold network strings, not {type(item).__name__}")
        try:
            checked.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError as error:
            raise ValueError(f"{name}: {error}") from None
    return tuple(checked)


def _check_port_map(name: str, value: object) -> "Mapping[int, int] | None":
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise TypeError(f"{name} must be a mapping of ports to ports, not {type(value).__name__}")
    for key, port in value.items():
        for item in (key, port):
            if isinstance(item, bool) or not isinstance(item, int):
                raise TypeError(f"{name} must map int ports to int ports")
            if not 0 < item < 65536:
                raise ValueError(f"{name}: {item} is not a port")
    from ..models import FrozenMap

    return FrozenMap(value)


class NetworkOptions(TypedDict, total=False):
    """Options of every source that goes to the network."""

    resolver: Annotated[
        "dns.resolver.Resolver | dns.asyncresolver.Resolver | None",
        Option(None, "the dnspython resolver", check=_check_resolver, flag=False),
    ]
    """The dnspython resolver for every DNS query and every host name the lookup resolves
    (default: one configured from the system's name servers)."""
    ssl_context: Annotated[
        "ssl.SSLContext | None",
        Option(None, "TLS settings", check=_check_ssl_context, flag=False),
    ]
    """TLS settings and trusted certificate authorities (default: the system's)."""
    allow_private_networks: Annotated[
        bool,
        Option(
            False,
            "allow connections to loopback and private addresses, and host names "
            "that are addresses, in answers (testing, intranets)",
        ),
    ]
    """Allow connections to loopback, private and other non-public addresses, and server
    hosts that are IP addresses or ``localhost`` in answers (default off: a lookup must
    not become a way into internal hosts)."""
    allowed_networks: Annotated[
        tuple[str, ...],
        Option((), "non-public networks to allow anyway", check=_check_networks, flag=False),
    ]
    """Non-public networks connections may go to even without ``allow_private_networks``,
    e.g. ``("10.1.2.0/24",)`` for an intranet autoconfig server (default none)."""


class HttpOptions(NetworkOptions, total=False):
    """Options of every source that fetches over HTTP."""

    allow_http: Annotated[
        bool,
        Option(False, "allow plain-HTTP URLs (results are marked untrusted)", check=check_bool),
    ]
    """Allow plain-HTTP URLs; their results are never trusted (default off)."""


class MailOptions(NetworkOptions, total=False):
    """Options of every connection to a mail server.

    Guessing's probes read them, and so do the probe, verify and connection helpers of
    :mod:`mailsettings.access`.
    """

    port_map: Annotated[
        "Mapping[int, int] | None",
        Option(None, "standard port -> port actually used", check=_check_port_map, flag=False),
    ]
    """Connect to another port than the standard one, e.g. ``{993: 10993}`` (for tests)."""
