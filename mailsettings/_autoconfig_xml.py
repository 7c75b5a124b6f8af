"""Reading and writing Thunderbird's autoconfig format; the public API is :mod:`mailsettings.autoconfig`.

The reader builds models through a :class:`~mailsettings.models.ModelKit` its caller
passes in, so this module does not import :mod:`mailsettings.models` (which calls it
for :meth:`Provider.from_autoconfig_xml`).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET  # only to build documents; parsing goes through defusedxml
from typing import TYPE_CHECKING, Any

import defusedxml
import defusedxml.ElementTree as SafeET
from pydantic import ValidationError

from .enums import (
    EMAILADDRESS,
    EMAILDOMAIN,
    EMAILLOCALPART,
    AuthMethod,
    InstructionKind,
    Protocol,
    Security,
)
from .errors import AutoconfigError

if TYPE_CHECKING:
    from .models import Instruction, ModelKit, OAuth2, Provider, Server

__all__ = ["MAX_DOMAINS", "MAX_SIZE", "check_encoding", "read", "write"]

MAX_SIZE = 1024 * 1024
"""The largest document accepted, in bytes (real files are a few kilobytes)."""
MAX_DOMAINS = 1000
"""The most ``<domain>`` elements read from one document (the ISPDB's largest file has 191)."""

_SOCKET_TYPES = {"ssl": Security.SSL, "starttls": Security.STARTTLS, "plain": Security.PLAIN}
_SOCKET_NAMES = {Security.SSL: "SSL", Security.STARTTLS: "STARTTLS", Security.PLAIN: "plain"}
_AUTH_NAMES = {
    AuthMethod.PASSWORD_CLEARTEXT: "password-cleartext",
    AuthMethod.PASSWORD_ENCRYPTED: "password-encrypted",
    AuthMethod.OAUTH2: "OAuth2",
    AuthMethod.NTLM: "NTLM",
    AuthMethod.GSSAPI: "GSSAPI",
    AuthMethod.CLIENT_IP_ADDRESS: "client-IP-address",
    AuthMethod.TLS_CLIENT_CERT: "TLS-client-cert",
    AuthMethod.SMTP_AFTER_POP: "smtp-after-pop",
    AuthMethod.NONE: "none",
}
# Thunderbird's names, compared case-insensitively, plus its deprecated aliases.
_AUTH_METHODS = {name.lower(): method for method, name in _AUTH_NAMES.items()} | {
    "plain": AuthMethod.PASSWORD_CLEARTEXT,
    "secure": AuthMethod.PASSWORD_ENCRYPTED,
}
_EXCHANGE_TYPES = frozenset({"exchange", "ews", "owa", "graph", "activesync", "eas"})
_PLACEHOLDER_NAMES = {name.strip("%"): name for name in (EMAILADDRESS, EMAILLOCALPART, EMAILDOMAIN)}
_PLACEHOLDER_LIKE = re.compile(
    r"(%?)\b(" + "|".join(_PLACEHOLDER_NAMES) + r")\b(%?)", re.IGNORECASE
)
_PORT = re.compile(r"[0-9]{1,5}")
_LANGUAGE = re.compile(r"[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})*")
_IDENTIFIER = re.compile(r"[a-z0-9][a-z0-9.-]*[a-z0-9]")

# --- reading ---------------------------------------------------------------


def _text(element: ET.Element | None) -> str:
    """The element's text with white space runs collapsed ("" when absent or empty)."""
    if element is None:
        return ""
    return " ".join("".join(element.itertext()).split())


_CANONICAL = re.compile("(" + "|".join(_PLACEHOLDER_NAMES.values()) + ")")


def _lower_outside_placeholders(value: str) -> str:
    parts = _CANONICAL.split(value)
    return "".join(part if index % 2 else part.lower() for index, part in enumerate(parts))


def _shown(value: str, limit: int = 80) -> str:
    """``value`` for a warning: non-printable characters replaced, at most ``limit`` long."""
    shown = "".join(char if char.isprintable() else "?" for char in value[:limit])
    return shown + ("…" if len(value) > limit else "")


_DECLARED_ENCODING = re.compile(
    rb"(?:\xef\xbb\xbf)?\s*<\?xml[^>]{0,200}?encoding\s*=\s*[\"']([^\"']{0,64})[\"']"
)
_UNSAFE_CODECS = frozenset({"unicode-escape", "raw-unicode-escape", "undefined"})
"""Codecs Python knows that no XML document may use (they decode escapes, or nothing)."""


def check_encoding(data: bytes, what: str = "The autoconfig document") -> None:
    """Refuse a declared encoding that is not a text encoding a document may use.

    Run before parsing any XML from the network; ``what`` names the document in the
    :class:`~mailsettings.AutoconfigError`.
    """
    import codecs

    declared = _DECLARED_ENCODING.match(data)
    if declared is None:
        return
    name = declared[1].decode("ascii", "replace")
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError):  # ValueError: a NUL in the name
        raise AutoconfigError(f"{what} declares an unknown encoding {name!r}.") from None
    if not getattr(info, "_is_text_encoding", True) or info.name in _UNSAFE_CODECS:
        raise AutoconfigError(f"{what} declares {name!r}, which is not a text encoding for XML.")


def _parse_xml(data: bytes | str) -> ET.Element:
    if not isinstance(data, bytes | str):
        raise AutoconfigError(
            f"An autoconfig document must be bytes or str, not {type(data).__name__}."
        )
    if isinstance(data, bytes) or len(data) > MAX_SIZE:
        size = len(data)
    else:
        size = len(data.encode("utf-8", "replace"))
    if size > MAX_SIZE:
        raise AutoconfigError(
            f"The autoconfig document is too large ({size} bytes; the limit is {MAX_SIZE})."
        )
    if isinstance(data, bytes):
        check_encoding(data)
    try:
        root: ET.Element = SafeET.fromstring(
            data, forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
    except defusedxml.DTDForbidden:
        raise AutoconfigError(
            "The autoconfig document has a document type declaration (DTD); "
            "DTDs, entities and external references are refused."
        ) from None
    except defusedxml.DefusedXmlException as error:
        raise AutoconfigError(
            f"The autoconfig document uses a forbidden XML feature: {error}."
        ) from None
    except (ET.ParseError, ValueError, UnicodeError, LookupError) as error:
        # LookupError: an encoding Python does not know ("nonexistent", "hex", "mbcs" ...)
        raise AutoconfigError(
            f"The autoconfig document is not well-formed XML: {str(error)[:200]}."
        ) from None
    if root.tag != "clientConfig":
        raise AutoconfigError(
            f"The document is not an autoconfig file: its root element is <{str(root.tag)[:40]}>, "
            "not <clientConfig>."
        )
    return root


class _Reader:
    """Reads one ``<clientConfig>`` element, collecting warnings."""

    def __init__(self, root: ET.Element, kit: ModelKit) -> None:
        self.root = root
        self.kit = kit
        self.warnings: list[str] = []

    def warn(self, message: str) -> None:
        self.warnings.append(message)

    def provider(self) -> Provider:
        providers = self.root.findall("emailProvider")
        if not providers:
            raise AutoconfigError("The autoconfig document has no <emailProvider> element.")
        if len(providers) > 1:
            self.warn(f"Read the first of {len(providers)} <emailProvider> elements only.")
        element = providers[0]
        domains = self.domains(element)
        fields: dict[str, Any] = {
            "id": self.identifier(element, domains[0]),
            "name": self.name(element),
            "domains": domains,
            "servers": self.servers(element),
            "instructions": self.instructions(element),
        }
        short_name = _text(element.find("displayShortName"))
        if not short_name and _text(element.find("displayNameShort")):
            short_name = _text(element.find("displayNameShort"))
            self.warn("Read the misspelt <displayNameShort> as <displayShortName>.")
        if short_name:
            fields["short_name"] = short_name
        help_url = self.help_url(element)
        if help_url:
            fields["help_url"] = help_url
        oauth2 = self.oauth2(element)
        if oauth2:
            fields["oauth2"] = oauth2
        try:
            return self.kit.provider(**fields)
        except ValidationError as error:
            raise AutoconfigError(f"The autoconfig document is not usable: {error}") from None

    # --- provider fields ---------------------------------------------------

    def domains(self, element: ET.Element) -> tuple[str, ...]:
        domains: dict[str, None] = {}  # linear in the number of elements, whatever they hold
        items = element.findall("domain")
        if len(items) > MAX_DOMAINS:
            self.warn(f"Read the first {MAX_DOMAINS} of {len(items)} <domain> elements.")
        for item in items[:MAX_DOMAINS]:
            raw = _text(item)
            value = raw.lower().rstrip(".")
            try:
                if not value.isascii():
                    from .address import parse_address

                    value = parse_address(value).domain_ascii
                value = self.kit.domain.validate_python(value)
            except (ValueError, ValidationError):
                self.warn(f"Skipped the domain {raw[:80]!r}: not a valid domain name.")
                continue
            if value in domains:
                self.warn(f"Skipped the domain {value!r}: listed twice.")
                continue
            domains[value] = None
        if not domains:
            raise AutoconfigError("The autoconfig document has no valid <domain>.")
        return tuple(domains)

    def identifier(self, element: ET.Element, first_domain: str) -> str:
        raw = element.get("id", "").strip()
        value = raw.lower()
        if _IDENTIFIER.fullmatch(value) and len(value) <= 64:
            if value != raw:
                self.warn(f"Lower-cased the provider id {raw!r} to {value!r}.")
            return value
        self.warn(f"The provider id {raw[:80]!r} is missing or invalid; using {first_domain!r}.")
        return first_domain

    def name(self, element: ET.Element) -> str:
        for tag in ("displayName", "displayShortName"):
            name = _text(element.find(tag))
            if name:
                if tag != "displayName":
                    self.warn("No <displayName>; using <displayShortName> as the name.")
                return name
        value = element.get("id", "").strip()
        if not value:
            raise AutoconfigError("The <emailProvider> has neither a <displayName> nor an id.")
        self.warn("No <displayName>; using the provider id as the name.")
        return value

    def help_url(self, element: ET.Element) -> str | None:
        for item in element.findall("documentation"):
            url = (item.get("url") or "").strip()
            try:
                return self.kit.url.validate_python(url)
            except ValidationError:
                self.warn(f"Skipped <documentation url={url[:80]!r}>: not an http(s) URL.")
        return None

    def oauth2(self, element: ET.Element) -> OAuth2 | None:
        item = element.find("oAuth2")
        if item is None:
            item = self.root.find("oAuth2")
        if item is None:
            return None
        try:
            return self.kit.oauth2(
                issuer=_text(item.find("issuer")).lower(),
                authorization_url=_text(item.find("authURL")),
                token_url=_text(item.find("tokenURL")),
                scopes=tuple(_text(item.find("scope")).split()),
            )
        except ValidationError as error:
            fields = ", ".join(str(e["loc"][0]) for e in error.errors() if e["loc"])
            self.warn(f"Skipped <oAuth2>: missing or invalid {fields or 'fields'}.")
            return None

    def instructions(self, element: ET.Element) -> tuple[Instruction, ...]:
        result = []
        for item in [*element.findall("enable"), *self.root.findall("enable")]:
            instruction = self.instruction(item)
            if instruction is not None:
                result.append(instruction)
        return tuple(result)

    def instruction(self, item: ET.Element) -> Instruction | None:
        untagged: list[str] = []
        localized: dict[str, str] = {}
        for line in item.findall("instruction"):
            text = _text(line)
            lang = (line.get("lang") or "").strip()
            if not text:
                continue
            if not lang:
                untagged.append(text)
            elif not _LANGUAGE.fullmatch(lang):
                self.warn(f"Skipped an <instruction> with the invalid language tag {lang[:20]!r}.")
            elif lang not in localized:
                localized[lang] = text
        if len(untagged) > 1:
            self.warn("Kept the first of several <instruction> elements without a language.")
        english = [text for lang, text in localized.items() if lang.split("-")[0] == "en"]
        candidates = untagged or english or list(localized.values())
        if not candidates:
            self.warn("Skipped an <enable> element without instruction text.")
            return None
        fields: dict[str, Any] = {
            "kind": InstructionKind.ENABLE_ACCESS,
            "text": candidates[0],
            "localized": localized,
        }
        url = (item.get("visiturl") or "").strip()
        if url:
            try:
                fields["url"] = self.kit.url.validate_python(url)
            except ValidationError:
                self.warn(f"Dropped <enable visiturl={url[:80]!r}>: not an http(s) URL.")
        try:
            return self.kit.instruction(**fields)
        except ValidationError as error:
            self.warn(f"Skipped an <enable> element: {error.errors()[0]['msg']}.")
            return None

    # --- servers -----------------------------------------------------------

    def servers(self, element: ET.Element) -> tuple[Server, ...]:
        incoming = [self.server(item, outgoing=False) for item in element.findall("incomingServer")]
        outgoing = [self.server(item, outgoing=True) for item in element.findall("outgoingServer")]
        kept_in = [server for server in incoming if server is not None]
        kept_out = [server for server in outgoing if server is not None]
        if not kept_in and not kept_out:
            raise AutoconfigError(
                "The autoconfig document has no usable IMAP, POP3 or SMTP server"
                + (f" ({'; '.join(self.warnings[-3:])})" if self.warnings else ".")
            )
        if not kept_in:
            self.warn("No usable incomingServer (IMAP or POP3).")
        if not kept_out:
            self.warn("No usable outgoingServer (SMTP).")
        return (*kept_in, *kept_out)

    def placeholders(self, value: str, where: str, field: str) -> str:
        """``value`` with malformed placeholders (``%EMAILADDRESS``) repaired, and a warning."""

        def repair(match: re.Match[str]) -> str:
            before, name, after = match.groups()
            canonical = _PLACEHOLDER_NAMES[name.upper()]
            if not before and not after:
                return match[0]  # a plain word, not a placeholder
            if match[0] != canonical:
                self.warn(
                    f"{where}: repaired the malformed placeholder {match[0]!r} in {field} "
                    f"to {canonical!r}."
                )
            return canonical

        return _PLACEHOLDER_LIKE.sub(repair, value)

    def server(self, item: ET.Element, *, outgoing: bool) -> Server | None:
        tag = item.tag
        kind = (item.get("type") or "").strip().lower()
        raw_host = _text(item.find("hostname")).rstrip(".")
        host = _lower_outside_placeholders(raw_host)
        port_text = _text(item.find("port"))
        where = f"{tag} {_shown(host or kind or '?')}" + (
            f":{_shown(port_text, 10)}" if port_text else ""
        )

        def skip(reason: str) -> None:
            self.warn(f"Skipped {where}: {reason}")

        if outgoing and kind != "smtp":
            skip(f"the type {kind[:20]!r} is not SMTP.")
            return None
        if not outgoing and kind in _EXCHANGE_TYPES:
            skip(
                f"the type {kind[:20]!r} is a Microsoft Exchange protocol (EWS, OWA, Graph or "
                "ActiveSync), which this library does not model."
            )
            return None
        if not outgoing and kind not in ("imap", "pop3"):
            skip(f"the type {kind[:20]!r} is neither IMAP nor POP3.")
            return None
        if not host:
            skip("no <hostname>.")
            return None
        if not _PORT.fullmatch(port_text) or not 1 <= int(port_text) <= 65535:
            skip(f"the port {port_text[:20]!r} is not a number from 1 to 65535.")
            return None
        security = None
        for socket_type in item.findall("socketType"):  # the first supported one, as Thunderbird
            security = _SOCKET_TYPES.get(_text(socket_type).lower())
            if security is not None:
                break
        if security is None:
            skip("no supported <socketType> (SSL, STARTTLS or plain).")
            return None
        auth: list[AuthMethod] = []
        for element in item.findall("authentication"):
            value = _text(element)
            method = _AUTH_METHODS.get(value.lower())
            if method is None:
                self.warn(f"{where}: ignored the unknown authentication {value[:40]!r}.")
            elif method not in auth:
                auth.append(method)
        if not auth:
            skip("no supported <authentication>.")
            return None
        fields: dict[str, Any] = {
            "protocol": Protocol.SMTP if outgoing else Protocol(kind),
            "host": _lower_outside_placeholders(self.placeholders(raw_host, where, "hostname")),
            "port": int(port_text),
            "security": security,
            "auth": tuple(auth),
        }
        username = _text(item.find("username"))
        if username:
            fields["username"] = self.placeholders(username, where, "username")
        elif not set(auth) <= {AuthMethod.NONE, AuthMethod.CLIENT_IP_ADDRESS}:
            self.warn(f"{where}: no <username>; assuming {EMAILADDRESS}.")
        try:
            server = self.kit.server(**fields)
        except ValidationError as error:
            detail = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in error.errors())
            skip(detail if detail.endswith(".") else detail + ".")
            return None
        for restriction in item.findall("restriction"):
            self.warn(
                f"{where}: the file restricts this server to {_text(restriction)[:40]!r} "
                "(usable only from the provider's own network); the model cannot record that."
            )
        for interval in item.iterfind("pop3/checkInterval"):
            self.warn(
                f"{where}: the file asks clients to check for mail at most every "
                f"{_shown(interval.get('minutes') or '?', 10)} minutes; the model cannot record that."
            )
        return server


def read(data: bytes | str, kit: ModelKit, /) -> tuple[Provider, tuple[str, ...]]:
    """The provider an autoconfig document describes, and the warnings of reading it."""
    reader = _Reader(_parse_xml(data), kit)
    provider = reader.provider()
    return provider, tuple(reader.warnings)


# --- writing ---------------------------------------------------------------


def _add(parent: ET.Element, tag: str, text: str | None = None, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attributes)
    if text is not None:
        element.text = text
    return element


def _add_server(parent: ET.Element, server: Server) -> None:
    tag = "outgoingServer" if server.protocol is Protocol.SMTP else "incomingServer"
    element = _add(parent, tag, type=server.protocol.value)
    _add(element, "hostname", server.host)
    _add(element, "port", str(server.port))
    _add(element, "socketType", _SOCKET_NAMES[server.security])
    for method in server.auth:
        _add(element, "authentication", _AUTH_NAMES[method])
    _add(element, "username", server.username)


def write(provider: Provider, /) -> str:
    """``provider`` as an autoconfig document (see :func:`mailsettings.autoconfig.to_autoconfig_xml`)."""
    current = [server for server in provider.servers if not server.legacy]
    if not current or not provider.domains:
        raise AutoconfigError(
            f"Provider {provider.id} has no current servers or no domains to write "
            "as an autoconfig file."
        )
    root = ET.Element("clientConfig", version="1.1")
    element = _add(root, "emailProvider", id=provider.id)
    for domain in provider.domains:
        _add(element, "domain", domain)
    _add(element, "displayName", provider.name)
    if provider.short_name:
        _add(element, "displayShortName", provider.short_name)
    for server in current:
        if server.protocol is not Protocol.SMTP:
            _add_server(element, server)
    for server in current:
        if server.protocol is Protocol.SMTP:
            _add_server(element, server)
    if provider.help_url:
        _add(element, "documentation", url=provider.help_url)
    for instruction in provider.instructions:
        enable = _add(
            element, "enable", **({"visiturl": instruction.url} if instruction.url else {})
        )
        _add(enable, "instruction", instruction.text)
        for lang, text in instruction.localized.items():
            _add(enable, "instruction", text, lang=lang)
    if provider.oauth2:
        oauth2 = _add(root, "oAuth2")
        _add(oauth2, "issuer", provider.oauth2.issuer)
        _add(oauth2, "scope", " ".join(provider.oauth2.scopes))
        _add(oauth2, "authURL", provider.oauth2.authorization_url)
        _add(oauth2, "tokenURL", provider.oauth2.token_url)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"


def is_identifier(value: str) -> bool:
    """Whether ``value`` is usable as a provider id."""
    return len(value) <= 64 and _IDENTIFIER.fullmatch(value) is not None
