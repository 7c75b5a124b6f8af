"""Command line: ``mailsettings ADDRESS...`` and ``python -m mailsettings ADDRESS...``.

Exit codes: 0 found, 1 not found, 2 invalid input, 3 could not be determined
(a temporary failure); with several addresses the highest code wins.
"""

from __future__ import annotations

import argparse
import json
import sys
import unicodedata
from collections.abc import Sequence
from typing import TextIO

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

    >>> clean("evil\\x1b[31mred\\u202e")
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
    names = " / ".join([provider.name, *provider.localized_names.values()])
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
    return parser


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


def main(argv: Sequence[str] | None = None, registry: Registry | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    registry = registry or Registry()
    out, err = sys.stdout, sys.stderr
    if args.list:
        _list_providers(registry, args.json, out)
        return EXIT_FOUND
    if not args.addresses:
        parser.error("give at least one ADDRESS, or --list")
    code = EXIT_FOUND
    for index, text in enumerate(args.addresses):
        try:
            result = registry.lookup(text)
        except MailSettingsError as error:
            err.write(clean(f"mailsettings: {error}") + "\n")
            code = max(code, _exit_code(error))
            continue
        if args.json:
            out.write(json.dumps(result.model_dump(mode="json"), ensure_ascii=False) + "\n")
        else:
            out.write(("\n" if index else "") + format_result(result, _address_of(text)) + "\n")
    return code


def _address_of(text: str) -> str | None:
    """The normalized address typed, or ``None`` when only a domain was given."""
    parsed = parse_address(text)
    return None if parsed.local is None else str(parsed)
