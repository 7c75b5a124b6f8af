"""Warm lookup speed against a split + lower + dict.get floor, by kind of input.

For each kind of input, 20,000 addresses ``user{i}@<domain>`` at 15 well-known domains
(spelled as the kind says) are looked up with ``mailsettings.lookup`` and with a floor
function over the same addresses; each loop is timed with ``timeit`` (garbage
collection off), the two loops alternate, and the figure is the median ratio of the
rounds. The floor for known domains is

    def floor(a): return table.get(a.rpartition("@")[2].lower())

and for unknown domains a function that raises
``ProviderNotFoundError(msg, domain=d, tried=("bundled database",))``.

    python benchmarks/lookup_speed.py [--rounds 7]
"""

from __future__ import annotations

import argparse
import contextlib
import platform
import statistics
import timeit
from collections.abc import Callable

import idna

import mailsettings
from mailsettings import ProviderNotFoundError

DOMAINS = [
    "qq.com",
    "163.com",
    "126.com",
    "gmail.com",
    "outlook.com",
    "hotmail.com",
    "yahoo.com",
    "sina.com",
    "sohu.com",
    "139.com",
    "foxmail.com",
    "icloud.com",
    "aol.com",
    "gmx.de",
    "yandex.ru",
]
COUNT = 20_000


def inputs(kind: str) -> list[str]:
    """The addresses of one kind of input."""
    spellings: dict[str, Callable[[int, str], str]] = {
        "canonical": lambda i, d: f"user{i}@{d}",
        "upper case": lambda i, d: f"user{i}@{d.upper()}",
        "mixed case": lambda i, d: f"User{i}@{d[:1].upper()}{d[1:]}",
        "surrounding spaces": lambda i, d: f"  user{i}@{d} ",
        "full-width @": lambda i, d: f"user{i}＠{d}",
        "IDN, upper case": lambda i, d: f"user{i}@BÜCHER-{i % 15}.EXAMPLE",
        "unknown domain": lambda i, d: f"user{i}@unknown-{i % 15}.example",
    }
    spelled = spellings[kind]
    return [spelled(i, DOMAINS[i % len(DOMAINS)]) for i in range(COUNT)]


def floors() -> tuple[Callable[[str], object], Callable[[str], object]]:
    table = {domain: object() for domain in DOMAINS}

    def floor(a: str) -> object:
        return table.get(a.rpartition("@")[2].lower())

    def raising_floor(a: str) -> object:
        d = a.rpartition("@")[2].lower()
        raise ProviderNotFoundError(
            f"No provider is known for {d!r}.", domain=d, tried=("bundled database",)
        )

    return floor, raising_floor


def loop_time(function: Callable[[str], object], items: list[str], catch: bool) -> float:
    if catch:

        def run() -> None:
            for item in items:
                with contextlib.suppress(ProviderNotFoundError):
                    function(item)

    else:

        def run() -> None:
            for item in items:
                function(item)

    return min(timeit.repeat(run, number=1, repeat=1))  # timeit turns garbage collection off


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    floor, raising_floor = floors()
    # The bundled data has no internationalized domain: the registry adds 15 of its own.
    idn = [
        {
            "id": f"bucher-{n}.example",
            "name": "IDN example",
            "domains": [idna.encode(f"bücher-{n}.example").decode()],
            "servers": [
                {"protocol": "imap", "host": "imap.example.net", "port": 993, "security": "ssl"}
            ],
        }
        for n in range(15)
    ]
    registry = mailsettings.Registry(idn)
    lookups: dict[str, Callable[[str], object]] = {
        "Registry.lookup": registry.lookup,
        "mailsettings.lookup": mailsettings.lookup,
    }
    print(
        f"machine: {platform.machine()}, {platform.python_implementation()} "
        f"{platform.python_version()}, {COUNT} addresses at 15 domains, {args.rounds} rounds"
    )
    for name, kind in [("mailsettings.lookup", "canonical")] + [
        ("Registry.lookup", kind)
        for kind in (
            "canonical",
            "upper case",
            "mixed case",
            "surrounding spaces",
            "full-width @",
            "IDN, upper case",
            "unknown domain",
        )
    ]:
        lookup = lookups[name]
        items = inputs(kind)
        unknown = kind == "unknown domain"
        reference = raising_floor if unknown else floor
        for item in items:  # warm: every domain's result (or outcome) built once
            with contextlib.suppress(ProviderNotFoundError):
                lookup(item)
        ratios, ours, base = [], [], []
        for _ in range(args.rounds):
            b = loop_time(reference, items, unknown)
            o = loop_time(lookup, items, unknown)
            ratios.append(o / b)
            ours.append(o)
            base.append(b)
        print(
            f"{name:19} {kind:20} {statistics.median(ours) / COUNT * 1e9:7.0f} ns vs floor "
            f"{statistics.median(base) / COUNT * 1e9:5.0f} ns: {statistics.median(ratios):5.2f}x"
        )


if __name__ == "__main__":
    main()
