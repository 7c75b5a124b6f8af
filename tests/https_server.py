"""Real HTTPS and HTTP servers on loopback, and the names that reach them.

The live-source tests fetch from these: an HTTPS server on 127.0.0.1 whose certificate
comes from a test CA (``trustme``) and covers the test names, plus a certificate from a
second, untrusted CA for ``untrusted.test`` (chosen by SNI); a plain HTTP server; and
dnsmasq on 127.0.0.1 (the DNS tests' launcher in ``dns_servers``) answering for ``*.test``. Routes are set per test:
``server.route(host, path, handler)``; a request for a path under ``/v1.1/`` on
``ispdb.test`` is served from the ISPDB snapshot when the test asks for it.

Nothing here touches an address outside 127.0.0.0/8.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import dns.asyncresolver
import dns.nameserver
import dns.resolver
import pytest
import trustme
from conftest import SHARED, require_shared
from dns_servers import Dnsmasq

if TYPE_CHECKING:
    from mailsettings.options import LookupOptions

LOOPBACK = "127.0.0.1"
OTHER_LOOPBACK = "127.0.0.2"
"""A second loopback address: ``private.example.test`` maps here."""

ISPDB_DIR = SHARED / "ispdb"

# Names the trusted certificate covers (each with its subdomains).
TEST_DOMAINS = (
    "example.test",
    "other.test",
    "ispdb.test",
    "fallback.test",
    "hostile.test",
    "customer.test",
    "hoster.test",
    "mail.hoster.test",
)
UNTRUSTED = "untrusted.test"

AUTOCONFIG_PATH = "/mail/config-v1.1.xml"
WELL_KNOWN_PATH = "/.well-known/autoconfig/mail/config-v1.1.xml"

Handler = Callable[["RequestHandler"], None]


def require_ispdb() -> Path:
    """The ISPDB snapshot folder; skip (or fail when MAILSETTINGS_REQUIRE_ISPDB=1) without it."""
    return require_shared("ispdb") / "ispdb"


# --- certificates ------------------------------------------------------------------


@dataclass
class Certificates:
    """A trusted test CA with a server certificate, and an untrusted one."""

    ca: trustme.CA = field(default_factory=trustme.CA)
    rogue_ca: trustme.CA = field(default_factory=trustme.CA)

    def __post_init__(self) -> None:
        names = [n for domain in TEST_DOMAINS for n in (domain, f"*.{domain}")]
        self.server_cert = self.ca.issue_cert(*names)
        self.rogue_cert = self.rogue_ca.issue_cert(UNTRUSTED, f"*.{UNTRUSTED}")

    def client_context(self) -> ssl.SSLContext:
        """What a client passes as ``ssl_context``: trusts the test CA only."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        self.ca.configure_trust(context)
        return context

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.server_cert.configure_cert(context)
        rogue = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.rogue_cert.configure_cert(rogue)

        def pick(sock: ssl.SSLObject, name: str | None, _: ssl.SSLContext) -> None:
            if name and (name == UNTRUSTED or name.endswith("." + UNTRUSTED)):
                sock.context = rogue

        context.sni_callback = pick
        return context


# --- HTTP(S) server ----------------------------------------------------------------


@dataclass(frozen=True)
class Seen:
    """A request the server received."""

    host: str
    path: str
    query: str
    method: str = "GET"
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()


class RequestHandler(BaseHTTPRequestHandler):
    server: LoopbackServer
    timeout = 10  # seconds a connection may sit idle on the server side
    disable_nagle_algorithm = True  # head and body go out at once (no delayed-ACK stalls)

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0].lower()
        if host.startswith("["):
            host = self.headers.get("Host", "")
        length = int(self.headers.get("Content-Length") or 0) if self.command == "POST" else 0
        body = self.rfile.read(min(length, 1 << 20)) if length else b""
        headers = tuple((name.lower(), value) for name, value in self.headers.items())
        self.server.seen.append(Seen(host, parts.path, parts.query, self.command, body, headers))
        handler = self.server.routes.get((host, parts.path))
        if handler is None and self.server.ispdb is not None and host == "ispdb.test":
            handler = self.server.ispdb_handler(parts.path)
        (handler or reply(404, b"not found", "text/plain"))(self)

    do_POST = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # helpers for handlers

    def head(self, status: int, content_type: str | None, headers: dict[str, str]) -> None:
        self.send_response(status)
        if content_type is not None:
            self.send_header("Content-Type", content_type)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()

    def stopping(self) -> bool:
        return self.server.stop.is_set()


class LoopbackServer(ThreadingHTTPServer):
    """A threaded HTTP server on loopback; HTTPS when given a TLS context."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, address: str, context: ssl.SSLContext | None) -> None:
        self.context = context
        self.routes: dict[tuple[str, str], Handler] = {}
        self.seen: list[Seen] = []
        self.connections = 0
        self.sent: dict[str, int] = {}
        self.ispdb: Path | None = None
        self.stop = threading.Event()
        self.address_family = socket.AF_INET6 if ":" in address else socket.AF_INET
        super().__init__((address, 0), RequestHandler)
        self.thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05})
        self.thread.daemon = True
        self.thread.start()

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def scheme(self) -> str:
        return "https" if self.context is not None else "http"

    def url(self, host: str, path: str) -> str:
        """A URL on this server for a test name."""
        return f"{self.scheme}://{host}:{self.port}{path}"

    def route(self, host: str, path: str, handler: Handler) -> None:
        self.routes[(host, path)] = handler

    def reset(self) -> None:
        self.routes.clear()
        self.seen.clear()
        self.sent.clear()
        self.connections = 0
        self.ispdb = None

    def ispdb_handler(self, path: str) -> Handler | None:
        assert self.ispdb is not None
        prefix = "/v1.1/"
        if not path.startswith(prefix):
            return None
        name = path[len(prefix) :]
        file = self.ispdb / f"{name}.xml"
        if "/" in name or name.startswith(".") or not file.is_file():
            return None
        return reply(200, file.read_bytes())

    # socketserver hooks

    def process_request(self, request: Any, client_address: Any) -> None:
        self.connections += 1
        super().process_request(request, client_address)

    def finish_request(self, request: Any, client_address: Any) -> None:
        if self.context is None:
            super().finish_request(request, client_address)
            return
        request.settimeout(10)
        try:
            wrapped = self.context.wrap_socket(request, server_side=True)
        except OSError:
            request.close()
            return  # e.g. the client refused the certificate
        with wrapped:  # wrap_socket took the descriptor over: close what it made
            super().finish_request(wrapped, client_address)
            with contextlib.suppress(OSError):
                wrapped.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients hang up on purpose (size caps, timeouts)

    def close(self) -> None:
        self.stop.set()
        self.shutdown()
        self.server_close()


# --- handlers ----------------------------------------------------------------------


def reply(
    status: int,
    body: bytes = b"",
    content_type: str | None = "application/xml",
    headers: dict[str, str] | None = None,
) -> Handler:
    def handle(request: RequestHandler) -> None:
        request.head(status, content_type, {"Content-Length": str(len(body)), **(headers or {})})
        request.wfile.write(body)

    return handle


def redirect(location: str, status: int = 302) -> Handler:
    return reply(status, b"", "text/plain", {"Location": location})


def huge(size: int, *, declare_length: bool, key: str = "huge") -> Handler:
    """A body of ``size`` bytes; counts in ``server.sent[key]`` how much got out."""

    def handle(request: RequestHandler) -> None:
        headers = {"Content-Length": str(size)} if declare_length else {}
        request.head(200, "application/xml", headers)
        chunk = b"<" + b"x" * 65535
        sent = 0
        try:
            while sent < size and not request.stopping():
                request.wfile.write(chunk)
                sent += len(chunk)
                request.server.sent[key] = sent
        except OSError:
            pass

    return handle


def drip(body: bytes, interval: float = 1.0, *, before_headers: float = 0.0) -> Handler:
    """Send the head, then the body one byte every ``interval`` seconds."""

    def handle(request: RequestHandler) -> None:
        if before_headers and request.server.stop.wait(before_headers):
            return
        request.head(200, "application/xml", {"Content-Length": str(len(body))})
        try:
            for index in range(len(body)):
                request.wfile.write(body[index : index + 1])
                request.wfile.flush()
                if request.server.stop.wait(interval):
                    return
        except OSError:
            pass

    return handle


# --- documents ---------------------------------------------------------------------


def config_xml(domain: str, *, imap_host: str | None = None, extra: str = "") -> bytes:
    """A small, valid autoconfig document for ``domain``."""
    imap = imap_host or f"imap.{domain}"
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<clientConfig version="1.1">
  <emailProvider id="{domain}">
    <domain>{domain}</domain>
    <displayName>Test Mail {domain}</displayName>
    <incomingServer type="imap">
      <hostname>{imap}</hostname>
      <port>993</port>
      <socketType>SSL</socketType>
      <authentication>password-cleartext</authentication>
      <username>%EMAILADDRESS%</username>
    </incomingServer>
    <outgoingServer type="smtp">
      <hostname>smtp.{domain}</hostname>
      <port>465</port>
      <socketType>SSL</socketType>
      <authentication>password-cleartext</authentication>
      <username>%EMAILADDRESS%</username>
    </outgoingServer>
    {extra}
  </emailProvider>
</clientConfig>
""".encode()


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<clientConfig version="1.1"><emailProvider id="hostile.test">
<domain>hostile.test</domain><displayName>&lol9;</displayName>
</emailProvider></clientConfig>
"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE clientConfig [ <!ENTITY secret SYSTEM "file:///etc/passwd"> ]>
<clientConfig version="1.1"><emailProvider id="hostile.test">
<domain>hostile.test</domain><displayName>&secret;</displayName>
<incomingServer type="imap"><hostname>imap.hostile.test</hostname><port>993</port>
<socketType>SSL</socketType><authentication>password-cleartext</authentication>
<username>%EMAILADDRESS%</username></incomingServer>
</emailProvider></clientConfig>
"""

MALFORMED = b"<?xml version='1.0'?><clientConfig version='1.1'><emailProvider id='x'>"


# --- names ------------------------------------------------------------------------

DNS_RECORDS = (
    "--address=/test/127.0.0.1",
    "--address=/private.example.test/127.0.0.2",
    "--host-record=v6.example.test,::1",
    "--address=/nowhere.test/",
    "--mx-host=viamx.test,mx1.hoster.test,10",
    "--mx-host=customer.test,mx1.mail.hoster.test,10",
    "--mx-host=workspace.test,aspmx.l.google.com,1",
)
"""dnsmasq options: every ``*.test`` name maps to 127.0.0.1 except ``private.example.test``
(127.0.0.2), ``v6.example.test`` (::1 as well, where the IPv4 address has no server)
and ``nowhere.test`` (NXDOMAIN); ``viamx.test`` has its MX at ``mx1.hoster.test``,
``customer.test`` at ``mx1.mail.hoster.test``,
``workspace.test`` at Google's ``aspmx.l.google.com`` (a bundled platform)."""


# --- the whole set -----------------------------------------------------------------


@dataclass
class Network:
    """Everything a live-source test needs: servers, DNS and a trusting SSL context."""

    certificates: Certificates
    https: LoopbackServer
    https_other: LoopbackServer
    """HTTPS on 127.0.0.2, the address of ``private.example.test``."""
    http: LoopbackServer
    https_v6: LoopbackServer | None
    """HTTPS on ::1, an address of ``v6.example.test`` (``None`` without IPv6 loopback)."""
    dnsmasq: Dnsmasq
    """dnsmasq (from the DNS tests' ``dns_servers``) answering with :data:`DNS_RECORDS`."""

    def resolver(self) -> dns.resolver.Resolver:
        """A resolver asking only the test dnsmasq."""
        resolver = dns.resolver.Resolver(configure=False)
        self._configure(resolver)
        return resolver

    def async_resolver(self) -> dns.asyncresolver.Resolver:
        resolver = dns.asyncresolver.Resolver(configure=False)
        self._configure(resolver)
        return resolver

    def _configure(self, resolver: dns.resolver.BaseResolver) -> None:
        resolver.nameservers = [dns.nameserver.Do53Nameserver(LOOPBACK, self.dnsmasq.port)]
        resolver.timeout = resolver.lifetime = 2.0

    @property
    def ssl_context(self) -> ssl.SSLContext:
        return self.certificates.client_context()

    def autoconfig_options(self, **extra: Any) -> LookupOptions:
        """Lookup options for live autoconfig against these servers, then ``extra``.

        The URL templates point at :attr:`https` (its port); names resolve through the
        test dnsmasq, the test CA is trusted, private addresses are allowed; 5 s budget.
        """
        port = self.https.port
        settings: LookupOptions = {
            "autoconfig": True,
            "resolver": self.resolver(),
            "ssl_context": self.ssl_context,
            "allow_private_networks": True,
            "autoconfig_url": f"https://autoconfig.{{domain}}:{port}{AUTOCONFIG_PATH}"
            "?emailaddress={address}",
            "well_known_url": f"https://{{domain}}:{port}{WELL_KNOWN_PATH}",
            "ispdb_url": f"https://ispdb.test:{port}/v1.1/",
            "timeout": 5.0,
        }
        settings.update(extra)  # type: ignore[typeddict-item]
        return settings

    def reset(self) -> None:
        for server in (self.https, self.https_other, self.http, self.https_v6):
            if server is not None:
                server.reset()


@contextlib.contextmanager
def network() -> Iterator[Network]:
    certificates = Certificates()
    dnsmasq = Dnsmasq(DNS_RECORDS)
    servers: list[LoopbackServer] = []
    try:
        servers.append(LoopbackServer(LOOPBACK, certificates.server_context()))
        servers.append(LoopbackServer(OTHER_LOOPBACK, certificates.server_context()))
        servers.append(LoopbackServer(LOOPBACK, None))
        https, https_other, http = servers
        https_v6 = None
        with contextlib.suppress(OSError):  # a machine without IPv6 loopback
            https_v6 = LoopbackServer("::1", certificates.server_context())
            servers.append(https_v6)
        yield Network(certificates, https, https_other, http, https_v6, dnsmasq)
    finally:
        for server in servers:
            server.close()
        dnsmasq.stop()


# --- fixtures (registered in conftest.py) -------------------------------------------


@pytest.fixture(scope="module")
def shared_network() -> Iterator[Network]:
    """One :class:`Network` per test module."""
    with network() as net:
        yield net


@pytest.fixture
def net(shared_network: Network) -> Network:
    """The module's network, with routes and records of requests cleared."""
    shared_network.reset()
    return shared_network


@pytest.fixture
def no_getaddrinfo(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[object]]:
    """Make ``socket.getaddrinfo`` fail, and fail the test if anything called it.

    The library resolves every name through its DNS module (dnspython, the lookup's
    budget and cache); a second resolution path would call ``getaddrinfo`` (asyncio's
    and anyio's name resolution do). Yields the hosts it was asked about.
    """
    asked: list[object] = []

    def refuse(host: object, *args: object, **kwargs: object) -> Any:
        asked.append(host)
        raise socket.gaierror(socket.EAI_FAIL, "getaddrinfo is not to be used")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    yield asked
    assert asked == [], f"getaddrinfo was asked to resolve {asked}"


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    """Run a test once through the sync and once through the async code."""
    return str(request.param)
