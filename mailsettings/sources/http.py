"""A GET request that is safe to point at host names users typed.

Live autoconfig sources fetch URLs built from the domain of an address that a user
typed, on a server that may sit inside a private network. :func:`fetch` (and its
async twin :func:`afetch`) therefore:

* resolves the host name itself (an injected dnspython resolver, else
  ``getaddrinfo``), refuses the request when any address is not public (loopback,
  private, link-local, CGNAT, multicast, reserved, ... and the IPv6 forms that embed
  such an IPv4 address) unless ``allow_private_networks`` is set, and then connects
  to the address it checked, so a DNS answer that changes between the check and the
  connection (DNS rebinding) cannot redirect it: the request goes to
  ``https://<address>:<port>/path`` with the ``Host`` header and the TLS server name
  (SNI, and so certificate verification) set to the real name;
* speaks HTTPS only unless ``allow_http`` is set, never follows a redirect from HTTPS
  to HTTP or to another registrable domain (Public Suffix List), follows at most
  ``max_redirects`` redirects and checks every hop like the first;
* caps the body (``max_bytes``, also checked against ``Content-Length`` before the
  body is read), and bounds every network operation (name resolution, connect, TLS
  handshake, each read) by what is left of the fetch's budget (``options.timeout``)
  and of the caller's ``deadline``, so a server that sends one byte a second cannot
  stretch the call;
* accepts only status 200 with an XML-ish (or plain-text) content type, and no
  content encoding (no compression bombs);
* raises only :class:`FetchError` (and :class:`FetchTimeoutError`), whose ``reason``
  is a short sentence fit for a "source skipped" note: never an httpx, ssl or socket
  exception.

The policy is written once, in :class:`_Policy`; :func:`fetch` and :func:`afetch`
differ only in how they resolve names and move bytes.

This module is the only one that imports httpx; it is imported only when a live
source is asked for.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import re
import socket
import ssl
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

from .. import __version__
from ..errors import MailSettingsError

if TYPE_CHECKING:
    import dns.asyncresolver
    import dns.resolver
    from publicsuffixlist import PublicSuffixList

__all__ = [
    "FetchError",
    "FetchOptions",
    "FetchRefusedError",
    "FetchTimeoutError",
    "Fetched",
    "afetch",
    "fetch",
    "is_public_address",
    "is_public_suffix",
    "registrable_domain",
]

MiB = 1 << 20
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_DEFAULT_PORTS = {"https": 443, "http": 80}
_ACCEPT = "application/xml, text/xml;q=0.9, text/plain;q=0.5"
_TEXT_TYPES = frozenset({"text/xml", "application/xml", "text/plain"})
_MAX_REASON = 200
_HOST = re.compile(
    r"(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
)


# --- errors ------------------------------------------------------------------


class FetchError(MailSettingsError):
    """A live source could not be fetched; ``reason`` says why in one sentence.

    ``temporary`` is true when trying again later may succeed (a timeout, a 5xx status,
    a failing DNS server); ``status`` is the HTTP status that ended the fetch, if any.
    """

    temporary: bool = False

    def __init__(
        self, reason: str, *, url: str = "", status: int | None = None, temporary: bool = False
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.url = url
        self.status = status
        self.temporary = temporary or type(self).temporary


class FetchRefusedError(FetchError):
    """The request was refused by policy (address, scheme, redirect, size, type)."""


class FetchTimeoutError(FetchError, TimeoutError):
    """The request ran out of its time budget."""

    temporary = True


def _clean(text: str) -> str:
    """Text from a library or a server, made fit for a one-line reason."""
    text = "".join(char if char.isprintable() else " " for char in text).strip()
    return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 1] + "…"


# --- options and result ----------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class FetchOptions:
    """How careful a fetch is. The defaults suit a server fetching for its users."""

    allow_http: bool = False
    """Allow plain ``http://`` URLs (a redirect from HTTPS to HTTP is refused anyway)."""
    allow_private_networks: bool = False
    """Allow loopback, private and other non-public addresses (tests, intranets)."""
    allowed_networks: tuple[str, ...] = ()
    """Non-public networks allowed even so, e.g. ``("10.1.2.0/24",)`` for an intranet server."""
    ssl_context: ssl.SSLContext | None = None
    """TLS settings and trusted CAs; default ``ssl.create_default_context()``."""
    timeout: float = 5.0
    """Budget in seconds for one fetch, name resolution and redirects included; the
    caller's ``deadline``, when earlier, ends it sooner. Every network operation
    (connect, TLS handshake, each read) is bounded by what is left of it."""
    max_bytes: int = MiB
    """Largest body accepted."""
    max_redirects: int = 3
    """Most redirects followed."""
    user_agent: str = f"mailsettings/{__version__}"
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if not self.timeout > 0:
            raise ValueError("timeout must be positive")
        if self.max_bytes < 1 or self.max_redirects < 0:
            raise ValueError("max_bytes must be positive and max_redirects not negative")
        networks = tuple(ipaddress.ip_network(n, strict=False) for n in self.allowed_networks)
        object.__setattr__(self, "networks", networks)


@dataclass(frozen=True)
class Fetched:
    """A successful fetch."""

    url: str
    """The URL asked for."""
    final_url: str
    """The URL the body came from, after redirects (with the host name, not the address)."""
    body: bytes
    https: bool
    """Whether every hop was HTTPS (a plain-HTTP hop could have chosen where the next one went)."""
    content_type: str = ""


# --- addresses and domains -----------------------------------------------------------

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
    """Whether ``ip`` is a public unicast address a fetch may connect to.

    >>> from ipaddress import ip_address
    >>> [is_public_address(ip_address(a)) for a in ("93.184.216.34", "10.0.0.1",
    ...     "100.64.0.1", "::ffff:127.0.0.1", "2002:c0a8:0101::", "2606:4700::1111")]
    [True, False, False, False, False, True]
    """
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id:
            return False
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            return is_public_address(embedded)
    if any(ip in network for network in _NOT_PUBLIC):
        return False
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_private)


def _address_allowed(ip: IPAddress, options: FetchOptions) -> bool:
    if ip.is_unspecified or ip.is_multicast:
        return False  # never a server: 0.0.0.0 reaches the local host on some systems
    if options.allow_private_networks or is_public_address(ip):
        return True
    return any(ip.version == net.version and ip in net for net in options.networks)


@functools.cache
def _psl() -> PublicSuffixList:
    from publicsuffixlist import PublicSuffixList

    return PublicSuffixList()


def registrable_domain(host: str) -> str:
    """The registrable domain of a host name (Public Suffix List), or the host itself.

    >>> registrable_domain("autoconfig.mail.example.co.uk")
    'example.co.uk'
    >>> registrable_domain("co.uk")
    'co.uk'
    """
    host = host.lower().rstrip(".")
    if _ip_literal(host) is not None:
        return host
    return _psl().privatesuffix(host) or host


def is_public_suffix(name: str) -> bool:
    """Whether ``name`` is a public suffix (``com``, ``co.uk``, ``github.io``, unknown TLDs).

    >>> is_public_suffix("co.uk"), is_public_suffix("example.co.uk")
    (True, False)
    """
    return bool(_psl().is_public(name.lower().rstrip(".")))


def _ip_literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


# --- the policy, written once ------------------------------------------------------


@dataclass(frozen=True)
class _Target:
    url: str
    scheme: str
    host: str
    """Lower-case ASCII host name or IP address (without brackets)."""
    port: int
    path: str

    @property
    def literal(self) -> IPAddress | None:
        return _ip_literal(self.host)

    @property
    def authority(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == _DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"


def _parse_url(url: str) -> _Target:
    try:
        parts = urlsplit(url)
        port = parts.port
        hostname = parts.hostname
    except ValueError as error:
        raise FetchRefusedError(f"malformed URL: {_clean(str(error))}", url=url) from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise FetchRefusedError(f"only http(s) URLs are fetched, not {scheme!r}", url=url)
    if not hostname:
        raise FetchRefusedError("the URL has no host", url=url)
    if parts.username is not None or parts.password is not None:
        raise FetchRefusedError("URLs with credentials are refused", url=url)
    if any(ord(char) < 0x21 or ord(char) == 0x7F for char in url):
        raise FetchRefusedError("the URL contains white space or control characters", url=url)
    host = hostname.rstrip(".")
    if _ip_literal(host) is None and not host.isascii():
        import idna

        try:
            host = idna.encode(host, uts46=True).decode("ascii")
        except idna.IDNAError:
            raise FetchRefusedError(f"{_clean(host)!r} is not a valid host name", url=url) from None
    if _ip_literal(host) is None and (len(host) > 253 or not _HOST.fullmatch(host)):
        raise FetchRefusedError(f"{_clean(host)!r} is not a valid host name", url=url)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return _Target(url, scheme, host, port or _DEFAULT_PORTS[scheme], path)


class _Policy:
    """Everything a fetch decides; the drivers only move bytes."""

    def __init__(self, url: str, options: FetchOptions, deadline: float | None) -> None:
        self.options = options
        self.url = url
        own = time.monotonic() + options.timeout
        self.deadline = own if deadline is None else min(own, deadline)
        self.target = _parse_url(url)
        if self.target.scheme == "http" and not options.allow_http:
            raise FetchRefusedError("plain HTTP is not allowed (HTTPS only)", url=url)
        self.site = registrable_domain(self.target.host)
        self.redirects = 0
        self.content_type = ""
        self.all_https = self.target.scheme == "https"
        self.activity = "talking to"
        """What the fetch is doing, for a timeout's reason: ``resolving`` or ``talking to``."""

    # time

    def remaining(self) -> float:
        """Seconds left before the deadline; raises when none are left."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise FetchTimeoutError("timed out (the time budget ran out)", url=self.target.url)
        return left

    def step_timeout(self, timeout: float | None = None) -> float:
        """The budget for one network operation: at most what is left."""
        left = self.remaining()
        return left if timeout is None else min(timeout, left)

    # addresses

    def check_addresses(self, found: Iterable[str]) -> list[str]:
        """Check every resolved address; return them, deduplicated, as URL hosts."""
        checked: list[str] = []
        for text in found:
            ip = ipaddress.ip_address(text)
            if not _address_allowed(ip, self.options) or getattr(ip, "scope_id", None):
                where = (
                    "the URL names"
                    if self.target.literal is not None
                    else f"{self.target.host} resolves to"
                )
                raise FetchRefusedError(
                    f"{where} the non-public address {ip}; refused "
                    "(pass allow_private_networks=True to allow it)",
                    url=self.target.url,
                )
            host = f"[{ip}]" if ip.version == 6 else str(ip)
            if host not in checked:
                checked.append(host)
        if not checked:
            raise FetchError(f"{self.target.host} has no address", url=self.target.url)
        return checked

    def literal_addresses(self) -> list[str] | None:
        """The checked address when the URL names an IP address, else ``None``."""
        ip = self.target.literal
        return None if ip is None else self.check_addresses([str(ip)])

    # requests

    def request(self, address: str) -> tuple[str, dict[str, str], dict[str, Any]]:
        """URL, headers and httpx extensions for a request to one checked address."""
        target = self.target
        url = f"{target.scheme}://{address}:{target.port}{target.path}"
        headers = {
            "Host": target.authority,
            "User-Agent": self.options.user_agent,
            "Accept": _ACCEPT,
            "Accept-Encoding": "identity",
        }
        extensions: dict[str, Any] = {}
        if target.scheme == "https" and target.literal is None:
            extensions["sni_hostname"] = target.host
        return url, headers, extensions

    def response(self, status: int, headers: httpx.Headers) -> bool:
        """Check a response's head; return ``True`` when it is a redirect to follow."""
        target = self.target
        if status in _REDIRECTS:
            location = headers.get("location")
            if not location:
                raise FetchError(f"HTTP status {status} without a Location", url=target.url)
            self._redirect(urljoin(target.url, location.strip()))
            return True
        if status != 200:
            raise FetchError(
                f"HTTP status {status}",
                url=target.url,
                status=status,
                temporary=status >= 500 or status in (408, 429),
            )
        encoding = headers.get("content-encoding", "identity").strip().lower()
        if encoding not in ("", "identity"):
            raise FetchRefusedError(
                f"compressed responses are refused (Content-Encoding {_clean(encoding)!r})",
                url=target.url,
            )
        content_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if content_type and not (content_type in _TEXT_TYPES or content_type.endswith("+xml")):
            raise FetchRefusedError(
                f"unexpected content type {_clean(content_type)!r} (expected XML)", url=target.url
            )
        self.content_type = content_type
        length = headers.get("content-length")
        if length is not None and length.strip().isdigit() and int(length) > self.options.max_bytes:
            raise FetchRefusedError(
                f"response too large ({int(length)} bytes; the limit is {self.options.max_bytes})",
                url=target.url,
            )
        return False

    def _redirect(self, location: str) -> None:
        current = self.target
        if self.redirects >= self.options.max_redirects:
            raise FetchRefusedError(
                f"too many redirects (more than {self.options.max_redirects})", url=current.url
            )
        try:
            target = _parse_url(location)
        except FetchRefusedError as error:
            raise FetchRefusedError(f"redirect refused: {error.reason}", url=current.url) from None
        if current.scheme == "https" and target.scheme == "http":
            raise FetchRefusedError(
                f"redirect from HTTPS to plain HTTP refused ({_clean(location)})", url=current.url
            )
        if target.scheme == "http" and not self.options.allow_http:
            raise FetchRefusedError("redirect to plain HTTP refused", url=current.url)
        site = registrable_domain(target.host)
        if site != self.site:
            raise FetchRefusedError(
                f"redirect to another domain refused ({site}, not {self.site})", url=current.url
            )
        self.redirects += 1
        self.all_https = self.all_https and target.scheme == "https"
        self.target = target

    def add(self, body: bytearray, chunk: bytes) -> None:
        """Append a chunk of the body, enforcing the size cap and the deadline."""
        if len(body) + len(chunk) > self.options.max_bytes:
            raise FetchRefusedError(
                f"response too large (more than {self.options.max_bytes} bytes)",
                url=self.target.url,
            )
        body += chunk
        self.remaining()

    def result(self, body: bytearray) -> Fetched:
        return Fetched(self.url, self.target.url, bytes(body), self.all_https, self.content_type)

    def translate(self, error: BaseException) -> FetchError:
        """Turn a library exception into a :class:`FetchError` with a readable reason."""
        url = self.target.url
        if isinstance(error, FetchError):
            error.url = error.url or url
            return error
        if isinstance(error, httpcore.TimeoutException | TimeoutError | socket.timeout):
            return FetchTimeoutError(f"timed out {self.activity} {self.target.host}", url=url)
        cause: BaseException | None = error
        while cause is not None:
            if isinstance(cause, ssl.SSLCertVerificationError):
                detail = cause.verify_message or str(cause)
                return FetchError(
                    f"TLS certificate of {self.target.host} not accepted: {_clean(detail)}",
                    url=url,
                )
            if isinstance(cause, ssl.SSLError):
                return FetchError(
                    f"TLS failed with {self.target.host}: {_clean(str(cause))}", url=url
                )
            cause = cause.__cause__ or cause.__context__
        if isinstance(error, httpcore.ConnectError):
            return FetchError(
                f"could not connect to {self.target.host}: {_clean(str(error))}", url=url
            )
        if isinstance(error, httpcore.ProtocolError | httpx.HTTPError):
            return FetchError(
                f"bad HTTP response from {self.target.host}: {_clean(str(error))}", url=url
            )
        return FetchError(
            f"network error with {self.target.host}: {_clean(str(error) or type(error).__name__)}",
            url=url,
        )


def _client_options(policy: _Policy) -> dict[str, Any]:
    return {
        "trust_env": False,  # no proxies or .netrc from the environment
        "follow_redirects": False,  # the policy follows them, hop by hop
        "timeout": httpx.Timeout(policy.options.timeout),
    }


def _ssl_context(options: FetchOptions) -> ssl.SSLContext:
    return options.ssl_context or _default_ssl_context()


@functools.cache
def _default_ssl_context() -> ssl.SSLContext:
    return ssl.create_default_context()


_NO_NAME = (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME))
_CONNECT_ERRORS = (httpcore.ConnectError, httpcore.ConnectTimeout)


# --- sync I/O ----------------------------------------------------------------------


class _Stream(httpcore.NetworkStream):
    """A network stream whose every operation ends by the policy's deadline."""

    def __init__(self, stream: httpcore.NetworkStream, policy: _Policy) -> None:
        self._stream = stream
        self._policy = policy

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, self._policy.step_timeout(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, self._policy.step_timeout(timeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        # The handshake as a whole is bounded by the socket timeout (CPython's ssl).
        stream = self._stream.start_tls(
            ssl_context, server_hostname, self._policy.step_timeout(timeout)
        )
        return _Stream(stream, self._policy)

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _Backend(httpcore.NetworkBackend):
    def __init__(self, policy: _Policy) -> None:
        self._backend = httpcore.SyncBackend()
        self._policy = policy

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._backend.connect_tcp(
            host, port, self._policy.step_timeout(timeout), local_address, socket_options
        )
        return _Stream(stream, self._policy)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        raise FetchRefusedError("Unix sockets are not used")  # pragma: no cover

    def sleep(self, seconds: float) -> None:  # pragma: no cover - no retries configured
        time.sleep(min(seconds, self._policy.remaining()))


class _ByteStream(httpx.SyncByteStream):
    def __init__(self, stream: Iterable[bytes]) -> None:
        self._stream = stream

    def __iter__(self) -> Iterator[bytes]:
        yield from self._stream

    def close(self) -> None:
        close = getattr(self._stream, "close", None)
        if close is not None:
            close()


class _Transport(httpx.BaseTransport):
    """httpx over an httpcore pool whose network backend keeps the deadline."""

    def __init__(self, policy: _Policy) -> None:
        self._pool = httpcore.ConnectionPool(
            ssl_context=_ssl_context(policy.options),
            network_backend=_Backend(policy),
            http1=True,
            http2=False,
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self._pool.handle_request(_core_request(request))
        assert isinstance(response.stream, Iterable)
        return httpx.Response(
            response.status,
            headers=response.headers,
            stream=_ByteStream(response.stream),
            extensions=response.extensions,
        )

    def close(self) -> None:
        self._pool.close()


def _core_request(request: httpx.Request) -> httpcore.Request:
    return httpcore.Request(
        method=request.method,
        url=httpcore.URL(
            scheme=request.url.raw_scheme,
            host=request.url.raw_host,
            port=request.url.port,
            target=request.url.raw_path,
        ),
        headers=request.headers.raw,
        extensions=request.extensions,
    )


def _in_thread(work: Callable[[], list[str]], host: str, timeout: float) -> list[str]:
    """Run a blocking name lookup in a daemon thread, abandoned after ``timeout`` seconds.

    Neither ``getaddrinfo`` nor dnspython's ``resolve`` (which sleeps a back-off between
    rounds before it checks its lifetime) holds a deadline by itself.
    """
    found: list[str] = []
    failure: list[Exception] = []

    def run() -> None:
        try:
            found.extend(work())
        except Exception as error:
            failure.append(error)

    thread = threading.Thread(target=run, name="mailsettings-resolve", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise FetchTimeoutError(f"timed out resolving {host}")
    if failure:
        raise failure[0]
    return found


def _resolve_failure(host: str, error: OSError) -> FetchError:
    if isinstance(error, socket.gaierror) and error.errno in _NO_NAME:
        return FetchError(f"{host} does not resolve")
    return FetchError(f"could not resolve {host}: {_clean(str(error))}", temporary=True)


def _dns_failure(host: str, error: Exception) -> FetchError:
    import dns.exception
    import dns.resolver

    if isinstance(error, dns.exception.Timeout):
        return FetchTimeoutError(f"timed out resolving {host}")
    if isinstance(error, dns.resolver.NXDOMAIN):
        return FetchError(f"{host} does not exist (NXDOMAIN)")
    return FetchError(f"could not resolve {host}: {_clean(str(error))}", temporary=True)


def _resolve(policy: _Policy, resolver: dns.resolver.Resolver | None) -> list[str]:
    host, port = policy.target.host, policy.target.port
    timeout = policy.step_timeout()
    if resolver is None:

        def system() -> list[str]:
            try:
                infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            except OSError as error:
                raise _resolve_failure(host, error) from None
            return [str(info[4][0]) for info in infos]

        return _in_thread(system, host, timeout)
    import dns.exception
    import dns.name

    name = dns.name.from_text(host)

    def query() -> list[str]:
        found: list[str] = []
        for rdtype in ("A", "AAAA"):
            try:
                answer = resolver.resolve(
                    name, rdtype, raise_on_no_answer=False, lifetime=policy.step_timeout()
                )
            except dns.exception.DNSException as error:
                raise _dns_failure(host, error) from None
            found.extend(str(record) for record in answer)
        return found

    return _in_thread(query, host, timeout)


def fetch(
    url: str,
    *,
    options: FetchOptions | None = None,
    resolver: dns.resolver.Resolver | None = None,
    deadline: float | None = None,
) -> Fetched:
    """GET ``url`` under the rules in the module's description.

    ``deadline`` is a :func:`time.monotonic` time by which the call ends even when
    ``options.timeout`` would allow more, so one budget can span several fetches; ``resolver`` is
    the dnspython resolver that maps host names (default: ``socket.getaddrinfo``).
    Raises :class:`FetchError` (:class:`FetchTimeoutError` when time ran out).
    """
    policy = _Policy(url, options or FetchOptions(), deadline)
    try:
        while True:
            policy.activity = "resolving"
            addresses = policy.literal_addresses() or policy.check_addresses(
                _resolve(policy, resolver)
            )
            policy.activity = "talking to"
            with httpx.Client(transport=_Transport(policy), **_client_options(policy)) as client:
                response = _send(client, policy, addresses)
                try:
                    if policy.response(response.status_code, response.headers):
                        continue
                    body = bytearray()
                    for chunk in response.iter_raw():
                        policy.add(body, chunk)
                    return policy.result(body)
                finally:
                    response.close()
    except Exception as error:
        translated = policy.translate(error)
        raise translated from (None if translated is error else error)


def _send(client: httpx.Client, policy: _Policy, addresses: list[str]) -> httpx.Response:
    """Send to the first address that accepts a connection."""
    for index, address in enumerate(addresses):
        url, headers, extensions = policy.request(address)
        request = client.build_request("GET", url, headers=headers, extensions=extensions)
        try:
            return client.send(request, stream=True)
        except _CONNECT_ERRORS:
            if index == len(addresses) - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


# --- async I/O ---------------------------------------------------------------------


class _AsyncStream(httpcore.AsyncNetworkStream):
    def __init__(self, stream: httpcore.AsyncNetworkStream, policy: _Policy) -> None:
        self._stream = stream
        self._policy = policy

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._stream.read(max_bytes, self._policy.step_timeout(timeout))

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._stream.write(buffer, self._policy.step_timeout(timeout))

    async def aclose(self) -> None:
        await self._stream.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._stream.start_tls(
            ssl_context, server_hostname, self._policy.step_timeout(timeout)
        )
        return _AsyncStream(stream, self._policy)

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _AsyncBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, policy: _Policy) -> None:
        self._backend = httpcore.AnyIOBackend()
        self._policy = policy

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._backend.connect_tcp(
            host, port, self._policy.step_timeout(timeout), local_address, socket_options
        )
        return _AsyncStream(stream, self._policy)

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise FetchRefusedError("Unix sockets are not used")  # pragma: no cover

    async def sleep(self, seconds: float) -> None:  # pragma: no cover - no retries configured
        await asyncio.sleep(min(seconds, self._policy.remaining()))


class _AsyncByteStream(httpx.AsyncByteStream):
    def __init__(self, stream: Any) -> None:
        self._stream = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        aclose = getattr(self._stream, "aclose", None)
        if aclose is not None:
            await aclose()


class _AsyncTransport(httpx.AsyncBaseTransport):
    def __init__(self, policy: _Policy) -> None:
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=_ssl_context(policy.options),
            network_backend=_AsyncBackend(policy),
            http1=True,
            http2=False,
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._pool.handle_async_request(_core_request(request))
        return httpx.Response(
            response.status,
            headers=response.headers,
            stream=_AsyncByteStream(response.stream),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self._pool.aclose()


async def _aresolve(policy: _Policy, resolver: dns.asyncresolver.Resolver | None) -> list[str]:
    host, port = policy.target.host, policy.target.port
    if resolver is None:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(policy.step_timeout()):
                infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except TimeoutError:
            raise FetchTimeoutError(f"timed out resolving {host}") from None
        except OSError as error:
            raise _resolve_failure(host, error) from None
        return [str(info[4][0]) for info in infos]
    import dns.exception
    import dns.name

    name = dns.name.from_text(host)
    found: list[str] = []
    for rdtype in ("A", "AAAA"):
        try:
            answer = await resolver.resolve(
                name, rdtype, raise_on_no_answer=False, lifetime=policy.step_timeout()
            )
        except dns.exception.DNSException as error:
            raise _dns_failure(host, error) from None
        found.extend(str(record) for record in answer)
    return found


async def afetch(
    url: str,
    *,
    options: FetchOptions | None = None,
    resolver: dns.asyncresolver.Resolver | None = None,
    deadline: float | None = None,
) -> Fetched:
    """Asynchronous twin of :func:`fetch` (asyncio); ``resolver`` is a dnspython async resolver."""
    policy = _Policy(url, options or FetchOptions(), deadline)
    try:
        # The backend bounds every operation; this bounds the whole call as well.
        async with asyncio.timeout(policy.remaining()):
            return await _afetch(policy, resolver)
    except Exception as error:
        translated = policy.translate(error)
        raise translated from (None if translated is error else error)


async def _afetch(policy: _Policy, resolver: dns.asyncresolver.Resolver | None) -> Fetched:
    while True:
        policy.activity = "resolving"
        addresses = policy.literal_addresses() or policy.check_addresses(
            await _aresolve(policy, resolver)
        )
        policy.activity = "talking to"
        transport = _AsyncTransport(policy)
        async with httpx.AsyncClient(transport=transport, **_client_options(policy)) as client:
            response = await _asend(client, policy, addresses)
            try:
                if policy.response(response.status_code, response.headers):
                    continue
                body = bytearray()
                async for chunk in response.aiter_raw():
                    policy.add(body, chunk)
                return policy.result(body)
            finally:
                await response.aclose()


async def _asend(
    client: httpx.AsyncClient, policy: _Policy, addresses: list[str]
) -> httpx.Response:
    for index, address in enumerate(addresses):
        url, headers, extensions = policy.request(address)
        request = client.build_request("GET", url, headers=headers, extensions=extensions)
        try:
            return await client.send(request, stream=True)
        except _CONNECT_ERRORS:
            if index == len(addresses) - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover
