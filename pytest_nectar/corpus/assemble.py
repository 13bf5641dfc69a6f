"""Trace assembly: parsed chunks (merged by ``chunks.py``) grouped by trace, with roots,
times and weights.

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

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import compress, count, repeat

import numpy as np
import numpy.typing as npt

from pytest_nectar.corpus.chunks import Constants, MergedColumn, cat, merge_chunks
from pytest_nectar.corpus.context import FMT_NAMES
from pytest_nectar.corpus.partial import PartialTable
from pytest_nectar.corpus.table import (
    KIND_BOOL,
    KIND_STRING,
    Column,
    Skipped,
    StringPool,
)

__all__ = ["Assembled", "Identified", "assemble", "identify"]

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


def _string_rows(
    merged: dict[str, MergedColumn], name: str
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int32], Sequence[str]]:
    """Rows where ``name`` holds a string, their codes, and the dictionary."""
    col = merged.get(name)
    if col is None:
        return np.zeros(0, np.int64), np.zeros(0, np.int32), []
    rows = cat(col.rows, np.int64)
    codes = cat(col.codes, np.int32)
    if col.single == KIND_STRING:  # every entry a string: nothing to pick
        return rows, codes, col.strings
    mask = cat(col.kind, np.uint8) == KIND_STRING
    return rows[mask], codes[mask], col.strings


def _nonempty(strings: Sequence[str]) -> npt.NDArray[np.bool_]:
    """Which strings of a dictionary are not empty (a pool's from its offsets, undecoded)."""
    if isinstance(strings, StringPool):
        return np.asarray(np.diff(strings.offsets) > 0)
    return np.fromiter(map(bool, strings), dtype=bool, count=len(strings))


def _row_trace_ids(
    merged: dict[str, MergedColumn], n: int
) -> tuple[npt.NDArray[np.int64], list[str]]:
    """Per row, a code into the returned trace-id list (-1: the event has no trace id)."""
    row_tid = np.full(n, -1, dtype=np.int64)
    present = [key for key in _TRACE_NAMES if key in merged]
    if len(present) == 1:  # one name (the common case): its dictionary, empty ids left out
        rows, codes, strings = _string_rows(merged, present[0])
        # An empty id is no id: Refinery passes such an event through unsampled.
        nonempty = _nonempty(strings)
        mapping = np.where(nonempty, np.cumsum(nonempty) - 1, -1)
        if len(rows):
            values = mapping[codes]
            usable = values >= 0
            row_tid[rows[usable]] = values[usable]
        return row_tid, list(compress(strings, nonempty.tolist()))
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
    return row_tid, list(lookup)


def _has_parent(merged: dict[str, MergedColumn], n: int) -> npt.NDArray[np.bool_]:
    out = np.zeros(n, dtype=bool)
    for key in _PARENT_NAMES:
        rows, codes, strings = _string_rows(merged, key)
        if len(rows):
            out[rows[_nonempty(strings)[codes]]] = True
    rows, codes, strings = _string_rows(merged, "meta.signal_type")
    if "log" in strings:
        out[rows[codes == strings.index("log")]] = True
    out[_bool_rows(merged, "meta.refinery.root", False)] = True
    return out


def _bool_rows(merged: dict[str, MergedColumn], name: str, value: bool) -> npt.NDArray[np.int64]:
    """Rows where ``name`` holds the bool ``value``."""
    col = merged.get(name)
    if col is None:
        return np.zeros(0, np.int64)
    rows = cat(col.rows, np.int64)
    hit = (cat(col.kind, np.uint8) == KIND_BOOL) & (cat(col.ints, np.int64) == int(value))
    out: npt.NDArray[np.int64] = rows[hit]
    return out


def _permute(
    col: MergedColumn,
    name: str,
    new_index: npt.NDArray[np.int64] | None,
    n_new: int,
    shared: Constants,
) -> Column | None:
    """The column in corpus row order (``new_index`` None: rows stay where they are)."""
    old_rows = cat(col.rows, np.int64)
    if new_index is None and bool((old_rows[1:] > old_rows[:-1]).all()):
        if not len(old_rows):
            return None
        return Column(  # chunks hold entries in row order: nothing moves
            name=name,
            rows=old_rows,
            kind=cat(col.kind, np.uint8),
            ints=cat(col.ints, np.int64),
            floats=cat(col.floats, np.float64),
            codes=cat(col.codes, np.int32),
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
        kind=take(cat(col.kind, np.uint8), order),
        ints=take(cat(col.ints, np.int64), order),
        floats=take(cat(col.floats, np.float64), order),
        codes=take(cat(col.codes, np.int32), order),
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
    merging = merge_chunks(chunks)
    merged, chunk_files = merging.columns, merging.files
    n = merging.offsets[-1]
    row_time = cat(merging.row_time, np.float64)
    row_rate = cat(merging.row_rate, np.float64)
    row_format = cat(merging.row_format, np.uint8)
    row_record = cat(merging.row_record, np.int64)
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
    merged = merge_chunks([(file, chunk)]).columns
    row_chunk = np.zeros(chunk.n_rows, dtype=np.int64)
    return _identify(merged, chunk.n_rows, chunk.row_record, row_chunk, [file])


def _identify(
    merged: dict[str, MergedColumn],
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
