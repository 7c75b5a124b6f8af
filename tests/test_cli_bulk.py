"""Bulk input: lines, address lists, CSV columns, bad bytes, exit statuses (through main())."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailsettings.cli import main
from mailsettings.cli_input import (
    MAX_LINE_BYTES,
    MAX_LIST_CHARACTERS,
    ColumnError,
    InputReader,
    entries_from_text,
)
from mailsettings.cli_output import CSV_COLUMNS


def bulk(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    data: bytes,
    *args: str,
) -> tuple[int, str, str]:
    """Run ``mailsettings --bulk - ARGS`` on ``data``: status, output, errors."""
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    code = main(["--bulk", "-", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def jsonl(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], data: bytes, *args: str
) -> list[dict[str, object]]:
    code, out, err = bulk(monkeypatch, capsys, data, "--format", "jsonl", *args)
    assert code == 0, err
    return [json.loads(line) for line in out.splitlines()]


def table(out: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(out)))


def test_blank_lines_and_comments_are_skipped(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = b"\n# a comment\n   \n  a@qq.com  \n\t# indented comment\r\nb@163.com\r\n\n"
    rows = jsonl(monkeypatch, capsys, data)
    assert [row["address"] for row in rows] == ["a@qq.com", "b@163.com"]


def test_address_lists_give_one_row_per_address(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = (
        "Jane Doe <jane@gmail.com>\n"
        "a@qq.com, b@163.com\n"
        '"Doe, John" <john@qq.com>, 张三 <zhangsan@163.com>\n'
        "team: c@qq.com, d@qq.com;\n"
    ).encode()
    rows = jsonl(monkeypatch, capsys, data)
    assert [row["address"] for row in rows] == [
        "jane@gmail.com",
        "a@qq.com",
        "b@163.com",
        "john@qq.com",
        "zhangsan@163.com",
        "c@qq.com",
        "d@qq.com",
    ]
    assert {row["status"] for row in rows} == {"found"}


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("alice@example.org)<bob@example.org>", "invalid address in address-list"),
        ("Jane <jane@gmail.com", "missing trailing '>'"),
        ("a@qq.com,, b@qq.com", "empty element"),
        ("a@qq.com b@qq.com, c@qq.com", "invalid address"),
        ("undisclosed-recipients:;", "holds no address"),
        ("(" * 20 + "a@qq.com", "nested more than"),
        ('"' * 5000 + "a@qq.com,", f"longer than {MAX_LIST_CHARACTERS:,} characters"),
    ],
)
def test_an_address_list_with_a_defect_is_one_invalid_row(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], line: str, problem: str
) -> None:
    rows = jsonl(monkeypatch, capsys, f"{line}\na@qq.com\n".encode())
    assert [row["status"] for row in rows] == ["invalid", "found"]
    error = rows[0]["error"]
    assert isinstance(error, dict)
    assert error["type"] == "InvalidAddressError" and problem in str(error["message"])


def test_the_cve_2023_27043_form_never_yields_the_second_address() -> None:
    entries = entries_from_text("alice@example.org)<bob@example.org>")
    assert len(entries) == 1 and entries[0].error is not None
    assert not any("bob@" in entry.address and entry.error is None for entry in entries)


def test_invalid_utf8_is_an_invalid_row_and_the_rest_is_read(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = b"\xef\xbb\xbfa@qq.com\nb\xff@qq.com\n# comment \xff\nc@163.com\n"
    rows = jsonl(monkeypatch, capsys, data)
    assert [row["address"] for row in rows] == [
        "a@qq.com",
        "b\ufffd@qq.com",
        "# comment \ufffd",
        "c@163.com",
    ]
    assert [row["status"] for row in rows] == ["found", "invalid", "invalid", "found"]
    assert "line 2 is not valid UTF-8" in str(rows[1]["error"])


def test_a_valid_replacement_character_is_not_a_decoding_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = jsonl(monkeypatch, capsys, "a\ufffd@qq.com\n".encode())
    assert "not valid UTF-8" not in str(rows[0]["error"])


def test_an_overlong_line_is_an_invalid_row_and_not_held(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = b"a@qq.com\n" + b"x" * (3 * MAX_LINE_BYTES) + b"@qq.com\nb@163.com\n"
    rows = jsonl(monkeypatch, capsys, data)
    assert [row["status"] for row in rows] == ["found", "invalid", "found"]
    assert f"longer than {MAX_LINE_BYTES:,} bytes" in str(rows[1]["error"])
    assert len(str(rows[1]["address"])) < 200


def test_csv_column_by_name_repeats_the_input_cells_first(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = (
        b"name,E-mail,note\n"
        b"Jane,jane@qq.com,first\n"
        b"# skipped,x,y\n"
        b",,\n"
        b'Team,"b@163.com, Bob <bob@qq.com>","two, in one cell"\n'
        b'Multi,"c@qq.com","line one\nline two"\n'
    )
    code, out, err = bulk(monkeypatch, capsys, data, "--column", "e-mail")
    assert code == 0, err
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["name", "E-mail", "note", *CSV_COLUMNS]
    assert [row[:4] for row in rows[1:]] == [
        ["Jane", "jane@qq.com", "first", "jane@qq.com"],
        ["Team", "b@163.com, Bob <bob@qq.com>", "two, in one cell", "b@163.com"],
        ["Team", "b@163.com, Bob <bob@qq.com>", "two, in one cell", "bob@qq.com"],
        ["Multi", "c@qq.com", "line one\nline two", "c@qq.com"],
    ]
    assert [row[4] for row in rows[1:]] == ["found"] * 4


def test_csv_column_by_number_and_ragged_records(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = b"Jane,jane@qq.com,x\nShort,b@163.com\nNone\nLong,c@qq.com,y,extra\nBad,d\xff@qq.com,z\n"
    code, out, err = bulk(monkeypatch, capsys, data, "--column", "2")
    assert code == 0, err
    rows = table(out)
    assert list(rows[0])[:4] == ["input_1", "input_2", "input_3", "address"]
    assert [(row["input_1"], row["input_3"], row["status"]) for row in rows] == [
        ("Jane", "x", "found"),
        ("Short", "", "found"),
        ("None", "", "invalid"),
        ("Long", "y", "invalid"),
        ("Bad", "z", "invalid"),
    ]
    assert "has no column 2" in rows[2]["error"]
    assert "has 4 cells, the first has 3" in rows[3]["error"]
    assert "not valid UTF-8" in rows[4]["error"]


def test_jsonl_rows_of_csv_input_carry_the_input_cells(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = jsonl(monkeypatch, capsys, b"email,id\na@qq.com,7\n", "--column", "email")
    assert list(rows[0]) == ["input", "address", "status", "result", "error"]
    assert rows[0]["input"] == ["a@qq.com", "7"]


@pytest.mark.parametrize(
    ("args", "data", "message"),
    [
        (["--column", "mail"], b"name,email\nJane,a@qq.com\n", "no such column ('name', 'email')"),
        (["--column", "email"], b"", "the input is empty"),
        (["--column", "0"], b"a@qq.com\n", "counts from 1"),
        (["--column", " "], b"a@qq.com\n", "needs a column"),
        (["--json", "--format", "table"], b"a@qq.com\n", "--json means --format jsonl"),
        (["--lang", "zh_CN"], b"a@qq.com\n", "expected a language tag"),
    ],
)
def test_usage_errors_exit_2(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    data: bytes,
    message: str,
) -> None:
    with pytest.raises(SystemExit) as exit_:
        bulk(monkeypatch, capsys, data, *args)
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


def test_bulk_exit_status(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = b"a@qq.com\nnobody@unknown-domain.example\n"
    assert bulk(monkeypatch, capsys, data)[0] == 0  # every line produced a row
    assert bulk(monkeypatch, capsys, data, "--strict")[0] == 1
    assert bulk(monkeypatch, capsys, data + b"bad@@x\n", "--strict")[0] == 2
    assert bulk(monkeypatch, capsys, b"a@qq.com\n", "--strict")[0] == 0
    assert bulk(monkeypatch, capsys, b"", "--strict")[0] == 0


def test_unreadable_input_exits_2(tmp_path: Path) -> None:
    for path, reason in [
        (str(tmp_path), "Is a directory"),
        (str(tmp_path / "missing.txt"), "No such file"),
        ("/proc/self/mem", "Input/output error"),  # opens, then fails on the first read
    ]:
        done = subprocess.run(
            [sys.executable, "-m", "mailsettings", "--bulk", path],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        assert done.returncode == 2, path
        assert f"cannot read {path}: {reason}" in done.stderr
        assert "Traceback" not in done.stderr


def test_a_bulk_table_shows_failures_in_the_output(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = bulk(
        monkeypatch, capsys, b"a@qq.com\nnobody@unknown-domain.example\n", "--format", "table"
    )
    assert code == 0 and err == ""
    assert "imap.qq.com:993" in out
    assert "nobody@unknown-domain.example: not-found" in out
    assert "Try --autoconfig, --mx, --srv, --autodiscover or --guess." in out


def test_an_empty_input_gives_the_header_only(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = bulk(monkeypatch, capsys, b"\n# nothing\n")
    assert code == 0
    assert out.splitlines() == [",".join(CSV_COLUMNS)]
    code, out, _ = bulk(monkeypatch, capsys, b"name,email\n", "--column", "email")
    assert out.splitlines() == [",".join(["name", "email", *CSV_COLUMNS])]


@given(st.text(max_size=300))
def test_any_text_gives_entries_without_raising(text: str) -> None:
    entries = entries_from_text(text)
    assert entries
    for entry in entries:  # an empty address is left for the lookup to refuse
        assert entry.error is not None or entry.address == entry.address.strip()


@given(
    st.lists(
        st.sampled_from(
            ["a@qq.com", "Jane <j@qq.com>", ",", '"', "(", ")", "<", ">", "@", ":", ";", " ", "\\"]
        ),
        max_size=30,
    )
)
def test_address_list_pieces_never_raise(pieces: list[str]) -> None:
    for entry in entries_from_text("".join(pieces)):
        assert isinstance(entry.address, str)
        assert entry.error is None or entry.error.args[0].endswith(".")


@given(st.binary(max_size=400), st.sampled_from([None, 0, 2]))
def test_any_bytes_are_read_without_raising(data: bytes, column: int | None) -> None:
    reader = InputReader(io.BytesIO(data), column=column)
    for entry in reader:
        for text in (entry.address, *entry.cells):
            text.encode("utf-8")  # no lone surrogate: always valid UTF-8
    assert reader.bytes_read == len(data)


def test_a_missing_header_name_is_a_column_error() -> None:
    with pytest.raises(ColumnError, match="no such column"):
        InputReader(io.BytesIO(b"a,b\n"), column="c")
