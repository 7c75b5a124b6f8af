"""The typed data model: servers, providers and lookup results.

Every model is an immutable pydantic model: ``model_dump(mode="json")`` gives
its JSON form and ``model_json_schema()`` its JSON Schema.

>>> server = Server(protocol="imap", host="imap.example.com", port=993, security="ssl")
>>> server.login_for("Jane.Doe@example.com")
'Jane.Doe@example.com'
>>> server.model_dump(mode="json")["auth"]
['password-cleartext']
"""

import re
from datetime import date
from enum import StrEnum
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    computed_field,
    model_validator,
)

__all__ = [
    "AuthMethod",
    "Check",
    "Deviation",
    "Instruction",
    "InstructionKind",
    "LookupResult",
    "MxRule",
    "OAuth2",
    "PasswordKind",
    "Protocol",
    "Provider",
    "Security",
    "Server",
    "Source",
    "Status",
]


class Protocol(StrEnum):
    """A mail access protocol."""

    IMAP = "imap"
    POP3 = "pop3"
    SMTP = "smtp"


class Security(StrEnum):
    """How a connection is protected.

    ``ssl`` is implicit TLS from the first byte (ports 993, 995, 465),
    ``starttls`` upgrades a plain connection (ports 143, 110, 587), and
    ``plain`` is unencrypted.
    """

    SSL = "ssl"
    STARTTLS = "starttls"
    PLAIN = "plain"


class AuthMethod(StrEnum):
    """An authentication method a server accepts (the names of Thunderbird's autoconfig)."""

    PASSWORD_CLEARTEXT = "password-cleartext"
    """A password sent as is (inside TLS): SASL PLAIN or LOGIN, IMAP LOGIN, POP3 USER/PASS."""
    PASSWORD_ENCRYPTED = "password-encrypted"
    """A challenge-response password method such as CRAM-MD5 or APOP."""
    OAUTH2 = "oauth2"
    """SASL XOAUTH2 or OAUTHBEARER with an OAuth 2.0 access token."""
    NTLM = "ntlm"
    GSSAPI = "gssapi"
    CLIENT_IP_ADDRESS = "client-ip-address"
    """The server trusts the client's network address (no login)."""
    TLS_CLIENT_CERT = "tls-client-cert"
    SMTP_AFTER_POP = "smtp-after-pop"
    """Sending is allowed for a while after a POP3 login."""
    NONE = "none"


class Status(StrEnum):
    """Whether, and how, a provider can be reached with a standard mail client."""

    ACTIVE = "active"
    DISCONTINUED = "discontinued"
    NO_STANDARD_ACCESS = "no-standard-access"
    """No IMAP, POP3 or SMTP for ordinary clients (e.g. only a web or app client)."""
    NEEDS_BRIDGE = "needs-bridge"
    """Standard protocols only through a local bridge program the user installs."""


class PasswordKind(StrEnum):
    """Which secret a client must use to log in."""

    ACCOUNT = "account"
    """The account's ordinary password."""
    APP_PASSWORD = "app-password"
    """An app-specific password created in the account's security settings."""
    AUTHORIZATION_CODE = "authorization-code"
    """A client authorization code (授权码) generated in the web settings."""
    OAUTH2_ONLY = "oauth2-only"
    """No password login at all: the client must use OAuth2."""


class Source(StrEnum):
    """Where a lookup result came from."""

    BUNDLED = "bundled"
    """The database shipped with this package (or a registry's own providers)."""
    MX = "mx"
    """The domain's MX records named a platform listed in the database."""
    SRV = "srv"
    """The domain's SRV records (RFC 6186, RFC 8314)."""
    AUTOCONFIG = "autoconfig"
    """The provider's own ``autoconfig.<domain>`` file."""
    WELL_KNOWN = "well-known"
    """The domain's ``/.well-known/autoconfig/`` file."""
    ISPDB = "ispdb"
    """Thunderbird's ISPDB."""


class InstructionKind(StrEnum):
    """What an instruction asks the user to do."""

    ENABLE_ACCESS = "enable-access"
    APP_PASSWORD = "app-password"
    AUTHORIZATION_CODE = "authorization-code"
    IMAP_ID = "imap-id"
    OAUTH2 = "oauth2"
    OTHER = "other"


# --- field types -----------------------------------------------------------

EMAILDOMAIN = "%EMAILDOMAIN%"
EMAILADDRESS = "%EMAILADDRESS%"
EMAILLOCALPART = "%EMAILLOCALPART%"
_PLACEHOLDER = re.compile(r"%[A-Z]*%?")
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOST = re.compile(rf"(?:{_LABEL}\.)+(?!\d+$){_LABEL}")
_HOST_TEMPLATE = re.compile(rf"(?:(?:{_LABEL}\.)*%EMAILDOMAIN%|{_HOST.pattern})")
_DOMAIN_SUFFIX = re.compile(rf"(?:{_LABEL}\.)*{_LABEL}")
_IDENTIFIER = re.compile(r"[a-z0-9][a-z0-9.-]*[a-z0-9]")
_LANGUAGE = re.compile(r"[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})*")
_PARTIAL_DATE = re.compile(r"\d{4}(?:-\d{2}(?:-\d{2})?)?")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_SPACE_OR_CONTROL = re.compile(r"[\x00-\x20\x7f]")


def _check_http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError("must be an absolute http:// or https:// URL")
    if _SPACE_OR_CONTROL.search(value):
        raise ValueError("must not contain white space or control characters")
    return value


BRIDGE_HOST = "127.0.0.1"
"""The only address literal allowed as a host: a local bridge (status ``needs-bridge``)."""


def _check_host(value: str) -> str:
    if value == BRIDGE_HOST:
        return value
    if len(value) > 253 or not _HOST_TEMPLATE.fullmatch(value):
        if EMAILADDRESS in value or EMAILLOCALPART in value:
            raise ValueError(
                "a host name may use %EMAILDOMAIN% only, never the address or local part"
            )
        raise ValueError(f"{value[:80]!r} is not a valid lower-case host name or template")
    return value


def _check_domain(value: str) -> str:
    if len(value) > 253 or not _HOST.fullmatch(value):
        raise ValueError(f"{value[:80]!r} is not a lower-case ASCII (punycode) domain")
    return value


def _check_username(value: str) -> str:
    for placeholder in _PLACEHOLDER.findall(value):
        if placeholder not in (EMAILADDRESS, EMAILLOCALPART, EMAILDOMAIN):
            raise ValueError(f"unknown or malformed placeholder {placeholder!r} in user name")
    if not value or not value.isprintable():
        raise ValueError("a user name template must be non-empty printable text")
    return value


def _check_text(value: str) -> str:
    if not value.strip() or _CONTROL.search(value):
        raise ValueError("must be non-empty text without control characters")
    return value


HttpURL = Annotated[
    str, AfterValidator(_check_http_url), Field(json_schema_extra={"format": "uri"})
]
"""An absolute ``http`` or ``https`` URL, kept as a string."""
HostName = Annotated[str, AfterValidator(_check_host)]
"""A lower-case ASCII host name, or a template such as ``mail.%EMAILDOMAIN%``."""
DomainName = Annotated[str, AfterValidator(_check_domain)]
"""A lower-case ASCII domain (internationalized domains in their ``xn--`` form)."""
Text = Annotated[str, AfterValidator(_check_text)]
LocalizedText = dict[Annotated[str, Field(pattern=_LANGUAGE.pattern)], Text]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --- servers ---------------------------------------------------------------

_PORT_SECURITY = {
    **dict.fromkeys((993, 995, 465), Security.SSL),
    **dict.fromkeys((143, 110, 587), Security.STARTTLS),
}


class Server(_Model):
    """One server of a provider: where to connect and how to log in."""

    protocol: Protocol = Field(description="The protocol spoken on this server.")
    host: HostName = Field(
        description="Host name; in a provider's data it may be a template using ``%EMAILDOMAIN%``."
    )
    port: int = Field(ge=1, le=65535, description="TCP port.")
    security: Security = Field(description="Implicit TLS, STARTTLS or none.")
    auth: tuple[AuthMethod, ...] = Field(
        default=(AuthMethod.PASSWORD_CLEARTEXT,),
        min_length=1,
        description="Accepted authentication methods, most preferred first.",
    )
    username: Annotated[str, AfterValidator(_check_username)] = Field(
        EMAILADDRESS,
        description="Login-name rule: ``%EMAILADDRESS%`` (the full address), ``%EMAILLOCALPART%`` (the part before ``@``), or a template combining them with ``%EMAILDOMAIN%``.",
    )
    legacy: bool = Field(False, description="An old server kept for reference; never preferred.")
    legacy_reason: Text | None = Field(
        None, description="Why the server is legacy (required when ``legacy`` is true)."
    )
    note: Text | None = Field(
        None,
        description="What a client must know that port and security do not say, e.g. why a "
        "provider runs implicit TLS on port 587.",
    )

    @model_validator(mode="after")
    def _legacy_has_reason(self) -> "Server":
        if self.legacy != (self.legacy_reason is not None):
            raise ValueError("legacy_reason is required for, and only for, legacy servers")
        return self

    @property
    def unusual_security(self) -> bool:
        """Whether the TLS mode is not the one the well-known port implies.

        >>> Server(protocol="smtp", host="smtp.example.net", port=587,
        ...        security="ssl").unusual_security
        True
        """
        usual = _PORT_SECURITY.get(self.port)
        return usual is not None and (usual is Security.SSL) != (self.security is Security.SSL)

    @property
    def is_template(self) -> bool:
        """Whether the host depends on the address's domain."""
        return EMAILDOMAIN in self.host

    def for_domain(self, domain_ascii: str) -> "Server":
        """Return this server with ``%EMAILDOMAIN%`` in its host replaced by ``domain_ascii``.

        >>> Server(protocol="smtp", host="mail.%EMAILDOMAIN%", port=465,
        ...        security="ssl").for_domain("example.org").host
        'mail.example.org'
        """
        if EMAILDOMAIN not in self.host:
            return self
        return self.model_copy(update={"host": self.host.replace(EMAILDOMAIN, domain_ascii)})

    def login_for(self, address: str) -> str:
        """Return the login name for ``address`` (already a valid address).

        >>> Server(protocol="pop3", host="pop.example.com", port=995, security="ssl",
        ...        username="%EMAILLOCALPART%").login_for("jane@example.com")
        'jane'
        """
        local, _, domain = address.rpartition("@")
        values = {EMAILADDRESS: address, EMAILLOCALPART: local, EMAILDOMAIN: domain}
        return _PLACEHOLDER.sub(lambda match: values.get(match[0], match[0]), self.username)


_SECURITY_RANK = {Security.SSL: 0, Security.STARTTLS: 1, Security.PLAIN: 2}


def preference_key(server: Server) -> tuple[bool, int]:
    """Sort key: current before legacy, then implicit TLS, STARTTLS, plain (RFC 8314)."""
    return server.legacy, _SECURITY_RANK[server.security]


# --- providers -------------------------------------------------------------


class MxRule(_Model):
    """An MX host pattern that identifies a provider or hosting platform."""

    pattern: Annotated[str, Field(pattern=_DOMAIN_SUFFIX.pattern, max_length=253)] = Field(
        description="A host suffix: ``mxbiz1.qq.com`` matches that host, ``qq.com`` matches any host ending in ``.qq.com``."
    )
    servers: tuple[Server, ...] | None = Field(
        None,
        description="Servers to use instead of the provider's when this pattern matched (regional platforms).",
    )

    def matches(self, mx_host: str) -> bool:
        """Whether ``mx_host`` (lower-case, without trailing dot) is covered by the pattern.

        >>> MxRule(pattern="mx.zoho.eu").matches("mx2.mx.zoho.eu")
        True
        >>> MxRule(pattern="zoho.eu").matches("evilzoho.eu")
        False
        """
        return mx_host == self.pattern or mx_host.endswith("." + self.pattern)


class Instruction(_Model):
    """Something the user must do before a mail client can log in."""

    kind: InstructionKind = Field(
        InstructionKind.OTHER,
        description="What the instruction is about, for programs that act on it.",
    )
    text: Text = Field(description="The instruction in English.")
    localized: LocalizedText = Field(
        default_factory=dict,
        description="The instruction in other languages, keyed by language tag (``zh-CN``).",
    )
    url: HttpURL | None = Field(None, description="The provider's page that explains it.")

    def text_for(self, lang: str | None) -> str:
        """The instruction in language ``lang`` (a BCP 47 tag such as ``zh-CN``), else in English.

        The exact tag is tried first, then shorter ones (RFC 4647 "lookup"), ignoring case.

        >>> step = Instruction(text="Turn IMAP on.", localized={"zh-CN": "开启 IMAP 服务。"})
        >>> step.text_for("zh-cn"), step.text_for("zh-CN-x-test"), step.text_for("fr")
        ('开启 IMAP 服务。', '开启 IMAP 服务。', 'Turn IMAP on.')
        """
        from .languages import lookup_language

        tag = lookup_language(self.localized.keys(), lang)
        return self.text if tag is None else self.localized.get(tag, self.text)


class OAuth2(_Model):
    """Public OAuth 2.0 endpoints for mail access."""

    issuer: DomainName = Field(
        description="The authorization server's host name, e.g. ``accounts.google.com``."
    )
    authorization_url: HttpURL
    token_url: HttpURL
    scopes: tuple[str, ...] = Field(min_length=1, description="Scopes a mail client requests.")


class Check(_Model):
    """A record that the provider's facts were compared with a reference."""

    reference: Text = Field(
        description="What was compared with: ``provider documentation``, ``ispdb``, ``deltachat``, ..."
    )
    revision: str | None = Field(
        None, description="The reference's version, e.g. the commit of a database snapshot."
    )
    url: HttpURL | None = Field(None, description="Where the reference can be read.")
    checked: date | None = Field(
        None, description="When the comparison was made; absent when unknown."
    )


class Deviation(_Model):
    """Why this project's data differs from a reference on purpose."""

    reference: Text = Field(
        description="The reference that says otherwise (``ispdb``, ``deltachat``)."
    )
    protocol: Protocol | None = Field(
        None, description="The protocol concerned, or none for the whole entry."
    )
    reason: Text = Field(description="Why: reference outdated, provider moved, ...")


class Provider(_Model):
    """A mail provider or hosting platform and its servers."""

    id: Annotated[str, Field(pattern=_IDENTIFIER.pattern, max_length=64)] = Field(
        description="Stable identifier, usually the provider's main domain (``qq.com``)."
    )
    name: Text = Field(description="Name in English.")
    localized_names: LocalizedText = Field(
        default_factory=dict,
        description="Names in other languages, keyed by language tag (``zh-CN``: ``QQ邮箱``).",
    )
    short_name: Text | None = Field(
        None,
        description="A short name for narrow displays (autoconfig's ``displayShortName``), e.g. ``GMail``.",
    )
    country: Annotated[str, Field(pattern=r"^[A-Z]{2}$")] | None = Field(
        None,
        description="ISO 3166-1 code of the country whose users the provider mainly serves; "
        "absent for international services.",
    )
    domains: tuple[DomainName, ...] = Field(
        (),
        description="Mail domains served, in ASCII form. Hosting platforms found by MX may have none.",
    )
    servers: tuple[Server, ...] = Field(
        (), description="All servers, in the order the data lists them."
    )
    mx: tuple[MxRule, ...] = Field((), description="MX host patterns that identify the provider.")
    password: PasswordKind = Field(
        PasswordKind.ACCOUNT, description="Which secret a mail client logs in with."
    )
    instructions: tuple[Instruction, ...] = Field(
        (), description="What the user must do first, in order."
    )
    help_url: HttpURL | None = Field(None, description="The provider's help page for mail clients.")
    oauth2: OAuth2 | None = Field(
        None, description="Public OAuth2 endpoints, where the provider offers OAuth2."
    )
    status: Status = Status.ACTIVE
    status_note: Text | None = Field(
        None, description="What the status means for users, e.g. when a service closed."
    )
    status_since: Annotated[str, Field(pattern=_PARTIAL_DATE.pattern)] | None = Field(
        None, description="When the status began (``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``)."
    )
    provenance: tuple[Check, ...] = Field(
        (), description="Which references the facts were checked against."
    )
    deviations: tuple[Deviation, ...] = Field(
        (), description="Where, and why, the data differs from a reference on purpose."
    )

    @model_validator(mode="after")
    def _consistent(self) -> "Provider":
        if len(set(self.domains)) != len(self.domains):
            raise ValueError(f"provider {self.id}: a domain is listed twice")
        standard = self.status in (Status.ACTIVE, Status.DISCONTINUED)
        if standard and not self.servers:
            raise ValueError(f"provider {self.id}: an {self.status} provider needs servers")
        if not self.domains and not self.mx:
            raise ValueError(f"provider {self.id}: needs domains or MX patterns")
        return self

    @property
    def names(self) -> tuple[str, ...]:
        """The English name, then each different localized name.

        >>> Provider(id="example.hk", name="Example Mail", domains=("example.hk",),
        ...          localized_names={"zh-HK": "例子郵件", "zh-TW": "例子郵件"},
        ...          status="no-standard-access", status_note="Web mail only.").names
        ('Example Mail', '例子郵件')
        """
        return tuple(dict.fromkeys([self.name, *self.localized_names.values()]))

    def name_for(self, lang: str | None) -> str:
        """The name in language ``lang`` (a BCP 47 tag such as ``zh-CN``), else in English.

        The exact tag is tried first, then shorter ones (RFC 4647 "lookup": ``zh-Hans-CN``,
        ``zh-Hans``, ``zh``), ignoring case; ``None`` or an unknown language gives ``name``.

        >>> qq = Provider(id="qq.com", name="QQ Mail", domains=("qq.com",),
        ...               localized_names={"zh-CN": "QQ邮箱"},
        ...               status="no-standard-access", status_note="Example.")
        >>> qq.name_for("zh-CN"), qq.name_for("ZH-cn"), qq.name_for("zh"), qq.name_for(None)
        ('QQ邮箱', 'QQ邮箱', 'QQ Mail', 'QQ Mail')
        """
        from .languages import lookup_language

        tag = lookup_language(self.localized_names.keys(), lang)
        return self.name if tag is None else self.localized_names.get(tag, self.name)

    def servers_for(self, protocol: Protocol) -> tuple[Server, ...]:
        """The provider's servers of one protocol, in preference order."""
        return tuple(
            sorted((s for s in self.servers if s.protocol == protocol), key=preference_key)
        )

    @classmethod
    def from_autoconfig_xml(cls, data: bytes | str, /) -> "Provider":
        """The provider described by a Thunderbird autoconfig file (``config-v1.1.xml``).

        Raises :class:`~mailsettings.AutoconfigError` for a malformed, unsafe or too large
        file. What was repaired or skipped on the way is in the ``warnings`` of
        :func:`mailsettings.autoconfig.parse_autoconfig`, which this calls.
        """
        from .autoconfig import parse_autoconfig

        return parse_autoconfig(data).provider

    def to_autoconfig_xml(self) -> str:
        """The provider as a Thunderbird autoconfig file (``config-v1.1.xml``), e.g. to serve it.

        See :func:`mailsettings.autoconfig.to_autoconfig_xml` for what the format can hold.
        """
        from .autoconfig import to_autoconfig_xml

        return to_autoconfig_xml(self)


# --- results ---------------------------------------------------------------


def _preferred(servers: tuple[Server, ...], protocol: Protocol) -> Server | None:
    for server in servers:  # already in preference order
        if server.protocol == protocol and not server.legacy:
            return server
    return None


class LookupResult(_Model):
    """The answer to a lookup: a provider and its servers for one domain.

    Build one with :meth:`create`, which orders the servers and adds warnings.
    """

    provider: Provider = Field(
        description="The provider, from the database or synthesized from what discovery found."
    )
    servers: tuple[Server, ...] = Field(
        min_length=1,
        description="Every server for this domain (templates filled in), most preferred first.",
    )
    domain: str = Field(description="The matched domain in Unicode form.")
    domain_ascii: str = Field(description="The matched domain in ASCII (punycode) form.")
    source: Source = Field(description="Where the answer came from.")
    trusted: bool = Field(
        description="Whether the answer can be relied on without asking the user to confirm it (the database, or a source the domain itself controls over a secure channel); an untrusted result says why in ``warnings``."
    )
    warnings: tuple[str, ...] = Field(
        (), description="Things a careful client should tell the user or check."
    )
    mx_host: str | None = Field(
        None, description="The MX host that identified the provider, for MX-based results."
    )
    url: HttpURL | None = Field(
        None, description="The URL the settings were read from, for autoconfig-based results."
    )

    @computed_field  # type: ignore[prop-decorator]
    @property
    def imap(self) -> Server | None:
        """The preferred IMAP server, or ``None``."""
        return _preferred(self.servers, Protocol.IMAP)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def pop3(self) -> Server | None:
        """The preferred POP3 server, or ``None``."""
        return _preferred(self.servers, Protocol.POP3)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def smtp(self) -> Server | None:
        """The preferred SMTP server, or ``None``."""
        return _preferred(self.servers, Protocol.SMTP)

    @classmethod
    def create(
        cls,
        provider: Provider,
        *,
        domain: str,
        domain_ascii: str,
        source: Source,
        trusted: bool,
        servers: tuple[Server, ...] | None = None,
        warnings: tuple[str, ...] = (),
        **extra: Any,
    ) -> "LookupResult":
        """Build a result: fill host templates, order servers, add the standard warnings.

        ``servers`` defaults to the provider's; ``extra`` sets ``mx_host`` or ``url``.
        """
        chosen = provider.servers if servers is None else servers
        ordered = tuple(sorted((s.for_domain(domain_ascii) for s in chosen), key=preference_key))
        notes = list(warnings)
        if provider.status is not Status.ACTIVE:
            notes.append(
                f"Provider status is {provider.status.value}"
                + (f": {provider.status_note}" if provider.status_note else ".")
            )
        for protocol in Protocol:
            best = _preferred(ordered, protocol)
            if best is None:
                continue
            if best.security is Security.PLAIN:
                notes.append(
                    f"{protocol.value.upper()} is offered only without encryption "
                    f"({best.host}:{best.port}); passwords travel in clear text."
                )
            elif best.unusual_security:
                notes.append(
                    f"{protocol.value.upper()} on {best.host}:{best.port} uses "
                    f"{'implicit TLS' if best.security is Security.SSL else 'STARTTLS'}, "
                    "not what that port usually means; "
                    "set the security mode explicitly."
                    + (f" {best.note}" if best.note else "")
                )
        return cls(
            provider=provider,
            servers=ordered,
            domain=domain,
            domain_ascii=domain_ascii,
            source=source,
            trusted=trusted,
            warnings=tuple(notes),
            **extra,
        )
