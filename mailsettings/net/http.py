"""HTTP requests that are safe to point at host names users typed: the only module importing httpx.

Discovery sources fetch URLs built from the domain of an address a user typed, on a
server that may sit inside a private network. A :class:`Fetcher` therefore:

* resolves host names through :mod:`mailsettings.net.dns` (the lookup's budget and
  cache; no ``getaddrinfo``), refuses a host when any of its addresses is not public
  (loopback, private, link-local, CGNAT, ... see :mod:`mailsettings.net.policy`) unless
  ``allow_private_networks``, and connects to the address it checked — an httpx
  transport over ``httpcore.AsyncConnectionPool(network_backend=...)`` whose backend
  does the resolving and checking — so a DNS answer that changes between the check and
  the connection (DNS rebinding) cannot redirect it. The URL keeps its real host name:
  httpx sets ``Host``, TLS verifies the certificate for that name (SNI), and httpx follows
  redirects, each hop going through the same checks;
* speaks HTTPS only unless ``allow_http``, and refuses (in a request hook, for every
  hop) a redirect from HTTPS to HTTP or to another registrable domain (Public Suffix
  List), and more than ``max_redirects`` redirects;
* caps every body (redirect bodies included) at ``max_bytes`` in the transport, refuses
  compressed bodies (it asks for ``Accept-Encoding: identity``), and accepts only the
  content types the caller names;
* ends by the lookup's deadline (the whole request runs under ``asyncio.timeout``);
* ignores proxy settings from the environment (``trust_env=False``): a proxy would be
  what gets checked and pinned;
* raises only :class:`FetchError` (:class:`FetchRefusedError`, :class:`FetchTimeoutError`),
  whose ``reason`` is one short sentence, never an httpx, ssl or socket exception.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import re
import ssl
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any

import httpcore
import httpx

from .._version import __version__
from ..errors import DiscoveryError, DiscoveryTimeoutError, MailSettingsError
from .budget import Budget
from .dns import Dns
from .policy import IPNetwork, address_allowed, ip_literal, registrable_domain

__all__ = [
    "FetchError",
    "FetchPolicy",
    "FetchRefusedError",
    "FetchTimeoutError",
    "Fetched",
    "Fetcher",
]

MiB = 1 << 20
XML_TYPES = frozenset({"text/xml", "application/xml", "text/plain"})
"""Content types of an XML answer (``+xml`` types are accepted too)."""
_MAX_REASON = 200
_HOST_NAME = re.compile(
    r"(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.?"
)


# --- errors ------------------------------------------------------------------


class FetchError(MailSettingsError):
    """A URL could not be fetched; ``reason`` says why in one sentence.

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

    def as_discovery_error(self, url: str) -> DiscoveryError:
        """The failure to fetch ``url``, as a source's temporary failure."""
        kind = DiscoveryTimeoutError if isinstance(self, TimeoutError) else DiscoveryError
        return kind(f"{url}: {self.reason}")


class FetchRefusedError(FetchError):
    """The request was refused by policy (address, scheme, redirect, size, type)."""


class FetchTimeoutError(FetchError, TimeoutError):
    """The request ran out of its time budget."""

    temporary = True


def clean(text: str) -> str:
    """Text from a library or a server, made fit for a one-line reason."""
    text = "".join(char if char.isprintable() else " " for char in text).strip()
    return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 1] + "…"


# --- policy and result ------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class FetchPolicy:
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
    """The most one fetch may take, redirects included (the lookup's budget may end it sooner)."""
    max_bytes: int = MiB
    """Largest body accepted (redirect bodies included)."""
    max_redirects: int = 3
    user_agent: str = f"mailsettings/{__version__}"
    networks: tuple[IPNetwork, ...] = field(init=False, repr=False, compare=False)

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
    """The URL the body came from, after redirects."""
    body: bytes
    https: bool
    """Whether every hop was HTTPS (a plain-HTTP hop could have chosen where the next one went)."""
    content_type: str = ""


@functools.cache
def _default_ssl_context() -> ssl.SSLContext:
    return ssl.create_default_context()


# --- the pinned transport ------------------------------------------------------------


class _PinnedBackend(httpcore.AsyncNetworkBackend):
    """Connects only to addresses the fetcher resolved and checked."""

    def __init__(self, fetcher: Fetcher, hops: _Hops) -> None:
        self._fetcher = fetcher
        self._hops = hops
        self._backend = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self._hops.resolving = host
        addresses = await self._fetcher.checked_addresses(host)
        self._hops.resolving = None
        budget = self._fetcher.budget
        for index, address in enumerate(addresses):
            try:
                return await self._backend.connect_tcp(
                    address, port, budget.bound(timeout), local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout):
                if index == len(addresses) - 1:
                    raise
        raise httpcore.ConnectError(f"{host} has no address")  # pragma: no cover

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise FetchRefusedError("Unix sockets are not used")  # pragma: no cover

    async def sleep(self, seconds: float) -> None:  # pragma: no cover - no retries configured
        await asyncio.sleep(self._fetcher.budget.bound(seconds))


class _CappedStream(httpx.AsyncByteStream):
    """A response body that ends the fetch once it exceeds ``limit`` bytes."""

    def __init__(self, stream: httpx.AsyncByteStream, limit: int, url: str) -> None:
        self._stream, self._limit, self._url = stream, limit, url

    async def __aiter__(self) -> AsyncIterator[bytes]:
        size = 0
        async for chunk in self._stream:
            size += len(chunk)
            if size > self._limit:
                raise FetchRefusedError(
                    f"response too large (more than {self._limit} bytes)", url=self._url
                )
            yield chunk

    async def aclose(self) -> None:
        await self._stream.aclose()


class _PinnedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport (and its exception mapping) over a pool with the pinned backend."""

    def __init__(self, fetcher: Fetcher, hops: _Hops) -> None:
        context = fetcher.policy.ssl_context or _default_ssl_context()
        super().__init__(verify=context, trust_env=False, http1=True, http2=False, retries=0)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=context,
            network_backend=_PinnedBackend(fetcher, hops),
            http1=True,
            http2=False,
            max_connections=1,
        )
        self._limit = fetcher.policy.max_bytes

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await super().handle_async_request(request)
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _CappedStream(response.stream, self._limit, str(request.url))
        return response


# --- the fetcher ---------------------------------------------------------------------


class Fetcher:
    """HTTP for one lookup: its DNS, its budget and the fetch policy."""

    def __init__(self, dns: Dns, policy: FetchPolicy) -> None:
        self.dns = dns
        self.budget: Budget = dns.budget
        self.policy = policy

    async def checked_addresses(self, host: str) -> list[str]:
        """The addresses of ``host``, each allowed by the policy, or :class:`FetchError`."""
        literal = ip_literal(host)
        if literal is not None:
            found: tuple[str, ...] = (str(literal),)
        else:
            try:
                found = await self.dns.addresses(host)
            except DiscoveryTimeoutError:
                raise FetchTimeoutError(f"timed out resolving {host}") from None
            except DiscoveryError as error:
                raise FetchError(f"could not resolve {host}: {error}", temporary=True) from None
            if not found:
                raise FetchError(f"{host} does not resolve")
        checked: list[str] = []
        for text in found:
            ip = ipaddress.ip_address(text)
            if not address_allowed(
                ip,
                allow_private_networks=self.policy.allow_private_networks,
                allowed_networks=self.policy.networks,
            ):
                where = "the URL names" if literal is not None else f"{host} resolves to"
                raise FetchRefusedError(
                    f"{where} the non-public address {ip}; refused "
                    "(pass allow_private_networks=True to allow it)"
                )
            checked.append(str(ip))
        return checked

    async def fetch(
        self,
        url: str,
        *,
        method: str = "GET",
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        accept: str = "application/xml, text/xml;q=0.9, text/plain;q=0.5",
        content_types: frozenset[str] = XML_TYPES,
    ) -> Fetched:
        """Send one request under the rules of the module's description.

        ``content_types`` are the accepted media types of a successful (200) answer
        (``+xml`` types are accepted whenever ``application/xml`` is). Raises
        :class:`FetchError` (:class:`FetchTimeoutError` when time ran out).
        """
        hops = _Hops(url, self.policy)
        try:
            if any(ord(char) < 0x21 or ord(char) == 0x7F for char in url):
                raise FetchRefusedError(
                    "malformed URL: it contains white space or control characters"
                )
            hops.check(httpx.URL(url))
            async with asyncio.timeout(self.budget.bound(self.policy.timeout)):
                return await self._send(
                    url,
                    method=method,
                    content=content,
                    headers=headers,
                    accept=accept,
                    content_types=content_types,
                    hops=hops,
                )
        except Exception as error:
            translated = _translate(error, hops)
            raise translated from (None if translated is error else error)

    async def _send(
        self,
        url: str,
        *,
        method: str,
        content: bytes | None,
        headers: dict[str, str] | None,
        accept: str,
        content_types: frozenset[str],
        hops: _Hops,
    ) -> Fetched:
        async def check_hop(request: httpx.Request) -> None:
            hops.check(request.url)

        async with httpx.AsyncClient(
            transport=_PinnedTransport(self, hops),
            trust_env=False,
            follow_redirects=True,
            max_redirects=self.policy.max_redirects,
            timeout=httpx.Timeout(self.policy.timeout),
            event_hooks={"request": [check_hop]},
            headers={
                "User-Agent": self.policy.user_agent,
                "Accept": accept,
                "Accept-Encoding": "identity",
            },
        ) as client:
            request = client.build_request(method, url, content=content, headers=headers)
            response = await client.send(request, stream=True)
            try:
                content_type = _check_response(response, content_types, self.policy.max_bytes)
                body = b"".join([chunk async for chunk in response.aiter_raw()])
            finally:
                await response.aclose()
        return Fetched(url, str(response.url), body, hops.https, content_type)


class _Hops:
    """The redirect chain of one fetch: every hop is checked before it is sent."""

    def __init__(self, url: str, policy: FetchPolicy) -> None:
        self.policy = policy
        self.current = url
        self.site: str | None = None
        self.https = True
        self.resolving: str | None = None
        """The host name being resolved, if any (what a timeout interrupted)."""

    def check(self, url: httpx.URL) -> None:
        text = str(url)
        scheme = url.scheme
        if scheme not in ("https", "http") or not url.host:
            raise FetchRefusedError(f"only http(s) URLs with a host are fetched: {clean(text)}")
        if url.userinfo:
            raise FetchRefusedError("URLs with credentials are refused")
        host = url.raw_host.decode("ascii")
        if ip_literal(host) is None and (len(host) > 254 or not _HOST_NAME.fullmatch(host)):
            raise FetchRefusedError(f"malformed URL: {clean(host)!r} is not a valid host name")
        if url.port is not None and not 0 < url.port < 65536:
            raise FetchRefusedError(f"malformed URL: port {url.port} is out of range")
        redirect = self.site is not None
        if redirect and scheme == "http" and self.current.startswith("https:"):
            raise FetchRefusedError(f"redirect from HTTPS to plain HTTP refused ({clean(text)})")
        if scheme == "http" and not self.policy.allow_http:
            raise FetchRefusedError(
                "redirect to plain HTTP refused"
                if redirect
                else "plain HTTP is not allowed (HTTPS only)"
            )
        site = registrable_domain(host)
        if redirect and site != self.site:
            raise FetchRefusedError(f"redirect to another domain refused ({site}, not {self.site})")
        self.site = site
        self.https = self.https and scheme == "https"
        self.current = text


def _check_response(
    response: httpx.Response, content_types: frozenset[str], max_bytes: int
) -> str:
    status = response.status_code
    if status != 200:
        redirect = status in (301, 302, 303, 307, 308)
        without = " without a Location" if redirect and "location" not in response.headers else ""
        raise FetchError(
            f"HTTP status {status}{without}",
            status=status,
            temporary=status >= 500 or status in (408, 429),
        )
    headers = response.headers
    encoding = headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise FetchRefusedError(
            f"compressed responses are refused (Content-Encoding {clean(encoding)!r})"
        )
    content_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    xml_ok = "application/xml" in content_types and content_type.endswith("+xml")
    if content_type and content_type not in content_types and not xml_ok:
        raise FetchRefusedError(f"unexpected content type {clean(content_type)!r}")
    length = headers.get("content-length", "").strip()
    if length.isdigit() and int(length) > max_bytes:
        raise FetchRefusedError(f"response too large ({int(length)} bytes; the limit is {max_bytes})")
    return str(content_type)


def _translate(error: BaseException, hops: _Hops) -> FetchError:
    """Turn any exception of a fetch into a :class:`FetchError` with a readable reason."""
    url = hops.current
    try:
        host = httpx.URL(url).host
    except httpx.InvalidURL:
        host = url
    if isinstance(error, FetchError):
        error.url = error.url or url
        return error
    if isinstance(error, httpx.InvalidURL):
        return FetchRefusedError(f"malformed URL: {clean(str(error))}", url=url)
    if isinstance(error, httpx.TooManyRedirects):
        return FetchRefusedError(
            f"too many redirects (more than {hops.policy.max_redirects})", url=url
        )
    if isinstance(error, httpx.TimeoutException | TimeoutError):
        doing = f"resolving {hops.resolving}" if hops.resolving else f"talking to {host}"
        return FetchTimeoutError(f"timed out {doing}", url=url)
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, FetchError):
            cause.url = cause.url or url
            return cause
        if isinstance(cause, ssl.SSLCertVerificationError):
            detail = cause.verify_message or str(cause)
            return FetchError(f"TLS certificate of {host} not accepted: {clean(detail)}", url=url)
        if isinstance(cause, ssl.SSLError):
            return FetchError(f"TLS failed with {host}: {clean(str(cause))}", url=url)
        cause = cause.__cause__ or cause.__context__
    if isinstance(error, httpx.ConnectError):
        return FetchError(f"could not connect to {host}: {clean(str(error))}", url=url)
    if isinstance(error, httpx.HTTPError | httpcore.ProtocolError):
        return FetchError(f"bad HTTP response from {host}: {clean(str(error))}", url=url)
    return FetchError(
        f"network error with {host}: {clean(str(error) or type(error).__name__)}", url=url
    )
