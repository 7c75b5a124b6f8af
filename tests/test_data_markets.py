"""The large providers of each market (tools/markets.toml) against the bundled data."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from conftest import REPO

from mailsettings.data import load_bundled

sys.path.insert(0, str(REPO / "tools"))
import coverage_page

PROVIDERS = {provider.id: provider for provider in load_bundled()}
MARKETS = coverage_page.read_markets()

# The markets the database promises to cover, by the words their headings start with.
REQUIRED = (
    "China", "Hong Kong", "Taiwan", "Japan", "Korea", "India", "Indonesia", "Vietnam", "Russia",
    "Ukraine", "Turkey", "Germany", "France", "United Kingdom", "Italy", "Spain", "Netherlands",
    "Poland", "Nordics", "Brazil", "Mexico", "Argentina", "United States", "Canada",
    "Australia", "New Zealand", "South Africa",
)


def test_every_promised_market_is_listed_once() -> None:
    names = [market.name for market in MARKETS]
    assert len(set(names)) == len(names)
    for required in REQUIRED:
        assert sum(name.startswith(required) for name in names) == 1, required


def test_covered_providers_exist_and_own_the_domains_named() -> None:
    for market in MARKETS:
        for large in market.providers:
            unknown = [pid for pid in large.covered if pid not in PROVIDERS]
            assert not unknown, f"{market.name} / {large.name}: no provider {unknown}"
            owned = {d for pid in large.covered for d in PROVIDERS[pid].domains}
            assert set(large.domains) <= owned, f"{market.name} / {large.name}"


def test_every_market_has_covered_providers() -> None:
    for market in MARKETS:
        assert any(large.covered for large in market.providers), market.name


def test_an_entry_left_out_without_a_reason_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "markets.toml"
    path.write_text(
        '[[market]]\nname = "X"\n[[market.provider]]\nname = "Y"\nleft_out = "no-source"\n',
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match="reason"):
        coverage_page.read_markets(path)
    path.write_text(
        '[[market]]\nname = "X"\n[[market.provider]]\nname = "Y"\nleft_out = "no-source"\n'
        'reason = "R"\ncovered = ["qq.com"]\n',
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match="either"):
        coverage_page.read_markets(path)


def test_the_page_names_every_left_out_provider_and_its_reason() -> None:
    page = (REPO / "docs" / "coverage.md").read_text(encoding="utf-8")
    for market in MARKETS:
        assert f"### {market.name}" in page
        for large in market.providers:
            if large.left_out:
                assert f"left out: {coverage_page.LEFT_OUT[large.left_out]}. {large.reason}" in page
