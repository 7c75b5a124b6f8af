"""Parsing and normalizing what users type: an e-mail address or a bare domain.

>>> parse_address(" Jane.Doe＠ＱＱ。com. ")
Address(local='Jane.Doe', domain='qq.com', domain_ascii='qq.com')
>>> parse_address("bücher.example").domain_ascii
'xn--bcher-kva.example'
>>> parse_address("a@b@c.com")
Traceback (most recent call last):
...
mailsettings.errors.InvalidAddressError: 'a@b@c.com' has more than one '@'; quoted local parts are not supported.
"""

from __future__ import annotations

import functools
import re
from typing import NamedTuple

from .errors import InvalidAddressError

__all__ = ["Address", "parse_address"]

MAX_INPUT = 320  # 64 (local part) + 1 + 255 (domain), before trimming white space
_MAX_SHOWN = 40
NORMALIZED_DOMAINS = 4096
"""Domain spellings whose normalization is remembered (least recently used dropped first)."""

# Full-width forms typed with CJK input methods.
FULLWIDTH = str.maketrans({"＠": "@", "﹫": "@", "。": ".", "．": ".", "｡": "."})
# Characters RFC 5322 forbids unquoted in a local part, plus white space.
_LOCAL_SPECIALS = frozenset('"(),:;<>@[\\] \t')
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_DOT_ATOM = rf"{_ATEXT}+(?:\.{_ATEXT}+)*"
_ASCII_LOCAL = re.compile(rf"(?=\S{{1,64}}\Z){_DOT_ATOM}")
typed_local_part = re.compile(rf"\s*{_ASCII_LOCAL.pattern}").fullmatch
"""Match a local part that is a plain ASCII dot-atom of at most 64 characters, after
white space a user may have typed before it: the common case, checked in one call."""
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_DOMAIN_CHARACTERS = re.compile(r"[a-z0-9.-]*")
_ASCII_DOMAIN = re.compile(rf"(?:{_LABEL}\.)+{_LABEL}")


class Address(NamedTuple):
    """A parsed address. ``local`` is ``None`` when only a domain was given."""

    local: str | None
    domain: str
    """The domain in Unicode form (UTS 46 normalized)."""
    domain_ascii: str
    """The domain in ASCII (punycode) form."""

    def __str__(self) -> str:
        return self.domain if self.local is None else f"{self.local}@{self.domain}"


def _shown(text: str) -> str:
    """A short, safe rendering of user input for error messages."""
    return repr(text if len(text) <= _MAX_SHOWN else text[:_MAX_SHOWN] + "…")


def is_plain_local_part(local: str) -> bool:
    """Fast check for the common case: an ASCII dot-atom of at most 64 characters."""
    return _ASCII_LOCAL.fullmatch(local) is not None


def _check_local(local: str, original: str) -> None:
    if is_plain_local_part(local):
        return
    if not local:
        raise InvalidAddressError(f"{_shown(original)} has an empty local part before '@'.")
    if local.startswith('"'):
        raise InvalidAddressError(f"{_shown(original)}: quoted local parts are not supported.")
    if not local.isprintable() or any(char in _LOCAL_SPECIALS for char in local):
        raise InvalidAddressError(
            f"{_shown(original)} has white space, a control or a special character in its local part."
        )
    if local.startswith(".") or local.endswith(".") or ".." in local:
        raise InvalidAddressError(f"{_shown(original)} has a misplaced '.' in its local part.")
    if len(local.encode("utf-8", "surrogatepass")) > 64:
        raise InvalidAddressError(f"{_shown(original)} has a local part longer than 64 octets.")


def normalize_domain(domain: str, original: str) -> tuple[str, str]:
    """Return ``(unicode, ascii)`` forms of a domain, validated with UTS 46 (non-transitional).

    Each spelling's outcome is remembered (at most :data:`NORMALIZED_DOMAINS` of them), so
    a known domain typed in upper case or in Unicode is normalized once.
    """
    outcome = _normalized(domain)
    if isinstance(outcome, str):
        raise InvalidAddressError(f"{_shown(original)}{outcome}")
    return outcome


@functools.lru_cache(maxsize=NORMALIZED_DOMAINS)
def _normalized(domain: str) -> tuple[str, str] | str:
    """The ``(unicode, ascii)`` forms, or what is wrong (to follow the input in a message)."""
    if domain.endswith("."):
        domain = domain[:-1]
    if not domain:
        return " has no domain."
    if domain.startswith("["):
        return ": IP address literals are not supported."
    lowered = domain.lower()
    if lowered.isascii() and "--" not in lowered:
        if len(lowered) > 253 or not _ASCII_DOMAIN.fullmatch(lowered):
            return _bad_domain(lowered)
        ascii_domain = unicode_domain = lowered
    else:
        forms = _idna(domain)
        if isinstance(forms, str):
            return forms
        ascii_domain, unicode_domain = forms
    if ascii_domain.rpartition(".")[2].isdigit():
        return ": IP addresses are not mail domains."
    return unicode_domain, ascii_domain


def _bad_domain(domain: str) -> str:
    if not _DOMAIN_CHARACTERS.fullmatch(domain):
        return " has characters that are not allowed in a domain."
    if "." not in domain:
        return " is not a mail domain: it needs at least two labels."
    if len(domain) > 253 or any(len(label) > 63 for label in domain.split(".")):
        return " has a domain or label that is too long."
    return " has an invalid domain."


def _idna(domain: str) -> tuple[str, str] | str:
    import idna  # imported only for internationalized domains

    if not domain.isprintable():
        return " has a control or invisible formatting character in its domain."
    try:
        ascii_domain = idna.encode(domain, uts46=True, std3_rules=True, transitional=False).decode()
        unicode_domain = idna.decode(ascii_domain)
    except (idna.IDNAError, UnicodeError, ValueError, IndexError):
        return _bad_domain(domain.lower())
    if len(ascii_domain) > 253 or not _ASCII_DOMAIN.fullmatch(ascii_domain):
        return _bad_domain(ascii_domain)
    return ascii_domain, unicode_domain


def parse_address(text: str) -> Address:
    """Parse an e-mail address or a bare domain, or raise :class:`InvalidAddressError`.

    Case-insensitive in the domain, surrounding white space and a trailing dot are
    tolerated, full-width ``＠`` and ``。`` are mapped, and the domain is normalized with
    UTS 46 so its Unicode and punycode forms are the same domain.
    """
    if not isinstance(text, str):
        shown = f"the type {text.__name__}" if isinstance(text, type) else type(text).__name__
        raise InvalidAddressError(f"expected an address as str, got {shown}")
    stripped = text.strip()
    if len(text) > MAX_INPUT + 64 or len(stripped) > MAX_INPUT:
        raise InvalidAddressError(f"input of {len(text)} characters is too long for an address.")
    if not stripped.isascii():
        stripped = stripped.translate(FULLWIDTH)
    if not stripped:
        raise InvalidAddressError("the address is empty.")
    local, at, domain = stripped.rpartition("@")
    if not at:
        unicode_domain, ascii_domain = normalize_domain(stripped, text)
        return Address(None, unicode_domain, ascii_domain)
    if "@" in local:
        raise InvalidAddressError(
            f"{_shown(text)} has more than one '@'; quoted local parts are not supported."
        )
    _check_local(local, text)
    unicode_domain, ascii_domain = normalize_domain(domain, text)
    return Address(local, unicode_domain, ascii_domain)
