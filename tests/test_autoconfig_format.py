"""Thunderbird's autoconfig format: every ISPDB file, hostile input, placeholders, export.

The ISPDB snapshot is read from ``../shared/ispdb/`` (see ``conftest.SHARED``). Without it
the snapshot tests are skipped, unless ``MAILSETTINGS_REQUIRE_ISPDB=1`` (set by ``.ci/run``)
makes them fail.
"""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import SHARED, require_shared

from mailsettings import Protocol, Provider, Registry, Security, Server
from mailsettings.autoconfig import (
    MAX_SIZE,
    AutoconfigDocument,
    load_autoconfig_dir,
    parse_autoconfig,
    to_autoconfig_xml,
)
from mailsettings.data import load_bundled
from mailsettings.errors import AutoconfigError, MailSettingsError
from mailsettings.models import Instruction, InstructionKind, OAuth2

ISPDB = SHARED / "ispdb"
ISPDB_FILES = sorted(ISPDB.glob("*.xml")) if ISPDB.is_dir() else []


def require_ispdb() -> None:
    """Skip (or, in CI, fail) when the ISPDB snapshot is not there."""
    require_shared("ispdb")


SNAPSHOT = [pytest.param(path, id=path.name) for path in ISPDB_FILES] or [
    pytest.param(None, id="ispdb-missing")
]


def minimal(servers: str = "", *, provider: str = "", outside: str = "") -> str:
    """A small autoconfig document with one IMAP server unless ``servers`` is given."""
    servers = servers or server("imap", "imap.example.com", 993, "SSL")
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<clientConfig version="1.1">
  <emailProvider id="example.com">
    <domain>example.com</domain>
    <displayName>Example Mail</displayName>
    {provider}
    {servers}
  </emailProvider>
  {outside}
</clientConfig>"""


def server(
    kind: str,
    host: str,
    port: int | str,
    socket: str,
    *,
    auth: tuple[str, ...] = ("password-cleartext",),
    username: str = "%EMAILADDRESS%",
    extra: str = "",
) -> str:
    tag = "outgoingServer" if kind == "smtp" else "incomingServer"
    auths = "".join(f"<authentication>{a}</authentication>" for a in auth)
    return (
        f'<{tag} type="{kind}"><hostname>{host}</hostname><port>{port}</port>'
        f"<socketType>{socket}</socketType>{auths}<username>{username}</username>{extra}</{tag}>"
    )


# --- an independent read of the XML, for comparison ------------------------

SOCKETS = {"SSL": "ssl", "STARTTLS": "starttls", "plain": "plain"}


def expected_servers(path: Path) -> list[tuple[str, str, int, str, tuple[str, ...], str]]:
    """(protocol, host, port, security, auth, username) for each IMAP, POP3 and SMTP server."""
    provider = ET.parse(path).getroot().find("emailProvider")
    assert provider is not None
    found = []
    for tag in ("incomingServer", "outgoingServer"):
        for element in provider.findall(tag):
            kind = element.get("type")
            if kind not in ("imap", "pop3", "smtp"):
                continue

            def text(name: str, element: ET.Element = element) -> str:
                child = element.find(name)
                return (child.text or "").strip() if child is not None else ""

            auth = tuple(
                dict.fromkeys(
                    (a.text or "").strip().lower() for a in element.findall("authentication")
                )
            )
            found.append(
                (
                    kind,
                    text("hostname"),
                    int(text("port")),
                    SOCKETS[text("socketType")],
                    auth,
                    text("username") or "%EMAILADDRESS%",
                )
            )
    return found


def actual_servers(provider: Provider) -> list[tuple[str, str, int, str, tuple[str, ...], str]]:
    return [
        (
            s.protocol.value,
            s.host,
            s.port,
            s.security.value,
            tuple(a.value for a in s.auth),
            s.username,
        )
        for s in provider.servers
    ]


@pytest.mark.parametrize("path", SNAPSHOT)
def test_every_ispdb_file_parses_like_an_independent_read(path: Path | None) -> None:
    require_ispdb()
    assert path is not None
    document = parse_autoconfig(path.read_bytes())
    provider = document.provider
    assert actual_servers(provider) == expected_servers(path)
    root = ET.parse(path).getroot()
    element = root.find("emailProvider")
    assert element is not None
    assert provider.id == element.get("id", "").lower()
    assert provider.name == " ".join((element.findtext("displayName") or "").split())
    domains = [(d.text or "").strip() for d in element.findall("domain")]
    assert list(provider.domains) == list(dict.fromkeys(domains))


@pytest.mark.parametrize("path", SNAPSHOT)
def test_every_ispdb_file_survives_export_and_reparse(path: Path | None) -> None:
    require_ispdb()
    assert path is not None
    provider = Provider.from_autoconfig_xml(path.read_bytes())
    exported = provider.to_autoconfig_xml()
    assert Provider.from_autoconfig_xml(exported) == provider
    assert Provider.from_autoconfig_xml(exported.encode()) == provider
    assert to_autoconfig_xml(provider) == exported


def test_the_snapshot_covers_the_format() -> None:
    require_ispdb()
    providers = {p.id: p for p in load_autoconfig_dir(ISPDB)}
    assert len(providers) == len(ISPDB_FILES)
    # OAuth2 endpoints, instructions, help pages and short names are all read.
    gmail = providers["googlemail.com"]
    assert gmail.oauth2 is not None and gmail.oauth2.issuer == "accounts.google.com"
    assert gmail.instructions and gmail.instructions[0].kind is InstructionKind.ENABLE_ACCESS
    assert gmail.short_name == "GMail"
    assert gmail.help_url is not None
    web = providers["web.de"]
    assert web.instructions[0].localized.keys() == {"de"}
    # Exchange-only entries are skipped with a reason; the IMAP, POP3 and SMTP ones kept.
    document = parse_autoconfig((ISPDB / "office365.com.xml").read_bytes())
    assert {s.protocol for s in document.provider.servers} == set(Protocol)
    assert sum("Exchange" in w for w in document.warnings) == 4
    # Templates stay templates.
    assert any(s.is_template for p in providers.values() for s in p.servers)


def test_registry_from_an_autoconfig_folder() -> None:
    require_ispdb()
    registry = Registry.from_autoconfig_dir(ISPDB, bundled=False)
    result = registry.lookup("jane@web.de")
    assert result.imap is not None and result.imap.host == "imap.web.de"
    assert result.imap.login_for("jane@web.de") == "jane"
    with pytest.raises(MailSettingsError):
        registry.lookup("jane@unknown.example")


# --- hostile and malformed input ---------------------------------------------

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE clientConfig [
  <!ENTITY a "ha">
  <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
  <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
  <!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">
  <!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;">
  <!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;">
  <!ENTITY g "&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;">
  <!ENTITY h "&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;">
  <!ENTITY i "&h;&h;&h;&h;&h;&h;&h;&h;&h;&h;">
]>
<clientConfig><emailProvider id="example.com"><domain>example.com</domain>
<displayName>&i;</displayName></emailProvider></clientConfig>"""

EXTERNAL_ENTITY = (
    minimal()
    .replace(
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<?xml version="1.0"?><!DOCTYPE clientConfig [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
    )
    .replace("Example Mail", "&xxe;")
)

EXTERNAL_DTD = minimal().replace(
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<?xml version="1.0"?><!DOCTYPE clientConfig SYSTEM "http://127.0.0.1:9/evil.dtd">',
)

PARAMETER_ENTITY = minimal().replace(
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<?xml version="1.0"?><!DOCTYPE clientConfig [<!ENTITY % remote SYSTEM '
    '"http://127.0.0.1:9/x.dtd"> %remote;]>',
)


@pytest.mark.parametrize(
    "data",
    [BILLION_LAUGHS, EXTERNAL_ENTITY, EXTERNAL_DTD, PARAMETER_ENTITY],
    ids=["billion-laughs", "external-entity", "external-dtd", "parameter-entity"],
)
@pytest.mark.parametrize("as_bytes", [False, True], ids=["str", "bytes"])
def test_dtds_and_entities_are_refused(data: str, as_bytes: bool) -> None:
    with pytest.raises(AutoconfigError, match="DTD"):
        parse_autoconfig(data.encode() if as_bytes else data)


@pytest.mark.parametrize("as_bytes", [False, True], ids=["str", "bytes"])
def test_oversized_documents_are_refused(as_bytes: bool) -> None:
    padded = minimal(provider="<!--" + "x" * MAX_SIZE + "-->")
    with pytest.raises(AutoconfigError, match="too large"):
        parse_autoconfig(padded.encode() if as_bytes else padded)
    # Multi-byte text is measured in bytes.
    wide = minimal(provider="<!--" + "é" * (MAX_SIZE // 2 + 1) + "-->")
    with pytest.raises(AutoconfigError, match="too large"):
        parse_autoconfig(wide)


def test_a_large_but_allowed_document_parses() -> None:
    padded = minimal(provider="<!--" + "x" * (MAX_SIZE - 2000) + "-->")
    assert parse_autoconfig(padded).provider.id == "example.com"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "not well-formed"),
        (b"hello, world", "not well-formed"),
        (b"\xff\xfe\x00<", "not well-formed"),
        ("<clientConfig><emailProvider>", "not well-formed"),
        ("<clientConfig>\ud800</clientConfig>", "not well-formed"),
        ("<html><body>404</body></html>", "root element is <html>"),
        ('<c:clientConfig xmlns:c="urn:x"/>', "not <clientConfig>"),
        ("<clientConfig version='1.1'/>", "no <emailProvider>"),
        (minimal().replace("<domain>example.com</domain>", ""), "no valid <domain>"),
        (minimal().replace("example.com</domain>", "not a domain</domain>"), "no valid <domain>"),
        (minimal(servers="<!-- none -->"), "no usable IMAP, POP3 or SMTP server"),
        (
            minimal(
                servers='<incomingServer type="exchange"><hostname>x.example.com</hostname></incomingServer>'
            ),
            "no usable IMAP, POP3 or SMTP server",
        ),
        (minimal(servers=server("imap", "", 993, "SSL")), "no usable"),
        (minimal(servers=server("imap", "imap.example.com", "99999", "SSL")), "no usable"),
        (minimal(servers=server("imap", "imap.example.com", 993, "TLS1.3")), "no usable"),
        (
            minimal(servers=server("imap", "imap.example.com", 993, "SSL", auth=("magic",))),
            "no usable",
        ),
    ],
    ids=[
        "empty",
        "text",
        "binary",
        "unclosed",
        "lone-surrogate",
        "html",
        "namespaced-root",
        "no-provider",
        "no-domain",
        "bad-domain",
        "no-servers",
        "exchange-only",
        "no-hostname",
        "bad-port",
        "bad-socket-type",
        "bad-authentication",
    ],
)
def test_malformed_documents_raise_autoconfig_error(data: str | bytes, message: str) -> None:
    with pytest.raises(AutoconfigError, match=message) as caught:
        parse_autoconfig(data)
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, MailSettingsError)


def test_wrong_input_type_is_an_autoconfig_error() -> None:
    with pytest.raises(AutoconfigError, match="bytes or str"):
        parse_autoconfig(42)  # type: ignore[arg-type]


def test_unknown_elements_are_ignored() -> None:
    extra = "<futureThing a='1'><nested>x</nested></futureThing><inputField key='X'/>"
    document = parse_autoconfig(
        minimal(
            provider=extra + "<webMail><loginPage url='https://mail.example.com/'/></webMail>",
            servers=server("imap", "imap.example.com", 993, "SSL", extra=extra)
            + server(
                "smtp", "smtp.example.com", 465, "SSL", extra="<addThisServer>true</addThisServer>"
            ),
            outside=extra,
        )
    )
    assert [s.host for s in document.provider.servers] == ["imap.example.com", "smtp.example.com"]
    assert document.warnings == ()


def test_a_password_in_the_file_is_never_read() -> None:
    document = parse_autoconfig(
        minimal(
            servers=server(
                "imap", "imap.example.com", 993, "SSL", extra="<password>hunter2</password>"
            )
        )
    )
    assert "hunter2" not in document.provider.model_dump_json()


# --- placeholders ------------------------------------------------------------


@pytest.mark.parametrize(
    ("username", "repaired"),
    [
        ("%EMAILADDRESS", "%EMAILADDRESS%"),
        ("EMAILADDRESS%", "%EMAILADDRESS%"),
        ("%EMAILLOCALPART", "%EMAILLOCALPART%"),
        ("%emailaddress%", "%EMAILADDRESS%"),
        ("%EMAILLOCALPART%.%EMAILDOMAIN", "%EMAILLOCALPART%.%EMAILDOMAIN%"),
    ],
)
def test_malformed_placeholders_are_repaired_with_a_warning(username: str, repaired: str) -> None:
    document = parse_autoconfig(
        minimal(servers=server("imap", "imap.example.com", 993, "SSL", username=username))
    )
    assert document.provider.servers[0].username == repaired
    assert any("repaired the malformed placeholder" in w for w in document.warnings)


def test_malformed_placeholder_in_a_host_is_repaired() -> None:
    document = parse_autoconfig(minimal(servers=server("imap", "mail.%EMAILDOMAIN", 993, "SSL")))
    assert document.provider.servers[0].host == "mail.%EMAILDOMAIN%"
    assert document.provider.servers[0].for_domain("example.org").host == "mail.example.org"
    assert any("hostname" in w for w in document.warnings)


@pytest.mark.parametrize(
    ("host", "username"),
    [
        ("%EMAILADDRESS%", "%EMAILADDRESS%"),
        ("%EMAILLOCALPART%.example.com", "%EMAILADDRESS%"),
        ("imap.example.com", "%USERNAME%"),
        ("imap.example.com", "100%"),
    ],
)
def test_unusable_placeholders_skip_the_server(host: str, username: str) -> None:
    document = parse_autoconfig(
        minimal(
            servers=server("imap", host, 993, "SSL", username=username)
            + server("smtp", "smtp.example.com", 465, "SSL")
        )
    )
    assert [s.protocol for s in document.provider.servers] == [Protocol.SMTP]
    assert any(w.startswith("Skipped incomingServer") for w in document.warnings)


def test_good_placeholders_are_kept_as_is() -> None:
    username = "%EMAILLOCALPART%.%EMAILDOMAIN%"
    document = parse_autoconfig(
        minimal(servers=server("pop3", "pop.%EMAILDOMAIN%", 995, "SSL", username=username))
    )
    pop = document.provider.servers[0]
    assert (pop.host, pop.username) == ("pop.%EMAILDOMAIN%", username)
    assert pop.login_for("jane@example.org") == "jane.example.org"
    assert not any("placeholder" in w for w in document.warnings)


# --- mapping details ------------------------------------------------------------


def test_socket_types_and_authentication_methods_map_to_the_model() -> None:
    auth = (
        "OAuth2",
        "password-encrypted",
        "plain",
        "secure",
        "NTLM",
        "GSSAPI",
        "TLS-client-cert",
        "password-cleartext",
        "OAuth2",
    )
    document = parse_autoconfig(
        minimal(
            servers=server("imap", "imap.example.com", 143, "STARTTLS", auth=auth)
            + server("pop3", "pop.example.com", 110, "plain", auth=("none",))
            + server(
                "smtp",
                "smtp.example.com",
                25,
                "plain",
                auth=("client-IP-address", "smtp-after-pop"),
            )
        )
    )
    imap, pop, smtp = document.provider.servers
    assert imap.security is Security.STARTTLS and pop.security is Security.PLAIN
    assert [a.value for a in imap.auth] == [
        "oauth2",
        "password-encrypted",
        "password-cleartext",
        "ntlm",
        "gssapi",
        "tls-client-cert",
    ]
    assert [a.value for a in pop.auth] == ["none"]
    assert [a.value for a in smtp.auth] == ["client-ip-address", "smtp-after-pop"]
    exported = to_autoconfig_xml(document.provider)
    assert "<authentication>client-IP-address</authentication>" in exported
    assert "<authentication>TLS-client-cert</authentication>" in exported
    assert parse_autoconfig(exported).provider == document.provider


def test_instructions_documentation_oauth2_and_notes() -> None:
    document = parse_autoconfig(
        minimal(
            provider="""
            <displayShortName>Ex</displayShortName>
            <documentation url="javascript:alert(1)"><descr>bad</descr></documentation>
            <documentation url="https://help.example.com/imap"><descr lang="en">IMAP</descr></documentation>
            <documentation url="https://help.example.com/other"/>
            <enable visiturl="https://mail.example.com/settings">
              <instruction lang="pt-BR">Ative o IMAP</instruction>
              <instruction lang="en-US">Turn on   IMAP</instruction>
              <instruction lang="bad tag">x</instruction>
            </enable>""",
            servers=server("imap", "imap.example.com", 993, "SSL")
            + server(
                "pop3",
                "pop.example.com",
                995,
                "SSL",
                extra="<pop3><leaveMessagesOnServer>true</leaveMessagesOnServer>"
                "<checkInterval minutes='15'/></pop3>",
            )
            + server(
                "smtp",
                "smtp.example.com",
                587,
                "STARTTLS",
                extra="<restriction>client-IP-address</restriction>",
            ),
            outside="""<oAuth2><issuer>Login.Example.com</issuer>
              <scope>imap smtp  offline</scope>
              <authURL>https://login.example.com/auth</authURL>
              <tokenURL>https://login.example.com/token</tokenURL></oAuth2>""",
        )
    )
    provider = document.provider
    assert provider.short_name == "Ex"
    assert provider.help_url == "https://help.example.com/imap"
    assert provider.instructions == (
        Instruction(
            kind=InstructionKind.ENABLE_ACCESS,
            text="Turn on IMAP",
            localized={"pt-BR": "Ative o IMAP", "en-US": "Turn on IMAP"},
            url="https://mail.example.com/settings",
        ),
    )
    assert provider.oauth2 == OAuth2(
        issuer="login.example.com",
        authorization_url="https://login.example.com/auth",
        token_url="https://login.example.com/token",
        scopes=("imap", "smtp", "offline"),
    )
    warnings = "\n".join(document.warnings)
    assert "javascript" in warnings
    assert "'bad tag'" in warnings
    assert "every 15 minutes" in warnings
    assert "provider's own network" in warnings
    assert parse_autoconfig(to_autoconfig_xml(provider)).provider == provider


def test_an_invalid_oauth2_section_is_dropped_with_a_warning() -> None:
    document = parse_autoconfig(
        minimal(outside="<oAuth2><issuer>x.example.com</issuer><authURL>ftp://x</authURL></oAuth2>")
    )
    assert document.provider.oauth2 is None
    assert any("oAuth2" in w for w in document.warnings)


def test_ids_and_names_are_normalized() -> None:
    data = minimal().replace('id="example.com"', 'id="Example-Mail"')
    document = parse_autoconfig(data.replace("<displayName>Example Mail</displayName>", ""))
    assert document.provider.id == "example-mail"
    assert document.provider.name == "Example-Mail"
    assert len(document.warnings) == 3  # id lower-cased, name from id, no SMTP server


def test_unicode_domains_are_stored_in_ascii() -> None:
    document = parse_autoconfig(minimal().replace("<domain>example.com", "<domain>bücher.example"))
    assert document.provider.domains == ("xn--bcher-kva.example",)


def test_the_declared_encoding_of_bytes_is_honoured() -> None:
    text = (
        minimal()
        .replace('encoding="UTF-8"', 'encoding="ISO-8859-1"')
        .replace("Example Mail", "Café Mail")
    )
    assert parse_autoconfig(text.encode("latin-1")).provider.name == "Café Mail"


# --- export ----------------------------------------------------------------


def test_document_and_export_api() -> None:
    document = parse_autoconfig(minimal())
    assert isinstance(document, AutoconfigDocument)
    assert document.provider == Provider.from_autoconfig_xml(minimal())
    text = document.provider.to_autoconfig_xml()
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<clientConfig version="1.1">')


def test_export_escapes_text() -> None:
    provider = Provider(
        id="example.com",
        name='A & B <"Mail">',
        domains=("example.com",),
        servers=(Server(protocol="imap", host="imap.example.com", port=993, security="ssl"),),
        instructions=(Instruction(text="Use <this> & that", url="https://example.com/?a=1&b=2"),),
    )
    exported = provider.to_autoconfig_xml()
    assert 'A &amp; B &lt;"Mail"&gt;' in exported
    again = Provider.from_autoconfig_xml(exported)
    assert again.name == provider.name
    assert again.instructions[0].url == "https://example.com/?a=1&b=2"


def _exportable(provider: Provider) -> bool:
    return bool(provider.domains) and any(not s.legacy for s in provider.servers)


BUNDLED = [pytest.param(p, id=p.id) for p in load_bundled() if _exportable(p)]


@pytest.mark.parametrize("provider", BUNDLED)
def test_bundled_providers_export_what_the_format_can_hold(provider: Provider) -> None:
    again = Provider.from_autoconfig_xml(provider.to_autoconfig_xml())
    current = [s for s in provider.servers if not s.legacy]
    order = [s for s in current if s.protocol is not Protocol.SMTP] + [
        s for s in current if s.protocol is Protocol.SMTP
    ]
    assert again.servers == tuple(s.model_copy(update={"note": None}) for s in order)
    assert (again.id, again.name, again.domains) == (provider.id, provider.name, provider.domains)
    assert (again.help_url, again.oauth2) == (provider.help_url, provider.oauth2)
    assert [i.text for i in again.instructions] == [i.text for i in provider.instructions]


def test_export_refuses_a_provider_without_servers() -> None:
    provider = Provider(
        id="web-only.example",
        name="Web only",
        domains=("web-only.example",),
        status="no-standard-access",
    )
    with pytest.raises(AutoconfigError, match="no current servers"):
        provider.to_autoconfig_xml()


# --- folders -----------------------------------------------------------------


def test_a_bad_file_in_a_folder_is_named(tmp_path: Path) -> None:
    (tmp_path / "good.example.xml").write_text(minimal(), encoding="utf-8")
    (tmp_path / "notes.txt").write_text("not read", encoding="utf-8")
    assert [p.id for p in load_autoconfig_dir(tmp_path)] == ["example.com"]
    (tmp_path / "zz-bad.example.xml").write_bytes(b"<clientConfig>")
    with pytest.raises(AutoconfigError, match=r"^zz-bad\.example\.xml: "):
        Registry.from_autoconfig_dir(tmp_path)
    (tmp_path / "zz-bad.example.xml").write_bytes(b" " * (MAX_SIZE + 1))
    with pytest.raises(AutoconfigError, match="larger than"):
        load_autoconfig_dir(tmp_path)
    with pytest.raises(AutoconfigError, match="not a folder"):
        load_autoconfig_dir(tmp_path / "missing")


def test_reading_xml_is_not_done_at_import() -> None:
    code = (
        "import sys, mailsettings; mailsettings.lookup('a@qq.com'); "
        "print(sorted(m for m in sys.modules if m.startswith(('defusedxml', 'mailsettings.autoconfig'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_repeated_ids_in_a_folder_are_made_unique(tmp_path: Path) -> None:
    (tmp_path / "a-region.example.xml").write_text(
        minimal().replace("<domain>example.com", "<domain>example.eu"), encoding="utf-8"
    )
    (tmp_path / "example.com.xml").write_text(minimal(), encoding="utf-8")
    providers = {p.id: p.domains for p in load_autoconfig_dir(tmp_path)}
    assert providers == {"a-region.example": ("example.eu",), "example.com": ("example.com",)}
