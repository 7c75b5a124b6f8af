"""Exchange Autodiscover (POX): the IMAP, POP3 and SMTP servers an Exchange-style service announces.

Off by default; ``autodiscover=True`` (CLI ``--autodiscover``) turns it on. As Thunderbird
does, the source POSTs the Plain Old XML request — the address and the
``AcceptableResponseSchema`` ``http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a``,
``Content-Type: text/xml; charset=utf-8``, never any credentials — to

1. ``https://<domain>/autodiscover/autodiscover.xml``,
2. ``https://autodiscover.<domain>/autodiscover/autodiscover.xml``,
3. the host of the domain's ``_autodiscover._tcp`` SRV record (its port when not 443),

until one answers. A 401 or 403 (the service wants a login) is a note, not an error.
HTTP redirects stay within the site (:mod:`mailsettings.net.http`); the XML may redirect
at most :data:`MAX_XML_REDIRECTS` times, to another address (``RedirectAddr``: its domain's
URLs are asked) or another URL (``RedirectUrl``, HTTPS only), each checked like a first
request.

``<Protocol>`` entries of type ``IMAP``, ``POP3`` and ``SMTP`` become servers (``Server``,
``Port``, ``SSL``/``Encryption``, ``LoginName``, ``SPA``). ``Encryption`` ``None`` or ``SSL``
``off`` means no TLS; otherwise, since the format does not say whether TLS is implicit,
ports 143, 110, 25 and 587 mean STARTTLS and any other port implicit TLS (Thunderbird's
rule). An answer with only Exchange protocols (EWS, ActiveSync) means "no IMAP, POP3 or
SMTP here", and the next source runs.

The result is trusted only when every hop was HTTPS and the answer came from the
address's domain itself; otherwise it is untrusted, with a warning naming where it came
from. The XML is read like autoconfig files: DTDs, entities and declared encodings that are
not text encodings (``unicode-escape``, ``hex``) refused, at most :data:`MAX_SIZE` bytes and
:data:`MAX_PROTOCOLS` protocol entries.

>>> answer = read_pox(b'''<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006">
... <Response xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a">
... <Account><AccountType>email</AccountType><Action>settings</Action>
... <Protocol><Type>IMAP</Type><Server>mail.example.com</Server><Port>993</Port>
... <LoginName>jane</LoginName><SSL>on</SSL></Protocol>
... </Account></Response></Autodiscover>''', "jane@example.com")
>>> [(s.protocol.value, s.host, s.port, s.security.value, s.username) for s in answer.servers]
[('imap', 'mail.example.com', 993, 'ssl', '%EMAILLOCALPART%')]
"""

# No ``from __future__ import annotations``: the option annotations are read at run time.
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated
from urllib.parse import urlsplit

from pydantic import ValidationError

from ..address import Address, parse_address
from ..enums import EMAILADDRESS, EMAILLOCALPART
from ..errors import DiscoveryError, InvalidAddressError
from ..models import (
    AuthMethod,
    LookupResult,
    Protocol,
    Security,
    Server,
    Source,
)
from ..net import HttpOptions
from ..net.policy import usable_host, within_domain
from ..option import Option
from .base import BaseSource, Context

if TYPE_CHECKING:
    import xml.etree.ElementTree as ET  # parsing goes through defusedxml

__all__ = ["MAX_PROTOCOLS", "MAX_XML_REDIRECTS", "AutodiscoverOptions", "AutodiscoverSource", "read_pox"]

REQUEST_SCHEMA = "http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"
RESPONSE_SCHEMA = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"
MAX_SIZE = 1 << 20
"""The largest answer read, in bytes."""
MAX_PROTOCOLS = 32
"""``<Protocol>`` entries read from one answer; the rest are ignored."""
MAX_XML_REDIRECTS = 2
"""``RedirectAddr`` / ``RedirectUrl`` answers followed, at most."""
_TYPES = {"IMAP": Protocol.IMAP, "POP3": Protocol.POP3, "SMTP": Protocol.SMTP}
_EXCHANGE_TYPES = frozenset({"EXCH", "EXPR", "EXHTTP", "WEB", "MOBILESYNC"})
_STARTTLS_PORTS = frozenset({143, 110, 25, 587})


DEFAULT_AUTODISCOVER_URLS = (
    "https://{domain}/autodiscover/autodiscover.xml",
    "https://autodiscover.{domain}/autodiscover/autodiscover.xml",
)
"""Where the service is asked, in order, before the host of the ``_autodiscover._tcp`` SRV record."""


def _check_urls(name: str, value: object) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, tuple | list):
        raise TypeError(f"{name} must be a tuple of URL templates with {{domain}}")
    templates = tuple(value)
    for template in templates:
        if not isinstance(template, str):
            raise TypeError(f"{name} must hold str templates, not {type(template).__name__}")
        if "{domain}" not in template or urlsplit(template).scheme not in ("https", "http"):
            raise ValueError(f"{name}: {template[:80]!r} is not an http(s) URL template with {{domain}}")
    return templates


class AutodiscoverOptions(HttpOptions, total=False):
    """Options of Exchange Autodiscover."""

    autodiscover: Annotated[
        bool, Option(False, "ask the domain's Exchange Autodiscover service (POX, no credentials)")
    ]
    """Ask the domain's Exchange Autodiscover service for IMAP, POP3 and SMTP servers
    (Plain Old XML, never with credentials; default off)."""
    autodiscover_urls: Annotated[
        tuple[str, ...],
        Option(DEFAULT_AUTODISCOVER_URLS, "Autodiscover URL templates", check=_check_urls, flag=False),
    ]
    """The URL templates asked, in order, with ``{domain}`` (default
    :data:`DEFAULT_AUTODISCOVER_URLS`); the host of the SRV record is asked after them."""


# --- reading an answer -----------------------------------------------------------------


@dataclass(frozen=True)
class PoxAnswer:
    """What one Autodiscover answer says."""

    servers: tuple[Server, ...] = ()
    redirect_address: str | None = None
    redirect_url: str | None = None
    display_name: str | None = None
    exchange_only: bool = False
    """Only Exchange protocols (EWS, ActiveSync, Outlook Anywhere) were announced."""
    error: str | None = None
    """The service's own error message, for an ``<Error>`` answer."""
    warnings: tuple[str, ...] = field(default=())


def _escape(text: str) -> str:
    """``text`` fit for XML character data."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _local(tag: object) -> str:
    text = str(tag)
    return text.rpartition("}")[2]


def _child(element: "ET.Element", name: str) -> "ET.Element | None":
    return next((child for child in element if _local(child.tag) == name), None)


def _text(element: "ET.Element | None", name: str) -> str:
    found = None if element is None else _child(element, name)
    return "" if found is None else " ".join("".join(found.itertext()).split())[:255]


def _security(protocol: "ET.Element", port: int) -> Security:
    if _text(protocol, "SSL").lower() == "off" or _text(protocol, "Encryption").lower() == "none":
        return Security.PLAIN
    return Security.STARTTLS if port in _STARTTLS_PORTS else Security.SSL


def _username(login: str, email: str) -> str:
    if not login or login.lower() == email.lower():
        return EMAILADDRESS
    if login.lower() == email.rpartition("@")[0].lower():
        return EMAILLOCALPART
    return login


def read_pox(body: bytes, email: str) -> PoxAnswer:
    """Read a POX Autodiscover answer for ``email``; raises :class:`ValueError` when malformed."""
    import xml.etree.ElementTree as ET

    import defusedxml
    import defusedxml.ElementTree as SafeET

    from .._autoconfig_xml import check_encoding

    if len(body) > MAX_SIZE:
        raise ValueError(f"the answer is too large ({len(body)} bytes)")
    try:
        check_encoding(body, "the answer")
        root = SafeET.fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (defusedxml.DefusedXmlException, ET.ParseError, ValueError, LookupError) as error:
        raise ValueError(f"not well-formed or unsafe XML ({str(error)[:120]})") from None
    if _local(root.tag) != "Autodiscover":
        raise ValueError(f"not an Autodiscover answer (root element <{_local(root.tag)[:40]}>)")
    response = _child(root, "Response")
    if response is None:
        raise ValueError("the answer has no <Response>")
    failure = _child(response, "Error")
    if failure is not None:
        message = _text(failure, "Message") or _text(failure, "ErrorCode") or "no message"
        return PoxAnswer(error=message)
    account = _child(response, "Account")
    if account is None:
        raise ValueError("the answer has no <Account>")
    display = _text(_child(response, "User"), "DisplayName") or None
    action = _text(account, "Action").lower()
    if action == "redirectaddr" or _child(account, "RedirectAddr") is not None:
        return PoxAnswer(redirect_address=_text(account, "RedirectAddr"))
    if action == "redirecturl" or _child(account, "RedirectUrl") is not None:
        return PoxAnswer(redirect_url=_text(account, "RedirectUrl"))
    servers: list[Server] = []
    warnings: list[str] = []
    seen_exchange = False
    entries = [child for child in account if _local(child.tag) == "Protocol"]
    if len(entries) > MAX_PROTOCOLS:
        warnings.append(f"Read the first {MAX_PROTOCOLS} of {len(entries)} <Protocol> entries.")
    for entry in entries[:MAX_PROTOCOLS]:
        kind = _text(entry, "Type").upper()
        protocol = _TYPES.get(kind)
        if protocol is None:
            seen_exchange = seen_exchange or kind in _EXCHANGE_TYPES
            continue
        host = _text(entry, "Server").lower().rstrip(".")
        port_text = _text(entry, "Port")
        try:
            port = int(port_text) if port_text.isdigit() else 0
            server = Server(
                protocol=protocol,
                host=host,
                port=port,
                security=_security(entry, port),
                auth=(
                    (AuthMethod.NTLM,)
                    if _text(entry, "SPA").lower() == "on"
                    else (AuthMethod.PASSWORD_CLEARTEXT,)
                ),
                username=_username(_text(entry, "LoginName"), email),
            )
        except ValidationError:
            warnings.append(f"Skipped the {kind} entry {host[:80]!r}:{port_text[:10]}: not usable.")
            continue
        if server not in servers:
            servers.append(server)
    return PoxAnswer(
        servers=tuple(servers),
        display_name=display,
        exchange_only=not servers and seen_exchange,
        warnings=tuple(warnings),
    )


def request_body(email: str) -> bytes:
    """The POX request for ``email`` (no credentials are ever sent)."""
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<Autodiscover xmlns="{REQUEST_SCHEMA}">\n'
        "  <Request>\n"
        f"    <EMailAddress>{_escape(email)}</EMailAddress>\n"
        f"    <AcceptableResponseSchema>{RESPONSE_SCHEMA}</AcceptableResponseSchema>\n"
        "  </Request>\n"
        "</Autodiscover>\n"
    ).encode()


# --- the source ------------------------------------------------------------------------


@dataclass
class _Search:
    """The state of one Autodiscover search."""

    own: str
    """The user's address (login names are read relative to it)."""
    email: str
    """The address the requests ask for (another after a ``RedirectAddr``)."""
    origin: str
    """The user's domain: answers from elsewhere are untrusted."""
    trail: list[str] = field(default_factory=list)
    """Why answers are untrusted so far (redirects to elsewhere)."""
    temporary: list[DiscoveryError] = field(default_factory=list)
    """Temporary failures, the first to be raised if nothing answers."""
    redirects: int = 0


class AutodiscoverSource(BaseSource[AutodiscoverOptions]):
    """Exchange Autodiscover (POX) for the address's domain."""

    name = Source.AUTODISCOVER.value
    label = "Autodiscover"
    options = AutodiscoverOptions
    switch = "autodiscover"

    async def arun(self, ctx: Context[AutodiscoverOptions]) -> LookupResult | None:
        """Ask the domain's Autodiscover URLs in turn (see the module's description)."""
        address = ctx.address
        if address.local is None:
            ctx.notes.append("Autodiscover needs an e-mail address, not a bare domain")
            return None
        email = f"{address.local}@{address.domain_ascii}"
        search = _Search(own=email, email=email, origin=address.domain_ascii)
        urls = await self._urls(ctx, search.origin)
        while urls:
            url, untrusted_because = urls.pop(0)
            outcome = await self._ask(ctx, search, url, untrusted_because)
            if isinstance(outcome, LookupResult):
                return outcome
            if outcome is not None:  # an XML redirect: its URLs replace the rest
                urls = outcome
        if search.temporary:
            raise search.temporary[0]
        return None

    async def _ask(
        self,
        ctx: Context[AutodiscoverOptions],
        search: "_Search",
        url: str,
        untrusted_because: str | None,
    ) -> LookupResult | list[tuple[str, str | None]] | None:
        """One request: a result, the URLs of an XML redirect, or ``None`` (with a note)."""
        from ..net.http import FetchError

        where = f"{self.label} {url}"
        try:
            fetched = await ctx.http.fetch(
                url,
                method="POST",
                content=request_body(search.email),
                headers={"Content-Type": "text/xml; charset=utf-8"},
                accept="text/xml, application/xml",
            )
        except FetchError as error:
            if error.status in (401, 403):
                ctx.notes.append(
                    f"{where} asks for a login (HTTP {error.status}); no credentials are sent"
                )
                return None
            ctx.notes.append(f"{where} skipped: {error.reason}")
            if error.temporary:
                search.temporary.append(error.as_discovery_error(url))
            return None
        try:
            answer = read_pox(fetched.body, search.own)
        except ValueError as error:
            ctx.notes.append(f"{where} skipped: {error}")
            return None
        final_host = urlsplit(fetched.final_url).hostname or ""
        reasons = [*search.trail, *([untrusted_because] if untrusted_because else [])]
        if not fetched.https:
            reasons.append(f"read over plain HTTP from {fetched.final_url}")
        elif not within_domain(final_host, search.origin):
            reasons.append(f"read from {final_host}, outside {search.origin}")
        if answer.error is not None:
            ctx.notes.append(f"{where} answered with an error: {answer.error}")
            return None
        if answer.redirect_address is not None or answer.redirect_url is not None:
            search.redirects += 1
            if search.redirects > MAX_XML_REDIRECTS:
                ctx.notes.append(f"{where}: more than {MAX_XML_REDIRECTS} redirects in the answers")
                return []
            urls = await self._follow(ctx, answer, where, reasons, search.origin)
            if urls and answer.redirect_address is not None:
                search.email = answer.redirect_address  # the next request asks for that address
            search.trail = reasons
            return urls
        if not answer.servers:
            ctx.notes.append(
                f"{where} announces only Exchange protocols (EWS, ActiveSync), no IMAP, POP3 or SMTP"
                if answer.exchange_only
                else f"{where} announces no IMAP, POP3 or SMTP server"
            )
            return None
        result = self._result(ctx, answer, fetched.final_url, reasons)
        if result is None:
            ctx.notes.append(f"{where} names only servers at an IP address or a local name")
        return result

    async def _urls(
        self, ctx: Context[AutodiscoverOptions], domain: str
    ) -> list[tuple[str, str | None]]:
        """The URLs to ask for ``domain``, each with why its answer is untrusted (if it is)."""
        urls: list[tuple[str, str | None]] = [
            (template.replace("{domain}", domain), None)
            for template in ctx.options["autodiscover_urls"]
        ]
        try:
            answer = await ctx.dns.query(f"_autodiscover._tcp.{domain}", "SRV")
        except DiscoveryError as error:
            ctx.notes.append(f"the _autodiscover._tcp SRV query failed ({error})")
            return urls
        allow_private = ctx.options["allow_private_networks"]
        for _, _, port, target in answer.records[:1]:
            if not target or not usable_host(target, allow_private_networks=allow_private):
                continue
            authority = target if port in (443, 0) else f"{target}:{port}"
            outside = None if within_domain(target, domain) else f"named by an SRV record: {target}, outside {domain}"
            urls.append((f"https://{authority}/autodiscover/autodiscover.xml", outside))
        return urls

    async def _follow(
        self,
        ctx: Context[AutodiscoverOptions],
        answer: PoxAnswer,
        where: str,
        reasons: list[str],
        origin: str,
    ) -> list[tuple[str, str | None]]:
        """The URLs an XML redirect points to (HTTPS only), or none, with a note."""
        if answer.redirect_url is not None:
            target = answer.redirect_url
            parts = urlsplit(target)
            if parts.scheme != "https" or not parts.hostname:
                ctx.notes.append(f"{where} redirects to {target[:80]!r}, which is not HTTPS; refused")
                return []
            host = parts.hostname
            why = None if within_domain(host, origin) else f"redirected by the answer to {host}"
            return [(target, why)]
        try:
            redirected: Address = parse_address(answer.redirect_address or "")
        except InvalidAddressError:
            ctx.notes.append(f"{where} redirects to an invalid address; refused")
            return []
        if redirected.local is None:
            ctx.notes.append(f"{where} redirects to a domain, not an address; refused")
            return []
        reasons.append(f"redirected by the answer to the address {redirected}")
        return await self._urls(ctx, redirected.domain_ascii)

    def _result(
        self,
        ctx: Context[AutodiscoverOptions],
        answer: PoxAnswer,
        url: str,
        reasons: list[str],
    ) -> LookupResult | None:
        warnings = list(answer.warnings)
        servers = ctx.usable_servers(answer.servers, warnings)
        if not servers:
            return None
        if reasons:
            warnings.append(
                f"Found through Exchange Autodiscover at {url} ({'; '.join(dict.fromkeys(reasons))}). "
                "Confirm these settings with the user."
            )
        return ctx.result(
            ctx.domain_provider(servers, name=answer.display_name),
            source=Source.AUTODISCOVER,
            trusted=not reasons,
            warnings=tuple(warnings),
            url=url,
        )

