r"""SASL mechanisms for the protocol clients: PLAIN, LOGIN, XOAUTH2 and OAUTHBEARER.

A mechanism computes what the client sends; the client base64-encodes it. It holds a
secret (a password or a token) that never appears in its ``repr`` or in an error.

>>> mechanism = Plain("张三@example.com", "pässword")
>>> mechanism
Plain(login='张三@example.com')
>>> mechanism.initial_response()
b'\x00\xe5\xbc\xa0\xe4\xb8\x89@example.com\x00p\xc3\xa4ssword'
>>> XOAuth2("user@example.com", "ya29.token").initial_response()
b'user=user@example.com\x01auth=Bearer ya29.token\x01\x01'
>>> XOAuth2("user@example.com", "ya29.token").respond(b'{"status":"401"}')
b''
"""

from __future__ import annotations

from typing import ClassVar

from .base import CredentialsError

__all__ = ["Login", "Mechanism", "OAuthBearer", "Plain", "XOAuth2"]


class Mechanism:
    """A SASL mechanism: an optional initial response, then answers to challenges."""

    name: ClassVar[str]
    """The mechanism's registered name, e.g. ``"PLAIN"``."""

    def __init__(self, login: str) -> None:
        self.login = login
        self._initial: bytes | None = None
        self._answers: list[bytes] = []
        self._secret = ""

    def initial_response(self) -> bytes | None:
        """What to send with the command (``None``: the mechanism waits for a challenge)."""
        return self._initial

    def respond(self, challenge: bytes) -> bytes | None:
        """The answer to the next ``challenge`` (``None``: none left, the server is broken)."""
        del challenge  # these mechanisms answer the same whatever the server says
        return self._answers.pop(0) if self._answers else None

    def secrets(self) -> tuple[str, ...]:
        """The secrets this mechanism sends (for masking; never shown)."""
        return (self._secret,) if self._secret else ()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(login={self.login!r})"


def _utf8(value: str, what: str) -> bytes:
    try:
        return value.encode("utf-8")
    except UnicodeEncodeError:
        raise CredentialsError(f"the {what} is not valid Unicode text") from None


class Plain(Mechanism):
    r"""SASL PLAIN (RFC 4616): the login and the password in UTF-8 in one message.

    >>> Plain("alice", "secret", authorization_id="admin").initial_response()
    b'admin\x00alice\x00secret'
    >>> Plain("alice", "a\x00b")
    Traceback (most recent call last):
    ...
    mailsettings.protocol.base.CredentialsError: SASL PLAIN cannot carry a NUL character in the password
    """

    name = "PLAIN"

    def __init__(self, login: str, password: str, *, authorization_id: str = "") -> None:
        super().__init__(login)
        for value, what in (
            (login, "login"),
            (password, "password"),
            (authorization_id, "authorization id"),
        ):
            if "\x00" in value:
                raise CredentialsError(f"SASL PLAIN cannot carry a NUL character in the {what}")
        self._secret = password
        self._initial = b"\x00".join(
            (
                _utf8(authorization_id, "authorization id"),
                _utf8(login, "login"),
                _utf8(password, "password"),
            )
        )


class Login(Mechanism):
    """The LOGIN mechanism: the server asks for the user name, then for the password.

    >>> mechanism = Login("alice", "secret")
    >>> mechanism.initial_response() is None
    True
    >>> mechanism.respond(b"Username:"), mechanism.respond(b"Password:")
    (b'alice', b'secret')
    >>> mechanism.respond(b"Again?") is None
    True
    """

    name = "LOGIN"

    def __init__(self, login: str, password: str) -> None:
        super().__init__(login)
        self._secret = password
        self._answers = [_utf8(login, "login"), _utf8(password, "password")]


def _check_oauth(user: str, token: str) -> None:
    for value, what in ((user, "user"), (token, "token")):
        if any(character in value for character in "\x00\x01\r\n"):
            raise CredentialsError(f"an OAuth2 {what} cannot contain control characters")
    if not token:
        raise CredentialsError("the OAuth2 token is empty")


class XOAuth2(Mechanism):
    """Google's and Microsoft's XOAUTH2 with a bearer token.

    When the token is refused the server sends an error challenge (JSON); the answer to
    it is an empty line, after which the server reports the failure.
    """

    name = "XOAUTH2"

    def __init__(self, login: str, token: str) -> None:
        super().__init__(login)
        _check_oauth(login, token)
        self._secret = token
        self._initial = f"user={login}\x01auth=Bearer {token}\x01\x01".encode()
        self._answers = [b""]


def _saslname(value: str) -> str:
    """RFC 5801's escaping of a name in a GS2 header."""
    return value.replace("=", "=3D").replace(",", "=2C")


class OAuthBearer(Mechanism):
    r"""OAUTHBEARER (RFC 7628) with a bearer token.

    An error challenge (JSON) is answered with ``\x01``, after which the server reports
    the failure.

    >>> OAuthBearer("a,b@example.com", "tok", host="imap.example.com", port=993).initial_response()
    b'n,a=a=2Cb@example.com,\x01host=imap.example.com\x01port=993\x01auth=Bearer tok\x01\x01'
    """

    name = "OAUTHBEARER"

    def __init__(
        self, login: str, token: str, *, host: str | None = None, port: int | None = None
    ) -> None:
        super().__init__(login)
        _check_oauth(login, token)
        if host is not None and any(character in host for character in "\x00\x01\r\n"):
            raise CredentialsError("the host name cannot contain control characters")
        self._secret = token
        fields = [f"n,a={_saslname(login)},"]
        if host is not None:
            fields.append(f"host={host}")
        if port is not None:
            fields.append(f"port={int(port)}")
        fields.append(f"auth=Bearer {token}")
        self._initial = ("\x01".join(fields) + "\x01\x01").encode()
        self._answers = [b"\x01"]
