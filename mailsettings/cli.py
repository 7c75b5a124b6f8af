"""Command line: ``mailsettings ADDRESS...`` and ``python -m mailsettings ADDRESS...``.

Addresses come from the arguments or, with ``--bulk FILE`` (``-`` for standard input),
from a file read as a stream: one address, domain or address list per line, or per
CSV record with ``--column``. Output is a table, CSV or JSON lines (``--format``).

Exit status: for ADDRESS arguments 0 found, 1 not found, 2 invalid input, 3 could not
be determined (a temporary failure), the highest code winning; a bulk run exits 0 when
every line produced a row (each row says its status) and 2 for a usage error or
unreadable input, or with ``--strict`` the highest row's code. A closed standard
output ends the program silently with status 141, as tools killed by SIGPIPE do.
"""

from __future__ import annotations

import argparse
import io
import ipaddress
import json
import math
import os
import re
import shutil
import stat
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import IO, TYPE_CHECKING, Any, NamedTuple, Protocol, TextIO

from ._version import __version__
from .cli_input import ColumnError, Entry, InputReader, entries_from_argument
from .cli_output import (
    EXIT_FOUND,
    EXIT_INVALID,
    CsvWriter,
    JsonLinesWriter,
    Outcome,
    Progress,
    TableWriter,
    clean,
    csv_cell,
    exit_code,
)
from .errors import MailSettingsError, ProviderNotFoundError
from .languages import is_language_tag, language_from_environment
from .registry import Registry

if TYPE_CHECKING:
    from .option import Spec

__all__ = ["main"]

EXIT_PIPE_CLOSED = 141
"""Standard output was closed early (128 + SIGPIPE), e.g. by ``| head -1``."""
EXIT_INTERRUPTED = 130
"""Interrupted with Ctrl-C (128 + SIGINT)."""
FLUSH_INTERVAL = 0.1
"""Seconds between flushes of buffered output rows (the first row is flushed at once)."""

_EPILOG = """\
formats:
  --format table   a report per address (the default, except with --bulk)
  --format csv     one row per address (the default with --bulk); with --column the
                   input record's cells come first
  --format jsonl   one JSON document per address (also --json):
                   {"address", "status", "result", "error"}

exit status:
  ADDRESS arguments: 0 found, 1 not found, 2 invalid input or usage, 3 could not be
  determined (a temporary failure); with several addresses the highest code wins.
  --bulk: 0 when every line produced a row (each row has its status), 2 for a usage
  error or unreadable input; with --strict, the highest code of any row.
  141: standard output was closed (e.g. piped into head).
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mailsettings",
        description="Show the POP3, IMAP and SMTP settings for e-mail addresses or domains.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "addresses",
        nargs="*",
        metavar="ADDRESS",
        help="an e-mail address, a domain, or an address list ('Jane <jane@example.com>, ...')",
    )
    output = parser.add_argument_group("output")
    output.add_argument(
        "--format",
        choices=("table", "csv", "jsonl"),
        help="table (default), csv (default with --bulk) or jsonl",
    )
    output.add_argument("--json", action="store_true", help="the same as --format jsonl")
    output.add_argument(
        "--lang",
        metavar="TAG",
        help="language of provider names and instructions, a BCP 47 tag such as zh-CN "
        "(default: the locale's, as gettext reads it); labels stay English",
    )
    output.add_argument("--list", action="store_true", help="list the known providers")
    output.add_argument("--version", action="version", version=f"mailsettings {__version__}")
    discovery = parser.add_argument_group(
        "discovery", "for domains the database does not know (the database is always asked first)"
    )
    for flag, spec in discovery_flags().items():  # one per option group entry with a flag
        if spec.kind is bool:
            discovery.add_argument(flag, action="store_true", dest=spec.name, help=spec.option.help)
        else:
            discovery.add_argument(
                flag,
                dest=spec.name,
                type=float if spec.kind is float else str,
                metavar=spec.option.metavar or "VALUE",
                help=spec.option.help,
            )
    add_connection_arguments(discovery)
    bulk = parser.add_argument_group("bulk mode")
    bulk.add_argument(
        "--bulk",
        metavar="FILE",
        help="look up the addresses in FILE as it is read ('-' reads standard input): one "
        "address, domain or address list per line; blank lines and '#' comments are skipped",
    )
    bulk.add_argument(
        "--column",
        metavar="NAME|N",
        help="read FILE as CSV and take the addresses from this column: N counts from 1, "
        "a NAME makes the first row a header",
    )
    bulk.add_argument(
        "--strict",
        action="store_true",
        help="exit with the highest code of any row instead of 0",
    )
    return parser


_CONNECTION_FLAGS = {"ssl_context": "--ca-file", "resolver": "--dns-server"}
"""The options built by hand from flags, and their flags."""


def add_connection_arguments(group: argparse._ActionsContainer) -> None:
    """``--ca-file`` and ``--dns-server``: they build an SSL context and a resolver."""
    group.add_argument(
        "--ca-file",
        metavar="PEM",
        help="trust the certificate authorities in this file (for HTTPS and mail servers)",
    )
    group.add_argument(
        "--dns-server",
        action="append",
        dest="dns_servers",
        metavar="HOST[:PORT]",
        help="ask this name server (an IP address; [IPv6]:PORT with a port); repeatable",
    )


def connection_options(parser: argparse.ArgumentParser, args: argparse.Namespace) -> dict[str, Any]:
    """The ``ssl_context`` and ``resolver`` that ``--ca-file`` and ``--dns-server`` ask for.

    Exits with code 2 when a flag is invalid.
    """
    options: dict[str, Any] = {}
    if args.ca_file:
        import ssl

        try:
            options["ssl_context"] = ssl.create_default_context(cafile=args.ca_file)
        except (OSError, ssl.SSLError) as error:
            parser.error(f"--ca-file {args.ca_file}: {error}")
    if args.dns_servers:
        try:
            servers = [parse_dns_server(text) for text in args.dns_servers]
        except ValueError as error:
            parser.error(str(error))
        from .net.dns import resolver_for

        options["resolver"] = resolver_for(servers)
    return options


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


def discovery_flags() -> dict[str, Spec]:
    """The command-line flags derived from the lookup options (``--name-with-dashes``).

    Every option whose :class:`~mailsettings.option.Option` has ``flag=True`` and is a
    ``bool``, ``str`` or ``float``; ``--dns-server`` and ``--ca-file`` are written by hand
    (:func:`add_connection_arguments`: they build a resolver and an SSL context).
    """
    from .option import option_specs
    from .options import LookupOptions

    return {
        "--" + name.replace("_", "-"): spec
        for name, spec in option_specs(LookupOptions).items()
        if spec.option.flag and spec.kind in (bool, str, float)
    }


def _switches(name: str) -> list[str]:
    """The flags of the sources that read option ``name`` (none: the option is the lookup's own)."""
    from .sources import SOURCES

    flags = []
    for source in SOURCES:
        switch = getattr(source, "switch", None)
        if name in source.options.__annotations__ and switch and switch != name:
            flags.append("--" + switch.replace("_", "-"))
    return list(dict.fromkeys(flags))


def _options(parser: argparse.ArgumentParser, args: argparse.Namespace) -> dict[str, Any]:
    """The lookup options the flags ask for (exits with code 2 on invalid flags)."""
    from .option import defaults, option_specs
    from .options import LookupOptions
    from .sources import SOURCES

    options: dict[str, Any] = {}
    given: dict[str, str] = {}  # option -> its flag, for the messages
    for flag, spec in discovery_flags().items():
        value = getattr(args, spec.name)
        if value is None or value is False:
            continue
        try:
            options[spec.name] = spec.check(spec.name, value)
        except (TypeError, ValueError) as error:
            parser.error(f"{flag}: {error}")
        given[spec.name] = flag
    for name, value in connection_options(parser, args).items():
        options[name] = value
        given[name] = _CONNECTION_FLAGS[name]
    # A flag that no source the other flags turn on would read is a mistake: say so.
    settings = {**defaults(option_specs(LookupOptions)), **options}
    on = [source for source in SOURCES if source.enabled(settings)]
    for name, flag in given.items():
        switches = _switches(name)
        if switches and not any(name in source.options.__annotations__ for source in on):
            wanted = ", ".join(switches[:-1]) + " or " + switches[-1] if len(switches) > 1 else switches[0]
            parser.error(f"{flag} needs {wanted}")
    return options


def _not_found_hint(options: dict[str, Any]) -> Callable[[MailSettingsError], str]:
    """What a "not found" message adds: the discovery flags not used yet."""
    from .sources import SOURCES

    switches = dict.fromkeys(getattr(source, "switch", "") for source in SOURCES)
    unused = ["--" + name.replace("_", "-") for name in switches if name and not options.get(name)]
    suggestion = " or ".join([", ".join(unused[:-1]), unused[-1]] if len(unused) > 1 else unused)

    def hint(error: MailSettingsError) -> str:
        # Only a plain "not found": NXDOMAIN, a null MX or a provider without standard
        # access is a definite answer that no other source changes.
        if not suggestion or type(error) is not ProviderNotFoundError or error.provider:
            return ""
        return f" Try {suggestion}."

    return hint


class _Writer(Protocol):
    def write(self, entry: Entry, outcome: Outcome) -> None: ...
    def finish(self) -> None: ...


class _Unreadable(Exception):
    """Reading the input failed (the ``OSError`` is the cause)."""


def main(argv: Sequence[str] | None = None, registry: Registry | None = None) -> int:
    """Run the command line; returns the exit status."""
    try:
        return _main(argv, registry)
    except BrokenPipeError:
        _discard_stdout()
        return EXIT_PIPE_CLOSED
    except KeyboardInterrupt:
        sys.stderr.write("\nmailsettings: interrupted\n")
        return EXIT_INTERRUPTED


def _main(argv: Sequence[str] | None, registry: Registry | None) -> int:
    _utf8_output()
    parser = _parser()
    args = parser.parse_args(argv)
    output = _output_format(parser, args)
    lang = _language(parser, args.lang)
    if args.list:
        if args.addresses or args.bulk is not None:
            parser.error("--list takes no ADDRESS and no --bulk")
        _list_providers(registry or Registry(), output, lang, sys.stdout)
        sys.stdout.flush()
        return EXIT_FOUND
    if args.bulk is None:
        for flag, value in (("--column", args.column), ("--strict", args.strict)):
            if value:
                parser.error(f"{flag} applies to --bulk")
        if not args.addresses:
            parser.error("give at least one ADDRESS, --bulk FILE or --list")
    elif args.addresses:
        parser.error("give addresses either as arguments or with --bulk, not both")
    options = _options(parser, args)
    registry = registry or Registry()
    view = _View(output, lang, _not_found_hint(options), sys.stdout, sys.stderr)
    if args.bulk is None:
        return _lookup_arguments(registry, args.addresses, options, view)
    return _lookup_bulk(registry, parser, args, options, view)


class _View(NamedTuple):
    """How results are shown: format (``None``: the mode's default), language, streams."""

    output: str | None
    lang: str | None
    hint: Callable[[MailSettingsError], str]
    out: TextIO
    err: TextIO

    def writer(
        self, *, bulk: bool, header: Sequence[str] | None = None, with_input: bool = False
    ) -> _Writer:
        output = self.output or ("csv" if bulk else "table")
        if output == "csv":
            return CsvWriter(self.out, lang=self.lang, input_header=header)
        if output == "jsonl":
            return JsonLinesWriter(self.out, with_input=with_input)
        width = shutil.get_terminal_size().columns if self.out.isatty() else None
        return TableWriter(
            self.out, self.err, bulk=bulk, lang=self.lang, width=width, hint=self.hint
        )

    def complain(self, error: MailSettingsError) -> None:
        """Say on standard error why one address failed."""
        self.err.write(clean(f"mailsettings: {error}{self.hint(error)}") + "\n")


def _lookup_arguments(
    registry: Registry, arguments: Sequence[str], options: dict[str, Any], view: _View
) -> int:
    """Look up the ADDRESS arguments: the exit status is the highest row code."""
    entries = [entry for text in arguments for entry in entries_from_argument(text)]
    writer = view.writer(bulk=False)
    # The table reports failures on standard error itself; other formats say it there too.
    complain = None if isinstance(writer, TableWriter) else view.complain
    worst = _run(registry, iter(entries), options, writer, view.out, complain=complain)
    view.out.flush()
    return worst


def _lookup_bulk(
    registry: Registry,
    parser: argparse.ArgumentParser,
    args: argparse.Namespace,
    options: dict[str, Any],
    view: _View,
) -> int:
    """Look up the addresses of ``--bulk FILE`` as it is read."""
    column = _column(parser, args.column)
    stream, size = _open_input(parser, args.bulk)
    try:
        reader = InputReader(stream, column=column)
    except ColumnError as error:
        parser.error(str(error))
    except OSError as error:
        parser.error(f"cannot read {args.bulk}: {error.strerror or error}")
    writer = view.writer(bulk=True, header=reader.header, with_input=column is not None)
    progress = None
    if view.err.isatty() and not view.out.isatty():
        display = Progress(view.err, size)
        progress = lambda rows, final: display.update(rows, reader.bytes_read, final=final)  # noqa: E731
    try:
        worst = _run(registry, _readable(reader), options, writer, view.out, progress=progress)
    except _Unreadable as error:
        view.out.flush()
        cause = error.__cause__
        reason = cause.strerror if isinstance(cause, OSError) and cause.strerror else cause
        view.err.write(clean(f"mailsettings: cannot read {args.bulk}: {reason}") + "\n")
        return EXIT_INVALID
    view.out.flush()
    return worst if args.strict else EXIT_FOUND


def _run(
    registry: Registry,
    entries: Iterator[Entry],
    options: dict[str, Any],
    writer: _Writer,
    out: TextIO,
    *,
    complain: Callable[[MailSettingsError], None] | None = None,
    progress: Callable[[int, bool], None] | None = None,
) -> int:
    """Look every entry up as it is read and write its row; returns the highest row code."""
    held: deque[Entry] = deque()  # entries the stream has read and not given back yet

    def addresses() -> Iterator[str]:
        for entry in entries:
            held.append(entry)
            yield "" if entry.error else entry.address  # "" is refused without a lookup

    worst = rows = 0
    flushed = -math.inf
    for looked_up in registry.lookup_stream(addresses(), **options):
        entry = held.popleft()
        outcome = looked_up if entry.error is None else entry.error
        writer.write(entry, outcome)
        code = exit_code(outcome)
        worst = max(worst, code)
        if complain is not None and isinstance(outcome, MailSettingsError):
            complain(outcome)
        rows += 1
        now = time.monotonic()
        if now - flushed >= FLUSH_INTERVAL:  # the first row at once, then at most 10 a second
            out.flush()
            flushed = now
        if progress is not None:
            progress(rows, False)
    writer.finish()
    if progress is not None:
        progress(rows, True)
    return worst


def _readable(entries: Iterable[Entry]) -> Iterator[Entry]:
    """``entries``, with a read error turned into :class:`_Unreadable` (not a write error)."""
    iterator = iter(entries)
    while True:
        try:
            entry = next(iterator)
        except StopIteration:
            return
        except OSError as error:
            raise _Unreadable from error
        yield entry


def _output_format(parser: argparse.ArgumentParser, args: argparse.Namespace) -> str | None:
    """The format asked for (``None``: the mode's default)."""
    if args.json:
        if args.format not in (None, "jsonl"):
            parser.error(f"--json means --format jsonl, not --format {args.format}")
        return "jsonl"
    return str(args.format) if args.format else None


def _language(parser: argparse.ArgumentParser, lang: str | None) -> str | None:
    """The ``--lang`` tag, or the locale's language."""
    if lang is None:
        return language_from_environment(os.environ)
    if not is_language_tag(lang):
        parser.error(f"--lang {lang[:40]!r}: expected a language tag such as zh-CN or en")
    return lang


def _column(parser: argparse.ArgumentParser, text: str | None) -> int | str | None:
    """``--column``: an index from 0, a header name, or ``None``."""
    if text is None:
        return None
    if text.strip().isdigit():
        number = int(text)
        if number < 1:
            parser.error("--column N counts from 1")
        return number - 1
    if not text.strip():
        parser.error("--column needs a column NAME or number")
    return text


def _open_input(parser: argparse.ArgumentParser, path: str) -> tuple[IO[bytes], int | None]:
    """The input as a binary stream, and its size when it is a regular file."""
    if path == "-":
        stream: IO[bytes] | None = getattr(sys.stdin, "buffer", None)
        if stream is None:  # a text stream without bytes beneath (an embedding program's)
            stream = io.BytesIO(sys.stdin.read().encode("utf-8", "surrogateescape"))
    else:
        try:
            stream = open(path, "rb")  # noqa: SIM115 - read to the end of the run
        except OSError as error:
            parser.error(f"cannot read {path}: {error.strerror or error}")
    try:
        status = os.fstat(stream.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):
        return stream, None
    return stream, status.st_size if stat.S_ISREG(status.st_mode) else None


def _list_providers(registry: Registry, output: str | None, lang: str | None, out: TextIO) -> None:
    providers = sorted(registry.providers(), key=lambda p: p.id)
    if output == "jsonl":
        for provider in providers:
            out.write(json.dumps(provider.model_dump(mode="json"), ensure_ascii=False) + "\n")
    elif output == "csv":
        import csv

        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(("id", "name", "status", "country", "domains"))
        for provider in providers:
            cells = (
                provider.id,
                provider.name_for(lang),
                provider.status.value,
                provider.country or "",
                " ".join(provider.domains),
            )
            writer.writerow([csv_cell(cell) for cell in cells])
    else:
        for provider in providers:
            domains = ", ".join(provider.domains[:3]) + (
                " ..." if len(provider.domains) > 3 else ""
            )
            name = provider.name_for(lang)
            out.write(
                clean(f"{provider.id:28} {provider.status.value:18} {name} ({domains})") + "\n"
            )


def _utf8_output() -> None:
    """Make the process's standard output and error write UTF-8 whatever the locale.

    Anything that cannot be encoded (a lone surrogate) is replaced, so the output is
    always valid UTF-8. Streams an embedding program put in their place are left alone.
    """
    for stream, original in ((sys.stdout, sys.__stdout__), (sys.stderr, sys.__stderr__)):
        if stream is original and isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(encoding="utf-8", errors="replace")


def _discard_stdout() -> None:
    """After a broken pipe, point standard output at /dev/null.

    The interpreter's final flush then does not fail again (the recipe of Python's
    ``signal`` documentation).
    """
    stdout: TextIO = sys.stdout
    if stdout is not sys.__stdout__:
        return  # an embedding program's stream: not ours to redirect
    try:
        descriptor = stdout.fileno()
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, descriptor)
        os.close(devnull)
    except (OSError, ValueError):
        pass
