"""The sans-I/O clients against a real Dovecot and Postfix on loopback (tests/mail_servers.py)."""

from __future__ import annotations

import re
import secrets
import ssl

import pytest
from mail_driver import Driver
from mail_servers import MailServers, MailUser

from mailsettings.protocol import (
    AuthFailed,
    AuthOK,
    Bye,
    Client,
    CommandOK,
    CredentialsError,
    Greeting,
    IMAPClient,
    Login,
    MaildropStatus,
    Mechanism,
    Plain,
    POP3Client,
    Selected,
    ServerID,
    SMTPClient,
    TLSReady,
)

CLIENTS: dict[str, type[IMAPClient] | type[POP3Client] | type[SMTPClient]] = {
    "imap": IMAPClient,
    "pop3": POP3Client,
    "smtp": SMTPClient,
}
LISTENERS = [(protocol, security) for protocol in CLIENTS for security in ("ssl", "starttls")]
MECHANISMS: dict[str, type[Plain] | type[Login]] = {"PLAIN": Plain, "LOGIN": Login}


def open_driver(servers: MailServers, protocol: str, security: str, hostname: str = "") -> Driver:
    """A connected driver whose greeting has been read (TLS up for ``ssl``)."""
    hostname = hostname or f"{'smtp' if protocol == 'smtp' else protocol}.{servers.domain}"
    tls = security == "ssl"
    driver = Driver.connect(
        CLIENTS[protocol](tls=tls),
        servers.host,
        servers.port(protocol, security),
        context=servers.client_context() if tls else None,
        server_hostname=hostname,
    )
    greeting = driver.expect(Greeting)
    assert greeting.ok, greeting
    return driver


def secure(servers: MailServers, protocol: str, security: str) -> Driver:
    """A driver over TLS (implicit, or STARTTLS done) with fresh capabilities read."""
    driver = open_driver(servers, protocol, security)
    if security == "starttls":
        if protocol == "smtp":
            driver.capabilities()
        client: Client = driver.client
        assert isinstance(client, (IMAPClient, POP3Client, SMTPClient))
        driver.command(client.starttls(), TLSReady)
        driver.start_tls(servers.client_context(), f"{protocol}.{servers.domain}")
    driver.capabilities()
    return driver


def authenticate(driver: Driver, mechanism: Mechanism) -> AuthOK | AuthFailed:
    client = driver.client
    assert isinstance(client, (IMAPClient, POP3Client, SMTPClient))
    event = driver.answer(client.authenticate(mechanism))
    assert isinstance(event, (AuthOK, AuthFailed)), event
    return event


# --- greetings and capabilities ------------------------------------------------------------


@pytest.mark.parametrize(("protocol", "security"), LISTENERS)
def test_every_listener_greets_and_lists_capabilities(
    mail_servers: MailServers, protocol: str, security: str
) -> None:
    with open_driver(mail_servers, protocol, security) as driver:
        capabilities = driver.capabilities()
        assert capabilities.protocol == protocol
        assert capabilities.items
        if security == "ssl":
            assert not capabilities.starttls  # already encrypted
            assert {"PLAIN", "LOGIN"} <= set(capabilities.sasl_mechanisms)
        else:  # plain text: STARTTLS offered, no password mechanism before TLS
            assert capabilities.starttls
            assert "PLAIN" not in capabilities.sasl_mechanisms
            assert "LOGIN" not in capabilities.sasl_mechanisms


def test_imap_greeting_carries_capabilities(mail_servers: MailServers) -> None:
    with open_driver(mail_servers, "imap", "starttls") as driver:
        greeting = driver.events[0]
        assert isinstance(greeting, Greeting)
        assert greeting.capabilities is not None
        assert greeting.capabilities.has("IMAP4rev1")
        assert greeting.capabilities.login_disabled  # disable_plaintext_auth = yes
        assert driver.client.capabilities == greeting.capabilities


@pytest.mark.parametrize("protocol", list(CLIENTS))
def test_starttls_then_capabilities_are_read_again(
    mail_servers: MailServers, protocol: str
) -> None:
    with open_driver(mail_servers, protocol, "starttls") as driver:
        client = driver.client
        assert isinstance(client, (IMAPClient, POP3Client, SMTPClient))
        before = driver.capabilities()
        assert before.starttls
        assert before.login_disabled is (protocol != "smtp")
        assert driver.command(client.starttls(), TLSReady)
        driver.start_tls(mail_servers.client_context(), f"{protocol}.{mail_servers.domain}")
        assert client.tls
        assert client.capabilities is None  # forgotten: must be read again
        after = driver.capabilities()
        assert not after.starttls
        assert not after.login_disabled
        assert {"PLAIN", "LOGIN"} <= set(after.sasl_mechanisms)
        assert client.capabilities == after


def test_postfix_greeting_and_ehlo_name(mail_servers: MailServers) -> None:
    with open_driver(mail_servers, "smtp", "starttls") as driver:
        greeting = driver.events[0]
        assert isinstance(greeting, Greeting)
        assert greeting.text == f"mail.{mail_servers.domain} ESMTP"
        capabilities = driver.capabilities()
        assert capabilities.text == f"mail.{mail_servers.domain}"
        assert capabilities.has("PIPELINING")


# --- authentication ---------------------------------------------------------------------


def users(servers: MailServers) -> list[MailUser]:
    return [servers.full_address_user, servers.local_part_user, servers.utf8_user]


@pytest.mark.parametrize(("protocol", "security"), LISTENERS)
@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
@pytest.mark.parametrize("user_index", [0, 1, 2], ids=["full-address", "local-part", "utf8"])
def test_sasl_login_succeeds(
    mail_servers: MailServers, protocol: str, security: str, mechanism: str, user_index: int
) -> None:
    user = users(mail_servers)[user_index]
    with secure(mail_servers, protocol, security) as driver:
        event = authenticate(driver, MECHANISMS[mechanism](user.login, user.password))
        assert isinstance(event, AuthOK), event
        assert driver.client.authenticated


@pytest.mark.parametrize(("protocol", "security"), LISTENERS)
def test_wrong_password_is_an_auth_failure(
    mail_servers: MailServers, protocol: str, security: str
) -> None:
    user = mail_servers.full_address_user
    with secure(mail_servers, protocol, security) as driver:
        event = authenticate(driver, Plain(user.login, user.password + "-wrong"))
        assert isinstance(event, AuthFailed), event
        assert not event.temporary
        assert not driver.client.authenticated
        expected_code = {"imap": "AUTHENTICATIONFAILED", "pop3": "AUTH", "smtp": "535 5.7.8"}
        assert event.code == expected_code[protocol]
        assert user.password not in repr(driver.events)


@pytest.mark.parametrize("protocol", list(CLIENTS))
def test_login_form_matters(mail_servers: MailServers, protocol: str) -> None:
    """The local-part user cannot log in with the full address, and vice versa."""
    local, full = mail_servers.local_part_user, mail_servers.full_address_user
    for login, password in (
        (local.address, local.password),
        (full.address.split("@")[0], full.password),
    ):
        with secure(mail_servers, protocol, "ssl") as driver:
            assert isinstance(authenticate(driver, Plain(login, password)), AuthFailed)


@pytest.mark.parametrize("user_index", [0, 1], ids=["full-address", "local-part"])
def test_imap_login_command(mail_servers: MailServers, user_index: int) -> None:
    user = users(mail_servers)[user_index]
    with secure(mail_servers, "imap", "starttls") as driver:
        client = driver.client
        assert isinstance(client, IMAPClient)
        event = driver.answer(client.login(user.login, user.password))
        assert isinstance(event, AuthOK), event


def test_imap_login_command_refuses_non_ascii_password(mail_servers: MailServers) -> None:
    user = mail_servers.utf8_user
    with secure(mail_servers, "imap", "ssl") as driver:
        client = driver.client
        assert isinstance(client, IMAPClient)
        with pytest.raises(CredentialsError, match="SASL PLAIN") as caught:
            client.login(user.login, user.password)
        assert user.password not in str(caught.value)
        # the same credentials work through SASL PLAIN (UTF-8)
        assert isinstance(authenticate(driver, Plain(user.login, user.password)), AuthOK)


def test_imap_login_command_wrong_password(mail_servers: MailServers) -> None:
    user = mail_servers.local_part_user
    with secure(mail_servers, "imap", "ssl") as driver:
        client = driver.client
        assert isinstance(client, IMAPClient)
        event = driver.answer(client.login(user.login, "not-" + user.password))
        assert isinstance(event, AuthFailed)
        assert event.code == "AUTHENTICATIONFAILED"


@pytest.mark.parametrize("user_index", [0, 1, 2], ids=["full-address", "local-part", "utf8"])
def test_pop3_user_pass(mail_servers: MailServers, user_index: int) -> None:
    user = users(mail_servers)[user_index]
    with secure(mail_servers, "pop3", "starttls") as driver:
        client = driver.client
        assert isinstance(client, POP3Client)
        assert driver.command(client.user(user.login), CommandOK)
        event = driver.answer(client.pass_(user.password))
        assert isinstance(event, AuthOK), event


def test_pop3_user_pass_wrong_password(mail_servers: MailServers) -> None:
    user = mail_servers.full_address_user
    with secure(mail_servers, "pop3", "ssl") as driver:
        client = driver.client
        assert isinstance(client, POP3Client)
        driver.command(client.user(user.login), CommandOK)
        event = driver.answer(client.pass_("wrong"))
        assert isinstance(event, AuthFailed)
        assert event.code == "AUTH"


# --- after login -------------------------------------------------------------------------


def test_imap_id_select_noop_logout(mail_servers: MailServers) -> None:
    user = mail_servers.local_part_user
    name = f"mailsettings-test-{secrets.token_hex(4)}"
    with secure(mail_servers, "imap", "ssl") as driver:
        client = driver.client
        assert isinstance(client, IMAPClient)
        assert isinstance(authenticate(driver, Plain(user.login, user.password)), AuthOK)
        server_id = driver.command(client.id({"name": name, "version": '1.0 "test"'}), ServerID)
        assert server_id.fields is not None
        assert dict(server_id.fields).get("name") == "Dovecot"
        selected = driver.command(client.select("INBOX"), Selected)
        assert selected.mailbox == "INBOX"
        assert selected.exists == 0
        assert selected.uidvalidity is not None
        assert not selected.read_only
        assert driver.command(client.noop(), CommandOK).command == "NOOP"
        assert driver.command(client.logout(), Bye)
    log = mail_servers.dovecot_log_text()
    sent = [line for line in log.splitlines() if name in line]
    assert sent, log[-2000:]
    assert re.search(rf"ID sent: name={name}, version=1\.0 \"test\"", sent[0]), sent


def test_imap_examine_is_read_only(mail_servers: MailServers) -> None:
    user = mail_servers.full_address_user
    with secure(mail_servers, "imap", "ssl") as driver:
        client = driver.client
        assert isinstance(client, IMAPClient)
        authenticate(driver, Plain(user.login, user.password))
        assert driver.command(client.select("INBOX", read_only=True), Selected).read_only


def test_pop3_stat_noop_quit(mail_servers: MailServers) -> None:
    user = mail_servers.full_address_user
    with secure(mail_servers, "pop3", "ssl") as driver:
        client = driver.client
        assert isinstance(client, POP3Client)
        assert isinstance(authenticate(driver, Login(user.login, user.password)), AuthOK)
        assert driver.command(client.stat(), MaildropStatus) == MaildropStatus(0, 0)
        assert driver.command(client.noop(), CommandOK)
        assert driver.command(client.quit(), Bye)


def test_smtp_noop_quit(mail_servers: MailServers) -> None:
    user = mail_servers.local_part_user
    with secure(mail_servers, "smtp", "starttls") as driver:
        client = driver.client
        assert isinstance(client, SMTPClient)
        assert isinstance(authenticate(driver, Plain(user.login, user.password)), AuthOK)
        assert driver.command(client.noop(), CommandOK)
        assert driver.command(client.quit(), Bye)


def test_postfix_logs_the_sasl_login(mail_servers: MailServers) -> None:
    user = mail_servers.full_address_user
    with secure(mail_servers, "smtp", "ssl") as driver:
        authenticate(driver, Plain(user.login, user.password))
    assert f"sasl_username={user.login}" in mail_servers.postfix_log_text()


def test_certificate_covers_the_guess_names(mail_servers: MailServers) -> None:
    for name in (*mail_servers.host_names, mail_servers.host, "127.0.0.1"):
        with open_driver(mail_servers, "imap", "ssl", hostname=name):
            pass
    with pytest.raises(ssl.SSLCertVerificationError):
        open_driver(mail_servers, "imap", "ssl", hostname=f"www.{mail_servers.domain}")
