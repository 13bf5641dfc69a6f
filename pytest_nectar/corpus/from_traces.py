"""A columnar :class:`Corpus` built straight from in-memory traces.

The simulator checks the vectorised evaluator against the reference one on the traces it
generates, and the evaluator's tests build corpora from hand-made traces; both need the
same exact conversion, values kept as given (``int`` is int64, ``float`` float64, strings
dictionary-encoded, lists and dicts as KIND_OTHER).  No timestamps: ``row_time`` and
``trace_start`` are NaN.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from pytest_nectar.corpus.table import (
    KIND_BOOL,
    KIND_FLOAT,
    KIND_INT,
    KIND_NULL,
    KIND_OTHER,
    KIND_STRING,
    Column,
    Corpus,
    StringPool,
)
from pytest_nectar.trace import Trace

__all__ = ["corpus_from_traces"]


def _kind(value: object) -> int:
    if value is None:
        return KIND_NULL
    if isinstance(value, bool):
        return KIND_BOOL
    if isinstance(value, int):
        return KIND_INT
    if isinstance(value, float):
        return KIND_FLOAT
    if isinstance(value, str):
        return KIND_STRING
    return KIND_OTHER


def _column(name: str, rows: list[int], values: list[object]) -> Column:
    k = len(values)
    kind = np.fromiter((_kind(v) for v in values), np.uint8, k)
    ints = np.zeros(k, np.int64)
    floats = np.zeros(k, np.float64)
    codes = np.full(k, -1, np.int32)
    strings: dict[str, int] = {}
    others: dict[int, object] = {}
    for e, value in enumerate(values):
        if isinstance(value, str):
            codes[e] = strings.setdefault(value, len(strings))
        elif isinstance(value, bool):
            ints[e] = int(value)
        elif isinstance(value, int):
            ints[e] = value
            floats[e] = float(value)
        elif isinstance(value, float):
            floats[e] = value
        elif value is not None:
            others[e] = value
    return Column(
        name,
        np.array(rows, np.int64),
        kind,
        ints,
        floats,
        codes,
        StringPool.from_strings(list(strings)),
        others,
    )


def corpus_from_traces(
    traces: Sequence[Trace],
    *,
    fields: Iterable[str] | None = None,
    weights: Sequence[float] | None = None,
    digest: str = "in-memory",
) -> Corpus:
    """The corpus holding ``traces`` in order; only the columns of ``fields`` when given."""
    wanted = None if fields is None else frozenset(fields)
    cells: dict[str, tuple[list[int], list[object]]] = {}
    offsets = [0]
    is_root: list[bool] = []
    root_rows: list[int] = []
    for trace in traces:
        last_root = -1  # the last root wins, as in Refinery
        for span in trace.spans:
            row = len(is_root)
            is_root.append(span.is_root)
            if span.is_root:
                last_root = row
            data = span.data
            names = data if wanted is None else [k for k in wanted if k in data]
            for name in names:
                rows, values = cells.setdefault(name, ([], []))
                rows.append(row)
                values.append(data[name])
        offsets.append(len(is_root))
        root_rows.append(last_root)
    n = len(traces)
    offsets_a = np.array(offsets, np.int64)
    return Corpus(
        trace_ids=tuple(t.trace_id for t in traces),
        trace_offsets=offsets_a,
        row_trace=np.repeat(np.arange(n, dtype=np.int32), np.diff(offsets_a)),
        is_root=np.array(is_root, np.bool_),
        root_row=np.array(root_rows, np.int64),
        row_time=np.full(len(is_root), np.nan),
        trace_start=np.full(n, np.nan),
        weight=np.ones(n, np.float64) if weights is None else np.array(weights, np.float64),
        must_keep=np.zeros(n, np.bool_),
        must_keep_reasons={},
        columns={name: _column(name, *cells[name]) for name in sorted(cells)},
        digest=digest,
    )
