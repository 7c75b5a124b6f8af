"""Thunderbird's autoconfig format (``config-v1.1.xml``): read it into a Provider, write it back.

The format is the one of Thunderbird's ISPDB and of the files providers publish at
``https://autoconfig.<domain>/mail/config-v1.1.xml``. Reading is safe against hostile
input: documents larger than :data:`MAX_SIZE` are refused, and so is any document type
declaration, which rules out entity expansion ("billion laughs"), external entities and
DTD fetches. Everything wrong with a document raises :class:`~mailsettings.AutoconfigError`.

>>> document = parse_autoconfig('''
... <clientConfig version="1.1">
...   <emailProvider id="example.com">
...     <domain>example.com</domain>
...     <displayName>Example Mail</displayName>
...     <incomingServer type="imap">
...       <hostname>imap.example.com</hostname>
...       <port>993</port>
...       <socketType>SSL</socketType>
...       <authentication>password-cleartext</authentication>
...       <username>%EMAILADDRESS</username>
...     </incomingServer>
...   </emailProvider>
... </clientConfig>''')
>>> document.provider.servers[0].username
'%EMAILADDRESS%'
>>> document.warnings
("incomingServer imap.example.com:993: repaired the malformed placeholder '%EMAILADDRESS' in username to '%EMAILADDRESS%'.",
 'No usable outgoingServer (SMTP).')
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from . import _autoconfig_xml
from ._autoconfig_xml import MAX_DOMAINS, MAX_SIZE
from .errors import AutoconfigError
from .models import Provider, model_kit

__all__ = [
    "MAX_DOMAINS",
    "MAX_SIZE",
    "AutoconfigDocument",
    "load_autoconfig_dir",
    "parse_autoconfig",
    "to_autoconfig_xml",
]

_IDENTIFIER_MAX = 64


@dataclass(frozen=True, slots=True)
class AutoconfigDocument:
    """A parsed autoconfig file: the provider, and what was repaired or left out on the way."""

    provider: Provider
    """The provider the file describes."""
    warnings: tuple[str, ...] = ()
    """One sentence for each repair, each skipped part, and each server fact the model
    cannot hold (a server restricted to the provider's network, a POP3 check interval)."""


def parse_autoconfig(data: bytes | str, /) -> AutoconfigDocument:
    """Read one autoconfig document (``config-v1.1.xml``), as bytes or text.

    Raises :class:`~mailsettings.AutoconfigError` when the document is larger than
    :data:`MAX_SIZE`, is not well-formed, declares a DTD or entities, is not a
    ``<clientConfig>``, or lacks a valid domain or any usable IMAP, POP3 or SMTP server.
    Parts that cannot be used (an Exchange server, an unknown socket type) are skipped,
    and malformed placeholders repaired, each with a sentence in ``warnings``.
    """
    provider, warnings = _autoconfig_xml.read(data, model_kit())
    return AutoconfigDocument(provider, warnings)


def _read_file(path: Path) -> bytes:
    with path.open("rb") as file:
        data = file.read(MAX_SIZE + 1)
    if len(data) > MAX_SIZE:
        raise AutoconfigError(f"The file is larger than {MAX_SIZE} bytes.")
    return data


def _documents(folder: Path, pattern: str) -> Iterator[tuple[Path, AutoconfigDocument]]:
    for path in sorted(folder.glob(pattern)):
        if not path.is_file():
            continue
        try:
            yield path, parse_autoconfig(_read_file(path))
        except (OSError, AutoconfigError) as error:
            raise AutoconfigError(f"{path.name}: {error}") from None


def load_autoconfig_dir(path: str | Path, /, *, pattern: str = "*.xml") -> tuple[Provider, ...]:
    """The providers of a folder of autoconfig files, such as a clone of the ISPDB.

    Files are read in name order; the first that cannot be used raises
    :class:`~mailsettings.AutoconfigError` naming it. For per-file warnings, call
    :func:`parse_autoconfig` on each file instead. Provider ids are made unique, as a
    :class:`~mailsettings.Registry` needs: when several files give the same id (the ISPDB's
    regional Zoho files all say ``zoho.com``), the file named after the id keeps it (or
    else the first file), and the others take their file name without the suffix
    (``zoho.eu``) as id.
    """
    folder = Path(path)
    if not folder.is_dir():
        raise AutoconfigError(f"{folder} is not a folder.")
    loaded = [(file, document.provider) for file, document in _documents(folder, pattern)]
    stems = [file.name.removesuffix(file.suffix).lower() for file, _ in loaded]
    keeper: dict[str, int] = {}
    for index, (_, provider) in enumerate(loaded):
        if provider.id not in keeper or stems[index] == provider.id:
            keeper[provider.id] = index
    result: dict[str, Provider] = {}
    for index, (file, provider) in enumerate(loaded):
        unique = provider
        if keeper[provider.id] != index:
            stem = stems[index]
            if stem in keeper or not _autoconfig_xml.is_identifier(stem):
                raise AutoconfigError(
                    f"{file.name}: the provider id {provider.id!r} is also another file's, "
                    "and the file name is no usable id either."
                )
            unique = provider.model_copy(update={"id": stem})
        result[unique.id] = unique
    return tuple(result.values())


# --- writing ---------------------------------------------------------------


def to_autoconfig_xml(provider: Provider, /) -> str:
    """``provider`` as an autoconfig document (``config-v1.1.xml``), as text.

    Written: the id, domains, names, every current server (incoming ones first, each group
    in the provider's order; Thunderbird offers the first of each as its default), the
    help page, the instructions (as ``<enable>``) and the OAuth2 endpoints. Left out,
    because the format has no place for them: legacy servers, server notes, localized
    names, the password kind, instruction kinds, MX rules, status, provenance and deviations.
    Reading the result gives back an equal provider for any provider read from a file.

    Raises :class:`~mailsettings.AutoconfigError` for a provider without current servers
    or domains.
    """
    return _autoconfig_xml.write(provider)
