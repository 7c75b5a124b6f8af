"""Lookups through the whole source chain: bundled data, live autoconfig, MX, ISPDB by MX.

Real servers on loopback only: dnsmasq answers for ``*.test`` and an HTTPS server with
certificates from a test CA serves the autoconfig files.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import pytest
from https_server import AUTOCONFIG_PATH, WELL_KNOWN_PATH, Network, config_xml, drip, reply

import mailsettings
from mailsettings import (
    DiscoveryTimeoutError,
    LookupResult,
    ProviderNotFoundError,
    Registry,
    Source,
)


def hosts_seen(net: Network) -> list[str]:
    return [seen.host for seen in net.https.seen]


def test_provider_autoconfig_answers_first(net: Network) -> None:
    net.https.route(
        "autoconfig.example.test", AUTOCONFIG_PATH, reply(200, config_xml("example.test"))
    )
    net.https.route("ispdb.test", "/v1.1/example.test", reply(200, config_xml("example.test")))
    result = Registry().lookup("jane@example.test", **net.autoconfig_options())
    assert (result.source, result.trusted) == (Source.AUTOCONFIG, True)
    assert result.url is not None and result.url.startswith("https://autoconfig.example.test:")
    assert hosts_seen(net) == ["autoconfig.example.test"]  # the ISPDB was never asked
    assert net.https.seen[0].query == "emailaddress=jane%40example.test"


def test_missing_files_fall_through_to_well_known_then_ispdb(net: Network) -> None:
    net.https.route("ispdb.test", "/v1.1/example.test", reply(200, config_xml("example.test")))
    result = Registry().lookup("jane@example.test", **net.autoconfig_options())
    assert (result.source, result.trusted) == (Source.ISPDB, True)
    assert hosts_seen(net) == ["autoconfig.example.test", "example.test", "ispdb.test"]
    net.https.reset()
    net.https.route("example.test", WELL_KNOWN_PATH, reply(200, config_xml("example.test")))
    assert (
        Registry().lookup("jane@example.test", **net.autoconfig_options()).source
        is Source.WELL_KNOWN
    )


def test_ispdb_by_mx_host(net: Network) -> None:
    net.https.route("ispdb.test", "/v1.1/hoster.test", reply(200, config_xml("hoster.test")))
    result = Registry().lookup("jane@viamx.test", **net.autoconfig_options())
    assert result.source is Source.ISPDB
    assert not result.trusted  # chosen by an unauthenticated MX record
    assert result.domain == "viamx.test"
    assert "/v1.1/hoster.test" in [seen.path for seen in net.https.seen]


def test_mx_platforms_answer_only_with_mx(net: Network) -> None:
    # autoconfig alone queries the MX hosts (for the ISPDB by MX host) but matches no platform
    with pytest.raises(ProviderNotFoundError) as caught:
        Registry().lookup("jane@workspace.test", **net.autoconfig_options())
    assert "MX" not in caught.value.tried
    assert "/v1.1/google.com" in [seen.path for seen in net.https.seen]
    result = Registry().lookup("jane@workspace.test", **net.autoconfig_options(mx=True))
    assert result.source is Source.MX and result.mx_host == "aspmx.l.google.com"


def test_a_bundled_domain_fetches_nothing(net: Network) -> None:
    result = Registry().lookup("someone@qq.com", **net.autoconfig_options())
    assert result.source is Source.BUNDLED
    assert net.https.seen == [] and net.https.connections == 0


def test_private_addresses_are_refused_by_default(net: Network) -> None:
    net.https.route(
        "autoconfig.example.test", AUTOCONFIG_PATH, reply(200, config_xml("example.test"))
    )
    with pytest.raises(ProviderNotFoundError) as caught:
        Registry().lookup(
            "jane@example.test", **net.autoconfig_options(allow_private_networks=False)
        )
    assert net.https.connections == 0
    assert "provider autoconfig" in caught.value.tried
    assert "not a public address" in str(caught.value) or "private" in str(caught.value)


def test_the_budget_holds_against_a_dripping_server(net: Network) -> None:
    net.https.route("autoconfig.example.test", AUTOCONFIG_PATH, drip(config_xml("example.test")))
    started = time.monotonic()
    with pytest.raises(DiscoveryTimeoutError):
        Registry().lookup("jane@example.test", **net.autoconfig_options(timeout=0.4))
    assert time.monotonic() - started < 3 * 0.4 + 1


def test_alookup_and_lookup_many_use_the_same_chain(net: Network) -> None:
    net.https.route("ispdb.test", "/v1.1/example.test", reply(200, config_xml("example.test")))
    async_options = net.autoconfig_options(resolver=net.async_resolver())
    result = asyncio.run(Registry().alookup("jane@example.test", **async_options))
    assert result.source is Source.ISPDB
    many = Registry().lookup_many(
        ["a@example.test", "b@example.test", "c@qq.com"], **net.autoconfig_options()
    )
    assert [r.source for r in many if isinstance(r, LookupResult)] == [
        Source.ISPDB,
        Source.ISPDB,
        Source.BUNDLED,
    ]
    assert many[0] is many[1]  # one lookup per domain


def test_registry_defaults_and_module_shortcut(net: Network) -> None:
    net.https.route("ispdb.test", "/v1.1/example.test", reply(200, config_xml("example.test")))
    registry = Registry(**net.autoconfig_options())
    assert registry.lookup("jane@example.test").source is Source.ISPDB
    with pytest.raises(ProviderNotFoundError):
        mailsettings.lookup("jane@example.test")  # the default registry stays offline


def test_cli_autoconfig_end_to_end(net: Network, tmp_path: Path) -> None:
    net.https.route("ispdb.test", "/v1.1/example.test", reply(200, config_xml("example.test")))
    ca_file = tmp_path / "ca.pem"
    net.certificates.ca.cert_pem.write_to_path(str(ca_file))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mailsettings",
            "--json",
            "--autoconfig",
            "--dns-server",
            f"127.0.0.1:{net.dnsmasq.port}",
            "--ca-file",
            str(ca_file),
            "--allow-private-networks",
            "--ispdb-url",
            f"https://ispdb.test:{net.https.port}/v1.1/",
            "--timeout",
            "5",
            "jane@example.test",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert '"source": "ispdb"' in done.stdout
    refused = subprocess.run(
        [sys.executable, "-m", "mailsettings", "--allow-private-networks", "x@example.test"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert refused.returncode == 2
    assert "needs --autoconfig" in refused.stderr
