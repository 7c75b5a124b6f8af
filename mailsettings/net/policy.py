"""Where the library may connect: public addresses, host names from answers, sites.

No network code here: the rules are pure functions, shared by the DNS, HTTP and mail
protocol code and usable without importing any of them.

>>> from ipaddress import ip_address
>>> [is_public_address(ip_address(a)) for a in ("93.184.216.34", "10.0.0.1",
...     "100.64.0.1", "::ffff:127.0.0.1", "2002:c0a8:0101::", "2606:4700::1111")]
[True, False, False, False, False, True]
>>> usable_host("127.0.0.1."), usable_host("localhost"), usable_host("mail.example.net")
(False, False, True)
>>> registrable_domain("autoconfig.mail.example.co.uk")
'example.co.uk'
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from publicsuffixlist import PublicSuffixList

__all__ = [
    "IPAddress",
    "address_allowed",
    "ip_literal",
    "is_public_address",
    "is_public_suffix",
    "registrable_domain",
    "usable_host",
    "within_domain",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_NOT_PUBLIC = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",  # CGNAT shared address space
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.88.99.0/24",  # 6to4 relay anycast
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",
        "240.0.0.0/4",
        "::/8",  # unspecified, loopback, IPv4-compatible
        "64:ff9b:1::/48",  # local-use NAT64
        "100::/64",
        "2001::/23",  # IETF protocol assignments (Teredo, ORCHID, ...)
        "2001:db8::/32",
        "fc00::/7",
        "fe80::/10",
        "fec0::/10",
        "ff00::/8",
    )
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, 6to4, NAT64), if any."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_public_address(ip: IPAddress) -> bool:
    """Whether ``ip`` is a public unicast address the library may connect to by default."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id:
            return False
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            return is_public_address(embedded)
    if any(ip in network for network in _NOT_PUBLIC):
        return False
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_private)


def address_allowed(
    ip: IPAddress, *, allow_private_networks: bool, allowed_networks: Iterable[IPNetwork] = ()
) -> bool:
    """Whether a connection to ``ip`` is allowed under the public-address policy.

    Unspecified, multicast and scoped (link-local with a zone) addresses are never
    allowed; non-public ones only with ``allow_private_networks`` or when they lie in
    one of ``allowed_networks``.
    """
    if ip.is_unspecified or ip.is_multicast:
        return False  # never a server: 0.0.0.0 reaches the local host on some systems
    if isinstance(ip, ipaddress.IPv6Address) and ip.scope_id:
        return False
    if allow_private_networks or is_public_address(ip):
        return True
    return any(ip.version == net.version and ip in net for net in allowed_networks)


def ip_literal(host: str) -> IPAddress | None:
    """The address when ``host`` is an IP address literal (brackets and a final dot allowed)."""
    text = host.strip().rstrip(".")
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def usable_host(host: str, *, allow_private_networks: bool = False) -> bool:
    """Whether a host name read from a network answer may become a server host.

    IP-address literals and ``localhost`` names are refused unless
    ``allow_private_networks``: a hostile answer must not point a client at the local
    machine or an internal address.
    """
    if allow_private_networks:
        return True
    name = host.strip().rstrip(".").lower()
    if ip_literal(name) is not None:
        return False
    return name != "localhost" and not name.endswith(".localhost")


def within_domain(host: str, domain: str) -> bool:
    """Whether ``host`` is ``domain`` or a name below it (both lower-case ASCII).

    >>> within_domain("mail.example.org", "example.org"), within_domain("badexample.org", "example.org")
    (True, False)
    """
    return host == domain or host.endswith("." + domain)


@functools.cache
def _psl() -> PublicSuffixList:
    from publicsuffixlist import PublicSuffixList  # the bundled list; no network

    return PublicSuffixList()


def registrable_domain(host: str) -> str:
    """The registrable domain of a host name (Public Suffix List), or the host itself.

    >>> registrable_domain("co.uk")
    'co.uk'
    """
    host = host.lower().rstrip(".")
    if ip_literal(host) is not None:
        return host
    return _psl().privatesuffix(host) or host


def is_public_suffix(name: str) -> bool:
    """Whether ``name`` is a public suffix (``com``, ``co.uk``, ``github.io``, unknown TLDs).

    >>> is_public_suffix("co.uk"), is_public_suffix("example.co.uk")
    (True, False)
    """
    return bool(_psl().is_public(name.lower().rstrip(".")))
