from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading

import pytest
from conftest import server
from hypothesis import given
from hypothesis import strategies as st

import mailsettings
from mailsettings import (
    InvalidAddressError,
    LookupResult,
    MailSettingsError,
    Protocol,
    Provider,
    ProviderNotFoundError,
    Registry,
    Security,
    Source,
    Status,
)

CORP = Provider(
    id="corp.example",
    name="Corp",
    domains=("corp.example", "xn--bcher-kva.example"),
    servers=(
        server("smtp", "mail.%EMAILDOMAIN%", 25, "plain"),
        server("imap", "mail.%EMAILDOMAIN%", 143, "starttls"),
        server("imap", "old.corp.example", 993, "ssl", legacy=True, legacy_reason="Retired."),
        server("imap", "mail.%EMAILDOMAIN%", 993, "ssl"),
        server("pop3", "pop.corp.example", 110, "plain"),
        server("pop3", "pop.corp.example", 110, "starttls"),
    ),
)


def test_known_address_returns_bundled_settings() -> None:
    result = mailsettings.lookup("someone@qq.com")
    assert result.source is Source.BUNDLED
    assert result.trusted
    assert result.provider.id == "qq.com"
    assert result.imap is not None and result.imap.host == "imap.qq.com"
    assert result.smtp is not None and (result.smtp.port, result.smtp.security) == (465, "ssl")


def test_aliases_share_the_provider_and_the_domain_is_reported() -> None:
    result = mailsettings.lookup("someone@foxmail.com")
    assert result.provider.id == "qq.com"
    assert (result.domain, result.domain_ascii) == ("foxmail.com", "foxmail.com")


def test_results_are_shared_per_domain_and_immutable() -> None:
    first = mailsettings.lookup("a@qq.com")
    assert mailsettings.lookup("b@QQ.com") is first
    with pytest.raises(ValueError, match="frozen"):
        first.domain = "evil.example"  # type: ignore[misc]


def test_preference_order_tls_first_legacy_last_templates_filled() -> None:
    result = Registry([CORP], bundled=False).lookup("jane@corp.example")
    imap = [(s.host, s.port) for s in result.servers if s.protocol is Protocol.IMAP]
    assert imap == [
        ("mail.corp.example", 993),
        ("mail.corp.example", 143),
        ("old.corp.example", 993),
    ]
    assert result.imap is not None and result.imap.port == 993
    assert result.pop3 is not None and result.pop3.security is Security.STARTTLS
    # SMTP offers only plain text: preferred anyway, with a warning.
    assert result.smtp is not None and result.smtp.security is Security.PLAIN
    assert any("SMTP is offered only without encryption" in w for w in result.warnings)
    assert not any("IMAP" in w for w in result.warnings)


def test_templates_use_the_ascii_form_of_the_domain() -> None:
    result = Registry([CORP], bundled=False).lookup("jane@bücher.example")
    assert result.domain == "bücher.example"
    assert result.imap is not None and result.imap.host == "mail.xn--bcher-kva.example"


def test_legacy_servers_are_never_preferred() -> None:
    provider = Provider(
        id="old.example",
        name="Old",
        domains=("old.example",),
        status=Status.DISCONTINUED,
        status_note="Closed in 2013.",
        servers=(
            server(
                "pop3",
                "pop.old.example",
                110,
                "plain",
                legacy=True,
                legacy_reason="Service closed.",
            ),
        ),
    )
    result = Registry([provider], bundled=False).lookup("old.example")
    assert result.pop3 is None
    assert len(result.servers) == 1
    assert any("discontinued" in w and "Closed in 2013." in w for w in result.warnings)


def test_unknown_domain_raises_provider_not_found() -> None:
    with pytest.raises(ProviderNotFoundError) as caught:
        mailsettings.lookup("someone@unknown-domain.example")
    assert caught.value.domain == "unknown-domain.example"
    assert caught.value.tried == ("bundled database",)
    assert isinstance(caught.value, LookupError)


def test_provider_without_standard_access_raises_with_the_provider() -> None:
    webonly = Provider(
        id="webonly.example",
        name="Web Only",
        domains=("webonly.example",),
        status=Status.NO_STANDARD_ACCESS,
        status_note="Only its own app.",
    )
    with pytest.raises(ProviderNotFoundError, match="has no known IMAP, POP3 or SMTP server") as caught:
        Registry([webonly], bundled=False).lookup("me@webonly.example")
    assert caught.value.provider == webonly


def test_registry_overrides_replace_by_id_and_take_over_domains() -> None:
    mine = Provider(
        id="mine.example",
        name="Mine",
        domains=("foxmail.com",),
        servers=(
            server("imap", "imap.mine.example", 993, "ssl"),
            server("smtp", "smtp.mine.example", 465, "ssl"),
        ),
    )
    registry = Registry([mine])
    assert registry.lookup("x@foxmail.com").provider.id == "mine.example"
    assert registry.lookup("x@qq.com").provider.id == "qq.com"
    assert registry.get("mine.example") == mine
    assert registry.get("nope") is None
    assert mailsettings.lookup("x@foxmail.com").provider.id == "qq.com"  # default untouched


def test_registry_from_directory(tmp_path: object) -> None:
    from pathlib import Path

    folder = Path(str(tmp_path))
    (folder / "corp.example.toml").write_text(
        'id = "corp.example"\nname = "Corp"\ndomains = ["corp.example"]\n'
        '[[servers]]\nprotocol = "imap"\nhost = "imap.corp.example"\nport = 993\nsecurity = "ssl"\n',
        encoding="utf-8",
    )
    registry = Registry.from_directory(folder, bundled=False)
    assert registry.lookup("me@corp.example").imap is not None
    (folder / "wrong-name.toml").write_text((folder / "corp.example.toml").read_text())
    with pytest.raises(MailSettingsError, match=r"wrong-name\.toml"):
        Registry.from_directory(folder)


def test_providers_iterates_the_bundled_database() -> None:
    ids = [provider.id for provider in mailsettings.providers()]
    assert "qq.com" in ids
    assert len(ids) == len(set(ids))


def test_alookup_is_the_async_twin() -> None:
    async def both() -> tuple[LookupResult, LookupResult]:
        return await mailsettings.alookup("x@qq.com"), await Registry().alookup("x@qq.com")

    first, second = asyncio.run(both())
    assert first.provider == second.provider
    with pytest.raises(InvalidAddressError):
        asyncio.run(mailsettings.alookup("bad@@qq.com"))


def test_json_dump_and_schema() -> None:
    result = mailsettings.lookup("x@qq.com")
    dumped = json.loads(json.dumps(result.model_dump(mode="json")))
    assert dumped["imap"]["host"] == "imap.qq.com"
    assert dumped["source"] == "bundled"
    assert LookupResult.model_validate_json(
        result.model_dump_json(exclude={"imap", "pop3", "smtp"})
    )
    schema = LookupResult.model_json_schema()
    assert schema["properties"]["servers"]["minItems"] == 1


def test_many_threads_doing_their_first_lookup_at_once() -> None:
    registry = Registry()
    barrier = threading.Barrier(16)
    results: list[LookupResult] = []
    errors: list[BaseException] = []

    def work() -> None:
        barrier.wait()
        try:
            results.append(registry.lookup("someone@qq.com"))
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(results) == 16
    assert {r.provider.id for r in results} == {"qq.com"}
    assert len(list(registry.providers())) == len(list(Registry().providers()))


def test_import_loads_nothing_and_offline_lookup_imports_no_network_code() -> None:
    code = (
        "import sys, mailsettings\n"
        "assert 'mailsettings.data' not in sys.modules, 'data loaded at import'\n"
        "mailsettings.lookup('user@qq.com')\n"
        "network = ('dns', 'idna', 'http', 'ssl', 'defusedxml', 'publicsuffixlist')\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0].lstrip('_') in network"
        " or m.startswith(('httpx', 'httpcore')))\n"
        "assert not bad, bad\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.stdout.strip() == "ok", done.stderr


@given(st.text(max_size=300))
def test_lookup_only_raises_documented_errors(text: str) -> None:
    try:
        result = mailsettings.lookup(text)
    except (InvalidAddressError, ProviderNotFoundError):
        return
    assert result.servers
