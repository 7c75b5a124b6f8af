"""The sans-I/O SMTP client, fed recorded and crafted server bytes."""

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
    Greeting,
    Login,
    OAuthBearer,
    Plain,
    ProtocolError,
    SMTPClient,
    State,
    TLSReady,
    TLSRefused,
    WrongProtocolError,
    XOAuth2,
)

POSTFIX_EHLO = (
    b"250-mail.guess.test\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-VRFY\r\n"
    b"250-ETRN\r\n250-AUTH PLAIN LOGIN\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n"
    b"250-DSN\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n"
)


def ready(*, tls: bool = True) -> SMTPClient:
    client = SMTPClient(tls=tls)
    client.receive_data(b"220 mail.guess.test ESMTP\r\n")
    return client


def test_multi_line_greeting_in_pieces() -> None:
    data = b"220-smtp.qq.com Esmtp QQ QMail Server\r\n220-second line\r\n220 last\r\n"
    client = SMTPClient()
    events = []
    for index in range(len(data)):
        events += client.receive_data(data[index : index + 1])
    assert events == [Greeting(ok=True, text="smtp.qq.com Esmtp QQ QMail Server second line last")]


def test_refusing_greetings() -> None:
    busy = SMTPClient()
    assert busy.receive_data(b"554 5.7.1 No service for you\r\n") == [
        Greeting(ok=False, text="5.7.1 No service for you")
    ]
    assert busy.state is State.READY  # RFC 5321: the client should still QUIT
    assert busy.quit() == b"QUIT\r\n"
    closing = SMTPClient()
    closing.receive_data(b"421 4.3.2 Shutting down\r\n")
    assert closing.state is State.CLOSED


@pytest.mark.parametrize(
    ("line", "detected"),
    [(b"* OK IMAP4rev1 ready\r\n", "IMAP"), (b"+OK POP3\r\n", "POP3"), (b"22 short\r\n", None)],
)
def test_wrong_greeting(line: bytes, detected: str | None) -> None:
    with pytest.raises(WrongProtocolError) as caught:
        SMTPClient().receive_data(line)
    assert caught.value.detected == detected
    assert "SMTP greeting" in str(caught.value)


def test_mixed_codes_in_a_reply() -> None:
    client = SMTPClient()
    with pytest.raises(ProtocolError, match="codes differ"):
        client.receive_data(b"220-first\r\n250 second\r\n")


def test_ehlo() -> None:
    client = ready(tls=False)
    assert client.ehlo("client.example.org") == b"EHLO client.example.org\r\n"
    (caps,) = client.receive_data(POSTFIX_EHLO)
    assert isinstance(caps, Capabilities)
    assert caps.text == "mail.guess.test"
    assert caps.sasl_mechanisms == ("PLAIN", "LOGIN")
    assert not caps.starttls and not caps.login_disabled
    assert caps.has("SIZE") and caps.has("smtputf8") and not caps.has("STARTTLS")


def test_ehlo_old_auth_form_and_starttls() -> None:
    client = ready(tls=False)
    client.ehlo()
    (caps,) = client.receive_data(
        b"250-smtp.163.com\r\n250-AUTH LOGIN PLAIN XOAUTH2\r\n250-AUTH=LOGIN PLAIN XOAUTH2\r\n"
        b"250-STARTTLS\r\n250 8BITMIME\r\n"
    )
    assert isinstance(caps, Capabilities)
    assert caps.sasl_mechanisms == ("LOGIN", "PLAIN", "XOAUTH2")
    assert caps.starttls


def test_ehlo_refused_then_helo() -> None:
    client = ready()
    client.ehlo()
    assert client.receive_data(b"502 5.5.2 Error: command not recognized\r\n") == [
        CommandFailed("EHLO", "5.5.2 Error: command not recognized", "502 5.5.2")
    ]
    assert client.helo("[127.0.0.1]") == b"HELO [127.0.0.1]\r\n"
    assert client.receive_data(b"250 hi\r\n") == [CommandOK("HELO", "hi")]


@pytest.mark.parametrize("name", ["", "a b", "a\r\nMAIL FROM:<x>", "é.example"])
def test_ehlo_name_is_checked(name: str) -> None:
    with pytest.raises(ValueError, match="EHLO"):
        ready().ehlo(name)


def test_starttls() -> None:
    client = ready(tls=False)
    client.ehlo()
    client.receive_data(b"250-x\r\n250 STARTTLS\r\n")
    assert client.starttls() == b"STARTTLS\r\n"
    assert client.receive_data(b"220 2.0.0 Ready to start TLS\r\n") == [
        TLSReady("2.0.0 Ready to start TLS")
    ]
    client.tls_established()
    assert client.capabilities is None and client.tls
    client.ehlo()
    (caps,) = client.receive_data(b"250-x\r\n250 AUTH PLAIN\r\n")
    assert isinstance(caps, Capabilities) and caps.sasl_mechanisms == ("PLAIN",)


def test_starttls_refused_and_injection() -> None:
    client = ready(tls=False)
    client.starttls()
    assert client.receive_data(b"454 4.7.0 TLS not available due to local problem\r\n") == [
        TLSRefused("4.7.0 TLS not available due to local problem", "454 4.7.0")
    ]
    client.starttls()
    with pytest.raises(ProtocolError, match="after accepting STARTTLS"):
        client.receive_data(b"220 go ahead\r\n250 AUTH PLAIN\r\n")


def test_auth_plain() -> None:
    client = ready()
    data = client.authenticate(Plain("alice@guess.test", "pässwörd"))
    assert (
        data
        == b"AUTH PLAIN " + base64.b64encode("\x00alice@guess.test\x00pässwörd".encode()) + b"\r\n"
    )
    assert client.receive_data(b"235 2.7.0 Authentication successful\r\n") == [
        AuthOK("2.7.0 Authentication successful")
    ]
    assert client.authenticated
    with pytest.raises(CommandStateError):
        client.authenticate(Plain("a", "b"))
    with pytest.raises(CommandStateError):
        client.starttls()


def test_auth_login_and_failure_codes() -> None:
    client = ready()
    assert client.authenticate(Login("bob", "pw")) == b"AUTH LOGIN\r\n"
    assert client.receive_data(b"334 VXNlcm5hbWU6\r\n") == [Challenge(b"Username:")]
    with pytest.raises(ProtocolError, match="second challenge"):
        challenged_client().receive_data(b"334 UGFzc3dvcmQ6\r\n")
    assert client.answer_challenge() == b"Ym9i\r\n"
    client.receive_data(b"334 UGFzc3dvcmQ6\r\n")
    assert client.answer_challenge() == b"cHc=\r\n"
    assert client.receive_data(
        b"535 5.7.8 Error: authentication failed: authentication failure\r\n"
    ) == [
        AuthFailed("5.7.8 Error: authentication failed: authentication failure", "535 5.7.8", False)
    ]
    client.authenticate(Plain("bob", "pw"))
    (failed,) = client.receive_data(b"454 4.7.0 Temporary authentication failure\r\n")
    assert isinstance(failed, AuthFailed) and failed.temporary and failed.code == "454 4.7.0"


def challenged_client() -> SMTPClient:
    client = ready()
    client.authenticate(Login("bob", "pw"))
    client.receive_data(b"334 VXNlcm5hbWU6\r\n")
    return client


def test_gmail_app_password_reply_code() -> None:
    client = ready()
    client.authenticate(Plain("someone@gmail.com", "web-password"))
    (failed,) = client.receive_data(
        b"534-5.7.9 Application-specific password required. Learn more at\r\n"
        b"534 5.7.9  https://support.google.com/mail/?p=InvalidSecondFactor\r\n"
    )
    assert isinstance(failed, AuthFailed)
    assert failed.code == "534 5.7.9"
    assert "Application-specific password required" in failed.text


def test_xoauth2_and_oauthbearer_error_challenges() -> None:
    client = ready()
    client.authenticate(XOAuth2("user@gmail.com", "tok"))
    client.receive_data(b"334 eyJzdGF0dXMiOiI0MDAifQ==\r\n")
    assert client.answer_challenge() == b"\r\n"
    (failed,) = client.receive_data(
        b"535-5.7.8 Username and Password not accepted.\r\n535 5.7.8 more\r\n"
    )
    assert isinstance(failed, AuthFailed) and failed.code == "535 5.7.8"
    client.authenticate(OAuthBearer("user@example.com", "tok"))
    client.receive_data(b"334 eyJzdGF0dXMiOiI0MDAifQ==\r\n")
    assert client.answer_challenge() == b"AQ==\r\n"


def test_noop_quit_unsolicited() -> None:
    client = ready()
    assert client.noop() == b"NOOP\r\n"
    assert client.receive_data(b"250 2.0.0 Ok\r\n") == [CommandOK("NOOP", "2.0.0 Ok")]
    client.noop()
    assert client.receive_data(b"500 no\r\n") == [CommandFailed("NOOP", "no", "500")]
    assert client.quit() == b"QUIT\r\n"
    assert client.receive_data(b"221 2.0.0 Bye\r\n") == [Bye("2.0.0 Bye")]
    assert client.state is State.CLOSED
    idle = ready()
    assert idle.receive_data(b"421 4.4.2 timeout exceeded\r\n") == [Bye("4.4.2 timeout exceeded")]
    with pytest.raises(ProtocolError, match="unexpected 250"):
        ready().receive_data(b"250 what\r\n")


def test_421_in_answer_to_a_command_closes() -> None:
    client = ready()
    client.ehlo()
    assert client.receive_data(b"421 4.7.0 too many errors\r\n") == [Bye("4.7.0 too many errors")]
    assert client.state is State.CLOSED


def test_garbage_reply() -> None:
    client = ready()
    client.noop()
    with pytest.raises(ProtocolError):
        client.receive_data(b"hello\r\n")
