r"""Logged-in :mod:`imaplib`, :mod:`poplib` and :mod:`smtplib` objects for a lookup result.

:func:`connect_imap`, :func:`connect_pop3` and :func:`connect_smtp` take a
:class:`~mailsettings.LookupResult` (its preferred server of the protocol) or one
:class:`~mailsettings.Server`, an address (the server's login rule gives the login name)
or an explicit ``login=``, and a password or an OAuth2 access token. They return an
object of the standard library's class — ``imaplib.IMAP4``, ``poplib.POP3`` or
``smtplib.SMTP`` (``IMAP4_SSL``, ``POP3_SSL``, ``SMTP_SSL`` for implicit TLS) — that is
already logged in, ready for ``select()``, ``stat()`` or ``send_message()``.

What they do that hand-written code tends to get wrong:

* the host name is resolved through the library's DNS (the caller's ``resolver``), and
  the connection goes only to an address the public-address policy allows
  (``allow_private_networks``, ``allowed_networks``);
* TLS is verified for the server's host name with the caller's ``ssl_context``
  (default: the system's certificate authorities); implicit TLS for ``security="ssl"``,
  STARTTLS for ``"starttls"`` (a missing or refused STARTTLS is a
  :class:`~mailsettings.TLSError` and no credential is sent); the capabilities are read
  again after STARTTLS; a server without TLS only with ``allow_plaintext=True``;
* SASL ``PLAIN`` in UTF-8 first, then ``LOGIN`` (IMAP's ``LOGIN`` command carries only
  ASCII); ``XOAUTH2`` or ``OAUTHBEARER`` with a token; POP3 ``USER``/``PASS`` or SASL
  where ``CAPA`` offers it; one login attempt per call;
* IMAP ``ID`` (name and version only) after login, when the server offers it and the
  provider's data asks for it (NetEase's 163, 126 and yeah.net refuse ``SELECT``
  without it);
* one time budget, ``timeout``, for resolving, connecting, TLS and logging in: a server
  that stays silent or drips one byte a second cannot stretch it. Afterwards the
  returned object behaves like any standard-library object created with ``timeout``:
  each socket operation may take that long;
* errors are the library's own (:class:`~mailsettings.ConnectError`,
  :class:`~mailsettings.ConnectTimeoutError`, :class:`~mailsettings.TLSError`,
  :class:`~mailsettings.ProtocolError`, :class:`~mailsettings.AuthenticationError` and
  :class:`~mailsettings.AppPasswordRequiredError` for providers that want an app
  password or authorization code), never an ``ssl``, ``socket`` or protocol-module
  exception. Credentials are never logged, never put in an error message or a
  ``repr``, and the standard library's protocol debug output stays off while they are
  on the wire.

The returned objects are the standard library's: like them, they are **not
thread-safe** (use one per thread or task). Python cannot wipe a password from memory:
the string the caller passed lives until the garbage collector frees it.

Nothing is sent in clear text unless asked for; this example fails before connecting:

>>> from mailsettings import Server
>>> server = Server(protocol="imap", host="mail.example.com", port=143, security="plain")
>>> connect_imap(server, "jane@example.com", password="secret")
Traceback (most recent call last):
...
mailsettings.errors.TLSError: mail.example.com:143 offers no TLS (security "plain"); refusing to send credentials in clear text (pass allow_plaintext=True to allow it).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import imaplib
import logging
import poplib
import selectors
import smtplib
import socket
import ssl
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Literal, cast

from ..address import parse_address
from ..cache import TTLCache
from ..enums import Protocol, Security
from ..errors import (
    AuthenticationError,
    ConnectError,
    ConnectTimeoutError,
    MailSettingsError,
    ProtocolError,
    ProviderNotFoundError,
    TLSError,
)
from ..models import LookupResult, Provider, Server
from ..net.budget import Budget
from ..net.dns import Answer, Dns
from ..net.mail import checked_addresses, default_ssl_context, tls_error
from ..net.runner import run_sync
from ..option import check_bool
from ..protocol.base import (
    CredentialsError,
    Secrets,
    WrongProtocolError,
    clean_text,
    detect_protocol,
    excerpt,
)
from ..protocol.sasl import Login, Mechanism, OAuthBearer, Plain, XOAuth2
from .credentials import (
    CLIENT_ID,
    authentication_error,
    check_secret,
    checked_arguments,
    require_trusted,
    wants_imap_id,
)

__all__ = ["connect_imap", "connect_pop3", "connect_smtp"]

logger = logging.getLogger("mailsettings")

DEFAULT_TIMEOUT = 30.0
"""The default time budget, in seconds, for resolving, connecting, TLS and logging in."""

_READ = 65536
_MAX_CHALLENGES = 8
"""SASL challenges answered before the server counts as broken."""
_POP3_AUTH_LINE = 253
"""The longest POP3 ``AUTH`` command line with an initial response (RFC 5034: 255 with CRLF)."""
_ID_FIELDS = 30
_ID_KEY_LENGTH = 30
_ID_VALUE_LENGTH = 1024
_OAUTH2_MECHANISMS = ("XOAUTH2", "OAUTHBEARER")
"""The SASL mechanisms for an OAuth2 token, in the order tried."""
_OAUTH2_WANTED = "OAuth2 mechanism (XOAUTH2, OAUTHBEARER)"

ImapID = Mapping[str, str] | Literal[False] | None
"""``imap_id=``: the fields to send in IMAP ``ID``, ``False`` (never send), ``None`` (the
provider's data decides, :data:`~mailsettings.access.credentials.CLIENT_ID` is sent)."""


# --- the budget while connecting -----------------------------------------------------------


class _Expired(Exception):
    """The budget ran out while connecting (internal: becomes a ConnectTimeoutError).

    Not an ``OSError``, so the standard library's handlers let it through.
    """


class _Attempt:
    """One connection while it is set up: where it goes, its budget, what the server sent first.

    It holds no credential: the returned object keeps a reference to it.
    """

    def __init__(
        self,
        protocol: Protocol,
        *,
        host: str,
        port: int,
        budget: Budget,
        timeout: float,
        context: ssl.SSLContext,
        provider: Provider | None,
    ) -> None:
        self.protocol = protocol
        self.provider = provider
        """The provider whose data decides what a refused login means (``None``: unknown)."""
        self.host = host
        self.port = port
        self.budget = budget
        self.timeout = timeout
        self.context = context
        self.connecting = True
        """While true, every read and write ends by the budget's deadline."""
        self.step = "connecting"
        """What is being done, for error messages."""
        self.first_line: bytes | None = None
        self.server_closed = False
        self.sock: socket.socket | None = None

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def name(self) -> str:
        return self.protocol.value.upper()

    def arm(self, sock: socket.socket) -> None:
        """Before a read or write: the socket may wait only until the deadline."""
        if not self.connecting:
            return
        left = self.budget.remaining()
        if left <= 0:
            raise _Expired
        sock.settimeout(left)

    def release(self, sock: socket.socket) -> None:
        """Set-up done: from now on each socket operation may take ``timeout`` seconds."""
        self.connecting = False
        self.sock = None
        sock.settimeout(self.timeout)

    def abandon(self) -> None:
        """Close the socket after a failure (quietly)."""
        sock, self.sock = self.sock, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()


class _Reader:
    """The file the standard-library classes read from (instead of ``sock.makefile()``).

    While connecting, every read waits at most until the budget's deadline; it remembers
    the server's first line (for a clear error about a wrong protocol) and how much is
    buffered (data after an accepted STARTTLS is an injection).
    """

    def __init__(self, sock: socket.socket, attempt: _Attempt) -> None:
        self.sock = sock
        self._attempt = attempt
        self._buffer = bytearray()
        self._scanned = 0
        self.closed = False

    @property
    def pending(self) -> int:
        """Bytes received and not read yet."""
        return len(self._buffer)

    def _fill(self) -> bool:
        self._attempt.arm(self.sock)
        try:
            data = self.sock.recv(_READ)
        except TimeoutError:
            if self._attempt.connecting:
                raise _Expired from None
            raise
        if not data:
            self._attempt.server_closed = True
            return False
        self._buffer += data
        return True

    def _take(self, size: int) -> bytes:
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        self._scanned = 0
        return data

    def readline(self, limit: int = -1) -> bytes:
        """One line with its ending, at most ``limit`` bytes (less at the end of the stream)."""
        while True:
            end = self._buffer.find(b"\n", self._scanned)
            if end >= 0 and (limit < 0 or end < limit):
                size = end + 1
                break
            self._scanned = len(self._buffer) if end < 0 else self._scanned
            if 0 <= limit <= len(self._buffer):
                size = limit
                break
            if not self._fill():
                size = len(self._buffer)
                break
        line = self._take(size)
        if self._attempt.first_line is None:
            self._attempt.first_line = line
        return line

    def read(self, size: int = -1) -> bytes:
        """``size`` bytes (fewer at the end of the stream; all of it when negative)."""
        while (size < 0 or len(self._buffer) < size) and self._fill():
            pass
        return self._take(len(self._buffer) if size < 0 else min(size, len(self._buffer)))

    def close(self) -> None:
        """Mark the file closed (the socket belongs to the connection object)."""
        self.closed = True


class _Secrets(Secrets):
    """:class:`~mailsettings.protocol.base.Secrets` that also masks the form ``str(bytes)`` shows.

    The standard library's errors quote the bytes they were sent.
    """

    __slots__ = ()

    def add(self, value: str | None) -> None:
        super().add(value)
        if value:
            super().add(repr(value.encode("utf-8", "replace"))[2:-1])


def _b64(data: bytes, secrets: _Secrets) -> str:
    """``data`` in base64 (what goes on the wire), remembered for masking."""
    encoded = base64.b64encode(data).decode("ascii")
    if data:
        secrets.add(encoded)
    return encoded


def _unb64(data: bytes | str) -> bytes:
    """A server's base64 challenge (tolerantly: some servers send text)."""
    try:
        return base64.b64decode(data, validate=False)
    except (binascii.Error, ValueError):
        return b""


# --- connecting and TLS ----------------------------------------------------------------------


def _handshake(sock: socket.socket, attempt: _Attempt) -> ssl.SSLSocket:
    """TLS on ``sock`` for the host name, within the budget (the handshake cannot drag on)."""
    try:
        tls = attempt.context.wrap_socket(
            sock, server_hostname=attempt.host, do_handshake_on_connect=False
        )
    except (ssl.SSLError, ValueError, OSError) as error:
        with contextlib.suppress(OSError):
            sock.close()
        raise TLSError(f"TLS could not start for {attempt.host}: {error}.") from None
    attempt.sock = tls
    tls.setblocking(False)
    with selectors.DefaultSelector() as selector:
        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                events = selectors.EVENT_READ
            except ssl.SSLWantWriteError:
                events = selectors.EVENT_WRITE
            except ssl.SSLError as error:
                raise tls_error(attempt.host, error) from None
            except OSError as error:
                raise TLSError(
                    f"The TLS handshake with {attempt.host} failed: "
                    f"{error.strerror or type(error).__name__}."
                ) from None
            left = attempt.budget.remaining()
            if left <= 0:
                raise _Expired
            selector.register(tls, events)
            selector.select(left)
            selector.unregister(tls)
    tls.settimeout(max(attempt.budget.remaining(), 0.001))
    logger.debug("%s: TLS %s with %s", attempt.name, tls.version(), attempt.where)
    return tls


def _open_socket(attempt: _Attempt, addresses: list[str], implicit_tls: bool) -> socket.socket:
    """A connection to the first checked address that answers (TLS up when ``implicit_tls``)."""
    failure: ConnectError | None = None
    for address in addresses:
        left = attempt.budget.remaining()
        if left <= 0:
            raise _Expired
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        attempt.sock = sock
        try:
            sock.settimeout(left)
            sock.connect((address, attempt.port))
        except TimeoutError:
            raise _Expired from None
        except OSError as error:
            sock.close()
            failure = ConnectError(
                f"Could not connect to {attempt.where} ({address}): "
                f"{error.strerror or type(error).__name__}.",
                host=attempt.host,
                port=attempt.port,
            )
            continue
        logger.debug("%s: connected to %s (%s)", attempt.name, attempt.where, address)
        return _handshake(sock, attempt) if implicit_tls else sock
    assert failure is not None
    raise failure


# --- what every connection class shares --------------------------------------------------


class _Session:
    """The part of the connection classes that keeps the set-up inside the budget.

    The connected socket is handed over once (``_create_socket``/``_get_socket``); reads
    go through a :class:`_Reader`, writes wait at most until the deadline; the standard
    library's debug output is off while connecting.
    """

    sock: Any
    file: Any
    _attempt: _Attempt
    _handed_over: socket.socket | None

    def _take_socket(self) -> socket.socket:
        sock, self._handed_over = self._handed_over, None
        if sock is None:
            raise OSError("this connection cannot be reopened; call the mailsettings helper again")
        return sock

    def _use_reader(self) -> None:
        """Read through a :class:`_Reader` on the current socket (after STARTTLS too)."""
        file = self.file
        if self.sock is None or (isinstance(file, _Reader) and file.sock is self.sock):
            return
        if file is not None:
            with contextlib.suppress(Exception):
                file.close()
        self.file = _Reader(self.sock, self._attempt)

    def _arm(self) -> None:
        if self.sock is not None:
            self._attempt.arm(self.sock)

    def _pending(self) -> int:
        file = self.file
        return file.pending if isinstance(file, _Reader) else 0

    def _upgraded(self) -> None:
        """After an accepted STARTTLS: refuse injected data, then the TLS handshake."""
        if self._pending():
            raise ProtocolError(
                f"{self._attempt.where} sent data right after accepting STARTTLS "
                "(an injection attempt); the connection was dropped."
            )
        self._attempt.step = "the TLS handshake"
        self.sock = _handshake(self.sock, self._attempt)
        self._use_reader()


# --- IMAP ----------------------------------------------------------------------------------


class _IMAP4(_Session, imaplib.IMAP4):
    """:class:`imaplib.IMAP4` connected by :func:`connect_imap`."""

    def __init__(self, attempt: _Attempt, sock: socket.socket) -> None:
        self._attempt = attempt
        self._handed_over = sock
        self._mechanism: Mechanism | None = None
        self._secrets: _Secrets | None = None
        self._challenges = 0
        self._start(attempt)

    def _start(self, attempt: _Attempt) -> None:
        imaplib.IMAP4.__init__(self, attempt.host, attempt.port, attempt.timeout)

    def _create_socket(self, timeout: float | None) -> socket.socket:
        return self._take_socket()

    def readline(self) -> bytes:
        self._use_reader()
        return super().readline()

    def read(self, size: int) -> bytes:
        self._use_reader()
        return super().read(size)

    def send(self, data: Any) -> None:
        self._arm()
        super().send(data)

    def _mesg(self, s: str, secs: float | None = None) -> None:
        if not self._attempt.connecting:
            stdlib: Any = super()
            stdlib._mesg(s, secs)

    def _log(self, line: str) -> None:
        if not self._attempt.connecting:
            stdlib: Any = super()
            stdlib._log(line)

    def _get_capabilities(self) -> None:
        # The greeting's [CAPABILITY ...] response code saves a round trip (RFC 3501 7.1).
        greeted = self.untagged_responses.pop("CAPABILITY", None)
        if self._attempt.step == "the greeting" and greeted and isinstance(greeted[-1], bytes):
            self.capabilities = tuple(greeted[-1].decode("ascii", "replace").upper().split())
            return
        stdlib: Any = super()
        stdlib._get_capabilities()

    # the steps of connect_imap

    def _start_tls(self) -> None:
        self._attempt.step = "STARTTLS"
        if "STARTTLS" not in self.capabilities:
            raise TLSError(
                f"{self._attempt.where} does not offer STARTTLS; no credential was sent "
                "(use its implicit-TLS port, or allow_plaintext=True on a trusted network)."
            )
        try:
            kind, data = self._simple_command("STARTTLS")
        except imaplib.IMAP4.abort:
            raise
        except imaplib.IMAP4.error as error:
            kind, data = "BAD", [str(error).encode()]
        if kind != "OK":
            raise TLSError(
                f"{self._attempt.where} refused STARTTLS ({_reply_text(data)}); "
                "no credential was sent."
            )
        self._upgraded()
        self._tls_established = True
        self._get_capabilities()

    def _authenticate(self, login: str, secret: str, *, token: bool, secrets: _Secrets) -> None:
        self._attempt.step = "login"
        offered = {c.removeprefix("AUTH=") for c in self.capabilities if c.startswith("AUTH=")}
        if token:
            name = _first_offered(_OAUTH2_MECHANISMS, offered)
            if name is None:
                raise _no_method(self._attempt, login, _OAUTH2_WANTED, offered)
            self._sasl(_oauth_mechanism(name, login, secret, self._attempt), login, secrets)
        elif "PLAIN" in offered:
            self._sasl(Plain(login, secret), login, secrets)
        elif "LOGINDISABLED" in self.capabilities:
            raise _no_method(self._attempt, login, "password login", offered)
        else:
            if not (login.isascii() and secret.isascii()):
                raise CredentialsError(
                    f"{self._attempt.where} offers no SASL PLAIN, and IMAP's LOGIN command "
                    "carries only ASCII: this login name or password cannot be sent."
                )
            kind, data = self._simple_command("LOGIN", self._quote(login), self._quote(secret))
            self._logged_in(kind, data, login, "LOGIN", secrets)

    def _sasl(self, mechanism: Mechanism, login: str, secrets: _Secrets) -> None:
        self._mechanism, self._secrets = mechanism, secrets
        for value in mechanism.secrets():
            secrets.add(value)
        try:
            self.literal = self._answer  # type: ignore[assignment]  # imaplib calls it per challenge
            kind, data = self._simple_command("AUTHENTICATE", mechanism.name)
        finally:
            self._mechanism = self._secrets = None
            self._challenges = 0
            self.literal = None
        self._logged_in(kind, data, login, mechanism.name, secrets)

    def _answer(self, challenge: bytes) -> bytes:
        """The base64 answer to a SASL challenge (``*`` cancels); imaplib sends it."""
        mechanism, secrets = self._mechanism, self._secrets
        assert mechanism is not None
        assert secrets is not None
        self._challenges += 1
        if self._challenges > _MAX_CHALLENGES:
            return b"*"
        answer = mechanism.initial_response() if self._challenges == 1 else None
        if answer is None:
            answer = mechanism.respond(_unb64(challenge))
        return b"*" if answer is None else _b64(answer, secrets).encode("ascii")

    def _logged_in(
        self, kind: str, data: list[Any], login: str, method: str, secrets: _Secrets
    ) -> None:
        if kind != "OK":
            raise _refusal(self._attempt, login, _reply_text(data, secrets))
        self.state = "AUTH"
        fresh = self.untagged_responses.pop("CAPABILITY", None)
        if fresh and isinstance(fresh[-1], bytes):
            self.capabilities = tuple(fresh[-1].decode("ascii", "replace").upper().split())
        logger.debug("IMAP: logged in at %s with %s", self._attempt.where, method)

    def _send_id(self, fields: Mapping[str, str]) -> None:
        """IMAP ``ID`` through the object's own tag machinery (``imaplib.Commands`` is untouched)."""
        self._attempt.step = "IMAP ID"
        tag = self._new_tag()
        self.send(tag + b" ID " + _id_arguments(fields) + b"\r\n")
        try:
            kind, data = self._command_complete("ID", tag)
        except imaplib.IMAP4.abort:
            raise
        except imaplib.IMAP4.error as error:
            kind, data = "BAD", [str(error).encode()]
        self.untagged_responses.pop("ID", None)
        if kind != "OK":
            logger.debug("IMAP: %s did not accept ID: %s", self._attempt.where, _reply_text(data))


class _IMAP4_SSL(_IMAP4, imaplib.IMAP4_SSL):
    """:class:`imaplib.IMAP4_SSL` connected by :func:`connect_imap`."""

    def _start(self, attempt: _Attempt) -> None:
        imaplib.IMAP4_SSL.__init__(
            self, attempt.host, attempt.port, ssl_context=attempt.context, timeout=attempt.timeout
        )


# --- POP3 ----------------------------------------------------------------------------------


class _POP3(_Session, poplib.POP3):
    """:class:`poplib.POP3` connected by :func:`connect_pop3`."""

    def __init__(self, attempt: _Attempt, sock: socket.socket) -> None:
        self._attempt = attempt
        self._handed_over = sock
        self._start(attempt)

    def _start(self, attempt: _Attempt) -> None:
        poplib.POP3.__init__(self, attempt.host, attempt.port, attempt.timeout)

    def _create_socket(self, timeout: float | None) -> socket.socket:
        return self._take_socket()

    def _getline(self) -> tuple[bytes, int]:
        self._use_reader()
        stdlib: Any = super()
        line: tuple[bytes, int] = stdlib._getline()
        return line

    def _putline(self, line: bytes) -> None:
        self._arm()
        stdlib: Any = super()
        stdlib._putline(line)

    def _command(self, line: str) -> bytes:
        """Send one command line and return the first line of the answer."""
        stdlib: Any = super()
        stdlib._putcmd(line)
        return self._getline()[0]

    def _capabilities(self) -> dict[str, list[str]]:
        try:
            return {name.upper(): args for name, args in self.capa().items()}
        except poplib.error_proto:
            return {}

    # the steps of connect_pop3

    def _start_tls(self) -> None:
        # STLS straight away: CAPA would cost a round trip, and old servers lack it
        self._attempt.step = "STARTTLS"
        answer = self._command("STLS")
        if not answer.startswith(b"+OK"):
            raise TLSError(
                f"{self._attempt.where} refused STLS, POP3's STARTTLS ({_line_text(answer)}); "
                "no credential was sent (use its implicit-TLS port, or allow_plaintext=True "
                "on a trusted network)."
            )
        self._upgraded()
        self._tls_established = True

    def _authenticate(self, login: str, secret: str, *, token: bool, secrets: _Secrets) -> None:
        self._attempt.step = "login"
        capabilities = self._capabilities()
        offered = {name.upper() for name in capabilities.get("SASL", [])}
        if token:
            name = _first_offered(_OAUTH2_MECHANISMS, offered)
            if name is None:
                raise _no_method(self._attempt, login, _OAUTH2_WANTED, offered)
            self._sasl(_oauth_mechanism(name, login, secret, self._attempt), login, secrets)
        elif "PLAIN" in offered:
            self._sasl(Plain(login, secret), login, secrets)
        elif "USER" in capabilities or not offered:
            self._user_pass(login, secret, secrets)
        elif "LOGIN" in offered:
            self._sasl(Login(login, secret), login, secrets)
        else:
            raise _no_method(self._attempt, login, "password login", offered)

    def _user_pass(self, login: str, secret: str, secrets: _Secrets) -> None:
        for command in (f"USER {login}", f"PASS {secret}"):
            answer = self._command(command)
            if not answer.startswith(b"+OK"):
                raise _refusal(self._attempt, login, secrets.mask(_line_text(answer)))
        logger.debug("POP3: logged in at %s with USER/PASS", self._attempt.where)

    def _sasl(self, mechanism: Mechanism, login: str, secrets: _Secrets) -> None:
        for value in mechanism.secrets():
            secrets.add(value)
        initial = mechanism.initial_response()
        command = f"AUTH {mechanism.name}"
        if initial is not None:
            encoded = _b64(initial, secrets) or "="
            if len(command) + 1 + len(encoded) <= _POP3_AUTH_LINE:
                command, initial = f"{command} {encoded}", None
        answer = self._command(command)
        for _ in range(_MAX_CHALLENGES):
            if answer.startswith(b"+OK"):
                logger.debug("POP3: logged in at %s with %s", self._attempt.where, mechanism.name)
                return
            if answer.startswith(b"-ERR"):
                raise _refusal(self._attempt, login, secrets.mask(_line_text(answer)))
            if not answer.startswith(b"+"):
                raise ProtocolError(
                    f"{self._attempt.where} answered AUTH with {_line_text(answer)!r}.",
                    seen=_line_text(answer),
                )
            reply = (
                initial if initial is not None else mechanism.respond(_unb64(answer[1:].strip()))
            )
            initial = None
            answer = self._command("*" if reply is None else _b64(reply, secrets))
        raise ProtocolError(f"{self._attempt.where} kept challenging the POP3 AUTH command.")


class _POP3_SSL(_POP3, poplib.POP3_SSL):
    """:class:`poplib.POP3_SSL` connected by :func:`connect_pop3`."""

    def _start(self, attempt: _Attempt) -> None:
        poplib.POP3_SSL.__init__(
            self, attempt.host, attempt.port, timeout=attempt.timeout, context=attempt.context
        )


# --- SMTP ----------------------------------------------------------------------------------


class _SMTP(_Session, smtplib.SMTP):
    """:class:`smtplib.SMTP` connected by :func:`connect_smtp`."""

    ehlo_msg = "EHLO"

    def __init__(self, attempt: _Attempt, sock: socket.socket) -> None:
        self._attempt = attempt
        self._handed_over = sock
        # a local name given, so smtplib does not look the machine's name up in DNS
        self._start(attempt)
        self._host = attempt.host

    def _start(self, attempt: _Attempt) -> None:
        smtplib.SMTP.__init__(self, local_hostname="localhost", timeout=attempt.timeout)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        sock = self._take_socket()
        address = sock.getsockname()[0]
        self.local_hostname = f"[IPv6:{address}]" if ":" in address else f"[{address}]"
        return sock

    def getreply(self) -> tuple[int, bytes]:
        self._use_reader()
        return super().getreply()

    def send(self, s: Any) -> None:
        self._arm()
        super().send(s)

    def _print_debug(self, *args: Any) -> None:
        if not self._attempt.connecting:
            stdlib: Any = super()
            stdlib._print_debug(*args)

    # the steps of connect_smtp

    def _greet(self) -> None:
        self._attempt.step = "the greeting"
        code, text = self.connect(self._attempt.host, self._attempt.port)
        if code == -1:
            raise _greeting_error(self._attempt, "")
        if code != 220:
            raise ConnectError(
                f"{self._attempt.where} refused the session: {code} {_line_text(text)}",
                host=self._attempt.host,
                port=self._attempt.port,
            )
        self._attempt.step = "EHLO"
        self._hello()

    def _hello(self) -> None:
        code, text = self.ehlo()
        if code != 250:
            raise ProtocolError(
                f"{self._attempt.where} refused EHLO: {code} {_line_text(text)}",
                seen=_line_text(text),
            )

    def _start_tls(self) -> None:
        self._attempt.step = "STARTTLS"
        if not self.has_extn("starttls"):
            raise TLSError(
                f"{self._attempt.where} does not offer STARTTLS; no credential was sent "
                "(use its implicit-TLS port, or allow_plaintext=True on a trusted network)."
            )
        code, text = self.docmd("STARTTLS")
        if code != 220:
            raise TLSError(
                f"{self._attempt.where} refused STARTTLS ({code} {_line_text(text)}); "
                "no credential was sent."
            )
        self._upgraded()
        # RFC 3207: forget what was learnt before TLS, ask again
        self.helo_resp = self.ehlo_resp = None
        self.esmtp_features = {}
        self.does_esmtp = False
        self._attempt.step = "EHLO after STARTTLS"
        self._hello()

    def _authenticate(self, login: str, secret: str, *, token: bool, secrets: _Secrets) -> None:
        self._attempt.step = "login"
        offered = set(self.esmtp_features.get("auth", "").upper().split())
        if token:
            name = _first_offered(_OAUTH2_MECHANISMS, offered)
            if name is None:
                raise _no_method(self._attempt, login, _OAUTH2_WANTED, offered)
            mechanism: Mechanism = _oauth_mechanism(name, login, secret, self._attempt)
        elif "PLAIN" in offered:
            mechanism = Plain(login, secret)
        elif "LOGIN" in offered:
            mechanism = Login(login, secret)
        else:
            raise _no_method(self._attempt, login, "password login", offered)
        self._sasl(mechanism, login, secrets)

    def _sasl(self, mechanism: Mechanism, login: str, secrets: _Secrets) -> None:
        """SASL over SMTP in UTF-8 (``smtplib.SMTP.auth`` would encode in ASCII)."""
        for value in mechanism.secrets():
            secrets.add(value)
        initial = mechanism.initial_response()
        argument = mechanism.name
        if initial is not None:
            argument += " " + (_b64(initial, secrets) or "=")
        code, text = self.docmd("AUTH", argument)
        for _ in range(_MAX_CHALLENGES):
            if code != 334:
                break
            reply = mechanism.respond(_unb64(text))
            code, text = self.docmd("*" if reply is None else _b64(reply, secrets))
        if code == 334:
            raise ProtocolError(f"{self._attempt.where} kept challenging the SMTP AUTH command.")
        if code != 235:
            raise _refusal(self._attempt, login, secrets.mask(f"{code} {_line_text(text)}"))
        logger.debug("SMTP: logged in at %s with %s", self._attempt.where, mechanism.name)


class _SMTP_SSL(_SMTP, smtplib.SMTP_SSL):
    """:class:`smtplib.SMTP_SSL` connected by :func:`connect_smtp`."""

    def _start(self, attempt: _Attempt) -> None:
        smtplib.SMTP_SSL.__init__(
            self, local_hostname="localhost", timeout=attempt.timeout, context=attempt.context
        )


# --- shared steps ----------------------------------------------------------------------------


def _line_text(raw: bytes | str) -> str:
    text = raw if isinstance(raw, str) else clean_text(raw)
    return excerpt(text.strip(), 200)


def _reply_text(data: list[Any], secrets: _Secrets | None = None) -> str:
    last = data[-1] if data else b""
    text = _line_text(last if isinstance(last, bytes | str) else repr(last))
    return secrets.mask(text) if secrets is not None else text


def _first_offered(names: Iterable[str], offered: set[str]) -> str | None:
    return next((name for name in names if name in offered), None)


def _oauth_mechanism(name: str, login: str, token: str, attempt: _Attempt) -> Mechanism:
    if name == "XOAUTH2":
        return XOAuth2(login, token)
    return OAuthBearer(login, token, host=attempt.host, port=attempt.port)


def _no_method(
    attempt: _Attempt, login: str, wanted: str, offered: set[str]
) -> AuthenticationError:
    shown = ", ".join(sorted(offered)) or "none"
    return AuthenticationError(
        f"{attempt.name} server {attempt.where} offers no {wanted} this library can use "
        f"(mechanisms offered: {shown}); nothing was sent.",
        login=login,
    )


def _refusal(attempt: _Attempt, login: str, reply: str) -> AuthenticationError:
    return authentication_error(
        attempt.provider, login=login, server_reply=reply, protocol=attempt.protocol.value
    )


def _id_arguments(fields: Mapping[str, str]) -> bytes:
    """``ID``'s parenthesized list (RFC 2971), or ``NIL`` for no fields."""
    if not fields:
        return b"NIL"
    quoted = []
    for key, value in fields.items():
        for text in (key, value):
            quoted.append('"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"')
    return ("(" + " ".join(quoted) + ")").encode("ascii")


def _check_id_fields(imap_id: object) -> Mapping[str, str] | Literal[False] | None:
    if imap_id is None or imap_id is False:
        return imap_id
    if not isinstance(imap_id, Mapping):
        raise TypeError(f"imap_id must be a mapping, False or None, not {type(imap_id).__name__}")
    if len(imap_id) > _ID_FIELDS:
        raise ValueError(f"IMAP ID allows at most {_ID_FIELDS} fields")
    for key, value in imap_id.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError("imap_id keys and values must be str")
        for text, limit in ((key, _ID_KEY_LENGTH), (value, _ID_VALUE_LENGTH)):
            if not (text.isascii() and text.isprintable()) or len(text) > limit:
                raise ValueError(
                    f"IMAP ID fields must be printable ASCII (keys up to {_ID_KEY_LENGTH}, "
                    f"values up to {_ID_VALUE_LENGTH} characters): {text[:40]!r}"
                )
    return imap_id


def _greeting_error(attempt: _Attempt, reason: str) -> MailSettingsError:
    """What a broken greeting means: the wrong protocol, a refusal, or garbage."""
    first = (attempt.first_line or b"").rstrip(b"\r\n")
    if not first:
        if attempt.server_closed:
            return ConnectError(
                f"{attempt.where} closed the connection without a greeting.",
                host=attempt.host,
                port=attempt.port,
            )
        return ProtocolError(f"{attempt.where} sent no {attempt.name} greeting ({reason}).")
    seen = excerpt(clean_text(first))
    detected = detect_protocol(first)
    if detected is not None and detected != attempt.name:
        return WrongProtocolError(
            f"{attempt.where} is not an {attempt.name} server: its greeting looks like "
            f"{detected}: {seen!r}",
            seen=seen,
            expected=attempt.name,
            detected=detected,
        )
    if first.upper().startswith((b"* BYE", b"-ERR")):
        return ConnectError(
            f"{attempt.where} refused the session: {seen}", host=attempt.host, port=attempt.port
        )
    return ProtocolError(
        f"{attempt.where} did not greet like an {attempt.name} server"
        + (f" ({reason})" if reason else "")
        + f": {seen!r}",
        seen=seen,
    )


def _translate(error: Exception, attempt: _Attempt, secrets: _Secrets) -> MailSettingsError:
    """The library's error for anything the standard library or the network raised."""
    where, host, port = attempt.where, attempt.host, attempt.port
    if isinstance(error, _Expired | TimeoutError) or (
        attempt.budget.expired() and isinstance(error, OSError)
    ):
        return ConnectTimeoutError(
            f"{where} did not answer in time ({attempt.step}, budget "
            f"{attempt.budget.seconds:g} s).",
            host=host,
            port=port,
        )
    if isinstance(error, ssl.SSLError):
        return tls_error(host, error)
    if isinstance(error, OSError) and not isinstance(error, smtplib.SMTPException):
        return ConnectError(
            f"The connection to {where} broke ({attempt.step}): "
            f"{error.strerror or type(error).__name__}.",
            host=host,
            port=port,
        )
    reason = excerpt(secrets.mask(clean_text(str(error).encode("utf-8", "replace"))), 200)
    if attempt.step == "the greeting":
        return _greeting_error(attempt, reason)
    if attempt.server_closed or isinstance(error, smtplib.SMTPServerDisconnected):
        return ConnectError(
            f"{where} closed the connection ({attempt.step}).", host=host, port=port
        )
    return ProtocolError(
        f"{where} broke the {attempt.name} protocol ({attempt.step}): {reason}", seen=reason
    )


@contextlib.contextmanager
def _translated(attempt: _Attempt, secrets: _Secrets) -> Iterator[None]:
    """Close the connection on any failure and raise the library's error instead."""
    try:
        yield
    except BaseException as error:
        attempt.abandon()
        if isinstance(error, MailSettingsError) or not isinstance(error, Exception):
            raise
        raise _translate(error, attempt, secrets) from None


# --- arguments -------------------------------------------------------------------------------


def _server_for(
    target: LookupResult | Server,
    protocol: Protocol,
    address: str | None,
    *,
    allow_untrusted: bool,
) -> tuple[Server, Provider | None]:
    if isinstance(target, LookupResult):
        server: Server | None = getattr(target, protocol.value)
        if server is None:
            raise ProviderNotFoundError(
                f"{target.provider.name} offers no {protocol.value.upper()} server for "
                f"{target.domain}.",
                domain=target.domain_ascii,
                provider=target.provider,
            )
        require_trusted(target, allow_untrusted=allow_untrusted)
        return server, target.provider
    if isinstance(target, Server):
        if target.protocol != protocol:
            raise ValueError(
                f"expected an {protocol.value.upper()} server, got a "
                f"{target.protocol.value.upper()} one"
            )
        if target.is_template:
            if address is None:
                raise ValueError(
                    f"the host {target.host} is a template: pass the address to fill it in"
                )
            return target.for_domain(parse_address(address).domain_ascii), None
        return target, None
    raise TypeError(
        f"target must be a mailsettings.LookupResult or Server, not {type(target).__name__}"
    )


def _connect(
    protocol: Protocol,
    target: LookupResult | Server,
    address: str | None,
    *,
    login: str | None,
    password: str | None,
    oauth2_token: str | None,
    timeout: float,
    ssl_context: ssl.SSLContext | None,
    resolver: object,
    allow_private_networks: bool,
    allowed_networks: Iterable[str],
    port_map: Mapping[int, int] | None,
    allow_plaintext: bool,
    allow_untrusted: bool,
    imap_id: ImapID = None,
) -> imaplib.IMAP4 | poplib.POP3 | smtplib.SMTP:
    """Check the arguments, resolve, connect, secure, log in; the body of the three helpers."""
    arguments = checked_arguments(
        timeout=timeout,
        ssl_context=ssl_context,
        resolver=resolver,
        allow_private_networks=allow_private_networks,
        allowed_networks=allowed_networks,
        port_map=port_map,
    )
    seconds = arguments["timeout"]
    allow_plaintext = check_bool("allow_plaintext", allow_plaintext)
    id_fields = _check_id_fields(imap_id)
    server, provider = _server_for(
        target, protocol, address, allow_untrusted=check_bool("allow_untrusted", allow_untrusted)
    )
    if login is None:
        if address is None:
            raise ValueError(
                "pass the address (its login name follows the server's rule) or login="
            )
        login = server.login_for(address)
    elif not isinstance(login, str) or not login:
        raise TypeError("login must be a non-empty str")
    secret, token = check_secret(password, oauth2_token, login=login)
    port = (arguments["port_map"] or {}).get(server.port, server.port)
    if server.security is Security.PLAIN and not allow_plaintext:
        raise TLSError(
            f'{server.host}:{port} offers no TLS (security "plain"); refusing to send '
            "credentials in clear text (pass allow_plaintext=True to allow it)."
        )

    budget = Budget.start(seconds)
    attempt = _Attempt(
        protocol,
        host=server.host,
        port=port,
        budget=budget,
        timeout=seconds,
        context=arguments["ssl_context"] or default_ssl_context(),
        provider=provider,
    )
    secrets = _Secrets()
    secrets.add(secret)
    dns = Dns(arguments["resolver"], TTLCache[tuple[object, ...], Answer](), budget)
    addresses = run_sync(
        checked_addresses(
            server.host,
            port,
            dns=dns,
            allow_private_networks=arguments["allow_private_networks"],
            allowed_networks=arguments["allowed_networks"],
        )
    )
    implicit_tls = server.security is Security.SSL
    with _translated(attempt, secrets):
        sock = _open_socket(attempt, addresses, implicit_tls)
        attempt.step = "the greeting"
        if protocol is Protocol.IMAP:
            connection: _IMAP4 | _POP3 | _SMTP = (_IMAP4_SSL if implicit_tls else _IMAP4)(
                attempt, sock
            )
        elif protocol is Protocol.POP3:
            connection = (_POP3_SSL if implicit_tls else _POP3)(attempt, sock)
        else:
            connection = (_SMTP_SSL if implicit_tls else _SMTP)(attempt, sock)
            connection._greet()
        if server.security is Security.STARTTLS:
            connection._start_tls()
        if not isinstance(connection, _IMAP4) or connection.state == "NONAUTH":
            connection._authenticate(login, secret, token=token, secrets=secrets)
        if isinstance(connection, _IMAP4):
            fields = _id_to_send(id_fields, provider, connection.capabilities)
            if fields is not None:
                connection._send_id(fields)
        attempt.release(connection.sock)
    return connection


def _id_to_send(
    imap_id: Mapping[str, str] | Literal[False] | None,
    provider: Provider | None,
    capabilities: tuple[str, ...],
) -> Mapping[str, str] | None:
    if imap_id is False:
        return None
    if imap_id is not None:
        return imap_id
    if "ID" in capabilities and wants_imap_id(provider):
        return CLIENT_ID
    return None


# --- the helpers ------------------------------------------------------------------------------


def connect_imap(
    target: LookupResult | Server,
    /,
    address: str | None = None,
    *,
    login: str | None = None,
    password: str | None = None,
    oauth2_token: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    ssl_context: ssl.SSLContext | None = None,
    resolver: Any = None,
    allow_private_networks: bool = False,
    allowed_networks: Iterable[str] = (),
    port_map: Mapping[int, int] | None = None,
    allow_plaintext: bool = False,
    allow_untrusted: bool = False,
    imap_id: ImapID = None,
) -> imaplib.IMAP4:
    """A logged-in :class:`imaplib.IMAP4` (``IMAP4_SSL`` for implicit TLS), ready for ``select()``.

    ``target`` is a lookup result (its preferred IMAP server; its provider's data decides
    IMAP ``ID`` and the error for a refused login) or one server (a host template is
    filled in from ``address``). The login name is ``login``, or the server's rule
    applied to ``address``. Pass exactly one of ``password`` and ``oauth2_token``.

    ``timeout`` is one budget in seconds for resolving, connecting, TLS and logging in;
    afterwards each socket operation may take that long. ``ssl_context`` defaults to
    the system's certificate authorities with host-name checking. ``resolver`` is a
    dnspython resolver (default: the system's name servers); ``allow_private_networks``
    and ``allowed_networks`` say which non-public addresses may be connected to;
    ``port_map`` maps standard ports to others (for tests). ``allow_plaintext`` allows
    a server without TLS; ``allow_untrusted`` allows an untrusted result (from MX,
    SRV outside the domain, plain HTTP or guessing): its servers could be anyone's.
    ``imap_id`` is the ``ID`` to send (a mapping), ``False`` to never send one, or
    ``None``: :data:`~mailsettings.access.credentials.CLIENT_ID` when the server offers
    ``ID`` and the provider's data asks for it.

    Raises :class:`ValueError` for bad arguments and for an untrusted result without
    ``allow_untrusted=True``, :class:`~mailsettings.ConnectError` (also for an address
    that is not allowed), :class:`~mailsettings.ConnectTimeoutError`,
    :class:`~mailsettings.TLSError`, :class:`~mailsettings.ProtocolError`,
    :class:`~mailsettings.AuthenticationError` (or its subclass
    :class:`~mailsettings.AppPasswordRequiredError`, whose ``provider`` says what the
    user must do), :class:`~mailsettings.ProviderNotFoundError` when the result has no
    IMAP server, and :class:`~mailsettings.protocol.CredentialsError` for credentials
    that cannot be sent (a non-ASCII password where the server offers only ``LOGIN``).

    The object is not thread-safe. Python cannot wipe the password from memory.
    """
    connection = _connect(
        Protocol.IMAP,
        target,
        address,
        login=login,
        password=password,
        oauth2_token=oauth2_token,
        timeout=timeout,
        ssl_context=ssl_context,
        resolver=resolver,
        allow_private_networks=allow_private_networks,
        allowed_networks=allowed_networks,
        port_map=port_map,
        allow_plaintext=allow_plaintext,
        allow_untrusted=allow_untrusted,
        imap_id=imap_id,
    )
    return cast(imaplib.IMAP4, connection)


def connect_pop3(
    target: LookupResult | Server,
    /,
    address: str | None = None,
    *,
    login: str | None = None,
    password: str | None = None,
    oauth2_token: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    ssl_context: ssl.SSLContext | None = None,
    resolver: Any = None,
    allow_private_networks: bool = False,
    allowed_networks: Iterable[str] = (),
    port_map: Mapping[int, int] | None = None,
    allow_plaintext: bool = False,
    allow_untrusted: bool = False,
) -> poplib.POP3:
    """A logged-in :class:`poplib.POP3` (``POP3_SSL`` for implicit TLS), ready for ``stat()``.

    The arguments and errors are those of :func:`connect_imap` (without ``imap_id``).
    It logs in with SASL where ``CAPA`` offers it (``PLAIN`` in UTF-8; ``XOAUTH2`` or
    ``OAUTHBEARER`` with a token), else with ``USER``/``PASS``.

    The object is not thread-safe. Python cannot wipe the password from memory.
    """
    connection = _connect(
        Protocol.POP3,
        target,
        address,
        login=login,
        password=password,
        oauth2_token=oauth2_token,
        timeout=timeout,
        ssl_context=ssl_context,
        resolver=resolver,
        allow_private_networks=allow_private_networks,
        allowed_networks=allowed_networks,
        port_map=port_map,
        allow_plaintext=allow_plaintext,
        allow_untrusted=allow_untrusted,
    )
    return cast(poplib.POP3, connection)


def connect_smtp(
    target: LookupResult | Server,
    /,
    address: str | None = None,
    *,
    login: str | None = None,
    password: str | None = None,
    oauth2_token: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    ssl_context: ssl.SSLContext | None = None,
    resolver: Any = None,
    allow_private_networks: bool = False,
    allowed_networks: Iterable[str] = (),
    port_map: Mapping[int, int] | None = None,
    allow_plaintext: bool = False,
    allow_untrusted: bool = False,
) -> smtplib.SMTP:
    """A logged-in :class:`smtplib.SMTP` (``SMTP_SSL`` for implicit TLS), ready for ``send_message()``.

    The arguments and errors are those of :func:`connect_imap` (without ``imap_id``).
    It says ``EHLO`` with its address literal (the machine's name is not looked up),
    and logs in with SASL ``PLAIN`` in UTF-8, else ``LOGIN`` (``XOAUTH2`` or
    ``OAUTHBEARER`` with a token).

    The object is not thread-safe. Python cannot wipe the password from memory.
    """
    connection = _connect(
        Protocol.SMTP,
        target,
        address,
        login=login,
        password=password,
        oauth2_token=oauth2_token,
        timeout=timeout,
        ssl_context=ssl_context,
        resolver=resolver,
        allow_private_networks=allow_private_networks,
        allowed_networks=allowed_networks,
        port_map=port_map,
        allow_plaintext=allow_plaintext,
        allow_untrusted=allow_untrusted,
    )
    return cast(smtplib.SMTP, connection)
