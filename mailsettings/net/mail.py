"""Connections to mail servers for the sans-I/O protocol clients, under one budget.

A :class:`MailConnection` connects to an address :func:`checked_addresses` resolved
(through :mod:`mailsettings.net.dns`) and allowed (the public-address policy of
:mod:`mailsettings.net.policy`), verifies TLS for the host name, and moves bytes between
the socket and a client of :mod:`mailsettings.protocol`. Every operation ends by the
budget's deadline, so a server that stays silent, drips one byte a second or sends an
endless line cannot stretch a call; the client's limits end the endless line sooner.

Errors are the library's own: :class:`~mailsettings.ConnectError` (name does not
resolve, refused, address not allowed), :class:`~mailsettings.ConnectTimeoutError`,
:class:`~mailsettings.TLSError` and :class:`~mailsettings.ProtocolError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import ssl
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..enums import Protocol, Security
from ..errors import (
    ConnectError,
    ConnectTimeoutError,
    DiscoveryError,
    DiscoveryTimeoutError,
    TLSError,
)
from ..models import Server
from ..protocol import (
    ConnectionClosed,
    Event,
    IMAPClient,
    POP3Client,
    SMTPClient,
    State,
    TLSReady,
)
from .budget import Budget
from .dns import Dns
from .policy import address_allowed, ip_literal

__all__ = [
    "MailClient",
    "MailConnection",
    "checked_addresses",
    "default_ssl_context",
    "tls_error",
]

_READ = 65536


def default_ssl_context() -> ssl.SSLContext:
    """The context used when the caller gives none: the system's CAs, host names checked."""
    return ssl.create_default_context()


async def checked_addresses(
    host: str,
    port: int,
    *,
    dns: Dns,
    allow_private_networks: bool = False,
    allowed_networks: Iterable[str] = (),
) -> list[str]:
    """The addresses of ``host`` a connection may go to, or :class:`ConnectError`.

    An IP-address literal is checked as it is; a name is resolved through ``dns``.
    Every address must be allowed: a name with one private address is refused as a
    whole (unless ``allow_private_networks``), so an answer cannot mix one in.
    """
    literal = ip_literal(host)
    if literal is not None:
        found: tuple[str, ...] = (str(literal),)
    else:
        try:
            found = await dns.addresses(host)
        except DiscoveryTimeoutError as error:
            raise ConnectTimeoutError(
                f"Resolving {host} ran out of time ({error}).", host=host, port=port
            ) from None
        except DiscoveryError as error:
            raise ConnectError(f"Could not resolve {host}: {error}", host=host, port=port) from None
        if not found:
            raise ConnectError(f"{host} does not resolve (no address).", host=host, port=port)
    networks = [ipaddress.ip_network(n, strict=False) for n in allowed_networks]
    for text in found:
        ip = ipaddress.ip_address(text)
        if not address_allowed(
            ip, allow_private_networks=allow_private_networks, allowed_networks=networks
        ):
            raise ConnectError(
                f"{host} resolves to the non-public address {ip}; refused "
                "(pass allow_private_networks=True to allow it).",
                host=host,
                port=port,
            )
    return list(found)


def tls_error(host: str, error: ssl.SSLError) -> TLSError:
    """The library's error for a failed TLS handshake with ``host``."""
    if isinstance(error, ssl.SSLCertVerificationError):
        detail = error.verify_message or str(error)
        return TLSError(
            f"The TLS certificate of {host} could not be verified: {detail}.", certificate=True
        )
    return TLSError(f"The TLS handshake with {host} failed: {error.reason or error}.")


MailClient = IMAPClient | POP3Client | SMTPClient


def _client_for(protocol: Protocol, *, tls: bool) -> MailClient:
    """A new sans-I/O client of ``protocol`` (``tls``: the connection starts encrypted)."""
    if protocol is Protocol.IMAP:
        return IMAPClient(tls=tls)
    return POP3Client(tls=tls) if protocol is Protocol.POP3 else SMTPClient(tls=tls)


class MailConnection:
    """One connection to a mail server, driving one protocol client.

    Not thread-safe: a connection belongs to one task.
    """

    def __init__(
        self,
        client: MailClient,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        host: str,
        port: int,
        address: str,
        budget: Budget,
        ssl_context: ssl.SSLContext,
    ) -> None:
        self.client = client
        self.host = host
        self.port = port
        self.address = address
        """The checked address the connection went to."""
        self.budget = budget
        self._reader = reader
        self._writer = writer
        self._context = ssl_context

    @classmethod
    async def open(
        cls,
        server: Server,
        *,
        dns: Dns,
        budget: Budget,
        ssl_context: ssl.SSLContext | None = None,
        allow_private_networks: bool = False,
        allowed_networks: Iterable[str] = (),
        port_map: Mapping[int, int] | None = None,
    ) -> MailConnection:
        """Connect to ``server`` (on ``port_map[port]`` when mapped), TLS first for implicit TLS.

        The connection drives a new client of the server's protocol.
        """
        host = server.host
        port = (port_map or {}).get(server.port, server.port)
        implicit_tls = server.security is Security.SSL
        context = ssl_context or default_ssl_context()
        addresses = await checked_addresses(
            host,
            port,
            dns=dns,
            allow_private_networks=allow_private_networks,
            allowed_networks=allowed_networks,
        )
        failure: ConnectError | None = None
        for address in addresses:
            try:
                async with asyncio.timeout(budget.bound()):
                    reader, writer = await asyncio.open_connection(
                        address,
                        port,
                        ssl=context if implicit_tls else None,
                        server_hostname=host if implicit_tls else None,
                        limit=_READ,
                    )
            except TimeoutError:
                raise ConnectTimeoutError(
                    f"{host}:{port} did not answer in time.", host=host, port=port
                ) from None
            except ssl.SSLError as error:
                raise tls_error(host, error) from None
            except OSError as error:
                reason = error.strerror or type(error).__name__
                failure = ConnectError(
                    f"Could not connect to {host}:{port} ({address}): {reason}.",
                    host=host,
                    port=port,
                )
                continue
            return cls(
                _client_for(server.protocol, tls=implicit_tls),
                reader,
                writer,
                host=host,
                port=port,
                address=address,
                budget=budget,
                ssl_context=context,
            )
        assert failure is not None
        raise failure

    # --- moving bytes --------------------------------------------------------------------

    async def send(self, data: bytes) -> None:
        """Send ``data`` (a command from the client)."""
        try:
            async with asyncio.timeout(self.budget.bound()):
                self._writer.write(data)
                await self._writer.drain()
        except TimeoutError:
            raise self._timeout("sending") from None
        except OSError as error:
            raise self._broken(error) from None

    async def until(self, done: Callable[[MailClient], bool]) -> list[Event]:
        """Read and feed the client until ``done(client)`` or the connection closes."""
        events: list[Event] = []
        while not done(self.client):
            try:
                async with asyncio.timeout(self.budget.bound()):
                    data = await self._reader.read(_READ)
            except TimeoutError:
                raise self._timeout("waiting for an answer") from None
            except ssl.SSLError as error:
                raise tls_error(self.host, error) from None
            except OSError as error:
                raise self._broken(error) from None
            events.extend(self.client.receive_data(data))
            if any(isinstance(event, ConnectionClosed) for event in events):
                break
        return events

    async def greeting(self) -> list[Event]:
        """The server's greeting."""
        return await self.until(lambda client: client.state is not State.GREETING)

    async def exchange(self, command: bytes) -> list[Event]:
        """Send a command and read until its answer (or a SASL challenge) is complete."""
        await self.send(command)
        return await self.until(lambda client: client.state not in (State.WAITING,))

    async def start_tls(self) -> None:
        """The TLS handshake after an accepted STARTTLS; then the client must re-read capabilities."""
        try:
            async with asyncio.timeout(self.budget.bound()):
                await self._writer.start_tls(self._context, server_hostname=self.host)
        except TimeoutError:
            raise self._timeout("during the TLS handshake") from None
        except ssl.SSLError as error:
            raise tls_error(self.host, error) from None
        except OSError as error:
            raise TLSError(f"The TLS handshake with {self.host} failed: {error}.") from None
        self.client.tls_established()

    # --- the steps every conversation takes ------------------------------------------

    async def read_capabilities(self) -> None:
        """Ask for the capabilities (IMAP: unless the greeting or the login already said)."""
        client = self.client
        if isinstance(client, IMAPClient):
            if client.capabilities is None:
                await self.exchange(client.capability())
        elif isinstance(client, POP3Client):
            await self.exchange(client.capa())
        else:
            await self.exchange(client.ehlo("localhost"))

    async def upgrade(self) -> bool:
        """STARTTLS, the TLS handshake and the capabilities again; false if the server refused."""
        answer = await self.exchange(self.client.starttls())
        if not any(isinstance(event, TLSReady) for event in answer):
            return False
        await self.start_tls()
        await self.read_capabilities()
        return True

    # --- what TLS says -------------------------------------------------------------------

    @property
    def tls_version(self) -> str | None:
        """The TLS version in use (``"TLSv1.3"``), or ``None`` before TLS."""
        ssl_object: Any = self._writer.get_extra_info("ssl_object")
        return None if ssl_object is None else str(ssl_object.version())

    @property
    def certificate(self) -> dict[str, Any] | None:
        """The server's verified certificate (``getpeercert()``), or ``None``."""
        ssl_object: Any = self._writer.get_extra_info("ssl_object")
        if ssl_object is None:
            return None
        with contextlib.suppress(ValueError):
            found: dict[str, Any] = ssl_object.getpeercert()
            return found or None
        return None

    async def close(self) -> None:
        """Close the connection (quietly: the server may already have)."""
        self._writer.close()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(max(min(self.budget.bound(), 1.0), 0.05)):
                await self._writer.wait_closed()

    def _broken(self, error: OSError) -> ConnectError:
        return ConnectError(
            f"The connection to {self.host} broke: {error.strerror or error}.",
            host=self.host,
            port=self.port,
        )

    def _timeout(self, doing: str) -> ConnectTimeoutError:
        return ConnectTimeoutError(
            f"{self.host}:{self.port} did not answer in time ({doing}).",
            host=self.host,
            port=self.port,
        )
