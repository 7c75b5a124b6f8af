"""The bundled provider database.

The reviewable sources are the TOML files in ``providers/``, one per provider, named
by the provider's id. ``providers.json`` is their compiled form, which is what a
lookup loads: a single JSON file, whose providers a lookup validates one at a time as
it needs them. ``python -m mailsettings.data`` rebuilds it; a test fails when it is out
of date.

>>> providers = load_bundled()
>>> any("qq.com" in provider.domains for provider in providers)
True
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from ..errors import MailSettingsError
from ..models import Provider

__all__ = ["COMPILED", "compile_providers", "load_bundled", "load_provider_files", "read_bundled"]

COMPILED = "providers.json"
SOURCES = "providers"


@cache
def _adapter() -> TypeAdapter[tuple[Provider, ...]]:
    return TypeAdapter(tuple[Provider, ...])


def load_bundled() -> tuple[Provider, ...]:
    """Load and validate the compiled bundled database (call once and keep the result)."""
    return _adapter().validate_json(_compiled_bytes())


def read_bundled() -> list[dict[str, Any]]:
    """The compiled database as plain data, not validated: one dict per provider.

    A lookup validates only the provider it needs (``Provider.model_validate``); the
    compiled file was validated when it was built, and a test checks it is current.
    """
    data: list[dict[str, Any]] = json.loads(_compiled_bytes())
    return data


def _compiled_bytes() -> bytes:
    return resources.files(__package__).joinpath(COMPILED).read_bytes()


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


def source_dir() -> Path:
    """The folder of the bundled providers' TOML sources."""
    return Path(__file__).with_name(SOURCES)


def compile_providers(providers: Iterable[Provider]) -> bytes:
    """The compiled form of ``providers``: compact, deterministic JSON without defaults."""
    ordered = tuple(sorted(providers, key=lambda provider: provider.id))
    return _adapter().dump_json(ordered, exclude_defaults=True) + b"\n"
