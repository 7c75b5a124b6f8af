"""Cold start and peak memory of a first lookup, against a pydantic baseline, at two database sizes.

Runs, alternately and in fresh interpreters, ``import mailsettings;
mailsettings.lookup('user@qq.com')`` and a baseline that imports pydantic and defines two
small models; reports, for each of ``--sets`` sets of ``--runs`` alternating runs, the
median wall time of each and their ratio, and the medians of peak resident memory
(``ru_maxrss`` of each child).

With ``--scale N`` (default 100) it also builds a synthetic database N times the bundled
one (the real provider files, each copied N - 1 times under other ids, domains and MX
patterns), installs it beside a copy of the package in a temporary folder, and measures

* the same cold start with that database, against the same baseline;
* the first ``mx=True`` lookup in a fresh process (``dns`` already imported; a dnsmasq on
  127.0.0.1 answers the MX query), with the synthetic and the bundled database, alternately.

    python benchmarks/cold_start.py [--runs 21] [--sets 3] [--scale 100]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FIRST_LOOKUP = "import mailsettings; mailsettings.lookup('user@qq.com')"
BASELINE = (
    "import pydantic\n"
    "class A(pydantic.BaseModel):\n    host: str\n    port: int\n"
    "class B(pydantic.BaseModel):\n    name: str\n    servers: list[A]\n"
)
FIRST_MX = (
    "import sys, time, dns.resolver, dns.nameserver, mailsettings\n"
    "r = dns.resolver.Resolver(configure=False)\n"
    "r.nameservers = [dns.nameserver.Do53Nameserver('127.0.0.1', int(sys.argv[1]))]\n"
    "t = time.perf_counter()\n"
    "result = mailsettings.lookup('someone@bench.test', mx=True, resolver=r)\n"
    "print(time.perf_counter() - t, result.provider.id)\n"
)


def run_once(code: str, path: Path | None = None, *args: str) -> tuple[float, float, str]:
    """Wall seconds, peak RSS in MiB and output of ``python -c code``."""
    env = dict(os.environ)
    if path is not None:
        env["PYTHONPATH"] = str(path)
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-c", code, *args], env=env, stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    out = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"command failed: {code!r}")
    return elapsed, usage.ru_maxrss / 1024, out


def cold_start(title: str, runs: int, sets: int, path: Path | None = None) -> None:
    run_once(FIRST_LOOKUP, path)  # warm the file system cache and bytecode
    run_once(BASELINE)
    ratios = []
    for number in range(1, sets + 1):
        ours: list[tuple[float, float, str]] = []
        base: list[tuple[float, float, str]] = []
        for _ in range(runs):
            base.append(run_once(BASELINE))
            ours.append(run_once(FIRST_LOOKUP, path))
        t_ours, t_base = (statistics.median(r[0] for r in runs_) for runs_ in (ours, base))
        m_ours, m_base = (statistics.median(r[1] for r in runs_) for runs_ in (ours, base))
        ratios.append(t_ours / t_base)
        print(
            f"{title}, set {number}: {t_ours * 1000:6.1f} ms vs baseline {t_base * 1000:6.1f} ms "
            f"= {t_ours / t_base:.3f}x; peak memory {m_ours - m_base:+.1f} MiB"
        )
    print(f"{title}: median of the sets {statistics.median(ratios):.3f}x")


def synthetic_package(scale: int, target: Path) -> int:
    """A copy of the package at ``target`` whose compiled database is ``scale`` times the real one."""
    sys.path.insert(0, str(REPO))
    from mailsettings.data import compile_providers, load_provider_files, source_dir
    from mailsettings.models import MxRule

    shutil.copytree(
        REPO / "mailsettings",
        target / "mailsettings",
        ignore=shutil.ignore_patterns("compiled", "providers", "__pycache__"),
    )
    real = load_provider_files(source_dir().glob("*.toml"))
    providers = list(real)
    for copy in range(1, scale):
        for provider in real:
            providers.append(
                provider.model_copy(
                    update={
                        "id": f"x{copy}-{provider.id}"[:64].rstrip(".-"),
                        "domains": tuple(f"x{copy}-{d}" for d in provider.domains),
                        "mx": tuple(
                            MxRule(pattern=f"x{copy}-{rule.pattern}", servers=rule.servers)
                            for rule in provider.mx
                        ),
                        "oauth2": None,
                    }
                )
            )
    files = compile_providers(providers)
    root = target / "mailsettings" / "data" / "compiled"
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return len(providers)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind(("127.0.0.1", 0))
        return int(udp.getsockname()[1])


def first_mx(runs: int, synthetic: Path) -> None:
    dnsmasq = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
    port = free_port()
    server = subprocess.Popen(
        [
            dnsmasq, "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv",
            "--no-hosts", "--local=/test/", f"--port={port}", "--listen-address=127.0.0.1",
            "--bind-interfaces", "--pid-file=", "--mx-host=bench.test,mx1.qq.com,10",
            *(["--user=root"] if os.geteuid() == 0 else []),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(0.5)
        run_once(FIRST_MX, REPO, str(port))
        run_once(FIRST_MX, synthetic, str(port))
        bundled, big = [], []
        for _ in range(runs):
            bundled.append(float(run_once(FIRST_MX, REPO, str(port))[2].split()[0]))
            big.append(float(run_once(FIRST_MX, synthetic, str(port))[2].split()[0]))
        b, s = statistics.median(bundled), statistics.median(big)
        print(
            f"first mx=True lookup: bundled database {b * 1000:.2f} ms, synthetic "
            f"{s * 1000:.2f} ms = {s / b:.2f}x (median of {runs} alternating runs)"
        )
    finally:
        server.terminate()
        server.wait(5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--sets", type=int, default=3)
    parser.add_argument("--scale", type=int, default=100)
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; {args.sets} sets of {args.runs} alternating runs"
    )
    cold_start("bundled database", args.runs, args.sets)
    if args.scale > 1:
        with tempfile.TemporaryDirectory() as folder:
            count = synthetic_package(args.scale, Path(folder))
            print(f"synthetic database: {count} providers ({args.scale} times the bundled one)")
            cold_start(f"{args.scale}x database", args.runs, args.sets, Path(folder))
            first_mx(args.runs, Path(folder))


if __name__ == "__main__":
    main()
