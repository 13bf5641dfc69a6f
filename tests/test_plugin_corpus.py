"""Corpus items: bad records fail with counts and examples; rootless traces and mixed types warn."""

from __future__ import annotations

import json

import pytest

from tests.plugin_support import corpus_lines, make_project, run

pytest_plugins = ["pytester"]


def _damaged_corpus() -> str:
    lines = corpus_lines()
    lines.append("{not json")
    lines.append('["an array is not an event"]')
    # a trace whose root never arrived, and a status written as text
    lines.append(
        json.dumps(
            {
                "trace.trace_id": "orphan",
                "trace.span_id": "x",
                "trace.parent_id": "gone",
                "http.status_code": "503",
                "timestamp": 1_700_000_100,
            }
        )
    )
    return "\n".join(lines) + "\n"


def test_corpus_items_report_skipped_records_rootless_traces_and_mixed_types(
    pytester: pytest.Pytester,
) -> None:
    make_project(pytester)
    (pytester.path / "corpus" / "events.jsonl").write_text(_damaged_corpus())
    result = run(pytester, "-m", "nectar_corpus")
    result.assert_outcomes(failed=1, passed=2, warnings=2)
    result.stdout.fnmatch_lines(
        [
            "corpus-ingest: FAIL: 2 record(s) of corpus could not be read and are not in the "
            "corpus",
            "  1 x *",
            "  1 x *",
            "  examples:",
            "    corpus/events.jsonl:29: *",
            "    corpus/events.jsonl:30: *",
        ]
    )
    out = result.stdout.str()
    assert "corpus-roots: 1 of 15 traces have no root span (e.g. orphan)" in out
    assert (
        "http.status_code (read by policies/shop.toon) has several types: 14 float, 1 string" in out
    )
    assert "'503' (string) in trace orphan" in out
    assert "Traceback" not in out


def test_the_proofs_still_run_on_the_readable_records(pytester: pytest.Pytester) -> None:
    make_project(pytester)
    (pytester.path / "corpus" / "events.jsonl").write_text(_damaged_corpus())
    result = run(pytester, "-k", "error-preservation and not all")
    # the orphan's "503" is an error trace (typed int comparison) kept by keep-errors
    result.assert_outcomes(passed=1)
