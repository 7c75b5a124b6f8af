"""The typed data model: servers, providers and lookup results.

Every model is an immutable pydantic model: ``model_dump(mode="json")`` gives
its JSON form and ``model_json_schema()`` its JSON Schema.

>>> server = Server(protocol="imap", host="imap.example.com", port=993, security="ssl")
>>> server.login_for("Jane.Doe@example.com")
'Jane.Doe@example.com'
>>> server.model_dump(mode="json")["auth"]
['password-cleartext']
"""

import functools
import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import date
from typing import Annotated, Any, ClassVar, Generic, NamedTuple, TypeVar, get_args
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    TypeAdapter,
    ValidationError,
    ValidatorFunctionWrapHandler,
    computed_field,
    model_serializer,
    model_validator,
)
from pydantic_core import core_schema

from .enums import (
    EMAILADDRESS,
    EMAILDOMAIN,
    EMAILLOCALPART,
    AuthMethod,
    InstructionKind,
    PasswordKind,
    Protocol,
    Security,
    Source,
    Status,
)

__all__ = [
    "EMAILADDRESS",
    "EMAILDOMAIN",
    "EMAILLOCALPART",
    "AuthMethod",
    "Check",
    "Deviation",
    "FrozenMap",
    "Instruction",
    "InstructionKind",
    "LookupResult",
    "ModelKit",
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


# --- field types -----------------------------------------------------------

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

K = TypeVar("K")
V = TypeVar("V")


class FrozenMap(Mapping[K, V], Generic[K, V]):
    """A read-only, hashable mapping: what models hold where JSON has an object.

    It compares equal to any mapping with the same items, and its JSON form and JSON
    Schema are those of a plain object.

    >>> names = Provider(id="qq.com", name="QQ Mail", domains=("qq.com",),
    ...     localized_names={"zh-CN": "QQ邮箱"}, status="no-standard-access").localized_names
    >>> names["zh-CN"], names == {"zh-CN": "QQ邮箱"}, hash(names) == hash(FrozenMap(names))
    ('QQ邮箱', True, True)
    >>> names["zh-CN"] = "changed"
    Traceback (most recent call last):
    ...
    TypeError: 'FrozenMap' object does not support item assignment
    """

    __slots__ = ("_data", "_hash")

    def __init__(self, items: Mapping[K, V] | Iterable[tuple[K, V]] = (), /) -> None:
        self._data: dict[K, V] = dict(items)
        self._hash: int | None = None

    def __getitem__(self, key: K) -> V:
        return self._data[key]

    def __iter__(self) -> Iterator[K]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def get(self, key: K, default: Any = None) -> Any:  # noqa: D102 - Mapping.get, faster
        return self._data.get(key, default)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FrozenMap):
            return self._data == other._data
        if isinstance(other, Mapping):
            return self._data == dict(other.items())
        return NotImplemented

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(frozenset(self._data.items()))
        return self._hash

    def __repr__(self) -> str:
        return f"FrozenMap({self._data!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenMap, (self._data,))

    def __copy__(self) -> "FrozenMap[K, V]":
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> "FrozenMap[K, V]":
        return self

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        key, value = get_args(source) or (Any, Any)
        as_dict = handler.generate_schema(dict[key, value])  # type: ignore[valid-type]
        return core_schema.no_info_after_validator_function(
            cls,
            as_dict,
            serialization=core_schema.plain_serializer_function_ser_schema(
                _plain_dict, return_schema=as_dict
            ),
        )


def _plain_dict(value: "FrozenMap[Any, Any]") -> dict[Any, Any]:
    return dict(value)


LanguageTag = Annotated[str, Field(pattern=f"^{_LANGUAGE.pattern}$")]
LocalizedText = FrozenMap[LanguageTag, Text]
"""Texts keyed by language tag (``zh-CN``); read-only, JSON form an object."""


class _Model(BaseModel):
    """Immutable, hashable and equal by value; JSON and pickle round-trip to an equal object.

    ``model_dump_json(context={"compact": True})`` (and ``model_dump`` with that context)
    leaves out fields at their defaults and what :attr:`_compact_omits` names: a short
    form for storage and transport that still validates back.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)
    _compact_omits: ClassVar[frozenset[str]] = frozenset()

    # No return annotation: with one, pydantic would take it as the JSON Schema of the
    # serialized form instead of the fields' schema.
    @model_serializer(mode="wrap")
    def _serialize(  # type: ignore[no-untyped-def]
        self, handler: SerializerFunctionWrapHandler, info: SerializationInfo
    ):
        data = handler(self)
        context = info.context
        if isinstance(context, Mapping) and context.get("compact") and isinstance(data, dict):
            return self._compacted(data)
        return data

    def _compacted(self, data: dict[str, Any]) -> dict[str, Any]:
        """``data`` without the fields the compact form leaves out."""
        fields = type(self).model_fields
        return {
            name: value
            for name, value in data.items()
            if name not in self._compact_omits
            and not (
                name in fields
                and getattr(self, name) == fields[name].get_default(call_default_factory=True)
            )
        }


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
        """Return the login name for ``address``.

        Raises :class:`~mailsettings.InvalidAddressError` for anything that is not an
        e-mail address (a bare domain included).

        >>> Server(protocol="pop3", host="pop.example.com", port=995, security="ssl",
        ...        username="%EMAILLOCALPART%").login_for("jane@example.com")
        'jane'
        """
        from .address import parse_address

        parsed = parse_address(address)
        if parsed.local is None:
            from .errors import InvalidAddressError

            raise InvalidAddressError(f"{address[:40]!r} is a domain, not an e-mail address.")
        local, domain = parsed.local, parsed.domain
        values = {EMAILADDRESS: f"{local}@{domain}", EMAILLOCALPART: local, EMAILDOMAIN: domain}
        return _PLACEHOLDER.sub(lambda match: values.get(match[0], match[0]), self.username)


_SECURITY_RANK = {Security.SSL: 0, Security.STARTTLS: 1, Security.PLAIN: 2}


def preference_key(server: Server) -> tuple[bool, int]:
    """Sort key: current before legacy, then implicit TLS, STARTTLS, plain (RFC 8314)."""
    return server.legacy, _SECURITY_RANK[server.security]


# --- providers -------------------------------------------------------------


class MxRule(_Model):
    """An MX host pattern that identifies a provider or hosting platform."""

    pattern: Annotated[str, Field(pattern=f"^{_DOMAIN_SUFFIX.pattern}$", max_length=253)] = Field(
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
        default_factory=FrozenMap,
        description="The instruction in other languages, keyed by language tag (``zh-CN``).",
    )
    url: HttpURL | None = Field(None, description="The provider's page that explains it.")

    _compact_omits: ClassVar[frozenset[str]] = frozenset({"localized"})

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

    id: Annotated[str, Field(pattern=f"^{_IDENTIFIER.pattern}$", max_length=64)] = Field(
        description="Stable identifier, usually the provider's main domain (``qq.com``)."
    )
    name: Text = Field(description="Name in English.")
    localized_names: LocalizedText = Field(
        default_factory=FrozenMap,
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
    status_since: Annotated[str, Field(pattern=f"^{_PARTIAL_DATE.pattern}$")] | None = Field(
        None, description="When the status began (``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``)."
    )
    provenance: tuple[Check, ...] = Field(
        (),
        description="Which references the facts were checked against (left out of the compact form).",
    )
    deviations: tuple[Deviation, ...] = Field(
        (),
        description="Where, and why, the data differs from a reference on purpose (left out "
        "of the compact form).",
    )

    _compact_omits: ClassVar[frozenset[str]] = frozenset(
        {"provenance", "deviations", "mx", "localized_names"}
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
        :func:`mailsettings.autoconfig.parse_autoconfig`.
        """
        from ._autoconfig_xml import read

        return read(data, model_kit())[0]

    def to_autoconfig_xml(self) -> str:
        """The provider as a Thunderbird autoconfig file (``config-v1.1.xml``), e.g. to serve it.

        See :func:`mailsettings.autoconfig.to_autoconfig_xml` for what the format can hold.
        """
        from ._autoconfig_xml import write

        return write(self)


# --- results ---------------------------------------------------------------


_PREFERRED = frozenset(protocol.value for protocol in Protocol)
"""The computed fields of a result that name its preferred server of each protocol."""


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

    _compact_omits: ClassVar[frozenset[str]] = frozenset(_PREFERRED)

    def _compacted(self, data: dict[str, Any]) -> dict[str, Any]:
        compact = super()._compacted(data)
        provider = compact.get("provider")
        if isinstance(provider, dict):  # the result's servers stand for the provider's
            compact["provider"] = {k: v for k, v in provider.items() if k != "servers"}
        return compact

    @model_validator(mode="wrap")
    @classmethod
    def _accept_preferred(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        """Accept the dumped ``imap``/``pop3``/``smtp`` when they match ``servers``."""
        given: dict[str, Any] = {}
        if isinstance(data, Mapping) and not _PREFERRED.isdisjoint(data):
            data = dict(data)
            given = {name: data.pop(name) for name in _PREFERRED if name in data}
        provider = data.get("provider") if isinstance(data, Mapping) else None
        if isinstance(provider, Mapping) and "servers" not in provider and "servers" in data:
            data = {**data, "provider": {**provider, "servers": data["servers"]}}  # compact form
        result = handler(data)
        for name, value in given.items():
            try:
                same = (value if value is None else Server.model_validate(value)) == getattr(
                    result, name
                )
            except ValidationError:
                same = False
            if not same:
                raise ValueError(f"{name} is not the preferred {name} server of servers")
        return result

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
        validate: bool = True,
        **extra: Any,
    ) -> "LookupResult":
        """Build a result: fill host templates, order servers, add the standard warnings.

        ``servers`` defaults to the provider's; ``extra`` sets ``mx_host`` or ``url``.
        ``validate=False`` skips validation, for a result built only from models that are
        already valid and values the library computed.
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
                    "set the security mode explicitly." + (f" {best.note}" if best.note else "")
                )
        build = cls if validate else cls.model_construct
        return build(
            provider=provider,
            servers=ordered,
            domain=domain,
            domain_ascii=domain_ascii,
            source=source,
            trusted=trusted,
            warnings=tuple(notes),
            **extra,
        )


class ModelKit(NamedTuple):
    """The model classes and field validators a reader of another format builds with.

    Readers of other formats (:mod:`mailsettings._autoconfig_xml`) take them as an
    argument rather than importing this module, which keeps the import graph acyclic.
    """

    provider: type[Provider]
    server: type[Server]
    instruction: type[Instruction]
    oauth2: type[OAuth2]
    domain: TypeAdapter[str]
    url: TypeAdapter[str]


@functools.cache
def model_kit() -> ModelKit:
    """The :class:`ModelKit` of this module (built once)."""
    return ModelKit(
        Provider, Server, Instruction, OAuth2, TypeAdapter(DomainName), TypeAdapter(HttpURL)
    )
