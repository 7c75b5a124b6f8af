"""The sans-I/O IMAP client, fed recorded and crafted server bytes."""

from __future__ import annotations

import base64
import tracemalloc

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
    ConnectionClosed,
    CredentialsError,
    Greeting,
    IMAPClient,
    Login,
    OAuthBearer,
    Plain,
    ProtocolError,
    ResponseTooLargeError,
    Selected,
    ServerID,
    State,
    TLSReady,
    TLSRefused,
    WrongProtocolError,
    XOAuth2,
)
from mailsettings.protocol.imap import encode_mailbox_name

DOVECOT_GREETING = (
    b"* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ "
    b"AUTH=PLAIN AUTH=LOGIN] Dovecot (Debian) ready.\r\n"
)


def state_of(client: IMAPClient) -> State:
    """The state, read afresh (mypy would keep a narrowed ``client.state`` across calls)."""
    return client.state


def ready(greeting: bytes = DOVECOT_GREETING, *, tls: bool = True) -> IMAPClient:
    client = IMAPClient(tls=tls)
    (event,) = client.receive_data(greeting)
    assert isinstance(event, Greeting)
    return client


def logged_in() -> IMAPClient:
    client = ready()
    client.authenticate(Plain("alice", "pw"))
    client.receive_data(b"A1 OK Logged in\r\n")
    assert client.authenticated
    return client


# --- greeting ----------------------------------------------------------------------------


def test_greeting_with_capabilities() -> None:
    client = IMAPClient()
    (greeting,) = client.receive_data(DOVECOT_GREETING)
    assert isinstance(greeting, Greeting)
    assert greeting.ok and not greeting.preauth
    assert greeting.text == "Dovecot (Debian) ready."
    assert greeting.capabilities is not None
    assert greeting.capabilities.sasl_mechanisms == ("PLAIN", "LOGIN")
    assert greeting.capabilities.has("SASL-IR") and greeting.capabilities.has("id")
    assert client.capabilities == greeting.capabilities
    assert state_of(client) is State.READY


def test_greeting_one_byte_at_a_time() -> None:
    client = IMAPClient()
    events = []
    for index in range(len(DOVECOT_GREETING)):
        events += client.receive_data(DOVECOT_GREETING[index : index + 1])
    assert events == IMAPClient().receive_data(DOVECOT_GREETING)


def test_greeting_without_capabilities_and_lower_case() -> None:
    (greeting,) = IMAPClient().receive_data(b"* ok IMAP server ready\r\n")
    assert greeting == Greeting(ok=True, text="IMAP server ready")


def test_preauth_greeting_is_authenticated() -> None:
    client = IMAPClient()
    (greeting,) = client.receive_data(b"* PREAUTH [CAPABILITY IMAP4rev1] welcome back\r\n")
    assert isinstance(greeting, Greeting) and greeting.preauth and greeting.ok
    assert client.authenticated
    with pytest.raises(CommandStateError):
        client.authenticate(Plain("a", "b"))


def test_bye_greeting_closes() -> None:
    client = IMAPClient()
    (greeting,) = client.receive_data(b"* BYE Too many connections\r\nignored\r\n")
    assert greeting == Greeting(ok=False, text="Too many connections")
    assert state_of(client) is State.CLOSED
    assert client.receive_data(b"more") == []
    assert client.receive_data(b"") == [ConnectionClosed()]
    assert client.receive_data(b"") == []


@pytest.mark.parametrize(
    ("line", "detected"),
    [
        (b"220 smtp.example.com ESMTP Postfix\r\n", "SMTP"),
        (b"220-multi\r\n", "SMTP"),
        (b"+OK POP3 ready\r\n", "POP3"),
        (b"-ERR go away\r\n", "POP3"),
        (b"HTTP/1.1 400 Bad Request\r\n", "HTTP"),
        (b"SSH-2.0-OpenSSH_9.2\r\n", "SSH"),
        (b"hello there\r\n", None),
        (b"\r\n", None),
    ],
)
def test_wrong_protocol_greeting(line: bytes, detected: str | None) -> None:
    client = IMAPClient()
    with pytest.raises(WrongProtocolError) as caught:
        client.receive_data(line)
    assert caught.value.detected == detected
    assert caught.value.expected == "IMAP"
    assert caught.value.seen == line.decode().strip()
    assert state_of(client) is State.BROKEN
    with pytest.raises(ProtocolError, match="broken"):
        client.receive_data(b"* OK\r\n")


def test_wrong_greeting_is_sanitised_and_truncated() -> None:
    line = b"\x1b[31mevil\x00" + "é".encode() + b"\xff" + b"x" * 500 + b"\r\n"
    with pytest.raises(WrongProtocolError) as caught:
        IMAPClient().receive_data(line)
    seen = caught.value.seen
    assert len(seen) <= 80
    assert seen.endswith("…")
    assert "\x1b" not in seen and "\x00" not in seen and "\ufffd" in seen and "é" in seen
    assert len(str(caught.value)) < 200


# --- limits ------------------------------------------------------------------------------


def test_ten_megabyte_line_is_an_error_without_memory_growth() -> None:
    client = IMAPClient()
    huge = b"* OK " + b"x" * (10 * 1024 * 1024)
    tracemalloc.start()
    try:
        with pytest.raises(ResponseTooLargeError, match="longer than 65536 bytes"):
            client.receive_data(huge)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1024 * 1024  # the 10 MB input is never copied whole


def test_long_line_fed_in_pieces_is_an_error_as_soon_as_it_passes_the_limit() -> None:
    client = IMAPClient(max_line_length=1000)
    client.receive_data(b"* OK " + b"x" * 900)
    with pytest.raises(ResponseTooLargeError):
        client.receive_data(b"x" * 200)


def test_line_at_the_limit_is_accepted() -> None:
    client = IMAPClient(max_line_length=100)
    line = b"* OK " + b"x" * 95
    (greeting,) = client.receive_data(line + b"\r\n")
    assert isinstance(greeting, Greeting)


def test_too_many_lines_in_one_response() -> None:
    client = ready()
    client.capability()
    with pytest.raises(ResponseTooLargeError, match="more than 1000 lines"):
        client.receive_data(b"* OK still busy\r\n" * 1001)


def test_line_count_restarts_with_each_command() -> None:
    client = ready()
    for _ in range(3):
        client.noop()
        events = client.receive_data(b"* 1 EXISTS\r\n" * 999 + client_tag(client) + b" OK\r\n")
        assert isinstance(events[-1], CommandOK)


def client_tag(client: IMAPClient) -> bytes:
    return client._tag


def test_literal_in_a_response() -> None:
    client = logged_in()
    client.id({"name": "test"})
    events = client.receive_data(b'* ID ("name" {7}\r\nDove\r\nt "version" NIL)\r\nA2 OK done\r\n')
    assert events == [ServerID((("name", "Dove\r\nt"), ("version", None)), "done")]


def test_literal_split_over_chunks() -> None:
    client = logged_in()
    client.id(None)
    data = b'* ID ("name" {5}\r\nabcde)\r\nA2 OK done\r\n'
    events = []
    for index in range(len(data)):
        events += client.receive_data(data[index : index + 1])
    assert events == [ServerID((("name", "abcde"),), "done")]


def test_huge_literal_is_refused_before_it_is_read() -> None:
    client = logged_in()
    client.noop()
    with pytest.raises(ResponseTooLargeError, match="literal of 99999999999"):
        client.receive_data(b"* 1 FETCH (BODY[] {99999999999}\r\n")


def test_many_literals_are_bounded_too() -> None:
    client = logged_in()
    client.noop()
    chunk = b"* 1 FETCH (X {60000}\r\n" + b"x" * 60000
    with pytest.raises(ResponseTooLargeError):
        client.receive_data(
            chunk
            + b" Y {60000}\r\n"
            + b"x" * 60000
            + b" Z {60000}\r\n"
            + b"x" * 60000
            + b" W {60000}\r\n"
            + b"x" * 60000
            + b" V {60000}\r\n"
        )


# --- capabilities and STARTTLS -------------------------------------------------------------


def test_capability_command() -> None:
    client = ready(b"* OK ready\r\n", tls=False)
    assert client.capability() == b"A1 CAPABILITY\r\n"
    assert state_of(client) is State.WAITING
    assert client.pending_command == "CAPABILITY"
    (caps,) = client.receive_data(
        b"* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED AUTH=XOAUTH2 AUTH=plain\r\n"
        b"A1 OK Pre-login capabilities listed, post-login capabilities have more.\r\n"
    )
    assert caps == Capabilities(
        "imap",
        items=("IMAP4rev1", "STARTTLS", "LOGINDISABLED", "AUTH=XOAUTH2", "AUTH=plain"),
        sasl_mechanisms=("XOAUTH2", "PLAIN"),
        starttls=True,
        login_disabled=True,
    )
    assert state_of(client) is State.READY


def test_capability_in_the_tagged_answer_and_failure() -> None:
    client = ready(b"* OK ready\r\n")
    client.capability()
    (caps,) = client.receive_data(b"A1 OK [CAPABILITY IMAP4rev1 ID] done\r\n")
    assert isinstance(caps, Capabilities) and caps.has("ID")
    client.capability()
    (failed,) = client.receive_data(b"A2 BAD [UNAVAILABLE] try later\r\n")
    assert failed == CommandFailed("CAPABILITY", "try later", "UNAVAILABLE", True)


def test_starttls_then_capabilities_forgotten() -> None:
    client = ready(b"* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] ready\r\n", tls=False)
    assert client.starttls() == b"A1 STARTTLS\r\n"
    assert client.receive_data(b"A1 OK Begin TLS negotiation now.\r\n") == [
        TLSReady("Begin TLS negotiation now.")
    ]
    assert state_of(client) is State.TLS_HANDSHAKE
    with pytest.raises(CommandStateError):
        client.capability()
    client.tls_established()
    assert client.tls and client.capabilities is None and state_of(client) is State.READY
    assert client.capability() == b"A2 CAPABILITY\r\n"
    with pytest.raises(CommandStateError, match="already encrypted"):
        IMAPClient(tls=True).starttls()


def test_starttls_refused() -> None:
    client = ready(b"* OK ready\r\n", tls=False)
    client.starttls()
    assert client.receive_data(b"A1 NO [ALERT] not today\r\n") == [TLSRefused("not today", "ALERT")]
    assert state_of(client) is State.READY and not client.tls


def test_data_injected_after_starttls_answer() -> None:
    client = ready(b"* OK ready\r\n", tls=False)
    client.starttls()
    with pytest.raises(ProtocolError, match="after accepting STARTTLS"):
        client.receive_data(b"A1 OK go\r\n* OK [CAPABILITY AUTH=PLAIN] fake\r\n")
    assert state_of(client) is State.BROKEN


def test_data_fed_during_the_handshake_is_refused() -> None:
    client = ready(b"* OK ready\r\n", tls=False)
    client.starttls()
    client.receive_data(b"A1 OK go\r\n")
    with pytest.raises(ProtocolError, match="after accepting STARTTLS"):
        client.receive_data(b"* OK injected\r\n")


# --- LOGIN -------------------------------------------------------------------------------


def test_login_quotes_and_escapes() -> None:
    client = ready()
    assert client.login('al"ice', "p\\w d") == b'A1 LOGIN "al\\"ice" "p\\\\w d"\r\n'


@pytest.mark.parametrize(("user", "password"), [("张三", "pw"), ("alice", "pässword")])
def test_login_refuses_non_ascii(user: str, password: str) -> None:
    client = ready()
    with pytest.raises(CredentialsError, match="SASL PLAIN") as caught:
        client.login(user, password)
    assert password not in str(caught.value)
    assert state_of(client) is State.READY  # nothing was sent


@pytest.mark.parametrize("password", ["a\r\nA2 LOGOUT", "a\nb", "a\x00b"])
def test_login_refuses_line_breaks(password: str) -> None:
    with pytest.raises(CredentialsError, match="CR, LF or NUL") as caught:
        ready().login("alice", password)
    assert password not in str(caught.value)


def test_login_refused_when_server_disables_it() -> None:
    client = ready(b"* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] ready\r\n", tls=False)
    with pytest.raises(CommandStateError, match="LOGINDISABLED"):
        client.login("alice", "secret")


def test_login_failure_and_success() -> None:
    client = ready()
    client.login("alice", "s3cret-password")
    (failed,) = client.receive_data(
        b"A1 NO [AUTHENTICATIONFAILED] Authentication failed for s3cret-password.\r\n"
    )
    assert failed == AuthFailed("Authentication failed for ***.", "AUTHENTICATIONFAILED", False)
    assert not client.authenticated
    client.login("alice", "s3cret-password")
    (ok,) = client.receive_data(b"A2 OK [CAPABILITY IMAP4rev1 IDLE] Logged in\r\n")
    assert isinstance(ok, AuthOK) and ok.capabilities is not None and ok.capabilities.has("IDLE")
    assert client.authenticated and client.capabilities == ok.capabilities
    assert "s3cret" not in repr(client)


def test_temporary_login_failure() -> None:
    client = ready()
    client.login("alice", "pw")
    (failed,) = client.receive_data(b"A1 NO [UNAVAILABLE] Backend down\r\n")
    assert isinstance(failed, AuthFailed) and failed.temporary


def test_netease_unsafe_login_select_failure_text() -> None:
    client = logged_in()
    client.select()
    (failed,) = client.receive_data(
        b"A2 NO SELECT Unsafe Login. Please contact kefu@188.com for help\r\n"
    )
    assert failed == CommandFailed(
        "SELECT", "SELECT Unsafe Login. Please contact kefu@188.com for help"
    )


# --- AUTHENTICATE ----------------------------------------------------------------------------


def test_authenticate_plain_inline_with_sasl_ir() -> None:
    client = ready()
    data = client.authenticate(Plain("alice@example.com", "pässwörd"))
    expected = base64.b64encode("\x00alice@example.com\x00pässwörd".encode())
    assert data == b"A1 AUTHENTICATE PLAIN " + expected + b"\r\n"
    assert client.receive_data(b"A1 OK Logged in\r\n") == [AuthOK("Logged in")]


def test_authenticate_plain_without_sasl_ir_waits_for_the_continuation() -> None:
    client = ready(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\r\n")
    assert client.authenticate(Plain("alice", "pw")) == b"A1 AUTHENTICATE PLAIN\r\n"
    assert client.receive_data(b"+ \r\n") == [Challenge(b"")]
    assert state_of(client) is State.CHALLENGED
    assert client.answer_challenge() == base64.b64encode(b"\x00alice\x00pw") + b"\r\n"
    assert state_of(client) is State.WAITING
    assert client.receive_data(b"A1 OK done\r\n") == [AuthOK("done")]


def test_authenticate_login_mechanism() -> None:
    client = ready()
    assert client.authenticate(Login("alice", "pw")) == b"A1 AUTHENTICATE LOGIN\r\n"
    assert client.receive_data(b"+ VXNlcm5hbWU6\r\n") == [Challenge(b"Username:")]
    assert client.answer_challenge() == b"YWxpY2U=\r\n"
    assert client.receive_data(b"+ UGFzc3dvcmQ6\r\n") == [Challenge(b"Password:")]
    assert client.answer_challenge() == b"cHc=\r\n"
    with pytest.raises(ProtocolError, match="another LOGIN challenge"):
        client.receive_data(b"+ UGFzc3dvcmQ6\r\n")


def test_xoauth2_error_challenge_answered_with_an_empty_line() -> None:
    client = ready(b"* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=XOAUTH2] ready\r\n")
    data = client.authenticate(XOAuth2("user@gmail.com", "ya29.token"))
    assert data.startswith(b"A1 AUTHENTICATE XOAUTH2 ")
    assert b"ya29.token" not in data  # base64
    error = b'{"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}'
    (challenge,) = client.receive_data(b"+ " + base64.b64encode(error) + b"\r\n")
    assert challenge == Challenge(error)
    assert client.answer_challenge() == b"\r\n"
    (failed,) = client.receive_data(
        b"A1 NO [AUTHENTICATIONFAILED] Invalid credentials (Failure)\r\n"
    )
    assert isinstance(failed, AuthFailed) and failed.code == "AUTHENTICATIONFAILED"


def test_oauthbearer_error_challenge_answered_with_ctrl_a() -> None:
    client = ready(b"* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=OAUTHBEARER] ready\r\n")
    client.authenticate(OAuthBearer("user@example.com", "tok", host="imap.example.com", port=993))
    client.receive_data(b"+ eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIn0=\r\n")
    assert client.answer_challenge() == base64.b64encode(b"\x01") + b"\r\n"


def test_cancel_authentication() -> None:
    client = ready(b"* OK [CAPABILITY IMAP4rev1] ready\r\n")
    client.authenticate(Login("alice", "pw"))
    client.receive_data(b"+ VXNlcm5hbWU6\r\n")
    assert client.cancel_authentication() == b"*\r\n"
    (failed,) = client.receive_data(b"A1 BAD Authentication aborted by client.\r\n")
    assert isinstance(failed, AuthFailed)
    with pytest.raises(CommandStateError):
        client.answer_challenge()


def test_empty_initial_response_is_an_equals_sign() -> None:
    class Empty(Plain):
        def initial_response(self) -> bytes:
            return b""

    assert ready().authenticate(Empty("a", "b")) == b"A1 AUTHENTICATE PLAIN =\r\n"


def test_password_echoed_by_the_server_is_masked() -> None:
    client = ready(b"* OK [CAPABILITY IMAP4rev1] ready\r\n")
    client.authenticate(Plain("alice", "hunter2-secret"))
    encoded = base64.b64encode(b"\x00alice\x00hunter2-secret")
    (challenge,) = client.receive_data(
        b"+ " + base64.b64encode(b"you said hunter2-secret") + b"\r\n"
    )
    assert challenge == Challenge(b"you said ***")
    client.answer_challenge()
    (failed,) = client.receive_data(b"A1 NO got " + encoded + b" and hunter2-secret\r\n")
    assert isinstance(failed, AuthFailed)
    assert failed.text == "got *** and ***"
    with pytest.raises(ProtocolError) as caught:
        client.receive_data(b"A9 NO hunter2-secret\r\n")
    assert "hunter2" not in str(caught.value) and "hunter2" not in caught.value.seen


def test_unexpected_continuation_and_tags() -> None:
    client = ready()
    client.noop()
    with pytest.raises(ProtocolError, match="continuation"):
        client.receive_data(b"+ go on\r\n")
    client = ready()
    client.noop()
    with pytest.raises(ProtocolError, match="not sent"):
        client.receive_data(b"B7 OK done\r\n")
    client = ready()
    with pytest.raises(ProtocolError, match="not sent"):
        client.receive_data(b"A1 OK nothing asked\r\n")
    client = ready()
    client.noop()
    with pytest.raises(ProtocolError, match="unexpected line"):
        client.receive_data(b"garbage\r\n")


# --- ID, SELECT, NOOP, LOGOUT ---------------------------------------------------------------


def test_id_command_quoting() -> None:
    client = logged_in()
    assert client.id({"name": "mailsettings", "version": "0.1", "os": None}) == (
        b'A2 ID ("name" "mailsettings" "version" "0.1" "os" NIL)\r\n'
    )
    client.receive_data(b"A2 OK\r\n")
    assert client.id(None) == b"A3 ID NIL\r\n"


@pytest.mark.parametrize(
    "fields",
    [{"name": "a\r\nA2 LOGOUT"}, {"name": "名字"}, {"x" * 31: "v"}, {"name": "v" * 1025}],
)
def test_id_refuses_unsafe_fields(fields: dict[str, str]) -> None:
    with pytest.raises(ValueError, match=r"ID|CR"):
        logged_in().id(fields)


@pytest.mark.parametrize(
    ("untagged", "fields"),
    [
        (b'* ID ("name" "Dovecot")\r\n', (("name", "Dovecot"),)),
        (b"* ID NIL\r\n", None),
        (
            b'* ID ("name" "Coremail" "vendor" "Netease" "support-url" NIL)\r\n',
            (("name", "Coremail"), ("vendor", "Netease"), ("support-url", None)),
        ),
        (b'* ID ("na\\"me" "v\\\\x")\r\n', (('na"me', "v\\x"),)),
        (b'* ID ("odd")\r\n', None),
        (b"* ID garbage {\r\n", None),
        (b'* ID ("a" b)\r\n', None),
        (b"", None),
    ],
)
def test_id_response(untagged: bytes, fields: tuple[tuple[str, str | None], ...] | None) -> None:
    client = logged_in()
    client.id({"name": "x"})
    assert client.receive_data(untagged + b"A2 OK ID completed.\r\n") == [
        ServerID(fields, "ID completed.")
    ]


def test_select_inbox() -> None:
    client = logged_in()
    assert client.select() == b'A2 SELECT "INBOX"\r\n'
    (selected,) = client.receive_data(
        b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n"
        b"* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] Flags permitted.\r\n"
        b"* 3 EXISTS\r\n* 0 RECENT\r\n* OK [UIDVALIDITY 1732938752] UIDs valid\r\n"
        b"* OK [UIDNEXT 4] Predicted next UID\r\nA2 OK [READ-WRITE] Select completed (0.001 + 0.000 secs).\r\n"
    )
    assert selected == Selected(
        "INBOX", 3, 1732938752, False, "Select completed (0.001 + 0.000 secs)."
    )


def test_examine_and_utf7_mailbox() -> None:
    client = logged_in()
    assert client.select("已发送", read_only=True) == b'A2 EXAMINE "&XfJT0ZAB-"\r\n'
    (selected,) = client.receive_data(b"A2 OK [READ-ONLY] done\r\n")
    assert selected == Selected("已发送", None, None, True, "done")


def test_select_needs_authentication() -> None:
    with pytest.raises(CommandStateError, match="authenticated"):
        ready().select()


def test_mailbox_names() -> None:
    assert encode_mailbox_name("Entwürfe") == "Entw&APw-rfe"
    assert encode_mailbox_name("&") == "&-"
    with pytest.raises(ValueError, match="CR, LF"):
        logged_in().select("a\r\nb")


def test_noop_and_logout() -> None:
    client = logged_in()
    assert client.noop() == b"A2 NOOP\r\n"
    assert client.receive_data(b"* 4 EXISTS\r\nA2 OK NOOP completed.\r\n") == [
        CommandOK("NOOP", "NOOP completed.")
    ]
    assert client.logout() == b"A3 LOGOUT\r\n"
    events = client.receive_data(b"* BYE Logging out\r\nA3 OK Logout completed.\r\n")
    assert events == [Bye("Logging out")]
    assert state_of(client) is State.CLOSED
    with pytest.raises(CommandStateError):
        client.noop()


def test_unsolicited_bye_while_waiting() -> None:
    client = logged_in()
    client.noop()
    assert client.receive_data(b"* BYE Server shutting down\r\n") == [Bye("Server shutting down")]
    assert state_of(client) is State.CLOSED


def test_connection_closed_midway() -> None:
    client = logged_in()
    client.noop()
    client.receive_data(b"* 1 EXI")
    assert client.receive_data(b"") == [ConnectionClosed()]
    assert state_of(client) is State.CLOSED


def test_one_command_at_a_time() -> None:
    client = ready()
    client.noop()
    with pytest.raises(CommandStateError, match="waiting"):
        client.noop()
    with pytest.raises(CommandStateError, match="greeting"):
        IMAPClient().capability()


def test_tag_prefix() -> None:
    client = IMAPClient(tag_prefix="ms")
    client.receive_data(b"* OK ready\r\n")
    assert client.capability() == b"ms1 CAPABILITY\r\n"
    with pytest.raises(ValueError, match="tag prefix"):
        IMAPClient(tag_prefix="a b")


def test_repr_shows_no_secret() -> None:
    client = ready()
    client.login("alice", "correct horse battery staple")
    assert repr(client) == "<IMAPClient state=waiting tls=True>"
