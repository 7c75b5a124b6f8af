"""The command line in real pipes and locales: closed pipes, streaming, encodings."""

from __future__ import annotations

import csv
import io
import json
import os
import select
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO

import pytest

from mailsettings.cli import main

COMMAND = [sys.executable, "-m", "mailsettings"]


def environment(**changes: str) -> dict[str, str]:
    """The test's environment without locale or Python I/O settings, plus ``changes``."""
    keep = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("LC_", "PYTHONIOENCODING", "PYTHONUTF8"))
        and name not in ("LANG", "LANGUAGE")
    }
    return {**keep, **changes}


def read_line(stream: IO[bytes], timeout: float = 30.0) -> bytes:
    """One line from a child's unbuffered output, failing (not hanging) if none comes."""
    ready, _, _ = select.select([stream], [], [], timeout)
    assert ready, f"no output within {timeout} s"
    return stream.readline()


def test_list_into_a_closed_pipe_ends_silently_with_141() -> None:
    with subprocess.Popen(
        [*COMMAND, "--list"], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as child:
        assert child.stdout is not None and child.stderr is not None
        child.stdout.close()  # the reader is gone before anything is written
        error = child.stderr.read()
        assert child.wait(timeout=60) == 141
    assert error == b""


def into_head(args: list[str], lines: int) -> tuple[int, bytes, bytes]:
    """Run the command piped into ``head -LINES``: its status, its errors, what head printed."""
    with subprocess.Popen(
        [*COMMAND, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as child:
        assert child.stdout is not None and child.stderr is not None
        head = subprocess.run(
            ["head", f"-{lines}"], stdin=child.stdout, capture_output=True, check=True
        )
        child.stdout.close()
        error = child.stderr.read()
        status = child.wait(timeout=60)
    return status, error, head.stdout


def test_list_into_head_ends_silently_with_141() -> None:
    # --list --json writes about 1 MB: far more than a pipe holds, so head's exit is seen.
    status, error, shown = into_head(["--list", "--json"], 1)
    assert (status, error) == (141, b"")
    assert json.loads(shown)["id"]


def test_bulk_into_head_ends_silently_with_141(tmp_path: Path) -> None:
    source = tmp_path / "addresses.txt"
    source.write_text("".join(f"user{i}@qq.com\n" for i in range(20_000)), encoding="utf-8")
    status, error, shown = into_head(["--bulk", str(source)], 2)
    assert (status, error) == (141, b"")
    header, row = shown.decode().splitlines()
    assert header.startswith("address,status,") and row.startswith("user0@qq.com,found,qq.com,")


class ClosedPipe(io.StringIO):
    """An output whose reader went away after ``room`` characters."""

    def __init__(self, room: int) -> None:
        super().__init__()
        self.room = room

    def write(self, text: str) -> int:
        if self.tell() + len(text) > self.room:
            raise BrokenPipeError(32, "Broken pipe")
        return super().write(text)


@pytest.mark.parametrize(
    "args", [["--list"], ["--format", "csv", "a@qq.com", "b@qq.com"], ["--bulk", "-"]]
)
def test_main_returns_141_on_a_broken_pipe(
    args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = "".join(f"u{i}@163.com\n" for i in range(5000)).encode()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(lines)))
    pipe = ClosedPipe(room=200)
    monkeypatch.setattr(sys, "stdout", pipe)
    assert main(args) == 141
    assert capsys.readouterr().err == ""
    assert 0 < len(pipe.getvalue()) <= 200


def test_bulk_writes_the_first_row_before_the_input_ends() -> None:
    with subprocess.Popen(
        [*COMMAND, "--bulk", "-"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        bufsize=0,  # what select() sees is all there is: nothing waits in a buffer here
    ) as child:
        assert child.stdin is not None and child.stdout is not None
        child.stdin.write(b"a@qq.com\n")
        child.stdin.flush()  # and keep standard input open
        assert read_line(child.stdout).startswith(b"address,status,")
        assert read_line(child.stdout).startswith(b"a@qq.com,found,qq.com,")
        child.stdin.write(b"b@163.com\n")
        child.stdin.flush()
        assert read_line(child.stdout).startswith(b"b@163.com,found,163.com,")
        child.stdin.close()
        assert child.stdout.read() == b""
        assert child.wait(timeout=60) == 0


def test_bulk_reads_its_input_as_it_goes() -> None:
    # Many more lines than the stream holds: the first row comes out while most are unsent.
    lines = [f"user{i}@qq.com\n".encode() for i in range(100_000)]
    with subprocess.Popen(
        [*COMMAND, "--bulk", "-", "--format", "jsonl"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        bufsize=0,
    ) as child:
        assert child.stdin is not None and child.stdout is not None
        child.stdin.writelines(lines[:1000])
        child.stdin.flush()
        first = json.loads(read_line(child.stdout))
        assert (first["address"], first["status"]) == ("user0@qq.com", "found")

        def write_the_rest() -> None:
            assert child.stdin is not None
            child.stdin.writelines(lines[1000:])
            child.stdin.close()

        writer = threading.Thread(target=write_the_rest)
        writer.start()
        rest = child.stdout.read().splitlines()
        writer.join(60)
        assert child.wait(timeout=60) == 0
    assert len(rest) == 99_999
    assert json.loads(rest[-1])["address"] == "user99999@qq.com"


INVALID_INPUT = b"a@qq.com\n\xff\xfe@qq.com\nb\xc3@163.com\nc@163.com\n"


@pytest.mark.parametrize(
    "env",
    [{"LC_ALL": "C"}, {"LC_ALL": "C", "PYTHONUTF8": "0"}, {"PYTHONIOENCODING": "latin-1"}],
    ids=["C", "C-no-utf8-mode", "latin-1"],
)
@pytest.mark.parametrize("output", ["jsonl", "csv", "table"])
def test_output_is_valid_utf8_whatever_the_locale(env: dict[str, str], output: str) -> None:
    done = subprocess.run(
        [*COMMAND, "--bulk", "-", "--format", output, "--lang", "zh-CN"],
        input=INVALID_INPUT,
        capture_output=True,
        env=environment(**env),
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    text = done.stdout.decode("utf-8")  # strict: raises on any invalid byte
    assert "\udcff" not in text and "\ufffd@qq.com" in text
    assert "QQ邮箱" in text  # the Chinese name, not replaced by a locale's codec
    if output == "jsonl":
        statuses = [json.loads(line)["status"] for line in text.splitlines()]
        assert statuses == ["found", "invalid", "invalid", "found"]
        errors = [json.loads(line)["error"] for line in text.splitlines()]
        assert "line 2 is not valid UTF-8" in errors[1]["message"]
        assert "line 3 is not valid UTF-8" in errors[2]["message"]
    elif output == "csv":
        rows = list(csv.DictReader(io.StringIO(text)))
        assert [row["status"] for row in rows] == ["found", "invalid", "invalid", "found"]


def test_an_argument_that_is_not_utf8_is_an_invalid_address() -> None:
    done = subprocess.run(
        [*(os.fsencode(part) for part in COMMAND), b"--json", b"ja\xffne@qq.com", b"a@qq.com"],
        capture_output=True,
        env=environment(LC_ALL="C"),
        check=False,
        timeout=60,
    )
    assert done.returncode == 2
    invalid, found = (json.loads(line) for line in done.stdout.decode("utf-8").splitlines())
    assert invalid["status"] == "invalid" and "not valid UTF-8" in invalid["error"]["message"]
    assert invalid["address"] == "ja\ufffdne@qq.com"
    assert found["status"] == "found"
    assert b"not valid UTF-8" in done.stderr
    done.stderr.decode("utf-8")
