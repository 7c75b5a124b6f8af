r"""What the IMAP, POP3 and SMTP clients share: errors, states, the line reader, the base class.

A client is fed the bytes the server sent (``receive_data``) and returns events; its
command methods return the bytes to send. It never touches a socket or a clock: the
caller owns the connection, the TLS handshake and the timeouts.

>>> reader = LineReader(max_line_length=16)
>>> reader.feed(b"+OK ready\r\n+OK")
>>> reader.next_line(), reader.next_line()
(b'+OK ready', None)
>>> reader.feed(b"x" * 20)
>>> reader.next_line()
Traceback (most recent call last):
...
mailsettings.protocol.base.ResponseTooLargeError: the server sent a line longer than 16 bytes
"""

from __future__ import annotations

import base64
import re
from enum import StrEnum
from typing import TYPE_CHECKING, ClassVar

from ..errors import MailSettingsError, ProtocolError
from .events import Capabilities, Challenge, ConnectionClosed, Event

if TYPE_CHECKING:
    from .sasl import Mechanism

__all__ = [
    "MAX_LINE_LENGTH",
    "MAX_RESPONSE_LINES",
    "Client",
    "CommandStateError",
    "CredentialsError",
    "LineReader",
    "ProtocolError",
    "ResponseTooLargeError",
    "Secrets",
    "State",
    "WrongProtocolError",
]

MAX_LINE_LENGTH = 64 * 1024
"""The longest line (and IMAP literal) a client accepts, in bytes."""
MAX_RESPONSE_LINES = 1000
"""The most lines one response (or the idle time between two) may have."""
EXCERPT_LENGTH = 80
CRLF = b"\r\n"


class WrongProtocolError(ProtocolError):
    """The greeting is another protocol's (an IMAP client greeted with ``220`` or ``+OK``).

    ``expected`` is the client's protocol (``"IMAP"``), ``detected`` the one the greeting
    looks like (``"SMTP"``), or ``None`` when it looks like no mail protocol.
    """

    def __init__(self, message: str, *, seen: str, expected: str, detected: str | None) -> None:
        super().__init__(message, seen=seen)
        self.expected = expected
        self.detected = detected


class ResponseTooLargeError(ProtocolError):
    """A line, an IMAP literal or a response is longer than the client's limits."""


class CommandStateError(MailSettingsError, RuntimeError):
    """The command cannot be sent in the client's current state (a usage error)."""


class CredentialsError(MailSettingsError, ValueError):
    """These credentials cannot be sent this way (e.g. non-ASCII in IMAP ``LOGIN``)."""


class State(StrEnum):
    """Where a client is in its conversation."""

    GREETING = "greeting"
    """Waiting for the server's greeting."""
    READY = "ready"
    """Idle: a command may be sent."""
    WAITING = "waiting"
    """A command was sent; its answer has not arrived yet."""
    CHALLENGED = "challenged"
    """A SASL challenge arrived: answer it or cancel the authentication."""
    TLS_HANDSHAKE = "tls-handshake"
    """STARTTLS was accepted: the caller performs the TLS handshake, then calls
    ``tls_established()``."""
    CLOSED = "closed"
    """The session ended (``Bye``, ``ConnectionClosed``, a refused greeting)."""
    BROKEN = "broken"
    """A :class:`ProtocolError` occurred; the connection must be dropped."""


def clean_text(raw: bytes) -> str:
    r"""Server text for display: UTF-8 with replacement, control characters replaced.

    >>> clean_text(b"OK \xff done\x1b[31m")
    'OK \ufffd done\ufffd[31m'
    """
    text = raw.decode("utf-8", errors="replace")
    return _CONTROL.sub("\ufffd", text).strip()


_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")


def excerpt(text: str, limit: int = EXCERPT_LENGTH) -> str:
    """``text`` cut to ``limit`` characters, for an error message."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


class Secrets:
    """The credentials of one session, in every form they were sent in, to mask them as ``***``.

    >>> secrets = Secrets()
    >>> secrets.add("hunter2"); secrets.add("aHVudGVyMg==")
    >>> secrets.mask("bad password hunter2 (aHVudGVyMg==)")
    'bad password *** (***)'
    """

    __slots__ = ("_values",)

    def __init__(self) -> None:
        self._values: list[str] = []

    def add(self, value: str | None) -> None:
        """Mask ``value`` from now on (longest values are masked first)."""
        if value and value not in self._values:
            self._values.append(value)
            self._values.sort(key=len, reverse=True)

    def mask(self, text: str) -> str:
        """``text`` with every secret replaced by ``***``."""
        for value in self._values:
            text = text.replace(value, "***")
        return text

    def mask_bytes(self, data: bytes) -> bytes:
        """``data`` with every secret (in UTF-8) replaced by ``***``."""
        for value in self._values:
            data = data.replace(value.encode("utf-8"), b"***")
        return data

    def __repr__(self) -> str:
        return f"{type(self).__name__}(...)"


_SMTP_REPLY = re.compile(rb"^[0-9]{3}(?:[ -]|$)")


def detect_protocol(line: bytes) -> str | None:
    """The protocol a greeting line looks like, if any.

    >>> detect_protocol(b"220 mx.example.com ESMTP"), detect_protocol(b"+OK ready")
    ('SMTP', 'POP3')
    >>> detect_protocol(b"* OK [CAPABILITY IMAP4rev1] ready"), detect_protocol(b"hello")
    ('IMAP', None)
    """
    upper = line[:16].upper()
    if upper.startswith((b"* OK", b"* PREAUTH", b"* BYE")):
        return "IMAP"
    if upper.startswith((b"+OK", b"-ERR")):
        return "POP3"
    if _SMTP_REPLY.match(line):
        return "SMTP"
    if upper.startswith(b"HTTP/"):
        return "HTTP"
    if upper.startswith(b"SSH-"):
        return "SSH"
    return None


class LineReader:
    """Collects bytes and hands out CRLF- (or LF-) terminated lines, with a length cap."""

    def __init__(self, max_line_length: int = MAX_LINE_LENGTH) -> None:
        self.max_line_length = max_line_length
        self._buffer = bytearray()
        self._scanned = 0

    def feed(self, data: bytes) -> None:
        """Add received bytes."""
        self._buffer += data

    @property
    def pending(self) -> int:
        """How many bytes are buffered."""
        return len(self._buffer)

    def next_line(self) -> bytes | None:
        """The next complete line without its line ending, or ``None`` if none is complete.

        Raises :class:`ResponseTooLargeError` as soon as a line exceeds the limit.
        """
        end = self._buffer.find(b"\n", self._scanned)
        if end < 0:
            self._scanned = len(self._buffer)
        if (end < 0 and self._scanned > self.max_line_length) or end > self.max_line_length + 1:
            raise ResponseTooLargeError(
                f"the server sent a line longer than {self.max_line_length} bytes",
                seen=excerpt(clean_text(bytes(self._buffer[:EXCERPT_LENGTH]))),
            )
        if end < 0:
            return None
        line = bytes(self._buffer[:end])
        del self._buffer[: end + 1]
        self._scanned = 0
        return line[:-1] if line.endswith(b"\r") else line

    def take(self, count: int) -> bytes | None:
        """Exactly ``count`` raw bytes (an IMAP literal), or ``None`` until they are all here."""
        if len(self._buffer) < count:
            return None
        data = bytes(self._buffer[:count])
        del self._buffer[:count]
        self._scanned = 0
        return data

    def clear(self) -> None:
        """Drop whatever is buffered."""
        self._buffer.clear()
        self._scanned = 0


class Client:
    """The part every protocol client shares: state, limits, SASL steps and masking.

    Not thread-safe: one client belongs to one connection and one thread (or task).
    """

    protocol: ClassVar[str]
    """``"imap"``, ``"pop3"`` or ``"smtp"``."""
    protocol_name: ClassVar[str]
    """``"IMAP"``, ``"POP3"`` or ``"SMTP"``, for messages."""

    def __init__(
        self,
        *,
        tls: bool = False,
        max_line_length: int = MAX_LINE_LENGTH,
        max_response_lines: int = MAX_RESPONSE_LINES,
    ) -> None:
        """``tls`` says the connection is already encrypted (implicit TLS)."""
        self.max_line_length = max_line_length
        self.max_response_lines = max_response_lines
        self._reader = LineReader(max_line_length)
        self._state = State.GREETING
        self._tls = tls
        self._capabilities: Capabilities | None = None
        self._pending = ""
        self._lines = 0
        self._eof = False
        self._error: ProtocolError | None = None
        self._mechanism: Mechanism | None = None
        self._unsent_initial: bytes | None = None
        self._answer: bytes | None = None
        self._secrets = Secrets()
        self._authenticated = False

    # --- public state ---------------------------------------------------------------------

    @property
    def state(self) -> State:
        """Where the client is in its conversation."""
        return self._state

    @property
    def authenticated(self) -> bool:
        """Whether the session is authenticated (IMAP: also after ``PREAUTH``)."""
        return self._authenticated

    @property
    def tls(self) -> bool:
        """Whether the connection is encrypted (implicit TLS, or STARTTLS completed)."""
        return self._tls

    @property
    def capabilities(self) -> Capabilities | None:
        """The last capabilities the server sent (``None`` when unknown, e.g. after STARTTLS)."""
        return self._capabilities

    @property
    def pending_command(self) -> str:
        """The command whose answer is awaited (``""`` when none)."""
        return self._pending if self._state in (State.WAITING, State.CHALLENGED) else ""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} state={self._state.value} tls={self._tls}>"

    # --- receiving ------------------------------------------------------------------------

    def receive_data(self, data: bytes) -> list[Event]:
        """Feed bytes received from the server; ``b""`` means the connection was closed.

        Returns the events they complete. Raises :class:`ProtocolError` when the server
        breaks the protocol; the client is then :attr:`State.BROKEN` and raises again on
        every later call.
        """
        if self._state is State.BROKEN:
            assert self._error is not None
            raise ProtocolError(f"the connection is broken: {self._error}", seen=self._error.seen)
        if not data:
            if self._eof:
                return []
            self._eof = True
            self._state = State.CLOSED
            self._reader.clear()
            return [ConnectionClosed()]
        if self._state is State.CLOSED:
            return []
        events: list[Event] = []
        try:
            if self._state is State.TLS_HANDSHAKE:
                self._fail_injection(data)
            # Fed in slices so that one huge chunk never sits whole in the buffer.
            step = self.max_line_length
            for start in range(0, len(data), step):
                self._reader.feed(data[start : start + step])
                self._process(events)
                if self._finished_reading(data[start:]):
                    break
        except ProtocolError as error:
            self._state = State.BROKEN
            self._error = error
            self._reader.clear()
            raise
        return events

    def _finished_reading(self, rest: bytes) -> bool:
        """After a slice: whether the rest of the data is to be ignored (session closed)."""
        if self._state is State.CLOSED:
            self._reader.clear()
            return True
        if self._state is State.TLS_HANDSHAKE and self._reader.pending:
            self._fail_injection(rest)
        return False

    def _fail_injection(self, data: bytes) -> None:
        raise ProtocolError(
            "the server sent data after accepting STARTTLS, before the TLS handshake "
            "(a response-injection attempt or a broken server)",
            seen=self._excerpt(data),
        )

    def _process(self, events: list[Event]) -> None:
        """Consume complete lines from the reader, appending events."""
        while self._state not in (State.CLOSED, State.TLS_HANDSHAKE):
            line = self._reader.next_line()
            if line is None:
                return
            self._count_line()
            self._handle_line(line, events)

    def _handle_line(self, line: bytes, events: list[Event]) -> None:
        raise NotImplementedError

    def _count_line(self) -> None:
        self._lines += 1
        if self._lines > self.max_response_lines:
            raise ResponseTooLargeError(
                f"the server sent more than {self.max_response_lines} lines in one response"
            )

    def _response_done(self) -> None:
        self._lines = 0
        self._pending = ""
        self._mechanism = None
        self._unsent_initial = None
        self._answer = None
        if self._state in (State.WAITING, State.CHALLENGED):
            self._state = State.READY

    # --- text -----------------------------------------------------------------------------

    def _text(self, raw: bytes) -> str:
        """Server text for an event or an error: cleaned, credentials masked."""
        return self._secrets.mask(clean_text(raw))

    def _excerpt(self, raw: bytes) -> str:
        return excerpt(self._text(raw[: EXCERPT_LENGTH * 4]))

    def _wrong_greeting(self, line: bytes) -> ProtocolError:
        seen = self._excerpt(line)
        detected = detect_protocol(line)
        if detected == self.protocol_name:
            detected = None
        article = "an" if self.protocol_name == "IMAP" else "a"
        got = f"what looks like {detected}: {seen!r}" if detected else repr(seen)
        return WrongProtocolError(
            f"expected {article} {self.protocol_name} greeting, got {got}",
            seen=seen,
            expected=self.protocol_name,
            detected=detected,
        )

    def _unexpected(self, line: bytes, what: str = "an unexpected line") -> ProtocolError:
        seen = self._excerpt(line)
        during = f" while waiting for the answer to {self._pending}" if self._pending else ""
        return ProtocolError(f"the server sent {what}{during}: {seen!r}", seen=seen)

    # --- commands -------------------------------------------------------------------------

    def _require(self, *states: State) -> None:
        if self._state not in states:
            wanted = " or ".join(state.value for state in states)
            raise CommandStateError(
                f"the {self.protocol_name} client is {self._state.value}, not {wanted}"
            )

    def _send(self, command: str, line: bytes) -> bytes:
        """Start ``command``: the client now waits for its answer."""
        self._require(State.READY)
        self._state = State.WAITING
        self._pending = command
        self._lines = 0
        return line + CRLF

    def _require_unauthenticated(self) -> None:
        """Before a login command: idle, and not logged in yet."""
        self._require(State.READY)
        if self._authenticated:
            raise CommandStateError("the session is already authenticated")

    def _require_plain_text(self, command: str) -> None:
        """Before STARTTLS (``command`` names it): not encrypted, not logged in yet."""
        if self._tls:
            raise CommandStateError("the connection is already encrypted")
        if self._authenticated:
            raise CommandStateError(f"{command} is only allowed before authentication")

    def _start_authentication(self, mechanism: Mechanism) -> bytes | None:
        """Register the mechanism's secrets and return its initial response."""
        if not mechanism.name or not re.fullmatch(r"[A-Z0-9_-]{1,20}", mechanism.name):
            raise ValueError(f"not a SASL mechanism name: {mechanism.name!r}")
        for secret in mechanism.secrets():
            self._secrets.add(secret)
        initial = mechanism.initial_response()
        if initial is not None:
            self._secrets.add(base64.b64encode(initial).decode("ascii"))
        return initial

    def _challenge(self, encoded: bytes, events: list[Event]) -> None:
        """A SASL continuation arrived: prepare the answer and report the challenge."""
        if self._pending != "AUTHENTICATE" or self._mechanism is None:
            raise self._unexpected(encoded, "a continuation request")
        data = encoded.strip()
        try:
            decoded = base64.b64decode(data, validate=True)
        except ValueError:
            decoded = data
        if self._unsent_initial is not None:
            answer: bytes | None = self._unsent_initial
            self._unsent_initial = None
        else:
            answer = self._mechanism.respond(decoded)
        if answer is None:
            raise self._unexpected(encoded, f"another {self._mechanism.name} challenge")
        self._answer = answer
        self._secrets.add(base64.b64encode(answer).decode("ascii"))
        self._state = State.CHALLENGED
        events.append(Challenge(self._secrets.mask_bytes(decoded)))

    def answer_challenge(self) -> bytes:
        """The answer to the last :class:`~mailsettings.protocol.events.Challenge`."""
        self._require(State.CHALLENGED)
        assert self._answer is not None
        answer, self._answer = self._answer, None
        self._state = State.WAITING
        return base64.b64encode(answer) + CRLF

    def cancel_authentication(self) -> bytes:
        """Give up the authentication in progress (the server then reports a failure)."""
        self._require(State.CHALLENGED)
        self._answer = None
        self._state = State.WAITING
        return b"*" + CRLF

    def tls_established(self) -> None:
        """Call after the TLS handshake that followed ``TLSReady``.

        The capabilities are forgotten: read them again (RFC 3207, 2595), as the server
        may offer other things (SASL mechanisms, typically) over TLS.
        """
        self._require(State.TLS_HANDSHAKE)
        self._tls = True
        self._capabilities = None
        self._reader.clear()
        self._response_done()
        self._state = State.READY
