"""The bundled provider database: reviewable sources and their compiled form.

The reviewable sources are the TOML files in ``providers/``, one per provider, named by
the provider's id. ``python -m mailsettings.data`` validates them and writes the
compiled form into ``compiled/``, laid out for access by domain (a test fails when it is
out of date):

* ``records/<id>.json`` — one provider per file, compact JSON without defaults;
* ``index/domains-XXXX.json`` and ``index/mx-XXXX.json`` — the domain index and the MX
  pattern index, each split into shards by a hash of the key (:func:`shard_of`), one
  entry per line; the number of shards grows with the database so a shard stays small;
* ``index/oauth2.json`` — which providers name which OAuth2 issuer;
* ``index/meta.json`` — the format version and the number of shards.

A lookup reads one shard and one record (:mod:`mailsettings.store`), so its cost does
not grow with the size of the database; the compiled records were validated when they
were built and are constructed at run time without validating them again.

>>> providers = load_bundled()
>>> any("qq.com" in provider.domains for provider in providers)
True
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable
from functools import cache
from pathlib import Path

from pydantic import TypeAdapter, ValidationError

from ..errors import MailSettingsError
from ..models import Provider

__all__ = [
    "COMPILED",
    "FORMAT",
    "compile_providers",
    "compiled_dir",
    "load_bundled",
    "load_provider_files",
    "shard_of",
    "source_dir",
]

COMPILED = "compiled"
"""The folder of the compiled database, beside this module."""
SOURCES = "providers"
FORMAT = 1
"""Version of the compiled layout; :mod:`mailsettings.store` refuses any other."""
SHARD_TARGET = 128
"""Entries a shard of an index holds on average, at most."""


def shard_of(key: str, shards: int) -> int:
    """The shard of an index key: CRC-32 of its UTF-8 bytes, modulo ``shards`` (a power of two).

    >>> shard_of("qq.com", 1), 0 <= shard_of("qq.com", 16) < 16
    (0, True)
    """
    return zlib.crc32(key.encode()) & (shards - 1)


def _shard_count(entries: int) -> int:
    count = 1
    while count * SHARD_TARGET < entries:
        count *= 2
    return count


def source_dir() -> Path:
    """The folder of the bundled providers' TOML sources."""
    return Path(__file__).with_name(SOURCES)


def compiled_dir() -> Path:
    """The folder of the compiled database."""
    return Path(__file__).with_name(COMPILED)


@cache
def _adapter() -> TypeAdapter[Provider]:
    return TypeAdapter(Provider)


def load_bundled() -> tuple[Provider, ...]:
    """Every compiled bundled provider, validated, in id order (for tools and tests)."""
    records = sorted(compiled_dir().joinpath("records").glob("*.json"), key=lambda path: path.stem)
    return tuple(Provider.model_validate_json(path.read_bytes()) for path in records)


def load_provider_files(paths: Iterable[Path]) -> tuple[Provider, ...]:
    """Read provider TOML files, raising :class:`MailSettingsError` naming a bad file."""
    import tomllib  # only for source files, never on the lookup path

    providers = []
    for path in sorted(paths):
        try:
            with path.open("rb") as file:
                provider = Provider.model_validate(tomllib.load(file))
        except (OSError, tomllib.TOMLDecodeError, ValidationError) as error:
            raise MailSettingsError(f"{path.name}: {error}") from None
        if path.stem != provider.id:
            raise MailSettingsError(
                f"{path.name}: file name must be the provider id {provider.id!r}"
            )
        providers.append(provider)
    return tuple(providers)


def _index_file(entries: dict[str, str]) -> bytes:
    """One JSON object, one entry per line, sorted: small diffs, few merge conflicts."""
    return json.dumps(entries, indent=0, sort_keys=True).encode() + b"\n"


def compile_providers(providers: Iterable[Provider]) -> dict[str, bytes]:
    """The compiled form of ``providers``: file path (relative to ``compiled/``) -> content.

    Raises :class:`ValueError` when two providers claim the same id, domain or MX pattern.
    """
    ordered = sorted(providers, key=lambda provider: provider.id)
    files: dict[str, bytes] = {}
    domains: dict[str, str] = {}
    patterns: dict[str, str] = {}
    issuers: dict[str, str] = {}
    for provider in ordered:
        path = f"records/{provider.id}.json"
        if path in files:
            raise ValueError(f"two providers have the id {provider.id!r}")
        files[path] = _adapter().dump_json(provider, exclude_defaults=True) + b"\n"
        for key, index in [(d, domains) for d in provider.domains] + [
            (rule.pattern, patterns) for rule in provider.mx
        ]:
            if key in index:
                raise ValueError(f"{key!r} is claimed by {index[key]} and {provider.id}")
            index[key] = provider.id
        if provider.oauth2 is not None:
            issuers.setdefault(provider.oauth2.issuer, provider.id)
    shards = _shard_count(max(len(domains), len(patterns)))
    for name, index in (("domains", domains), ("mx", patterns)):
        split: list[dict[str, str]] = [{} for _ in range(shards)]
        for key, provider_id in index.items():
            split[shard_of(key, shards)][key] = provider_id
        for number, entries in enumerate(split):
            files[f"index/{name}-{number:04x}.json"] = _index_file(entries)
    files["index/oauth2.json"] = _index_file(issuers)
    meta = {"format": FORMAT, "providers": len(ordered), "shards": shards}
    files["index/meta.json"] = json.dumps(meta, sort_keys=True).encode() + b"\n"
    return files
