"""Verifying credentials: whether a password (or an OAuth2 token) opens a mailbox.

:func:`verify` (and :func:`averify`) take an address — looked up first, under the same
time budget — or a :class:`~mailsettings.LookupResult`, log in to the preferred server
of each protocol asked for, and return a :class:`Verification`: one
:class:`ProtocolCheck` per protocol, with the server, the login name and the mechanism
that worked, or the error.

The rules:

* **Credentials go only to servers of a trusted result** (the database, or a source the
  domain controls over HTTPS) unless ``allow_untrusted=True``: a guessed or MX-derived
  server could be anyone's.
* **Never before TLS**: implicit TLS, or STARTTLS that succeeded (with the capabilities
  read again after it), unless ``allow_plaintext=True``.
* **At most two login attempts per server**: the provider's login name, and the other
  form (full address or local part) only where the data does not fix the form.
* **What a refusal means**: an :class:`~mailsettings.AppPasswordRequiredError` at a
  provider whose data says it needs an app password, an authorization code or OAuth2,
  with that provider's instructions; else :class:`~mailsettings.AuthenticationError`.
* **Secrets stay secret**: never logged, never in a message or a ``repr``. Python cannot
  wipe a password from memory; keep the strings' lifetime short.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..enums import Protocol, Security
from ..errors import (
    AuthenticationError,
    MailSettingsError,
    ProtocolError,
    TLSError,
)
from ..models import LookupResult, Server
from ..net.budget import Budget
from ..net.runner import run_sync
from .credentials import authentication_error, login_names

if TYPE_CHECKING:
    from ..net.dns import Dns
    from ..net.mail import MailClient, MailConnection
    from ..protocol import Event, Mechanism

__all__ = ["ProtocolCheck", "Verification", "averify", "verify"]

DEFAULT_TIMEOUT = 30.0
_PROTOCOLS = {p.value: p for p in Protocol}


@dataclass(frozen=True, slots=True)
class ProtocolCheck:
    """The outcome for one protocol."""

    protocol: Protocol
    server: Server | None
    """The server tried (``None`` when the result has none for this protocol)."""
    login: str | None = None
    """The login name that worked (or, on failure, the last one tried)."""
    mechanism: str | None = None
    """How it logged in: ``PLAIN``, ``LOGIN``, ``XOAUTH2``, ``OAUTHBEARER``, ``IMAP LOGIN``, ``USER/PASS``."""
    error: MailSettingsError | None = None

    @property
    def ok(self) -> bool:
        """Whether the login worked."""
        return self.error is None


@dataclass(frozen=True, slots=True)
class Verification:
    """What :func:`verify` found: one :class:`ProtocolCheck` per protocol asked for."""

    result: LookupResult
    checks: tuple[ProtocolCheck, ...]

    @property
    def ok(self) -> bool:
        """Whether every protocol's login worked."""
        return all(check.ok for check in self.checks)

    def __getitem__(self, protocol: Protocol | str) -> ProtocolCheck:
        wanted = Protocol(protocol)
        return next(check for check in self.checks if check.protocol is wanted)

    def raise_for_failure(self) -> None:
        """Raise the first protocol's error, if any failed."""
        for check in self.checks:
            if check.error is not None:
                raise check.error


def _protocols(protocols: Iterable[str | Protocol]) -> tuple[Protocol, ...]:
    if isinstance(protocols, str):
        protocols = (protocols,)
    chosen = []
    for item in protocols:
        if str(item) not in _PROTOCOLS:
            raise ValueError(f"unknown protocol {item!r}; use imap, pop3 or smtp")
        chosen.append(_PROTOCOLS[str(item)])
    if not chosen:
        raise ValueError("protocols must name at least one of imap, pop3 and smtp")
    return tuple(dict.fromkeys(chosen))


async def averify(
    target: str | LookupResult,
    /,
    *,
    password: str | None = None,
    oauth2_token: str | None = None,
    login: str | None = None,
    address: str | None = None,
    protocols: Iterable[str | Protocol] = ("imap", "smtp"),
    timeout: float = DEFAULT_TIMEOUT,
    ssl_context: ssl.SSLContext | None = None,
    allow_plaintext: bool = False,
    allow_untrusted: bool = False,
    **options: Any,
) -> Verification:
    """Verify credentials (see the module's description).

    ``target`` is an address (looked up with ``options``, the lookup options, within the
    same ``timeout``) or a :class:`~mailsettings.LookupResult` (give ``address`` or
    ``login`` with it). Exactly one of ``password`` and ``oauth2_token``.

    Raises :class:`TypeError` and :class:`ValueError` for bad arguments (``options`` are
    checked as a lookup checks them, whatever ``target`` is), :class:`ValueError` for an
    untrusted result without ``allow_untrusted=True``, and what a lookup raises; failures
    of the servers and of the credentials are in the returned :class:`Verification`.
    """
    from ..option import check_bool, checked, option_specs
    from ..options import LookupOptions
    from .credentials import check_secret, require_trusted

    arguments = checked(
        option_specs(LookupOptions), {"timeout": timeout, "ssl_context": ssl_context, **options}
    )
    allow_plaintext = check_bool("allow_plaintext", allow_plaintext)
    budget = Budget.start(arguments.pop("timeout"))
    secret, token = check_secret(password, oauth2_token, login=login)
    allow_untrusted = check_bool("allow_untrusted", allow_untrusted)
    wanted = _protocols(protocols)
    if isinstance(target, LookupResult):
        result = target
        if address is None and login is None:
            raise ValueError("to verify a LookupResult, give address= or login=")
    else:
        from ..registry import default_registry

        lookup_options = {**arguments, "timeout": max(budget.remaining(), 0.001)}
        result = await default_registry().alookup(target, **lookup_options)
        address = target
    require_trusted(result, allow_untrusted=allow_untrusted)
    checks = await asyncio.gather(
        *(
            _check(
                result,
                protocol,
                secret=secret,
                token=token,
                login=login,
                address=address,
                budget=budget,
                allow_plaintext=allow_plaintext,
                options=arguments,
            )
            for protocol in wanted
        )
    )
    return Verification(result, tuple(checks))


def verify(
    target: str | LookupResult,
    /,
    *,
    password: str | None = None,
    oauth2_token: str | None = None,
    login: str | None = None,
    address: str | None = None,
    protocols: Iterable[str | Protocol] = ("imap", "smtp"),
    timeout: float = DEFAULT_TIMEOUT,
    ssl_context: ssl.SSLContext | None = None,
    allow_plaintext: bool = False,
    allow_untrusted: bool = False,
    **options: Any,
) -> Verification:
    """Synchronous twin of :func:`averify` (runs it on a private event loop)."""
    return run_sync(
        averify(
            target,
            password=password,
            oauth2_token=oauth2_token,
            login=login,
            address=address,
            protocols=protocols,
            timeout=timeout,
            ssl_context=ssl_context,
            allow_plaintext=allow_plaintext,
            allow_untrusted=allow_untrusted,
            **options,
        )
    )


# --- one protocol ------------------------------------------------------------------------


async def _check(
    result: LookupResult,
    protocol: Protocol,
    *,
    secret: str,
    token: bool,
    login: str | None,
    address: str | None,
    budget: Budget,
    allow_plaintext: bool,
    options: Mapping[str, Any],
) -> ProtocolCheck:
    """Log in to the result's preferred server of ``protocol`` (``options`` are checked)."""
    from ..cache import TTLCache
    from ..net.dns import Dns

    server: Server | None = getattr(result, protocol.value)  # the preferred one
    if server is None:
        return ProtocolCheck(
            protocol,
            None,
            error=MailSettingsError(
                f"No {protocol.value.upper()} server is known for {result.domain}."
            ),
        )
    names = (login,) if login is not None else login_names(result, server, address or "")
    dns = Dns(options.get("resolver"), TTLCache(), budget)
    tried = names[0]
    try:
        connection = await _secure_connection(
            server, dns=dns, budget=budget, allow_plaintext=allow_plaintext, options=options
        )
        try:
            reply = ""
            for tried in names:
                mechanism, outcome = await _login(connection, server, tried, secret, token=token)
                if outcome is None:
                    return ProtocolCheck(protocol, server, tried, mechanism)
                reply = outcome
            raise authentication_error(
                result.provider, login=tried, server_reply=reply, protocol=protocol.value
            )
        finally:
            await connection.close()
    except MailSettingsError as error:
        return ProtocolCheck(protocol, server, tried, error=error)


async def _secure_connection(
    server: Server,
    *,
    dns: Dns,
    budget: Budget,
    allow_plaintext: bool,
    options: Mapping[str, Any],
) -> MailConnection:
    """A connection with TLS up (or plain text, when allowed) and fresh capabilities."""
    from ..net.mail import MailConnection
    from ..protocol import Greeting

    if server.security is Security.PLAIN and not allow_plaintext:
        raise TLSError(
            f"{server.host}:{server.port} offers no TLS: the password would travel in clear "
            "text (pass allow_plaintext=True to send it anyway)."
        )
    connection = await MailConnection.open(
        server,
        dns=dns,
        budget=budget,
        ssl_context=options["ssl_context"],
        allow_private_networks=options.get("allow_private_networks", False),
        allowed_networks=options.get("allowed_networks", ()),
        port_map=options.get("port_map"),
    )
    try:
        greeting = next((e for e in await connection.greeting() if isinstance(e, Greeting)), None)
        if greeting is None or not greeting.ok:
            raise ProtocolError(
                f"{server.host} did not greet"
                + (f": {greeting.text}" if greeting is not None else "."),
                seen=greeting.text if greeting is not None else "",
            )
        await connection.read_capabilities()
        if server.security is Security.STARTTLS:
            capabilities = connection.client.capabilities
            if capabilities is None or not capabilities.starttls:
                raise TLSError(f"{server.host}:{server.port} does not offer STARTTLS.")
            if not await connection.upgrade():
                raise TLSError(f"{server.host}:{server.port} refused STARTTLS.")
    except BaseException:
        await connection.close()
        raise
    return connection


def _mechanism(
    client: MailClient, login: str, secret: str, *, token: bool, host: str, port: int
) -> Mechanism | str:
    """The SASL mechanism to use, or ``"IMAP LOGIN"`` / ``"USER/PASS"``."""
    from ..protocol import Login, OAuthBearer, Plain, POP3Client, XOAuth2

    offered = client.capabilities.sasl_mechanisms if client.capabilities else ()
    if token:
        if "OAUTHBEARER" in offered:
            return OAuthBearer(login, secret, host=host, port=port)
        if "XOAUTH2" in offered:
            return XOAuth2(login, secret)
        raise AuthenticationError(
            f"{host} offers no OAuth2 mechanism (XOAUTH2, OAUTHBEARER).", login=login
        )
    if "PLAIN" in offered:
        return Plain(login, secret)
    if "LOGIN" in offered:
        return Login(login, secret)
    if isinstance(client, POP3Client):
        return "USER/PASS"
    if client.protocol == "imap" and not (
        client.capabilities and client.capabilities.login_disabled
    ):
        return "IMAP LOGIN"
    raise AuthenticationError(f"{host} offers no password authentication.", login=login)


async def _login(
    connection: MailConnection, server: Server, login: str, secret: str, *, token: bool
) -> tuple[str, str | None]:
    """Log in once: the mechanism used, and ``None`` on success or the server's refusal."""
    from ..protocol import (
        AuthFailed,
        AuthOK,
        Challenge,
        CommandFailed,
        IMAPClient,
        POP3Client,
    )

    client = connection.client
    mechanism = _mechanism(client, login, secret, token=token, host=server.host, port=server.port)
    if mechanism == "USER/PASS":
        assert isinstance(client, POP3Client)
        events: list[Event] = await connection.exchange(client.user(login))
        if not any(isinstance(e, CommandFailed) for e in events):
            events = await connection.exchange(client.pass_(secret))
    elif mechanism == "IMAP LOGIN":
        assert isinstance(client, IMAPClient)
        events = await connection.exchange(client.login(login, secret))
    else:
        assert not isinstance(mechanism, str)
        events = await connection.exchange(client.authenticate(mechanism))
        while events and isinstance(events[-1], Challenge):
            events += await connection.exchange(client.answer_challenge())
    name = mechanism if isinstance(mechanism, str) else mechanism.name
    for event in events:
        if isinstance(event, AuthOK):
            return name, None
        if isinstance(event, AuthFailed | CommandFailed):
            return name, event.text
    raise ProtocolError(f"{server.host} gave no answer to the login.")
