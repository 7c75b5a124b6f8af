"""Command line: ``mailsettings ADDRESS...`` and ``python -m mailsettings ADDRESS...``.

Exit codes: 0 found, 1 not found, 2 invalid input, 3 could not be determined
(a temporary failure); with several addresses the highest code wins.

``--mx``/``--srv`` turn on DNS discovery, ``--dns-server``/``--timeout`` tune it, and
``--bulk FILE`` (``-`` for standard input) looks up one address per line and writes
CSV or JSON lines.
"""

from __future__ import annotations

import argparse
import csv
import ipaddress
import json
import math
import re
import sys
import unicodedata
from collections.abc import Sequence
from typing import Any, TextIO

from . import __version__
from .address import parse_address
from .errors import InvalidAddressError, MailSettingsError, ProviderNotFoundError
from .models import EMAILADDRESS, EMAILDOMAIN, EMAILLOCALPART, LookupResult, PasswordKind, Server
from .registry import Registry

__all__ = ["main"]

EXIT_FOUND, EXIT_NOT_FOUND, EXIT_INVALID, EXIT_UNDETERMINED = 0, 1, 2, 3

_SECURITY_LABEL = {"ssl": "SSL/TLS", "starttls": "STARTTLS", "plain": "plain (no TLS)"}
_PASSWORD_LABEL = {
    PasswordKind.ACCOUNT: "the account password",
    PasswordKind.APP_PASSWORD: "an app-specific password",
    PasswordKind.AUTHORIZATION_CODE: "a client authorization code (授权码), not the web password",
    PasswordKind.OAUTH2_ONLY: "OAuth2 sign-in only (no password login)",
}
_USERNAME_RULE = {
    EMAILADDRESS: "full address",
    EMAILLOCALPART: "part before @",
}


def clean(text: str) -> str:
    r"""Remove control, format (e.g. bidi override) and surrogate characters before printing.

    >>> clean("evil\x1b[31mred\u202e")
    'evil[31mred'
    """
    return "".join(char for char in text if unicodedata.category(char) not in ("Cc", "Cf", "Cs"))


def _login(server: Server, address: str | None) -> str:
    if address is not None:
        return server.login_for(address)
    return _USERNAME_RULE.get(server.username, server.username.replace(EMAILDOMAIN, "<domain>"))


def format_result(result: LookupResult, address: str | None) -> str:
    """The human-readable report for one result."""
    provider = result.provider
    names = " / ".join(provider.names)
    lines = [
        f"{address or result.domain}: {names} [{provider.status.value}]"
        f" (source: {result.source.value}{', untrusted' if not result.trusted else ''})"
    ]
    rows = [("PROTO", "SERVER", "TLS", "LOGIN", "AUTH", "")]
    for server in result.servers:
        note = f"(legacy: {server.legacy_reason})" if server.legacy else ""
        rows.append(
            (
                server.protocol.value.upper(),
                f"{server.host}:{server.port}",
                _SECURITY_LABEL[server.security.value],
                _login(server, address),
                ", ".join(method.value for method in server.auth),
                note,
            )
        )
    widths = [max(len(row[column]) for row in rows) for column in range(5)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        lines.append(("  " + "  ".join([*cells, row[5]])).rstrip())
    lines.append(f"  Password: {_PASSWORD_LABEL[provider.password]}")
    if provider.instructions:
        lines.append("  Before logging in:")
        for number, step in enumerate(provider.instructions, 1):
            lines.append(f"    {number}. {step.text}" + (f" <{step.url}>" if step.url else ""))
    if provider.help_url:
        lines.append(f"  Help: {provider.help_url}")
    lines.extend(f"  Warning: {warning}" for warning in result.warnings)
    return clean_lines(lines)


def clean_lines(lines: Sequence[str]) -> str:
    """Join lines, each cleaned of control characters."""
    return "\n".join(clean(line) for line in lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mailsettings",
        description="Show the POP3, IMAP and SMTP settings for e-mail addresses or domains.",
        epilog="Exit codes: 0 found, 1 not found, 2 invalid input, 3 could not be determined.",
    )
    parser.add_argument(
        "addresses", nargs="*", metavar="ADDRESS", help="an e-mail address or a domain"
    )
    parser.add_argument(
        "--json", action="store_true", help="print one JSON document per line instead of a table"
    )
    parser.add_argument("--list", action="store_true", help="list the known providers")
    parser.add_argument("--version", action="version", version=f"mailsettings {__version__}")
    discovery = parser.add_argument_group(
        "discovery", "for domains the database does not know (the database is always asked first)"
    )
    discovery.add_argument(
        "--mx", action="store_true", help="match the domain's MX records against known platforms"
    )
    discovery.add_argument(
        "--srv", action="store_true", help="read the domain's RFC 6186 SRV records"
    )
    discovery.add_argument(
        "--autoconfig",
        action="store_true",
        help="ask the provider's autoconfig file, the well-known URL and Thunderbird's ISPDB, "
        "by domain and by MX host (MX platforms are matched only with --mx)",
    )
    discovery.add_argument(
        "--ispdb-url", metavar="URL", help="base URL of the ISPDB (the domain is appended)"
    )
    discovery.add_argument(
        "--ca-file",
        metavar="PEM",
        help="trust the certificate authorities in this file for autoconfig fetches",
    )
    discovery.add_argument(
        "--allow-http",
        action="store_true",
        help="allow plain-HTTP autoconfig URLs (results are marked untrusted)",
    )
    discovery.add_argument(
        "--allow-private-networks",
        action="store_true",
        help="allow autoconfig fetches from loopback and private addresses (testing, intranets)",
    )
    discovery.add_argument(
        "--dns-server",
        action="append",
        dest="dns_servers",
        metavar="HOST[:PORT]",
        help="ask this name server (an IP address; [IPv6]:PORT with a port); repeatable",
    )
    discovery.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help="time budget of each lookup (default 10)",
    )
    bulk = parser.add_argument_group("bulk mode")
    bulk.add_argument(
        "--bulk",
        metavar="FILE",
        help="look up the addresses in FILE, one per line ('-' reads standard input)",
    )
    bulk.add_argument(
        "--format",
        choices=("csv", "jsonl"),
        help="bulk output: CSV (default) or one JSON document per line",
    )
    return parser


def parse_dns_server(text: str) -> tuple[str, int]:
    """Split ``HOST[:PORT]`` (an IP address; ``[IPv6]:PORT`` with a port) into host and port.

    >>> parse_dns_server("127.0.0.1:5353"), parse_dns_server("[::1]:5353"), parse_dns_server("::1")
    (('127.0.0.1', 5353), ('::1', 5353), ('::1', 53))
    """
    bracketed = re.fullmatch(r"\[([^\]]*)\](?::([0-9]{1,5}))?", text)
    if bracketed:
        host, port = bracketed[1], bracketed[2]
    elif text.count(":") == 1:
        host, port = text.split(":")
    else:
        host, port = text, None
    try:
        address = ipaddress.ip_address(host)
        number = 53 if port is None else int(port)
    except ValueError:
        address, number = None, 0
    if address is None or not 0 < number < 65536:
        raise ValueError(
            f"--dns-server {text[:60]!r}: expected an IP address with an optional :PORT "
            "(IPv6 as [ADDRESS]:PORT)"
        )
    return str(address), number


def _list_providers(registry: Registry, as_json: bool, out: TextIO) -> None:
    for provider in sorted(registry.providers(), key=lambda p: p.id):
        if as_json:
            out.write(json.dumps(provider.model_dump(mode="json"), ensure_ascii=False) + "\n")
        else:
            domains = ", ".join(provider.domains[:3]) + (
                " ..." if len(provider.domains) > 3 else ""
            )
            out.write(
                clean(f"{provider.id:28} {provider.status.value:18} {provider.name} ({domains})")
                + "\n"
            )


def _exit_code(error: MailSettingsError) -> int:
    if isinstance(error, InvalidAddressError):
        return EXIT_INVALID
    if isinstance(error, ProviderNotFoundError):
        return EXIT_NOT_FOUND
    return EXIT_UNDETERMINED  # DiscoveryError: the answer is unknown


def _options(parser: argparse.ArgumentParser, args: argparse.Namespace) -> dict[str, Any]:
    """The lookup options the flags ask for (exits with code 2 on invalid flags)."""
    options: dict[str, Any] = {
        name: True for name in ("mx", "srv", "autoconfig") if getattr(args, name)
    }
    if args.timeout is not None:
        if not (math.isfinite(args.timeout) and args.timeout > 0):
            parser.error("--timeout must be a positive number of seconds")
        options["timeout"] = args.timeout
    autoconfig_flags = [
        flag
        for flag, value in (
            ("--ispdb-url", args.ispdb_url),
            ("--ca-file", args.ca_file),
            ("--allow-http", args.allow_http),
            ("--allow-private-networks", args.allow_private_networks),
        )
        if value
    ]
    if autoconfig_flags and not args.autoconfig:
        parser.error(f"{autoconfig_flags[0]} needs --autoconfig")
    if args.ispdb_url:
        options["ispdb_url"] = args.ispdb_url
    if args.allow_http:
        options["allow_http"] = True
    if args.allow_private_networks:
        options["allow_private_networks"] = True
    if args.ca_file:
        import ssl

        try:
            options["ssl_context"] = ssl.create_default_context(cafile=args.ca_file)
        except (OSError, ssl.SSLError) as error:
            parser.error(f"--ca-file {args.ca_file}: {error}")
    if args.dns_servers:
        if not options:
            parser.error("--dns-server needs --mx, --srv or --autoconfig")
        try:
            servers = [parse_dns_server(text) for text in args.dns_servers]
        except ValueError as error:
            parser.error(str(error))
        from .net.dns import resolver_for

        options["resolver"] = resolver_for(servers)
    return options


def main(argv: Sequence[str] | None = None, registry: Registry | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    registry = registry or Registry()
    out, err = sys.stdout, sys.stderr
    if args.list:
        _list_providers(registry, args.json, out)
        return EXIT_FOUND
    if args.format and not args.bulk:
        parser.error("--format applies to --bulk")
    if args.bulk is not None:
        if args.addresses:
            parser.error("give addresses either as arguments or with --bulk, not both")
        options = _options(parser, args)
        try:
            addresses = _read_addresses(args.bulk)
        except OSError as error:
            parser.error(f"cannot read {args.bulk}: {error.strerror or error}")
        return _bulk(
            registry, addresses, options=options, output=args.format or "csv", out=out, err=err
        )
    if not args.addresses:
        parser.error("give at least one ADDRESS, or --list")
    options = _options(parser, args)
    code = EXIT_FOUND
    for index, text in enumerate(args.addresses):
        try:
            result = registry.lookup(text, **options)
        except MailSettingsError as error:
            err.write(clean(f"mailsettings: {error}") + "\n")
            code = max(code, _exit_code(error))
            continue
        if args.json:
            out.write(json.dumps(result.model_dump(mode="json"), ensure_ascii=False) + "\n")
        else:
            out.write(("\n" if index else "") + format_result(result, _address_of(text)) + "\n")
    return code


# --- bulk mode -------------------------------------------------------------

BULK_CHUNK = 256
"""Addresses looked up together between progress updates (and output flushes)."""
CSV_COLUMNS = (
    "address",
    "status",
    "provider_id",
    "provider_name",
    "source",
    "trusted",
    "password",
    "imap_host",
    "imap_port",
    "imap_security",
    "pop3_host",
    "pop3_port",
    "pop3_security",
    "smtp_host",
    "smtp_port",
    "smtp_security",
    "mx_host",
    "warnings",
    "error",
)
_STATUS = {
    EXIT_FOUND: "found",
    EXIT_NOT_FOUND: "not-found",
    EXIT_INVALID: "invalid",
    EXIT_UNDETERMINED: "undetermined",
}


def csv_cell(value: object) -> str:
    """A CSV cell: control characters removed, formula triggers (``= + - @``) escaped.

    A cell that a spreadsheet would read as a formula gets a leading apostrophe.

    >>> csv_cell("=HYPERLINK(1)"), csv_cell("@SUM(A1)"), csv_cell(993)
    ("'=HYPERLINK(1)", "'@SUM(A1)", '993')
    """
    text = clean(str(value))
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def _read_addresses(path: str) -> list[str]:
    if path == "-":
        lines = sys.stdin.read().splitlines()
    else:
        with open(path, encoding="utf-8", errors="replace") as file:
            lines = file.read().splitlines()
    return [line.strip() for line in lines if line.strip()]


def _row(text: str, outcome: LookupResult | MailSettingsError) -> tuple[list[object], int]:
    if isinstance(outcome, MailSettingsError):
        code = _exit_code(outcome)
        return [text, _STATUS[code], *[""] * (len(CSV_COLUMNS) - 3), str(outcome)], code
    provider = outcome.provider
    row: list[object] = [
        text,
        _STATUS[EXIT_FOUND],
        provider.id,
        provider.name,
        outcome.source.value,
        "yes" if outcome.trusted else "no",
        provider.password.value,
    ]
    for server in (outcome.imap, outcome.pop3, outcome.smtp):
        row += ["", "", ""] if server is None else [server.host, server.port, server.security.value]
    row += [outcome.mx_host or "", " | ".join(outcome.warnings), ""]
    return row, EXIT_FOUND


def _json_line(text: str, outcome: LookupResult | MailSettingsError) -> tuple[str, int]:
    if isinstance(outcome, MailSettingsError):
        code = _exit_code(outcome)
        document = {
            "address": text,
            "status": _STATUS[code],
            "result": None,
            "error": {"type": type(outcome).__name__, "message": clean(str(outcome))},
        }
    else:
        code = EXIT_FOUND
        document = {
            "address": text,
            "status": _STATUS[code],
            "result": outcome.model_dump(mode="json"),
            "error": None,
        }
    return json.dumps(document, ensure_ascii=False), code


def _bulk(
    registry: Registry,
    addresses: list[str],
    *,
    options: dict[str, Any],
    output: str,
    out: TextIO,
    err: TextIO,
) -> int:
    progress = err.isatty()
    writer = csv.writer(out, lineterminator="\n")
    if output == "csv":
        writer.writerow(CSV_COLUMNS)
    code = EXIT_FOUND
    for start in range(0, len(addresses), BULK_CHUNK):
        chunk = addresses[start : start + BULK_CHUNK]
        for text, outcome in zip(chunk, registry.lookup_many(chunk, **options), strict=True):
            if output == "csv":
                row, status = _row(text, outcome)
                writer.writerow([csv_cell(cell) for cell in row])
            else:
                line, status = _json_line(text, outcome)
                out.write(line + "\n")
            code = max(code, status)
        out.flush()
        if progress:
            _progress(err, start + len(chunk), len(addresses))
    if progress:
        err.write("\n")
    return code


def _progress(err: TextIO, done: int, total: int, width: int = 30) -> None:
    filled = width * done // max(total, 1)
    err.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
    err.flush()


def _address_of(text: str) -> str | None:
    """The normalized address typed, or ``None`` when only a domain was given."""
    parsed = parse_address(text)
    return None if parsed.local is None else str(parsed)
