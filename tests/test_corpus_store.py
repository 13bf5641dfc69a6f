"""The columnar store and cache on the real files: exact round trip, reuse, digest stability,
must-keep labels (the cache's location, cap and repair: test_corpus_cache.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import pytest_nectar.corpus.load as load_module
from pytest_nectar.cli import main
from pytest_nectar.corpus import Corpus, load_corpus
from pytest_nectar.corpus.ingest import IngestOptions, read_file
from tests.realdata import REALDATA

pytestmark = pytest.mark.usefixtures("realdata")

DATA = REALDATA
DEMO = DATA / "otlp" / "oteltui-test_data.json"
PROTO = DATA / "otlp" / "otelproto-examples-trace.json"
EVENTS = DATA / "honeycomb" / "refinery-sampledata.json"


def _same(a: Corpus, b: Corpus) -> None:
    assert a.trace_ids == b.trace_ids and a.digest == b.digest
    for name in ("trace_offsets", "row_trace", "is_root", "root_row", "weight", "must_keep"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    for name in ("row_time", "trace_start"):
        assert np.array_equal(getattr(a, name), getattr(b, name), equal_nan=True), name
    assert list(a.columns) == list(b.columns)
    assert [t for t in a.iter_traces()] == [t for t in b.iter_traces()]
    assert a.skipped == b.skipped and a.must_keep_reasons == b.must_keep_reasons


def test_digest_is_stable_across_runs_and_machines() -> None:
    # Content + options + store version only: these values go into lockfiles (store version 3:
    # Jaeger log times in microseconds, router metadata, Go-typed number ranges).
    assert load_corpus(PROTO, cache=False).digest == (
        "c42f303cb938ad6fb34fd0e2123f2ec9bb5b7daade0e16d4a724590ffae2479a"
    )
    assert load_corpus(EVENTS, cache=False).digest == (
        "1c20d096fb6a2e95722793c2c1d20c69b271bf5e98a45fa2591a25ceee1bf118"
    )
    assert (
        load_corpus(EVENTS, cache=False, json_ints=True).digest
        != load_corpus(EVENTS, cache=False).digest
    )


def test_digest_ignores_file_names_but_not_content(tmp_path: Path) -> None:
    copy = tmp_path / "renamed.json"
    shutil.copy(PROTO, copy)
    assert load_corpus(copy, cache=False).digest == load_corpus(PROTO, cache=False).digest
    copy.write_text(PROTO.read_text().replace("some value", "other value"))
    assert load_corpus(copy, cache=False).digest != load_corpus(PROTO, cache=False).digest


def test_cache_is_reused_and_round_trips_exactly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fresh = load_corpus(DEMO, cache_dir=tmp_path)
    stores = list(tmp_path.glob("corpus-*"))
    assert len(stores) == 1 and (stores[0] / "meta.json").is_file()

    def no_parse(*args: object, **kwargs: object) -> Corpus:
        raise AssertionError("the cache was not used")

    monkeypatch.setattr(load_module, "build_corpus", no_parse)
    cached = load_corpus(DEMO, cache_dir=tmp_path)
    _same(fresh, cached)
    assert not cached.columns["name"].rows.flags.writeable  # a view of the mapped store


def test_changed_input_rebuilds(tmp_path: Path) -> None:
    path = tmp_path / "in" / "events.jsonl"
    path.parent.mkdir()
    shutil.copy(EVENTS, path)
    first = load_corpus(path, cache_dir=tmp_path / "cache")
    with open(path, "a") as fh:
        fh.write('{"trace.trace_id": "other", "duration_ms": 1}\n')
    second = load_corpus(path, cache_dir=tmp_path / "cache")
    assert second.n_traces == first.n_traces + 1 and second.digest != first.digest


def test_parallel_chunks_equal_serial_read(tmp_path: Path) -> None:
    opts = IngestOptions()
    serial = read_file(DEMO, "demo", opts, workers=1)
    parallel = read_file(DEMO, "demo", opts, workers=2, chunk_bytes=64 * 1024)
    assert len(serial.chunks) == 1 and len(parallel.chunks) > 2
    a = load_module.build_corpus([(DEMO, "demo")], opts, "x", workers=1)
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setattr("pytest_nectar.corpus.ingest.PARALLEL_BYTES", 64 * 1024)
    try:
        b = load_module.build_corpus([(DEMO, "demo")], opts, "x", workers=2)
    finally:
        monkeypatch.undo()
    _same(a, b)
    assert [s.record for s in a.skipped] == [s.record for s in b.skipped]


def test_must_keep_file_and_attribute(tmp_path: Path) -> None:
    corpus = load_corpus(DEMO, cache=False)
    chosen = corpus.trace_ids[3]
    keep = tmp_path / "keep.txt"
    keep.write_text(f"# critical\n{chosen}  INC-7 checkout outage\nffffffffffffffff\n")
    labelled = load_corpus(
        DEMO, cache=False, must_keep_file=keep, must_keep_attribute="app.payment.charged"
    )
    assert labelled.must_keep[3]
    assert labelled.must_keep_reasons[3] == f"{keep}:2: INC-7 checkout outage"
    assert labelled.must_keep_unmatched == ("ffffffffffffffff",)
    column = corpus.columns.get("app.payment.charged")
    if column is not None:
        marked = set(corpus.row_trace[column.rows[column.ints != 0]].tolist())
        assert marked <= set(np.flatnonzero(labelled.must_keep).tolist())
    assert labelled.digest != corpus.digest


def test_cli_stats_json_and_ingest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["corpus", "stats", str(DEMO), "--json", "--cache-dir", str(tmp_path)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert {
        "spans",
        "traces",
        "events",
        "services",
        "error_traces",
        "roots_missing",
        "duration_s",
        "skipped",
    } <= set(summary)
    assert (summary["spans"], summary["traces"], summary["error_traces"]) == (547, 141, 59)
    assert summary["skipped"]["count"] == 56
    assert len(json.dumps(summary)) < 64_000  # bounded: it goes into prompts
    out = tmp_path / "store"
    assert main(["corpus", "ingest", str(DEMO), "-o", str(out), "--no-cache"]) == 0
    line = capsys.readouterr().out
    assert "739 events, 141 traces, 56 skipped; digest " in line
    assert len(list(out.glob("corpus-*/meta.json"))) == 1
    assert main(["corpus", "stats", str(DEMO), "--no-cache"]) == 0
    assert "error_traces" in capsys.readouterr().out
