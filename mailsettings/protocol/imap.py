r"""A sans-I/O IMAP4rev1 client (RFC 3501).

It reads the greeting and speaks CAPABILITY, STARTTLS, LOGIN, AUTHENTICATE, ID
(RFC 2971), SELECT, NOOP and LOGOUT.

>>> client = IMAPClient()
>>> client.receive_data(b"* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] ready\r\n")
[Greeting(ok=True, text='ready', capabilities=Capabilities(protocol='imap', items=('IMAP4rev1', 'STARTTLS', 'LOGINDISABLED'), sasl_mechanisms=(), starttls=True, login_disabled=True, text=''), preauth=False)]
>>> client.starttls()
b'A1 STARTTLS\r\n'
>>> client.receive_data(b"A1 OK Begin TLS negotiation now\r\n")
[TLSReady(text='Begin TLS negotiation now')]
>>> client.tls_established()  # after the caller's TLS handshake
>>> client.capability()
b'A2 CAPABILITY\r\n'
>>> events = client.receive_data(b"* CAPABILITY IMAP4rev1 AUTH=PLAIN ID\r\nA2 OK done\r\n")
>>> events[0].sasl_mechanisms
('PLAIN',)
>>> client.login("张三", "secret")
Traceback (most recent call last):
...
mailsettings.protocol.base.CredentialsError: IMAP's LOGIN command carries ASCII only: authenticate with SASL PLAIN (UTF-8) instead
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping

from .base import (
    MAX_LINE_LENGTH,
    MAX_RESPONSE_LINES,
    Client,
    CommandStateError,
    CredentialsError,
    ResponseTooLargeError,
    State,
    excerpt,
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
    Selected,
    ServerID,
    TLSReady,
    TLSRefused,
)
from .sasl import Mechanism

__all__ = ["IMAPClient", "encode_mailbox_name", "quote"]

_LITERAL = re.compile(rb"\{([0-9]+)\+?\}\Z")
_GREETING = re.compile(rb"\* (OK|PREAUTH|BYE)(?:\Z| (.*)\Z)", re.IGNORECASE | re.DOTALL)
_UNTAGGED = re.compile(rb"\* ([^ ]+)(?:\Z| (.*)\Z)", re.DOTALL)
_TAGGED = re.compile(rb"([^ +*]+) (OK|NO|BAD)(?:\Z| (.*)\Z)", re.IGNORECASE | re.DOTALL)
_NUMBERED = re.compile(rb"([0-9]{1,10}) ([A-Za-z]+)")
_TOKEN = re.compile(
    rb'[ \t]*(?:(\()|(\))|"((?:[^"\\]|\\.)*)"|\{([0-9]{1,10})\+?\}\Z|([^ \t()"{]+))', re.DOTALL
)
_TEMPORARY_CODES = frozenset({"UNAVAILABLE", "SERVERBUG", "INUSE", "LIMIT"})


def quote(value: str, what: str = "argument") -> str:
    r"""An IMAP quoted string (ASCII only).

    >>> print(quote('pa"ss\\word'))
    "pa\"ss\\word"
    """
    if any(character in value for character in "\r\n\x00"):
        raise ValueError(f"the {what} cannot contain CR, LF or NUL")
    if not value.isascii():
        raise ValueError(f"the {what} must be ASCII")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def encode_mailbox_name(name: str) -> str:
    """A mailbox name in IMAP's modified UTF-7 (RFC 3501, 5.1.3).

    >>> encode_mailbox_name("INBOX"), encode_mailbox_name("已发送"), encode_mailbox_name("A&B")
    ('INBOX', '&XfJT0ZAB-', 'A&-B')
    """
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            raw = "".join(pending).encode("utf-16-be")
            out.append(
                "&" + base64.b64encode(raw).decode("ascii").rstrip("=").replace("/", ",") + "-"
            )
            pending.clear()

    for character in name:
        if 0x20 <= ord(character) <= 0x7E:
            flush()
            out.append("&-" if character == "&" else character)
        else:
            pending.append(character)
    flush()
    return "".join(out)


def _split_code(rest: bytes) -> tuple[str | None, bytes, bytes]:
    """(response code name, its arguments, the text) of a status response's remainder."""
    if rest.startswith(b"["):
        end = rest.find(b"]")
        if end > 0:
            name, _, arguments = rest[1:end].partition(b" ")
            code = name.decode("ascii", errors="replace").upper()
            return code, arguments, rest[end + 1 :].lstrip(b" ")
    return None, b"", rest


def _tokens(parts: list[bytes]) -> list[tuple[str, str]] | None:
    """IMAP tokens of a response (literals inlined as strings); ``None`` if malformed."""
    tokens: list[tuple[str, str]] = []
    for index in range(0, len(parts), 2):
        text = parts[index]
        position = 0
        while position < len(text):
            match = _TOKEN.match(text, position)
            if match is None:
                if not text[position:].strip():
                    break
                return None
            position = match.end()
            opening, closing, quoted, literal, atom = match.groups()
            if opening:
                tokens.append(("(", "("))
            elif closing:
                tokens.append((")", ")"))
            elif quoted is not None:
                value = re.sub(rb"\\(.)", rb"\1", quoted, flags=re.DOTALL)
                tokens.append(("string", value.decode("utf-8", errors="replace")))
            elif literal is not None:
                if index + 1 >= len(parts):
                    return None
                tokens.append(("string", parts[index + 1].decode("utf-8", errors="replace")))
            elif atom is not None:
                tokens.append(("atom", atom.decode("utf-8", errors="replace")))
    return tokens


def _id_fields(parts: list[bytes]) -> tuple[tuple[str, str | None], ...] | None:
    tokens = _tokens(parts)
    if tokens is None or len(tokens) < 3:
        return None
    body = tokens[2:]
    if body[0] == ("atom", "NIL") or body[0][1].upper() == "NIL":
        return None
    if body[0][0] != "(" or body[-1][0] != ")":
        return None
    items = body[1:-1]
    if len(items) % 2:
        return None
    fields: list[tuple[str, str | None]] = []
    for key, value in zip(items[::2], items[1::2], strict=True):
        if key[0] != "string" or value[0] not in ("string", "atom"):
            return None
        if value[0] == "atom" and value[1].upper() != "NIL":
            return None
        fields.append((key[1], None if value[0] == "atom" else value[1]))
    return tuple(fields)


class IMAPClient(Client):
    """An IMAP client state machine: bytes in, events out, commands as bytes.

    Literals (``{n}``) in the server's responses are read up to ``max_line_length``
    bytes each; a longer one is a :class:`~mailsettings.protocol.base.ResponseTooLargeError`.
    """

    protocol = "imap"
    protocol_name = "IMAP"

    def __init__(
        self,
        *,
        tls: bool = False,
        tag_prefix: str = "A",
        max_line_length: int = MAX_LINE_LENGTH,
        max_response_lines: int = MAX_RESPONSE_LINES,
    ) -> None:
        super().__init__(
            tls=tls, max_line_length=max_line_length, max_response_lines=max_response_lines
        )
        if not re.fullmatch(r"[A-Za-z]{1,8}", tag_prefix):
            raise ValueError("the tag prefix must be 1 to 8 ASCII letters")
        self._tag_prefix = tag_prefix
        self._counter = 0
        self._tag = b""
        self._parts: list[bytes] = []
        self._literal: int | None = None
        self._literal_total = 0
        self._mailbox = ""
        self._untagged_capabilities: Capabilities | None = None
        self._server_id: tuple[tuple[str, str | None], ...] | None = None
        self._exists: int | None = None
        self._uidvalidity: int | None = None

    # --- commands -------------------------------------------------------------------------

    def _command(self, command: str, arguments: str = "") -> bytes:
        self._require(State.READY)
        self._counter += 1
        tag = f"{self._tag_prefix}{self._counter}"
        self._tag = tag.encode("ascii")
        self._untagged_capabilities = None
        self._server_id = None
        self._exists = None
        self._uidvalidity = None
        line = f"{tag} {command}{' ' + arguments if arguments else ''}"
        return self._send(command, line.encode("ascii"))

    def capability(self) -> bytes:
        """``CAPABILITY``: answered by a :class:`~mailsettings.protocol.events.Capabilities`."""
        return self._command("CAPABILITY")

    def starttls(self) -> bytes:
        """``STARTTLS``: answered by ``TLSReady`` or ``TLSRefused``."""
        self._require_plain_text("STARTTLS")
        return self._command("STARTTLS")

    def login(self, user: str, password: str) -> bytes:
        """``LOGIN user password``: answered by ``AuthOK`` or ``AuthFailed``.

        IMAP's LOGIN carries ASCII only: non-ASCII credentials raise
        :class:`~mailsettings.protocol.base.CredentialsError` (use SASL PLAIN). Refused
        when the server advertises ``LOGINDISABLED``.
        """
        self._require_unauthenticated()
        if self._capabilities is not None and self._capabilities.login_disabled:
            raise CommandStateError(
                "the server advertises LOGINDISABLED: use STARTTLS, or AUTHENTICATE"
            )
        arguments = []
        for value, what in ((user, "user name"), (password, "password")):
            if not value.isascii():
                raise CredentialsError(
                    "IMAP's LOGIN command carries ASCII only: authenticate with SASL PLAIN "
                    "(UTF-8) instead"
                )
            if any(character in value for character in "\r\n\x00"):
                raise CredentialsError(f"the {what} cannot contain CR, LF or NUL")
            arguments.append(quote(value, what))
        self._secrets.add(password)
        self._secrets.add(arguments[1])
        return self._command("LOGIN", " ".join(arguments))

    def authenticate(self, mechanism: Mechanism) -> bytes:
        """``AUTHENTICATE`` with a SASL mechanism (the initial response inline with SASL-IR).

        Challenges arrive as ``Challenge`` events; the end as ``AuthOK`` or ``AuthFailed``.
        """
        self._require_unauthenticated()
        initial = self._start_authentication(mechanism)
        inline = (
            initial is not None
            and self._capabilities is not None
            and self._capabilities.has("SASL-IR")
        )
        arguments = mechanism.name
        if inline and initial is not None:
            arguments += " " + (base64.b64encode(initial).decode("ascii") or "=")
        data = self._command("AUTHENTICATE", arguments)
        self._mechanism = mechanism
        self._unsent_initial = None if inline else initial
        return data

    def id(self, fields: Mapping[str, str | None] | None = None) -> bytes:
        r"""``ID`` (RFC 2971) with the client's fields: answered by ``ServerID``.

        >>> client = IMAPClient()
        >>> _ = client.receive_data(b"* OK ready\r\n")
        >>> client.id({"name": "my app", "version": '1.0 "beta"'})
        b'A1 ID ("name" "my app" "version" "1.0 \\"beta\\"")\r\n'
        """
        if not fields:
            return self._command("ID", "NIL")
        if len(fields) > 30:
            raise ValueError("IMAP ID allows at most 30 fields")
        pairs = []
        for key, value in fields.items():
            if len(key.encode()) > 30:
                raise ValueError(f"IMAP ID field names have at most 30 octets: {key!r}")
            if value is not None and len(value.encode()) > 1024:
                raise ValueError(f"IMAP ID values have at most 1024 octets: field {key!r}")
            pairs.append(quote(key, "ID field name"))
            pairs.append("NIL" if value is None else quote(value, "ID value"))
        return self._command("ID", "(" + " ".join(pairs) + ")")

    def select(self, mailbox: str = "INBOX", *, read_only: bool = False) -> bytes:
        """``SELECT`` (``EXAMINE`` when ``read_only``): answered by ``Selected``."""
        self._require(State.READY)
        if not self._authenticated:
            raise CommandStateError("SELECT needs an authenticated session")
        if any(character in mailbox for character in "\r\n\x00"):
            raise ValueError("the mailbox name cannot contain CR, LF or NUL")
        self._mailbox = mailbox
        return self._command(
            "EXAMINE" if read_only else "SELECT",
            quote(encode_mailbox_name(mailbox), "mailbox name"),
        )

    def noop(self) -> bytes:
        """``NOOP``: answered by ``CommandOK``."""
        return self._command("NOOP")

    def logout(self) -> bytes:
        """``LOGOUT``: answered by ``Bye``."""
        return self._command("LOGOUT")

    # --- responses ------------------------------------------------------------------------

    def _process(self, events: list[Event]) -> None:
        while self._state not in (State.CLOSED, State.TLS_HANDSHAKE):
            if self._literal is not None:
                data = self._reader.take(self._literal)
                if data is None:
                    return
                self._parts.append(data)
                self._literal = None
                continue
            line = self._reader.next_line()
            if line is None:
                return
            self._count_line()
            self._parts.append(line)
            match = _LITERAL.search(line)
            if match is not None:
                digits = match[1]
                size = int(digits) if len(digits) <= 10 else self.max_line_length + 1
                self._literal_total += size
                if size > self.max_line_length or self._literal_total > 4 * self.max_line_length:
                    raise ResponseTooLargeError(
                        f"the server announced a literal of {excerpt(digits.decode())} bytes "
                        f"(at most {self.max_line_length} are accepted)",
                        seen=self._excerpt(self._parts[0]),
                    )
                self._literal = size
                continue
            parts, self._parts = self._parts, []
            self._literal_total = 0
            self._handle_response(parts, events)

    def _handle_response(self, parts: list[bytes], events: list[Event]) -> None:
        first = parts[0]
        if self._state is State.GREETING:
            self._greeting(first, events)
        elif first.startswith(b"* "):
            self._untagged(parts, events)
        elif first == b"+" or first.startswith(b"+ "):
            if self._state is not State.WAITING:
                raise self._unexpected(first, "a continuation request")
            self._challenge(first[2:], events)
        else:
            match = _TAGGED.match(first)
            if match is None:
                raise self._unexpected(first)
            if match[1] != self._tag or self._state not in (State.WAITING, State.CHALLENGED):
                raise self._unexpected(first, "an answer to a command it was not sent")
            status = match[2].upper().decode("ascii")
            code, arguments, text = _split_code(match[3] or b"")
            self._complete(status, code, arguments, text, events)

    def _capabilities_from(self, atoms: bytes) -> Capabilities:
        items = tuple(self._text(atom) for atom in atoms.split() if atom)
        upper = [item.upper() for item in items]
        mechanisms = tuple(
            dict.fromkeys(item[5:] for item in upper if item.startswith("AUTH=") and item[5:])
        )
        return Capabilities(
            "imap",
            items=items,
            sasl_mechanisms=mechanisms,
            starttls="STARTTLS" in upper,
            login_disabled="LOGINDISABLED" in upper,
        )

    def _greeting(self, line: bytes, events: list[Event]) -> None:
        match = _GREETING.match(line)
        if match is None:
            raise self._wrong_greeting(line)
        status = match[1].upper()
        code, arguments, text = _split_code(match[2] or b"")
        capabilities = self._capabilities_from(arguments) if code == "CAPABILITY" else None
        self._capabilities = capabilities
        self._lines = 0
        if status == b"BYE":
            self._state = State.CLOSED
        else:
            self._state = State.READY
            self._authenticated = status == b"PREAUTH"
        events.append(
            Greeting(
                ok=status != b"BYE",
                text=self._text(text),
                capabilities=capabilities,
                preauth=status == b"PREAUTH",
            )
        )

    def _untagged(self, parts: list[bytes], events: list[Event]) -> None:
        first = parts[0]
        match = _UNTAGGED.match(first)
        if match is None:
            raise self._unexpected(first)
        keyword = match[1].upper()
        rest = match[2] or b""
        if keyword == b"CAPABILITY":
            self._untagged_capabilities = self._capabilities_from(rest)
            self._capabilities = self._untagged_capabilities
        elif keyword in (b"OK", b"NO", b"BAD"):
            code, arguments, _ = _split_code(rest)
            if code == "CAPABILITY":
                self._untagged_capabilities = self._capabilities_from(arguments)
                self._capabilities = self._untagged_capabilities
            elif code == "UIDVALIDITY" and arguments.isdigit() and len(arguments) <= 10:
                self._uidvalidity = int(arguments)
        elif keyword == b"BYE":
            events.append(Bye(self._text(rest)))
            self._state = State.CLOSED
        elif keyword == b"ID":
            self._server_id = _id_fields(parts)
        else:
            numbered = _NUMBERED.fullmatch(first[2:].rstrip())
            if numbered is not None and numbered[2].upper() == b"EXISTS":
                self._exists = int(numbered[1])
        # Anything else (FLAGS, RECENT, ALERTs, ...) is not needed by these commands.

    def _complete(
        self, status: str, code: str | None, arguments: bytes, raw_text: bytes, events: list[Event]
    ) -> None:
        command = self._pending
        ok = status == "OK"
        text = self._text(raw_text)
        failed = CommandFailed(command, text, code, code in _TEMPORARY_CODES)
        capabilities = (
            self._capabilities_from(arguments)
            if code == "CAPABILITY"
            else self._untagged_capabilities
        )
        read_only = code == "READ-ONLY" or command == "EXAMINE"
        exists, uidvalidity, server_id = self._exists, self._uidvalidity, self._server_id
        self._response_done()
        if command == "CAPABILITY":
            if not ok:
                events.append(failed)
                return
            self._capabilities = capabilities or Capabilities("imap")
            events.append(self._capabilities)
        elif command == "STARTTLS":
            if ok:
                self._state = State.TLS_HANDSHAKE
                events.append(TLSReady(text))
            else:
                events.append(TLSRefused(text, code))
        elif command in ("LOGIN", "AUTHENTICATE"):
            if ok:
                self._authenticated = True
                self._capabilities = capabilities
                events.append(AuthOK(text, capabilities))
            else:
                events.append(AuthFailed(text, code, code in _TEMPORARY_CODES))
        elif command == "ID":
            events.append(ServerID(server_id, text) if ok else failed)
        elif command in ("SELECT", "EXAMINE"):
            if ok:
                events.append(Selected(self._mailbox, exists, uidvalidity, read_only, text))
            else:
                events.append(failed)
        elif command == "LOGOUT" and ok:
            self._state = State.CLOSED
            events.append(Bye(text))
        else:
            events.append(CommandOK(command, text) if ok else failed)
