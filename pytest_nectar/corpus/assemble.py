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

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import count, repeat
from typing import Any

import numpy as np
import numpy.typing as npt

from pytest_nectar.corpus.buffer import HashedPool, PartialColumn, PartialTable
from pytest_nectar.corpus.context import FMT_NAMES
from pytest_nectar.corpus.dictionaries import (
    BY_HASH,
    GrowingPool,
    Merge,
    merge_by_dict,
    merge_by_hash,
    merge_pools,
)
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


class _Constants:
    """Arrays of one value, and ``0 .. n - 1``, shared by every column that has them: each
    is made (and paged in, and written to the store) once, not once per column.  They are
    read-only, so no column can change another's."""

    def __init__(self) -> None:
        self._made: dict[tuple[object, str, int], npt.NDArray[Any]] = {}
        #: id of a shared array of one value -> (value, dtype, the array)
        self._value_of: dict[int, tuple[int, type, npt.NDArray[Any]]] = {}

    def _shared(self, key: tuple[object, str, int], make: Callable[[], npt.NDArray[Any]]) -> Any:
        array = self._made.get(key)
        if array is None:
            array = self._made[key] = make()
            array.flags.writeable = False
        return array

    def arange(self, n: int) -> npt.NDArray[np.int64]:
        return self._shared(("arange", "i8", n), lambda: np.arange(n, dtype=np.int64))  # type: ignore[no-any-return]

    def full(self, n: int, value: int, dtype: type) -> npt.NDArray[Any]:
        # Zeros come from calloc: pages nobody reads are never touched (the store skips them).
        array = self._shared(
            (value, np.dtype(dtype).str, n),
            lambda: np.zeros(n, dtype=dtype) if value == 0 else np.full(n, value, dtype=dtype),
        )
        self._value_of[id(array)] = (value, dtype, array)
        return array  # type: ignore[no-any-return]

    def take(self, array: npt.NDArray[Any], order: npt.NDArray[np.int64]) -> npt.NDArray[Any]:
        """``array[order]``; a shared array of one value gives the shared one of its length."""
        known = self._value_of.get(id(array))
        if known is not None and known[2] is array:
            return self.full(len(order), known[0], known[1])
        return array[order]


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
    #: The dictionaries of chunks ``[0, merged)``, merged as they came (None: when done).
    growing: GrowingPool | None = field(default_factory=GrowingPool)
    merged: int = 0
    others: dict[int, object] = field(default_factory=dict)
    size: int = 0
    #: In every row of every chunk from the first to the last it is in: ``rows`` is left
    #: empty until :meth:`settle` (it is 0 .. size - 1).
    dense: bool = True
    #: The one kind of every entry of every chunk (0: several, or not known).
    single: int = 0

    def add(self, part: PartialColumn, offset: int, n_rows: int) -> None:
        """Add the column's part of the chunk of ``n_rows`` rows from row ``offset``."""
        self.single = part.single if not self.kind or self.single == part.single else 0
        if part.others:
            self.others.update({self.size + i: v for i, v in part.others.items()})
        n = len(part.rows)
        if not (self.dense and offset == self.size and n == n_rows):  # rows ascend: all
            if self.dense:
                self.rows = [np.arange(self.size, dtype=np.int64)]
                self.dense = False
            self.rows.append(part.rows + offset if offset else part.rows)
        self.kind.append(part.kind)
        self.ints.append(part.ints)
        self.floats.append(part.floats)
        self.codes.append(part.codes)
        self.dictionaries.append(part.strings)
        self.size += len(part.rows)
        if self.growing is not None and self.merged == len(self.dictionaries) - 1:
            self._merge_last()

    def _merge_last(self) -> None:
        """Merge the last chunk's dictionary now, while later chunks are parsed (only
        dictionaries that came from workers with hashes; anything else waits)."""
        assert self.growing is not None
        strings = self.dictionaries[-1]
        if strings:
            if not isinstance(strings, HashedPool):
                return
            first = not len(self.growing)
            mapping = self.growing.add(strings)
            if mapping is None:
                return
            if not first:  # the first dictionary's codes are its own
                self._recode(len(self.dictionaries) - 1, mapping)
            self.dictionaries[-1] = []
        self.merged += 1

    def merge_strings(self) -> None:
        """One dictionary for the column, and every chunk's codes into it (the chunks
        :meth:`add` merged as they came are in ``growing``; the rest are merged here)."""
        groups: list[tuple[Sequence[str], list[int]]] = []
        if self.growing is not None and len(self.growing):
            groups.append((self.growing.pool(), list(range(self.merged))))
        groups += [
            (strings, [i])
            for i, strings in enumerate(self.dictionaries[self.merged :], self.merged)
            if strings
        ]
        self.growing = None
        self.dictionaries = []
        if len(groups) == 1:
            self.strings = groups[0][0]
        elif groups:
            parts = [strings for strings, _ in groups]
            merged: Merge | None = None
            if all(isinstance(p, HashedPool) and p.hashes is not None for p in parts):
                merged = merge_pools(parts)  # type: ignore[arg-type]
            if merged is None:
                parts = [list(p) for p in parts]
                if sum(map(len, parts)) >= BY_HASH:
                    merged = merge_by_hash(parts)
            self.strings, mappings = merged or merge_by_dict(parts)
            for (_, chunks), mapping in zip(groups, mappings, strict=True):
                for i in chunks:
                    self._recode(i, mapping)

    def _recode(self, chunk: int, mapping: npt.NDArray[np.int32]) -> None:
        codes = self.codes[chunk]
        self.codes[chunk] = np.where(codes >= 0, mapping[np.maximum(codes, 0)], -1).astype(np.int32)

    def settle(self, shared: _Constants) -> None:
        """Concatenate the chunks' arrays (of one kind: only the array its values are in;
        the others, and the rows of a field every row has, are ``shared``)."""
        kind, n = self.single, self.size
        if self.dense:
            self.rows[:] = [shared.arange(n)]
        else:
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
        self.kind[:] = [shared.full(n, kind, np.uint8)]
        numbers = kind in (KIND_INT, KIND_BOOL)
        self.ints[:] = [_cat(self.ints, np.int64) if numbers else shared.full(n, 0, np.int64)]
        if kind in (KIND_INT, KIND_FLOAT):
            _cat(self.floats, np.float64)
        else:
            self.floats[:] = [shared.full(n, 0, np.float64)]
        if kind == KIND_STRING:
            _cat(self.codes, np.int32)
        else:
            self.codes[:] = [shared.full(n, -1, np.int32)]

    def pool(self) -> StringPool:
        strings = self.strings
        if isinstance(strings, StringPool):
            return StringPool(strings.buffer, strings.offsets)
        return StringPool.from_strings(strings)


@dataclass
class _Merging:
    """Chunks merged one at a time, in input order, each dropped once it is in: the
    columns (dictionaries merged as they come) and the per-row arrays, per chunk."""

    columns: dict[str, _Merged] = field(default_factory=dict)
    offsets: list[int] = field(default_factory=lambda: [0])
    row_time: list[npt.NDArray[np.float64]] = field(default_factory=list)
    row_rate: list[npt.NDArray[np.float64]] = field(default_factory=list)
    row_format: list[npt.NDArray[np.uint8]] = field(default_factory=list)
    row_record: list[npt.NDArray[np.int64]] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    #: (file, record, reason) of every chunk's skipped records, in chunk order.
    skipped: list[Skipped] = field(default_factory=list)
    shared: _Constants = field(default_factory=_Constants)

    def add(self, file: str, chunk: PartialTable) -> None:
        for name, part in chunk.columns.items():
            target = self.columns.get(name)
            if target is None:
                target = self.columns[name] = _Merged()
            target.add(part, self.offsets[-1], chunk.n_rows)
        self.offsets.append(self.offsets[-1] + chunk.n_rows)
        self.row_time.append(chunk.row_time)
        self.row_rate.append(chunk.row_rate)
        self.row_format.append(chunk.row_format)
        self.row_record.append(chunk.row_record)
        self.files.append(file)
        self.skipped.extend(Skipped(file, r, reason) for r, reason in chunk.skipped)

    def finish(self) -> dict[str, _Merged]:
        for column in self.columns.values():
            column.merge_strings()
            column.settle(self.shared)
        return self.columns


def _merge(chunks: Iterable[tuple[str, PartialTable]]) -> _Merging:
    merging = _Merging()
    for file, chunk in chunks:
        merging.add(file, chunk)
    merging.finish()
    return merging


def concat_tables(chunks: Sequence[PartialTable]) -> PartialTable:
    """Chunks of one file as one table, rows in order (each column's dictionary merged)."""
    merging = _merge(("", chunk) for chunk in chunks)
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
        for name, col in merging.columns.items()
    }
    return PartialTable(
        n_rows=merging.offsets[-1],
        row_time=_cat(merging.row_time, np.float64),
        row_rate=_cat(merging.row_rate, np.float64),
        row_format=_cat(merging.row_format, np.uint8),
        row_record=_cat(merging.row_record, np.int64),
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
    col: _Merged,
    name: str,
    new_index: npt.NDArray[np.int64] | None,
    n_new: int,
    shared: _Constants,
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
    take = shared.take
    return Column(
        name=name,
        # A field every row has is in every kept row: its rows are 0 .. n_new - 1.
        rows=shared.arange(n_new) if col.dense and col.size == len(new_index) else new_rows[order],
        kind=take(_cat(col.kind, np.uint8), order),
        ints=take(_cat(col.ints, np.int64), order),
        floats=take(_cat(col.floats, np.float64), order),
        codes=take(_cat(col.codes, np.int32), order),
        strings=col.pool(),
        others=others,
    )


def assemble(
    chunks: Iterable[tuple[str, PartialTable]],
    *,
    scale: float = 1.0,
    skipped: Sequence[Skipped] = (),
    arrival: npt.NDArray[np.int64] | None = None,
) -> Assembled:
    """Merge ``chunks``, ``(file, chunk)`` in input order, each as soon as it comes (an
    iterator of chunks being parsed is merged while the later ones are parsed).

    ``arrival`` (per row of the chunks concatenated) orders rows and traces instead of the
    concatenation: a partition built from spilled pieces of many chunks passes the rows'
    sequence numbers in the whole input.
    """
    merging = _merge(chunks)
    merged, chunk_files = merging.columns, merging.files
    n = merging.offsets[-1]
    row_time = _cat(merging.row_time, np.float64)
    row_rate = _cat(merging.row_rate, np.float64)
    row_format = _cat(merging.row_format, np.uint8)
    row_record = _cat(merging.row_record, np.int64)
    row_chunk = np.repeat(np.arange(len(chunk_files)), np.diff(merging.offsets))
    all_skipped = [*skipped, *merging.skipped]

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
        column = _permute(merged[name], name, new_index, n_new, merging.shared)
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
    merged = _merge([(file, chunk)]).columns
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
