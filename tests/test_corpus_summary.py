"""The corpus summary: counts, bounded size, and secrets never shown."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_nectar.corpus import load_corpus, summarize
from pytest_nectar.corpus.summary import MAX_FIELDS, REDACTED
from tests.realdata import REALDATA

DATA = REALDATA


def test_secret_looking_values_are_redacted_and_long_values_cut(tmp_path: Path) -> None:
    events = [
        {
            "trace.trace_id": "t1",
            "authorization": "Bearer abc.def",
            "user.cookie": "sid=42",
            "x.api_key": "k-123",
            "note": "x" * 500,
            "header": "Basic dXNlcjpwYXNz",
        },
    ]
    path = tmp_path / "events.json"
    path.write_text(json.dumps(events))
    summary = summarize(load_corpus(path, cache=False))
    text = json.dumps(summary)
    for secret in ("abc.def", "sid=42", "k-123", "dXNlcjpwYXNz"):
        assert secret not in text
    assert summary["fields"]["authorization"]["top_strings"] == [[REDACTED, 1]]
    assert summary["fields"]["header"]["top_strings"] == [[REDACTED, 1]]
    assert len(summary["fields"]["note"]["top_strings"][0][0]) == 80


def test_summary_is_bounded_whatever_the_corpus(tmp_path: Path) -> None:
    events = [
        {"trace.trace_id": f"t{i}", **{f"field{j}": f"value-{i}-{j}" for j in range(40)}}
        for i in range(60)
    ]
    path = tmp_path / "wide.jsonl"
    path.write_text("\n".join(json.dumps(e) for e in events) + "\n")
    summary = summarize(load_corpus(path, cache=False))
    assert len(summary["fields"]) == MAX_FIELDS or summary["fields_omitted"] == 0
    assert all(len(f.get("top_strings", [])) <= 5 for f in summary["fields"].values())
    assert summary["traces"] == 60 and summary["roots_missing"] == 0


@pytest.mark.usefixtures("realdata")
def test_rates_and_durations_of_the_demo_capture() -> None:
    summary = summarize(load_corpus(DATA / "otlp" / "oteltui-test_data.json", cache=False))
    assert summary["span_events"] + summary["links"] + summary["spans"] == summary["events"]
    assert summary["duration_s"] > 0
    assert summary["traces_per_s"] == round(141 / summary["duration_s"], 6)
    assert round(summary["span_duration_ms"]["max"], 1) == 48510.4
    assert len(summary["services"]) == 8
