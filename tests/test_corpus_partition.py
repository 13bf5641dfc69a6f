"""Corpus partitions: a trace-index range of a store is a corpus of its own, and the
vectorised evaluation of the partitions, merged in order, is the whole corpus's."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pytest_nectar.compiler.compile import load_rules_or_policy
from pytest_nectar.corpus import load_corpus
from pytest_nectar.corpus.partition import Partition, slice_corpus, split
from pytest_nectar.corpus.table import Corpus
from pytest_nectar.prover.distributed import merge, store_of
from pytest_nectar.prover.engine import load_target
from pytest_nectar.refinery.vector import evaluate_with_probes
from tests.gate_support import ROOT

QUICKSTART = ROOT / "examples" / "quickstart"


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return load_corpus(QUICKSTART / "corpus")


def test_split_covers_every_trace_once_in_order() -> None:
    parts = split("store", 10, 3)
    assert [(p.start, p.stop) for p in parts] == [(0, 3), (3, 7), (7, 10)]
    assert split("store", 2, 5) == [Partition("store", 0, 1), Partition("store", 1, 2)]
    assert split("store", 0, 4) == [Partition("store", 0, 0)]


def test_a_slice_rebuilds_the_same_traces(corpus: Corpus) -> None:
    for start, stop in [(0, 1), (3, 40), (17, corpus.n_traces), (5, 5)]:
        part = slice_corpus(corpus, start, stop)
        assert part.n_traces == stop - start
        assert part.n_rows == int(corpus.trace_offsets[stop] - corpus.trace_offsets[start])
        for i in range(part.n_traces):
            assert part.trace(i) == corpus.trace(start + i)
            assert part.must_keep[i] == corpus.must_keep[start + i]
    with pytest.raises(IndexError):
        slice_corpus(corpus, 3, corpus.n_traces + 1)


def test_a_partition_loads_its_range_from_the_store(corpus: Corpus) -> None:
    store = store_of(corpus)
    part = Partition(str(store), 10, 30).load()
    assert part.trace_ids == corpus.trace_ids[10:30]
    assert part.trace(19) == corpus.trace(29)


def test_a_worker_keeps_its_stores_open_within_a_bound_of_traces(
    corpus: Corpus, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run after run a worker reads the same stores: they stay open (the same corpus object
    comes back) until the traces they hold pass the bound; the least recently used go."""
    from pytest_nectar.corpus import partition
    from pytest_nectar.corpus.store import save_store

    stores = []
    for k in range(3):
        path = tmp_path / f"store-{k}"
        save_store(slice_corpus(corpus, 10 * k, 10 * k + 10), path)
        stores.append(str(path))
    opened = partition._OpenStores()
    monkeypatch.setattr(partition._OpenStores, "MAX_TRACES", 25)
    first = opened(stores[0])
    assert opened(stores[1]) is opened(stores[1]) and opened(stores[0]) is first
    opened(stores[2])  # 30 traces open: the least recently used (store 1) is closed
    assert opened(stores[0]) is first
    assert list(opened._open) == [stores[2], stores[0]]
    monkeypatch.setattr(partition._OpenStores, "MAX_TRACES", 5)
    assert opened(stores[1]).n_traces == 10  # over the bound alone: still kept, alone
    assert list(opened._open) == [stores[1]]


@pytest.mark.parametrize("count", [1, 2, 7, 1000])
def test_merged_partitions_equal_the_whole(corpus: Corpus, count: int) -> None:
    target = load_target(str(QUICKSTART / "policies" / "checkout.toon"))
    rules = load_rules_or_policy(str(QUICKSTART / "rules.yaml"))
    probes = [target.error.rules_file, *(p.rules_file for p in target.must_keep)]
    whole = evaluate_with_probes(rules, corpus, probes=probes)
    parts = [
        evaluate_with_probes(rules, slice_corpus(corpus, p.start, p.stop), probes=probes)
        for p in split(Path("unused"), corpus.n_traces, count)
    ]
    merged = merge(parts, corpus.trace_ids)
    assert len(merged.decisions) == corpus.n_traces
    assert [merged.decisions.decision(i) for i in range(corpus.n_traces)] == [
        whole.decisions.decision(i) for i in range(corpus.n_traces)
    ]
    assert np.array_equal(merged.decisions.fallback, whole.decisions.fallback)
    assert merged.decisions.rule_totals(corpus) == whole.decisions.rule_totals(corpus)
    assert len(merged.probes) == len(whole.probes) >= 1
    for got, want in zip(merged.probes, whole.probes, strict=True):
        assert np.array_equal(got, want)
