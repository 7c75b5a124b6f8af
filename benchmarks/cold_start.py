"""Cold start and peak memory of a first lookup, against a pydantic baseline.

Runs, alternately and in fresh interpreters, the command users meet first and a
baseline that imports pydantic and defines two small models; reports medians of wall
time and of peak resident memory (``ru_maxrss`` of each child).

    python benchmarks/cold_start.py [--runs 21]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time

MAILSETTINGS = "import mailsettings; mailsettings.lookup('user@qq.com')"
BASELINE = (
    "import pydantic\n"
    "class A(pydantic.BaseModel):\n    host: str\n    port: int\n"
    "class B(pydantic.BaseModel):\n    name: str\n    servers: list[A]\n"
)


def run_once(code: str) -> tuple[float, float]:
    """Wall seconds and peak RSS in MiB of ``python -c code``."""
    started = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-c", code])
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        raise SystemExit(f"command failed: {code!r}")
    return elapsed, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()
    ours: list[tuple[float, float]] = []
    base: list[tuple[float, float]] = []
    run_once(MAILSETTINGS)  # warm the file system cache and bytecode
    run_once(BASELINE)
    for _ in range(args.runs):
        base.append(run_once(BASELINE))
        ours.append(run_once(MAILSETTINGS))
    t_ours, t_base = (statistics.median(t for t, _ in runs) for runs in (ours, base))
    m_ours, m_base = (statistics.median(m for _, m in runs) for runs in (ours, base))
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{args.runs} alternating runs each"
    )
    print(
        f"baseline (import pydantic, two models): {t_base * 1000:6.1f} ms  {m_base:6.1f} MiB peak"
    )
    print(
        f"import mailsettings + first lookup:     {t_ours * 1000:6.1f} ms  {m_ours:6.1f} MiB peak"
    )
    print(
        f"time ratio: {t_ours / t_base:.2f}x (bar 1.3x); memory above baseline: "
        f"{m_ours - m_base:+.1f} MiB (bar 15 MB)"
    )


if __name__ == "__main__":
    main()
