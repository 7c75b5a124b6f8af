"""Consistency rules over the whole database: status and servers agree, limits are said, and
the address domains an ISP acquired or renamed use the servers of the ISP that runs them now."""

from __future__ import annotations

import pytest

import mailsettings
from mailsettings.data import load_bundled
from mailsettings.models import Provider, Server, Status

PROVIDERS = load_bundled()
LOCAL_BRIDGE = "127.0.0.1"


def _all_servers(provider: Provider) -> list[Server]:
    servers = list(provider.servers)
    for rule in provider.mx:
        servers += rule.servers or ()
    return servers


@pytest.mark.parametrize(
    "provider",
    [p for p in PROVIDERS if p.status is Status.DISCONTINUED],
    ids=lambda provider: provider.id,
)
def test_a_discontinued_provider_lists_no_current_server(provider: Provider) -> None:
    current = [f"{s.protocol.value} {s.host}:{s.port}" for s in _all_servers(provider) if not s.legacy]
    assert current == [], "mark the servers of a closed service legacy, with the reason"
    for domain in provider.domains:
        result = mailsettings.lookup(f"someone@{domain}")
        assert (result.imap, result.pop3, result.smtp) == (None, None, None)
        assert any("discontinued" in warning for warning in result.warnings)


def test_the_rule_for_discontinued_providers_can_fail() -> None:
    closed = Provider(
        id="closed.example",
        name="Closed",
        domains=("closed.example",),
        status="discontinued",
        status_since="2020",
        status_note="Closed in 2020.",
        servers=(Server(protocol="smtp", host="smtp.closed.example", port=465, security="ssl"),),
    )
    assert [s for s in _all_servers(closed) if not s.legacy]


# A server that serves only some of a provider's addresses or plans says which in its note.
# (provider, host, words the note must use)
LIMITED_SERVERS = [
    ("proton.me", "smtp.protonmail.ch", ("custom domain", "SMTP token", "Bridge")),
]


@pytest.mark.parametrize(("provider_id", "host", "words"), LIMITED_SERVERS)
def test_a_server_for_some_plans_or_addresses_says_which(
    provider_id: str, host: str, words: tuple[str, ...]
) -> None:
    provider = next(p for p in PROVIDERS if p.id == provider_id)
    (server,) = [s for s in provider.servers if s.host == host]
    assert server.note is not None
    for word in words:
        assert word in server.note


@pytest.mark.parametrize(
    "provider",
    [p for p in PROVIDERS if p.status is Status.NEEDS_BRIDGE],
    ids=lambda provider: provider.id,
)
def test_a_server_beside_the_bridge_says_who_can_use_it(provider: Provider) -> None:
    # A bridge provider's own addresses reach mail only through the local bridge; a server on
    # the provider's network serves only some addresses or plans, and must say which.
    unexplained = [
        s.host for s in provider.servers if s.host != LOCAL_BRIDGE and not s.legacy and not s.note
    ]
    assert unexplained == []


# Legacy ISP domain families: address domains a provider acquired or renamed, which its help
# pages now send to the parent's servers. Each domain must resolve to exactly the parent's
# current servers, whether the data keeps it in the parent's file or in a file of its own.
LEGACY_FAMILIES = {
    # CenturyLink's help page on POP and SMTP settings lists all of these.
    "centurylink.net": (
        "centurytel.net", "clds.net", "coastalnow.net", "cochill.net", "cswnet.com",
        "elpasotel.net", "embarqmail.com", "emadisonriver.com", "emadisonriver.net",
        "gallatinriver.net", "grics.net", "gulftel.com", "madisonriver.biz", "mebtel.net",
        "q.com", "qwest.net",
    ),
    "virginmedia.com": ("virgin.net", "ntlworld.com", "blueyonder.co.uk"),
    "vodafonemail.de": ("arcor.de", "kabelmail.de", "unity-mail.de", "nexgo.de"),
    "kpnmail.nl": (
        "planet.nl", "kpnplanet.nl", "hetnet.nl", "wxs.nl", "xs4all.nl", "telfort.nl",
        "tiscali.nl",
    ),
    "charter.net": ("spectrum.net", "bresnan.net"),
    "rr.com": ("roadrunner.com", "twc.com"),
    "yahoo.com": ("cox.net",),
    "aol.com": ("verizon.net",),
}


def _current(domain: str) -> set[tuple[str, str, int, str]]:
    result = mailsettings.lookup(f"someone@{domain}")
    return {
        (s.protocol.value, s.host, s.port, s.security.value) for s in result.servers if not s.legacy
    }


@pytest.mark.parametrize(
    ("parent", "member"),
    [(parent, member) for parent, members in LEGACY_FAMILIES.items() for member in members],
)
def test_a_legacy_domain_resolves_to_the_parent_servers(parent: str, member: str) -> None:
    assert _current(member) == _current(parent)
