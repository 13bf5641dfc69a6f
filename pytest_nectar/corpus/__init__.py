"""The trace corpus: real traces as the flat events Refinery sees, in numpy columns.

``load_corpus(paths)`` reads OTLP JSON (requests or collector JSON Lines), Jaeger JSON,
Zipkin v2 JSON and Honeycomb events, flattens spans exactly as Husky does, groups events
into traces as Refinery does, and caches the columnar result on disk.  See ``table.py``
for the layout the evaluator and prover read.
"""

from __future__ import annotations

from pytest_nectar.corpus.load import load_corpus
from pytest_nectar.corpus.summary import summarize
from pytest_nectar.corpus.table import (
    KIND_BOOL,
    KIND_FLOAT,
    KIND_INT,
    KIND_NULL,
    KIND_OTHER,
    KIND_STRING,
    Column,
    Corpus,
    Skipped,
    StringPool,
)

__all__ = [
    "KIND_BOOL",
    "KIND_FLOAT",
    "KIND_INT",
    "KIND_NULL",
    "KIND_OTHER",
    "KIND_STRING",
    "Column",
    "Corpus",
    "Skipped",
    "StringPool",
    "load_corpus",
    "summarize",
]
