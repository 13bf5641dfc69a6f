"""Build a columnar :class:`Corpus` straight from Python traces (for evaluator tests)."""

from __future__ import annotations

from collections.abc import Sequence

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
from pytest_nectar.trace_model import Trace


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


def corpus_from_traces(traces: Sequence[Trace], weights: Sequence[float] | None = None) -> Corpus:
    """The corpus holding ``traces`` in order, values exactly as given (ints are int64)."""
    cells: dict[str, list[tuple[int, object]]] = {}
    offsets = [0]
    is_root: list[bool] = []
    row_trace: list[int] = []
    for t, trace in enumerate(traces):
        for span in trace.spans:
            row = len(is_root)
            is_root.append(span.is_root)
            row_trace.append(t)
            for name, value in span.data.items():
                cells.setdefault(name, []).append((row, value))
        offsets.append(len(is_root))
    columns = {}
    for name, entries in sorted(cells.items()):
        k = len(entries)
        kind = np.zeros(k, np.uint8)
        ints = np.zeros(k, np.int64)
        floats = np.zeros(k, np.float64)
        codes = np.full(k, -1, np.int32)
        strings: dict[str, int] = {}
        others: dict[int, object] = {}
        for e, (_, value) in enumerate(entries):
            kind[e] = _kind(value)
            if isinstance(value, bool):
                ints[e] = int(value)
            elif isinstance(value, int):
                ints[e] = value
                floats[e] = float(value)
            elif isinstance(value, float):
                floats[e] = value
            elif isinstance(value, str):
                codes[e] = strings.setdefault(value, len(strings))
            elif value is not None:
                others[e] = value
        columns[name] = Column(
            name,
            np.array([r for r, _ in entries], np.int64),
            kind,
            ints,
            floats,
            codes,
            StringPool.from_strings(list(strings)),
            others,
        )
    n_traces = len(traces)
    offsets_a = np.array(offsets, np.int64)
    root_row = np.full(n_traces, -1, np.int64)
    for t in range(n_traces):
        for r in range(offsets[t], offsets[t + 1]):
            if is_root[r]:
                root_row[t] = r
    return Corpus(
        trace_ids=tuple(t.trace_id for t in traces),
        trace_offsets=offsets_a,
        row_trace=np.array(row_trace, np.int32),
        is_root=np.array(is_root, np.bool_),
        root_row=root_row,
        row_time=np.full(len(is_root), np.nan),
        trace_start=np.full(n_traces, np.nan),
        weight=np.array(weights if weights is not None else [1.0] * n_traces, np.float64),
        must_keep=np.zeros(n_traces, np.bool_),
        must_keep_reasons={},
        columns=columns,
        digest="test",
    )
