"""Results at scale: the recipe of docs/scale.md on a local Dask cluster and a process pool.

Both run the lookups in other processes, so every outcome crosses a process boundary
by pickle; each must equal the outcome of one plain ``lookup_many`` of the same input.
The addresses are at bundled domains or fail without discovery: no traffic but the
cluster's own, on loopback.
"""

from __future__ import annotations

import logging
import os
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
import scale_recipe
from scale_recipe import (
    Outcome,
    Row,
    by_domain,
    domain_key,
    enrich,
    enrich_in_processes,
    in_input_order,
)

import mailsettings
from mailsettings import InvalidAddressError, LookupResult, ProviderNotFoundError

DOCS = Path(__file__).resolve().parents[1] / "docs"
PARTITIONS = 6

DOMAINS = [
    "qq.com", "foxmail.com", "163.com", "126.com", "gmail.com", "outlook.com",
    "yahoo.com", "sina.com", "aliyun.com", "139.com", "yandex.ru", "gmx.de",
]
ODD = [
    "bad@@address", "", "someone@[127.0.0.1]", "two@at@signs.example", "a b@qq.com",
    b"a@qq.com", bytearray(b"a@qq.com"), None, 42, 4.2, str, ("a@qq.com",),
    "someone@unknown-domain.example", "x@not-a-provider.invalid", "user@hey.com",
    "QQ.COM", " Someone＠ＱＱ。COM. ", "Jane.Doe@Gmail.COM", "qq.com",
]


def addresses() -> list[Any]:
    """A mixed batch: many addresses per domain, repeats, and rows that fail."""
    batch: list[Any] = [f"user{n}@{DOMAINS[n % len(DOMAINS)]}" for n in range(240)]
    batch += [f"user{n}@{DOMAINS[n % 3]}" for n in range(0, 240, 7)]  # repeats
    for position, odd in enumerate(ODD):
        batch.insert(position * 13, odd)
    return batch


def same_outcome(ours: Outcome, theirs: Outcome) -> bool:
    if isinstance(theirs, LookupResult):
        return isinstance(ours, LookupResult) and ours == theirs and hash(ours) == hash(theirs)
    return type(ours) is type(theirs) and ours.args == theirs.args and vars(ours) == vars(theirs)


def assert_same_outcomes(outcomes: list[Outcome], batch: list[Any]) -> None:
    expected = mailsettings.lookup_many(batch)
    assert len(outcomes) == len(expected) == len(batch)
    mismatches = [
        (position, batch[position], ours, theirs)
        for position, (ours, theirs) in enumerate(zip(outcomes, expected, strict=True))
        if not same_outcome(ours, theirs)
    ]
    assert not mismatches, mismatches[:3]
    # What makes the comparison worth having: every kind of row, errors with attributes.
    kinds = {type(outcome) for outcome in expected}
    assert {LookupResult, InvalidAddressError, ProviderNotFoundError} <= kinds
    hey = expected[batch.index("user@hey.com")]  # known, but no standard access
    assert isinstance(hey, ProviderNotFoundError) and hey.provider is not None


def domains_in(rows: Iterable[Row]) -> list[list[str]]:
    return [sorted({domain_key(address) for _, address in rows})]


def registry_in(rows: Iterable[Row]) -> list[tuple[int, int]]:
    return [(os.getpid(), id(scale_recipe.registry()))]


# Dask's own warnings about its start and shutdown on a busy machine; only these, by
# message, are not errors here.
pytestmark = [
    pytest.mark.filterwarnings(f"ignore:{message}")
    for message in (
        r"Creating scratch directories is taking a surprisingly long time",
    )
]


@pytest.fixture(scope="module")
def dask_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from distributed import Client, LocalCluster

    cluster = LocalCluster(  # type: ignore[no-untyped-call]
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        silence_logs=logging.ERROR,
        local_directory=str(tmp_path_factory.mktemp("dask")),
    )
    with cluster, Client(cluster) as client:  # type: ignore[no-untyped-call]
        yield client


def test_dask_outcomes_equal_lookup_many(dask_client: Any) -> None:
    batch = addresses()
    rows = dask_client.compute(enrich(batch, PARTITIONS)).result(timeout=120)
    assert_same_outcomes(in_input_order(rows), batch)


def test_dask_partitions_hold_whole_domains(dask_client: Any) -> None:
    batch = addresses()
    bag = by_domain(batch, PARTITIONS).map_partitions(domains_in)  # type: ignore[no-untyped-call]
    partitions = dask_client.compute(bag).result(timeout=120)
    seen = [domain for domains in partitions for domain in domains]
    assert len(seen) == len(set(seen)) == len({domain_key(address) for address in batch})
    assert sum(1 for domains in partitions if domains) >= 2


def test_dask_builds_one_registry_per_worker_process(dask_client: Any) -> None:
    bag = by_domain(addresses(), PARTITIONS).map_partitions(registry_in)  # type: ignore[no-untyped-call]
    places = dask_client.compute(bag).result(timeout=120)
    assert len(places) == PARTITIONS
    registries: defaultdict[int, set[int]] = defaultdict(set)
    for pid, registry in places:
        registries[pid].add(registry)
    assert os.getpid() not in registries
    assert 1 <= len(registries) <= 2
    assert all(len(ids) == 1 for ids in registries.values())  # each process built one


def test_process_pool_with_spawn_outcomes_equal_lookup_many() -> None:
    batch = addresses()
    assert_same_outcomes(enrich_in_processes(batch, workers=2), batch)


def test_the_documented_recipe_is_the_tested_one() -> None:
    source = Path(scale_recipe.__file__).read_text(encoding="utf-8")
    source = re.sub(r"  # type: ignore\[[\w, -]+\]", "", source)
    page = (DOCS / "scale.md").read_text(encoding="utf-8")
    blocks = re.findall(r"^```python\n(.*?)^```", page, re.DOTALL | re.MULTILINE)
    assert len(blocks) >= 4
    for block in blocks:
        assert block in source, block
