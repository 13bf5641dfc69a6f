"""Trace assembly: merge parsed chunks, group rows by trace, find roots, times and weights.

Refinery's rules (refinery-semantics.md section 3) decide what a trace is:

* the trace id is a non-empty string ``meta.trace_id`` if the event carries one (the
  router's metadata field wins), else the first of ``trace.trace_id``, ``traceId`` that
  holds a non-empty **string**; an event without one is passed through unsampled by
  Refinery, so it is not part of any trace: it is counted as skipped, with its record;
* an event with ``meta.refinery.probe: true`` is dropped by Refinery's router before any
  trace exists: skipped and counted;
* a row is a root iff neither ``trace.parent_id`` nor ``parentId`` holds a non-empty
  string, it is not a log (``meta.signal_type == "log"``) and it does not carry a literal
  ``meta.refinery.root: false`` (Refinery's router reads that bool first); span events and
  links always carry a parent, so they are never roots; when several roots arrive the last
  wins;
* traces are ordered by first appearance, rows inside a trace by arrival.

Traces without a root, orphans, duplicate span ids and clock skew are kept as they are;
``summary.py`` counts them.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import chain, compress, count, pairwise, repeat
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from pytest_nectar.corpus.buffer import HashedPool, PartialColumn, PartialTable
from pytest_nectar.corpus.context import FMT_NAMES
from pytest_nectar.corpus.table import (
    KIND_BOOL,
    KIND_FLOAT,
    KIND_INT,
    KIND_STRING,
    Column,
    Skipped,
    StringPool,
)

__all__ = ["Assembled", "Identified", "assemble", "concat_tables", "identify"]

_TRACE_NAMES = ("meta.trace_id", "trace.trace_id", "traceId")
_PARENT_NAMES = ("trace.parent_id", "parentId")


@dataclass(frozen=True)
class Assembled:
    """Everything of a corpus except labels and digest (see ``load.py``)."""

    trace_ids: tuple[str, ...]
    trace_offsets: npt.NDArray[np.int64]
    row_trace: npt.NDArray[np.int32]
    is_root: npt.NDArray[np.bool_]
    root_row: npt.NDArray[np.int64]
    row_time: npt.NDArray[np.float64]
    trace_start: npt.NDArray[np.float64]
    weight: npt.NDArray[np.float64]
    columns: dict[str, Column]
    skipped: tuple[Skipped, ...]
    formats: dict[str, int]
    #: Per row, the input row (over the chunks concatenated) it came from.
    source_row: npt.NDArray[np.int64]


@dataclass(frozen=True)
class Identified:
    """The trace of every row of one chunk, as :func:`assemble` decides it."""

    #: Per row, an index into ``names``; -1: not in any trace (skipped, see below).
    row_tid: npt.NDArray[np.int64]
    names: list[str]
    #: Rows without a trace id, and Refinery probes, with their skip records.
    no_id: list[Skipped]
    probes: list[Skipped]


@dataclass
class _Merged:
    """One column over several chunks: arrays kept per chunk until used, dictionaries
    merged in chunk order (a string keeps the code of its first appearance)."""

    rows: list[npt.NDArray[np.int64]] = field(default_factory=list)
    kind: list[npt.NDArray[np.uint8]] = field(default_factory=list)
    ints: list[npt.NDArray[np.int64]] = field(default_factory=list)
    floats: list[npt.NDArray[np.float64]] = field(default_factory=list)
    codes: list[npt.NDArray[np.int32]] = field(default_factory=list)
    #: Per chunk, its dictionary (until :meth:`merge_strings`); then the column's.
    dictionaries: list[Sequence[str]] = field(default_factory=list)
    strings: Sequence[str] = field(default_factory=list)
    others: dict[int, object] = field(default_factory=dict)
    size: int = 0
    #: The one kind of every entry of every chunk (0: several, or not known).
    single: int = 0

    def add(self, part: PartialColumn, offset: int) -> None:
        self.single = part.single if not self.rows or self.single == part.single else 0
        if part.others:
            self.others.update({self.size + i: v for i, v in part.others.items()})
        self.rows.append(part.rows + offset if offset else part.rows)
        self.kind.append(part.kind)
        self.ints.append(part.ints)
        self.floats.append(part.floats)
        self.codes.append(part.codes)
        self.dictionaries.append(part.strings)
        self.size += len(part.rows)

    def merge_strings(self) -> None:
        """One dictionary for the column, and every chunk's codes into it."""
        used = [i for i, strings in enumerate(self.dictionaries) if strings]
        if len(used) == 1:
            self.strings = self.dictionaries[used[0]]
        elif used:
            parts = [self.dictionaries[i] for i in used]
            merged: _Merge | None = None
            if all(isinstance(p, HashedPool) and p.hashes is not None for p in parts):
                merged = _merge_pools(parts)  # type: ignore[arg-type]
            if merged is None:
                parts = [list(p) for p in parts]
                if sum(map(len, parts)) >= _BY_HASH:
                    merged = _merge_by_hash(parts)
            self.strings, mappings = merged or _merge_by_dict(parts)
            for i, mapping in zip(used, mappings, strict=True):
                codes = self.codes[i]
                self.codes[i] = np.where(codes >= 0, mapping[np.maximum(codes, 0)], -1).astype(
                    np.int32
                )
        self.dictionaries = []

    def settle(self) -> None:
        """Concatenate the chunks' arrays (of one kind: only the array its values are in)."""
        if len(self.rows) == 1:
            return
        kind, n = self.single, self.size
        _cat(self.rows, np.int64)
        if not kind:
            for parts, dtype in (
                (self.kind, np.uint8),
                (self.ints, np.int64),
                (self.floats, np.float64),
                (self.codes, np.int32),
            ):
                _cat(parts, dtype)
            return
        self.kind[:] = [np.full(n, kind, dtype=np.uint8)]
        numbers = kind in (KIND_INT, KIND_BOOL)
        self.ints[:] = [_cat(self.ints, np.int64) if numbers else np.zeros(n, dtype=np.int64)]
        if kind in (KIND_INT, KIND_FLOAT):
            _cat(self.floats, np.float64)
        else:
            self.floats[:] = [np.zeros(n, dtype=np.float64)]
        if kind == KIND_STRING:
            _cat(self.codes, np.int32)
        else:
            self.codes[:] = [np.full(n, -1, dtype=np.int32)]

    def pool(self) -> StringPool:
        strings = self.strings
        if isinstance(strings, StringPool):
            return StringPool(strings.buffer, strings.offsets)
        return StringPool.from_strings(strings)


#: A merged dictionary, and per chunk its codes' new codes.
_Merge = tuple[Sequence[str], list[npt.NDArray[np.int32]]]
#: Dictionaries of this many strings in all are merged by sorting hashes, not in a dict
#: (a dict of millions of strings misses the cache on every lookup).
_BY_HASH: Final = 50_000
_hash: Callable[[object], int] = hash  # a name tests replace to force collisions


def _merge_by_dict(parts: Sequence[Sequence[str]]) -> _Merge:
    lookup = dict(zip(parts[0], count()))
    mappings = [np.arange(len(parts[0]), dtype=np.int32)]
    for strings in parts[1:]:
        new = [s for s in strings if s not in lookup]
        lookup.update(zip(new, count(len(lookup))))
        mappings.append(
            np.fromiter(map(lookup.__getitem__, strings), dtype=np.int32, count=len(strings))
        )
    return list(lookup), mappings


def _first_with_hash(hashes: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Per string, the first string with its hash."""
    n = len(hashes)
    order = np.argsort(hashes)
    ordered = hashes[order]
    starts = np.empty(n, dtype=bool)
    starts[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=starts[1:])
    earliest = np.minimum.reduceat(order, np.flatnonzero(starts))
    first = np.empty(n, dtype=np.int64)
    first[order] = earliest[np.cumsum(starts) - 1]
    return first


def _mappings(
    first: npt.NDArray[np.int64], sizes: list[int]
) -> tuple[npt.NDArray[np.bool_], list[npt.NDArray[np.int32]]]:
    """Which strings are new, and per part its codes in the merged dictionary."""
    is_first = first == np.arange(len(first))
    final = (np.cumsum(is_first, dtype=np.int64) - 1)[first].astype(np.int32)
    bounds = np.cumsum([0, *sizes]).tolist()
    return is_first, [final[a:b] for a, b in pairwise(bounds)]


def _merge_by_hash(parts: Sequence[Sequence[str]]) -> _Merge | None:
    """What :func:`_merge_by_dict` gives, from a stable sort of the strings' hashes; None on
    a hash collision between different strings (then the dict decides)."""
    every = list(chain.from_iterable(parts))
    first = _first_with_hash(np.fromiter(map(_hash, every), dtype=np.int64, count=len(every)))
    later = np.flatnonzero(first != np.arange(len(every)))
    at = every.__getitem__
    if not all(map(operator.eq, map(at, later.tolist()), map(at, first[later].tolist()))):
        return None
    is_first, mappings = _mappings(first, list(map(len, parts)))
    return list(compress(every, is_first.tolist())), mappings


def _merge_pools(pools: Sequence[HashedPool]) -> _Merge | None:
    """:func:`_merge_by_hash` on the chunks' encoded dictionaries, in numpy: strings with
    equal hashes are compared byte by byte, and the merged pool is cut from the chunks'."""
    hashes = [p.hashes for p in pools if p.hashes is not None]
    first = _first_with_hash(np.concatenate(hashes))
    joined = b"".join(bytes(p.buffer) for p in pools)
    buffer = np.frombuffer(joined, dtype=np.uint8)
    bases = np.cumsum([0, *(int(p.offsets[-1]) for p in pools)])
    starts = np.concatenate([p.offsets[:-1] + base for p, base in zip(pools, bases, strict=False)])
    lengths = np.concatenate([np.diff(p.offsets) for p in pools])
    later = np.flatnonzero(first != np.arange(len(first)))
    if later.size:
        earlier = first[later]
        if not np.array_equal(lengths[later], lengths[earlier]):
            return None
        width = int(lengths[0])
        if bool((lengths == width).all()) and width:  # one width (ids): rows of a matrix
            table = buffer.reshape(-1, width)
            same = np.array_equal(table[later], table[earlier])
        else:
            here = _byte_positions(starts[later], lengths[later])
            there = _byte_positions(starts[earlier], lengths[earlier])
            same = np.array_equal(buffer[here], buffer[there])
        if not same:
            return None
    is_first, mappings = _mappings(first, [len(p) for p in pools])
    if not later.size:  # no string in two chunks: the pools one after another
        offsets = np.concatenate([[0], starts[1:], [len(joined)]]).astype(np.int64)
        return StringPool(joined, offsets), mappings
    kept = lengths[is_first]
    offsets = np.zeros(len(kept) + 1, dtype=np.int64)
    np.cumsum(kept, out=offsets[1:])
    merged = buffer[np.repeat(is_first, lengths)].tobytes()
    return StringPool(merged, offsets), mappings


def _byte_positions(
    starts: npt.NDArray[np.int64], lengths: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """Every byte position of the strings at ``starts`` with ``lengths``, in order."""
    ends = np.cumsum(lengths)
    total = int(ends[-1]) if len(ends) else 0
    positions: npt.NDArray[np.int64] = np.arange(total) + np.repeat(
        starts - ends + lengths, lengths
    )
    return positions


def _merge(chunks: Sequence[PartialTable]) -> tuple[dict[str, _Merged], list[int]]:
    merged: dict[str, _Merged] = {}
    offsets = [0]
    for chunk in chunks:
        for name, part in chunk.columns.items():
            target = merged.get(name)
            if target is None:
                target = merged[name] = _Merged()
            target.add(part, offsets[-1])
        offsets.append(offsets[-1] + chunk.n_rows)
    for column in merged.values():
        column.merge_strings()
        column.settle()
    return merged, offsets


def concat_tables(chunks: Sequence[PartialTable]) -> PartialTable:
    """Chunks of one file as one table, rows in order (each column's dictionary merged)."""
    merged, offsets = _merge(chunks)
    columns = {
        name: PartialColumn(
            rows=_cat(col.rows, np.int64),
            kind=_cat(col.kind, np.uint8),
            ints=_cat(col.ints, np.int64),
            floats=_cat(col.floats, np.float64),
            codes=_cat(col.codes, np.int32),
            strings=col.strings,
            others=col.others,
        )
        for name, col in merged.items()
    }
    return PartialTable(
        n_rows=offsets[-1],
        row_time=_cat([c.row_time for c in chunks], np.float64),
        row_rate=_cat([c.row_rate for c in chunks], np.float64),
        row_format=_cat([c.row_format for c in chunks], np.uint8),
        row_record=_cat([c.row_record for c in chunks], np.int64),
        columns=columns,
        skipped=[s for c in chunks for s in c.skipped],
    )


def _cat(parts: list[npt.NDArray[Any]], dtype: type) -> npt.NDArray[Any]:
    """The parts as one array; the list keeps it, so a column is concatenated once."""
    if len(parts) != 1:
        parts[:] = [np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)]
    return parts[0]


def _string_rows(
    merged: dict[str, _Merged], name: str
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int32], Sequence[str]]:
    """Rows where ``name`` holds a string, their codes, and the dictionary."""
    col = merged.get(name)
    if col is None:
        return np.zeros(0, np.int64), np.zeros(0, np.int32), []
    rows = _cat(col.rows, np.int64)
    kind = _cat(col.kind, np.uint8)
    codes = _cat(col.codes, np.int32)
    mask = kind == KIND_STRING
    return rows[mask], codes[mask], col.strings


def _row_trace_ids(merged: dict[str, _Merged], n: int) -> tuple[npt.NDArray[np.int64], list[str]]:
    """Per row, a code into the returned trace-id list (-1: the event has no trace id)."""
    row_tid = np.full(n, -1, dtype=np.int64)
    names: list[str] = []
    lookup: dict[str, int] = {}
    for key in reversed(_TRACE_NAMES):  # the first name wins, so it is written last
        rows, codes, strings = _string_rows(merged, key)
        # An empty id is no id: Refinery passes such an event through unsampled.
        new = [s for s in strings if s and s not in lookup]
        lookup.update(zip(new, count(len(lookup))))
        mapping = np.fromiter(
            map(lookup.get, strings, repeat(-1)), dtype=np.int64, count=len(strings)
        )
        if len(rows):
            values = mapping[codes]
            usable = values >= 0
            row_tid[rows[usable]] = values[usable]
    names = list(lookup)
    return row_tid, names


def _has_parent(merged: dict[str, _Merged], n: int) -> npt.NDArray[np.bool_]:
    out = np.zeros(n, dtype=bool)
    for key in _PARENT_NAMES:
        rows, codes, strings = _string_rows(merged, key)
        nonempty = np.fromiter((len(s) > 0 for s in strings), dtype=bool, count=len(strings))
        if len(rows):
            out[rows[nonempty[codes]]] = True
    rows, codes, strings = _string_rows(merged, "meta.signal_type")
    if "log" in strings:
        out[rows[codes == strings.index("log")]] = True
    out[_bool_rows(merged, "meta.refinery.root", False)] = True
    return out


def _bool_rows(merged: dict[str, _Merged], name: str, value: bool) -> npt.NDArray[np.int64]:
    """Rows where ``name`` holds the bool ``value``."""
    col = merged.get(name)
    if col is None:
        return np.zeros(0, np.int64)
    rows = _cat(col.rows, np.int64)
    hit = (_cat(col.kind, np.uint8) == KIND_BOOL) & (_cat(col.ints, np.int64) == int(value))
    out: npt.NDArray[np.int64] = rows[hit]
    return out


def _permute(
    col: _Merged, name: str, new_index: npt.NDArray[np.int64] | None, n_new: int
) -> Column | None:
    """The column in corpus row order (``new_index`` None: rows stay where they are)."""
    old_rows = _cat(col.rows, np.int64)
    if new_index is None and bool((old_rows[1:] > old_rows[:-1]).all()):
        if not len(old_rows):
            return None
        return Column(  # chunks hold entries in row order: nothing moves
            name=name,
            rows=old_rows,
            kind=_cat(col.kind, np.uint8),
            ints=_cat(col.ints, np.int64),
            floats=_cat(col.floats, np.float64),
            codes=_cat(col.codes, np.int32),
            strings=col.pool(),
            others=col.others,
        )
    if new_index is None:
        new_index = np.arange(n_new, dtype=np.int64)
    new_rows = new_index[old_rows]
    keep = np.flatnonzero(new_rows >= 0)
    if keep.size == 0:
        return None
    if keep.size * 8 > n_new:
        pos = np.full(n_new, -1, dtype=np.int64)
        pos[new_rows[keep]] = keep
        order = pos[pos >= 0]
    else:
        order = keep[np.argsort(new_rows[keep], kind="stable")]
    others: dict[int, object] = {}
    if col.others:
        where = np.full(len(old_rows), -1, dtype=np.int64)
        where[order] = np.arange(len(order))
        others = {int(where[i]): v for i, v in col.others.items() if where[i] >= 0}
    return Column(
        name=name,
        rows=new_rows[order],
        kind=_cat(col.kind, np.uint8)[order],
        ints=_cat(col.ints, np.int64)[order],
        floats=_cat(col.floats, np.float64)[order],
        codes=_cat(col.codes, np.int32)[order],
        strings=col.pool(),
        others=others,
    )


def assemble(
    chunks: Sequence[PartialTable],
    chunk_files: Sequence[str],
    *,
    scale: float = 1.0,
    skipped: Sequence[Skipped] = (),
    arrival: npt.NDArray[np.int64] | None = None,
) -> Assembled:
    """Merge ``chunks`` (in input order; ``chunk_files[i]`` names chunk i's file).

    ``arrival`` (per row of the chunks concatenated) orders rows and traces instead of the
    concatenation: a partition built from spilled pieces of many chunks passes the rows'
    sequence numbers in the whole input.
    """
    merged, offsets = _merge(chunks)
    n = offsets[-1]
    row_time = _cat([c.row_time for c in chunks], np.float64)
    row_rate = _cat([c.row_rate for c in chunks], np.float64)
    row_format = _cat([c.row_format for c in chunks], np.uint8)
    row_record = _cat([c.row_record for c in chunks], np.int64)
    row_chunk = np.repeat(np.arange(len(chunks)), [c.n_rows for c in chunks])
    all_skipped = list(skipped)
    for file, chunk in zip(chunk_files, chunks, strict=True):
        all_skipped.extend(Skipped(file, r, reason) for r, reason in chunk.skipped)

    found = _identify(merged, n, row_record, row_chunk, chunk_files)
    row_tid, names = found.row_tid, found.names
    all_skipped.extend(found.no_id)
    all_skipped.extend(found.probes)
    file_order = {name: i for i, name in reversed(list(enumerate(chunk_files)))}
    all_skipped.sort(key=lambda s: (file_order.get(s.path, -1), s.record))
    kept = np.flatnonzero(row_tid >= 0)
    if arrival is not None:  # rows of several chunks interleaved: arrival order decides
        kept = kept[np.argsort(arrival[kept], kind="stable")]
    tids = row_tid[kept]
    uniq, first = np.unique(tids, return_index=True)
    order = np.argsort(first, kind="stable")
    rank = np.full(len(names), -1, dtype=np.int64)
    rank[uniq[order]] = np.arange(len(uniq))
    trace_of = rank[tids]
    n_new = len(kept)
    new_index: npt.NDArray[np.int64] | None = None
    if arrival is None and n_new == n and bool((trace_of[1:] >= trace_of[:-1]).all()):
        perm = kept  # every row kept, traces already contiguous in order: nothing moves
    else:
        perm = kept[np.argsort(trace_of, kind="stable")]
        new_index = np.full(n, -1, dtype=np.int64)
        new_index[perm] = np.arange(n_new)

    row_trace = rank[row_tid[perm]].astype(np.int32)
    n_traces = len(uniq)
    counts = np.bincount(row_trace, minlength=n_traces)
    trace_offsets = np.zeros(n_traces + 1, dtype=np.int64)
    np.cumsum(counts, out=trace_offsets[1:])
    is_root = ~_has_parent(merged, n)[perm]
    root_row = np.full(n_traces, -1, dtype=np.int64)
    roots = np.flatnonzero(is_root)
    np.maximum.at(root_row, row_trace[roots], roots)
    times = row_time[perm]
    trace_start = (
        np.fmin.reduceat(times, trace_offsets[:-1]) if n_traces else np.zeros(0, np.float64)
    )
    rates = row_rate[perm]
    weight_rows = np.where(root_row >= 0, root_row, trace_offsets[:-1])
    weight = rates[weight_rows] * scale if n_traces else np.zeros(0, np.float64)

    columns: dict[str, Column] = {}
    for name in sorted(merged):
        column = _permute(merged[name], name, new_index, n_new)
        if column is not None:
            columns[name] = column
    ordered_names = [names[i] for i in uniq[order].tolist()]
    formats: dict[str, int] = {}
    fmt_counts = np.bincount(row_format[perm], minlength=max(FMT_NAMES) + 1)
    for code, fmt_name in FMT_NAMES.items():
        if fmt_counts[code]:
            formats[fmt_name] = int(fmt_counts[code])
    return Assembled(
        trace_ids=tuple(ordered_names),
        trace_offsets=trace_offsets,
        row_trace=row_trace,
        is_root=is_root,
        root_row=root_row,
        row_time=times,
        trace_start=trace_start,
        weight=weight.astype(np.float64),
        columns=columns,
        skipped=tuple(all_skipped),
        formats=formats,
        source_row=perm,
    )


_NO_ID = "event has no trace id (no non-empty string trace.trace_id or traceId)"
_PROBE = "event is a Refinery probe (meta.refinery.probe: true): Refinery drops it"


def identify(chunk: PartialTable, file: str) -> Identified:
    """Each row's trace in one chunk of ``file``: the rules :func:`assemble` applies."""
    merged, _ = _merge([chunk])
    row_chunk = np.zeros(chunk.n_rows, dtype=np.int64)
    return _identify(merged, chunk.n_rows, chunk.row_record, row_chunk, [file])


def _identify(
    merged: dict[str, _Merged],
    n: int,
    row_record: npt.NDArray[np.int64],
    row_chunk: npt.NDArray[np.int64],
    chunk_files: Sequence[str],
) -> Identified:
    row_tid, names = _row_trace_ids(merged, n)

    def skips(rows: npt.NDArray[np.int64], reason: str) -> list[Skipped]:
        return [
            Skipped(chunk_files[int(row_chunk[row])], int(row_record[row]), reason)
            for row in rows.tolist()
        ]

    no_id = skips(np.flatnonzero(row_tid < 0), _NO_ID)
    probes = _bool_rows(merged, "meta.refinery.probe", True)
    probes = probes[row_tid[probes] >= 0]
    row_tid[probes] = -1
    return Identified(row_tid, names, no_id, skips(probes, _PROBE))
