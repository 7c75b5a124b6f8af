r"""Sans-I/O IMAP, POP3 and SMTP clients: bytes in, events out.

Each client is a small state machine. The caller reads from its connection and feeds
the bytes to ``receive_data()``, which returns events (:class:`Greeting`,
:class:`Capabilities`, :class:`TLSReady`, :class:`AuthOK`, ...); each command method
returns the bytes to send. The clients never touch a socket, a clock or a logger, so the
same code serves blocking and asynchronous drivers and the tests.

>>> from mailsettings.protocol import IMAPClient, Plain
>>> client = IMAPClient(tls=True)
>>> client.receive_data(b"* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN] ready\r\n")[0].ok
True
>>> client.authenticate(Plain("alice@example.com", "secret"))
b'A1 AUTHENTICATE PLAIN AGFsaWNlQGV4YW1wbGUuY29tAHNlY3JldA==\r\n'
>>> client.receive_data(b"A1 OK Logged in\r\n")
[AuthOK(text='Logged in', capabilities=None)]

A server that breaks its protocol raises :class:`ProtocolError`; one that greets in
another protocol raises :class:`WrongProtocolError`:

>>> IMAPClient().receive_data(b"220 smtp.example.com ESMTP\r\n")
Traceback (most recent call last):
...
mailsettings.protocol.base.WrongProtocolError: expected an IMAP greeting, got what looks like SMTP: '220 smtp.example.com ESMTP'
"""

from .base import (
    MAX_LINE_LENGTH,
    MAX_RESPONSE_LINES,
    Client,
    CommandStateError,
    CredentialsError,
    ProtocolError,
    ResponseTooLargeError,
    State,
    WrongProtocolError,
)
from .events import (
    AuthFailed,
    AuthOK,
    Bye,
    Capabilities,
    Challenge,
    CommandFailed,
    CommandOK,
    ConnectionClosed,
    Event,
    Greeting,
    MaildropStatus,
    Selected,
    ServerID,
    TLSReady,
    TLSRefused,
)
from .imap import IMAPClient
from .pop3 import POP3Client
from .sasl import Login, Mechanism, OAuthBearer, Plain, XOAuth2
from .smtp import SMTPClient

__all__ = [
    "MAX_LINE_LENGTH",
    "MAX_RESPONSE_LINES",
    "AuthFailed",
    "AuthOK",
    "Bye",
    "Capabilities",
    "Challenge",
    "Client",
    "CommandFailed",
    "CommandOK",
    "CommandStateError",
    "ConnectionClosed",
    "CredentialsError",
    "Event",
    "Greeting",
    "IMAPClient",
    "Login",
    "MaildropStatus",
    "Mechanism",
    "OAuthBearer",
    "POP3Client",
    "Plain",
    "ProtocolError",
    "ResponseTooLargeError",
    "SMTPClient",
    "Selected",
    "ServerID",
    "State",
    "TLSReady",
    "TLSRefused",
    "WrongProtocolError",
    "XOAuth2",
]
