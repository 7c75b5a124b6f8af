"""Every public entry point, fed anything: only its documented errors come out.

Hypothesis generates arbitrary Python objects (bytes, bytearray, the type ``str``,
``None``, numbers, containers, custom objects, ``str`` subclasses) and strings
(surrogates, control characters, huge inputs, near-addresses at bundled domains) for
:func:`mailsettings.lookup` and its twins, :meth:`Server.login_for`,
:meth:`Provider.from_autoconfig_xml` (with XML declarations naming every codec Python
knows) and :meth:`LookupResult.model_validate_json`. No option here turns a network
source on, so nothing leaves the process. Each test has a fixed example budget.
"""

from __future__ import annotations

import asyncio
import codecs
import encodings
import encodings.aliases
import importlib.util
import json
import pkgutil
import sys
import types
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
from https_server import config_xml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

import mailsettings
from mailsettings import (
    AutoconfigError,
    InvalidAddressError,
    LookupResult,
    MailSettingsError,
    Provider,
    ProviderNotFoundError,
    Registry,
    Server,
)
from mailsettings.address import parse_address
from mailsettings.option import option_specs
from mailsettings.options import LookupOptions

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
"""The example budget of every test here: fixed, the same locally and in CI."""

REGISTRY = Registry()
BUNDLED_DOMAINS = sorted({domain for p in REGISTRY.providers() for domain in p.domains})
SERVERS = sorted(
    {server for p in REGISTRY.providers() for server in p.servers},
    key=lambda s: (s.host, s.port, s.protocol.value, s.username),
)


# --- strategies ----------------------------------------------------------------------

any_character = st.characters(codec=None, exclude_categories=())  # surrogates included
odd_character = st.characters(categories=["Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp", "Mn"])


def _spell(domain: str, case: int, dot: str, space: str, final_dot: bool) -> str:
    spelled = (domain.upper(), domain.title(), domain)[case % 3]
    return space + spelled.replace(".", dot) + ("." if final_dot else "") + space


known_domain_spellings = st.builds(
    _spell,
    st.sampled_from(BUNDLED_DOMAINS),
    st.integers(0, 2),
    st.sampled_from([".", "。", "．", "｡", ".."]),
    st.sampled_from(["", " ", "\t", "\u3000", "\n"]),
    st.booleans(),
)
domains = st.one_of(
    known_domain_spellings,
    st.sampled_from(
        [
            "ＱＱ．ＣＯＭ",
            "bücher.example",
            "例子.中国",
            "xn--bcher-kva.example",
            "xn--.com",
            "a..com",
            ".com",
            "com",
            "[127.0.0.1]",
            "127.0.0.1",
            "localhost",
            "-a.com",
            "a-.com",
            "a" * 64 + ".com",
            ".".join(["a" * 63] * 4),
            "qq.com\x00",
            "qq\u200b.com",
        ]
    ),
    st.text(any_character, max_size=30),
)
local_parts = st.one_of(
    st.from_regex(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{0,70}", fullmatch=True),
    st.text(any_character, max_size=70),
    st.sampled_from(['"quoted"', "a b", "a..b", ".a", "a.", "用户", "x" * 65, ""]),
)
near_addresses = st.builds(
    lambda local, at, domain: local + at + domain,
    local_parts,
    st.sampled_from(["@", "＠", "﹫", "@@", "", " @ "]),
    domains,
)
huge_strings = st.builds(
    lambda size, kind: (
        "a" * size + "@qq.com",
        "a@" + "b." * (size // 2) + "com",
        "\x00" * size,
        "@" * size,
        " " * size + "a@qq.com" + " " * size,
        "\ud800" * size,
    )[kind],
    st.integers(250, 2_000_000),
    st.integers(0, 5),
)
strings = st.one_of(
    near_addresses,
    st.text(any_character, max_size=100),
    st.text(odd_character, max_size=20),
    huge_strings,
)


class Opaque:
    """An object with nothing special."""


class LooksLikeAnAddress:
    """Converts to an address, but is not a string."""

    def __str__(self) -> str:
        return "someone@qq.com"

    def __fspath__(self) -> str:
        return "someone@qq.com"


class Hostile:
    """Every conversion and comparison raises (``repr`` aside: test reports need it)."""

    def __str__(self) -> str:
        raise RuntimeError("no str")

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("no eq")

    def __hash__(self) -> int:
        raise RuntimeError("no hash")

    def __len__(self) -> int:
        raise RuntimeError("no len")

    def __bool__(self) -> bool:
        raise RuntimeError("no bool")


class Address(str):
    """A ``str`` subclass, as some applications use for typed values."""

    __slots__ = ()


non_strings = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.complex_numbers(),
    st.decimals(),
    st.binary(max_size=40),
    strings.map(lambda text: text.encode("utf-8", "surrogatepass")),
    strings.map(lambda text: bytearray(text.encode("utf-8", "surrogatepass"))),
    strings.map(lambda text: memoryview(text.encode("utf-8", "surrogatepass"))),
    st.sampled_from([str, bytes, int, object, type, Exception, Address, ...]),
    st.lists(strings, max_size=3),
    st.tuples(strings),
    st.dictionaries(strings, strings, max_size=2),
    st.frozensets(st.integers(), max_size=3),
    strings.map(PurePosixPath),
    st.builds(Opaque),
    st.builds(LooksLikeAnAddress),
    st.builds(Hostile),
    st.just(NotImplemented),
    st.just(iter(["a@qq.com"])),
)
anything = st.one_of(strings, non_strings, strings.map(Address))


# --- the lookup entry points --------------------------------------------------------


Outcome = tuple[str, object]


def outcome(call: Callable[[], LookupResult]) -> Outcome:
    """What a call gave: ``("result", result)`` or ``(error type name, message)``.

    Only the documented errors are caught: anything else fails the test.
    """
    try:
        return "result", call()
    except (InvalidAddressError, ProviderNotFoundError) as error:
        return type(error).__name__, str(error)


def row(rows: list[LookupResult | MailSettingsError]) -> Outcome:
    (only,) = rows
    if isinstance(only, LookupResult):
        return "result", only
    assert isinstance(only, InvalidAddressError | ProviderNotFoundError), repr(only)
    return type(only).__name__, str(only)


def every_entry_point(value: object) -> list[Outcome]:
    """The outcome of ``value`` through every lookup entry point, without network sources."""
    given_value: Any = value
    return [
        outcome(lambda: mailsettings.lookup(given_value)),
        outcome(lambda: mailsettings.lookup(given_value, mx=False)),  # the slow path
        outcome(lambda: REGISTRY.lookup(given_value)),
        outcome(lambda: Registry().lookup(given_value)),  # nothing cached yet
        outcome(lambda: asyncio.run(mailsettings.alookup(given_value))),
        row(mailsettings.lookup_many([given_value])),
        row(asyncio.run(mailsettings.alookup_many([given_value]))),
    ]


@FUZZ
@given(non_strings)
@example(b"a@qq.com")
@example(bytearray(b"a@qq.com"))
@example(str)
@example(None)
@example(0)
@example(LooksLikeAnAddress())
@example(Hostile())
def test_anything_but_a_string_is_an_invalid_address(value: object) -> None:
    outcomes = every_entry_point(value)
    assert {kind for kind, _ in outcomes} == {"InvalidAddressError"}, outcomes
    assert len({message for _, message in outcomes}) == 1, outcomes  # one message everywhere
    assert "expected an address as str" in str(outcomes[0][1])


@FUZZ
@given(strings)
@example("someone@qq.com")
@example(" Someone＠ＱＱ。COM. ")
@example("\ud800@qq.com")
@example("a\x00@qq.com")
@example("a" * 10_000_000 + "@qq.com")
@example("")
def test_every_string_gives_a_result_or_a_documented_error(text: str) -> None:
    outcomes = every_entry_point(text)
    kinds = {kind for kind, _ in outcomes}
    assert len(kinds) == 1, outcomes  # every entry point says the same
    first = outcomes[0][1]
    if isinstance(first, LookupResult):
        assert all(found == first for _, found in outcomes)
        assert first.domain_ascii.isascii()
        assert first.provider.servers
    else:
        assert all(len(str(message)) < 400 for _, message in outcomes)  # quoted, never echoed whole


def kinds(outcomes: list[Outcome]) -> list[object]:
    """Each outcome's result, or its error type."""
    return [found if kind == "result" else kind for kind, found in outcomes]


@FUZZ
@given(strings)
def test_a_str_subclass_is_looked_up_as_its_text(text: str) -> None:
    assert kinds(every_entry_point(Address(text))) == kinds(every_entry_point(text))


@FUZZ
@given(st.lists(anything, max_size=6))
def test_lookup_many_gives_each_row_its_own_outcome(items: list[Any]) -> None:
    rows = mailsettings.lookup_many(items)
    async_rows = asyncio.run(mailsettings.alookup_many(iter(items)))
    assert len(rows) == len(async_rows) == len(items)
    for item, found, found_async in zip(items, rows, async_rows, strict=True):
        if not isinstance(item, str):
            assert isinstance(found, InvalidAddressError)
        else:
            assert isinstance(found, LookupResult | InvalidAddressError | ProviderNotFoundError)
        assert type(found) is type(found_async)
        assert (
            str(found) == str(found_async) if isinstance(found, Exception) else found == found_async
        )


non_iterables = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.complex_numbers(),
    st.decimals(),
    st.sampled_from([str, bytes, list, object, ..., NotImplemented]),
    st.builds(Opaque),
    st.builds(LooksLikeAnAddress),
    st.builds(Hostile),
)


@FUZZ
@given(non_iterables)
@example("a@qq.com")
@example(b"a@qq.com")
@example(None)
@example(42)
def test_lookup_many_of_one_address_or_a_non_iterable_is_a_type_error(value: object) -> None:
    given_value: Any = value
    with pytest.raises(TypeError, match="iterable"):
        mailsettings.lookup_many(given_value)
    with pytest.raises(TypeError, match="iterable"):
        asyncio.run(mailsettings.alookup_many(given_value))


OPTION_NAMES = sorted(option_specs(LookupOptions))


@FUZZ
@given(
    st.sampled_from(OPTION_NAMES), st.one_of(anything, st.floats(), st.integers(-(2**62), 2**62))
)
@example("timeout", float("nan"))
@example("timeout", -1)
@example("mx", "no")
@example("autoconfig_sources", ["autoconfig", ["nested"]])
def test_option_values_are_checked_before_anything_else(name: str, value: object) -> None:
    # a bundled domain asks no network source, whatever the options
    options: Any = {name: value}
    calls: list[Callable[[], object]] = [
        lambda: mailsettings.lookup("someone@qq.com", **options),
        lambda: Registry(**options).lookup("someone@qq.com"),
        lambda: mailsettings.lookup_many(["someone@qq.com"], **options)[0],
    ]
    for call in calls:
        try:
            result = call()
        except (TypeError, ValueError):
            continue
        assert isinstance(result, LookupResult)


def test_a_timeout_too_large_for_a_float_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="timeout"):
        mailsettings.lookup("someone@qq.com", timeout=10**400)


def test_a_resolver_of_a_class_without_a_module_name_is_a_type_error() -> None:
    nameless = type("Nameless", (), {"__module__": None})()
    with pytest.raises(TypeError, match="resolver"):
        mailsettings.lookup("someone@qq.com", resolver=nameless)


# --- login names -----------------------------------------------------------------------


@FUZZ
@given(st.sampled_from(SERVERS), anything)
@example(SERVERS[0], "Jane.Doe@Example.ORG")
@example(SERVERS[0], "example.org")
def test_login_for_gives_a_login_or_an_invalid_address(server: Server, value: object) -> None:
    given_value: Any = value
    try:
        login = server.login_for(given_value)
    except InvalidAddressError as error:
        assert len(str(error)) < 400
        return
    assert isinstance(value, str)
    address = parse_address(value)
    assert address.local is not None
    expected = {
        "%EMAILADDRESS%": f"{address.local}@{address.domain}",
        "%EMAILLOCALPART%": address.local,
        "%EMAILLOCALPART%.%EMAILDOMAIN%": f"{address.local}.{address.domain}",
    }
    assert login == expected[server.username]


# --- autoconfig documents ----------------------------------------------------------------


def _codec_names() -> list[str]:
    """Every codec name Python knows: the aliases, their targets and the codec modules."""
    names = set(encodings.aliases.aliases) | set(encodings.aliases.aliases.values())
    names |= {module.name for module in pkgutil.iter_modules(encodings.__path__)}
    known = []
    for name in sorted(names):
        try:
            codecs.lookup(name)
        except LookupError:
            continue
        known.append(name)
    return known


CODECS = _codec_names()
DOCUMENT = config_xml("example.test").split(b"?>", 1)[1]
"""A valid autoconfig document without its XML declaration."""


def provider_or_autoconfig_error(data: object) -> Provider | None:
    given_data: Any = data
    try:
        provider = Provider.from_autoconfig_xml(given_data)
    except AutoconfigError as error:
        assert len(str(error)) < 1200
        assert "Traceback" not in str(error)
        return None
    assert isinstance(provider, Provider) and provider.servers
    return provider




def test_every_codec_name_in_the_declaration() -> None:
    assert len(CODECS) > 400
    for name in [*CODECS, "nonexistent", "x-unknown", "", " utf-8"]:
        declaration = f'<?xml version="1.0" encoding="{name}"?>'
        provider_or_autoconfig_error(declaration.encode() + DOCUMENT)
        provider_or_autoconfig_error(declaration + DOCUMENT.decode())
        try:
            encoded = codecs.encode(declaration + DOCUMENT.decode(), name)
        except Exception:
            continue
        if isinstance(encoded, bytes):
            provider_or_autoconfig_error(encoded)


def test_a_unicode_escape_declaration_is_an_autoconfig_error() -> None:
    with pytest.raises(AutoconfigError):
        Provider.from_autoconfig_xml(
            b'<?xml version="1.0" encoding="unicode_escape"?><clientConfig/>'
        )


DECLARABLE = list(CODECS)
boms = st.sampled_from(
    [b"", codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_LE]
)
declarations = st.builds(
    lambda version, encoding, standalone, quote, space: (
        f"<?xml{space}version={quote}{version}{quote}"
        + ("" if encoding is None else f" encoding={quote}{encoding}{quote}")
        + ("" if standalone is None else f" standalone={quote}{standalone}{quote}")
        + "?>"
    ),
    st.one_of(st.sampled_from(["1.0", "1.1", "2.0", ""]), st.text(any_character, max_size=5)),
    st.one_of(st.none(), st.sampled_from(DECLARABLE), st.text(any_character, max_size=12)),
    st.one_of(st.none(), st.sampled_from(["yes", "no"]), st.text(max_size=4)),
    st.sampled_from(['"', "'"]),
    st.sampled_from([" ", "  ", "\n", "\t"]),
)


@FUZZ
@given(
    boms, declarations, st.sampled_from([*DECLARABLE, "utf-8", "utf-16", "latin-1"]), st.booleans()
)
def test_arbitrary_declarations_and_encodings(
    bom: bytes, declaration: str, body_codec: str, as_text: bool
) -> None:
    text = declaration + DOCUMENT.decode()
    if as_text:
        provider_or_autoconfig_error(text)
        return
    try:
        body = codecs.encode(text, body_codec, "surrogatepass")
    except Exception:
        body = text.encode("utf-8", "surrogatepass")
    if not isinstance(body, bytes):
        body = bytes(str(body), "utf-8", "surrogatepass")
    provider_or_autoconfig_error(bom + body)


@FUZZ
@given(st.data())
def test_damaged_documents(data: st.DataObject) -> None:
    document = bytearray(config_xml("example.test"))
    for _ in range(data.draw(st.integers(1, 8))):
        position = data.draw(st.integers(0, len(document)))
        action = data.draw(st.sampled_from(["insert", "replace", "delete"]))
        chunk = data.draw(
            st.one_of(
                st.binary(min_size=1, max_size=12),
                st.sampled_from(
                    [
                        b"<",
                        b">",
                        b"&",
                        b"&#0;",
                        b"]]>",
                        b"<!DOCTYPE x>",
                        b"\x00",
                        b"<domain>x</domain>",
                        b"<?xml version='1.0'?>",
                        b"\xff\xfe",
                    ]
                ),
            )
        )
        if action == "insert":
            document[position:position] = chunk
        elif action == "replace":
            document[position : position + len(chunk)] = chunk
        else:
            del document[position : position + len(chunk)]
    provider_or_autoconfig_error(bytes(document))


@FUZZ
@given(st.one_of(anything, st.binary(max_size=200), st.text(any_character, max_size=200)))
@example(b'<?xml version="1.0" encoding="hex"?><clientConfig/>')
@example(b'<?xml version="1.0" encoding="nonexistent"?><clientConfig/>')
@example('<?xml version="1.0" encoding="mbcs"?><clientConfig/>')
@example(b"\xff\xfe\x00")
def test_from_autoconfig_xml_of_anything(data: object) -> None:
    if provider_or_autoconfig_error(data) is not None:
        assert isinstance(data, bytes | str)


# --- results from JSON -------------------------------------------------------------------

RESULT = mailsettings.lookup("someone@qq.com")
RESULT_DATA = RESULT.model_dump(mode="json")

json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False),
        st.text(any_character.filter(lambda c: not 0xD800 <= ord(c) <= 0xDFFF), max_size=20),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


def _paths(value: object, prefix: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    found: list[tuple[object, ...]] = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


RESULT_PATHS = _paths(RESULT_DATA)[1:]


def _replaced(data: Any, path: tuple[object, ...], value: object) -> Any:
    copied = json.loads(json.dumps(data))
    target = copied
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return copied


def result_or_validation_error(call: Callable[[], LookupResult]) -> LookupResult | None:
    try:
        result = call()
    except ValidationError:
        return None
    assert isinstance(result, LookupResult)
    return result


@FUZZ
@given(st.one_of(st.binary(max_size=300), anything))
@example(RESULT.model_dump_json().encode())
@example(RESULT.model_dump_json(context={"compact": True}).encode()[:-1])
def test_model_validate_json_of_anything(data: object) -> None:
    given_data: Any = data
    result = result_or_validation_error(lambda: LookupResult.model_validate_json(given_data))
    if result is not None:
        assert LookupResult.model_validate_json(result.model_dump_json()) == result


@FUZZ
@given(st.sampled_from(RESULT_PATHS), json_values)
def test_a_result_with_one_field_changed(path: tuple[object, ...], value: object) -> None:
    changed = _replaced(RESULT_DATA, path, value)
    from_json = result_or_validation_error(
        lambda: LookupResult.model_validate_json(json.dumps(changed))
    )
    from_python = result_or_validation_error(lambda: LookupResult.model_validate(changed))
    assert (from_json is None) == (from_python is None)
    if from_json is not None:
        assert from_json == from_python and hash(from_json) == hash(from_python)
        assert LookupResult.model_validate_json(from_json.model_dump_json()) == from_json


# --- the coverage-guided fuzzer's targets --------------------------------------------------


def fuzz_tool() -> types.ModuleType:
    """``tools/fuzz.py``, imported from its file (it is a script, not a package module)."""
    path = Path(__file__).resolve().parents[1] / "tools" / "fuzz.py"
    spec = importlib.util.spec_from_file_location("mailsettings_fuzz_tool", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", ["address", "xml", "pox", "result"])
def test_fuzz_targets_accept_their_seeds(name: str) -> None:
    # the fuzzer itself (atheris) runs by hand; its targets and seeds must keep working
    target = fuzz_tool().TARGETS[name]
    seeds = target.seeds()
    assert len(seeds) >= 4
    for seed in seeds:
        target.check(seed)
    target.check(b"")
    target.check(b"\xff\xfe\x00<")
