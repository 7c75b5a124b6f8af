"""The provider store: compiled layout, fast construction, and the rules for application providers."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from pydantic import ValidationError

import mailsettings
from mailsettings import Provider, Registry
from mailsettings.data import (
    compile_providers,
    compiled_dir,
    load_bundled,
    load_provider_files,
    source_dir,
)
from mailsettings.store import ProviderStore, construct_provider

SOURCES = load_provider_files(source_dir().glob("*.toml"))
RECORDS = sorted(compiled_dir().joinpath("records").glob("*.json"))


def test_compiled_database_matches_the_sources() -> None:
    expected = compile_providers(SOURCES)
    root = compiled_dir()
    current = {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*.json")}
    assert sorted(current) == sorted(expected), "run: python -m mailsettings.data"
    stale = [name for name in expected if current[name] != expected[name]]
    assert stale == [], "run: python -m mailsettings.data"
    assert tuple(sorted(SOURCES, key=lambda p: p.id)) == load_bundled()


def test_compiled_records_are_one_provider_per_file_and_index_entries_one_per_line() -> None:
    assert len(RECORDS) == len(SOURCES)
    for path in RECORDS:
        assert path.read_bytes().count(b"\n") == 1
    shard = compiled_dir() / "index" / "domains-0000.json"
    lines = shard.read_text().splitlines()
    assert lines[0] == "{" and lines[-1] == "}"
    assert all(line.count(":") == 1 for line in lines[1:-1])


@pytest.mark.parametrize("path", RECORDS, ids=lambda path: path.stem)
def test_fast_construction_equals_validation(path: Path) -> None:
    raw = json.loads(path.read_bytes())
    fast = construct_provider(raw)
    validated = Provider.model_validate(raw)
    assert fast == validated
    assert hash(fast) == hash(validated)
    assert fast.model_dump() == validated.model_dump()


def test_compiling_refuses_a_domain_claimed_twice() -> None:
    first, second = [p for p in SOURCES if p.domains][:2]
    clash = second.model_copy(update={"domains": (*second.domains, first.domains[0])})
    with pytest.raises(ValueError, match=f"{first.domains[0]!r} is claimed by"):
        compile_providers([first, clash])


def _run(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout.strip()


def test_a_first_lookup_reads_one_shard_and_one_record() -> None:
    out = _run(
        """
        import mailsettings
        from mailsettings import store
        mailsettings.lookup("someone@qq.com")
        print(sorted(store._BUNDLED._records), len(store._BUNDLED._indexes))
        """
    )
    assert out == "['qq.com'] 1"


def test_a_first_mx_match_reads_only_the_shards_it_needs() -> None:
    out = _run(
        """
        from mailsettings.store import ProviderStore, _BUNDLED
        provider, rule = ProviderStore().match_mx("mx1.qq.com")
        print(provider.id, sorted(_BUNDLED._records), len(_BUNDLED._indexes))
        """
    )
    assert out == "qq.com ['qq.com'] 1"


# --- application providers ---------------------------------------------------------------


def imap_host(result: mailsettings.LookupResult) -> str:
    assert result.imap is not None
    return result.imap.host


def corp(provider_id: str = "corp.example", *domains: str, **extra: object) -> Provider:
    return Provider.model_validate(
        {
            "id": provider_id,
            "name": f"Corp {provider_id}",
            "domains": domains or (provider_id,),
            "servers": [
                {"protocol": "imap", "host": f"imap.{provider_id}", "port": 993, "security": "ssl"}
            ],
            **extra,
        }
    )


def test_an_application_provider_replaces_a_bundled_one_only_for_its_domains() -> None:
    own = corp("qq.com", "qq.com")
    registry = Registry([own])
    assert registry.lookup("a@qq.com").provider == own
    assert registry.lookup("a@foxmail.com").provider.id == "qq.com"
    assert imap_host(registry.lookup("a@foxmail.com")) == "imap.qq.com"  # the bundled provider
    assert registry.get("qq.com") == own
    assert [p for p in registry.providers() if p.id == "qq.com"] == [own]


def test_a_domain_claimed_by_two_application_providers_names_both() -> None:
    with pytest.raises(ValueError, match=r"'shared\.example'.*one\.example.*two\.example"):
        Registry([corp("one.example", "one.example", "shared.example"),
                  corp("two.example", "two.example", "shared.example")])
    with pytest.raises(ValueError, match=r"id 'same\.example'"):
        Registry([corp("same.example", "a.example"), corp("same.example", "b.example")])


def test_application_providers_may_be_dicts_and_are_validated() -> None:
    registry = Registry([corp().model_dump(mode="json")])
    assert imap_host(registry.lookup("x@corp.example")) == "imap.corp.example"
    with pytest.raises(ValidationError):
        Registry([{"id": "broken.example", "name": "Broken"}])
    with pytest.raises(TypeError, match="Provider objects or dicts"):
        Registry([42])  # type: ignore[list-item]


def test_application_mx_patterns_win() -> None:
    own = corp("mine.example", "mine.example", mx=[{"pattern": "qq.com"}])
    store = ProviderStore([own])
    match = store.match_mx("mx1.qq.com")
    assert match is not None and match[0].id == "qq.com"  # the exact bundled pattern is more specific
    match = store.match_mx("other.qq.com")
    assert match is not None and match[0] == own


def test_from_directory_refuses_a_missing_or_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no provider files"):
        Registry.from_directory(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="no provider files"):
        Registry.from_directory(tmp_path)
    (tmp_path / "corp.example.toml").write_text(
        'id = "corp.example"\nname = "Corp"\ndomains = ["corp.example"]\n'
        '[[servers]]\nprotocol = "imap"\nhost = "imap.corp.example"\nport = 993\nsecurity = "ssl"\n'
    )
    assert imap_host(Registry.from_directory(tmp_path).lookup("a@corp.example")) == "imap.corp.example"


def test_without_bundled_data_only_the_application_providers_exist() -> None:
    registry = Registry([corp()], bundled=False)
    assert [p.id for p in registry.providers()] == ["corp.example"]
    with pytest.raises(mailsettings.ProviderNotFoundError):
        registry.lookup("a@qq.com")
