"""The sans-I/O clients against hostile servers (tests/hostile_mail_servers.py).

Each case ends in the documented way, within the driver's deadline: a
:class:`ProtocolError` (or its subclasses) from the client, a :class:`TimeoutError`
from the driver's clock, or a certificate error from the TLS handshake.
"""

from __future__ import annotations

import base64
import ssl
import time

import pytest
from hostile_mail_servers import HostileCA, HostileFactory
from mail_driver import Driver

from mailsettings.protocol import (
    MAX_LINE_LENGTH,
    Greeting,
    IMAPClient,
    Plain,
    POP3Client,
    ProtocolError,
    ResponseTooLargeError,
    SMTPClient,
    State,
    TLSReady,
    TLSRefused,
    WrongProtocolError,
)

CLIENTS = {"imap": IMAPClient, "pop3": POP3Client, "smtp": SMTPClient}
PROTOCOLS = list(CLIENTS)
PASSWORD = "hostile-never-gets-this-7"


def connect(server_port: int, protocol: str, *, timeout: float = 2.0) -> Driver:
    return Driver.connect(CLIENTS[protocol](), "127.0.0.1", server_port, timeout=timeout)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_silent_greeting_ends_at_the_deadline(
    hostile_mail_server: HostileFactory, protocol: str
) -> None:
    server = hostile_mail_server("silent", protocol)
    started = time.monotonic()
    with connect(server.port, protocol, timeout=0.5) as driver, pytest.raises(TimeoutError):
        driver.expect(Greeting)
    assert time.monotonic() - started < 5  # bounded (not a speed test: the bound is generous)
    assert driver.client.state is State.GREETING


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_dripping_greeting_ends_at_the_deadline(
    hostile_mail_server: HostileFactory, protocol: str
) -> None:
    """Bytes keep arriving, so only an overall deadline (not a per-read one) ends it."""
    server = hostile_mail_server("drip", protocol, interval=0.3)
    with connect(server.port, protocol, timeout=1.0) as driver, pytest.raises(TimeoutError):
        driver.expect(Greeting)
    assert driver.received >= 2  # it did receive some bytes before giving up
    assert driver.events == []


@pytest.mark.parametrize(
    ("protocol", "detected"), [("imap", "SMTP"), ("pop3", "IMAP"), ("smtp", "IMAP")]
)
def test_wrong_protocol_greeting(
    hostile_mail_server: HostileFactory, protocol: str, detected: str
) -> None:
    server = hostile_mail_server("wrong-protocol", protocol)
    with connect(server.port, protocol) as driver:
        with pytest.raises(WrongProtocolError) as caught:
            driver.expect(Greeting)
        assert caught.value.expected == protocol.upper()
        assert caught.value.detected == detected
        assert caught.value.seen  # what was seen, sanitised
        assert detected in str(caught.value)
        assert driver.client.state is State.BROKEN
        with pytest.raises(ProtocolError):  # and it stays broken
            driver.client.receive_data(b"* OK fine now\r\n")


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_certificate_for_another_name(
    hostile_mail_server: HostileFactory, hostile_ca: HostileCA, protocol: str
) -> None:
    server = hostile_mail_server("wrong-name", protocol)
    with pytest.raises(ssl.SSLCertVerificationError, match="match"):
        Driver.connect(
            CLIENTS[protocol](tls=True),
            "127.0.0.1",
            server.port,
            context=hostile_ca.client_context(),
            server_hostname=f"{protocol}.guess.test",
        )
    # the same server is fine for the name it has a certificate for
    with Driver.connect(
        CLIENTS[protocol](tls=True),
        "127.0.0.1",
        server.port,
        context=hostile_ca.client_context(),
        server_hostname="another-name.test",
    ) as driver:
        assert driver.expect(Greeting).ok


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_endless_line_is_a_protocol_error_with_bounded_reading(
    hostile_mail_server: HostileFactory, protocol: str
) -> None:
    server = hostile_mail_server("endless-line", protocol)
    with connect(server.port, protocol, timeout=10) as driver:
        with pytest.raises(ResponseTooLargeError, match="longer than"):
            driver.expect(Greeting)
        # the client gave up as soon as the line passed its limit
        assert driver.received <= MAX_LINE_LENGTH + 2 * 65536
        assert driver.client.state is State.BROKEN


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_starttls_refused_and_the_password_never_sent(
    hostile_mail_server: HostileFactory, protocol: str
) -> None:
    """A caller that stops at ``TLSRefused`` sends no credentials; the server saw none."""
    server = hostile_mail_server("starttls-refused", protocol)
    with connect(server.port, protocol) as driver:
        driver.expect(Greeting)
        assert driver.capabilities("client.test").starttls
        client = driver.client
        assert isinstance(client, (IMAPClient, POP3Client, SMTPClient))
        refused = driver.command(client.starttls(), TLSRefused)
        assert refused.text
        assert not client.tls
        assert client.state is State.READY  # still usable, in plain text
        # the rule the callers follow: no TLS, no credentials
        mechanism = Plain("alice@guess.test", PASSWORD)
        assert PASSWORD not in repr(mechanism)
    deadline = time.monotonic() + 2
    while b"STARTTLS" not in server.received.upper() and b"STLS" not in server.received:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    received = server.received
    assert PASSWORD.encode() not in received
    assert base64.b64encode(b"\x00alice@guess.test\x00" + PASSWORD.encode()) not in received


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_starttls_refused_server_records_what_a_careless_client_sends(
    hostile_mail_server: HostileFactory, protocol: str
) -> None:
    """The recording works: sending the password anyway is visible to the test."""
    server = hostile_mail_server("starttls-refused", protocol)
    with connect(server.port, protocol) as driver:
        driver.expect(Greeting)
        client = driver.client
        assert isinstance(client, (IMAPClient, POP3Client, SMTPClient))
        driver.command(client.starttls(), TLSRefused)
        if isinstance(client, IMAPClient):  # no SASL-IR here: LOGIN sends it at once
            driver.answer(client.login("alice@guess.test", PASSWORD))
            sent = PASSWORD.encode()
        else:
            driver.answer(client.authenticate(Plain("alice@guess.test", PASSWORD)))
            sent = base64.b64encode(b"\x00alice@guess.test\x00" + PASSWORD.encode())
    deadline = time.monotonic() + 2
    while sent not in server.received:
        assert time.monotonic() < deadline
        time.sleep(0.01)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_plain_text_injected_after_starttls_is_refused(
    hostile_mail_server: HostileFactory, protocol: str
) -> None:
    server = hostile_mail_server("starttls-injection", protocol)
    with connect(server.port, protocol) as driver:
        driver.expect(Greeting)
        client = driver.client
        assert isinstance(client, (IMAPClient, POP3Client, SMTPClient))
        if protocol == "smtp":
            assert driver.capabilities("client.test").starttls
        driver.send(client.starttls())
        with pytest.raises(ProtocolError, match="after accepting STARTTLS"):
            driver.read_events(TLSReady)
        assert client.state is State.BROKEN
