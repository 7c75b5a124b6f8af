"""The live autoconfig sources: the provider's own file, the well-known URL and the ISPDB.

For a domain the bundled database does not know, a lookup with ``autoconfig=True``
tries, in this order (see :data:`DOMAIN_SOURCES` and :func:`mx_candidates`):

1. the provider's autoconfig file,
   ``https://autoconfig.{domain}/mail/config-v1.1.xml?emailaddress={address}``;
2. the domain's well-known file, ``https://{domain}/.well-known/autoconfig/mail/config-v1.1.xml``;
3. Thunderbird's ISPDB for the domain, ``{ispdb_url}{domain}``;
4. (after the MX records were checked against the bundled platforms) the ISPDB for the
   domains derived from the MX host: the host without its first label, then its
   registrable domain, each skipped when it is the address's own domain.

Each candidate is fetched with :mod:`mailsettings.sources.http` (private addresses,
redirects, size and time are policed there) and parsed with
:func:`mailsettings.autoconfig.parse_autoconfig`. A candidate that fails becomes a
:class:`Skipped` with a one-sentence reason, and the next candidate is tried.

Trust: a document read over plain HTTP is never trusted; an ISPDB answer over HTTPS
counts like the bundled data; a provider or well-known file over HTTPS is trusted when
it came from the domain itself (the final URL's host is the domain or a subdomain).
OAuth2 settings are kept only for an issuer the bundled data knows, and then with the
bundled endpoints.

The registry runs these as steps of its discovery chain
(:mod:`mailsettings.sources.base`): :data:`AUTOCONFIG_STEP`, :data:`WELL_KNOWN_STEP` and
:data:`ISPDB_STEP` before ``mx``, :data:`ISPDB_MX_STEP` after it. They read their options
from ``context.state["autoconfig_options"]`` (:func:`options_for`), collect the reasons
of skipped candidates in ``context.notes``, and raise
:class:`~mailsettings.DiscoveryError` (:class:`~mailsettings.DiscoveryTimeoutError`)
when a candidate failed only temporarily and none answered. :func:`first_result` and
:func:`fetch_autoconfig` (and their async twins) are the same without a context.

Building candidates needs no network library:

>>> from mailsettings.address import parse_address
>>> address = parse_address("jane@example.org")
>>> [c.url for c in candidates(address, AutoconfigOptions())]  # doctest: +NORMALIZE_WHITESPACE
['https://autoconfig.example.org/mail/config-v1.1.xml?emailaddress=jane%40example.org',
 'https://example.org/.well-known/autoconfig/mail/config-v1.1.xml',
 'https://autoconfig.thunderbird.net/v1.1/example.org']
>>> [c.url for c in mx_candidates(address, "mx1.mail.hoster.co.uk", AutoconfigOptions())]
['https://autoconfig.thunderbird.net/v1.1/mail.hoster.co.uk', 'https://autoconfig.thunderbird.net/v1.1/hoster.co.uk']
"""

from __future__ import annotations

import ipaddress
import string
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, TypeVar
from urllib.parse import quote, urlsplit

from ..errors import AutoconfigError, DiscoveryError, DiscoveryTimeoutError
from ..models import BRIDGE_HOST, LookupResult, OAuth2, Provider, Source
from ..options import AUTOCONFIG_SOURCES as ALL_SOURCES
from ..options import (
    DEFAULT_AUTOCONFIG_URL,
    DEFAULT_ISPDB_URL,
    DEFAULT_WELL_KNOWN_URL,
)

if TYPE_CHECKING:
    import ssl

    import dns.asyncresolver
    import dns.resolver

    from ..address import Address
    from .base import Context, Step
    from .http import Fetched, FetchError, FetchOptions

__all__ = [
    "ALL_SOURCES",
    "AUTOCONFIG_STEP",
    "DEFAULT_AUTOCONFIG_URL",
    "DEFAULT_ISPDB_URL",
    "DEFAULT_WELL_KNOWN_URL",
    "DOMAIN_SOURCES",
    "ISPDB_MX_STEP",
    "ISPDB_STEP",
    "WELL_KNOWN_STEP",
    "AutoconfigOptions",
    "Candidate",
    "Skipped",
    "afetch_autoconfig",
    "afirst_result",
    "bundled_oauth2",
    "candidates",
    "fetch_autoconfig",
    "first_result",
    "mx_candidates",
    "mx_domains",
    "options_for",
]

AUTOCONFIG: Final = "autoconfig"
WELL_KNOWN: Final = "well-known"
ISPDB: Final = "ispdb"
ISPDB_MX: Final = "ispdb-mx"
DOMAIN_SOURCES: Final = (AUTOCONFIG, WELL_KNOWN, ISPDB)
"""The sources tried for the address's domain, in order (before the MX check)."""

_KIND = {AUTOCONFIG: Source.AUTOCONFIG, WELL_KNOWN: Source.WELL_KNOWN, ISPDB: Source.ISPDB}
_LABELS = {
    Source.AUTOCONFIG: "provider autoconfig",
    Source.WELL_KNOWN: "well-known autoconfig",
    Source.ISPDB: "ISPDB",
}
_FIELDS = frozenset({"domain", "address"})


def _check_template(name: str, template: str, fields: frozenset[str]) -> None:
    try:
        used = {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
    except ValueError as error:
        raise ValueError(f"{name}: malformed template: {error}") from None
    if not used <= fields:
        raise ValueError(f"{name}: unknown placeholder(s) {sorted(used - fields)}")
    scheme = urlsplit(template).scheme
    if scheme not in ("https", "http"):
        raise ValueError(f"{name} must be an http:// or https:// URL template")


@dataclass(frozen=True, kw_only=True)
class AutoconfigOptions:
    """Which live sources run, where they are, and how carefully they are fetched.

    URL templates use ``{domain}`` (the ASCII domain) and, for the provider's file,
    ``{address}`` (the URL-encoded address; empty when only a domain was given).
    ``ispdb_url`` is a base URL the domain is appended to, or a template with ``{domain}``.
    """

    sources: tuple[str, ...] = ALL_SOURCES
    """Which of ``autoconfig``, ``well-known``, ``ispdb``, ``ispdb-mx`` run (order is fixed)."""
    autoconfig_url: str = DEFAULT_AUTOCONFIG_URL
    well_known_url: str = DEFAULT_WELL_KNOWN_URL
    ispdb_url: str = DEFAULT_ISPDB_URL
    allow_http: bool = False
    """Allow plain-HTTP URLs (their results are never trusted)."""
    allow_private_networks: bool = False
    """Allow connections to loopback, private and other non-public addresses."""
    allowed_networks: tuple[str, ...] = ()
    """Non-public networks to allow even so (an intranet autoconfig server)."""
    ssl_context: ssl.SSLContext | None = None
    """TLS settings and trusted CAs (default: the system's)."""
    request_timeout: float = 5.0
    """The most one URL may take, redirects included (the lookup's budget may end it sooner)."""
    max_bytes: int = 1 << 20
    max_redirects: int = 3

    def __post_init__(self) -> None:
        object.__setattr__(self, "sources", tuple(self.sources))
        object.__setattr__(self, "allowed_networks", tuple(self.allowed_networks))
        for network in self.allowed_networks:
            ipaddress.ip_network(network, strict=False)  # ValueError now, not at fetch time
        unknown = set(self.sources) - set(ALL_SOURCES)
        if unknown:
            raise ValueError(f"unknown live source(s) {sorted(unknown)}; known: {ALL_SOURCES}")
        _check_template("autoconfig_url", self.autoconfig_url, _FIELDS)
        _check_template("well_known_url", self.well_known_url, frozenset({"domain"}))
        _check_template("ispdb_url", self.ispdb_url, frozenset({"domain"}))
        if not self.request_timeout > 0 or self.max_bytes < 1 or self.max_redirects < 0:
            raise ValueError("request_timeout and max_bytes must be positive")

    def fetch_options(self) -> FetchOptions:
        """The options for :func:`mailsettings.sources.http.fetch` (imports httpx)."""
        from .http import FetchOptions

        return FetchOptions(
            allow_http=self.allow_http,
            allow_private_networks=self.allow_private_networks,
            allowed_networks=self.allowed_networks,
            ssl_context=self.ssl_context,
            timeout=self.request_timeout,
            max_bytes=self.max_bytes,
            max_redirects=self.max_redirects,
        )


# --- candidates --------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """One URL a live source would fetch."""

    source: Source
    url: str
    mx_host: str | None = None
    """For the ISPDB by MX host: the MX host it was derived from."""

    @property
    def label(self) -> str:
        """How messages name the source, e.g. ``ISPDB (from MX host mx.example.net)``."""
        label = _LABELS[self.source]
        return f"{label} (from MX host {self.mx_host})" if self.mx_host else label


@dataclass(frozen=True)
class Skipped:
    """A candidate that gave no result, and why."""

    candidate: Candidate
    reason: str
    temporary: bool = False
    """Trying again later may succeed (a timeout, a 5xx status, a failing DNS server)."""
    timed_out: bool = False

    def __str__(self) -> str:
        return f"{self.candidate.label} {self.candidate.url} skipped: {self.reason}"


def _ispdb_url(options: AutoconfigOptions, domain: str) -> str:
    base = options.ispdb_url
    return base.format(domain=domain) if "{domain}" in base else base + domain


def candidates(
    address: Address, options: AutoconfigOptions, /, *, sources: Iterable[str] | None = None
) -> tuple[Candidate, ...]:
    """The candidates for the address's own domain, in order.

    ``sources`` narrows :attr:`AutoconfigOptions.sources` further (e.g. ``["ispdb"]``).
    """
    wanted = set(options.sources if sources is None else sources) & set(options.sources)
    domain = address.domain_ascii
    email = "" if address.local is None else quote(f"{address.local}@{domain}", safe="")
    urls = {
        AUTOCONFIG: lambda: options.autoconfig_url.format(domain=domain, address=email),
        WELL_KNOWN: lambda: options.well_known_url.format(domain=domain),
        ISPDB: lambda: _ispdb_url(options, domain),
    }
    return tuple(Candidate(_KIND[key], urls[key]()) for key in DOMAIN_SOURCES if key in wanted)


def mx_domains(domain: str, mx_host: str) -> tuple[str, ...]:
    """The domains to ask the ISPDB about for an MX host (Thunderbird's rule).

    First the MX host without its first label, then its registrable domain (Public
    Suffix List); neither when it is ``domain`` itself, a public suffix, or a repeat.

    >>> mx_domains("example.org", "mx01.mail.icloud.com")
    ('mail.icloud.com', 'icloud.com')
    >>> mx_domains("example.org", "mx.example.org")
    ()
    """
    from .http import is_public_suffix, registrable_domain

    host = mx_host.lower().rstrip(".")
    found: list[str] = []
    for name in (host.partition(".")[2], registrable_domain(host)):
        if name and name != domain and name not in found and not is_public_suffix(name):
            found.append(name)
    return tuple(found)


def mx_candidates(
    address: Address, mx_host: str, options: AutoconfigOptions, /
) -> tuple[Candidate, ...]:
    """The ISPDB candidates derived from the domain's (most preferred) MX host."""
    if ISPDB_MX not in options.sources:
        return ()
    return tuple(
        Candidate(Source.ISPDB, _ispdb_url(options, domain), mx_host=mx_host.lower().rstrip("."))
        for domain in mx_domains(address.domain_ascii, mx_host)
    )


# --- results -----------------------------------------------------------------------


def bundled_oauth2(providers: Iterable[Provider]) -> dict[str, OAuth2]:
    """The OAuth2 settings of reviewed providers, by issuer: what live sources may use."""
    return {p.oauth2.issuer: p.oauth2 for p in providers if p.oauth2 is not None}


def _within(host: str, domain: str) -> bool:
    return host == domain or host.endswith("." + domain)


def _skip(candidate: Candidate, error: FetchError) -> Skipped:
    from .http import FetchTimeoutError

    timed_out = isinstance(error, FetchTimeoutError)
    return Skipped(candidate, error.reason, error.temporary or timed_out, timed_out)


def _result(
    candidate: Candidate,
    address: Address,
    fetched: Fetched,
    oauth2_issuers: Mapping[str, OAuth2],
) -> LookupResult | Skipped:
    """Turn a fetched document into a result under the trust rules (shared by both twins)."""
    from pydantic import ValidationError

    from ..autoconfig import parse_autoconfig

    try:
        document = parse_autoconfig(fetched.body)
    except AutoconfigError as error:
        return Skipped(candidate, f"not a usable autoconfig document: {error}")
    provider = document.provider
    warnings = list(document.warnings)
    servers = tuple(s for s in provider.servers if s.host != BRIDGE_HOST)
    if len(servers) != len(provider.servers):
        warnings.append(
            f"Ignored servers at {BRIDGE_HOST}: a live source may not name the local host."
        )
        if not servers:
            return Skipped(candidate, f"the document names only servers at {BRIDGE_HOST}")
    update: dict[str, object] = {"servers": servers}
    if provider.oauth2 is not None:
        known = oauth2_issuers.get(provider.oauth2.issuer)
        if known is None:
            warnings.append(
                f"Dropped the OAuth2 settings (issuer {provider.oauth2.issuer}): a live source "
                "may only name an OAuth2 issuer known to the bundled data."
            )
        elif known != provider.oauth2:
            warnings.append(
                f"Used the bundled OAuth2 settings for issuer {known.issuer} instead of the "
                "document's."
            )
        update["oauth2"] = known
    trusted = True
    host = urlsplit(fetched.final_url).hostname or ""
    if not fetched.https:
        trusted = False
        warnings.append(
            f"Read over plain HTTP ({fetched.final_url}): anyone on the network path could "
            "have changed it. Confirm these settings with the user."
        )
    elif candidate.mx_host is not None:
        trusted = False
        warnings.append(
            f"Found through the domain's MX host {candidate.mx_host}; DNS answers are not "
            "authenticated. Confirm these settings with the user."
        )
    elif candidate.source is not Source.ISPDB and not _within(host, address.domain_ascii):
        trusted = False
        warnings.append(
            f"Read from {host}, not from {address.domain_ascii} itself. Confirm these "
            "settings with the user."
        )
    try:
        provider = provider.model_copy(update=update)
        return LookupResult.create(
            provider,
            domain=address.domain,
            domain_ascii=address.domain_ascii,
            source=candidate.source,
            trusted=trusted,
            warnings=tuple(warnings),
            url=fetched.final_url,
            mx_host=candidate.mx_host,
        )
    except ValidationError as error:
        return Skipped(
            candidate, f"the settings are not usable: {error.error_count()} invalid field(s)"
        )


def fetch_autoconfig(
    candidate: Candidate,
    address: Address,
    /,
    *,
    options: AutoconfigOptions,
    resolver: dns.resolver.Resolver | None = None,
    deadline: float | None = None,
    oauth2_issuers: Mapping[str, OAuth2] | None = None,
) -> LookupResult | Skipped:
    """Fetch and read one candidate; never raises for network or document trouble.

    ``deadline`` is a :func:`time.monotonic` time that ends the fetch (the lookup's
    budget); ``oauth2_issuers`` are the bundled OAuth2 settings by issuer (see
    :func:`bundled_oauth2`; default: the bundled database's).
    """
    from .http import FetchError, fetch

    try:
        fetched = fetch(
            candidate.url, options=options.fetch_options(), resolver=resolver, deadline=deadline
        )
    except FetchError as error:
        return _skip(candidate, error)
    return _result(candidate, address, fetched, _issuers(oauth2_issuers))


async def afetch_autoconfig(
    candidate: Candidate,
    address: Address,
    /,
    *,
    options: AutoconfigOptions,
    resolver: dns.asyncresolver.Resolver | None = None,
    deadline: float | None = None,
    oauth2_issuers: Mapping[str, OAuth2] | None = None,
) -> LookupResult | Skipped:
    """Asynchronous twin of :func:`fetch_autoconfig`."""
    from .http import FetchError, afetch

    try:
        fetched = await afetch(
            candidate.url, options=options.fetch_options(), resolver=resolver, deadline=deadline
        )
    except FetchError as error:
        return _skip(candidate, error)
    return _result(candidate, address, fetched, _issuers(oauth2_issuers))


def _issuers(given: Mapping[str, OAuth2] | None) -> Mapping[str, OAuth2]:
    if given is not None:
        return given
    from .. import default_registry  # its providers are loaded once and kept

    return bundled_oauth2(default_registry().providers())


def _out_of_time(candidate: Candidate, deadline: float | None) -> Skipped | None:
    if deadline is not None and deadline <= time.monotonic():
        return Skipped(candidate, "not tried: the time budget ran out", True, True)
    return None


def first_result(
    tried: Sequence[Candidate],
    address: Address,
    /,
    *,
    options: AutoconfigOptions,
    resolver: dns.resolver.Resolver | None = None,
    deadline: float | None = None,
    oauth2_issuers: Mapping[str, OAuth2] | None = None,
) -> tuple[LookupResult | None, tuple[Skipped, ...]]:
    """Try candidates in order until one gives a result; return it and the skipped ones."""
    issuers = _issuers(oauth2_issuers)
    skipped: list[Skipped] = []
    for candidate in tried:
        outcome = _out_of_time(candidate, deadline) or fetch_autoconfig(
            candidate,
            address,
            options=options,
            resolver=resolver,
            deadline=deadline,
            oauth2_issuers=issuers,
        )
        if isinstance(outcome, LookupResult):
            return outcome, tuple(skipped)
        skipped.append(outcome)
    return None, tuple(skipped)


async def afirst_result(
    tried: Sequence[Candidate],
    address: Address,
    /,
    *,
    options: AutoconfigOptions,
    resolver: dns.asyncresolver.Resolver | None = None,
    deadline: float | None = None,
    oauth2_issuers: Mapping[str, OAuth2] | None = None,
) -> tuple[LookupResult | None, tuple[Skipped, ...]]:
    """Asynchronous twin of :func:`first_result`."""
    issuers = _issuers(oauth2_issuers)
    skipped: list[Skipped] = []
    for candidate in tried:
        outcome = _out_of_time(candidate, deadline) or await afetch_autoconfig(
            candidate,
            address,
            options=options,
            resolver=resolver,
            deadline=deadline,
            oauth2_issuers=issuers,
        )
        if isinstance(outcome, LookupResult):
            return outcome, tuple(skipped)
        skipped.append(outcome)
    return None, tuple(skipped)


# --- the discovery-chain steps (mailsettings.sources.base) -------------------------------


def options_for(context: Context) -> AutoconfigOptions:
    """The lookup's live-source options: ``context.state["autoconfig_options"]``, or the defaults."""
    found = context.state.get("autoconfig_options")
    return found if isinstance(found, AutoconfigOptions) else AutoconfigOptions()


R = TypeVar("R")


def _as_resolver(resolver: object, kind: type[R]) -> R | None:
    """The lookup's dnspython resolver as the sync or async kind (same settings)."""
    import dns.resolver

    if isinstance(resolver, kind):
        return resolver
    if isinstance(resolver, dns.resolver.BaseResolver):
        twin = kind(configure=False)  # type: ignore[call-arg]
        vars(twin).update(vars(resolver))  # both kinds keep the same plain attributes
        return twin
    return None


def _plan(context: Context, key: str) -> tuple[AutoconfigOptions, tuple[Candidate, ...]]:
    options = options_for(context)
    if key not in options.sources:
        return options, ()
    if key == ISPDB_MX:
        hosts = context.state.get("mx_hosts")
        if not isinstance(hosts, Sequence) or not hosts or not isinstance(hosts[0], str):
            return options, ()
        return options, mx_candidates(context.address, hosts[0], options)
    return options, candidates(context.address, options, sources=(key,))


def _conclude(
    context: Context, result: LookupResult | None, skipped: tuple[Skipped, ...]
) -> LookupResult | None:
    if result is not None:
        context.expires = 0  # an HTTP answer has no TTL: never reuse it from the chain's cache
        return result
    context.notes.extend(str(s) for s in skipped)
    temporary = [s for s in skipped if s.temporary]
    if temporary:
        error = DiscoveryTimeoutError if temporary[0].timed_out else DiscoveryError
        raise error(str(temporary[0]))
    return None


def _registry_issuers(context: Context) -> Mapping[str, OAuth2]:
    """The registry's trusted OAuth2 issuers, computed once per registry."""
    registry = context.registry
    return registry._shared("autoconfig.oauth2", lambda: bundled_oauth2(registry.providers()))


def _make_step(key: str, label: str) -> Step:
    from .base import Step

    def run(context: Context) -> LookupResult | None:
        import dns.resolver

        if key == ISPDB_MX and key in options_for(context).sources:
            from .dns import mx_hosts

            mx_hosts(context)  # cached; already there when the MX step ran
        options, planned = _plan(context, key)
        if not planned:
            return None
        result, skipped = first_result(
            planned,
            context.address,
            options=options,
            resolver=_as_resolver(context.resolver, dns.resolver.Resolver),
            deadline=context.deadline,
            oauth2_issuers=_registry_issuers(context),
        )
        return _conclude(context, result, skipped)

    async def arun(context: Context) -> LookupResult | None:
        import dns.asyncresolver

        if key == ISPDB_MX and key in options_for(context).sources:
            from .dns import amx_hosts

            await amx_hosts(context)  # cached; already there when the MX step ran
        options, planned = _plan(context, key)
        if not planned:
            return None
        result, skipped = await afirst_result(
            planned,
            context.address,
            options=options,
            resolver=_as_resolver(context.resolver, dns.asyncresolver.Resolver),
            deadline=context.deadline,
            oauth2_issuers=_registry_issuers(context),
        )
        return _conclude(context, result, skipped)

    return Step(label, run, arun)


AUTOCONFIG_STEP = _make_step(AUTOCONFIG, "provider autoconfig")
"""The provider's own file: key ``autoconfig`` of :data:`mailsettings.sources.base.SOURCE_ORDER`."""
WELL_KNOWN_STEP = _make_step(WELL_KNOWN, "well-known autoconfig")
"""The domain's ``/.well-known/autoconfig/`` file: key ``well-known``."""
ISPDB_STEP = _make_step(ISPDB, "ISPDB")
"""Thunderbird's ISPDB for the domain: key ``ispdb``."""
ISPDB_MX_STEP = _make_step(ISPDB_MX, "ISPDB by MX host")
"""The ISPDB for the domains derived from the first MX host: key ``ispdb-mx`` (after ``mx``)."""
