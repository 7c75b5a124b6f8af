"""Language tags: picking a translation (RFC 4647 "lookup") and the user's language.

>>> lookup_language(["zh-CN", "ja"], "zh-cn-x-private")
'zh-CN'
>>> lookup_language(["zh-CN", "ja"], "zh") is None  # a range never matches a longer tag
True
>>> language_from_environment({"LANG": "zh_CN.UTF-8"})
'zh-CN'
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

__all__ = ["is_language_tag", "language_from_environment", "lookup_language"]

_TAG = re.compile(r"[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*")


def is_language_tag(text: str) -> bool:
    """Whether ``text`` has the shape of a BCP 47 language tag (``zh-CN``, ``pt-BR``, ``en``).

    >>> is_language_tag("zh-Hant-TW"), is_language_tag("zh_CN"), is_language_tag("")
    (True, False, False)
    """
    return _TAG.fullmatch(text) is not None


def lookup_language(tags: Iterable[str], wanted: str | None) -> str | None:
    """The tag of ``tags`` that RFC 4647 "lookup" picks for the language range ``wanted``.

    The whole range is tried first, then shorter ones, one subtag less each time (a
    single-letter subtag left at the end goes with the one after it), ignoring case.
    Returns ``None`` when nothing matches; the caller then uses its default language.

    >>> lookup_language(["de", "zh-TW"], "zh-TW"), lookup_language(["de"], "DE-ch")
    ('zh-TW', 'de')
    >>> lookup_language(["zh-Hant"], "zh-Hant-CN-x-private1-private2")
    'zh-Hant'
    """
    if not wanted:
        return None
    available = {tag.lower(): tag for tag in tags}
    candidate = wanted.replace("_", "-").lower()
    while candidate:
        found = available.get(candidate)
        if found is not None:
            return found
        candidate = candidate.rpartition("-")[0]
        if len(candidate) > 2 and candidate[-2] == "-":  # ends with a singleton such as "-x"
            candidate = candidate[:-2]
    return None


def language_from_environment(environ: Mapping[str, str]) -> str | None:
    """The user's language as a BCP 47 tag, from POSIX locale variables, or ``None``.

    As gettext does: the locale is the first set of ``LC_ALL``, ``LC_MESSAGES`` and
    ``LANG``; under the ``C`` or ``POSIX`` locale the answer is ``None`` (English);
    otherwise the first entry of ``LANGUAGE``, if set, takes precedence. The codeset
    (``.UTF-8``) and modifier (``@euro``) are dropped and ``_`` becomes ``-``.

    >>> language_from_environment({"LC_ALL": "C.UTF-8", "LANGUAGE": "de"}) is None
    True
    >>> language_from_environment({"LANG": "en_US.UTF-8", "LANGUAGE": "ja:en"})
    'ja'
    """
    names = ("LC_ALL", "LC_MESSAGES", "LANG")
    locale = next((environ[name] for name in names if environ.get(name)), "")
    if _bare(locale) in ("", "C", "POSIX"):
        return None
    preferred = next((part for part in environ.get("LANGUAGE", "").split(":") if part), locale)
    tag = _bare(preferred).replace("_", "-")
    return tag if is_language_tag(tag) else None


def _bare(locale: str) -> str:
    """A locale name without its codeset and modifier: ``zh_CN.UTF-8@x`` -> ``zh_CN``."""
    return locale.partition("@")[0].partition(".")[0]
