"""The discovery sources, in the order a lookup asks them, and the options they read.

A lookup first asks its registry's store; for a domain the store does not know it asks
the sources the options turn on, in the order of :data:`SOURCES` (then a registry's
``extra_sources``), until one answers. Thunderbird and Thunderbird for Android try
theirs in this order: the provider's own autoconfig file, the well-known URL, the ISPDB
for the domain, the MX hosts against known platforms, the ISPDB by MX host, SRV
records, then Exchange Autodiscover; guessing comes last.

Adding a bundled source is one module (see :mod:`mailsettings.sources.base` and
``docs/writing-a-source.md``), one entry in :data:`SOURCES`, one
:class:`~mailsettings.Source` member and one base class of
:class:`mailsettings.options.LookupOptions`. Importing this package imports no network
library.
"""

from .autoconfig import ISPDB_MX
from .autoconfig import SOURCES as AUTOCONFIG_DOMAIN_SOURCES
from .autodiscover import AutodiscoverSource
from .base import BaseSource, Context, DiscoverySource
from .guess import GuessSource
from .mx import MxSource
from .srv import SrvSource

__all__ = ["SOURCES", "BaseSource", "Context", "DiscoverySource"]

SOURCES: tuple[DiscoverySource, ...] = (
    *AUTOCONFIG_DOMAIN_SOURCES,  # autoconfig, well-known, ispdb
    MxSource(),
    ISPDB_MX,
    SrvSource(),
    AutodiscoverSource(),
    GuessSource(),  # last: it probes servers
)
"""The bundled sources, in the order they are asked."""

