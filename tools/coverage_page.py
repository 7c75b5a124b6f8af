"""Write ``docs/coverage.md``: the bundled database by region, generated from the data.

python tools/coverage_page.py [--output docs/coverage.md]
"""

from __future__ import annotations

import argparse
import tomllib
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from mailsettings.data import load_provider_files, source_dir
from mailsettings.models import InstructionKind, PasswordKind, Protocol, Provider, Status

REGIONS: dict[str, tuple[str, ...]] = {
    "China": ("CN",),
    "Hong Kong, Macau and Taiwan": ("HK", "MO", "TW"),
    "Japan and Korea": ("JP", "KR"),
    "South and South-East Asia": ("IN", "PK", "BD", "LK", "SG", "MY", "ID", "TH", "VN", "PH"),
    "Russia and CIS": ("RU", "BY", "UA", "KZ", "UZ", "KG", "AM", "AZ", "GE", "MD", "TJ", "TM"),
    "Europe": (
        "AT", "BE", "BG", "CH", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GB", "GR",
        "HR", "HU", "IE", "IS", "IT", "LI", "LT", "LU", "LV", "MT", "NL", "NO", "PL", "PT",
        "RO", "RS", "SE", "SI", "SK", "BA", "ME", "MK", "AL", "TR",
    ),
    "North America": ("US", "CA"),
    "Latin America": ("MX", "BR", "AR", "CL", "CO", "PE", "UY", "VE", "CU", "EC", "BO", "PY"),
    "Oceania": ("AU", "NZ"),
    "Middle East and Africa": ("IL", "IR", "AE", "SA", "EG", "ZA", "NG", "KE", "MA", "TN"),
}
INTERNATIONAL = "International"
MARKETS = Path(__file__).resolve().with_name("markets.toml")
LEFT_OUT = {
    "per-customer-servers": "per-customer servers",
    "no-source": "no source",
    "no-mail-service": "no mail service",
}
"""Why a large provider is left out, by the kind ``tools/markets.toml`` names."""
PASSWORD = {
    PasswordKind.ACCOUNT: "account password",
    PasswordKind.APP_PASSWORD: "app password",
    PasswordKind.AUTHORIZATION_CODE: "authorization code (授权码)",
    PasswordKind.OAUTH2_ONLY: "OAuth2 only",
}


def region_of(provider: Provider) -> str:
    """The region heading a provider is listed under."""
    for region, countries in REGIONS.items():
        if provider.country in countries:
            return region
    return INTERNATIONAL if provider.country is None else "Other countries"


# What each instruction kind asks of the user; the password kinds are said by PASSWORD.
STEP = {
    InstructionKind.APP_PASSWORD: "app password",
    InstructionKind.AUTHORIZATION_CODE: "authorization code",
    InstructionKind.ENABLE_ACCESS: "turn on IMAP/POP3/SMTP in web settings",
    InstructionKind.IMAP_ID: "a client that sends IMAP ID",
    InstructionKind.OAUTH2: "OAuth2 sign-in",
    InstructionKind.OTHER: "see its instructions",
}


def references(provider: Provider) -> set[str]:
    """The independent references a provider's facts were compared with (one per name)."""
    return {check.reference for check in provider.provenance}


def figures(providers: tuple[Provider, ...]) -> dict[str, int]:
    """The database's size and sourcing, as the coverage targets count them."""
    return {
        "providers": len(providers),
        "domains": len({domain for p in providers for domain in p.domains}),
        "help_url": sum(1 for p in providers if p.help_url),
        "two_references": sum(1 for p in providers if len(references(p)) >= 2),
    }


def _needs(provider: Provider) -> str:
    # An instruction that only repeats the password kind (authorization code) is not repeated.
    kinds = {step.kind.value for step in provider.instructions} - {provider.password.value}
    steps = [text for kind, text in STEP.items() if kind.value in kinds]
    return "; ".join([PASSWORD[provider.password], *steps])


def _protocols(provider: Provider) -> str:
    offered = {s.protocol for s in provider.servers if not s.legacy}
    for rule in provider.mx:
        offered |= {s.protocol for s in rule.servers or () if not s.legacy}
    return " ".join(p.value.upper() for p in Protocol if p in offered) or "none"


@dataclass(frozen=True)
class LargeProvider:
    """One of a market's largest providers, and whether the data has it."""

    name: str
    covered: tuple[str, ...] = ()
    """The provider ids that hold it, empty when it is left out."""
    domains: tuple[str, ...] = ()
    """The domains of ``covered`` that belong to this market; empty means all of them."""
    left_out: str | None = None
    """A key of :data:`LEFT_OUT`."""
    reason: str | None = None


@dataclass(frozen=True)
class Market:
    """A country or region and its largest mail providers."""

    name: str
    providers: tuple[LargeProvider, ...]


def read_markets(path: Path = MARKETS) -> tuple[Market, ...]:
    """The markets listed in ``tools/markets.toml``.

    Raises ``ValueError`` for an entry that is neither covered nor left out with a known
    kind and a reason.
    """
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    markets = []
    for market in data["market"]:
        entries = []
        for entry in market["provider"]:
            large = LargeProvider(
                name=entry["name"],
                covered=tuple(entry.get("covered", ())),
                domains=tuple(entry.get("domains", ())),
                left_out=entry.get("left_out"),
                reason=entry.get("reason"),
            )
            if bool(large.covered) == (large.left_out is not None):
                raise ValueError(f"{large.name}: give either covered ids or a left_out kind")
            if large.left_out is not None and (large.left_out not in LEFT_OUT or not large.reason):
                raise ValueError(f"{large.name}: left_out needs a known kind and a reason")
            if large.domains and not large.covered:
                raise ValueError(f"{large.name}: domains are only given for covered providers")
            entries.append(large)
        markets.append(Market(name=market["name"], providers=tuple(entries)))
    return tuple(markets)


def _market_lines(markets: tuple[Market, ...], providers: tuple[Provider, ...]) -> list[str]:
    by_id = {p.id: p for p in providers}
    lines = [
        "",
        "## Large providers by market",
        "",
        "The largest consumer mail providers (ISPs, portals, telecoms) of each market, as listed",
        "in `tools/markets.toml`, and whether the data has them. A provider without IMAP, POP3",
        "or SMTP, or whose service closed, is not left out: it is in the data with that status,",
        "so a lookup says so. A provider left out says why: *per-customer servers* (no fixed",
        "settings exist), *no source* (no readable source for its servers or domains was found)",
        "or *no mail service* (it issues no mailboxes any more).",
        "",
        "| market | large providers | in the data | left out |",
        "|---|---:|---:|---:|",
    ]
    for market in markets:
        covered = sum(1 for p in market.providers if p.covered)
        lines.append(f"| {market.name} | {len(market.providers)} | {covered} |"
                     f" {len(market.providers) - covered} |")
    for market in markets:
        lines += ["", f"### {market.name}", "",
                  "| provider | in the data | status | domains |", "|---|---|---|---:|"]
        for large in market.providers:
            name = large.name.replace("|", "\\|")
            if not large.covered:
                lines.append(f"| {name} | left out: {LEFT_OUT[large.left_out or '']}."
                             f" {large.reason} | | |")
                continue
            members = [by_id[i] for i in large.covered]
            ids = ", ".join(f"`{i}`" for i in large.covered)
            status = ", ".join(dict.fromkeys(p.status.value for p in members))
            count = len(large.domains) or sum(len(p.domains) for p in members)
            lines.append(f"| {name} | {ids} | {status} | {count} |")
    return lines


def render(providers: tuple[Provider, ...], markets: tuple[Market, ...] | None = None) -> str:
    """The coverage page as Markdown."""
    markets = read_markets() if markets is None else markets
    by_region: dict[str, list[Provider]] = defaultdict(list)
    for provider in providers:
        by_region[region_of(provider)].append(provider)
    domains = sum(len(p.domains) for p in providers)
    platforms = sum(1 for p in providers if p.mx)
    lines = [
        "# Coverage",
        "",
        "Generated from the bundled data by `python tools/coverage_page.py`; do not edit by hand.",
        "",
        f"- **{len(providers)}** providers and hosting platforms, **{domains}** mail domains",
        f"- **{platforms}** providers or platforms identifiable by their MX hosts",
        f"- **{sum(1 for p in providers if any(s.protocol is Protocol.POP3 for s in p.servers))}**"
        " providers with POP3 servers",
        f"- **{sum(1 for p in providers if p.help_url)}** with the provider's help page for mail"
        " clients",
        f"- **{sum(1 for p in providers if p.provenance)}** whose facts were compared with at least one"
        " named reference (see each provider's `provenance`), **"
        f"{sum(1 for p in providers if len(references(p)) >= 2)}** with two or more independent ones",
        "",
        "| region | providers | domains |",
        "|---|---:|---:|",
    ]
    order = [*REGIONS, "Other countries", INTERNATIONAL]
    for region in order:
        members = by_region.get(region, [])
        if members:
            count = sum(len(p.domains) for p in members)
            lines.append(f"| {region} | {len(members)} | {count} |")
    for region in order:
        members = sorted(by_region.get(region, []), key=lambda p: p.id)
        if not members:
            continue
        lines += ["", f"## {region}", "",
                  "| provider | domains | protocols | status | what the user needs |",
                  "|---|---:|---|---|---|"]
        for p in members:
            name = " / ".join(p.names).replace("|", "\\|")
            status = p.status.value if p.status is not Status.ACTIVE else "active"
            lines.append(f"| {name} (`{p.id}`) | {len(p.domains)} | {_protocols(p)} | {status} |"
                         f" {_needs(p)} |")
    lines += _market_lines(markets, providers)
    return "\n".join(lines) + "\n"


def main() -> None:
    """Write the page."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--output", type=Path, default=Path("docs/coverage.md"))
    args = parser.parse_args()
    providers = load_provider_files(source_dir().glob("*.toml"))
    args.output.write_text(render(providers), encoding="utf-8")
    print(f"wrote {args.output}")
    counts = figures(providers)
    total = counts["providers"]
    print(f"{total} providers, {counts['domains']} domains; help URL: {counts['help_url']}"
          f" ({counts['help_url'] / total:.1%}); two or more references:"
          f" {counts['two_references']} ({counts['two_references'] / total:.1%})")
    markets = read_markets()
    large = [entry for market in markets for entry in market.providers]
    print(f"{len(markets)} markets, {len(large)} large providers,"
          f" {sum(1 for entry in large if entry.covered)} in the data")


if __name__ == "__main__":
    main()
