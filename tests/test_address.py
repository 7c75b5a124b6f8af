from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailsettings.address import Address, parse_address
from mailsettings.errors import InvalidAddressError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("user@qq.com", Address("user", "qq.com", "qq.com")),
        ("User@QQ.COM", Address("User", "qq.com", "qq.com")),
        ("  user@qq.com.\n", Address("user", "qq.com", "qq.com")),
        ("user＠qq。com", Address("user", "qq.com", "qq.com")),
        ("user@qq．com", Address("user", "qq.com", "qq.com")),
        ("qq.com", Address(None, "qq.com", "qq.com")),
        ("QQ.com.", Address(None, "qq.com", "qq.com")),
        ("user@bücher.example", Address("user", "bücher.example", "xn--bcher-kva.example")),
        ("user@XN--BCHER-KVA.example", Address("user", "bücher.example", "xn--bcher-kva.example")),
        ("user@ＢÜＣＨＥＲ.example", Address("user", "bücher.example", "xn--bcher-kva.example")),
        ("用户@例子.中国", Address("用户", "例子.中国", "xn--fsqu00a.xn--fiqs8s")),
        ("user@faß.de", Address("user", "faß.de", "xn--fa-hia.de")),  # non-transitional
        ("o'brien+tag@example.com", Address("o'brien+tag", "example.com", "example.com")),
        ("a.b.c@sub.example.co.uk", Address("a.b.c", "sub.example.co.uk", "sub.example.co.uk")),
    ],
)
def test_valid_inputs_normalize(text: str, expected: Address) -> None:
    assert parse_address(text) == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("@qq.com", "empty local part"),
        ("user@", "no domain"),
        ("a@b@qq.com", "more than one '@'"),
        ('"a b"@qq.com', "quoted"),
        ('"a@b"@qq.com', "more than one '@'"),
        ("user@[127.0.0.1]", "IP address literals"),
        ("user@127.0.0.1", "IP addresses are not mail domains"),
        ("user@qq..com", "invalid domain"),
        ("user@-qq.com", "invalid domain"),
        ("user@qq-.com", "invalid domain"),
        ("user@localhost", "at least two labels"),
        ("user@" + "a" * 64 + ".com", "too long"),
        ("user@" + ".".join(["abcdefghi"] * 26) + ".com", "too long"),
        ("us\ner@qq.com", "control"),
        ("user@qq.com\r\nBcc: x@evil.com", "more than one '@'"),
        ("us\x00er@qq.com", "control"),
        ("user@q\x00q.com", "characters"),
        ("us er@qq.com", "special"),
        ("user.@qq.com", "misplaced '.'"),
        ("us..er@qq.com", "misplaced '.'"),
        ("user@qq_mail.com", "characters"),
        ("x" * 65 + "@qq.com", "longer than 64"),
        ("用" * 22 + "@qq.com", "longer than 64"),  # 66 octets in UTF-8
        ("user@exa\u200dmple.com", "control"),
        ("user@\ud800.com", "control"),
    ],
)
def test_invalid_inputs_raise_clear_errors(text: str, fragment: str) -> None:
    with pytest.raises(InvalidAddressError) as caught:
        parse_address(text)
    assert fragment in str(caught.value)


def test_non_string_input_is_an_invalid_address() -> None:
    with pytest.raises(InvalidAddressError, match="expected an address as str"):
        parse_address(b"user@qq.com")  # type: ignore[arg-type]


def test_huge_input_is_refused_fast_without_echo() -> None:
    huge = "a" * 10_000_000 + "@qq.com"
    with pytest.raises(InvalidAddressError) as caught:
        parse_address(huge)
    assert "too long for an address" in str(caught.value)  # refused by length, before parsing
    assert len(str(caught.value)) < 200


def test_error_messages_quote_at_most_forty_characters() -> None:
    text = "x" * 300 + "@@qq.com"
    with pytest.raises(InvalidAddressError) as caught:
        parse_address(text)
    assert "x" * 41 not in str(caught.value)


@given(st.text(max_size=400))
def test_arbitrary_strings_give_an_address_or_the_documented_error(text: str) -> None:
    try:
        address = parse_address(text)
    except InvalidAddressError:
        return
    assert address.domain_ascii.isascii()
    assert address.domain_ascii == address.domain_ascii.lower()
    assert parse_address(str(address)) == address


@given(st.emails())
def test_generated_email_addresses_parse(text: str) -> None:
    try:
        address = parse_address(text)
    except InvalidAddressError as error:
        # Hypothesis may produce single-label or numeric domains, which are refused here.
        assert any(word in str(error) for word in ("two labels", "IP address", "invalid domain"))
        return
    assert address.local is not None
    assert address.domain_ascii == text.rpartition("@")[2].lower().rstrip(".")
