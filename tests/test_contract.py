"""The value contract: results and errors are immutable values that round-trip."""

from __future__ import annotations

import copy
import importlib
import inspect
import json
import pickle
import pkgutil
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

import mailsettings
from mailsettings import LookupResult, MailSettingsError, Provider
from mailsettings.models import FrozenMap, Instruction, Server


def bundled_results() -> Iterator[LookupResult]:
    registry = mailsettings.Registry()
    for provider in registry.providers():
        if provider.domains and provider.servers:
            yield registry.lookup(provider.domains[0])


RESULTS = list(bundled_results())


def walk(value: object) -> Iterator[object]:
    """Every value inside a model, containers included."""
    yield value
    if isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from walk(getattr(value, name))
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from walk(key)
            yield from walk(item)
    elif isinstance(value, tuple | list | set | frozenset):
        for item in value:
            yield from walk(item)


def test_results_hold_no_mutable_container() -> None:
    for result in RESULTS:
        mutable = [v for v in walk(result) if isinstance(v, list | dict | set | bytearray)]
        assert not mutable, (result.domain, mutable[:3])


def test_shared_results_cannot_be_changed() -> None:
    result = mailsettings.lookup("a@qq.com")
    with pytest.raises(TypeError):
        result.provider.localized_names["zh-CN"] = "changed"  # type: ignore[index]
    with pytest.raises(ValidationError):
        result.provider.name = "changed"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        result.provider.instructions[0].localized.update({"zh-CN": "x"})  # type: ignore[attr-defined]
    assert mailsettings.lookup("b@qq.com").provider.localized_names["zh-CN"] == "QQ邮箱"


@pytest.mark.parametrize("result", RESULTS, ids=lambda r: r.domain_ascii)
def test_results_round_trip_json_python_pickle_and_copy(result: LookupResult) -> None:
    copies = [
        LookupResult.model_validate_json(result.model_dump_json()),
        LookupResult.model_validate(result.model_dump()),
        LookupResult.model_validate(result.model_dump(mode="json")),
        pickle.loads(pickle.dumps(result)),
        copy.deepcopy(result),
        copy.copy(result),
    ]
    for other in copies:
        assert other == result
        assert hash(other) == hash(result)
    assert len({result, *copies}) == 1


def test_every_model_round_trips() -> None:
    result = mailsettings.lookup("a@163.com")
    models = {type(v): v for v in walk(result) if isinstance(v, BaseModel)}
    assert {"Server", "Provider", "Instruction", "Check", "LookupResult"} <= {
        t.__name__ for t in models
    }
    for model_type, value in models.items():
        for other in (
            model_type.model_validate_json(value.model_dump_json()),
            model_type.model_validate(value.model_dump()),
            pickle.loads(pickle.dumps(value)),
        ):
            assert other == value
            assert hash(other) == hash(value)


def test_preferred_servers_are_accepted_only_when_they_match() -> None:
    result = mailsettings.lookup("a@qq.com")
    dumped = json.loads(result.model_dump_json())
    assert {"imap", "pop3", "smtp"} <= dumped.keys()
    dumped["imap"]["port"] = 143
    with pytest.raises(ValidationError, match="imap is not the preferred imap server"):
        LookupResult.model_validate(dumped)
    dumped["imap"] = None
    with pytest.raises(ValidationError, match="imap"):
        LookupResult.model_validate(dumped)
    dumped["imap"] = "imap.qq.com"
    with pytest.raises(ValidationError, match="imap"):
        LookupResult.model_validate(dumped)


def test_compact_form_is_small_and_validates_back() -> None:
    result = mailsettings.lookup("a@qq.com")
    compact = result.model_dump_json(context={"compact": True})
    assert len(compact.encode()) <= 1200 < len(result.model_dump_json().encode())
    again = LookupResult.model_validate_json(compact)
    assert again.servers == result.servers
    assert (again.imap, again.pop3, again.smtp) == (result.imap, result.pop3, result.smtp)
    assert again.provider.instructions[1].text == result.provider.instructions[1].text
    assert "provenance" not in json.loads(compact)["provider"]


@pytest.mark.parametrize("result", RESULTS[::7], ids=lambda r: r.domain_ascii)
def test_compact_form_of_bundled_results_validates_back(result: LookupResult) -> None:
    again = LookupResult.model_validate_json(result.model_dump_json(context={"compact": True}))
    assert (again.servers, again.domain, again.source) == (
        result.servers,
        result.domain,
        result.source,
    )


def test_frozen_map_behaves_like_a_read_only_mapping() -> None:
    names = FrozenMap({"zh-CN": "QQ邮箱", "en": "QQ"})
    assert names == {"en": "QQ", "zh-CN": "QQ邮箱"} and names != {"en": "QQ"}
    assert hash(names) == hash(FrozenMap([("en", "QQ"), ("zh-CN", "QQ邮箱")]))
    assert pickle.loads(pickle.dumps(names)) == names
    assert copy.deepcopy(names) is names
    for mutate in ("__setitem__", "__delitem__", "update", "pop", "clear", "setdefault"):
        assert not hasattr(names, mutate)
    instruction = Instruction(text="Turn on IMAP.", localized={"de": "IMAP einschalten."})
    assert isinstance(instruction.localized, FrozenMap)
    with pytest.raises(ValidationError):
        Instruction(text="x", localized={"not a tag!": "x"})


def test_login_for_rejects_what_is_not_an_address() -> None:
    server = Server(protocol="imap", host="imap.example.com", port=993, security="ssl")
    assert server.login_for(" Jane@Example.COM ") == "Jane@example.com"
    for bad in ("example.com", "not an address", "", b"a@b.example", None, 42):
        with pytest.raises(mailsettings.InvalidAddressError):
            server.login_for(bad)  # type: ignore[arg-type]


# --- errors --------------------------------------------------------------------


def error_classes() -> list[type[MailSettingsError]]:
    for module in pkgutil.walk_packages(mailsettings.__path__, "mailsettings."):
        if not module.name.endswith("__main__"):
            importlib.import_module(module.name)
    found: list[type[MailSettingsError]] = []
    pending: list[type[MailSettingsError]] = [MailSettingsError]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return sorted(set(found), key=lambda cls: cls.__qualname__)


def build(cls: type[MailSettingsError]) -> MailSettingsError:
    """An instance with every constructor argument set to a recognisable value."""
    values: dict[str, Any] = {}
    positional: list[Any] = []
    try:
        parameters = list(inspect.signature(cls).parameters.values())
    except ValueError:  # no __init__ of its own: Exception(*args)
        return cls("message")
    for parameter in parameters:
        annotation = str(parameter.annotation)
        value: Any
        if "Provider" in annotation:
            value = Provider(
                id="example.org",
                name="Example",
                domains=("example.org",),
                status="no-standard-access",
            )
        elif "tuple" in annotation:
            value = ("one", "two")
        elif "int" in annotation:
            value = 7
        elif "bool" in annotation:
            value = True
        else:
            value = f"{parameter.name} value"
        if parameter.kind is parameter.KEYWORD_ONLY:
            values[parameter.name] = value
        elif parameter.kind in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD):
            positional.append(value)
        elif parameter.kind is parameter.VAR_POSITIONAL:
            positional.append("message")
    return cls(*positional, **values)


@pytest.mark.parametrize("cls", error_classes(), ids=lambda cls: cls.__qualname__)
def test_every_error_pickles_with_type_message_and_attributes(
    cls: type[MailSettingsError],
) -> None:
    error = build(cls)
    error.note_for_test = "kept"  # type: ignore[attr-defined]
    for again in (pickle.loads(pickle.dumps(error)), copy.deepcopy(error)):
        assert type(again) is cls
        assert str(again) == str(error) and again.args == error.args
        assert vars(again) == vars(error)


def test_error_classes_cover_the_public_ones() -> None:
    names = {cls.__name__ for cls in error_classes()}
    public = {n for n in mailsettings.__all__ if n.endswith("Error")}
    assert public <= names


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("id", "Bad ID!!"),
        ("status_since", "around 2013-08"),
        ("mx", ({"pattern": "mx.example.net!"},)),
    ],
)
def test_patterns_match_whole_values(field: str, value: object) -> None:
    data: dict[str, object] = {
        "id": "example.org",
        "name": "Example",
        "domains": ("example.org",),
        "status": "no-standard-access",
        field: value,
    }
    with pytest.raises(ValidationError, match=field):
        Provider.model_validate(data)
