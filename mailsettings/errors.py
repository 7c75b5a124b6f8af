"""The exceptions :mod:`mailsettings` raises.

Every error is a :class:`MailSettingsError`, so one ``except`` catches them all.
The subclasses also derive from the builtin that says what they mean:

* :class:`InvalidAddressError` is a :class:`ValueError` (the input is malformed),
* :class:`ProviderNotFoundError` is a :class:`LookupError` (nothing identifies a provider),
* :class:`DiscoveryTimeoutError` is a :class:`TimeoutError`.

A temporary failure (:class:`DiscoveryError`) is never reported as "not found".

>>> import mailsettings
>>> try:
...     mailsettings.lookup("no-at-sign")
... except ValueError as error:
...     print(type(error).__name__)
InvalidAddressError
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .models import Provider

__all__ = [
    "AppPasswordRequiredError",
    "AuthenticationError",
    "AutoconfigError",
    "ConnectError",
    "ConnectTimeoutError",
    "DiscoveryError",
    "DiscoveryTimeoutError",
    "DomainNotFoundError",
    "InvalidAddressError",
    "MailSettingsError",
    "NoMailError",
    "ProtocolError",
    "ProviderNotFoundError",
    "TLSError",
]


class MailSettingsError(Exception):
    """Root of every error raised by :mod:`mailsettings`.

    Every error pickles with its type, message and attributes (so it can cross process
    boundaries, e.g. as the outcome of one row of a distributed job):

    >>> import pickle
    >>> error = ProviderNotFoundError("No provider.", domain="example.org", tried=("MX",))
    >>> copy = pickle.loads(pickle.dumps(error))
    >>> type(copy).__name__, str(copy), copy.domain, copy.tried
    ('ProviderNotFoundError', 'No provider.', 'example.org', ('MX',))
    """

    def __reduce__(self) -> tuple[Any, ...]:
        # The default (``cls(*args)``, then the attributes) fails for keyword-only
        # constructor arguments; rebuild without calling ``__init__`` instead.
        return (_restore, (type(self), self.args, self.__dict__))

    def __copy__(self) -> Any:
        # A fresh error without traceback, cause or context, even where a library (tblib,
        # imported by Dask's ``distributed``) registers reducers that copy them.
        return _restore(type(self), self.args, dict(self.__dict__))


def _restore(cls: type[MailSettingsError], args: tuple[Any, ...], state: dict[str, Any]) -> Any:
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


class InvalidAddressError(MailSettingsError, ValueError):
    """The input is not a usable e-mail address or domain."""


class ProviderNotFoundError(MailSettingsError, LookupError):
    """Nothing identifies a provider for the domain.

    ``domain`` is the ASCII domain that was looked up and ``tried`` names each
    source that was consulted, e.g. ``("bundled database", "MX")``. ``provider`` is set
    when the provider is known but offers no standard access (status
    ``no-standard-access``).
    """

    def __init__(
        self,
        message: str,
        *,
        domain: str = "",
        tried: tuple[str, ...] = (),
        provider: Provider | None = None,
    ) -> None:
        super().__init__(message)
        self.domain = domain
        self.tried = tried
        self.provider = provider


class DomainNotFoundError(ProviderNotFoundError):
    """The domain does not exist (DNS answered NXDOMAIN)."""


class NoMailError(ProviderNotFoundError):
    """The domain states that it accepts no mail (a null MX record, RFC 7505)."""


class DiscoveryError(MailSettingsError):
    """A network source failed temporarily (SERVFAIL, refused, unreachable, ...).

    The answer is unknown rather than negative: trying again later may succeed.
    """


class DiscoveryTimeoutError(DiscoveryError, TimeoutError):
    """The lookup ran out of its time budget before an answer was found."""


class AutoconfigError(MailSettingsError, ValueError):
    """An autoconfig (``config-v1.1.xml``) document is malformed, unsafe or too large."""


# --- connecting to a mail server --------------------------------------------------------


class ConnectError(MailSettingsError, ConnectionError):
    """The server could not be reached.

    Its name does not resolve, the connection was refused, or its address is not allowed
    (``allow_private_networks``). ``host`` and ``port`` name the server (the port used).
    """

    def __init__(self, message: str, *, host: str = "", port: int = 0) -> None:
        super().__init__(message)
        self.host = host
        self.port = port


class ConnectTimeoutError(ConnectError, TimeoutError):
    """The server did not answer within the time budget (connecting, or later)."""


class TLSError(MailSettingsError):
    """TLS could not be set up.

    The certificate does not verify for the host name (``certificate`` is true), the
    handshake failed, or STARTTLS was missing or refused where it was required.
    """

    def __init__(self, message: str, *, certificate: bool = False) -> None:
        super().__init__(message)
        self.certificate = certificate


class ProtocolError(MailSettingsError):
    """The server broke the protocol: garbage, an unexpected answer, a line too long...

    ``seen`` is a short, sanitised excerpt of what the server sent (credentials masked).
    """

    def __init__(self, message: str, *, seen: str = "") -> None:
        super().__init__(message)
        self.seen = seen


class AuthenticationError(MailSettingsError):
    """The server refused the credentials.

    ``server_reply`` is the server's answer (sanitised); ``login`` the login name tried.
    """

    def __init__(self, message: str, *, login: str = "", server_reply: str = "") -> None:
        super().__init__(message)
        self.login = login
        self.server_reply = server_reply


class AppPasswordRequiredError(AuthenticationError):
    """Authentication failed at a provider that needs another secret than the password.

    The provider wants an app password, a client authorization code or OAuth2.
    ``provider`` is the provider, whose ``password`` and ``instructions`` say what the user
    must do (e.g. "QQ Mail wants an authorization code: ...").
    """

    def __init__(
        self,
        message: str,
        *,
        login: str = "",
        server_reply: str = "",
        provider: Provider | None = None,
    ) -> None:
        super().__init__(message, login=login, server_reply=server_reply)
        self.provider = provider
