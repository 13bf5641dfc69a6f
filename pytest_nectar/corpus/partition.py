"""Corpus partitions: the unit of work a distributed evaluation hands to one worker.

A :class:`Partition` says where a worker finds its traces, by path or URL, so that only a
few bytes travel to it: today a trace-index range ``[start, stop)`` of one columnar store
(:mod:`.store`, memory-mapped, so a worker reads only its range's pages).  A store on shared
storage (an fsspec URL such as ``s3://bucket/prefix/corpus-<digest>``) is copied once into
the worker's own cache and mapped from there (:mod:`.remote`).  A corpus store
split by trace id on disk gives one partition per part, the same way.  Partitions are
contiguous and in corpus order, so results concatenated in partition order are in the
corpus's own order: merging is exact, never a re-sort.
"""

from __future__ import annotations

import itertools
import os
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

from pytest_nectar.corpus.table import Column, Corpus

__all__ = ["Partition", "slice_corpus", "split"]


@dataclass(frozen=True, slots=True)
class Partition:
    """Traces ``[start, stop)`` of the corpus store at ``store``: a path workers can read, or
    an fsspec URL of the store folder (``s3://bucket/prefix/corpus-<digest>``)."""

    store: str
    start: int
    stop: int

    def load(self) -> Corpus:
        """The partition's traces as a corpus of their own (trace 0 is trace ``start``).

        Raises:
            StoreError: the store is missing, truncated or of another version.
            UsageError: a URL that cannot be read here (fsspec or its protocol missing).
        """
        whole = _opened(self.store)
        if self.start == 0 and self.stop == whole.n_traces:
            return whole  # a whole store (a stored partition): mapped, nothing copied
        return slice_corpus(whole, self.start, self.stop)


class _OpenStores:
    """The stores a worker has open, least recently used first: a worker runs many tasks on
    the same stores, run after run, and opening one (its meta, its trace ids decoded) costs
    as much as a third of evaluating it.  Bounded by their traces (the decoded ids are most
    of an open store's memory; the columns are mapped pages); a store never changes under
    its path (its folder is named by the corpus's content digest)."""

    #: Open stores keep at most this many traces in all (about 90 bytes of ids each); one
    #: store is always kept, however big.
    MAX_TRACES: Final = 2_000_000

    def __init__(self) -> None:
        self._open: OrderedDict[str, Corpus] = OrderedDict()

    def __call__(self, store: str) -> Corpus:
        found = self._open.pop(store, None)
        if found is None:
            from pytest_nectar.corpus.remote import fetch_store, is_url
            from pytest_nectar.corpus.store import load_store

            found = load_store(fetch_store(store) if is_url(store) else Path(store))
        self._open[store] = found
        held = sum(c.n_traces for c in self._open.values())
        while len(self._open) > 1 and held > self.MAX_TRACES:
            held -= self._open.popitem(last=False)[1].n_traces
        return found

    def cache_clear(self) -> None:
        self._open.clear()


_opened = _OpenStores()


def split(store: str | os.PathLike[str], n_traces: int, count: int) -> list[Partition]:
    """``count`` contiguous partitions of nearly equal trace counts (none empty)."""
    count = max(1, min(count, n_traces))
    bounds = np.linspace(0, n_traces, count + 1).round().astype(np.int64)
    path = os.fspath(store)
    return [Partition(path, int(a), int(b)) for a, b in itertools.pairwise(bounds)]


def _rebase(mapping: Mapping[int, object], lo: int, hi: int) -> dict[int, object]:
    return {k - lo: v for k, v in mapping.items() if lo <= k < hi}


def _column(column: Column, r0: int, r1: int, every_row: npt.NDArray[np.int64]) -> Column:
    lo = int(np.searchsorted(column.rows, r0, side="left"))
    hi = int(np.searchsorted(column.rows, r1, side="left"))
    # Entries ascend, one per row at most: as many as the rows means every row, 0 .. n - 1,
    # the one array all such columns share (not a rebased copy each).
    rows = every_row if hi - lo == r1 - r0 else column.rows[lo:hi] - r0
    return Column(
        name=column.name,
        rows=rows,
        kind=column.kind[lo:hi],
        ints=column.ints[lo:hi],
        floats=column.floats[lo:hi],
        codes=column.codes[lo:hi],
        strings=column.strings,  # codes index the whole pool: shared, not copied
        others=_rebase(column.others, lo, hi),
    )


def slice_corpus(corpus: Corpus, start: int, stop: int) -> Corpus:
    """Traces ``[start, stop)`` as a corpus: rows, entries and indices rebased to 0.

    Every per-trace and per-row array is a view or a rebased copy of the range, so a trace
    of the slice rebuilds to the same :class:`~pytest_nectar.trace.Trace` as in ``corpus``.
    """
    if not 0 <= start <= stop <= corpus.n_traces:
        raise IndexError(f"trace range {start}..{stop} out of 0..{corpus.n_traces}")
    r0, r1 = int(corpus.trace_offsets[start]), int(corpus.trace_offsets[stop])
    every_row = np.arange(r1 - r0, dtype=np.int64)
    every_row.flags.writeable = False
    root_row = corpus.root_row[start:stop]
    return Corpus(
        trace_ids=corpus.trace_ids[start:stop],
        trace_offsets=corpus.trace_offsets[start : stop + 1] - r0,
        row_trace=corpus.row_trace[r0:r1] - np.int32(start),
        is_root=corpus.is_root[r0:r1],
        root_row=np.where(root_row >= 0, root_row - r0, root_row),
        row_time=corpus.row_time[r0:r1],
        trace_start=corpus.trace_start[start:stop],
        weight=corpus.weight[start:stop],
        must_keep=corpus.must_keep[start:stop],
        must_keep_reasons={
            k - start: v for k, v in corpus.must_keep_reasons.items() if start <= k < stop
        },
        columns={name: _column(c, r0, r1, every_row) for name, c in corpus.columns.items()},
        digest=f"{corpus.digest}[{start}:{stop}]",
        sources=corpus.sources,
        formats=corpus.formats,
    )
