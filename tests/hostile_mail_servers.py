"""Small hostile mail servers on loopback, for what Dovecot and Postfix won't do.

``hostile_mail_server(behaviour, protocol)`` (a fixture returning a factory) starts one
on 127.0.0.1 and a free port; every server is stopped after the test. Behaviours:

* ``silent``: accepts and never says a word;
* ``drip``: sends a valid greeting one byte per ``interval`` seconds (1 s by default);
* ``wrong-protocol``: greets in another protocol (SMTP's ``220`` to IMAP, IMAP's
  ``* OK`` to POP3 and SMTP);
* ``wrong-name``: implicit TLS with a certificate for another name (from a CA the
  client trusts), then a valid greeting;
* ``starttls-refused``: advertises STARTTLS, refuses it, and accepts any login;
* ``no-tls``: a plain-text-only server: no STARTTLS offered, and any login accepted;
* ``starttls-injection``: accepts STARTTLS and sends a line in plain text right after;
* ``endless-line``: starts a greeting and never ends the line (stops after 64 MiB).

Each server records every byte it receives (:attr:`HostileServer.received`), so a
test can check that a password never reached it. Nothing here leaves 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
import trustme

LOOPBACK = "127.0.0.1"
ENDLESS_LIMIT = 64 * 1024 * 1024
"""The endless line stops after this many bytes (a loop here must end by itself)."""
WRONG_NAME = "another-name.test"
"""The only name the ``wrong-name`` server's certificate covers."""

GREETINGS = {
    "imap": b"* OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN] hostile ready\r\n",
    "pop3": b"+OK hostile ready\r\n",
    "smtp": b"220 hostile.test ESMTP\r\n",
}
OTHER_GREETINGS = {
    "imap": b"220 smtp.guess.test ESMTP Postfix\r\n",
    "pop3": b"* OK [CAPABILITY IMAP4rev1] Dovecot ready.\r\n",
    "smtp": b"* OK [CAPABILITY IMAP4rev1] Dovecot ready.\r\n",
}
GREETING_STARTS = {"imap": b"* OK ", "pop3": b"+OK ", "smtp": b"220 "}
BEHAVIOURS = (
    "silent",
    "drip",
    "wrong-protocol",
    "wrong-name",
    "starttls-refused",
    "no-tls",
    "starttls-injection",
    "endless-line",
)


@dataclass
class HostileCA:
    """The CA the hostile TLS server's certificate comes from (trusted by the tests)."""

    ca: trustme.CA = field(default_factory=trustme.CA)

    def __post_init__(self) -> None:
        self.certificate = self.ca.issue_cert(WRONG_NAME)

    def client_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        self.ca.configure_trust(context)
        return context

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.certificate.configure_cert(context)
        return context


class HostileServer:
    """One hostile server: a listening socket and a thread per connection."""

    def __init__(
        self,
        behaviour: str,
        protocol: str = "imap",
        *,
        interval: float = 1.0,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        if behaviour not in BEHAVIOURS:
            raise ValueError(f"unknown behaviour {behaviour!r}")
        self.behaviour = behaviour
        self.protocol = protocol
        self.interval = interval
        self.tls = tls
        self.host = LOOPBACK
        self.connections = 0
        self.sent = 0
        self._received: list[bytes] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind((LOOPBACK, 0))
        self._listener.listen(8)
        self._listener.settimeout(0.05)
        self.port = int(self._listener.getsockname()[1])
        self._threads: list[threading.Thread] = []
        self._accepter = threading.Thread(target=self._accept, daemon=True)
        self._accepter.start()

    @property
    def received(self) -> bytes:
        """Every byte received, over all connections, in order of arrival."""
        with self._lock:
            return b"".join(self._received)

    def stop(self) -> None:
        """Stop accepting, end every connection, wait for the threads."""
        self._stop.set()
        self._accepter.join(5)
        for thread in self._threads:
            thread.join(5)
        self._listener.close()

    # --- connections ----------------------------------------------------------------------

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            thread = threading.Thread(target=self._serve, args=(connection,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, connection: socket.socket) -> None:
        sock: socket.socket = connection
        try:
            connection.settimeout(5)
            if self.tls is not None:
                sock = self.tls.wrap_socket(connection, server_side=True)
            sock.settimeout(0.05)
            handler = getattr(self, "_" + self.behaviour.replace("-", "_"))
            handler(sock)
        except OSError:
            pass  # the client hung up, or refused the certificate
        finally:
            with contextlib.suppress(OSError):
                sock.close()
            with contextlib.suppress(OSError):
                connection.close()

    def _record(self, sock: socket.socket) -> bytes | None:
        """One read (b"" at the end, ``None`` when nothing arrived in time)."""
        try:
            data = sock.recv(65536)
        except TimeoutError:
            return None
        with self._lock:
            self._received.append(data)
        return data

    def _hold(self, sock: socket.socket) -> None:
        """Record whatever arrives until the client leaves or the server stops."""
        while not self._stop.is_set():
            if self._record(sock) == b"":
                return

    def _lines(self, sock: socket.socket) -> Iterator[bytes]:
        """The lines the client sends (recorded), until it leaves or the server stops."""
        buffer = b""
        while not self._stop.is_set():
            data = self._record(sock)
            if data == b"":
                return
            buffer += data or b""
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                yield line.rstrip(b"\r")

    # --- behaviours -----------------------------------------------------------------------

    def _silent(self, sock: socket.socket) -> None:
        self._hold(sock)

    def _drip(self, sock: socket.socket) -> None:
        for index in range(len(GREETINGS[self.protocol])):
            sock.sendall(GREETINGS[self.protocol][index : index + 1])
            self.sent += 1
            if self._stop.wait(self.interval):
                return
        self._hold(sock)

    def _wrong_protocol(self, sock: socket.socket) -> None:
        sock.sendall(OTHER_GREETINGS[self.protocol])
        self._hold(sock)

    def _wrong_name(self, sock: socket.socket) -> None:
        sock.sendall(GREETINGS[self.protocol])
        self._hold(sock)

    def _endless_line(self, sock: socket.socket) -> None:
        sock.sendall(GREETING_STARTS[self.protocol])
        chunk = b"x" * 65536
        sock.settimeout(5)
        while self.sent < ENDLESS_LIMIT and not self._stop.is_set():
            sock.sendall(chunk)
            self.sent += len(chunk)

    def _starttls_refused(self, sock: socket.socket) -> None:
        sock.sendall(GREETINGS[self.protocol])
        for line in self._lines(sock):
            answer = self._refusing_answer(line)
            if answer is None:
                return
            sock.sendall(answer)

    def _no_tls(self, sock: socket.socket) -> None:
        def plain(answer: bytes) -> bytes:
            for offer in (b" STARTTLS", b"250-STARTTLS\r\n", b"STLS\r\n"):
                answer = answer.replace(offer, b"")
            return answer

        sock.sendall(plain(GREETINGS[self.protocol]))
        for line in self._lines(sock):
            answer = self._refusing_answer(line)
            if answer is None:
                return
            sock.sendall(plain(answer))

    def _refusing_answer(self, line: bytes) -> bytes | None:
        """What the refusing server says: STARTTLS no, any login yes."""
        words = line.split()
        if self.protocol == "imap":
            tag = words[0] if words else b"*"
            command = words[1].upper() if len(words) > 1 else b""
            if command == b"CAPABILITY":
                return b"* CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN\r\n" + tag + b" OK done\r\n"
            if command == b"STARTTLS":
                return tag + b" NO STARTTLS is not available\r\n"
            if command == b"LOGOUT":
                return b"* BYE see you\r\n" + tag + b" OK done\r\n"
            return tag + b" OK whatever you say\r\n"
        command = words[0].upper() if words else b""
        if self.protocol == "pop3":
            answers = {
                b"CAPA": b"+OK\r\nSTLS\r\nUSER\r\nSASL PLAIN\r\n.\r\n",
                b"STLS": b"-ERR TLS is not available\r\n",
                b"QUIT": b"+OK bye\r\n",
            }
            return answers.get(command, b"+OK whatever you say\r\n")
        answers = {
            b"EHLO": b"250-hostile.test\r\n250-STARTTLS\r\n250 AUTH PLAIN LOGIN\r\n",
            b"STARTTLS": b"454 4.7.0 TLS not available\r\n",
            b"AUTH": b"235 2.7.0 whatever you say\r\n",
            b"QUIT": b"221 bye\r\n",
        }
        return answers.get(command, b"250 whatever you say\r\n")

    def _starttls_injection(self, sock: socket.socket) -> None:
        sock.sendall(GREETINGS[self.protocol])
        ready = {
            "imap": b"%s OK Begin TLS\r\n* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] injected\r\n",
            "pop3": b"+OK Begin TLS\r\n+OK injected\r\n",
            "smtp": b"220 2.0.0 Ready\r\n250 AUTH PLAIN injected\r\n",
        }[self.protocol]
        for line in self._lines(sock):
            words = line.split()
            if any(word.upper() in (b"STARTTLS", b"STLS") for word in words[:2]):
                if self.protocol == "imap":
                    ready = ready.replace(b"%s", words[0])
                sock.sendall(ready)
                self._hold(sock)
                return
            if self.protocol == "smtp" and [w.upper() for w in words[:1]] == [b"EHLO"]:
                sock.sendall(b"250-hostile.test\r\n250 STARTTLS\r\n")


# --- fixtures (registered in conftest.py) -------------------------------------------------

HostileFactory = Callable[..., HostileServer]


@pytest.fixture(scope="session")
def hostile_ca() -> HostileCA:
    """The CA behind the ``wrong-name`` server's certificate."""
    return HostileCA()


@pytest.fixture
def hostile_mail_server(hostile_ca: HostileCA) -> Iterator[HostileFactory]:
    """Start hostile servers: ``hostile_mail_server("drip", "pop3", interval=1.0)``."""
    started: list[HostileServer] = []

    def start(behaviour: str, protocol: str = "imap", *, interval: float = 1.0) -> HostileServer:
        tls = hostile_ca.server_context() if behaviour == "wrong-name" else None
        server = HostileServer(behaviour, protocol, interval=interval, tls=tls)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
