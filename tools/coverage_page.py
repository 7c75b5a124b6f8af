"""Write ``docs/coverage.md``: the bundled database by region, generated from the data.

python tools/coverage_page.py [--output docs/coverage.md]
"""

from __future__ import annotations

import argparse
from collections import defaultdict
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


def render(providers: tuple[Provider, ...]) -> str:
    """The coverage page as Markdown."""
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
        " named reference (see each provider's `provenance`)",
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
    return "\n".join(lines) + "\n"


def main() -> None:
    """Write the page."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--output", type=Path, default=Path("docs/coverage.md"))
    args = parser.parse_args()
    providers = load_provider_files(source_dir().glob("*.toml"))
    args.output.write_text(render(providers), encoding="utf-8")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
