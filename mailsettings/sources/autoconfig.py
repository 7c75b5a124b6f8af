"""The live autoconfig sources: the provider's own file, the well-known URL and the ISPDB.

For a domain the store does not know, a lookup with ``autoconfig=True`` tries, in
this order (the order of :data:`mailsettings.sources.SOURCES`):

1. ``autoconfig`` — the provider's autoconfig file,
   ``https://autoconfig.{domain}/mail/config-v1.1.xml?emailaddress={address}``;
2. ``well-known`` — the domain's file, ``https://{domain}/.well-known/autoconfig/mail/config-v1.1.xml``;
3. ``ispdb`` — Thunderbird's ISPDB for the domain, ``{ispdb_url}{domain}``;
4. ``ispdb-mx`` — after the MX records were matched against the store's platforms, the
   ISPDB for the domains derived from the first MX host (:func:`mx_domains`).

Each URL is fetched with :mod:`mailsettings.net.http` and read with
:func:`mailsettings.autoconfig.parse_autoconfig`. A candidate that fails is skipped
with a one-sentence reason (in the "not found" message), and the next is tried.

Trust: a document read over plain HTTP is never trusted; an ISPDB answer over HTTPS
counts like the bundled data; a provider or well-known file over HTTPS is trusted when
it came from the domain itself (the final URL's host is the domain or a subdomain).
OAuth2 settings are kept only for an issuer the store knows, and then with the store's
endpoints. Servers at an IP address or ``localhost`` are dropped unless
``allow_private_networks``.

Building candidates needs no network:

>>> from mailsettings.address import parse_address
>>> address = parse_address("jane@example.org")
>>> settings = {"autoconfig_url": DEFAULT_AUTOCONFIG_URL, "well_known_url": DEFAULT_WELL_KNOWN_URL,
...             "ispdb_url": DEFAULT_ISPDB_URL}
>>> [url for source in SOURCES for url in source.urls(address, settings)]  # doctest: +NORMALIZE_WHITESPACE
['https://autoconfig.example.org/mail/config-v1.1.xml?emailaddress=jane%40example.org',
 'https://example.org/.well-known/autoconfig/mail/config-v1.1.xml',
 'https://autoconfig.thunderbird.net/v1.1/example.org']
>>> mx_domains("example.org", "mx1.mail.hoster.co.uk")
('mail.hoster.co.uk', 'hoster.co.uk')
"""

# No ``from __future__ import annotations``: the option annotations are read at run time.
import string
from collections.abc import Mapping
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from ..address import Address
from ..errors import AutoconfigError, DiscoveryError
from ..models import LookupResult, Source
from ..net import HttpOptions
from ..net.policy import is_public_suffix, registrable_domain, within_domain
from ..option import Option, check_str
from .base import BaseSource, Context

__all__ = [
    "AUTOCONFIG_SOURCES",
    "DEFAULT_AUTOCONFIG_URL",
    "DEFAULT_ISPDB_URL",
    "DEFAULT_WELL_KNOWN_URL",
    "SOURCES",
    "AutoconfigOptions",
    "AutoconfigSource",
    "mx_domains",
]

DEFAULT_AUTOCONFIG_URL = "https://autoconfig.{domain}/mail/config-v1.1.xml?emailaddress={address}"
"""The provider's own file (``{address}`` is URL-encoded; empty for a bare domain)."""
DEFAULT_WELL_KNOWN_URL = "https://{domain}/.well-known/autoconfig/mail/config-v1.1.xml"
DEFAULT_ISPDB_URL = "https://autoconfig.thunderbird.net/v1.1/"
AUTOCONFIG_SOURCES = ("autoconfig", "well-known", "ispdb", "ispdb-mx")
"""The live autoconfig sources, in the order they are tried (``ispdb-mx`` after MX)."""


def _check_sources(name: str, value: object) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, tuple | list | frozenset | set):
        raise TypeError(f"{name} must be a tuple of source names, not {type(value).__name__}")
    unknown = [item for item in value if item not in AUTOCONFIG_SOURCES]
    if unknown:
        raise ValueError(
            f"unknown autoconfig source(s): {', '.join(map(repr, unknown))}; "
            f"known: {', '.join(AUTOCONFIG_SOURCES)}"
        )
    return tuple(item for item in AUTOCONFIG_SOURCES if item in value)


def _template(fields: frozenset[str]) -> Any:
    def check(name: str, value: object) -> str:
        template = check_str(name, value)
        try:
            used = {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
        except ValueError as error:
            raise ValueError(f"{name}: malformed template: {error}") from None
        if not used <= fields:
            raise ValueError(f"{name}: unknown placeholder(s) {sorted(used - fields)}")
        if urlsplit(template).scheme not in ("https", "http"):
            raise ValueError(f"{name} must be an http:// or https:// URL template")
        return template

    return check


class AutoconfigOptions(HttpOptions, total=False):
    """Options of the live autoconfig sources."""

    autoconfig: Annotated[
        bool,
        Option(
            False,
            "ask the provider's autoconfig file, the well-known URL and Thunderbird's ISPDB, "
            "by domain and by MX host (MX platforms are matched only with --mx)",
        ),
    ]
    """Ask the live autoconfig sources: the provider's own file, the well-known URL and
    Thunderbird's ISPDB, by domain and by MX host (default off). The MX hosts are queried
    for the ISPDB by MX host, but matched against the database's platforms only with
    ``mx=True``."""
    autoconfig_sources: Annotated[
        tuple[str, ...],
        Option(AUTOCONFIG_SOURCES, "which autoconfig sources run", check=_check_sources, flag=False),
    ]
    """Which live sources ``autoconfig=True`` asks, of :data:`AUTOCONFIG_SOURCES` (default all)."""
    autoconfig_url: Annotated[
        str,
        Option(
            DEFAULT_AUTOCONFIG_URL,
            "template of the provider's autoconfig URL, with {domain} and {address}",
            check=_template(frozenset({"domain", "address"})),
            metavar="URL",
        ),
    ]
    """Template of the provider's own file, with ``{domain}`` and ``{address}``
    (default :data:`DEFAULT_AUTOCONFIG_URL`)."""
    well_known_url: Annotated[
        str,
        Option(
            DEFAULT_WELL_KNOWN_URL,
            "template of the well-known autoconfig URL, with {domain}",
            check=_template(frozenset({"domain"})),
            metavar="URL",
        ),
    ]
    """Template of the well-known URL, with ``{domain}`` (default :data:`DEFAULT_WELL_KNOWN_URL`)."""
    ispdb_url: Annotated[
        str,
        Option(
            DEFAULT_ISPDB_URL,
            "base URL of the ISPDB (the domain is appended)",
            check=_template(frozenset({"domain"})),
            metavar="URL",
        ),
    ]
    """Base URL of the ISPDB; the domain is appended, or replaces ``{domain}``
    (default :data:`DEFAULT_ISPDB_URL`)."""


def _ispdb_url(settings: Mapping[str, Any], domain: str) -> str:
    base: str = settings["ispdb_url"]
    return base.format(domain=domain) if "{domain}" in base else base + domain


def mx_domains(domain: str, mx_host: str) -> tuple[str, ...]:
    """The domains to ask the ISPDB about for an MX host (Thunderbird's rule).

    First the MX host without its first label, then its registrable domain (Public
    Suffix List); neither when it is ``domain`` itself, a public suffix, or a repeat.

    >>> mx_domains("example.org", "mx01.mail.icloud.com")
    ('mail.icloud.com', 'icloud.com')
    >>> mx_domains("example.org", "mx.example.org")
    ()
    """
    host = mx_host.lower().rstrip(".")
    found: list[str] = []
    for name in (host.partition(".")[2], registrable_domain(host)):
        if name and name != domain and name not in found and not is_public_suffix(name):
            found.append(name)
    return tuple(found)


class AutoconfigSource(BaseSource[AutoconfigOptions]):
    """One live autoconfig source; ``key`` is its name in ``autoconfig_sources``."""

    options = AutoconfigOptions
    switch = "autoconfig"

    def __init__(self, key: str, label: str, kind: Source) -> None:
        self.name = key
        self.label = label
        self.kind = kind

    def enabled(self, options: Mapping[str, Any]) -> bool:
        """On with ``autoconfig=True`` when ``autoconfig_sources`` names it."""
        return bool(options["autoconfig"]) and self.name in options["autoconfig_sources"]

    def urls(
        self, address: Address, settings: Mapping[str, Any], mx_host: str | None = None
    ) -> tuple[str, ...]:
        """The URLs this source fetches, in order (the ISPDB by MX host needs ``mx_host``)."""
        domain = address.domain_ascii
        if self.name == "autoconfig":
            email = "" if address.local is None else quote(f"{address.local}@{domain}", safe="")
            return (settings["autoconfig_url"].format(domain=domain, address=email),)
        if self.name == "well-known":
            return (settings["well_known_url"].format(domain=domain),)
        if self.name == "ispdb":
            return (_ispdb_url(settings, domain),)
        if mx_host is None:
            return ()
        return tuple(_ispdb_url(settings, name) for name in mx_domains(domain, mx_host))

    async def arun(self, ctx: Context[AutoconfigOptions]) -> LookupResult | None:
        """Fetch this source's URLs in turn; the first usable document wins."""
        from ..net.http import FetchError

        mx_host = None
        if self.name == "ispdb-mx":
            hosts = await _mx_hosts(ctx)
            mx_host = hosts[0] if hosts else None
        temporary: list[DiscoveryError] = []
        for url in self.urls(ctx.address, ctx.settings, mx_host):
            where = f"{self.label} {url}"
            try:
                fetched = await ctx.http.fetch(url)
            except FetchError as error:
                ctx.notes.append(f"{where} skipped: {error.reason}")
                if error.temporary:
                    temporary.append(error.as_discovery_error(url))
                continue
            outcome = self._result(
                ctx,
                url=url,
                final_url=fetched.final_url,
                https=fetched.https,
                body=fetched.body,
                mx_host=mx_host,
            )
            if isinstance(outcome, LookupResult):
                return outcome
            ctx.notes.append(f"{where} skipped: {outcome}")
        if temporary:
            raise temporary[0]
        return None

    def _result(
        self,
        ctx: Context[AutoconfigOptions],
        *,
        url: str,
        final_url: str,
        https: bool,
        body: bytes,
        mx_host: str | None,
    ) -> LookupResult | str:
        """A result under the trust rules, or why the document was not usable."""
        from pydantic import ValidationError

        from ..autoconfig import parse_autoconfig

        try:
            document = parse_autoconfig(body)
        except AutoconfigError as error:
            return f"not a usable autoconfig document: {error}"
        provider = document.provider
        warnings = list(document.warnings)
        servers = ctx.usable_servers(provider.servers, warnings)
        if provider.servers and not servers:
            return "the document names only servers at an IP address or a local name"
        update: dict[str, object] = {"servers": servers}
        if provider.oauth2 is not None:
            known = ctx.store.oauth2_issuers().get(provider.oauth2.issuer)
            if known is None:
                warnings.append(
                    f"Dropped the OAuth2 settings (issuer {provider.oauth2.issuer}): a live "
                    "source may only name an OAuth2 issuer known to the bundled data."
                )
            elif known != provider.oauth2:
                warnings.append(
                    f"Used the bundled OAuth2 settings for issuer {known.issuer} instead of "
                    "the document's."
                )
            update["oauth2"] = known
        trusted = True
        host = urlsplit(final_url).hostname or ""
        domain = ctx.address.domain_ascii
        if not https:
            trusted = False
            warnings.append(
                f"Read over plain HTTP ({final_url}): anyone on the network path could have "
                "changed it. Confirm these settings with the user."
            )
        elif mx_host is not None:
            trusted = False
            warnings.append(
                f"Found through the domain's MX host {mx_host}; DNS answers are not "
                "authenticated. Confirm these settings with the user."
            )
        elif self.kind is not Source.ISPDB and not within_domain(host, domain):
            trusted = False
            warnings.append(
                f"Read from {host}, not from {domain} itself. Confirm these settings with the user."
            )
        try:
            return ctx.result(
                provider.model_copy(update=update),
                source=self.kind,
                trusted=trusted,
                warnings=tuple(warnings),
                url=final_url,
                mx_host=mx_host,
            )
        except ValidationError as error:
            return f"the settings are not usable: {error.error_count()} invalid field(s)"


async def _mx_hosts(ctx: Context[Any]) -> tuple[str, ...]:
    from .mx import read_mx_hosts

    return await read_mx_hosts(ctx)


SOURCES = (
    AutoconfigSource("autoconfig", "provider autoconfig", Source.AUTOCONFIG),
    AutoconfigSource("well-known", "well-known autoconfig", Source.WELL_KNOWN),
    AutoconfigSource("ispdb", "ISPDB", Source.ISPDB),
)
"""The sources tried for the address's own domain, before MX."""
ISPDB_MX = AutoconfigSource("ispdb-mx", "ISPDB by MX host", Source.ISPDB)
"""The ISPDB by MX host, after MX."""
