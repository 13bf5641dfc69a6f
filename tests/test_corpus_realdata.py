"""Every real trace file (read in place from ../shared/realdata) ingests with the counts of
its SOURCES.md."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pytest_nectar.corpus import KIND_INT, KIND_STRING, Corpus, load_corpus, summarize
from tests.realdata import REALDATA, TRACE_FOLDERS, corpus_names

DATA = REALDATA
pytestmark = pytest.mark.usefixtures("realdata")

# file: (spans, traces, services, error spans, error traces), from realdata/SOURCES.md
EXPECTED = {
    "otlp/oteltui-test_data.json": (547, 141, 8, 107, 59),
    "otlp/highlight-samples-traces.json": (512, 28, 0, 6, 5),
    "otlp/highlight-samples-fs.json": (218, 2, 1, 114, 2),
    "otlp/otelproto-examples-trace.json": (1, 1, 1, 0, 0),
    "otlp/otelrust-expected-traces.json": (2, 1, 1, 0, 0),
    "jaeger/jaegerui-TraceFlamegraph-testTrace.json": (4, 1, 2, 0, 0),
    "jaeger/jaegerui-tableValues-spanAmongEachOtherGroupedAndSpans.json": (17, 1, 2, 0, 0),
    "jaeger/jaegerui-tableValues-spanLongerAsParent.json": (8, 1, 2, 0, 0),
    "jaeger/jaegerui-tableValues-testTraceNormal.json": (5, 1, 2, 0, 0),
    "jaeger/jaegerui-tableValues-testTrace.json": (11, 1, 2, 1, 1),
    # Zipkin: services counted over local and remote endpoints, errors = `error` tag.
    "zipkin/smartthings-mobile-web-install.json": (1041, 1, 16, 2, 1),
    "zipkin/messaging-kafka.json": (28, 1, 3, 3, 1),
    "zipkin/messaging2.json": (11, 1, 5, 0, 0),
    "zipkin/messaging.json": (4, 1, 3, 0, 0),
    "zipkin/ascend.json": (8, 1, 3, 0, 0),
    "zipkin/simple-db-p6.json": (5, 1, 2, 0, 0),
    "zipkin/envoy.json": (1, 1, 0, 0, 0),
    "honeycomb/refinery-sampledata.json": (9, 1, 0, 0, 0),
}


def _strings(corpus: Corpus, name: str) -> set[str]:
    column = corpus.columns.get(name)
    if column is None:
        return set()
    return {column.strings[int(c)] for c in column.codes[column.kind == KIND_STRING]}


def test_every_trace_file_is_covered() -> None:
    assert set(corpus_names()) == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_file_counts(name: str) -> None:
    spans, traces, services, error_spans, error_traces = EXPECTED[name]
    corpus = load_corpus(DATA / name, cache=False)
    summary = summarize(corpus)
    assert summary["spans"] == spans
    assert summary["traces"] == traces
    names = _strings(corpus, "service.name")
    if name.startswith("zipkin/"):
        names |= _strings(corpus, "peer.service")
    assert len(names) == services
    assert summary["error_spans"] == error_spans
    assert summary["error_traces"] == error_traces
    assert corpus.trace_offsets[-1] == corpus.n_rows == summary["events"]


def test_otel_demo_capture_skips_metrics_and_logs_with_reasons() -> None:
    corpus = load_corpus(DATA / "otlp/oteltui-test_data.json", cache=False)
    reasons = summarize(corpus)["skipped"]["reasons"]
    assert reasons == {"non-trace record (OTLP metrics)": 40, "non-trace record (OTLP logs)": 16}
    assert all(s.path.endswith("oteltui-test_data.json") and s.record > 0 for s in corpus.skipped)
    # 97 lines: every line is either in the corpus or skipped.
    lines = (DATA / "otlp/oteltui-test_data.json").read_text().splitlines()
    assert len(lines) == 97 and 97 - 56 == 41


def test_otel_demo_http_status_code_keeps_int_and_string() -> None:
    corpus = load_corpus(DATA / "otlp/oteltui-test_data.json", cache=False)
    column = corpus.columns["http.status_code"]
    counts = column.kind_counts()
    assert counts["int"] > 0 and counts["string"] > 0
    assert set(counts) == {"int", "string"}
    # 100 spans with an HTTP status >= 500 (SOURCES.md), whatever the type it arrived in.
    fives = set()
    for field in ("http.status_code", "http.response.status_code"):
        col = corpus.columns.get(field)
        if col is None:
            continue
        for i in range(len(col)):
            value = col.value_at(i)
            number = int(value) if isinstance(value, str) and value.isdigit() else value
            if isinstance(number, int) and number >= 500:
                fives.add(int(col.rows[i]))
    assert len(fives) == 100
    ints = column.kind == KIND_INT
    assert column.ints[ints].dtype == np.int64


def test_otel_demo_durations_match_sources() -> None:
    corpus = load_corpus(DATA / "otlp/oteltui-test_data.json", cache=False)
    column = corpus.columns["duration_ms"]
    spans = ~np.isin(column.rows, _annotation_rows(corpus))
    values = column.floats[spans]
    assert values.size == 547
    assert round(float(values.min()), 5) == 0.00543
    assert round(float(values.max()), 1) == 48510.4


def _annotation_rows(corpus: Corpus) -> np.ndarray:
    col = corpus.columns.get("meta.annotation_type")
    return np.zeros(0, np.int64) if col is None else col.rows


def test_honeycomb_sample_is_one_trace_with_its_root() -> None:
    corpus = load_corpus(DATA / "honeycomb/refinery-sampledata.json", cache=False)
    assert corpus.trace_ids == ("eyedee",)
    trace = corpus.trace(0)
    assert trace.root is not None and "trace.parent_id" not in trace.root.data
    # Refinery's JSON API makes every number a float64.
    assert all(isinstance(s.data["duration_ms"], float) for s in trace.spans)
    ints = load_corpus(DATA / "honeycomb/refinery-sampledata.json", cache=False, json_ints=True)
    assert all(type(s.data["duration_ms"]) is int for s in ints.trace(0).spans)


def test_folder_of_all_files_loads_as_one_corpus(tmp_path: Path) -> None:
    corpus = load_corpus([DATA / folder for folder in TRACE_FOLDERS], cache_dir=tmp_path)
    assert corpus.n_traces == sum(v[1] for v in EXPECTED.values())
    assert set(corpus.formats) == {"otlp", "jaeger", "zipkin", "honeycomb"}
    assert len(corpus.sources) == len(EXPECTED)
