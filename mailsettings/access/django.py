"""Django's ``EMAIL_*`` settings for an address.

>>> settings = django_email_settings("someone@qq.com", password="the-authorization-code")
>>> for name, value in settings.items():
...     print(name, "=", "..." if name == "EMAIL_HOST_PASSWORD" else repr(value))
EMAIL_HOST = 'smtp.qq.com'
EMAIL_PORT = 465
EMAIL_USE_SSL = True
EMAIL_USE_TLS = False
EMAIL_HOST_USER = 'someone@qq.com'
EMAIL_HOST_PASSWORD = ...

Django itself is not needed: the result is a plain dictionary, e.g. for
``globals().update(...)`` in a settings module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..enums import Security
from ..errors import ProviderNotFoundError

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ..options import LookupOptions

__all__ = ["django_email_settings"]


def django_email_settings(
    address: str, /, *, password: str | None = None, **options: Unpack[LookupOptions]
) -> dict[str, object]:
    """Django's ``EMAIL_*`` settings for sending as ``address``, from :func:`mailsettings.lookup`.

    ``EMAIL_HOST`` and ``EMAIL_PORT`` name the preferred SMTP server; ``EMAIL_USE_SSL``
    is true for implicit TLS and ``EMAIL_USE_TLS`` for STARTTLS (both false for a server
    without TLS, which the result's ``warnings`` point out); ``EMAIL_HOST_USER`` is the
    server's login name for ``address``. ``EMAIL_HOST_PASSWORD`` is there only when
    ``password`` is given: for providers that want an app password or authorization code
    (see the result's ``provider.password``), that is what to pass, not the account
    password. ``options`` are :func:`mailsettings.lookup`'s.

    Raises what :func:`mailsettings.lookup` raises, and
    :class:`~mailsettings.ProviderNotFoundError` (with ``provider`` set) when the
    provider offers no SMTP server.

    >>> django_email_settings("someone@gmail.com")["EMAIL_PORT"]
    465
    """
    from ..registry import default_registry

    if password is not None and not isinstance(password, str):
        raise TypeError(f"password must be a str, not {type(password).__name__}")
    result = default_registry().lookup(address, **options)
    server = result.smtp
    if server is None:
        raise ProviderNotFoundError(
            f"{result.provider.name} offers no SMTP server for {result.domain}: mail cannot "
            "be sent through it.",
            domain=result.domain_ascii,
            provider=result.provider,
        )
    settings: dict[str, object] = {
        "EMAIL_HOST": server.host,
        "EMAIL_PORT": server.port,
        "EMAIL_USE_SSL": server.security is Security.SSL,
        "EMAIL_USE_TLS": server.security is Security.STARTTLS,
        "EMAIL_HOST_USER": server.login_for(address),
    }
    if password is not None:
        settings["EMAIL_HOST_PASSWORD"] = password
    return settings
