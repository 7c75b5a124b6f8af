"""The database's coverage: the generated page is current and the numbers hold."""

from __future__ import annotations

import sys

from conftest import REPO

from mailsettings.data import load_bundled
from mailsettings.models import Provider

sys.path.insert(0, str(REPO / "tools"))
import coverage_page

PROVIDERS = load_bundled()


def test_coverage_page_is_current() -> None:
    committed = (REPO / "docs" / "coverage.md").read_text(encoding="utf-8")
    assert committed == coverage_page.render(PROVIDERS), "run: python tools/coverage_page.py"


# The first coverage target: at least 1,500 distinct domains and 250 providers or platforms.
# The next one (2,000 domains, 330 providers) is not reached yet: no more sourced entries were
# found, so only the floor below is asserted.
TARGET_DOMAINS = 1500
TARGET_PROVIDERS = 250
# The database's floor: it only rises (raise it as verified entries are added, never lower it).
MINIMUM_DOMAINS = 1657
MINIMUM_PROVIDERS = 315


# Sourcing floors (raise them as help pages and references are read, never lower them). The
# targets are half of the providers with the provider's own help page and 60% with two or more
# independent references; the data is below both, so only the floors are asserted.
MINIMUM_HELP_URLS = 103
MINIMUM_TWO_REFERENCES = 106


def test_sourcing_does_not_shrink() -> None:
    counts = coverage_page.figures(PROVIDERS)
    assert counts["help_url"] >= MINIMUM_HELP_URLS
    assert counts["two_references"] >= MINIMUM_TWO_REFERENCES


def test_a_reference_compared_twice_counts_once() -> None:
    provider = Provider.model_validate({
        "id": "example.net", "name": "Example", "domains": ["example.net"],
        "servers": [{"protocol": "imap", "host": "imap.example.net", "port": 993,
                     "security": "ssl"}],
        "provenance": [{"reference": "ispdb", "revision": "a"},
                       {"reference": "ispdb", "revision": "b"}],
    })
    assert coverage_page.references(provider) == {"ispdb"}
    assert coverage_page.figures((provider,))["two_references"] == 0


def test_database_meets_the_coverage_target_and_does_not_shrink() -> None:
    domains = {domain for provider in PROVIDERS for domain in provider.domains}
    assert len(domains) >= max(MINIMUM_DOMAINS, TARGET_DOMAINS)
    assert len(PROVIDERS) >= max(MINIMUM_PROVIDERS, TARGET_PROVIDERS)


def test_china_in_depth() -> None:
    domains = {domain for provider in PROVIDERS for domain in provider.domains}
    expected = {
        "163.com",
        "126.com",
        "yeah.net",
        "188.com",
        "vip.163.com",
        "vip.126.com",
        "vip.188.com",
        "qq.com",
        "foxmail.com",
        "vip.qq.com",
        "sina.com",
        "sina.cn",
        "vip.sina.com",
        "sohu.com",
        "vip.sohu.com",
        "139.com",
        "189.cn",
        "21cn.com",
        "wo.cn",
        "aliyun.com",
        "tom.com",
        "163.net",
        "263.net",
    }
    assert expected - domains == set()
    platforms = {rule.pattern for provider in PROVIDERS for rule in provider.mx}
    assert any(pattern.endswith("qq.com") and "biz" in pattern for pattern in platforms)


def test_every_region_has_providers() -> None:
    regions = {coverage_page.region_of(provider) for provider in PROVIDERS}
    assert {"China", "Europe", "North America", "Japan and Korea", "Russia and CIS"} <= regions
