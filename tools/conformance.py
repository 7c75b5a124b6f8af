"""Write ``docs/data-conformance.md``: the bundled data compared with Thunderbird's ISPDB and Delta Chat.

Usage::

    python tools/conformance.py [--shared ../shared] [--output docs/data-conformance.md]

The references are read from snapshots in the shared folder (``ispdb/`` and
``deltachat-providers/``, each with a ``SOURCE.txt`` naming its commit); nothing is
fetched and nothing of them is copied into the page except host names, ports, domains
and counts. The page is deterministic: the same inputs give the same bytes.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO))

from mailsettings.autoconfig import parse_autoconfig  # noqa: E402
from mailsettings.data import load_provider_files, source_dir  # noqa: E402
from mailsettings.models import EMAILDOMAIN, Protocol, Provider, Security  # noqa: E402

DEFAULT_SHARED = Path(os.environ.get("MAILSETTINGS_SHARED_DIR", REPO.parent / "shared"))
DEFAULT_OUTPUT = REPO / "docs" / "data-conformance.md"
LEFT_OUT = REPO / "tools" / "left-out.toml"
NO_REASON = "**no reason recorded**"

ISPDB = "ispdb"
DELTACHAT = "deltachat"
DELTACHAT_FIXTURE = "example.com.md"
DELTACHAT_REMOVED = "removed-since-2024-11"
_DELTACHAT_SOCKETS = {"SSL": Security.SSL, "STARTTLS": Security.STARTTLS, "PLAIN": Security.PLAIN}

Endpoint = tuple[str, int, Security]
"""A server as compared: host (templates filled in), port, TLS mode."""


@dataclass(frozen=True)
class Entry:
    """One provider record of a reference."""

    name: str
    """The reference's file name."""
    domains: tuple[str, ...]
    servers: tuple[tuple[Protocol, str, int, Security], ...]


@dataclass(frozen=True)
class Reference:
    """A reference database snapshot."""

    key: str
    """The name ``[[deviations]]`` entries use for it: ``ispdb`` or ``deltachat``."""
    title: str
    repository: str
    commit: str
    entries: tuple[Entry, ...]
    notes: tuple[str, ...] = ()
    """What was left out of the snapshot, and why."""


# --- reading the references ----------------------------------------------------


def read_source(folder: Path) -> tuple[str, str]:
    """The repository and commit a snapshot's ``SOURCE.txt`` names."""
    text = (folder / "SOURCE.txt").read_text(encoding="utf-8")
    commit = re.search(r"\b[0-9a-f]{40}\b", text)
    repository = ""
    for line in text.splitlines():
        found = re.search(r"github\.com/([\w.-]+/[\w.-]+)", line) or re.fullmatch(
            r"\s*([\w.-]+/[\w.-]+)\s*", line
        )
        if found:
            repository = found[1]
            break
    return repository or folder.name, commit[0] if commit else "unknown"


def read_ispdb(folder: Path) -> Reference:
    """Thunderbird's ISPDB snapshot, each file read with :mod:`mailsettings.autoconfig`."""
    entries = []
    for path in sorted(folder.glob("*.xml")):
        provider = parse_autoconfig(path.read_bytes()).provider
        servers = tuple((s.protocol, s.host, s.port, s.security) for s in provider.servers)
        entries.append(Entry(path.name, provider.domains, servers))
    repository, commit = read_source(folder)
    notes = (
        "Exchange-only server entries (EWS, OWA, Graph) are not compared: this project "
        "models IMAP, POP3 and SMTP only.",
    )
    return Reference(ISPDB, "Thunderbird ISPDB", repository, commit, tuple(entries), notes)


def _front_matter(path: Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8")
    if not text.startswith("---"):
        raise ValueError(f"{path.name}: no YAML front matter")
    data = yaml.safe_load(text[3:].split("\n---", 1)[0])
    if not isinstance(data, dict):
        raise ValueError(f"{path.name}: the front matter is not a mapping")
    return data


def read_deltachat(folder: Path) -> Reference:
    """Delta Chat's provider database snapshot (YAML front matter of ``*.md`` files)."""
    entries = []
    wildcards: list[str] = []
    for path in sorted(folder.glob("*.md")):
        if path.name == DELTACHAT_FIXTURE:
            continue
        data = _front_matter(path)
        domains = []
        for domain in data.get("domains") or []:
            value = str(domain).strip().lower().rstrip(".")
            if "*" in value:
                wildcards.append(value)
            else:
                domains.append(value)
        servers = []
        for server in data.get("server") or []:
            protocol = Protocol(str(server["type"]).lower())
            security = _DELTACHAT_SOCKETS[str(server["socket"]).upper()]
            servers.append(
                (protocol, str(server["hostname"]).lower(), int(server["port"]), security)
            )
        entries.append(Entry(path.name, tuple(domains), tuple(servers)))
    removed = sorted(p.name for p in (folder / DELTACHAT_REMOVED).glob("*.md"))
    notes = [
        f"`{DELTACHAT_FIXTURE}` is the database's test fixture, not a provider; left out.",
    ]
    if wildcards:
        notes.append(
            "Wildcard domain patterns are not mailbox domains and are left out: "
            + ", ".join(f"`{w}`" for w in sorted(wildcards))
            + "."
        )
    if removed:
        notes.append(
            f"The {len(removed)} files in `{DELTACHAT_REMOVED}/` ("
            + ", ".join(f"`{name}`" for name in removed)
            + ") were removed from the database; a removed entry is no longer a reference, "
            "so they are left out."
        )
    repository, commit = read_source(folder)
    return Reference(
        DELTACHAT, "Delta Chat provider database", repository, commit, tuple(entries), tuple(notes)
    )


# --- comparing -------------------------------------------------------------------


@dataclass
class Tally:
    """Agreement counts for one reference and protocol."""

    compared: int = 0
    host: int = 0
    full: int = 0
    explained: int = 0
    unexplained: int = 0


@dataclass(frozen=True)
class Difference:
    """Domains of one reference entry whose servers of one protocol the project does not all offer."""

    protocol: Protocol
    provider: str
    entry: str
    reference_says: tuple[Endpoint, ...]
    project_offers: tuple[Endpoint, ...]
    reasons: tuple[str, ...]
    """Why; empty when no reason is recorded (unexplained)."""


@dataclass
class Comparison:
    """The comparison of the project's data with one reference."""

    reference: Reference
    tallies: dict[Protocol, Tally] = field(default_factory=lambda: {p: Tally() for p in Protocol})
    differences: dict[Difference, list[str]] = field(default_factory=dict)
    missing: dict[str, list[str]] = field(default_factory=dict)
    """Reference entry -> its domains that the project lacks."""
    domains: int = 0
    shared: int = 0


def _endpoints(servers: Iterable[tuple[str, int, Security]], domain: str) -> set[Endpoint]:
    return {(host.replace(EMAILDOMAIN, domain), port, security) for host, port, security in servers}


def _reasons(
    provider: Provider, reference: str, protocol: Protocol, missing: set[Endpoint], domain: str
) -> tuple[str, ...]:
    """The recorded reasons for a difference; empty when none covers it."""
    legacy = {
        (s.for_domain(domain).host, s.port, s.security): s.legacy_reason or ""
        for s in provider.servers
        if s.protocol is protocol and s.legacy
    }
    reasons = [
        f"Kept here as a legacy server: {legacy[endpoint]}"
        for endpoint in sorted(missing & legacy.keys())
    ]
    deviations = [
        d.reason
        for d in provider.deviations
        if d.reference.strip().lower() == reference and d.protocol in (None, protocol)
    ]
    if deviations:
        return tuple(dict.fromkeys([*deviations, *reasons]))
    if missing <= legacy.keys():
        return tuple(dict.fromkeys(reasons))
    return ()


def compare(providers: Iterable[Provider], reference: Reference) -> Comparison:
    """Compare the project's providers with one reference, domain by domain."""
    by_domain = {domain: p for p in providers for domain in p.domains}
    result = Comparison(reference)
    seen: set[str] = set()
    for entry in sorted(reference.entries, key=lambda e: e.name):
        for domain in entry.domains:
            if domain in seen:
                continue
            seen.add(domain)
            result.domains += 1
            provider = by_domain.get(domain)
            if provider is None:
                result.missing.setdefault(entry.name, []).append(domain)
                continue
            result.shared += 1
            for protocol in Protocol:
                said = _endpoints(
                    ((h, port, sec) for p, h, port, sec in entry.servers if p is protocol), domain
                )
                if not said:
                    continue
                offered = _endpoints(
                    (
                        (s.host, s.port, s.security)
                        for s in provider.servers
                        if s.protocol is protocol and not s.legacy
                    ),
                    domain,
                )
                tally = result.tallies[protocol]
                tally.compared += 1
                tally.host += {h for h, _, _ in said} <= {h for h, _, _ in offered}
                if said <= offered:
                    tally.full += 1
                    continue
                reasons = _reasons(provider, reference.key, protocol, said - offered, domain)
                if reasons:
                    tally.explained += 1
                else:
                    tally.unexplained += 1
                difference = Difference(
                    protocol,
                    provider.id,
                    entry.name,
                    tuple(sorted(said)),
                    tuple(sorted(offered)),
                    reasons,
                )
                result.differences.setdefault(difference, []).append(domain)
    return result


# --- rendering -------------------------------------------------------------------


def _cell(text: str) -> str:
    return " ".join(text.replace("|", "\\|").split())


def _endpoint_list(endpoints: tuple[Endpoint, ...]) -> str:
    return "<br>".join(f"`{h}:{p}` {s.value}" for h, p, s in endpoints) or "none"


def _domain_list(domains: list[str]) -> str:
    return ", ".join(f"`{d}`" for d in sorted(domains))


HOW = """\
## How agreement is decided

For every domain that both this project and a reference list, and for each protocol
(IMAP, POP3, SMTP) for which the reference names at least one server for that domain:

- a **host agrees** when every host name the reference gives for the protocol is among the
  host names of this project's current (non-legacy) servers of that protocol;
- the domain **agrees** (host, port and TLS mode) when every (host, port, TLS mode) the
  reference gives for the protocol is offered by one of this project's current servers of
  that protocol. Host templates (`%EMAILDOMAIN%`) are filled in with the domain on both
  sides, and TLS modes are compared as implicit TLS (`ssl`), `starttls` or `plain`.
  Servers this project offers beyond the reference's do not count against agreement.

Any other compared domain **differs**. A difference is **explained** when the provider's
data records why: a `[[deviations]]` entry for that reference (`ispdb` or `deltachat`)
and that protocol (or for the whole entry), or every server the reference gives that is
missing here is kept as a `legacy` server with its reason. Otherwise it is
**unexplained**, which is a defect to fix in the data or to explain. A protocol the
reference names but this project lacks for the domain is a difference too; a protocol
only this project offers (Delta Chat lists no POP3) is not compared.
"""


def load_left_out(path: Path = LEFT_OUT) -> dict[str, str]:
    """Domain -> why the bundled data leaves it out, from ``tools/left-out.toml``."""
    reasons: dict[str, str] = {}
    for group in tomllib.loads(path.read_text(encoding="utf-8"))["left_out"]:
        for domain in group["domains"]:
            if domain in reasons:
                raise ValueError(f"{path.name}: {domain} is listed twice")
            reasons[domain] = group["reason"]
    return reasons


def render(
    providers: Iterable[Provider],
    references: Iterable[Reference],
    left_out: dict[str, str] | None = None,
) -> str:
    """The report as Markdown; ``left_out`` gives why a missing domain is left out."""
    left_out = {} if left_out is None else left_out
    providers = tuple(providers)
    comparisons = [compare(providers, reference) for reference in references]
    lines = [
        "# Data conformance",
        "",
        "How the bundled data compares with Thunderbird's ISPDB and Delta Chat's provider",
        "database. Generated by `python tools/conformance.py` from the provider files and the",
        "reference snapshots in `../shared/`; do not edit by hand.",
        "",
        "## References",
        "",
    ]
    for c in comparisons:
        r = c.reference
        lines.append(
            f"- **{r.title}**: `{r.repository}` at commit `{r.commit}`; {len(r.entries)} "
            f"entries, {c.domains} domains, of which {c.shared} are in this project's data."
        )
        lines += [f"    - {note}" for note in r.notes]
    lines += ["", HOW, "## Summary", ""]
    lines += [
        "| reference | protocol | domains compared | host agrees | host, port and TLS agree "
        "| differ | explained | unexplained |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for c in comparisons:
        for protocol in Protocol:
            t = c.tallies[protocol]
            if not t.compared:
                continue
            lines.append(
                f"| {c.reference.title} | {protocol.value.upper()} | {t.compared} | {t.host} "
                f"| {t.full} | {t.compared - t.full} | {t.explained} | {t.unexplained} |"
            )
    for c in comparisons:
        lines += ["", f"## Differences from the {c.reference.title}", ""]
        if not c.differences:
            lines.append("None.")
            continue
        lines += [
            "| protocol | domains | provider here | reference entry | the reference says "
            "| this project offers | reason |",
            "|---|---|---|---|---|---|---|",
        ]
        for d, domains in sorted(
            c.differences.items(),
            key=lambda item: (
                list(Protocol).index(item[0].protocol),
                item[0].provider,
                item[0].entry,
                item[0].reference_says,
            ),
        ):
            reason = " ".join(d.reasons) if d.reasons else "**unexplained**"
            lines.append(
                f"| {d.protocol.value.upper()} | {_domain_list(domains)} | `{d.provider}` "
                f"| `{d.entry}` | {_endpoint_list(d.reference_says)} "
                f"| {_endpoint_list(d.project_offers)} | {_cell(reason)} |"
            )
    lines += [
        "",
        "## Coverage",
        "",
        "Domains a reference lists that this project's data lacks, and why each is left out",
        "(recorded in `tools/left-out.toml`; a missing domain with no reason is a defect).",
        "",
        "| reference | domains | in this project | missing here | no reason recorded |",
        "|---|---:|---:|---:|---:|",
    ]
    for c in comparisons:
        missing = [d for domains in c.missing.values() for d in domains]
        lines.append(
            f"| {c.reference.title} | {c.domains} | {c.shared} | {len(missing)} "
            f"| {sum(d not in left_out for d in missing)} |"
        )
    for c in comparisons:
        if not c.missing:
            continue
        lines += [
            "",
            f"### Missing here, from the {c.reference.title}",
            "",
            "| reference entry | domains | why left out |",
            "|---|---|---|",
        ]
        for entry, domains in sorted(c.missing.items()):
            by_reason: dict[str, list[str]] = {}
            for domain in domains:
                by_reason.setdefault(left_out.get(domain, NO_REASON), []).append(domain)
            for reason, group in sorted(by_reason.items(), key=lambda item: sorted(item[1])):
                lines.append(f"| `{entry}` | {_domain_list(group)} | {_cell(reason)} |")
    return "\n".join(lines) + "\n"


def load_references(shared: Path) -> tuple[Reference, ...]:
    """Both reference snapshots from the shared folder."""
    return (read_ispdb(shared / "ispdb"), read_deltachat(shared / "deltachat-providers"))


def main(argv: list[str] | None = None) -> int:
    """Write the page."""
    parser = argparse.ArgumentParser(description="Write docs/data-conformance.md.")
    parser.add_argument(
        "--shared",
        type=Path,
        default=DEFAULT_SHARED,
        help="the folder holding ispdb/ and deltachat-providers/",
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    for name in ("ispdb", "deltachat-providers"):
        if not (args.shared / name).is_dir():
            parser.error(
                f"{args.shared / name} is missing (use --shared or MAILSETTINGS_SHARED_DIR)"
            )
    providers = load_provider_files(source_dir().glob("*.toml"))
    text = render(providers, load_references(args.shared), load_left_out())
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
