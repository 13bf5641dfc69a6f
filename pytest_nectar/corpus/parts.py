"""A corpus partitioned by trace id on disk: per-trace facts in memory, rows on disk.

:class:`PartedCorpus` is what a corpus larger than memory looks like to the evaluation:
every per-trace array (ids, offsets, start and end times, weights, must-keep labels,
whether a root arrived) in memory, in the corpus order the in-memory :class:`Corpus` has,
and the rows in one ordinary store per partition (``store.py``), memory-mapped one at a
time by :meth:`PartedCorpus.part`.  Trace ``t`` lives whole in partition ``trace_part[t]``
as its trace ``trace_local[t]``; a partition's traces are in corpus order, so
:meth:`PartedCorpus.members` is ascending.  The digest is the one :func:`load_corpus` gives
for the same inputs and options: what is proven is the same corpus, however it is stored.

``parts_build.py`` builds the folder with bounded memory; :func:`load_parted` caches it in
the user's cache folder like :func:`load_corpus` (an entry per digest and ``part_rows``).
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Unpack

import numpy as np
import numpy.typing as npt

from pytest_nectar.corpus import cache as corpus_cache
from pytest_nectar.corpus.load import (
    CorpusRequest,
    Reading,
    corpus_request,
    read_index,
    save_index,
)
from pytest_nectar.corpus.parts_build import (
    END_FILE,
    MANIFEST,
    ORDER_FILE,
    PARTS_VERSION,
    part_digest,
    write_parted,
)
from pytest_nectar.corpus.parts_concat import cat, stack_rows
from pytest_nectar.corpus.store import StoreError, load_store, read_meta
from pytest_nectar.corpus.table import Corpus, Skipped, TraceIds, TraceTable
from pytest_nectar.errors import CorpusError, Position, UsageError
from pytest_nectar.trace import Trace

__all__ = [
    "PartedCorpus",
    "build_parted",
    "load_parted",
    "open_parted",
    "parted_in",
    "parted_path",
    "pieces",
]


@dataclass(frozen=True, eq=False)
class PartedCorpus:
    """A corpus stored in partitions by trace id (see the module doc)."""

    folder: Path
    digest: str
    part_rows: int
    parts: tuple[Path, ...]
    trace_ids: Sequence[str]  # packed (TraceIds): a day's ids would cost GBs as strings
    trace_part: npt.NDArray[np.int32]
    trace_local: npt.NDArray[np.int64]
    trace_offsets: npt.NDArray[np.int64]
    trace_start: npt.NDArray[np.float64]
    trace_end: npt.NDArray[np.float64]
    weight: npt.NDArray[np.float64]
    must_keep: npt.NDArray[np.bool_]
    must_keep_reasons: Mapping[int, str]
    has_root: npt.NDArray[np.bool_]
    skipped: tuple[Skipped, ...] = ()
    sources: tuple[str, ...] = ()
    must_keep_unmatched: tuple[str, ...] = ()
    formats: Mapping[str, int] = field(default_factory=dict)
    field_kinds: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    #: The partition opened last (one at a time: memory stays bounded).
    _opened: dict[int, Corpus] = field(default_factory=dict, repr=False)

    @property
    def n_traces(self) -> int:
        return len(self.trace_ids)

    @property
    def n_rows(self) -> int:
        return int(self.trace_offsets[-1])

    @property
    def n_parts(self) -> int:
        return len(self.parts)

    @property
    def duration_s(self) -> float:
        """Seconds between the first and the last event timestamp (NaN without any)."""
        known = ~np.isnan(self.trace_start)
        if not known.any():
            return math.nan
        return float(np.nanmax(self.trace_end[known]) - self.trace_start[known].min())

    def part(self, k: int) -> Corpus:
        """Partition ``k``, memory-mapped; its trace ``j`` is global trace ``members(k)[j]``.

        Raises:
            StoreError: the partition's store is missing or damaged.
        """
        found = self._opened.get(k)
        if found is None:
            if not 0 <= k < self.n_parts:
                raise IndexError(f"partition {k} out of range 0..{self.n_parts - 1}")
            found = self._load_part(k)
            self._opened.clear()
            self._opened[k] = found
        return found

    def members(self, k: int) -> npt.NDArray[np.int64]:
        """Global indices of partition ``k``'s traces, in its local order (ascending)."""
        return self._members[k]

    def trace(self, t: int) -> Trace:
        """Trace ``t`` (loads only its partition); equal to ``Corpus.trace(t)``."""
        if not 0 <= t < self.n_traces:
            raise IndexError(f"trace index {t} out of range 0..{self.n_traces - 1}")
        return self.part(int(self.trace_part[t])).trace(int(self.trace_local[t]))

    def trace_index(self, trace_id: str) -> int:
        """The index of ``trace_id``, or -1 (a scan: no index of every id is kept in memory,
        which for a day of traffic would cost about as much as the ids themselves)."""
        try:
            return self.trace_ids.index(trace_id)
        except ValueError:
            return -1

    def to_corpus(self) -> Corpus:
        """Every partition in one in-memory corpus, in corpus order (small corpora, tests)."""
        parts = [self._load_part(k) for k in range(self.n_parts)]
        rows = stack_rows(parts, self.trace_part, self.trace_local, self.trace_offsets)
        return Corpus(
            trace_ids=tuple(self.trace_ids),
            trace_offsets=self.trace_offsets.copy(),
            row_trace=rows.row_trace,
            is_root=rows.is_root,
            root_row=rows.root_row,
            row_time=rows.row_time,
            trace_start=self.trace_start.copy(),
            weight=self.weight.copy(),
            must_keep=self.must_keep.copy(),
            must_keep_reasons=dict(self.must_keep_reasons),
            columns=rows.columns,
            digest=self.digest,
            skipped=self.skipped,
            sources=self.sources,
            must_keep_unmatched=self.must_keep_unmatched,
            formats=dict(self.formats),
        )

    def _load_part(self, k: int) -> Corpus:
        """Partition ``k`` opened anew (not kept: for a pass over all partitions)."""
        return load_store(self.parts[k], self.sources, digest=part_digest(self.digest, k))

    @cached_property
    def _members(self) -> list[npt.NDArray[np.int64]]:
        order = np.argsort(self.trace_part, kind="stable")
        counts = np.bincount(self.trace_part, minlength=self.n_parts)
        return np.split(order.astype(np.int64), np.cumsum(counts)[:-1])


def pieces(corpus: TraceTable) -> Iterator[tuple[Corpus, npt.NDArray[np.int64] | None]]:
    """The corpus's rows a piece at a time: a :class:`Corpus` itself (``None``: its traces
    are the corpus's, in order), or each partition of a :class:`PartedCorpus` with the
    corpus index of its traces, one partition mapped at a time."""
    if isinstance(corpus, Corpus):
        yield corpus, None
        return
    assert isinstance(corpus, PartedCorpus)
    for k in range(corpus.n_parts):
        yield corpus.part(k), corpus.members(k)


def parted_path(cache_root: Path, digest: str, part_rows: int) -> Path:
    """The cache entry of a partitioned corpus (an entry like a store: LRU, evicted whole)."""
    return cache_root / f"{corpus_cache.ENTRY_PREFIX}{digest[:40]}-parts-{part_rows}"


def open_parted(folder: Path, sources: tuple[str, ...] | None = None) -> PartedCorpus:
    """Open a partitioned corpus: the manifest and each partition's per-trace arrays.

    ``sources`` renames the input files (they may have moved since it was built).

    Raises:
        StoreError: the folder is missing, of another version, truncated or corrupt.
    """
    where = Position(str(folder))
    manifest = read_meta(
        folder / MANIFEST,
        PARTS_VERSION,
        "partitioned corpus",
        f"expected {PARTS_VERSION}; rebuild it",
    )
    try:
        return _open(folder, manifest, sources)
    except StoreError:
        raise
    except (OSError, KeyError, TypeError, ValueError, IndexError, AttributeError) as err:
        raise StoreError(
            "partitioned corpus is truncated or corrupt",
            position=where,
            got=f"{type(err).__name__}: {err}",
            hint="a cache entry is rebuilt on the next load; `nectar cache clear` removes all",
        ) from None


def _open(folder: Path, manifest: dict[str, Any], given: tuple[str, ...] | None) -> PartedCorpus:
    digest = manifest["digest"]
    if not isinstance(digest, str):
        raise ValueError("digest is not a string")
    names = tuple(str(s) for s in manifest["sources"])
    sources = given if given is not None else names
    paths: list[Path] = []
    seqs: list[npt.NDArray[np.int64]] = []
    ends: list[npt.NDArray[np.float64]] = []
    ids: list[tuple[bytes, npt.NDArray[np.int64]]] = []
    per_part = []
    for k, entry in enumerate(manifest["parts"]):
        path = folder / str(entry["name"])
        corpus = load_store(path, sources, digest=part_digest(digest, k))
        seq = np.load(path / ORDER_FILE, allow_pickle=False)
        end = np.load(path / END_FILE, allow_pickle=False)
        n = corpus.n_traces
        if (n, corpus.n_rows) != (entry["traces"], entry["rows"]):
            raise ValueError(f"{path.name} holds {n} traces, {corpus.n_rows} rows, not as listed")
        if seq.shape != (n,) or end.shape != (n,) or seq.dtype != np.int64:
            raise ValueError(f"{path.name}: order or end arrays do not match its traces")
        if n > 1 and not bool((np.diff(seq) > 0).all()):
            raise ValueError(f"{path.name}: trace order is not ascending")
        paths.append(path)
        seqs.append(seq)
        ends.append(end.astype(np.float64))
        ids.append(TraceIds.pack(corpus.trace_ids))  # strings of one partition at a time
        per_part.append(
            (
                np.diff(corpus.trace_offsets),
                np.asarray(corpus.trace_start, dtype=np.float64),
                np.asarray(corpus.weight, dtype=np.float64),
                np.asarray(corpus.must_keep, dtype=bool),
                np.asarray(corpus.root_row) >= 0,
                corpus.must_keep_reasons,
            )
        )
    sizes = [len(s) for s in seqs]
    all_seq = cat(seqs, np.int64)
    order = np.argsort(all_seq, kind="stable")
    if len(order) > 1 and not bool((np.diff(all_seq[order]) > 0).all()):
        raise ValueError("two traces share a first-appearance sequence number")
    global_of = np.empty(len(order), dtype=np.int64)
    global_of[order] = np.arange(len(order))
    part_of = np.repeat(np.arange(len(sizes), dtype=np.int32), sizes)
    local_of = cat([np.arange(n, dtype=np.int64) for n in sizes], np.int64)
    counts = cat([p[0] for p in per_part], np.int64)[order]
    offsets = np.zeros(len(order) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    reasons: dict[int, str] = {}
    base = 0
    for size, part in zip(sizes, per_part, strict=True):
        reasons.update({int(global_of[base + j]): r for j, r in part[5].items()})
        base += size
    skipped = tuple(
        Skipped(sources[i] if 0 <= i < len(sources) else path, record, reason)
        for i, path, record, reason in manifest["skipped"]
    )
    return PartedCorpus(
        folder=folder,
        digest=digest,
        part_rows=int(manifest["part_rows"]),
        parts=tuple(paths),
        trace_ids=TraceIds.gather(ids, order),
        trace_part=part_of[order],
        trace_local=local_of[order],
        trace_offsets=offsets,
        trace_start=cat([p[1] for p in per_part], np.float64)[order],
        trace_end=cat(ends, np.float64)[order],
        weight=cat([p[2] for p in per_part], np.float64)[order],
        must_keep=cat([p[3] for p in per_part], np.bool_)[order],
        must_keep_reasons=dict(sorted(reasons.items())),
        has_root=cat([p[4] for p in per_part], np.bool_)[order],
        skipped=skipped,
        sources=sources,
        must_keep_unmatched=tuple(str(s) for s in manifest["must_keep_unmatched"]),
        formats={str(k): int(v) for k, v in manifest["formats"].items()},
        field_kinds={
            str(name): {str(k): int(v) for k, v in kinds.items()}
            for name, kinds in manifest["field_kinds"].items()
        },
    )


def _check_rows(part_rows: int) -> int:
    if isinstance(part_rows, bool) or not isinstance(part_rows, int) or part_rows < 1:
        raise UsageError("partition rows must be a whole number >= 1", got=part_rows)
    return part_rows


def build_parted(
    paths: Sequence[str | os.PathLike[str]] | str | os.PathLike[str],
    folder: str | os.PathLike[str],
    *,
    part_rows: int,
    chunk_bytes: int | None = None,
    buckets: int | None = None,
    batch_rows: int | None = None,
    workers: int = 0,
    **reading: Unpack[Reading],
) -> PartedCorpus:
    """Build the partitioned corpus of ``paths`` into ``folder`` (no cache), bounded memory.

    ``reading`` are :func:`load_corpus`'s options; ``part_rows`` is the rows a partition aims
    at. ``chunk_bytes``, ``buckets``, ``batch_rows`` (rows spilled at once) and ``workers``
    (0 = all cores parse) tune the build; the corpus is the same whatever they are.
    """
    request = corpus_request(paths, **reading)
    target = Path(folder)
    digest = request.digest()
    extra: dict[str, Any] = {}
    if buckets is not None:
        extra["buckets"] = buckets
    if batch_rows is not None:
        extra["batch_rows"] = batch_rows
    write_parted(
        request,
        digest,
        target,
        part_rows=_check_rows(part_rows),
        chunk_bytes=chunk_bytes,
        workers=workers,
        **extra,
    )
    return open_parted(target, request.displays)


def load_parted(
    paths: Sequence[str | os.PathLike[str]] | str | os.PathLike[str],
    *,
    part_rows: int,
    cache_dir: str | os.PathLike[str] | None = None,
    workers: int = 0,
    **reading: Unpack[Reading],
) -> PartedCorpus:
    """:func:`load_corpus`, partitioned by trace id: built once with bounded memory, then
    cached in the user's cache folder (an entry per digest and ``part_rows``).

    Raises:
        CorpusError: bad input, or a cache folder where the partitions cannot be written.
    """
    request = corpus_request(paths, **reading)
    settings = corpus_cache.cache_settings(cache_dir)
    return parted_in(
        request, settings.root, part_rows, max_bytes=settings.max_bytes, workers=workers
    )


def parted_in(
    request: CorpusRequest,
    root: Path,
    part_rows: int,
    *,
    max_bytes: int | None = None,
    chunk_bytes: int | None = None,
    workers: int = 0,
) -> PartedCorpus:
    """The partitioned corpus of ``request`` in folder ``root`` (reused when it is there and
    whole, else built); ``max_bytes``: ``root`` is a cache (with its file-digest index),
    kept within that size.

    Raises:
        CorpusError: bad input, or a folder where the partitions cannot be written.
    """
    cache = max_bytes is not None
    index = read_index(root) if cache else {}
    before = dict(index)
    digest = request.digest(index)
    target = parted_path(root, digest, _check_rows(part_rows))
    if target.is_dir():
        try:
            parted = open_parted(target, request.displays)
        except StoreError:
            corpus_cache.discard(target)  # damaged: rebuilt below
        else:
            if parted.digest == digest:
                corpus_cache.touch(target)
                if cache:
                    save_index(root, index, before)
                return parted
            corpus_cache.discard(target)
    try:
        write_parted(
            request, digest, target, part_rows=part_rows, chunk_bytes=chunk_bytes, workers=workers
        )
    except OSError as err:
        raise CorpusError(
            "cannot write the partitioned corpus",
            position=Position(str(root)),
            got=str(err),
            hint="set NECTAR_CACHE_DIR or [tool.nectar] cache to a writable folder",
        ) from None
    corpus_cache.touch(target)
    if max_bytes is not None:
        with contextlib.suppress(OSError):
            corpus_cache.evict(root, max_bytes, keep=target)
        save_index(root, index, before)
    return open_parted(target, request.displays)
