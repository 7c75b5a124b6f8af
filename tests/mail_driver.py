"""A minimal blocking socket driver for the sans-I/O protocol clients, for the tests only.

It connects (optionally with implicit TLS), feeds what it reads to the client, sends
what the client's commands return, answers SASL challenges, and upgrades the socket
after ``TLSReady``. Every call has a deadline: a silent or dripping server ends in
:class:`TimeoutError`, whatever the server does.
"""

from __future__ import annotations

import socket
import ssl
import time
from types import TracebackType
from typing import TypeVar

from mailsettings.protocol import (
    AuthFailed,
    AuthOK,
    Bye,
    Capabilities,
    Challenge,
    Client,
    CommandFailed,
    CommandOK,
    ConnectionClosed,
    Event,
    IMAPClient,
    MaildropStatus,
    POP3Client,
    Selected,
    ServerID,
    SMTPClient,
    TLSReady,
    TLSRefused,
)

E = TypeVar("E", bound=Event)
READ_SIZE = 65536
FINAL_EVENTS = (
    AuthFailed,
    AuthOK,
    Bye,
    Capabilities,
    CommandFailed,
    CommandOK,
    MaildropStatus,
    Selected,
    ServerID,
    TLSReady,
    TLSRefused,
)
"""The events that end a command's answer (:meth:`Driver.answer`)."""


class Driver:
    """One connection driven by one protocol client."""

    def __init__(self, client: Client, sock: socket.socket, *, timeout: float = 5.0) -> None:
        self.client = client
        self.sock = sock
        self.timeout = timeout
        self.events: list[Event] = []
        self.received = 0
        """Bytes fed to the client so far."""

    @classmethod
    def connect(
        cls,
        client: Client,
        host: str,
        port: int,
        *,
        context: ssl.SSLContext | None = None,
        server_hostname: str | None = None,
        timeout: float = 5.0,
    ) -> Driver:
        """Connect, with implicit TLS when ``context`` is given."""
        deadline = time.monotonic() + timeout
        raw = socket.create_connection((host, port), timeout=timeout)
        sock: socket.socket = raw
        try:
            if context is not None:
                raw.settimeout(max(0.01, deadline - time.monotonic()))
                sock = context.wrap_socket(raw, server_hostname=server_hostname or host)
        except BaseException:
            raw.close()
            raise
        return cls(client, sock, timeout=timeout)

    def __enter__(self) -> Driver:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read_events(self, *wanted: type[Event], timeout: float | None = None) -> list[Event]:
        """Read until an event of a ``wanted`` type (or the end of the connection).

        Challenges are answered on the way. Returns the events read by this call.
        """
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        seen: list[Event] = []
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no {[w.__name__ for w in wanted]} within the deadline")
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(READ_SIZE)
            except TimeoutError:
                raise TimeoutError(
                    f"no {[w.__name__ for w in wanted]} within the deadline"
                ) from None
            self.received += len(data)
            events = self.client.receive_data(data)
            seen.extend(events)
            self.events.extend(events)
            done = False
            for event in events:
                if isinstance(event, Challenge):
                    self.send(self.client.answer_challenge())
                if isinstance(event, (*wanted, ConnectionClosed)):
                    done = True
            if done:
                return seen

    def expect(self, wanted: type[E], *, timeout: float | None = None) -> E:
        """Read until an event of type ``wanted`` and return it (fail on anything else)."""
        events = self.read_events(wanted, timeout=timeout)
        last = events[-1]
        assert isinstance(last, wanted), f"expected {wanted.__name__}, got {events!r}"
        return last

    def command(self, data: bytes, wanted: type[E]) -> E:
        """Send a command and return its answer, which must be a ``wanted``."""
        self.send(data)
        return self.expect(wanted)

    def answer(self, data: bytes) -> Event:
        """Send a command and return the event that ends its answer, whatever it is."""
        self.send(data)
        return self.read_events(*FINAL_EVENTS)[-1]

    def capabilities(self, ehlo_name: str = "client.guess.test") -> Capabilities:
        """Ask for the capabilities (IMAP CAPABILITY, POP3 CAPA, SMTP EHLO ``ehlo_name``)."""
        client = self.client
        if isinstance(client, IMAPClient):
            return self.command(client.capability(), Capabilities)
        if isinstance(client, POP3Client):
            return self.command(client.capa(), Capabilities)
        assert isinstance(client, SMTPClient)
        return self.command(client.ehlo(ehlo_name), Capabilities)

    def start_tls(self, context: ssl.SSLContext, server_hostname: str) -> None:
        """After ``TLSReady``: the handshake, then tell the client."""
        self.sock.settimeout(self.timeout)
        self.sock = context.wrap_socket(self.sock, server_hostname=server_hostname)
        self.client.tls_established()
