"""The vocabulary of the data model: protocols, TLS modes, methods, statuses and placeholders.

Plain enumerations and constants, imported by :mod:`mailsettings.models` (which is where
users find them) and by modules that must not depend on the models themselves.
"""

from enum import StrEnum

__all__ = [
    "EMAILADDRESS",
    "EMAILDOMAIN",
    "EMAILLOCALPART",
    "SASL_METHODS",
    "AuthMethod",
    "InstructionKind",
    "PasswordKind",
    "Protocol",
    "Security",
    "Source",
    "Status",
]

EMAILDOMAIN = "%EMAILDOMAIN%"
EMAILADDRESS = "%EMAILADDRESS%"
EMAILLOCALPART = "%EMAILLOCALPART%"


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


SASL_METHODS: dict[str, AuthMethod] = {
    "PLAIN": AuthMethod.PASSWORD_CLEARTEXT,
    "LOGIN": AuthMethod.PASSWORD_CLEARTEXT,
    "CRAM-MD5": AuthMethod.PASSWORD_ENCRYPTED,
    "DIGEST-MD5": AuthMethod.PASSWORD_ENCRYPTED,
    "SCRAM-SHA-1": AuthMethod.PASSWORD_ENCRYPTED,
    "SCRAM-SHA-256": AuthMethod.PASSWORD_ENCRYPTED,
    "XOAUTH2": AuthMethod.OAUTH2,
    "OAUTHBEARER": AuthMethod.OAUTH2,
    "GSSAPI": AuthMethod.GSSAPI,
    "NTLM": AuthMethod.NTLM,
}
"""The authentication method each SASL mechanism a server may offer stands for."""


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
    AUTODISCOVER = "autodiscover"
    """The domain's Exchange Autodiscover service (POX)."""
    GUESS = "guess"
    """Common host names of the domain, probed (``guess=True``); never trusted."""
    APPLICATION = "application"
    """A discovery source the application added (``Registry(extra_sources=...)``)."""


class InstructionKind(StrEnum):
    """What an instruction asks the user to do."""

    ENABLE_ACCESS = "enable-access"
    APP_PASSWORD = "app-password"
    AUTHORIZATION_CODE = "authorization-code"
    IMAP_ID = "imap-id"
    OAUTH2 = "oauth2"
    OTHER = "other"
