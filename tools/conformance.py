"""Write ``docs/data-conformance.md``: the bundled data compared with six independent lists.

Usage::

    python tools/conformance.py [--shared ../shared] [--output docs/data-conformance.md]

The references are read from snapshots in the shared folder: Thunderbird's ISPDB
(``ispdb/``) and Delta Chat's provider database (``deltachat-providers/``), each with a
``SOURCE.txt`` naming its commit, and the provider lists of FairEmail, K-9 Mail,
MailCore2 and Nodemailer (``references/``, described by ``references/SOURCE.txt``).
Nothing is fetched, and nothing of them is copied into the page except host names,
ports, domains and counts. The page is deterministic: the same inputs give the same bytes.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import yaml

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO))

from mailsettings.autoconfig import parse_autoconfig  # noqa: E402
from mailsettings.data import load_provider_files, source_dir  # noqa: E402
from mailsettings.models import EMAILDOMAIN, Protocol, Provider, Security, Status  # noqa: E402

DEFAULT_SHARED = Path(os.environ.get("MAILSETTINGS_SHARED_DIR", REPO.parent / "shared"))
DEFAULT_OUTPUT = REPO / "docs" / "data-conformance.md"
LEFT_OUT = REPO / "tools" / "left-out.toml"
NO_REASON = "**no reason recorded**"

ISPDB = "ispdb"
DELTACHAT = "deltachat"
FAIREMAIL = "fairemail"
K9 = "k9"
MAILCORE = "mailcore"
NODEMAILER = "nodemailer"
REFERENCE_NAMES = {
    ISPDB: ISPDB,
    DELTACHAT: DELTACHAT,
    FAIREMAIL: FAIREMAIL,
    "fairemail provider list": FAIREMAIL,
    K9: K9,
    "k-9 mail provider list": K9,
    "thunderbird for android provider list": K9,
    MAILCORE: MAILCORE,
    "mailcore2 provider list": MAILCORE,
    "mailspring provider list": MAILCORE,
    NODEMAILER: NODEMAILER,
    "nodemailer well-known services": NODEMAILER,
}
"""The names a provider's ``[[deviations]]`` and ``[[provenance]]`` entries may give a reference."""
REFERENCES = "references"
SNAPSHOTS = {
    FAIREMAIL: "fairemail_providers.xml",
    K9: "k9_providers.xml",
    MAILCORE: "mailspring_mailcore.json",
    NODEMAILER: "nodemailer_services.json",
}
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
    patterns: tuple[str, ...] = ()
    """Domain patterns (wildcards, regular expressions) the reference matches; reported, not counted."""
    preferred_only: bool = False
    """Whether each entry holds only the reference's preferred server per protocol."""


def reference_key(name: str) -> str | None:
    """The reference a ``[[deviations]]`` or ``[[provenance]]`` name stands for, if it is one of the six.

    >>> reference_key("FairEmail provider list"), reference_key("provider documentation")
    ('fairemail', None)
    """
    return REFERENCE_NAMES.get(name.strip().lower())


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


_LITERAL_DOMAIN = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+")


def literal_domain(pattern: str) -> str | None:
    r"""The domain a regular-expression domain pattern stands for, or ``None`` for a real pattern.

    >>> literal_domain(r"gmail\.com"), literal_domain(r"yahoo\..*")
    ('gmail.com', None)
    """
    value = pattern.strip().lower().replace("\\.", ".")
    return value if _LITERAL_DOMAIN.fullmatch(value) else None


def read_list_source(folder: Path, file_name: str) -> tuple[str, str]:
    """The repository and revision ``references/SOURCE.txt`` gives for one snapshot file."""
    text = (folder / "SOURCE.txt").read_text(encoding="utf-8")
    block = re.search(
        rf"^{re.escape(file_name)}\s+(.*?)(?=^\S+\.(?:xml|json)\s|\Z)", text, re.M | re.S
    )
    if block is None:
        return folder.name, "unknown"
    described = " ".join(block[1].split())
    repository = re.match(r"([\w.-]+/[\w.-]+)", described)
    revision = re.search(r"\b(commit [0-9a-f]{7,40}|parent of [0-9a-f]{7,40})\b", described)
    return (
        repository[1] if repository else folder.name,
        revision[1].removeprefix("commit ") if revision else "unknown",
    )


class _Collector:
    """Builds a list reference's entries: literal domains once each (the first entry wins)."""

    def __init__(self) -> None:
        self.entries: list[Entry] = []
        self.patterns: list[str] = []
        self.names: set[str] = set()

    def add(
        self,
        name: str,
        patterns: Iterable[str],
        servers: Iterable[tuple[Protocol, str, int, Security]],
    ) -> None:
        unique, number = name, 2
        while unique in self.names:
            unique, number = f"{name} ({number})", number + 1
        self.names.add(unique)
        domains: list[str] = []
        for pattern in patterns:
            domain = literal_domain(pattern)
            if domain is None:
                self.patterns.append(pattern.strip())
            elif domain not in domains:
                domains.append(domain)
        preferred: dict[Protocol, tuple[Protocol, str, int, Security]] = {}
        for server in servers:
            preferred.setdefault(server[0], server)
        self.entries.append(Entry(unique, tuple(domains), tuple(preferred.values())))


def _xml_regex(value: str) -> str:
    # Android resource files escape a backslash as two; the regex is what the app matches with.
    return value.replace("\\\\", "\\")


def read_fairemail(folder: Path) -> Reference:
    """FairEmail's ``providers.xml``: the preferred server per protocol of each enabled provider."""
    root = ElementTree.parse(folder / SNAPSHOTS[FAIREMAIL]).getroot()
    found = _Collector()
    disabled = []
    for element in root.iter("provider"):
        name = element.get("name", "?")
        if element.get("enabled") == "false":
            disabled.append(name)
            continue
        servers = []
        for tag, protocol in (("imap", Protocol.IMAP), ("pop", Protocol.POP3), ("smtp", Protocol.SMTP)):
            for child in element.findall(tag):
                security = Security.STARTTLS if child.get("starttls") == "true" else Security.SSL
                servers.append((protocol, child.get("host", "").lower(), int(child.get("port", "0")), security))
        domains = (element.get("domain") or "").split(",")
        found.add(name, (_xml_regex(d) for d in domains if d.strip()), servers)
    repository, revision = read_list_source(folder, SNAPSHOTS[FAIREMAIL])
    notes = (
        "Each provider's one IMAP, POP3 and SMTP server is its preferred server; a domain "
        "listed by two providers counts for the first.",
        f"{len(disabled)} providers marked `enabled=\"false\"` are not offered by the app and "
        "are left out: " + ", ".join(f"`{n}`" for n in sorted(disabled)) + ".",
    )
    return Reference(
        FAIREMAIL, "FairEmail provider list", repository, revision, tuple(found.entries),
        notes, tuple(found.patterns), preferred_only=True,
    )


_K9_SCHEMES = {
    "imap+ssl+": (Protocol.IMAP, Security.SSL, 993),
    "imap+tls+": (Protocol.IMAP, Security.STARTTLS, 143),
    "pop3+ssl+": (Protocol.POP3, Security.SSL, 995),
    "pop3+tls+": (Protocol.POP3, Security.STARTTLS, 110),
    "smtp+ssl+": (Protocol.SMTP, Security.SSL, 465),
    "smtp+tls+": (Protocol.SMTP, Security.STARTTLS, 587),
}


def _k9_server(uri: str) -> tuple[Protocol, str, int, Security]:
    scheme, _, rest = uri.partition("://")
    protocol, security, port = _K9_SCHEMES[scheme]
    host, _, explicit = rest.strip("/").partition(":")
    return protocol, host.lower(), int(explicit or port), security


def read_k9(folder: Path) -> Reference:
    """K-9 Mail's ``providers.xml``: each provider's first incoming and outgoing server."""
    root = ElementTree.parse(folder / SNAPSHOTS[K9]).getroot()
    found = _Collector()
    for element in root.iter("provider"):
        servers = [
            _k9_server(child.get("uri", ""))
            for child in element
            if child.tag in ("incoming", "outgoing")
        ]
        name = element.get("id") or element.get("domain") or "?"
        found.add(name, [element.get("domain", "").replace(".", "\\.")], servers)
    repository, revision = read_list_source(folder, SNAPSHOTS[K9])
    notes = (
        "The app used the first incoming and the first outgoing server of a provider; URIs "
        "without a port mean the scheme's standard port (`imap+ssl+` 993, `imap+tls+` 143 "
        "STARTTLS, `smtp+ssl+` 465, `smtp+tls+` 587 STARTTLS).",
    )
    return Reference(
        K9, "K-9 Mail provider list", repository, revision, tuple(found.entries), notes,
        tuple(found.patterns), preferred_only=True,
    )


def _mailcore_security(server: dict[str, Any]) -> Security:
    if server.get("ssl") or server.get("tls"):
        return Security.SSL
    return Security.STARTTLS if server.get("starttls") else Security.PLAIN


def read_mailcore(folder: Path) -> Reference:
    """MailCore2's ``providers.json`` (as bundled by Mailspring): first server per protocol."""
    data = json.loads((folder / SNAPSHOTS[MAILCORE]).read_text(encoding="utf-8"))
    found = _Collector()
    without_domains = []
    protocols = {"imap": Protocol.IMAP, "pop": Protocol.POP3, "smtp": Protocol.SMTP}
    for name, provider in data.items():
        if not provider.get("domain-match"):
            without_domains.append(name)
            continue
        servers = [
            (
                protocols[kind],
                str(server["hostname"]).lower().replace("{domain}", EMAILDOMAIN),
                int(server["port"]),
                _mailcore_security(server),
            )
            for kind, listed in provider.get("servers", {}).items()
            for server in listed
            if "hostname" in server
        ]
        found.add(name, provider["domain-match"], servers)
    repository, revision = read_list_source(folder, SNAPSHOTS[MAILCORE])
    notes = (
        "The first server listed per protocol is the preferred one.",
        f"{len(without_domains)} entries match by MX host only or are defaults, with no "
        "domain to compare: " + ", ".join(f"`{n}`" for n in sorted(without_domains)) + ".",
    )
    return Reference(
        MAILCORE, "MailCore2 provider list", repository, revision, tuple(found.entries),
        notes, tuple(found.patterns), preferred_only=True,
    )


def read_nodemailer(folder: Path) -> Reference:
    """Nodemailer's well-known services: one SMTP server per service.

    A service's literal domains are its ``domains`` and those of its name and aliases that
    are domain names (``Mail.ru``); the TLS mode follows Nodemailer's defaults (implicit TLS
    when ``secure`` or port 465 without ``secure``, port 587 when no port is given).
    """
    data = json.loads((folder / SNAPSHOTS[NODEMAILER]).read_text(encoding="utf-8"))
    found = _Collector()
    without_domains = []
    for name, service in data.items():
        names = [name, *service.get("aliases", ())]
        domains = [*service.get("domains", ()), *(n for n in names if literal_domain(n))]
        if not domains:
            without_domains.append(name)
            continue
        secure = service.get("secure")
        port = int(service.get("port") or (465 if secure else 587))
        if secure or (secure is None and port == 465):
            security = Security.SSL
        else:
            security = Security.PLAIN if service.get("ignoreTLS") else Security.STARTTLS
        server = (Protocol.SMTP, str(service["host"]).lower(), port, security)
        found.add(name, (d.lower().replace(".", "\\.") for d in domains), [server])
    repository, revision = read_list_source(folder, SNAPSHOTS[NODEMAILER])
    notes = (
        "Nodemailer names SMTP servers only, so only SMTP is compared.",
        f"{len(without_domains)} services name no domain (sending services, test servers, "
        "hosting platforms) and are left out.",
    )
    return Reference(
        NODEMAILER, "Nodemailer well-known services", repository, revision,
        tuple(found.entries), notes, tuple(found.patterns), preferred_only=True,
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
    other_family: bool = False
    """Whether none of the reference's hosts belongs to a domain family this project offers."""


@dataclass
class Comparison:
    """The comparison of the project's data with one reference."""

    reference: Reference
    tallies: dict[Protocol, Tally] = field(default_factory=lambda: {p: Tally() for p in Protocol})
    differences: dict[Difference, list[str]] = field(default_factory=dict)
    missing: dict[str, list[str]] = field(default_factory=dict)
    """Reference entry -> its domains that the project lacks."""
    without_servers: dict[str, list[str]] = field(default_factory=dict)
    """Reference entry -> its domains known here with no server (no standard access)."""
    domains: int = 0
    shared: int = 0
    inactive: int = 0
    """Shared domains whose provider's status is not active (with or without servers)."""

    @property
    def resolving(self) -> int:
        """Reference domains a lookup in the bundled data answers with servers."""
        return self.shared - sum(len(d) for d in self.without_servers.values())

    @property
    def pairs(self) -> tuple[int, int, int]:
        """Domain/protocol pairs: compared, listing the reference's server(s), explained."""
        tallies = self.tallies.values()
        return (
            sum(t.compared for t in tallies),
            sum(t.full for t in tallies),
            sum(t.explained for t in tallies),
        )


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
        if reference_key(d.reference) == reference and d.protocol in (None, protocol)
    ]
    if deviations:
        return tuple(dict.fromkeys([*deviations, *reasons]))
    if missing <= legacy.keys():
        return tuple(dict.fromkeys(reasons))
    return ()


_SECOND_LEVEL = frozenset({"ac", "co", "com", "ed", "edu", "go", "gov", "gr", "ne", "net", "or", "org"})


def host_family(host: str) -> str:
    """The name a host's registered domain carries, without its public suffix.

    Hosts of one company under several country domains share a family; a host that is a
    template (``mail.%EMAILDOMAIN%``) is its own family.

    >>> host_family("imap.mail.yahoo.co.jp"), host_family("smtp.yandex.ru"), host_family("imap.yandex.com")
    ('yahoo', 'yandex', 'yandex')
    """
    labels = host.split(".")
    suffix = 2 if len(labels) > 2 and len(labels[-1]) == 2 and labels[-2] in _SECOND_LEVEL else 1
    return labels[-suffix - 1] if len(labels) > suffix else host


def compare(providers: Iterable[Provider], reference: Reference) -> Comparison:
    """Compare the project's providers with one reference, domain by domain.

    Entries are taken in the reference's order; a domain listed twice counts for its first entry.
    """
    by_domain = {domain: p for p in providers for domain in p.domains}
    result = Comparison(reference)
    seen: set[str] = set()
    for entry in reference.entries:
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
            result.inactive += provider.status is not Status.ACTIVE
            if not provider.servers:
                result.without_servers.setdefault(entry.name, []).append(domain)
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
                families = {host_family(h) for h, _, _ in offered}
                difference = Difference(
                    protocol,
                    provider.id,
                    entry.name,
                    tuple(sorted(said)),
                    tuple(sorted(offered)),
                    reasons,
                    other_family=not families & {host_family(h) for h, _, _ in said},
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

The ISPDB and Delta Chat are compared with every server they give. The app lists
(FairEmail, K-9 Mail, MailCore2, Nodemailer) are compared with their **preferred** server
per protocol, the one the app connects to: listing it among this project's servers is
agreement, whatever order this project prefers (implicit TLS on 465 before STARTTLS on 587
is this project's policy, not a difference).

Any other compared domain **differs**. A difference is **explained** when the provider's
data records why: a `[[deviations]]` entry for that reference (`ispdb`, `deltachat`,
`fairemail`, `k9`, `mailcore` or `nodemailer`) and that protocol (or for the whole entry),
or every server the reference gives that is missing here is kept as a `legacy` server with
its reason. Otherwise it is **unexplained**, which is a defect to fix in the data or to
explain. A difference where none of the reference's hosts belongs to a domain family
(registered domain) of this project's servers is marked **other family**: the domain is
placed with another provider than the reference places it, and a test fails unless it is
explained. A protocol the reference names but this project lacks for the domain is a
difference too; a protocol only this project offers (Delta Chat lists no POP3) is not
compared.

A reference domain **resolves** when a lookup in the bundled data answers it with servers
(of any status: a discontinued provider's domain resolves with its warning and only legacy
servers; the summary counts these as "not active"). A domain the
data knows with no server (a web-only provider) is accounted for but does not resolve; a
domain the data lacks needs its reason in `tools/left-out.toml`. Domain patterns
(wildcards, regular expressions) are reported, not counted.
"""


def load_left_out(path: Path = LEFT_OUT) -> dict[str, str]:
    """Domain -> why the bundled data leaves it out, from ``tools/left-out.toml``."""
    reasons: dict[str, str] = {}
    for group in tomllib.loads(path.read_text(encoding="utf-8"))["left_out"]:
        if not str(group.get("reason", "")).strip():
            raise ValueError(f"{path.name}: {', '.join(group['domains'])} left out without a reason")
        for domain in group["domains"]:
            if domain in reasons:
                raise ValueError(f"{path.name}: {domain} is listed twice")
            reasons[domain] = group["reason"]
    return reasons


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


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
        "How the bundled data compares with six independent lists: Thunderbird's ISPDB, Delta",
        "Chat's provider database, and the provider lists of FairEmail, K-9 Mail, MailCore2 and",
        "Nodemailer. Generated by `python tools/conformance.py` from the provider files and the",
        "reference snapshots in `../shared/`; do not edit by hand.",
        "",
        "## References",
        "",
    ]
    for c in comparisons:
        r = c.reference
        lines.append(
            f"- **{r.title}** (`{r.key}`): `{r.repository}` at `{r.commit}`; {len(r.entries)} "
            f"entries, {c.domains} literal domains, of which {c.shared} are in this project's data."
        )
        lines += [f"    - {note}" for note in r.notes]
        if r.patterns:
            lines.append(
                f"    - {len(r.patterns)} domain patterns are reported, not counted: "
                + ", ".join(f"`{pattern}`" for pattern in sorted(set(r.patterns)))
                + "."
            )
    lines += ["", HOW, "## Summary", ""]
    lines += [
        "| reference | literal domains | resolve | of them not active | known, no server "
        "| left out with a reason | no reason | pairs compared | reference's server listed "
        "| explained | unexplained | listed or explained |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for c in comparisons:
        missing = [d for domains in c.missing.values() for d in domains]
        reasoned = sum(d in left_out for d in missing)
        compared, full, explained = c.pairs
        lines.append(
            f"| {c.reference.title} | {c.domains} | {c.resolving} "
            f"({_percent(c.resolving, c.domains)}) | {c.inactive - (c.shared - c.resolving)} "
            f"| {c.shared - c.resolving} | {reasoned} "
            f"| {len(missing) - reasoned} | {compared} | {full} | {explained} "
            f"| {compared - full - explained} | {_percent(full + explained, compared)} |"
        )
    lines += [
        "",
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
            if d.other_family:
                reason = "**other family.** " + reason
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
        "(recorded in `tools/left-out.toml`; a missing domain with no reason is a defect), and",
        "domains the data knows with no server.",
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
        if not c.missing and not c.without_servers:
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
        by_domain = {domain: p for p in providers for domain in p.domains}
        for entry, domains in sorted(c.without_servers.items()):
            provider = by_domain[domains[0]]
            note = f"Known here ({provider.status.value}) with no server: {provider.status_note or ''}"
            lines.append(f"| `{entry}` | {_domain_list(domains)} | {_cell(note)} |")
    return "\n".join(lines) + "\n"


SHARED_FOLDERS = ("ispdb", "deltachat-providers", REFERENCES)
"""The folders of ``../shared`` the page is made from."""


def load_references(shared: Path) -> tuple[Reference, ...]:
    """The six reference snapshots from the shared folder."""
    lists = shared / REFERENCES
    return (
        read_ispdb(shared / "ispdb"),
        read_deltachat(shared / "deltachat-providers"),
        read_fairemail(lists),
        read_k9(lists),
        read_mailcore(lists),
        read_nodemailer(lists),
    )


def main(argv: list[str] | None = None) -> int:
    """Write the page."""
    parser = argparse.ArgumentParser(description="Write docs/data-conformance.md.")
    parser.add_argument(
        "--shared",
        type=Path,
        default=DEFAULT_SHARED,
        help="the folder holding ispdb/, deltachat-providers/ and references/",
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    for name in SHARED_FOLDERS:
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
