"""connect_imap, connect_pop3 and connect_smtp against the real Dovecot and Postfix, and hostile servers.

Every server is on loopback: Dovecot and Postfix on 127.0.0.25 (tests/mail_servers.py),
the hostile servers on 127.0.0.1 (tests/hostile_mail_servers.py), and dnsmasq maps the
test names to them. Hence ``allow_private_networks=True`` everywhere but in the test that
shows the default refusing them.
"""

from __future__ import annotations

import base64
import imaplib
import logging
import poplib
import smtplib
import ssl
import time
import traceback
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from dns_servers import Dnsmasq
from hostile_mail_servers import HostileCA, HostileFactory, HostileServer
from mail_servers import (
    DOMAIN,
    MAIL_HOST,
    SERVER_HOSTS,
    STANDARD_PORTS,
    MailServers,
    MailUser,
    domain_provider,
)

from mailsettings import (
    AppPasswordRequiredError,
    AuthenticationError,
    ConnectError,
    ConnectTimeoutError,
    LookupResult,
    MailSettingsError,
    ProtocolError,
    Provider,
    ProviderNotFoundError,
    Registry,
    Server,
    Source,
    TLSError,
)
from mailsettings.access.credentials import CLIENT_ID
from mailsettings.access.stdlib import connect_imap, connect_pop3, connect_smtp
from mailsettings.protocol import CredentialsError, WrongProtocolError

PROTOCOLS = ("imap", "pop3", "smtp")
SECURITIES = ("ssl", "starttls")
CONNECT: dict[str, Callable[..., Any]] = {
    "imap": connect_imap,
    "pop3": connect_pop3,
    "smtp": connect_smtp,
}
STDLIB_CLASS: dict[tuple[str, str], type] = {
    ("imap", "ssl"): imaplib.IMAP4_SSL,
    ("imap", "starttls"): imaplib.IMAP4,
    ("pop3", "ssl"): poplib.POP3_SSL,
    ("pop3", "starttls"): poplib.POP3,
    ("smtp", "ssl"): smtplib.SMTP_SSL,
    ("smtp", "starttls"): smtplib.SMTP,
}
AUTHORIZATION_CODE_STEP = (
    "Generate a client authorization code in the test mailbox's settings and log in with it."
)


def network(mail_servers: MailServers, mail_names: Dnsmasq, **extra: Any) -> dict[str, Any]:
    """The network options that reach the loopback servers."""
    return mail_servers.network(mail_names.resolver(), timeout=10.0, **extra)


def server(protocol: str, security: str, user: MailUser | None = None) -> Server:
    """The test server for ``protocol`` whose login rule fits ``user``."""
    username = "%EMAILLOCALPART%" if user is not None and "@" not in user.login else None
    return Server.model_validate(
        {
            "protocol": protocol,
            "host": SERVER_HOSTS[protocol],
            "port": STANDARD_PORTS[protocol, security],
            "security": security,
            **({"username": username} if username else {}),
        }
    )


def result(user: MailUser, security: str = "ssl", **extra: Any) -> LookupResult:
    """The lookup result of a test registry that knows only :func:`domain_provider`."""
    return Registry([domain_provider(security, **extra)], bundled=False).lookup(user.address)


def authorization_code_result(user: MailUser) -> LookupResult:
    return result(
        user,
        password="authorization-code",
        instructions=[{"kind": "authorization-code", "text": AUTHORIZATION_CODE_STEP}],
    )


def imap_id_result(user: MailUser) -> LookupResult:
    return result(
        user,
        instructions=[
            {"kind": "imap-id", "text": "The test server wants clients to say who they are."}
        ],
    )


def use(protocol: str, connection: Any) -> None:
    """What a caller does first with a logged-in object; it fails unless logged in."""
    if protocol == "imap":
        kind, _ = connection.select("INBOX")
        assert kind == "OK"
        assert connection.state == "SELECTED"
        connection.logout()
    elif protocol == "pop3":
        messages, size = connection.stat()
        assert messages >= 0 and size >= 0
        assert connection.noop().startswith(b"+OK")
        connection.quit()
    else:
        assert connection.noop()[0] == 250
        # a second AUTH is refused with 503 only on an authenticated session
        assert connection.docmd("AUTH", "PLAIN")[0] == 503
        connection.quit()


def hostile_server(protocol: str, port: int, security: str = "starttls") -> Server:
    return Server.model_validate(
        {"protocol": protocol, "host": "127.0.0.1", "port": port, "security": security}
    )


def connect_hostile(
    protocol: str,
    port: int,
    security: str = "starttls",
    *,
    password: str = "secret",
    timeout: float = 5.0,
) -> Any:
    """Log in as jane@hostile.test (password ``secret`` unless told) to the hostile server at
    ``port`` on 127.0.0.1."""
    return CONNECT[protocol](
        hostile_server(protocol, port, security),
        "jane@hostile.test",
        password=password,
        allow_private_networks=True,
        timeout=timeout,
    )


def assert_no_secret(error: BaseException, *secrets: str) -> None:
    """No secret in the error's message, ``repr``, attributes or formatted traceback."""
    shown = [
        str(error),
        repr(error),
        repr(error.args),
        repr(vars(error)),
        "".join(traceback.format_exception(error)),
    ]
    for secret in secrets:
        encoded = base64.b64encode(secret.encode()).decode()
        for text in shown:
            assert secret not in text
            assert encoded not in text


def dovecot_log_after(mail_servers: MailServers, offset: int, until: str) -> str:
    """Dovecot's log after ``offset``, once ``until`` shows in it (its log process is async)."""
    deadline = time.monotonic() + 10
    while True:
        text = mail_servers.dovecot_log_text()[offset:]
        if until in text or time.monotonic() > deadline:
            return text
        time.sleep(0.05)


# --- logging in ------------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("security", SECURITIES)
@pytest.mark.parametrize("who", ["full_address_user", "local_part_user", "utf8_user"])
def test_each_helper_returns_a_logged_in_standard_library_object(
    mail_servers: MailServers, mail_names: Dnsmasq, protocol: str, security: str, who: str
) -> None:
    user: MailUser = getattr(mail_servers, who)
    connection = CONNECT[protocol](
        server(protocol, security, user),
        user.address,
        password=user.password,
        **network(mail_servers, mail_names),
    )
    assert isinstance(connection, STDLIB_CLASS[protocol, security])
    sock = getattr(connection, "sock", None)
    assert isinstance(sock, ssl.SSLSocket)  # TLS in both modes
    assert sock.getpeername()[0] == MAIL_HOST
    assert sock.gettimeout() == 10.0  # from now on, the standard library's per-operation timeout
    use(protocol, connection)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_lookup_result_is_a_target_and_login_overrides_the_rule(
    mail_servers: MailServers, mail_names: Dnsmasq, protocol: str
) -> None:
    bob = mail_servers.local_part_user
    target = result(bob, "starttls")  # the provider's rule: the full address, not Bob's login
    connection = CONNECT[protocol](
        target, login=bob.login, password=bob.password, **network(mail_servers, mail_names)
    )
    use(protocol, connection)


# --- refused logins ----------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_wrong_password_is_an_authentication_error(
    mail_servers: MailServers, mail_names: Dnsmasq, protocol: str
) -> None:
    alice = mail_servers.full_address_user
    wrong = "Wrong-Pässword-" + uuid.uuid4().hex
    with pytest.raises(AuthenticationError) as caught:
        CONNECT[protocol](
            server(protocol, "ssl"),
            alice.address,
            password=wrong,
            **network(mail_servers, mail_names),
        )
    error = caught.value
    assert type(error) is AuthenticationError
    assert error.login == alice.login
    assert error.server_reply  # what the server said, for the user
    assert "wrong login name or password" in str(error)
    assert_no_secret(error, wrong)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_provider_that_wants_an_authorization_code_says_so(
    mail_servers: MailServers, mail_names: Dnsmasq, protocol: str
) -> None:
    alice = mail_servers.full_address_user
    target = authorization_code_result(alice)
    wrong = "the-web-password-" + uuid.uuid4().hex
    with pytest.raises(AppPasswordRequiredError) as caught:
        CONNECT[protocol](
            target, alice.address, password=wrong, **network(mail_servers, mail_names)
        )
    error = caught.value
    assert error.provider is not None and error.provider.id == DOMAIN
    assert AUTHORIZATION_CODE_STEP in str(error)
    assert "authorization code" in str(error)
    assert error.login == alice.address
    assert_no_secret(error, wrong)
    # the right secret at the same provider logs in
    use(
        protocol,
        CONNECT[protocol](
            target, alice.address, password=alice.password, **network(mail_servers, mail_names)
        ),
    )


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_token_where_no_oauth2_mechanism_is_offered_is_never_sent(
    mail_servers: MailServers, mail_names: Dnsmasq, protocol: str
) -> None:
    alice = mail_servers.full_address_user
    token = "ya29." + uuid.uuid4().hex
    with pytest.raises(AuthenticationError, match="no OAuth2 mechanism") as caught:
        CONNECT[protocol](
            server(protocol, "ssl"),
            alice.address,
            oauth2_token=token,
            **network(mail_servers, mail_names),
        )
    assert "PLAIN" in str(caught.value)  # what the server does offer
    assert_no_secret(caught.value, token)


# --- IMAP ID ---------------------------------------------------------------------------------


def test_imap_id_is_sent_for_a_provider_that_asks_for_it(
    mail_servers: MailServers, mail_names: Dnsmasq
) -> None:
    alice = mail_servers.full_address_user
    offset = len(mail_servers.dovecot_log_text())
    imap = connect_imap(
        imap_id_result(alice),
        alice.address,
        password=alice.password,
        **network(mail_servers, mail_names),
    )
    use("imap", imap)
    expected = f"ID sent: name={CLIENT_ID['name']}, version={CLIENT_ID['version']}"
    assert expected in dovecot_log_after(mail_servers, offset, expected)


@pytest.mark.parametrize("case", ["no instruction", "imap_id=False"])
def test_imap_id_is_not_sent_otherwise(
    mail_servers: MailServers, mail_names: Dnsmasq, case: str
) -> None:
    alice = mail_servers.full_address_user
    offset = len(mail_servers.dovecot_log_text())
    if case == "no instruction":
        imap = connect_imap(
            result(alice),
            alice.address,
            password=alice.password,
            **network(mail_servers, mail_names),
        )
    else:
        imap = connect_imap(
            imap_id_result(alice),
            alice.address,
            password=alice.password,
            imap_id=False,
            **network(mail_servers, mail_names),
        )
    use("imap", imap)
    # a later session that does send an ID marks how far the log has come
    marker = "marker-" + uuid.uuid4().hex[:12]
    later = connect_imap(
        server("imap", "ssl"),
        alice.address,
        password=alice.password,
        imap_id={"name": marker},
        **network(mail_servers, mail_names),
    )
    use("imap", later)
    text = dovecot_log_after(mail_servers, offset, f"ID sent: name={marker}")
    assert f"ID sent: name={marker}" in text
    assert text.count("ID sent:") == 1


def test_an_imap_id_mapping_is_validated_before_connecting(mail_servers: MailServers) -> None:
    alice = mail_servers.full_address_user
    for bad in ({"name": "名字"}, {"name": "a\r\nb"}, {"n" * 31: "x"}):
        with pytest.raises(ValueError, match="IMAP ID"):
            connect_imap(server("imap", "ssl"), alice.address, password=alice.password, imap_id=bad)


# --- TLS -------------------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_refused_starttls_is_a_tls_error_and_the_password_never_leaves(
    hostile_mail_server: HostileFactory, protocol: str
) -> None:
    hostile = hostile_mail_server("starttls-refused", protocol)
    password = "Never-Sent-" + uuid.uuid4().hex
    with pytest.raises(TLSError, match="refused ST") as caught:
        connect_hostile(protocol, hostile.port, password=password)
    received = hostile.received
    assert b"STARTTLS" in received or b"STLS" in received  # the client did get that far
    assert password.encode() not in received
    for login in ("jane@hostile.test", ""):
        plain = base64.b64encode(f"\0{login}\0{password}".encode())
        assert plain not in received
    assert base64.b64encode(password.encode()) not in received
    assert_no_secret(caught.value, password)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_certificate_for_another_name_is_a_tls_error(
    hostile_mail_server: HostileFactory, hostile_ca: HostileCA, mail_names: Dnsmasq, protocol: str
) -> None:
    hostile = hostile_mail_server("wrong-name", protocol)
    target = Server.model_validate(
        {"protocol": protocol, "host": "mail.hostile.test", "port": hostile.port, "security": "ssl"}
    )
    with pytest.raises(TLSError, match="not valid") as caught:
        CONNECT[protocol](
            target,
            "jane@hostile.test",
            password="secret-" + uuid.uuid4().hex,
            ssl_context=hostile_ca.client_context(),
            resolver=mail_names.resolver(),
            allow_private_networks=True,
            timeout=5.0,
        )
    assert "mail.hostile.test" in str(caught.value)
    assert hostile.received == b""  # nothing readable reached it


def test_the_default_ssl_context_does_not_trust_the_test_ca(
    mail_servers: MailServers, mail_names: Dnsmasq
) -> None:
    alice = mail_servers.full_address_user
    options = network(mail_servers, mail_names)
    del options["ssl_context"]
    with pytest.raises(TLSError, match="could not be verified"):
        connect_imap(server("imap", "ssl"), alice.address, password=alice.password, **options)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_server_without_tls_needs_allow_plaintext(
    hostile_mail_server: HostileFactory, protocol: str
) -> None:
    hostile = hostile_mail_server("starttls-refused", protocol)  # it accepts any login
    target = hostile_server(protocol, hostile.port, security="plain")
    password = "plain-" + uuid.uuid4().hex
    with pytest.raises(TLSError, match="allow_plaintext"):
        CONNECT[protocol](
            target, "jane@hostile.test", password=password, allow_private_networks=True
        )
    assert hostile.connections == 0  # refused before connecting
    connection = CONNECT[protocol](
        target,
        "jane@hostile.test",
        password=password,
        allow_private_networks=True,
        allow_plaintext=True,
        timeout=5.0,
    )
    assert not isinstance(connection.sock, ssl.SSLSocket)
    answer = connection.noop()
    assert {"imap": answer[0] == "OK", "pop3": answer[:3] == b"+OK", "smtp": answer[0] == 250}[
        protocol
    ]
    if protocol == "imap":
        connection.shutdown()
    else:
        connection.close()


def test_dovecot_without_tls_gets_no_password(
    mail_servers: MailServers, mail_names: Dnsmasq
) -> None:
    alice = mail_servers.full_address_user
    plain = Server.model_validate(
        {"protocol": "imap", "host": f"imap.{DOMAIN}", "port": 143, "security": "plain"}
    )
    with pytest.raises(AuthenticationError, match="nothing was sent"):
        connect_imap(
            plain,
            alice.address,
            password=alice.password,
            allow_plaintext=True,
            **network(mail_servers, mail_names),
        )


# --- hostile servers -------------------------------------------------------------------------

BUDGET = 1.0


@pytest.mark.parametrize(
    ("protocol", "security"),
    [("imap", "starttls"), ("imap", "ssl"), ("pop3", "starttls"), ("smtp", "starttls")],
)
def test_a_silent_server_is_a_timeout_within_the_budget(
    hostile_mail_server: HostileFactory, protocol: str, security: str
) -> None:
    hostile = hostile_mail_server("silent", protocol)
    started = time.monotonic()
    with pytest.raises(ConnectTimeoutError) as caught:
        connect_hostile(protocol, hostile.port, security, timeout=BUDGET)
    assert time.monotonic() - started < 3 * BUDGET + 1
    assert isinstance(caught.value, TimeoutError) and isinstance(caught.value, ConnectionError)
    assert caught.value.port == hostile.port


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_dripping_greeting_cannot_stretch_the_budget(
    hostile_mail_server: HostileFactory, protocol: str
) -> None:
    hostile = hostile_mail_server("drip", protocol, interval=0.2)
    started = time.monotonic()
    with pytest.raises(ConnectTimeoutError):
        connect_hostile(protocol, hostile.port, timeout=BUDGET)
    assert time.monotonic() - started < 3 * BUDGET + 1
    assert hostile.sent >= 2  # it was dripping, not silent


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_wrong_protocol_is_a_protocol_error(
    hostile_mail_server: HostileFactory, protocol: str
) -> None:
    hostile = hostile_mail_server("wrong-protocol", protocol)
    with pytest.raises(ProtocolError) as caught:
        connect_hostile(protocol, hostile.port, password="secret")
    assert isinstance(caught.value, WrongProtocolError)
    assert caught.value.expected == protocol.upper()
    assert caught.value.detected == ("SMTP" if protocol == "imap" else "IMAP")
    assert b"secret" not in hostile.received


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_an_endless_line_is_a_protocol_error(
    hostile_mail_server: HostileFactory, protocol: str
) -> None:
    hostile = hostile_mail_server("endless-line", protocol)
    with pytest.raises(ProtocolError) as caught:
        connect_hostile(protocol, hostile.port)
    assert not isinstance(caught.value, WrongProtocolError)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_data_injected_after_starttls_is_refused(
    hostile_mail_server: HostileFactory, protocol: str
) -> None:
    hostile = hostile_mail_server("starttls-injection", protocol)
    with pytest.raises(ProtocolError, match="injection"):
        connect_hostile(protocol, hostile.port)


# --- where connections may go --------------------------------------------------------------


def test_private_addresses_are_refused_by_default_before_connecting(
    mail_servers: MailServers, mail_names: Dnsmasq, hostile_mail_server: HostileFactory
) -> None:
    alice = mail_servers.full_address_user
    options = network(mail_servers, mail_names)
    del options["allow_private_networks"]
    with pytest.raises(ConnectError, match=r"127\.0\.0\.25.*allow_private_networks"):
        connect_imap(server("imap", "ssl"), alice.address, password=alice.password, **options)
    hostile: HostileServer = hostile_mail_server("silent", "imap")
    target = Server.model_validate(
        {
            "protocol": "imap",
            "host": "imap.hostile.test",
            "port": hostile.port,
            "security": "starttls",
        }
    )
    with pytest.raises(ConnectError, match="non-public"):
        connect_imap(target, "jane@hostile.test", password="secret", resolver=mail_names.resolver())
    assert hostile.connections == 0
    # allowed_networks opens exactly the network named
    with pytest.raises(ConnectTimeoutError):
        connect_imap(
            target,
            "jane@hostile.test",
            password="secret",
            resolver=mail_names.resolver(),
            allowed_networks=("127.0.0.1/32",),
            timeout=0.5,
        )
    assert hostile.connections == 1


def test_names_resolve_only_through_the_given_resolver(
    mail_servers: MailServers, mail_names: Dnsmasq
) -> None:
    alice = mail_servers.full_address_user
    unknown = Server.model_validate(
        {"protocol": "imap", "host": "imap.unknown.test", "port": 993, "security": "ssl"}
    )
    with pytest.raises(ConnectError, match="does not resolve"):
        connect_imap(
            unknown, alice.address, password=alice.password, **network(mail_servers, mail_names)
        )


# --- credentials stay secret -----------------------------------------------------------------


def test_credentials_are_in_no_log_and_no_attribute(
    mail_servers: MailServers, mail_names: Dnsmasq, caplog: pytest.LogCaptureFixture
) -> None:
    carol = mail_servers.utf8_user
    with caplog.at_level(logging.DEBUG, logger="mailsettings"):
        connections = [
            CONNECT[protocol](
                server(protocol, "starttls"),
                carol.address,
                password=carol.password,
                **network(mail_servers, mail_names),
            )
            for protocol in PROTOCOLS
        ]
    assert "logged in" in caplog.text
    assert carol.password not in caplog.text
    for protocol, connection in zip(PROTOCOLS, connections, strict=True):
        state = repr(vars(connection)) + repr(connection)
        assert carol.password not in state
        assert repr(carol.password.encode())[2:-1] not in state
        use(protocol, connection)


def test_imaplib_debug_output_stays_off_while_logging_in(
    mail_servers: MailServers,
    mail_names: Dnsmasq,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    alice = mail_servers.full_address_user
    monkeypatch.setattr(imaplib, "Debug", 5)  # a caller turned imaplib's debugging on
    imap = connect_imap(
        server("imap", "starttls"),
        alice.address,
        password=alice.password,
        **network(mail_servers, mail_names),
    )
    assert capsys.readouterr().err == ""
    assert alice.password not in repr(getattr(imap, "_cmd_log", {}))
    imap.noop()  # afterwards, the caller's debugging applies
    assert "NOOP" in capsys.readouterr().err
    imap.logout()


# --- arguments -------------------------------------------------------------------------------


def test_bad_arguments_are_clear_errors(mail_servers: MailServers) -> None:
    alice = mail_servers.full_address_user
    imap = server("imap", "ssl")
    with pytest.raises(ValueError, match="exactly one"):
        connect_imap(imap, alice.address)
    with pytest.raises(ValueError, match="exactly one"):
        connect_imap(imap, alice.address, password="a", oauth2_token="b")
    with pytest.raises(ValueError, match="IMAP server, got a SMTP"):
        connect_imap(server("smtp", "ssl"), alice.address, password="a")
    with pytest.raises(ValueError, match="address"):
        connect_imap(imap, password="a")
    with pytest.raises(CredentialsError, match="line break"):
        connect_imap(imap, alice.address, password="a\r\nLOGOUT")
    with pytest.raises(TypeError, match="timeout"):
        connect_imap(imap, alice.address, password="a", timeout="10")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="target"):
        connect_imap("imap.guess.test", alice.address, password="a")  # type: ignore[arg-type]
    template = Server.model_validate(
        {"protocol": "imap", "host": "mail.%EMAILDOMAIN%", "port": 993, "security": "ssl"}
    )
    with pytest.raises(ValueError, match="template"):
        connect_imap(template, login="alice", password="a")


def test_a_template_host_is_filled_from_the_address(
    mail_servers: MailServers, mail_names: Dnsmasq
) -> None:
    alice = mail_servers.full_address_user
    template = Server.model_validate(
        {"protocol": "pop3", "host": "pop.%EMAILDOMAIN%", "port": 995, "security": "ssl"}
    )
    use(
        "pop3",
        connect_pop3(
            template, alice.address, password=alice.password, **network(mail_servers, mail_names)
        ),
    )


def test_a_result_without_the_protocol_or_untrusted_is_refused(mail_servers: MailServers) -> None:
    alice = mail_servers.full_address_user
    imap_only = Provider.model_validate(
        {
            "id": DOMAIN,
            "name": "IMAP Only",
            "domains": [DOMAIN],
            "servers": [
                {"protocol": "imap", "host": f"imap.{DOMAIN}", "port": 993, "security": "ssl"}
            ],
        }
    )
    target = Registry([imap_only], bundled=False).lookup(alice.address)
    with pytest.raises(ProviderNotFoundError, match="no SMTP server") as caught:
        connect_smtp(target, alice.address, password=alice.password)
    assert caught.value.provider == imap_only
    guessed = LookupResult.create(
        imap_only, domain=DOMAIN, domain_ascii=DOMAIN, source=Source.GUESS, trusted=False
    )
    with pytest.raises(ValueError, match="not trusted"):
        connect_imap(guessed, alice.address, password=alice.password)


def test_errors_share_the_library_root(hostile_mail_server: HostileFactory) -> None:
    hostile = hostile_mail_server("wrong-protocol", "pop3")
    with pytest.raises(MailSettingsError):
        connect_hostile("pop3", hostile.port)
