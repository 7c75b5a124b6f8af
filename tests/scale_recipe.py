"""The recipe of docs/scale.md: many addresses looked up in worker processes, grouped by domain.

Every ``python`` block of docs/scale.md is copied from this file, less its ``type: ignore``
comments for Dask's untyped functions (tests/test_scale.py checks it), so the recipe the
documentation shows is the code the tests run.
"""

from __future__ import annotations

import functools
import multiprocessing
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from operator import itemgetter
from typing import Any

import dask.bag

import mailsettings
from mailsettings import LookupResult, MailSettingsError

Outcome = LookupResult | MailSettingsError
Row = tuple[int, Any]  # (position in the input, address)


@functools.cache
def registry() -> mailsettings.Registry:
    """This process's registry: built by the first task that runs here, reused by the rest."""
    return mailsettings.Registry()  # your providers and defaults go here, e.g. mx=True


def domain_key(address: object) -> str:
    """Where an address goes: its domain, roughly (lookup_many does the real parsing)."""
    if not isinstance(address, str):
        return ""
    return address.rpartition("@")[2].strip().rstrip(".").lower()


def look_up(rows: Iterable[Row]) -> list[tuple[int, Outcome]]:
    """One partition: (position, address) rows in, (position, outcome) rows out."""
    rows = list(rows)
    outcomes = registry().lookup_many([address for _, address in rows])
    return [(position, outcome) for (position, _), outcome in zip(rows, outcomes, strict=True)]


def by_domain(addresses: Sequence[object], npartitions: int) -> dask.bag.Bag:
    """The addresses as (position, address) rows, each domain's rows in one partition."""
    rows = dask.bag.from_sequence(list(enumerate(addresses)), npartitions=npartitions)  # type: ignore[no-untyped-call]
    groups = rows.groupby(lambda row: domain_key(row[1]), shuffle="tasks")
    return groups.map(itemgetter(1)).flatten()  # type: ignore[no-any-return]


def enrich(addresses: Sequence[object], npartitions: int) -> dask.bag.Bag:
    """A bag of (position, outcome) rows: one lookup_many per partition."""
    return by_domain(addresses, npartitions).map_partitions(look_up)  # type: ignore[no-untyped-call, no-any-return]


def in_input_order(rows: Iterable[tuple[int, Outcome]]) -> list[Outcome]:
    """The outcomes sorted back into the order of the input."""
    return [outcome for _, outcome in sorted(rows, key=itemgetter(0))]


def enrich_in_processes(addresses: Sequence[object], workers: int) -> list[Outcome]:
    """The same without Dask: chunks grouped by domain, on a pool of worker processes."""
    chunks: list[list[Row]] = [[] for _ in range(workers * 4)]
    for row in enumerate(addresses):
        chunks[hash(domain_key(row[1])) % len(chunks)].append(row)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        done = pool.map(look_up, [chunk for chunk in chunks if chunk])
        return in_input_order(row for rows in done for row in rows)
