"""The sans-I/O POP3 client, fed recorded and crafted server bytes."""

from __future__ import annotations

import base64

import pytest

from mailsettings.protocol import (
    AuthFailed,
    AuthOK,
    Bye,
    Capabilities,
    Challenge,
    CommandFailed,
    CommandOK,
    CommandStateError,
    CredentialsError,
    Greeting,
    Login,
    MaildropStatus,
    Plain,
    POP3Client,
    ProtocolError,
    ResponseTooLargeError,
    State,
    TLSReady,
    TLSRefused,
    WrongProtocolError,
    XOAuth2,
)

DOVECOT_CAPA = (
    b"+OK\r\nCAPA\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nPIPELINING\r\nAUTH-RESP-CODE\r\n"
    b"USER\r\nSASL PLAIN LOGIN\r\n.\r\n"
)


def ready(*, tls: bool = True) -> POP3Client:
    client = POP3Client(tls=tls)
    client.receive_data(b"+OK Dovecot (Debian) ready.\r\n")
    return client


def test_greeting() -> None:
    client = POP3Client()
    assert client.receive_data(b"+OK Dovecot ready. <1896.697170952@dbc.mtview.ca.us>\r\n") == [
        Greeting(ok=True, text="Dovecot ready. <1896.697170952@dbc.mtview.ca.us>")
    ]
    assert client.state is State.READY
    refused = POP3Client()
    assert refused.receive_data(b"-ERR [SYS/TEMP] too busy\r\n") == [
        Greeting(ok=False, text="[SYS/TEMP] too busy")
    ]
    assert refused.state is State.CLOSED


@pytest.mark.parametrize(
    ("line", "detected"),
    [
        (b"* OK [CAPABILITY IMAP4rev1] ready\r\n", "IMAP"),
        (b"220 ESMTP\r\n", "SMTP"),
        (b"OK\r\n", None),
    ],
)
def test_wrong_greeting(line: bytes, detected: str | None) -> None:
    with pytest.raises(WrongProtocolError) as caught:
        POP3Client().receive_data(line)
    assert caught.value.detected == detected
    assert "POP3 greeting" in str(caught.value)


def test_capa() -> None:
    client = ready(tls=False)
    assert client.capa() == b"CAPA\r\n"
    (caps,) = client.receive_data(DOVECOT_CAPA)
    assert caps == Capabilities(
        "pop3",
        items=(
            "CAPA",
            "TOP",
            "UIDL",
            "RESP-CODES",
            "PIPELINING",
            "AUTH-RESP-CODE",
            "USER",
            "SASL PLAIN LOGIN",
        ),
        sasl_mechanisms=("PLAIN", "LOGIN"),
        starttls=False,
        login_disabled=False,
    )
    assert client.capabilities == caps and client.state is State.READY


def test_capa_chunked_and_dot_stuffed() -> None:
    client = ready()
    client.capa()
    data = b"+OK list follows\r\n..odd\r\nSTLS\r\nSASL xoauth2\r\n.\r\n"
    events = []
    for index in range(len(data)):
        events += client.receive_data(data[index : index + 1])
    (caps,) = events
    assert isinstance(caps, Capabilities)
    assert caps.items == (".odd", "STLS", "SASL xoauth2")
    assert caps.starttls and caps.sasl_mechanisms == ("XOAUTH2",) and caps.login_disabled


def test_capa_unsupported() -> None:
    client = ready()
    client.capa()
    assert client.receive_data(b"-ERR unknown command\r\n") == [
        CommandFailed("CAPA", "unknown command")
    ]


def test_capa_without_end_is_bounded() -> None:
    client = ready()
    client.capa()
    with pytest.raises(ResponseTooLargeError):
        client.receive_data(b"+OK\r\n" + b"X-ITEM\r\n" * 1001)


def test_stls() -> None:
    client = ready(tls=False)
    assert client.starttls() == b"STLS\r\n"
    assert client.receive_data(b"+OK Begin TLS negotiation now.\r\n") == [
        TLSReady("Begin TLS negotiation now.")
    ]
    client.tls_established()
    assert client.tls and client.capabilities is None
    client = ready(tls=False)
    client.starttls()
    assert client.receive_data(b"-ERR [IN-USE] later\r\n") == [TLSRefused("later", "IN-USE")]


def test_stls_injection() -> None:
    client = ready(tls=False)
    client.starttls()
    with pytest.raises(ProtocolError, match="STARTTLS"):
        client.receive_data(b"+OK go\r\n+OK injected\r\n")


def test_user_pass() -> None:
    client = ready()
    with pytest.raises(CommandStateError, match="USER"):
        client.pass_("pw")
    assert client.user("alice@guess.test") == b"USER alice@guess.test\r\n"
    assert client.receive_data(b"+OK\r\n") == [CommandOK("USER", "")]
    assert client.pass_("pässword") == "PASS pässword\r\n".encode()
    assert client.receive_data(b"+OK Logged in.\r\n") == [AuthOK("Logged in.")]
    assert client.authenticated
    with pytest.raises(CommandStateError, match="already authenticated"):
        client.user("again")


def test_user_pass_failure_and_masking() -> None:
    client = ready()
    client.user("alice")
    client.receive_data(b"+OK\r\n")
    client.pass_("top-secret-9")
    (failed,) = client.receive_data(b"-ERR [AUTH] Authentication failed (top-secret-9).\r\n")
    assert failed == AuthFailed("Authentication failed (***).", "AUTH", False)
    with pytest.raises(CommandStateError):  # a new USER must come first
        client.pass_("again")


def test_user_refused() -> None:
    client = ready()
    client.user("nobody")
    assert client.receive_data(b"-ERR [SYS/TEMP] Try later\r\n") == [
        AuthFailed("Try later", "SYS/TEMP", True)
    ]


@pytest.mark.parametrize("value", ["a\r\nQUIT", "a\x00b", "a\nb"])
def test_user_pass_refuse_line_breaks(value: str) -> None:
    client = ready()
    with pytest.raises(CredentialsError):
        client.user(value)
    client.user("alice")
    client.receive_data(b"+OK\r\n")
    with pytest.raises(CredentialsError) as caught:
        client.pass_(value)
    assert value not in str(caught.value)


def test_auth_plain_inline() -> None:
    client = ready()
    data = client.authenticate(Plain("bob", "pw"))
    assert data == b"AUTH PLAIN " + base64.b64encode(b"\x00bob\x00pw") + b"\r\n"
    assert client.receive_data(b"+OK Logged in.\r\n") == [AuthOK("Logged in.")]


def test_auth_long_initial_response_waits_for_a_challenge() -> None:
    client = ready()
    token = "ya29." + "x" * 300
    assert client.authenticate(XOAuth2("user@outlook.com", token)) == b"AUTH XOAUTH2\r\n"
    assert client.receive_data(b"+ \r\n") == [Challenge(b"")]
    answer = client.answer_challenge()
    assert (
        base64.b64decode(answer) == f"user=user@outlook.com\x01auth=Bearer {token}\x01\x01".encode()
    )
    (challenge,) = client.receive_data(b"+ eyJzdGF0dXMiOiI0MDEifQ==\r\n")
    assert challenge == Challenge(b'{"status":"401"}')
    assert client.answer_challenge() == b"\r\n"
    (failed,) = client.receive_data(b"-ERR [AUTH] Authentication failure\r\n")
    assert isinstance(failed, AuthFailed) and failed.code == "AUTH"


def test_auth_login() -> None:
    client = ready()
    assert client.authenticate(Login("bob", "pw")) == b"AUTH LOGIN\r\n"
    assert client.receive_data(b"+ VXNlcm5hbWU6\r\n") == [Challenge(b"Username:")]
    assert client.answer_challenge() == b"Ym9i\r\n"
    client.receive_data(b"+ UGFzc3dvcmQ6\r\n")
    assert client.answer_challenge() == b"cHc=\r\n"
    assert client.receive_data(b"+OK\r\n") == [AuthOK("")]


def test_continuation_outside_authentication() -> None:
    client = ready()
    client.noop()
    with pytest.raises(ProtocolError, match="continuation"):
        client.receive_data(b"+ hello\r\n")


def test_stat() -> None:
    client = ready()
    assert client.stat() == b"STAT\r\n"
    assert client.receive_data(b"+OK 2 320\r\n") == [MaildropStatus(2, 320)]
    client.stat()
    with pytest.raises(ProtocolError, match="malformed STAT"):
        client.receive_data(b"+OK lots\r\n")


def test_noop_quit_and_unsolicited_error() -> None:
    client = ready()
    assert client.noop() == b"NOOP\r\n"
    assert client.receive_data(b"+OK\r\n") == [CommandOK("NOOP", "")]
    client.noop()
    assert client.receive_data(b"-ERR no\r\n") == [CommandFailed("NOOP", "no")]
    assert client.quit() == b"QUIT\r\n"
    assert client.receive_data(b"+OK Logging out.\r\n") == [Bye("Logging out.")]
    assert client.state is State.CLOSED
    idle = ready()
    assert idle.receive_data(b"-ERR Disconnected for inactivity.\r\n") == [
        Bye("Disconnected for inactivity.")
    ]


def test_unsolicited_ok_is_an_error() -> None:
    client = ready()
    with pytest.raises(ProtocolError, match="unexpected line"):
        client.receive_data(b"+OK surprise\r\n")


def test_garbage_answer() -> None:
    client = ready()
    client.noop()
    with pytest.raises(ProtocolError):
        client.receive_data(b"OK\r\n")
