"""Provider.name_for, Instruction.text_for and the language of the environment."""

from __future__ import annotations

import pytest

import mailsettings
from mailsettings import Instruction, Provider
from mailsettings.languages import is_language_tag, language_from_environment, lookup_language

PROVIDER = Provider.model_validate(
    {
        "id": "example.tw",
        "name": "Example Mail",
        "localized_names": {
            "zh-TW": "範例郵件",
            "zh-Hant": "範例信箱",
            "de": "Beispielpost",
            "pt-BR": "Correio",
        },
        "domains": ["example.tw"],
        "status": "no-standard-access",
    }
)


@pytest.mark.parametrize(
    ("lang", "name"),
    [
        ("zh-TW", "範例郵件"),
        ("ZH-tw", "範例郵件"),  # case-insensitive
        ("zh-Hant-TW", "範例信箱"),  # lookup: zh-Hant-TW, then zh-Hant
        ("zh-Hant-x-private", "範例信箱"),  # a singleton goes with the subtag after it
        ("de-AT", "Beispielpost"),
        ("de-CH-1996", "Beispielpost"),
        ("pt-BR", "Correio"),
        ("pt", "Example Mail"),  # a range never matches a longer tag
        ("zh", "Example Mail"),
        ("fr", "Example Mail"),
        ("en", "Example Mail"),
        ("", "Example Mail"),
        (None, "Example Mail"),
    ],
)
def test_name_for(lang: str | None, name: str) -> None:
    assert PROVIDER.name_for(lang) == name


def test_text_for() -> None:
    step = Instruction(
        text="Turn IMAP on.", localized={"zh-CN": "开启 IMAP。", "ja": "IMAPを有効にする。"}
    )
    assert step.text_for("zh-CN") == "开启 IMAP。"
    assert step.text_for("zh-cn-u-ca-chinese") == "开启 IMAP。"
    assert step.text_for("ja-JP") == "IMAPを有効にする。"
    assert step.text_for("zh-TW") == "Turn IMAP on."
    assert step.text_for(None) == "Turn IMAP on."


def test_every_translation_in_the_data_is_reachable() -> None:
    checked = 0
    for provider in mailsettings.providers():
        for tag, name in provider.localized_names.items():
            assert provider.name_for(tag) == name
            assert provider.name_for(tag.upper()) == name
            checked += 1
        for step in provider.instructions:
            for tag, text in step.localized.items():
                assert step.text_for(tag) == text
        assert provider.name_for("en") == provider.name
    assert checked > 50


def test_lookup_language_prefers_the_exact_tag() -> None:
    assert lookup_language(["zh", "zh-CN"], "zh-CN") == "zh-CN"
    assert lookup_language(["zh", "zh-CN"], "zh-SG") == "zh"
    assert lookup_language([], "zh-CN") is None


@pytest.mark.parametrize(
    ("environ", "tag"),
    [
        ({}, None),
        ({"LANG": "C"}, None),
        ({"LANG": "POSIX"}, None),
        ({"LC_ALL": "C.UTF-8", "LANG": "zh_CN.UTF-8"}, None),
        ({"LANG": "zh_CN.UTF-8"}, "zh-CN"),
        ({"LANG": "zh_TW.Big5"}, "zh-TW"),
        ({"LANG": "de_DE.UTF-8@euro"}, "de-DE"),
        ({"LC_MESSAGES": "ja_JP.UTF-8", "LANG": "en_US.UTF-8"}, "ja-JP"),
        ({"LC_ALL": "ko_KR.UTF-8", "LC_MESSAGES": "ja_JP.UTF-8"}, "ko-KR"),
        ({"LANG": "en_US.UTF-8", "LANGUAGE": "zh_CN:en_US"}, "zh-CN"),
        ({"LANG": "en_US.UTF-8", "LANGUAGE": ":pt_BR"}, "pt-BR"),
        ({"LANG": "not a locale"}, None),
    ],
)
def test_language_from_environment(environ: dict[str, str], tag: str | None) -> None:
    assert language_from_environment(environ) == tag


def test_is_language_tag() -> None:
    assert all(map(is_language_tag, ["en", "zh-CN", "zh-Hant-TW", "de-CH-1996", "x-private"]))
    assert not any(map(is_language_tag, ["", "zh_CN", "zh-", "-zh", "zh CN", "toolongtag1"]))
