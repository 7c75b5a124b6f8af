"""What probe, verify and the connection helpers share: their arguments and logging in.

* :func:`checked_arguments` — the arguments named like lookup options (``timeout``,
  ``resolver``, ``ssl_context``, ``allow_private_networks``, ``allowed_networks``,
  ``port_map``), checked as a lookup checks them;
* :func:`check_secret` — exactly one of a password and an OAuth2 token, sendable;
* :func:`require_trusted` — credentials go only to the servers of a trusted result;
* :func:`login_names` — the login names to try: the server's rule applied to the
  address, and the other form (full address or local part) only when the data does not
  fix the form (a result from SRV records or guessing assumes it);
* :func:`authentication_error` — what a refused login means: an
  :class:`~mailsettings.AppPasswordRequiredError` at a provider whose data says it needs
  an app password, an authorization code or OAuth2, else an
  :class:`~mailsettings.AuthenticationError`;
* :func:`wants_imap_id` — whether to send IMAP ``ID`` after login (the provider's data
  has the instruction, e.g. NetEase's 163, 126 and yeah.net);
* :data:`CLIENT_ID` — the ``name`` and ``version`` sent in IMAP ``ID``.

>>> from mailsettings import lookup
>>> result = lookup("someone@163.com")
>>> login_names(result, result.imap, "someone@163.com")
('someone@163.com',)
>>> wants_imap_id(result.provider)
True
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .._version import __version__
from ..enums import EMAILADDRESS, EMAILLOCALPART, InstructionKind, PasswordKind, Source
from ..errors import AppPasswordRequiredError, AuthenticationError
from ..models import LookupResult, Provider, Server
from ..protocol.base import CredentialsError

if TYPE_CHECKING:
    from ..option import OptionSpecs

__all__ = [
    "CLIENT_ID",
    "authentication_error",
    "check_secret",
    "checked_arguments",
    "login_names",
    "require_trusted",
    "wants_imap_id",
]

CLIENT_ID: Mapping[str, str] = {"name": "mailsettings", "version": __version__}
"""What the library says of itself in IMAP ``ID`` (name and version only)."""

_ASSUMED_FORM = frozenset({Source.SRV, Source.GUESS})
"""Sources whose login-name rule is an assumption, not the provider's word."""
_SPECIAL_PASSWORDS = frozenset(
    {PasswordKind.APP_PASSWORD, PasswordKind.AUTHORIZATION_CODE, PasswordKind.OAUTH2_ONLY}
)
_SPECIAL_STEPS = frozenset(
    {InstructionKind.APP_PASSWORD, InstructionKind.AUTHORIZATION_CODE, InstructionKind.OAUTH2}
)


_FORBIDDEN_IN_CREDENTIALS = ("\r", "\n", "\x00")


@functools.cache
def _connection_specs() -> OptionSpecs:
    from ..net import MailOptions
    from ..net.budget import BudgetOptions
    from ..option import option_specs

    return option_specs(BudgetOptions, MailOptions)


def checked_arguments(**arguments: object) -> dict[str, Any]:
    """Connection arguments that are also lookup options, checked as lookups check them.

    They are ``timeout`` and the options of :class:`~mailsettings.net.MailOptions`.
    Raises :class:`TypeError` for a wrong type (``allow_private_networks="no"`` is not
    false), :class:`ValueError` for a bad value.
    """
    from ..option import checked

    return checked(_connection_specs(), arguments)


def check_secret(password: object, oauth2_token: object, *, login: str | None) -> tuple[str, bool]:
    """The secret to send and whether it is an OAuth2 token.

    Exactly one of ``password`` and ``oauth2_token`` must be given, a non-empty ``str``;
    neither it nor ``login`` may hold a line break or a NUL character
    (:class:`~mailsettings.protocol.CredentialsError`).
    """
    if (password is None) == (oauth2_token is None):
        raise ValueError("pass exactly one of password= or oauth2_token=")
    token = oauth2_token is not None
    secret = oauth2_token if token else password
    what = "oauth2_token" if token else "password"
    if not isinstance(secret, str):
        raise TypeError(f"{what} must be a str, not {type(secret).__name__}")
    if not secret:
        raise CredentialsError(f"the {what} is empty")
    for value, name in ((login or "", "login name"), (secret, what)):
        if any(character in value for character in _FORBIDDEN_IN_CREDENTIALS):
            raise CredentialsError(f"the {name} contains a line break or NUL character")
    return secret, token


def require_trusted(result: LookupResult, *, allow_untrusted: bool) -> None:
    """Refuse (:class:`ValueError`) to send credentials to an untrusted result's servers."""
    if not result.trusted and not allow_untrusted:
        raise ValueError(
            f"The settings for {result.domain} are not trusted (source: {result.source.value}): "
            "their servers could be anyone's; confirm them with the user, then pass "
            "allow_untrusted=True to send credentials."
        )


def login_names(result: LookupResult | None, server: Server, address: str) -> tuple[str, ...]:
    """The login names to try on ``server`` for ``address``, in order (one or two).

    The second, the other form of the address (local part or full address), is tried
    only when the result's source does not fix the form (SRV records, guessing) or there
    is no result at all.
    """
    first = server.login_for(address)
    if result is not None and result.source not in _ASSUMED_FORM:
        return (first,)
    if server.username not in (EMAILADDRESS, EMAILLOCALPART):
        return (first,)
    rule = EMAILLOCALPART if server.username == EMAILADDRESS else EMAILADDRESS
    other = server.model_copy(update={"username": rule}).login_for(address)
    return (first,) if other == first else (first, other)


def needs_special_password(provider: Provider) -> bool:
    """Whether the provider's data says the account password is not what a client uses."""
    return provider.password in _SPECIAL_PASSWORDS or any(
        step.kind in _SPECIAL_STEPS for step in provider.instructions
    )


def authentication_error(
    provider: Provider | None, *, login: str, server_reply: str, protocol: str
) -> AuthenticationError:
    """The error for a refused login at ``provider`` (``None``: unknown provider).

    Server replies only refine the message; the provider's data decides the class.
    """
    where = f"{protocol.upper()} login as {login!r} failed"
    reply = f" (the server said: {server_reply})" if server_reply else ""
    if provider is not None and needs_special_password(provider):
        what = {
            PasswordKind.APP_PASSWORD: "an app password",
            PasswordKind.AUTHORIZATION_CODE: "a client authorization code (授权码)",
            PasswordKind.OAUTH2_ONLY: "OAuth2 sign-in",
        }.get(provider.password, "an app password or authorization code")
        steps = " ".join(step.text for step in provider.instructions)
        return AppPasswordRequiredError(
            f"{where}{reply}. {provider.name} wants {what}, not the account password"
            + (f": {steps}" if steps else "."),
            login=login,
            server_reply=server_reply,
            provider=provider,
        )
    return AuthenticationError(
        f"{where}{reply}: wrong login name or password.", login=login, server_reply=server_reply
    )


def wants_imap_id(provider: Provider | None) -> bool:
    """Whether the provider's data asks clients to send IMAP ``ID`` before opening a folder."""
    return provider is not None and any(
        step.kind is InstructionKind.IMAP_ID for step in provider.instructions
    )
