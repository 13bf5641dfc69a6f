"""Build a columnar :class:`Corpus` straight from Python traces (for evaluator tests)."""

from __future__ import annotations

from collections.abc import Sequence

from pytest_nectar.corpus.from_traces import corpus_from_traces as _build
from pytest_nectar.corpus.table import Corpus
from pytest_nectar.trace import Trace


def corpus_from_traces(traces: Sequence[Trace], weights: Sequence[float] | None = None) -> Corpus:
    """The corpus holding ``traces`` in order, values exactly as given (ints are int64)."""
    return _build(traces, weights=weights, digest="test")
