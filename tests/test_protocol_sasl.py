"""The SASL mechanisms, and that secrets stay out of every repr and message."""

from __future__ import annotations

import pytest

from mailsettings.protocol import (
    CredentialsError,
    IMAPClient,
    Login,
    Mechanism,
    OAuthBearer,
    Plain,
    POP3Client,
    SMTPClient,
    XOAuth2,
)

SECRET = "s3cr3t-密码"


def test_plain_is_utf8() -> None:
    assert Plain("张三", SECRET).initial_response() == "\x00张三\x00s3cr3t-密码".encode()
    assert Plain("a", "b", authorization_id="c").initial_response() == b"c\x00a\x00b"


def test_plain_refuses_nul() -> None:
    for login, password in (("a\x00", "b"), ("a", "b\x00c")):
        with pytest.raises(CredentialsError, match="NUL") as caught:
            Plain(login, password)
        assert password not in str(caught.value)


def test_plain_refuses_lone_surrogates() -> None:
    with pytest.raises(CredentialsError, match="Unicode"):
        Plain("a", "\ud800")


def test_login_steps() -> None:
    mechanism = Login("user", SECRET)
    assert mechanism.initial_response() is None
    assert mechanism.respond(b"") == b"user"
    assert mechanism.respond(b"") == SECRET.encode()
    assert mechanism.respond(b"") is None


def test_xoauth2() -> None:
    mechanism = XOAuth2("user@example.com", "tok")
    assert mechanism.initial_response() == b"user=user@example.com\x01auth=Bearer tok\x01\x01"
    assert mechanism.respond(b'{"status":"400"}') == b""
    assert mechanism.respond(b"again") is None


def test_oauthbearer() -> None:
    mechanism = OAuthBearer("user@example.com", "tok")
    assert mechanism.initial_response() == b"n,a=user@example.com,\x01auth=Bearer tok\x01\x01"
    assert mechanism.respond(b'{"status":"invalid_token"}') == b"\x01"
    assert mechanism.respond(b"") is None
    escaped = OAuthBearer("a=b,c", "t", host="smtp.example.com", port=587).initial_response()
    assert (
        escaped == b"n,a=a=3Db=2Cc,\x01host=smtp.example.com\x01port=587\x01auth=Bearer t\x01\x01"
    )


@pytest.mark.parametrize("cls", [XOAuth2, OAuthBearer])
@pytest.mark.parametrize(
    ("user", "token"), [("a\x01b", "tok-1"), ("a", "tok\x01"), ("a", "tok\r\n"), ("a", "")]
)
def test_oauth_refuses_control_characters(
    cls: type[XOAuth2 | OAuthBearer], user: str, token: str
) -> None:
    with pytest.raises(CredentialsError) as caught:
        cls(user, token)
    if token:
        assert token not in str(caught.value)


def test_oauthbearer_host_checked() -> None:
    with pytest.raises(CredentialsError):
        OAuthBearer("a", "t", host="x\x01y")


@pytest.mark.parametrize(
    "mechanism",
    [
        Plain("alice", SECRET),
        Login("alice", SECRET),
        XOAuth2("alice", SECRET),
        OAuthBearer("alice", SECRET),
    ],
    ids=lambda m: m.name,
)
def test_secret_never_in_repr_or_str(mechanism: Mechanism) -> None:
    assert SECRET not in repr(mechanism) and SECRET not in str(mechanism)
    assert repr(mechanism) == f"{type(mechanism).__name__}(login='alice')"
    assert mechanism.secrets() == (SECRET,)
    for client in (IMAPClient(), POP3Client(), SMTPClient()):
        if isinstance(client, IMAPClient):
            client.receive_data(b"* OK [CAPABILITY IMAP4rev1 SASL-IR] ready\r\n")
        elif isinstance(client, POP3Client):
            client.receive_data(b"+OK ready\r\n")
        else:
            client.receive_data(b"220 ready\r\n")
        client.authenticate(mechanism)
        assert SECRET not in repr(client) and SECRET not in repr(vars(client).get("_mechanism"))


def test_mechanism_name_is_checked() -> None:
    class Bad(Plain):
        name = "PLAIN\r\nA2 LOGOUT"

    client = IMAPClient()
    client.receive_data(b"* OK ready\r\n")
    with pytest.raises(ValueError, match="SASL mechanism name"):
        client.authenticate(Bad("a", "b"))
