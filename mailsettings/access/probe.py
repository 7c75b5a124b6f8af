"""Probing a mail server without credentials: what it is, and how it is protected.

:func:`probe` (and :func:`aprobe`) connect to one server within a time budget and report
what they found as a :class:`ProbeResult`: whether it is reachable (or why not: refused,
timed out, name does not resolve, address not allowed), the TLS version, whether the
certificate verifies for the host name (and, for a verified certificate, when it
expires), the greeting, the capabilities (IMAP ``CAPABILITY``, POP3 ``CAPA``, SMTP
``EHLO``), whether STARTTLS is offered where expected, and the SASL mechanisms offered
after TLS. A probe never sends credentials. The exchanges are the sans-I/O clients of
:mod:`mailsettings.protocol` over :class:`mailsettings.net.mail.MailConnection`.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from ..cache import TTLCache
from ..enums import Security
from ..errors import ConnectError, ConnectTimeoutError, ProtocolError, TLSError
from ..models import Server
from ..net.budget import Budget
from ..net.runner import run_sync

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..net.dns import Dns
    from ..net.mail import MailConnection
    from ..protocol import Client

    Done = Callable[..., "ProbeResult"]

__all__ = ["ProbeFailure", "ProbeResult", "aprobe", "probe", "probe_with"]

DEFAULT_TIMEOUT = 10.0


class ProbeFailure(StrEnum):
    """Why a probe found no usable server."""

    DOES_NOT_RESOLVE = "does-not-resolve"
    NOT_ALLOWED = "not-allowed"
    """The address is not public and ``allow_private_networks`` is off."""
    REFUSED = "refused"
    TIMED_OUT = "timed-out"
    TLS_FAILED = "tls-failed"
    """The TLS handshake failed (other than the certificate)."""
    CERTIFICATE_INVALID = "certificate-invalid"
    STARTTLS_MISSING = "starttls-missing"
    STARTTLS_REFUSED = "starttls-refused"
    WRONG_PROTOCOL = "wrong-protocol"
    PROTOCOL_ERROR = "protocol-error"
    NOT_READY = "not-ready"
    """The server greeted with a refusal (IMAP ``BYE``, POP3 ``-ERR``, SMTP other than 220)."""


class ProbeResult(BaseModel):
    """What a probe found out about one server."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    server: Server = Field(description="The server probed, as given.")
    port: int = Field(description="The port connected to (after ``port_map``).")
    address: str | None = Field(None, description="The IP address connected to.")
    reachable: bool = Field(description="Whether a connection was made and the server greeted.")
    failure: ProbeFailure | None = Field(None, description="Why the server is not usable, if it is not.")
    error: str | None = Field(None, description="What went wrong, in one sentence.")
    tls_version: str | None = Field(None, description="The TLS version (``TLSv1.3``), if TLS was set up.")
    certificate_verified: bool | None = Field(
        None, description="Whether the certificate verifies for the host name (``None``: no TLS reached)."
    )
    certificate_expires: datetime | None = Field(
        None, description="When a verified certificate expires (UTC)."
    )
    greeting: str | None = Field(None, description="The server's greeting (sanitised).")
    protocol_matches: bool = Field(False, description="Whether the greeting is the expected protocol's.")
    starttls_offered: bool | None = Field(
        None, description="Whether STARTTLS is offered before TLS (``None`` for implicit TLS)."
    )
    capabilities: tuple[str, ...] = Field((), description="The capabilities, after TLS when there is TLS.")
    sasl_mechanisms: tuple[str, ...] = Field((), description="The SASL mechanisms offered after TLS.")
    seconds: float = Field(0.0, description="How long the probe took.")

    @property
    def verified_tls(self) -> bool:
        """Whether the server spoke the protocol over TLS with a certificate valid for the host."""
        return self.reachable and self.protocol_matches and bool(self.certificate_verified)

    @property
    def plaintext_only(self) -> bool:
        """Whether the server spoke the protocol but offered no TLS at all."""
        return (
            self.reachable
            and self.protocol_matches
            and self.tls_version is None
            and self.starttls_offered is False
        )

    def describe(self) -> str:
        """One line for a report: what the probe found."""
        where = f"{self.server.host}:{self.port}"
        if self.failure is not None and not self.protocol_matches:
            return f"{where}: {self.failure.value} ({self.error})"
        parts = [self.tls_version or "no TLS"]
        if self.certificate_expires is not None:
            parts.append(f"certificate valid until {self.certificate_expires:%Y-%m-%d}")
        elif self.certificate_verified is False:
            parts.append("certificate not verified")
        if self.sasl_mechanisms:
            parts.append("SASL " + " ".join(self.sasl_mechanisms))
        if self.failure is not None:
            parts.append(f"{self.failure.value}: {self.error}")
        return f"{where}: " + ", ".join(parts)


def _unverified_context() -> ssl.SSLContext:
    """For reporting only, after verification failed: never used to send anything secret."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _expiry(certificate: Mapping[str, Any] | None) -> datetime | None:
    after = None if certificate is None else certificate.get("notAfter")
    if not isinstance(after, str):
        return None
    return datetime.fromtimestamp(ssl.cert_time_to_seconds(after), tz=UTC)


async def probe_with(
    server: Server,
    *,
    dns: Dns,
    budget: Budget,
    ssl_context: ssl.SSLContext | None = None,
    allow_private_networks: bool = False,
    allowed_networks: Iterable[str] = (),
    port_map: Mapping[int, int] | None = None,
) -> ProbeResult:
    """Probe ``server`` with a lookup's DNS and budget (what the guess source does)."""
    from ..net.mail import MailConnection, default_ssl_context

    started = time.monotonic()
    port = (port_map or {}).get(server.port, server.port)
    facts: dict[str, Any] = {"server": server, "port": port, "reachable": False}
    implicit = server.security is Security.SSL
    context = ssl_context or default_ssl_context()

    def done(failure: ProbeFailure | None = None, error: str | None = None) -> ProbeResult:
        facts.update(failure=failure, error=error, seconds=time.monotonic() - started)
        return ProbeResult(**facts)

    async def connect(verified: bool) -> MailConnection:
        return await MailConnection.open(
            server,
            dns=dns,
            budget=budget,
            ssl_context=context if verified else _unverified_context(),
            allow_private_networks=allow_private_networks,
            allowed_networks=allowed_networks,
            port_map=port_map,
        )

    failure: tuple[ProbeFailure, str] | None = None
    try:
        try:
            connection = await connect(verified=True)
            facts["certificate_verified"] = True if implicit else None
        except TLSError as error:
            if not error.certificate:
                return done(ProbeFailure.TLS_FAILED, str(error))
            facts["certificate_verified"] = False
            failure = (ProbeFailure.CERTIFICATE_INVALID, str(error))
            connection = await connect(verified=False)  # to say what the server is anyway
    except ConnectTimeoutError as error:
        return done(ProbeFailure.TIMED_OUT, str(error))
    except ConnectError as error:
        kind = ProbeFailure.REFUSED
        text = str(error)
        if "does not resolve" in text or "Could not resolve" in text:
            kind = ProbeFailure.DOES_NOT_RESOLVE
        elif "non-public address" in text:
            kind = ProbeFailure.NOT_ALLOWED
        return done(kind, text)
    facts["address"] = connection.address
    try:
        return await _conversation(connection, facts, failure, done)
    except ConnectTimeoutError as error:
        return done(ProbeFailure.TIMED_OUT, str(error))
    except ConnectError as error:
        return done(ProbeFailure.REFUSED, str(error))
    except TLSError as error:
        if error.certificate:
            facts["certificate_verified"] = False
        kind = ProbeFailure.CERTIFICATE_INVALID if error.certificate else ProbeFailure.TLS_FAILED
        return done(kind, str(error))
    except ProtocolError as error:
        from ..protocol import WrongProtocolError

        kind = ProbeFailure.WRONG_PROTOCOL if isinstance(error, WrongProtocolError) else ProbeFailure.PROTOCOL_ERROR
        return done(kind, str(error))
    finally:
        await connection.close()


async def _conversation(
    connection: MailConnection,
    facts: dict[str, Any],
    failure: tuple[ProbeFailure, str] | None,
    done: Done,
) -> ProbeResult:
    from ..protocol import Greeting

    server: Server = facts["server"]
    client = connection.client
    greeting = next((e for e in await connection.greeting() if isinstance(e, Greeting)), None)
    if greeting is None:
        return done(ProbeFailure.PROTOCOL_ERROR, "the server closed the connection without a greeting")
    facts.update(reachable=True, greeting=greeting.text, protocol_matches=True)
    facts["tls_version"] = connection.tls_version
    if not greeting.ok:
        return done(ProbeFailure.NOT_READY, f"the server is not ready: {greeting.text}")
    await connection.read_capabilities()
    if server.security is not Security.SSL:
        capabilities = client.capabilities
        facts["starttls_offered"] = bool(capabilities and capabilities.starttls)
        if server.security is Security.STARTTLS:
            if not facts["starttls_offered"]:
                _record(facts, client)
                return done(ProbeFailure.STARTTLS_MISSING, "the server does not offer STARTTLS")
            if not await connection.upgrade():
                _record(facts, client)
                return done(ProbeFailure.STARTTLS_REFUSED, "the server refused STARTTLS")
            facts["certificate_verified"] = True
            facts["tls_version"] = connection.tls_version
    _record(facts, client)
    if facts.get("certificate_verified"):
        facts["certificate_expires"] = _expiry(connection.certificate)
    return done(*(failure or (None, None)))


def _record(facts: dict[str, Any], client: Client) -> None:
    capabilities = client.capabilities
    if capabilities is not None:
        facts["capabilities"] = capabilities.items
        facts["sasl_mechanisms"] = capabilities.sasl_mechanisms


async def aprobe(
    server: Server,
    /,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    ssl_context: ssl.SSLContext | None = None,
    resolver: object | None = None,
    allow_private_networks: bool = False,
    allowed_networks: Iterable[str] = (),
    port_map: Mapping[int, int] | None = None,
) -> ProbeResult:
    """Probe one server within ``timeout`` seconds (see the module's description).

    ``resolver`` is a dnspython resolver (default: the system's name servers, read by
    dnspython); ``port_map`` maps standard ports to others (for tests). The arguments are
    checked as the lookup options of the same names: :class:`TypeError` for a wrong type,
    :class:`ValueError` for a bad value.
    """
    from ..net.dns import Dns
    from .credentials import checked_arguments

    arguments = checked_arguments(
        timeout=timeout,
        ssl_context=ssl_context,
        resolver=resolver,
        allow_private_networks=allow_private_networks,
        allowed_networks=allowed_networks,
        port_map=port_map,
    )
    budget = Budget.start(arguments.pop("timeout"))
    if not isinstance(server, Server):
        raise TypeError(f"server must be a mailsettings.Server, not {type(server).__name__}")
    if server.is_template:
        raise ValueError(f"the host {server.host!r} is a template; probe a result's server")
    dns = Dns(arguments.pop("resolver"), TTLCache(), budget)
    async with asyncio.timeout(budget.remaining() + 0.5):  # the operations hold it; a backstop
        return await probe_with(server, dns=dns, budget=budget, **arguments)


def probe(
    server: Server,
    /,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    ssl_context: ssl.SSLContext | None = None,
    resolver: object | None = None,
    allow_private_networks: bool = False,
    allowed_networks: Iterable[str] = (),
    port_map: Mapping[int, int] | None = None,
) -> ProbeResult:
    """Synchronous twin of :func:`aprobe` (runs it on a private event loop)."""
    return run_sync(
        aprobe(
            server,
            timeout=timeout,
            ssl_context=ssl_context,
            resolver=resolver,
            allow_private_networks=allow_private_networks,
            allowed_networks=allowed_networks,
            port_map=port_map,
        )
    )
