"""What the command line writes: a table for people, CSV and JSON lines for programs.

Every format writes one row (or block) per entry, in input order. Text from data
files or the network is written with control and format characters removed; CSV
cells that a spreadsheet would run as a formula are escaped.
"""

from __future__ import annotations

import csv
import json
import time
import unicodedata
from collections.abc import Callable, Sequence
from typing import Generic, TextIO, TypeVar

from .cli_input import Entry
from .errors import InvalidAddressError, MailSettingsError, ProviderNotFoundError
from .models import (
    EMAILADDRESS,
    EMAILDOMAIN,
    EMAILLOCALPART,
    LookupResult,
    PasswordKind,
    Provider,
    Server,
)

__all__ = [
    "CSV_COLUMNS",
    "EXIT_FOUND",
    "EXIT_INVALID",
    "EXIT_NOT_FOUND",
    "EXIT_UNDETERMINED",
    "CsvWriter",
    "JsonLinesWriter",
    "Progress",
    "TableWriter",
    "clean",
    "csv_cell",
    "display_width",
    "exit_code",
    "format_result",
    "wrap",
]

EXIT_FOUND, EXIT_NOT_FOUND, EXIT_INVALID, EXIT_UNDETERMINED = 0, 1, 2, 3
STATUS = {
    EXIT_FOUND: "found",
    EXIT_NOT_FOUND: "not-found",
    EXIT_INVALID: "invalid",
    EXIT_UNDETERMINED: "undetermined",
}
"""The ``status`` cell of each exit code."""

Outcome = LookupResult | MailSettingsError
_T = TypeVar("_T")

# --- text ------------------------------------------------------------------


def clean(text: str, keep: str = "") -> str:
    r"""Remove control, format (e.g. bidi override) and surrogate characters before printing.

    Characters in ``keep`` (such as ``"\n"``) stay.

    >>> clean("evil\x1b[31mred\u202e"), clean("two\nlines\x00", keep="\n")
    ('evil[31mred', 'two\nlines')
    """
    if text.isprintable():  # nothing to remove: the common case
        return text
    return "".join(
        char
        for char in text
        if char in keep or unicodedata.category(char) not in ("Cc", "Cf", "Cs")
    )


def _char_width(char: str) -> int:
    if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def display_width(text: str) -> int:
    """Terminal columns ``text`` takes: East Asian wide characters count two.

    >>> display_width("QQ邮箱"), display_width("mail")
    (6, 4)
    """
    if text.isascii():
        return len(text)
    return sum(_char_width(char) for char in text)


_NO_BREAK_BEFORE = frozenset("，。、；：！？）」』】〉》”’…,.;:!?)]}")
"""Punctuation that must not start a line (kept with what precedes it)."""
_NO_BREAK_AFTER = frozenset("（「『【〈《“‘([{")
"""Punctuation that must not end a line (kept with what follows it)."""


def _units(text: str) -> list[tuple[str, bool]]:
    """Breakable pieces of ``text``: ``(piece, is_space)``.

    A word is a piece, and so is each East Asian wide character; punctuation that must
    not start a line stays with the piece before it, and opening brackets with the
    piece after them.
    """
    units: list[tuple[str, bool]] = []
    word, wide = "", False
    for char in text:
        if char.isspace():
            if word:
                units.append((word, False))
                word = ""
            if units and not units[-1][1]:
                units.append((" ", True))
        elif char in _NO_BREAK_BEFORE:
            word += char
        else:
            char_wide = _char_width(char) == 2
            if word and (char_wide or wide) and word[-1] not in _NO_BREAK_AFTER:
                units.append((word, False))
                word = ""
            word, wide = word + char, char_wide
    if word:
        units.append((word, False))
    return units


def wrap(text: str, width: int, *, indent: str = "", subsequent: str | None = None) -> list[str]:
    """Lines of at most ``width`` columns (``indent`` on the first, ``subsequent`` after).

    Lines break at spaces and between East Asian wide characters, which count as two
    columns; a word longer than a line is not cut.

    >>> wrap("开启 IMAP 服务后，使用授权码登录。", 16, indent="  ")
    ['  开启 IMAP 服务', '  后，使用授权码', '  登录。']
    >>> wrap("one two three", 9, indent="- ", subsequent="  ")
    ['- one two', '  three']
    """
    later = indent if subsequent is None else subsequent
    lines: list[str] = []
    line, used, has_text, space = indent, display_width(indent), False, False
    for piece, is_space in _units(text):
        if is_space:
            space = has_text
            continue
        size = display_width(piece)
        gap = 1 if space else 0
        if has_text and used + gap + size > width:
            lines.append(line)
            line, used, gap = later, display_width(later), 0
        line += " " * gap + piece
        used += gap + size
        has_text, space = True, False
    if has_text or not lines:
        lines.append(line)
    return lines


# --- the table ---------------------------------------------------------------

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


def _login(server: Server, address: str | None) -> str:
    if address is not None:
        return server.login_for(address)
    return _USERNAME_RULE.get(server.username, server.username.replace(EMAILDOMAIN, "<domain>"))


def provider_names(provider: Provider, lang: str | None) -> str:
    """The provider's name in ``lang`` first, then its other names.

    >>> qq = Provider(id="qq.example", name="QQ Mail", localized_names={"zh-CN": "QQ邮箱"},
    ...               domains=("qq.example",), status="no-standard-access")
    >>> provider_names(qq, "zh-CN"), provider_names(qq, None)
    ('QQ邮箱 / QQ Mail', 'QQ Mail / QQ邮箱')
    """
    return " / ".join(dict.fromkeys([provider.name_for(lang), *provider.names]))


def format_result(
    result: LookupResult,
    address: str | None,
    *,
    lang: str | None = None,
    width: int | None = None,
) -> str:
    """The human-readable report for one result; long lines wrapped at ``width`` columns.

    Names and instructions are in ``lang`` where the data has them; labels stay English.
    """
    provider = result.provider

    def text(line: str, indent: str = "", subsequent: str = "") -> list[str]:
        line = clean(line)
        if width is None:
            return [indent + line]
        return wrap(line, width, indent=indent, subsequent=subsequent)

    lines = text(
        f"{address or result.domain}: {provider_names(provider, lang)} [{provider.status.value}]"
        f" (source: {result.source.value}{', untrusted' if not result.trusted else ''})",
        subsequent="  ",
    )
    rows = [("PROTO", "SERVER", "TLS", "LOGIN", "AUTH", "")]
    for server in result.servers:
        note = f"(legacy: {server.legacy_reason})" if server.legacy else ""
        rows.append(
            (
                server.protocol.value.upper(),
                f"{server.host}:{server.port}",
                _SECURITY_LABEL[server.security.value],
                clean(_login(server, address)),
                ", ".join(method.value for method in server.auth),
                clean(note),
            )
        )
    widths = [max(display_width(row[column]) for row in rows) for column in range(5)]
    for row in rows:
        cells = [
            cell + " " * (size - display_width(cell))
            for cell, size in zip(row, widths, strict=False)
        ]
        lines.append(("  " + "  ".join([*cells, row[5]])).rstrip())
    lines += text(f"Password: {_PASSWORD_LABEL[provider.password]}", "  ", "    ")
    if provider.instructions:
        lines.append("  Before logging in:")
        for number, step in enumerate(provider.instructions, 1):
            link = f" <{step.url}>" if step.url else ""
            lines += text(f"{number}. {step.text_for(lang)}{link}", "    ", "       ")
    if provider.help_url:
        lines += text(f"Help: {provider.help_url}", "  ", "    ")
    for warning in result.warnings:
        lines += text(f"Warning: {warning}", "  ", "    ")
    return "\n".join(lines)


def exit_code(outcome: Outcome) -> int:
    """The exit code, and row status, of one outcome."""
    if isinstance(outcome, LookupResult):
        return EXIT_FOUND
    if isinstance(outcome, InvalidAddressError):
        return EXIT_INVALID
    if isinstance(outcome, ProviderNotFoundError):
        return EXIT_NOT_FOUND
    return EXIT_UNDETERMINED  # DiscoveryError: the answer is unknown


class TableWriter:
    """One report per address; a failure goes to ``err`` for single lookups, to ``out`` in bulk.

    ``hint`` adds what else could be tried to a failure's message.
    """

    def __init__(
        self,
        out: TextIO,
        err: TextIO,
        *,
        bulk: bool,
        lang: str | None,
        width: int | None,
        hint: Callable[[MailSettingsError], str],
    ) -> None:
        self._out, self._err = out, err
        self._bulk, self._lang, self._width, self._hint = bulk, lang, width, hint
        self._blocks = 0

    def write(self, entry: Entry, outcome: Outcome) -> None:
        """Write one entry's report."""
        if isinstance(outcome, LookupResult):
            block = format_result(
                outcome, _address_of(entry.address), lang=self._lang, width=self._width
            )
        else:
            message = clean(f"{outcome}{self._hint(outcome)}")
            if not self._bulk:
                self._err.write(f"mailsettings: {message}\n")
                return
            status = STATUS[exit_code(outcome)]
            block = (
                clean(f"{entry.address}: {status}")
                + "\n"
                + "\n".join(
                    wrap(f"Error: {message}", self._width, indent="  ", subsequent="    ")
                    if self._width
                    else [f"  Error: {message}"]
                )
            )
        self._out.write(("\n" if self._blocks else "") + block + "\n")
        self._blocks += 1

    def finish(self) -> None:
        """Nothing to close."""


def _address_of(text: str) -> str | None:
    """The normalized address typed, or ``None`` when only a domain was given."""
    from .address import parse_address

    parsed = parse_address(text)
    return None if parsed.local is None else str(parsed)


# --- CSV and JSON lines --------------------------------------------------------

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
"""The columns of a CSV row, after the input's own cells."""


def csv_cell(value: object, keep: str = "") -> str:
    """A CSV cell: control characters removed, formula triggers (``= + - @``) escaped.

    A cell that a spreadsheet would read as a formula gets a leading apostrophe.
    Characters in ``keep`` (line breaks of an input cell) stay.

    >>> csv_cell("=HYPERLINK(1)"), csv_cell("@SUM(A1)"), csv_cell(993)
    ("'=HYPERLINK(1)", "'@SUM(A1)", '993')
    """
    text = clean(str(value), keep)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


class _PerResult(Generic[_T]):
    """A bounded cache of what is written for one result (a result is shared per domain)."""

    def __init__(self, build: Callable[[LookupResult], _T]) -> None:
        self._build = build
        self._cache: dict[int, tuple[LookupResult, _T]] = {}

    def __call__(self, result: LookupResult) -> _T:
        found = self._cache.get(id(result))
        if found is not None and found[0] is result:
            return found[1]
        if len(self._cache) >= 1024:
            self._cache.clear()
        value = self._build(result)
        self._cache[id(result)] = (result, value)
        return value


_INPUT_KEEPS = "\t\r\n"
"""What an input cell repeated in the output keeps of its control characters."""


class CsvWriter:
    """A header row, then one row per entry: the input's cells, then :data:`CSV_COLUMNS`.

    ``input_header`` is the input's header row; without one, input cells are headed
    ``input_1``, ``input_2``, ...
    """

    def __init__(
        self, out: TextIO, *, lang: str | None, input_header: Sequence[str] | None
    ) -> None:
        self._writer = csv.writer(out, lineterminator="\n")
        self._lang = lang
        self._input_header = input_header
        self._started = False
        self._result_cells = _PerResult(self._cells_of)

    def _start(self, width: int) -> None:
        header = self._input_header
        if header is None:
            header = [f"input_{number}" for number in range(1, width + 1)]
        self._writer.writerow([*(csv_cell(cell) for cell in header), *CSV_COLUMNS])
        self._started = True

    def write(self, entry: Entry, outcome: Outcome) -> None:
        """Write one entry's row."""
        if not self._started:
            self._start(len(entry.cells))
        cells: list[str]
        if isinstance(outcome, LookupResult):
            cells = self._result_cells(outcome)
        else:
            status = STATUS[exit_code(outcome)]
            cells = [status, *[""] * (len(CSV_COLUMNS) - 3), csv_cell(outcome)]
        inputs = [csv_cell(cell, _INPUT_KEEPS) for cell in entry.cells]
        self._writer.writerow([*inputs, csv_cell(entry.address), *cells])

    def finish(self) -> None:
        """Write the header if no row did."""
        if not self._started:
            self._start(len(self._input_header or ()))

    def _cells_of(self, outcome: LookupResult) -> list[str]:
        provider = outcome.provider
        row: list[object] = [
            STATUS[EXIT_FOUND],
            provider.id,
            provider.name_for(self._lang),
            outcome.source.value,
            "yes" if outcome.trusted else "no",
            provider.password.value,
        ]
        for server in (outcome.imap, outcome.pop3, outcome.smtp):
            row += (
                ["", "", ""]
                if server is None
                else [server.host, server.port, server.security.value]
            )
        row += [outcome.mx_host or "", " | ".join(outcome.warnings), ""]
        return [csv_cell(cell) for cell in row]


class JsonLinesWriter:
    """One JSON document per entry: ``address``, ``status``, ``result``, ``error``.

    With CSV input, ``input`` (the record's cells) comes first. ``error`` is ``null``
    or ``{"type", "message"}``, with ``domain`` and ``tried`` for "not found".
    """

    def __init__(self, out: TextIO, *, with_input: bool) -> None:
        self._out = out
        self._with_input = with_input
        self._result = _PerResult(_result_json)

    def write(self, entry: Entry, outcome: Outcome) -> None:
        """Write one entry's line."""
        head = ""
        if self._with_input:
            head = f'"input": {_json([clean(cell, _INPUT_KEEPS) for cell in entry.cells])}, '
        address = _json(clean(entry.address))
        status = STATUS[exit_code(outcome)]
        if isinstance(outcome, LookupResult):
            tail = f'"result": {self._result(outcome)}, "error": null'
        else:
            tail = f'"result": null, "error": {_json(error_object(outcome))}'
        self._out.write(f'{{{head}"address": {address}, "status": "{status}", {tail}}}\n')

    def finish(self) -> None:
        """Nothing to close."""


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def _result_json(result: LookupResult) -> str:
    return _json(result.model_dump(mode="json"))


def error_object(error: MailSettingsError) -> dict[str, object]:
    """The JSON form of an error: its type and message (and for "not found", what was tried)."""
    document: dict[str, object] = {"type": type(error).__name__, "message": clean(str(error))}
    if isinstance(error, ProviderNotFoundError):
        document["domain"] = error.domain
        document["tried"] = list(error.tried)
    return document


# --- progress ------------------------------------------------------------------


class Progress:
    """A one-line progress display on a terminal: rows, rate and, for a file, the time left."""

    INTERVAL = 0.2
    """Seconds between redraws."""

    def __init__(
        self, err: TextIO, total_bytes: int | None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._err = err
        self._total = total_bytes
        self._clock = clock
        self._start = clock()
        self._shown = self._start
        self._width = 0

    def update(self, rows: int, bytes_read: int, *, final: bool = False) -> None:
        """Redraw if the last redraw is older than :attr:`INTERVAL` (or ``final``)."""
        now = self._clock()
        if not final and now - self._shown < self.INTERVAL:
            return
        self._shown = now
        elapsed = max(now - self._start, 1e-9)
        line = f"{rows:,} row{'' if rows == 1 else 's'}  {rows / elapsed:,.0f}/s"
        if self._total:
            done = min(bytes_read / self._total, 1.0)
            line += f"  {done:.0%}"
            if final:
                line += f"  done in {_duration(elapsed)}"
            elif done > 0:
                line += f"  ETA {_duration(elapsed * (1 - done) / done)}"
        elif final:
            line += f"  done in {_duration(elapsed)}"
        self._err.write("\r" + line + " " * max(self._width - len(line), 0))
        self._width = len(line)
        if final:
            self._err.write("\n")
        self._err.flush()


def _duration(seconds: float) -> str:
    """``h:mm:ss``.

    >>> _duration(3725.4)
    '1:02:05'
    """
    whole = round(seconds)
    return f"{whole // 3600}:{whole % 3600 // 60:02}:{whole % 60:02}"
