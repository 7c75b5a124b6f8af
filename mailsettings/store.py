"""The provider store: the bundled database read by the piece, with an application's providers on top.

The bundled data is compiled (:mod:`mailsettings.data`) into a sharded domain index, a
sharded MX-pattern index and one record per provider. The store reads the shard a key
falls in and the record it names only when first needed, so the first lookup costs
the same whatever the size of the database. Bundled records were validated when they
were compiled (and the tests check that the fast construction here equals validation);
everything else — an application's providers — is validated.

>>> store = ProviderStore()
>>> store.by_domain("foxmail.com").id
'qq.com'
>>> provider, rule = store.match_mx("mx3.qq.com")
>>> provider.id, rule.pattern
('qq.com', 'mx3.qq.com')
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Iterator, Mapping
from datetime import date
from pathlib import Path
from typing import Any

from .models import (
    AuthMethod,
    Check,
    Deviation,
    FrozenMap,
    Instruction,
    InstructionKind,
    MxRule,
    OAuth2,
    PasswordKind,
    Protocol,
    Provider,
    Security,
    Server,
    Status,
)

__all__ = ["ProviderStore", "construct_provider"]


# --- constructing trusted records without validation -------------------------------


def _server(raw: dict[str, Any]) -> Server:
    values = dict(raw)
    values["protocol"] = Protocol(raw["protocol"])
    values["security"] = Security(raw["security"])
    if "auth" in raw:
        values["auth"] = tuple(AuthMethod(method) for method in raw["auth"])
    return Server.model_construct(**values)


def _servers(raw: list[dict[str, Any]]) -> tuple[Server, ...]:
    return tuple(_server(item) for item in raw)


def _instruction(raw: dict[str, Any]) -> Instruction:
    values = dict(raw)
    if "kind" in raw:
        values["kind"] = InstructionKind(raw["kind"])
    if "localized" in raw:
        values["localized"] = FrozenMap(raw["localized"])
    return Instruction.model_construct(**values)


def _mx_rule(raw: dict[str, Any]) -> MxRule:
    values = dict(raw)
    if raw.get("servers") is not None:
        values["servers"] = _servers(raw["servers"])
    return MxRule.model_construct(**values)


def _check(raw: dict[str, Any]) -> Check:
    values = dict(raw)
    if raw.get("checked") is not None:
        values["checked"] = date.fromisoformat(raw["checked"])
    return Check.model_construct(**values)


def _deviation(raw: dict[str, Any]) -> Deviation:
    values = dict(raw)
    if raw.get("protocol") is not None:
        values["protocol"] = Protocol(raw["protocol"])
    return Deviation.model_construct(**values)


def _oauth2(raw: dict[str, Any]) -> OAuth2:
    return OAuth2.model_construct(**{**raw, "scopes": tuple(raw["scopes"])})


_PROVIDER_FIELDS: dict[str, Any] = {
    "localized_names": FrozenMap,
    "domains": tuple,
    "servers": _servers,
    "mx": lambda raw: tuple(_mx_rule(item) for item in raw),
    "password": PasswordKind,
    "instructions": lambda raw: tuple(_instruction(item) for item in raw),
    "oauth2": lambda raw: None if raw is None else _oauth2(raw),
    "status": Status,
    "provenance": lambda raw: tuple(_check(item) for item in raw),
    "deviations": lambda raw: tuple(_deviation(item) for item in raw),
}


def construct_provider(raw: Mapping[str, Any]) -> Provider:
    """A :class:`Provider` from its compiled JSON form, trusted: not validated again.

    Only for data :func:`mailsettings.data.compile_providers` wrote from validated
    providers; it equals ``Provider.model_validate(raw)`` (a test checks every record).
    """
    values = {
        name: _PROVIDER_FIELDS[name](value) if name in _PROVIDER_FIELDS else value
        for name, value in raw.items()
    }
    return Provider.model_construct(**values)


# --- the bundled data ----------------------------------------------------------------


_COMPILED = Path(__file__).with_name("data") / "compiled"
"""The compiled database, read from the package's folder (``importlib.resources`` would add
milliseconds of imports to every first lookup)."""


class _Bundled:
    """The compiled bundled data, read by the piece on first use (one per process)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._shards = 0
        self._indexes: dict[tuple[str, int], dict[str, str]] = {}
        self._records: dict[str, Provider] = {}
        self._oauth2: dict[str, str] | None = None

    def _read(self, path: str) -> Any:
        return json.loads(_COMPILED.joinpath(path).read_bytes())

    def _shard_count(self) -> int:
        if not self._shards:
            from .data import FORMAT

            meta = self._read("index/meta.json")
            if meta.get("format") != FORMAT:
                raise RuntimeError(
                    f"the compiled database has format {meta.get('format')}, not {FORMAT}; "
                    "run: python -m mailsettings.data"
                )
            self._shards = int(meta["shards"])
        return self._shards

    def entry(self, kind: str, key: str) -> str | None:
        """The provider id the ``kind`` index (``domains`` or ``mx``) has for ``key``."""
        from .data import shard_of

        shards = self._shard_count()
        number = shard_of(key, shards) if shards > 1 else 0
        index = self._indexes.get((kind, number))
        if index is None:
            with self._lock:
                index = self._indexes.get((kind, number))
                if index is None:
                    index = self._indexes[(kind, number)] = self._read(
                        f"index/{kind}-{number:04x}.json"
                    )
        return index.get(key)

    def provider(self, provider_id: str) -> Provider | None:
        """The bundled provider with this id, built on first use."""
        found = self._records.get(provider_id)
        if found is not None:
            return found
        with self._lock:
            found = self._records.get(provider_id)
            if found is None:
                try:
                    raw = self._read(f"records/{provider_id}.json")
                except (FileNotFoundError, OSError):
                    return None
                found = self._records[provider_id] = construct_provider(raw)
        return found

    def ids(self) -> list[str]:
        """Every bundled provider id, in order."""
        return sorted(entry.stem for entry in _COMPILED.joinpath("records").glob("*.json"))

    def oauth2_ids(self) -> dict[str, str]:
        """OAuth2 issuer -> the id of the provider that names it."""
        if self._oauth2 is None:
            self._oauth2 = self._read("index/oauth2.json")
        return self._oauth2


_BUNDLED = _Bundled()


# --- the store -------------------------------------------------------------------------


class ProviderStore:
    """Providers by domain, by MX host and by id: an application's over the bundled ones.

    ``providers`` (validated when they are dicts) replace a bundled provider with the same
    id — for :meth:`get` and :meth:`__iter__`, and for every domain they list; a bundled
    provider's other domains keep resolving to it — and take over any domain or MX
    pattern they list. Two application providers claiming one domain, MX pattern or id
    raise :class:`ValueError` naming both.
    """

    def __init__(self, providers: Iterable[Provider | Mapping[str, Any]] = (), *, bundled: bool = True) -> None:
        own: list[Provider] = []
        for item in providers:
            if isinstance(item, Provider):
                own.append(item)
            elif isinstance(item, Mapping):
                own.append(Provider.model_validate(item))
            else:
                raise TypeError(f"providers must be Provider objects or dicts, not {type(item).__name__}")
        self._own = tuple(own)
        self._by_id: dict[str, Provider] = {}
        self._by_domain: dict[str, Provider] = {}
        self._by_pattern: dict[str, tuple[Provider, MxRule]] = {}
        for provider in own:
            self._claim(self._by_id, provider.id, provider, "id")
            for domain in provider.domains:
                self._claim(self._by_domain, domain, provider, "domain")
            for rule in provider.mx:
                self._claim(self._by_pattern, rule.pattern, (provider, rule), "MX pattern")
        self._bundled = _BUNDLED if bundled else None
        self._issuers: dict[str, OAuth2] | None = None

    @staticmethod
    def _claim(index: dict[str, Any], key: str, value: Any, what: str) -> None:
        holder = index.get(key)
        if holder is not None:
            first = holder[0] if isinstance(holder, tuple) else holder
            second = value[0] if isinstance(value, tuple) else value
            raise ValueError(
                f"the {what} {key!r} is claimed by two application providers: "
                f"{first.id} ({first.name}) and {second.id} ({second.name})"
            )
        index[key] = value

    def by_domain(self, domain_ascii: str) -> Provider | None:
        """The provider serving a (lower-case ASCII) domain, or ``None``."""
        found = self._by_domain.get(domain_ascii)
        if found is not None or self._bundled is None:
            return found
        provider_id = self._bundled.entry("domains", domain_ascii)
        return None if provider_id is None else self._bundled.provider(provider_id)

    def match_mx(self, host: str) -> tuple[Provider, MxRule] | None:
        """The most specific MX rule covering ``host``: the host itself, then each parent domain."""
        candidate = host.lower().rstrip(".")
        while candidate:
            match = self._pattern(candidate)
            if match is not None:
                return match
            candidate = candidate.partition(".")[2]
        return None

    def _pattern(self, pattern: str) -> tuple[Provider, MxRule] | None:
        found = self._by_pattern.get(pattern)
        if found is not None or self._bundled is None:
            return found
        provider_id = self._bundled.entry("mx", pattern)
        provider = None if provider_id is None else self._bundled.provider(provider_id)
        if provider is None:
            return None
        return provider, next(rule for rule in provider.mx if rule.pattern == pattern)

    def get(self, provider_id: str) -> Provider | None:
        """The provider with this id (an application's first), or ``None``."""
        found = self._by_id.get(provider_id)
        if found is not None or self._bundled is None:
            return found
        return self._bundled.provider(provider_id)

    def __iter__(self) -> Iterator[Provider]:
        """Every provider: the bundled ones (those not replaced), then the application's."""
        if self._bundled is not None:
            for provider_id in self._bundled.ids():
                if provider_id not in self._by_id:
                    provider = self._bundled.provider(provider_id)
                    if provider is not None:
                        yield provider
        yield from self._own

    def oauth2_issuers(self) -> Mapping[str, OAuth2]:
        """The OAuth2 settings of reviewed providers, by issuer: what live sources may use."""
        if self._issuers is None:
            issuers: dict[str, OAuth2] = {}
            if self._bundled is not None:
                for issuer, provider_id in self._bundled.oauth2_ids().items():
                    provider = self._bundled.provider(provider_id)
                    if provider is not None and provider.oauth2 is not None:
                        issuers[issuer] = provider.oauth2
            for provider in self._own:
                if provider.oauth2 is not None:
                    issuers[provider.oauth2.issuer] = provider.oauth2
            self._issuers = issuers
        return self._issuers
