"""What the protocol clients report: small, frozen event objects.

Every event's text is the server's own, decoded as UTF-8 (invalid bytes replaced),
with control characters replaced and any credential the client sent masked as ``***``.

>>> caps = Capabilities("smtp", items=("PIPELINING", "AUTH PLAIN LOGIN", "STARTTLS"),
...                     sasl_mechanisms=("PLAIN", "LOGIN"), starttls=True)
>>> caps.has("starttls"), caps.has("AUTH"), caps.has("SIZE")
(True, True, False)
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "AuthFailed",
    "AuthOK",
    "Bye",
    "Capabilities",
    "Challenge",
    "CommandFailed",
    "CommandOK",
    "ConnectionClosed",
    "Event",
    "Greeting",
    "MaildropStatus",
    "Selected",
    "ServerID",
    "TLSReady",
    "TLSRefused",
]


@dataclass(frozen=True, slots=True)
class Event:
    """Base class of every event."""


@dataclass(frozen=True, slots=True)
class Capabilities(Event):
    """What the server says it supports (IMAP ``CAPABILITY``, POP3 ``CAPA``, SMTP ``EHLO``)."""

    protocol: str
    """``"imap"``, ``"pop3"`` or ``"smtp"``."""
    items: tuple[str, ...] = ()
    """The capabilities as sent: IMAP atoms (``"AUTH=PLAIN"``), POP3 and SMTP lines
    (``"SASL PLAIN LOGIN"``, ``"SIZE 10240000"``)."""
    sasl_mechanisms: tuple[str, ...] = ()
    """The SASL mechanisms offered, upper case, in the server's order."""
    starttls: bool = False
    """Whether STARTTLS (POP3: ``STLS``) is offered."""
    login_disabled: bool = False
    """Whether the plain-text login command is refused: IMAP ``LOGINDISABLED``, or a POP3
    ``CAPA`` without ``USER``. Always false for SMTP."""
    text: str = ""
    """SMTP: the first line of the ``EHLO`` reply (the server's name and greeting)."""

    def has(self, name: str) -> bool:
        """Whether a capability's keyword is ``name`` (case-insensitive).

        >>> Capabilities("imap", items=("IMAP4rev1", "AUTH=PLAIN", "ID")).has("auth")
        True
        """
        wanted = name.upper()
        for item in self.items:
            keyword = item.split(None, 1)[0] if item.strip() else ""
            if keyword.split("=", 1)[0].upper() == wanted:
                return True
        return False


@dataclass(frozen=True, slots=True)
class Greeting(Event):
    """The server's first words."""

    ok: bool
    """False for IMAP ``* BYE``, POP3 ``-ERR`` and an SMTP greeting other than 220."""
    text: str
    capabilities: Capabilities | None = None
    """IMAP only, when the greeting carries ``[CAPABILITY ...]``."""
    preauth: bool = False
    """IMAP ``* PREAUTH``: the connection is already authenticated."""


@dataclass(frozen=True, slots=True)
class TLSReady(Event):
    """The server accepted STARTTLS.

    Start the TLS handshake now, then call ``tls_established()`` and read the
    capabilities again.
    """

    text: str = ""


@dataclass(frozen=True, slots=True)
class TLSRefused(Event):
    """The server refused STARTTLS; the connection stays in plain text."""

    text: str
    code: str | None = None


@dataclass(frozen=True, slots=True)
class Challenge(Event):
    """A SASL challenge.

    Answer it with ``answer_challenge()``, or give up with ``cancel_authentication()``.
    """

    data: bytes
    """The challenge, base64-decoded (the raw text when it is not base64)."""


@dataclass(frozen=True, slots=True)
class AuthOK(Event):
    """Authentication succeeded."""

    text: str
    capabilities: Capabilities | None = None
    """IMAP: the new capabilities when the server sent them with its answer."""


@dataclass(frozen=True, slots=True)
class AuthFailed(Event):
    """Authentication failed (or the server refused the user name or the mechanism)."""

    text: str
    code: str | None = None
    """IMAP's response code (``"AUTHENTICATIONFAILED"``), POP3's (``"AUTH"``, RFC 3206),
    or SMTP's reply code with its enhanced status code (``"535 5.7.8"``)."""
    temporary: bool = False
    """The server says trying again later may succeed (SMTP 4xx, IMAP ``UNAVAILABLE``,
    POP3 ``SYS/TEMP``, ...)."""


@dataclass(frozen=True, slots=True)
class CommandOK(Event):
    """A command without a more specific event succeeded (``NOOP``, POP3 ``USER``, SMTP ``HELO``)."""

    command: str
    text: str = ""


@dataclass(frozen=True, slots=True)
class CommandFailed(Event):
    """A command failed (IMAP ``NO``/``BAD``, POP3 ``-ERR``, an SMTP error reply)."""

    command: str
    text: str
    code: str | None = None
    temporary: bool = False


@dataclass(frozen=True, slots=True)
class ServerID(Event):
    """The answer to IMAP ``ID`` (RFC 2971)."""

    fields: tuple[tuple[str, str | None], ...] | None
    """The server's own identification, or ``None`` when it sent ``NIL`` or nothing."""
    text: str = ""


@dataclass(frozen=True, slots=True)
class Selected(Event):
    """IMAP ``SELECT``/``EXAMINE`` succeeded."""

    mailbox: str
    exists: int | None = None
    uidvalidity: int | None = None
    read_only: bool = False
    text: str = ""


@dataclass(frozen=True, slots=True)
class MaildropStatus(Event):
    """The answer to POP3 ``STAT``."""

    messages: int
    octets: int


@dataclass(frozen=True, slots=True)
class Bye(Event):
    """The server ended the session (IMAP ``BYE``, the answer to ``QUIT``, SMTP 221 or 421)."""

    text: str = ""


@dataclass(frozen=True, slots=True)
class ConnectionClosed(Event):
    """The connection reached its end (the caller fed ``b""``)."""
