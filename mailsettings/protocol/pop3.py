r"""A sans-I/O POP3 client (RFC 1939).

It reads the greeting and speaks CAPA (RFC 2449), STLS (RFC 2595), USER/PASS, AUTH
(RFC 5034), STAT, NOOP and QUIT.

>>> client = POP3Client()
>>> client.receive_data(b"+OK Dovecot ready.\r\n")
[Greeting(ok=True, text='Dovecot ready.', capabilities=None, preauth=False)]
>>> client.capa()
b'CAPA\r\n'
>>> events = client.receive_data(b"+OK\r\nTOP\r\nUIDL\r\nSTLS\r\nSASL PLAIN\r\n.\r\n")
>>> events[0].starttls, events[0].sasl_mechanisms, events[0].login_disabled
(True, ('PLAIN',), True)
>>> client.receive_data(b"+OK ready\r\n")  # nobody asked
Traceback (most recent call last):
...
mailsettings.errors.ProtocolError: the server sent an unexpected line: '+OK ready'
"""

from __future__ import annotations

import base64
import re

from .base import (
    MAX_LINE_LENGTH,
    MAX_RESPONSE_LINES,
    Client,
    CommandStateError,
    CredentialsError,
    State,
)
from .events import (
    AuthFailed,
    AuthOK,
    Bye,
    Capabilities,
    CommandFailed,
    CommandOK,
    Event,
    Greeting,
    MaildropStatus,
    TLSReady,
    TLSRefused,
)
from .sasl import Mechanism

__all__ = ["POP3Client"]

_STATUS = re.compile(rb"(\+OK|-ERR)(?:\Z|[ \t](.*)\Z)", re.IGNORECASE | re.DOTALL)
_CODE = re.compile(rb"\[([A-Za-z0-9/-]{1,40})\][ \t]*(.*)\Z", re.DOTALL)
_STAT = re.compile(rb"([0-9]{1,10}) ([0-9]{1,19})(?:\Z|[ \t])")
_TEMPORARY_CODES = frozenset({"SYS/TEMP", "IN-USE", "LOGIN-DELAY"})
MAX_INITIAL_RESPONSE_LINE = 255
"""RFC 5034: a longer ``AUTH`` line sends its initial response after a challenge instead."""


class POP3Client(Client):
    """A POP3 client state machine: bytes in, events out, commands as bytes."""

    protocol = "pop3"
    protocol_name = "POP3"

    def __init__(
        self,
        *,
        tls: bool = False,
        max_line_length: int = MAX_LINE_LENGTH,
        max_response_lines: int = MAX_RESPONSE_LINES,
    ) -> None:
        super().__init__(
            tls=tls, max_line_length=max_line_length, max_response_lines=max_response_lines
        )
        self._multiline: list[str] | None = None
        self._user_accepted = False

    # --- commands -------------------------------------------------------------------------

    def capa(self) -> bytes:
        """``CAPA``: answered by ``Capabilities`` (``CommandFailed`` from an old server)."""
        return self._send("CAPA", b"CAPA")

    def starttls(self) -> bytes:
        """``STLS``: answered by ``TLSReady`` or ``TLSRefused``."""
        self._require_plain_text("STLS")
        return self._send("STLS", b"STLS")

    def user(self, name: str) -> bytes:
        """``USER name``: ``CommandOK``, then send :meth:`pass_`; ``AuthFailed`` if refused."""
        self._require_unauthenticated()
        if any(character in name for character in "\r\n\x00"):
            raise CredentialsError("the user name cannot contain CR, LF or NUL")
        self._user_accepted = False
        return self._send("USER", b"USER " + name.encode("utf-8"))

    def pass_(self, password: str) -> bytes:
        """``PASS password`` after an accepted ``USER``: ``AuthOK`` or ``AuthFailed``."""
        self._require_unauthenticated()
        if not self._user_accepted:
            raise CommandStateError("PASS must follow a USER the server accepted")
        if any(character in password for character in "\r\n\x00"):
            raise CredentialsError("the password cannot contain CR, LF or NUL")
        self._secrets.add(password)
        return self._send("PASS", b"PASS " + password.encode("utf-8"))

    def authenticate(self, mechanism: Mechanism) -> bytes:
        """``AUTH`` with a SASL mechanism: ``Challenge`` events, then ``AuthOK`` or ``AuthFailed``."""
        self._require_unauthenticated()
        initial = self._start_authentication(mechanism)
        line = f"AUTH {mechanism.name}".encode("ascii")
        inline = False
        if initial is not None:
            with_initial = line + b" " + (base64.b64encode(initial) or b"=")
            if len(with_initial) <= MAX_INITIAL_RESPONSE_LINE:
                line, inline = with_initial, True
        data = self._send("AUTHENTICATE", line)
        self._mechanism = mechanism
        self._unsent_initial = None if inline else initial
        return data

    def stat(self) -> bytes:
        """``STAT``: answered by ``MaildropStatus``."""
        return self._send("STAT", b"STAT")

    def noop(self) -> bytes:
        """``NOOP``: answered by ``CommandOK``."""
        return self._send("NOOP", b"NOOP")

    def quit(self) -> bytes:
        """``QUIT``: answered by ``Bye``."""
        return self._send("QUIT", b"QUIT")

    # --- responses ------------------------------------------------------------------------

    def _handle_line(self, line: bytes, events: list[Event]) -> None:
        if self._state is State.GREETING:
            self._greeting(line, events)
            return
        if self._multiline is not None:
            self._capa_line(line, events)
            return
        status = _STATUS.match(line)
        if self._state is State.READY:
            if status is not None and status[1].upper() == b"-ERR":  # e.g. an idle timeout
                self._state = State.CLOSED
                events.append(Bye(self._text(status[2] or b"")))
                return
            raise self._unexpected(line)
        if status is None:
            if (line == b"+" or line.startswith(b"+ ")) and self._state is State.WAITING:
                self._challenge(line[2:], events)
                return
            raise self._unexpected(line)
        self._complete(status[1].upper() == b"+OK", status[2] or b"", events)

    def _greeting(self, line: bytes, events: list[Event]) -> None:
        status = _STATUS.match(line)
        if status is None:
            raise self._wrong_greeting(line)
        ok = status[1].upper() == b"+OK"
        self._state = State.READY if ok else State.CLOSED
        self._lines = 0
        events.append(Greeting(ok=ok, text=self._text(status[2] or b"")))

    def _capa_line(self, line: bytes, events: list[Event]) -> None:
        if line != b".":
            assert self._multiline is not None
            self._multiline.append(self._text(line[1:] if line.startswith(b"..") else line))
            return
        items = tuple(item for item in self._multiline or () if item)
        self._multiline = None
        keywords = [item.split(None, 1)[0].upper() for item in items]
        mechanisms: tuple[str, ...] = ()
        for item, keyword in zip(items, keywords, strict=True):
            if keyword == "SASL":
                mechanisms = tuple(dict.fromkeys(name.upper() for name in item.split()[1:]))
        self._capabilities = Capabilities(
            "pop3",
            items=items,
            sasl_mechanisms=mechanisms,
            starttls="STLS" in keywords,
            login_disabled="USER" not in keywords,
        )
        self._response_done()
        events.append(self._capabilities)

    def _complete(self, ok: bool, rest: bytes, events: list[Event]) -> None:
        command = self._pending
        coded = _CODE.match(rest)
        code = coded[1].decode("ascii").upper() if coded else None
        text = self._text(coded[2] if coded else rest)
        temporary = code in _TEMPORARY_CODES
        if command == "CAPA" and ok:
            self._multiline = []  # the list follows, up to a line with a single dot
            return
        counts = _STAT.match(rest) if command == "STAT" and ok else None
        if command == "STAT" and ok and counts is None:
            raise self._unexpected(rest, "a malformed STAT answer")
        self._response_done()
        if command == "STLS":
            if ok:
                self._state = State.TLS_HANDSHAKE
                events.append(TLSReady(text))
            else:
                events.append(TLSRefused(text, code))
        elif command == "USER":
            self._user_accepted = ok
            events.append(CommandOK("USER", text) if ok else AuthFailed(text, code, temporary))
        elif command in ("PASS", "AUTHENTICATE"):
            self._user_accepted = False
            if ok:
                self._authenticated = True
                events.append(AuthOK(text))
            else:
                events.append(AuthFailed(text, code, temporary))
        elif counts is not None:
            events.append(MaildropStatus(int(counts[1]), int(counts[2])))
        elif command == "QUIT":
            self._state = State.CLOSED
            events.append(Bye(text))
        elif ok:
            events.append(CommandOK(command, text))
        else:
            events.append(CommandFailed(command, text, code, temporary))
