"""Lookup options: every part's option group in one :class:`LookupOptions`.

Each option is declared once, in the option group of the part that uses it
(:mod:`mailsettings.option` says how); :class:`LookupOptions` combines them, so editors
and mypy check every option of :func:`mailsettings.lookup`, :meth:`Registry.lookup` and
their twins, and of :class:`~mailsettings.Registry` itself (as the defaults). Values are
checked once per call at the public boundary: a wrong type raises :class:`TypeError`, a
bad value :class:`ValueError`.

>>> from mailsettings import Registry
>>> registry = Registry(mx=True, timeout=3.0)
>>> registry.lookup("someone@qq.com").provider.id  # a known domain asks no network source
'qq.com'
>>> registry.lookup("someone@qq.com", retries=2)
Traceback (most recent call last):
...
TypeError: unknown lookup option(s): retries
>>> registry.lookup("someone@qq.com", mx="no")
Traceback (most recent call last):
...
TypeError: mx must be True or False, not 'no'
"""

# No ``from __future__ import annotations``: the option annotations are read at run time.
from .net.budget import BudgetOptions
from .sources.autoconfig import AutoconfigOptions
from .sources.autodiscover import AutodiscoverOptions
from .sources.guess import GuessOptions
from .sources.mx import MxOptions
from .sources.srv import SrvOptions

__all__ = ["LookupOptions"]


class LookupOptions(
    BudgetOptions,
    MxOptions,
    SrvOptions,
    AutoconfigOptions,
    AutodiscoverOptions,
    GuessOptions,
    total=False,
):
    """The options of a lookup; each one left out takes the registry's default."""
