"""Real DNS servers on loopback for the DNS tests (a pytest plugin, see conftest.py).

* :class:`Dnsmasq` runs Debian's ``dnsmasq`` on 127.0.0.1 and a free high port, serving
  records given on its command line. It never forwards (``--no-resolv``), answers
  NXDOMAIN for unknown names under ``.test`` (``--local=/test/``) and REFUSED for
  names elsewhere, with a TTL of 300 s (``--local-ttl``).
* :class:`Responder` is a small UDP responder built on dnspython for what dnsmasq
  cannot do: SERVFAIL, a silent server, answers with chosen TTLs, and counting queries.

When dnsmasq is missing the tests that need it fail (never skip) and say how to
install it. Nothing here sends a packet anywhere but 127.0.0.1.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence

import dns.asyncresolver
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.nameserver
import dns.query
import dns.rcode
import dns.rdatatype
import dns.resolver
import dns.rrset
import pytest

LOOPBACK = "127.0.0.1"
INSTALL_HINT = (
    "dnsmasq is not installed: the DNS tests need Debian's dnsmasq "
    "(run `apt-get install dnsmasq-base`; .ci/run installs it)."
)


def dnsmasq_binary() -> str:
    """The dnsmasq executable, or fail the test with how to install it."""
    found = shutil.which("dnsmasq") or next(
        (p for p in ("/usr/sbin/dnsmasq", "/sbin/dnsmasq") if os.access(p, os.X_OK)), None
    )
    if found is None:
        pytest.fail(INSTALL_HINT, pytrace=False)
    return found


def free_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind((LOOPBACK, 0))
            port = int(udp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind((LOOPBACK, port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no free port on 127.0.0.1")


AnyResolver = dns.resolver.Resolver | dns.asyncresolver.Resolver


def make_resolver(*ports: int, timeout: float = 2.0, asynchronous: bool = False) -> AnyResolver:
    """A resolver asking only 127.0.0.1 on these ports."""
    resolver: AnyResolver = (
        dns.asyncresolver.Resolver(configure=False)
        if asynchronous
        else dns.resolver.Resolver(configure=False)
    )
    resolver.nameservers = [dns.nameserver.Do53Nameserver(LOOPBACK, port) for port in ports]
    resolver.timeout = timeout
    return resolver


class Dnsmasq:
    """A dnsmasq process serving ``records`` (dnsmasq options such as ``--mx-host=...``)."""

    def __init__(self, records: Sequence[str], ttl: int = 300) -> None:
        self.port = free_port()
        self.command = [
            dnsmasq_binary(),
            "--keep-in-foreground",
            "--conf-file=/dev/null",
            "--no-resolv",
            "--no-hosts",
            "--no-poll",
            "--local=/test/",
            f"--local-ttl={ttl}",
            f"--port={self.port}",
            f"--listen-address={LOOPBACK}",
            "--bind-interfaces",
            "--pid-file=",
            "--cache-size=0",
            "--host-record=ready.test,127.0.0.1",
            *records,
        ]
        if os.geteuid() == 0:
            self.command.append("--user=root")  # no privilege drop needed for a high port
        self.process = subprocess.Popen(
            self.command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        self._wait_ready()

    def _wait_ready(self) -> None:
        query = dns.message.make_query("ready.test", "A")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                stderr = self.process.stderr.read() if self.process.stderr else ""
                pytest.fail(f"dnsmasq exited: {stderr.strip()}", pytrace=False)
            try:
                dns.query.udp(query, LOOPBACK, port=self.port, timeout=0.2)
            except (dns.exception.Timeout, OSError):
                continue
            return
        self.stop()
        pytest.fail("dnsmasq did not answer within 10 s", pytrace=False)

    def resolver(self, timeout: float = 2.0) -> dns.resolver.Resolver:
        resolver = make_resolver(self.port, timeout=timeout)
        assert isinstance(resolver, dns.resolver.Resolver)
        return resolver

    def async_resolver(self, timeout: float = 2.0) -> dns.asyncresolver.Resolver:
        resolver = make_resolver(self.port, timeout=timeout, asynchronous=True)
        assert isinstance(resolver, dns.asyncresolver.Resolver)
        return resolver

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        if self.process.stderr:
            self.process.stderr.close()


Records = dict[tuple[str, str], tuple[int, list[str]]]
"""(owner name, type) -> (TTL, rdata texts), e.g. ``("a.test.", "MX"): (60, ["10 mx.example."])``."""


class Responder:
    """A UDP DNS responder on 127.0.0.1 that counts the queries it receives.

    ``mode`` is ``"answer"`` (answer from ``records``: NXDOMAIN for unknown names,
    NODATA for a known name and another type), ``"servfail"``, ``"refused"`` or
    ``"silent"`` (never answers). It may be changed while running.
    """

    def __init__(self, mode: str = "answer", records: Records | None = None) -> None:
        self.mode = mode
        self.records: Records = dict(records or {})
        self.queries: Counter[tuple[str, str]] = Counter()
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind((LOOPBACK, 0))
        self.socket.settimeout(0.05)
        self.port = int(self.socket.getsockname()[1])
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def total(self) -> int:
        return sum(self.queries.values())

    def resolver(self, timeout: float = 2.0, asynchronous: bool = False) -> AnyResolver:
        return make_resolver(self.port, timeout=timeout, asynchronous=asynchronous)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                wire, peer = self.socket.recvfrom(65535)
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                query = dns.message.from_wire(wire)
            except dns.exception.DNSException:
                continue
            question = query.question[0]
            key = (question.name.to_text().lower(), dns.rdatatype.to_text(question.rdtype))
            self.queries[key] += 1
            if self.mode == "silent":
                continue
            response = dns.message.make_response(query)
            response.flags |= dns.flags.AA
            if self.mode == "servfail":
                response.set_rcode(dns.rcode.SERVFAIL)
            elif self.mode == "refused":
                response.set_rcode(dns.rcode.REFUSED)
            elif key in self.records:
                ttl, texts = self.records[key]
                response.answer.append(
                    dns.rrset.from_text_list(question.name, ttl, "IN", key[1], texts)
                )
            elif not any(name == key[0] for name, _ in self.records):
                response.set_rcode(dns.rcode.NXDOMAIN)
            self.socket.sendto(response.to_wire(), peer)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.socket.close()


@pytest.fixture
def responder() -> Iterator[Responder]:
    """A fresh answering responder; set ``mode`` and ``records`` in the test."""
    server = Responder()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def silent_server() -> Iterator[Responder]:
    """A server that receives queries and never answers."""
    server = Responder("silent")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def servfail_server() -> Iterator[Responder]:
    server = Responder("servfail")
    yield server
    server.stop()


@pytest.fixture
def start_dnsmasq() -> Iterator[type[Dnsmasq]]:
    """Start dnsmasq instances with chosen records; each is stopped after the test."""
    started: list[Dnsmasq] = []

    class Tracked(Dnsmasq):
        def __init__(self, records: Sequence[str], ttl: int = 300) -> None:
            super().__init__(records, ttl)
            started.append(self)

    yield Tracked
    for server in started:
        server.stop()


# --- the shared server ---------------------------------------------------------

RECORDS = (
    # regions of a test platform (see tests/test_dns.py: PLATFORM)
    "--mx-host=com.region.test,mx.platform.example,10",
    "--mx-host=eu.region.test,mx1.eu.platform.example,10",
    "--mx-host=in.region.test,mx.in.platform.example,10",
    # preference order: the matching host is second in preference
    "--mx-host=pref.test,mx.platform.example,20",
    "--mx-host=pref.test,mx.unknown.example,10",
    # lowest preference wins between two known platforms
    "--mx-host=pref2.test,mx.other.example,20",
    "--mx-host=pref2.test,mx.platform.example,10",
    "--mx-host=nomatch.test,mx1.nowhere.example,10",
    "--mx-host=nomatch.test,mx2.nowhere.example,20",
    "--mx-host=lookalike.test,mx.evilplatform.example,10",
    "--mx-host=nullmx.test,.,0",
    "--host-record=nomx.test,127.0.0.2",
    "--mx-host=webonly.test,mx.webonly.example,10",
    # SRV: order by priority then weight, '.' = not offered
    "--srv-host=_imaps._tcp.srv.test,imap2.srv.test,993,10,0",
    "--srv-host=_imaps._tcp.srv.test,imap1.srv.test,993,0,5",
    "--srv-host=_imaps._tcp.srv.test,imap3.srv.test,993,0,50",
    "--srv-host=_imap._tcp.srv.test",
    "--srv-host=_submissions._tcp.srv.test,smtp.srv.test,465,0,0",
    "--srv-host=_submission._tcp.srv.test,smtp.srv.test,587,0,0",
    "--srv-host=_pop3._tcp.srv.test,pop.srv.test,110,0,0",
    "--srv-host=_imaps._tcp.outside.test,imap.hoster.example,993,0,0",
    "--srv-host=_submissions._tcp.outside.test,smtp.outside.test,465,0,0",
    "--srv-host=_imaps._tcp.evil.test,imap.notevil.test,993,0,0",
    "--srv-host=_imaps._tcp.none.test",
    "--srv-host=_submissions._tcp.none.test",
    "--host-record=none.test,127.0.0.3",
    # several sources: MX matches nothing, SRV answers; MX matches and wins over SRV
    "--mx-host=both.test,mx1.nowhere.example,10",
    "--srv-host=_imaps._tcp.both.test,imap.both.test,993,0,0",
    "--mx-host=mxwins.test,mx.platform.example,10",
    "--srv-host=_imaps._tcp.mxwins.test,imap.mxwins.test,993,0,0",
    # real platforms' MX host names (only ever sent to dnsmasq on 127.0.0.1)
    "--mx-host=exmail.test,mxbiz1.qq.com,5",
    "--mx-host=exmail.test,mxbiz2.qq.com,10",
    "--mx-host=zoho-com.test,mx.zoho.com,10",
    "--mx-host=zoho-eu.test,mx.zoho.eu,10",
    "--mx-host=zoho-in.test,mx.zoho.in,10",
    "--mx-host=google.test,aspmx.l.google.com,1",
    "--mx-host=google.test,alt1.aspmx.l.google.com,5",
    "--mx-host=microsoft.test,contoso-test.mail.protection.outlook.com,0",
)


def data_mx_cases() -> list[tuple[str, str, str]]:
    """``(domain, provider id, pattern)`` for every MX rule in the bundled data."""
    import mailsettings

    cases: list[tuple[str, str, str]] = []
    for provider in sorted(mailsettings.providers(), key=lambda p: p.id):
        for rule in provider.mx:
            cases.append((f"data{len(cases)}.test", provider.id, rule.pattern))
    return cases


@pytest.fixture(scope="session")
def dns_server() -> Iterator[Dnsmasq]:
    """The shared dnsmasq: :data:`RECORDS` plus one domain per MX rule in the data."""
    data = [f"--mx-host={domain},{pattern},10" for domain, _, pattern in data_mx_cases()]
    server = Dnsmasq([*RECORDS, *data])
    yield server
    server.stop()
