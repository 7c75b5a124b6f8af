"""The source of docs/writing-a-source.md, run as written against a real dnsmasq on loopback."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest
from dns_servers import Dnsmasq

import mailsettings
from mailsettings import ProviderNotFoundError, Registry, Source
from mailsettings.sources.base import BaseSource, DiscoverySource

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "writing-a-source.md"


def guide_source() -> type[BaseSource[Any]]:
    """The source class the guide defines, from the guide's first Python block."""
    block = re.search(r"```python\n(.*?)```", GUIDE.read_text(encoding="utf-8"), re.S)
    assert block is not None
    namespace: dict[str, Any] = {"__name__": "writing_a_source"}
    exec(compile(block[1], str(GUIDE), "exec", dont_inherit=True), namespace)
    source: type[BaseSource[Any]] = namespace["TxtSource"]
    return source


TxtSource = guide_source()


@pytest.fixture
def txt_dns(start_dnsmasq: type[Dnsmasq]) -> Dnsmasq:
    return start_dnsmasq(
        [
            "--txt-record=_mailsettings.corp.test,imap=imap.corp.test:993 smtp=smtp.corp.test:465",
            "--mx-host=corp.test,mx.nowhere.test,10",
        ]
    )


def test_the_guides_source_is_a_discovery_source() -> None:
    source = TxtSource()
    assert isinstance(source, DiscoverySource)
    assert (source.name, source.label) == ("txt", "TXT")


def test_an_extra_source_answers_after_the_bundled_ones(txt_dns: Dnsmasq) -> None:
    registry = Registry(extra_sources=[TxtSource()], resolver=txt_dns.resolver())
    result = registry.lookup("jane@corp.test", txt=True, mx=True)  # type: ignore[call-arg]
    assert result.source is Source.APPLICATION
    assert not result.trusted and "TXT record" in result.warnings[0]
    assert [(s.protocol.value, s.host, s.port) for s in result.servers] == [
        ("imap", "imap.corp.test", 993),
        ("smtp", "smtp.corp.test", 465),
    ]
    again = asyncio.run(registry.alookup("jane@corp.test", txt=True))  # type: ignore[call-arg]
    assert again.servers == result.servers


def test_an_extra_sources_options_are_checked_and_named_when_not_found(txt_dns: Dnsmasq) -> None:
    registry = Registry(extra_sources=[TxtSource()], resolver=txt_dns.resolver())
    with pytest.raises(TypeError, match="txt must be True or False"):
        registry.lookup("jane@corp.test", txt="yes")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="unknown lookup option"):
        mailsettings.Registry().lookup("jane@corp.test", txt=True)  # type: ignore[call-arg]
    with pytest.raises(ProviderNotFoundError) as caught:
        registry.lookup("jane@other.test", txt=True)  # type: ignore[call-arg]
    assert caught.value.tried == ("bundled database", "TXT")
    assert "no _mailsettings TXT record" in str(caught.value)


def test_a_source_that_breaks_fails_only_its_own_domain() -> None:
    class Broken(BaseSource[Any]):
        name = "broken"
        label = "broken source"
        options = TxtSource.options
        switch = "txt"

        async def arun(self, ctx: Any) -> None:
            raise LookupError("a bug")

    registry = Registry(extra_sources=[Broken()])
    outcomes = registry.lookup_many(["a@qq.com", "b@nowhere.test"], txt=True)  # type: ignore[call-arg]
    assert isinstance(outcomes[0], mailsettings.LookupResult)
    assert isinstance(outcomes[1], mailsettings.DiscoveryError)
    assert "(broken source: failed unexpectedly (LookupError: a bug))" in str(outcomes[1])


def test_extra_sources_are_checked() -> None:
    with pytest.raises(TypeError, match="not a discovery source"):
        Registry(extra_sources=[object()])  # type: ignore[list-item]

    class Clash(TxtSource):  # type: ignore[valid-type,misc]
        name = "mx"

    with pytest.raises(ValueError, match="two discovery sources are named 'mx'"):
        Registry(extra_sources=[Clash()])
