"""Memory and time to the first row of ``mailsettings --bulk``, by input size.

Generates address files in a temporary folder (by default 1,000 and 10,000,000 lines:
about 230 MB), runs ``python -m mailsettings --bulk FILE`` on each with standard output
piped here, and reports the child's peak resident memory (``ru_maxrss`` from
``wait4``), the time from start to the first data row, and the rows per second. The
addresses are offline lookups (no discovery flag): known domains in several spellings,
unknown domains, malformed lines, address lists and comments. Nothing touches the network.

    python benchmarks/bulk_stream.py [--lines 10000000] [--small 1000] [--format csv]
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DOMAINS = (
    "qq.com",
    "163.com",
    "126.com",
    "gmail.com",
    "outlook.com",
    "yahoo.com",
    "foxmail.com",
    "sina.com",
    "139.com",
    "aliyun.com",
    "icloud.com",
    "gmx.de",
    "web.de",
    "yandex.ru",
    "mail.ru",
)


def line(number: int) -> str:
    """The input line ``number``: mostly known domains, some of everything else."""
    kind = number % 100
    domain = DOMAINS[number % len(DOMAINS)]
    if kind < 85:
        return f"user{number}@{domain}"
    if kind < 90:
        return f"User{number}@{domain.upper()}"
    if kind < 94:
        return f"user{number}@unknown{number % 5000}.example"
    if kind < 96:
        return f"bad{number}@@{domain}"
    if kind < 98:
        return f"Person {number} <p{number}@{domain}>, q{number}@{domain}"
    return "# a comment" if kind == 98 else ""


def generate(path: Path, lines: int) -> None:
    chunk = 100_000
    with path.open("w", encoding="utf-8") as file:
        for start in range(0, lines, chunk):
            stop = min(start + chunk, lines)
            file.write("\n".join(line(number) for number in range(start, stop)) + "\n")


def measure(path: Path, output: str) -> dict[str, float]:
    """Run the command line on ``path``; time to the first data row, total time, memory."""
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-m", "mailsettings", "--bulk", str(path), "--format", output],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert child.stdout is not None
    header_lines = 1 if output == "csv" else 0
    for _ in range(header_lines):
        child.stdout.readline()
    child.stdout.readline()
    first_row = time.perf_counter() - started
    rows = 1
    while True:
        chunk = child.stdout.read(1 << 20)
        if not chunk:
            break
        rows += chunk.count(b"\n")
    _, status, usage = os.wait4(child.pid, 0)
    total = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"mailsettings exited with {child.returncode} on {path}")
    return {
        "rows": rows,
        "first_row_s": first_row,
        "total_s": total,
        "peak_rss_mib": usage.ru_maxrss / 1024,  # KiB on Linux
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=10_000_000, help="the large input's lines")
    parser.add_argument("--small", type=int, default=1_000, help="the small input's lines")
    parser.add_argument("--format", default="csv", choices=("csv", "jsonl"))
    args = parser.parse_args()
    print(f"Python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as folder:
        results = []
        for lines in (args.small, args.lines):
            path = Path(folder) / f"addresses-{lines}.txt"
            generate(path, lines)
            size = path.stat().st_size
            figures = measure(path, args.format)
            results.append((lines, size, figures))
            path.unlink()
    print(
        f"{'input lines':>12} {'input MB':>9} {'rows out':>11} {'first row':>10} "
        f"{'total':>9} {'rows/s':>9} {'peak RSS':>10}"
    )
    for lines, size, figures in results:
        print(
            f"{lines:>12,} {size / 1e6:>9.1f} {figures['rows']:>11,.0f} "
            f"{figures['first_row_s']:>9.3f}s {figures['total_s']:>8.1f}s "
            f"{figures['rows'] / figures['total_s']:>9,.0f} {figures['peak_rss_mib']:>7.1f} MiB"
        )


if __name__ == "__main__":
    main()
