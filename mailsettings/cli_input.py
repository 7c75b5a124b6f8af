r"""What the command line reads: addresses from arguments, lines or CSV records.

Each line (or CSV cell) holds one address or domain, or an address list in the form
of an e-mail header, parsed with :mod:`email.headerregistry`; every address of a list
becomes its own entry. Blank lines and lines starting with ``#`` are skipped.

>>> [entry.address for entry in entries_from_text("Jane Doe <jane@gmail.com>, b@qq.com")]
['jane@gmail.com', 'b@qq.com']
>>> entries_from_text("alice@example.org)<bob@example.org>")[0].error
InvalidAddressError("'alice@example.org)<bob@example.org>' is not a valid address list: invalid address in address-list.")
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Iterator
from typing import IO, NamedTuple, cast

from .errors import InvalidAddressError

__all__ = [
    "MAX_LINE_BYTES",
    "MAX_LIST_CHARACTERS",
    "ColumnError",
    "Entry",
    "InputReader",
    "entries_from_argument",
    "entries_from_text",
]

MAX_LINE_BYTES = 65_536
"""A longer input line is not read into memory; it becomes an invalid entry."""
MAX_LIST_CHARACTERS = 4_096
"""The longest line read as an address list (the header parser's time grows faster
than the length of hostile input)."""
MAX_COMMENT_DEPTH = 8
"""The deepest nesting of ``(comments)`` accepted in an address list."""

_LIST_SYNTAX = re.compile(r'[<>,;:"()]')
"""Characters that only an address list (not a single address or domain) contains."""
_SHOWN = 40


class Entry(NamedTuple):
    """One row to be: the input cells it repeats, the address to look up, or why not."""

    cells: tuple[str, ...]
    """The cells of the CSV record the address came from (empty for other input)."""
    address: str
    """The address or domain as read (for an invalid entry, the text that was read)."""
    error: InvalidAddressError | None = None
    """Why the entry is invalid before any lookup, or ``None``."""


class ColumnError(ValueError):
    """``--column`` names no column of the input (a usage error)."""


def _shown(text: str) -> str:
    return repr(text if len(text) <= _SHOWN else text[:_SHOWN] + "…")


def entries_from_text(text: str, cells: tuple[str, ...] = ()) -> list[Entry]:
    """The entries of one line or cell: one address, or each address of an address list.

    A list (text with ``<``, ``,``, quotes, ...) is parsed as an e-mail header with
    :data:`email.policy.default`; any defect the parser reports makes the whole text
    one invalid entry, except a non-ASCII local part (RFC 6532 allows it).

    >>> [e.address for e in entries_from_text('"Doe, Jane" <jane@x.example>')]
    ['jane@x.example']
    >>> entries_from_text("a@x.example b@y.example")[0].address  # no list syntax: one entry
    'a@x.example b@y.example'
    """
    text = text.strip()
    if _LIST_SYNTAX.search(text) is None:
        return [Entry(cells, text)]
    problem = _list_problem(text)
    if problem is None:
        from email.headerregistry import AddressHeader, BaseHeader
        from email.policy import default

        try:
            header = default.header_factory("To", text)
        except Exception as error:  # the parser's own failure is this input's outcome
            problem = type(error).__name__
        else:
            assert isinstance(header, AddressHeader)
            defects = [
                str(defect)
                for defect in cast(BaseHeader, header).defects
                if type(defect).__name__ != "NonASCIILocalPartDefect"
            ]
            if defects:
                problem = defects[0]
            elif not header.addresses:
                problem = "it holds no address"
            else:
                return [Entry(cells, item.addr_spec) for item in header.addresses]
    message = f"{_shown(text)} is not a valid address list: {problem.rstrip('.')}."
    return [Entry(cells, text, InvalidAddressError(message))]


def _list_problem(text: str) -> str | None:
    """Why ``text`` is refused before the header parser sees it, or ``None``."""
    if len(text) > MAX_LIST_CHARACTERS:
        return f"longer than {MAX_LIST_CHARACTERS:,} characters"
    depth = deepest = 0
    for char in text:
        if char == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif char == ")":
            depth = max(depth - 1, 0)
    if deepest > MAX_COMMENT_DEPTH:
        return f"comments nested more than {MAX_COMMENT_DEPTH} deep"
    return None


def entries_from_argument(argument: str) -> list[Entry]:
    r"""The entries of one command-line argument (decoded by Python with ``surrogateescape``).

    >>> entries_from_argument("jane@qq.com")[0].address
    'jane@qq.com'
    >>> entries_from_argument("ja\udcffne@qq.com")[0].error
    InvalidAddressError("'ja�ne@qq.com' is not valid UTF-8.")
    """
    try:
        raw = os.fsencode(argument)
        text = raw.decode("utf-8")
    except UnicodeError:
        text = argument.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        return [Entry((), text, InvalidAddressError(f"{_shown(text)} is not valid UTF-8."))]
    return entries_from_text(text)


class InputReader:
    """Reads entries from a binary stream, line by line, holding one line at a time.

    Input is decoded as UTF-8; a line that is not valid UTF-8 is decoded with U+FFFD
    in place of each bad byte and becomes an invalid entry. A byte-order mark at the
    start is dropped. With ``column`` (an index from 0, or a header name, which makes
    the first record a header) the input is CSV and each record's cells are kept
    with its entries, padded to the width of the first record.

    ``bytes_read`` counts what has been consumed (for a progress display), and
    ``header`` is the header record, once read.
    """

    def __init__(self, stream: IO[bytes], *, column: int | str | None = None) -> None:
        self._stream = stream
        self._column = column
        self.bytes_read = 0
        self.header: tuple[str, ...] | None = None
        self._line_number = 0
        self._flawed: str | None = None  # why a line of the current record is unusable
        self._records: Iterator[list[str]] | None = None
        self._width = 0
        self._index = -1
        if column is not None:
            self._records = csv.reader(self._lines(keep_ends=True), strict=False)
            if isinstance(column, str):
                self._read_header(column)
            else:
                self._index = column

    def _read_header(self, name: str) -> None:
        assert self._records is not None
        for record in self._records:
            if self._skipped(record):
                continue
            self.header = tuple(record)
            self._width = len(record)
            names = [cell.strip() for cell in record]
            for candidates in (names, [cell.casefold() for cell in names]):
                wanted = name.strip() if candidates is names else name.strip().casefold()
                if wanted in candidates:
                    self._index = candidates.index(wanted)
                    return
            shown = ", ".join(_shown(cell) for cell in names[:20])
            raise ColumnError(f"--column {name!r}: the header row has no such column ({shown})")
        raise ColumnError(f"--column {name!r}: the input is empty, with no header row")

    def _lines(self, *, keep_ends: bool = False) -> Iterator[str]:
        """Each decoded line; a flaw found on the way is left in ``_flawed``."""
        read = self._stream.readline
        while True:
            raw = read(MAX_LINE_BYTES + 1)
            if not raw:
                return
            self.bytes_read += len(raw)
            self._line_number += 1
            if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
                while True:  # skip the rest of the line without holding it
                    rest = read(MAX_LINE_BYTES)
                    self.bytes_read += len(rest)
                    if not rest or rest.endswith(b"\n"):
                        break
                self._flawed = f"line {self._line_number} is longer than {MAX_LINE_BYTES:,} bytes"
                # CSV: an empty line, so that a cut-off quote cannot swallow the next lines
                raw = b"\n" if keep_ends else raw[: _SHOWN * 4]
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                text = raw.decode("utf-8", "replace")
                self._flawed = self._flawed or f"line {self._line_number} is not valid UTF-8"
            if self._line_number == 1 and text.startswith("\ufeff"):
                text = text[1:]
            yield text if keep_ends else text.rstrip("\r\n")

    def __iter__(self) -> Iterator[Entry]:
        if self._records is None:
            yield from self._plain()
        else:
            yield from self._csv()

    def _plain(self) -> Iterator[Entry]:
        for line in self._lines():
            text = line.strip()
            flawed, self._flawed = self._flawed, None
            if not text or (text.startswith("#") and flawed is None):
                continue
            if flawed is not None:
                yield Entry((), text, InvalidAddressError(f"{flawed}: {_shown(text)}."))
            else:
                yield from entries_from_text(text)

    def _csv(self) -> Iterator[Entry]:
        assert self._records is not None
        while True:
            try:
                record = next(self._records)
            except StopIteration:
                return
            except csv.Error as error:  # e.g. a quoted field over csv.field_size_limit()
                self._flawed = None
                problem = f"record ending on line {self._line_number}: {error}"
                yield Entry(("",) * self._width, "", InvalidAddressError(f"{problem}."))
                continue
            flawed, self._flawed = self._flawed, None
            if self._skipped(record) and flawed is None:
                continue
            if not self._width:
                self._width = len(record)
            cells = tuple(record[: self._width]) + ("",) * (self._width - len(record))
            if flawed is None and len(record) > self._width:
                flawed = (
                    f"record ending on line {self._line_number} has {len(record)} cells, "
                    f"the first has {self._width}"
                )
            if flawed is None and self._index >= len(record):
                flawed = (
                    f"record ending on line {self._line_number} has no column {self._index + 1}"
                )
            text = record[self._index].strip() if self._index < len(record) else ""
            if flawed is not None:
                yield Entry(cells, text, InvalidAddressError(f"{flawed}."))
            else:
                yield from entries_from_text(text, cells)

    @staticmethod
    def _skipped(record: list[str]) -> bool:
        """A blank record, or a comment (its first cell starts with ``#``)."""
        return not any(cell.strip() for cell in record) or record[0].lstrip().startswith("#")
