"""django_email_settings: Django's EMAIL_* settings from a lookup (bundled data and SRV on dnsmasq)."""

from __future__ import annotations

import pytest
from dns_servers import Dnsmasq

from mailsettings import InvalidAddressError, ProviderNotFoundError
from mailsettings.access.django import django_email_settings


def test_qq_mail_uses_implicit_tls_and_the_full_address() -> None:
    settings = django_email_settings("123456@qq.com", password="abcdefghijklmnop")
    assert settings == {
        "EMAIL_HOST": "smtp.qq.com",
        "EMAIL_PORT": 465,
        "EMAIL_USE_SSL": True,
        "EMAIL_USE_TLS": False,
        "EMAIL_HOST_USER": "123456@qq.com",
        "EMAIL_HOST_PASSWORD": "abcdefghijklmnop",
    }


def test_gmail_without_a_password_leaves_the_password_out() -> None:
    settings = django_email_settings("Jane.Doe@gmail.com")
    assert settings == {
        "EMAIL_HOST": "smtp.gmail.com",
        "EMAIL_PORT": 465,
        "EMAIL_USE_SSL": True,
        "EMAIL_USE_TLS": False,
        "EMAIL_HOST_USER": "Jane.Doe@gmail.com",
    }
    assert not (settings["EMAIL_USE_SSL"] and settings["EMAIL_USE_TLS"])  # Django refuses both


def test_a_test_domain_found_by_srv_records_uses_starttls(
    start_dnsmasq: type[Dnsmasq],
) -> None:
    names = start_dnsmasq(
        [
            "--srv-host=_submission._tcp.sends.test,smtp.sends.test,587,0,0",
            "--srv-host=_imaps._tcp.sends.test,imap.sends.test,993,0,0",
            "--srv-host=_imaps._tcp.readonly.test,imap.readonly.test,993,0,0",
        ]
    )
    options = {"srv": True, "resolver": names.resolver(), "timeout": 5.0}
    settings = django_email_settings("jane@sends.test", password="secret", **options)  # type: ignore[arg-type]
    assert settings == {
        "EMAIL_HOST": "smtp.sends.test",
        "EMAIL_PORT": 587,
        "EMAIL_USE_SSL": False,
        "EMAIL_USE_TLS": True,
        "EMAIL_HOST_USER": "jane@sends.test",
        "EMAIL_HOST_PASSWORD": "secret",
    }
    with pytest.raises(ProviderNotFoundError, match="no SMTP server") as caught:
        django_email_settings("jane@readonly.test", **options)  # type: ignore[arg-type]
    assert caught.value.provider is not None
    assert caught.value.domain == "readonly.test"


def test_bad_input_is_a_clear_error() -> None:
    with pytest.raises(InvalidAddressError):
        django_email_settings("qq.com")  # a domain: there is no login name
    with pytest.raises(TypeError, match="password"):
        django_email_settings("jane@qq.com", password=123)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="unknown lookup option"):
        django_email_settings("jane@qq.com", retries=2)  # type: ignore[call-arg]
