"""Partitions of a corpus stacked back into one in-memory corpus, in corpus order.

``PartedCorpus.to_corpus`` (small corpora, tests) puts every partition's rows back where
the in-memory corpus has them: each trace's rows at its offsets, each column's entries
renumbered and sorted by row, the dictionaries merged (values are equal to the in-memory
corpus's entry by entry; a dictionary's order may differ).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from pytest_nectar.corpus.table import Column, Corpus, StringPool

__all__ = ["Rows", "cat", "stack_rows"]


@dataclass(frozen=True)
class Rows:
    """The per-row arrays and columns of a corpus (its per-trace arrays are elsewhere)."""

    row_trace: npt.NDArray[np.int32]
    is_root: npt.NDArray[np.bool_]
    root_row: npt.NDArray[np.int64]
    row_time: npt.NDArray[np.float64]
    columns: dict[str, Column]


def cat(parts: Sequence[npt.NDArray[Any]], dtype: type) -> npt.NDArray[Any]:
    """``parts`` concatenated as ``dtype`` (an empty array of it when there are none)."""
    return np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros(0, dtype=dtype)


def stack_rows(
    parts: Sequence[Corpus],
    trace_part: npt.NDArray[np.int32],
    trace_local: npt.NDArray[np.int64],
    trace_offsets: npt.NDArray[np.int64],
) -> Rows:
    """The rows of ``parts`` renumbered into corpus order: global trace ``t`` is trace
    ``trace_local[t]`` of partition ``trace_part[t]``, its rows ``trace_offsets[t]:[t + 1]``."""
    n_traces, n_rows = len(trace_part), int(trace_offsets[-1])
    part_base = np.zeros(len(parts) + 1, dtype=np.int64)
    np.cumsum([c.n_rows for c in parts], out=part_base[1:])
    local_start = cat([c.trace_offsets[:-1] for c in parts], np.int64)
    trace_base = np.zeros(len(parts) + 1, dtype=np.int64)
    np.cumsum([c.n_traces for c in parts], out=trace_base[1:])
    # Stacked: partition 0's rows, then partition 1's...  Each global trace's stacked start:
    stacked_start = part_base[trace_part] + local_start[trace_base[trace_part] + trace_local]
    lengths = np.diff(trace_offsets)
    row_src = np.repeat(stacked_start - trace_offsets[:-1], lengths) + np.arange(n_rows)
    new_of = np.empty(n_rows, dtype=np.int64)
    new_of[row_src] = np.arange(n_rows)
    root_local = cat([c.root_row for c in parts], np.int64)[trace_base[trace_part] + trace_local]
    root_row = np.where(
        root_local >= 0,
        root_local + part_base[trace_part] - stacked_start + trace_offsets[:-1],
        -1,
    )
    names = sorted({name for c in parts for name in c.columns})
    columns = {
        name: _merge_column(
            name,
            [
                (c.columns[name], int(base))
                for c, base in zip(parts, part_base[:-1], strict=True)
                if name in c.columns
            ],
            new_of,
        )
        for name in names
    }
    return Rows(
        row_trace=np.repeat(np.arange(n_traces, dtype=np.int32), lengths),
        is_root=cat([c.is_root for c in parts], np.bool_)[row_src],
        root_row=root_row.astype(np.int64),
        row_time=cat([c.row_time for c in parts], np.float64)[row_src],
        columns=columns,
    )


def _merge_column(
    name: str, pieces: list[tuple[Column, int]], new_of: npt.NDArray[np.int64]
) -> Column:
    lookup: dict[str, int] = {}
    codes = []
    for column, _ in pieces:
        mapping = np.fromiter(
            (lookup.setdefault(s, len(lookup)) for s in column.strings),
            dtype=np.int32,
            count=len(column.strings),
        )
        own = np.asarray(column.codes, dtype=np.int32)
        codes.append(np.where(own >= 0, mapping[np.maximum(own, 0)], -1) if len(mapping) else own)
    rows = new_of[cat([np.asarray(c.rows) + base for c, base in pieces], np.int64)]
    order = np.argsort(rows, kind="stable")
    others: dict[int, object] = {}
    if any(c.others for c, _ in pieces):
        where = np.empty(len(order), dtype=np.int64)
        where[order] = np.arange(len(order))
        start = 0
        for column, _ in pieces:
            others.update({int(where[start + i]): v for i, v in column.others.items()})
            start += len(column)
    return Column(
        name=name,
        rows=rows[order],
        kind=cat([c.kind for c, _ in pieces], np.uint8)[order],
        ints=cat([c.ints for c, _ in pieces], np.int64)[order],
        floats=cat([c.floats for c, _ in pieces], np.float64)[order],
        codes=cat(codes, np.int32)[order],
        strings=StringPool.from_strings(list(lookup)),
        others=dict(sorted(others.items())),
    )
