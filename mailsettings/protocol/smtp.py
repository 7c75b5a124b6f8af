r"""A sans-I/O SMTP submission client (RFC 5321, 6409).

It reads the greeting (multi-line) and speaks EHLO, HELO, STARTTLS (RFC 3207), AUTH
(RFC 4954), NOOP and QUIT.

>>> client = SMTPClient()
>>> client.receive_data(b"220-mail.example.com ESMTP\r\n220 welcome\r\n")
[Greeting(ok=True, text='mail.example.com ESMTP welcome', capabilities=None, preauth=False)]
>>> client.ehlo("client.example.org")
b'EHLO client.example.org\r\n'
>>> caps, = client.receive_data(b"250-mail.example.com\r\n250-AUTH PLAIN LOGIN\r\n250 STARTTLS\r\n")
>>> caps.sasl_mechanisms, caps.starttls
(('PLAIN', 'LOGIN'), True)
>>> from mailsettings.protocol.sasl import Plain
>>> client.authenticate(Plain("alice", "secret"))
b'AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n'
>>> client.receive_data(b"535 5.7.8 Error: authentication failed: AGFsaWNlAHNlY3JldA==\r\n")
[AuthFailed(text='5.7.8 Error: authentication failed: ***', code='535 5.7.8', temporary=False)]
"""

from __future__ import annotations

import base64
import re

from .base import MAX_LINE_LENGTH, MAX_RESPONSE_LINES, Client, State
from .events import (
    AuthFailed,
    AuthOK,
    Bye,
    Capabilities,
    CommandFailed,
    CommandOK,
    Event,
    Greeting,
    TLSReady,
    TLSRefused,
)
from .sasl import Mechanism

__all__ = ["SMTPClient"]

_REPLY = re.compile(rb"([0-9]{3})(?:\Z|([ -])(.*)\Z)", re.DOTALL)
_ENHANCED = re.compile(r"([245]\.[0-9]{1,3}\.[0-9]{1,3})(?:\Z|\s)")
_NAME = re.compile(r"[A-Za-z0-9.:\[\]_-]{1,255}")


class SMTPClient(Client):
    """An SMTP client state machine: bytes in, events out, commands as bytes."""

    protocol = "smtp"
    protocol_name = "SMTP"

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
        self._reply: list[bytes] = []
        self._reply_code = b""

    # --- commands -------------------------------------------------------------------------

    @staticmethod
    def _check_name(name: str) -> str:
        if not _NAME.fullmatch(name):
            raise ValueError(f"not a host name or address literal for EHLO/HELO: {name!r}")
        return name

    def ehlo(self, name: str = "localhost") -> bytes:
        """``EHLO name``: answered by ``Capabilities`` (``CommandFailed``: try :meth:`helo`)."""
        return self._send("EHLO", b"EHLO " + self._check_name(name).encode("ascii"))

    def helo(self, name: str = "localhost") -> bytes:
        """``HELO name`` (no extensions, so no AUTH or STARTTLS): answered by ``CommandOK``."""
        return self._send("HELO", b"HELO " + self._check_name(name).encode("ascii"))

    def starttls(self) -> bytes:
        """``STARTTLS``: answered by ``TLSReady`` or ``TLSRefused``; then ``EHLO`` again."""
        self._require_plain_text("STARTTLS")
        return self._send("STARTTLS", b"STARTTLS")

    def authenticate(self, mechanism: Mechanism) -> bytes:
        """``AUTH`` with a SASL mechanism, the initial response inline.

        Answered by ``Challenge`` events, then ``AuthOK`` or ``AuthFailed``.
        """
        self._require_unauthenticated()
        initial = self._start_authentication(mechanism)
        line = f"AUTH {mechanism.name}".encode("ascii")
        if initial is not None:
            line += b" " + (base64.b64encode(initial) or b"=")
        data = self._send("AUTHENTICATE", line)
        self._mechanism = mechanism
        return data

    def noop(self) -> bytes:
        """``NOOP``: answered by ``CommandOK``."""
        return self._send("NOOP", b"NOOP")

    def quit(self) -> bytes:
        """``QUIT``: answered by ``Bye``."""
        return self._send("QUIT", b"QUIT")

    # --- replies --------------------------------------------------------------------------

    def _handle_line(self, line: bytes, events: list[Event]) -> None:
        match = _REPLY.match(line)
        if match is None:
            if self._state is State.GREETING and not self._reply:
                raise self._wrong_greeting(line)
            raise self._unexpected(line)
        code, separator, text = match[1], match[2], match[3] or b""
        if self._reply and code != self._reply_code:
            raise self._unexpected(line, "a multi-line reply whose codes differ")
        self._reply_code = code
        self._reply.append(text)
        if separator == b"-":
            return
        lines, self._reply = self._reply, []
        self._reply_done(int(code), lines, events)

    def _reply_done(self, code: int, lines: list[bytes], events: list[Event]) -> None:
        texts = [self._text(line) for line in lines]
        text = " ".join(part for part in texts if part)
        if self._state in (State.GREETING, State.READY):
            self._unsolicited(code, lines[0], text, events)
            return
        enhanced = _ENHANCED.match(texts[0]) if texts else None
        code_text = f"{code} {enhanced[1]}" if enhanced else str(code)
        temporary = 400 <= code < 500
        command = self._pending
        if command == "AUTHENTICATE" and code == 334:
            if self._state is not State.WAITING:
                raise self._unexpected(lines[0], "a second challenge before the first was answered")
            self._lines = 0
            self._challenge(lines[0], events)
            return
        self._response_done()
        if code == 421:
            self._state = State.CLOSED
            events.append(Bye(text))
        elif command == "EHLO":
            if code != 250:
                events.append(CommandFailed(command, text, code_text, temporary))
                return
            self._capabilities = self._capabilities_from(texts)
            events.append(self._capabilities)
        elif command == "HELO" and code == 250:
            self._capabilities = Capabilities("smtp", text=texts[0] if texts else "")
            events.append(CommandOK(command, text))
        elif command == "STARTTLS":
            if code == 220:
                self._state = State.TLS_HANDSHAKE
                events.append(TLSReady(text))
            else:
                events.append(TLSRefused(text, code_text))
        elif command == "AUTHENTICATE":
            if code == 235:
                self._authenticated = True
                events.append(AuthOK(text))
            else:
                events.append(AuthFailed(text, code_text, temporary))
        elif command == "QUIT":
            self._state = State.CLOSED
            events.append(Bye(text))
        elif 200 <= code < 300:
            events.append(CommandOK(command, text))
        else:
            events.append(CommandFailed(command, text, code_text, temporary))

    def _unsolicited(self, code: int, first: bytes, text: str, events: list[Event]) -> None:
        """The greeting, or a reply nobody asked for (only 421, closing, is allowed)."""
        if self._state is State.GREETING:
            self._lines = 0
            self._state = State.CLOSED if code == 421 else State.READY
            events.append(Greeting(ok=code == 220, text=text))
        elif code == 421:
            self._state = State.CLOSED
            events.append(Bye(text))
        else:
            raise self._unexpected(first, f"an unexpected {code} reply")

    @staticmethod
    def _capabilities_from(texts: list[str]) -> Capabilities:
        items = tuple(item for item in texts[1:] if item)
        mechanisms: list[str] = []
        starttls = False
        for item in items:
            words = item.split()
            keyword = words[0].upper()
            if keyword == "AUTH":
                mechanisms.extend(word.upper() for word in words[1:])
            elif keyword.startswith("AUTH="):  # the pre-standard form some servers still send
                mechanisms.extend(word.upper() for word in [keyword[5:], *words[1:]] if word)
            elif keyword == "STARTTLS":
                starttls = True
        return Capabilities(
            "smtp",
            items=items,
            sasl_mechanisms=tuple(dict.fromkeys(mechanisms)),
            starttls=starttls,
            text=texts[0] if texts else "",
        )
