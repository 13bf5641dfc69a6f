"""Bad input: the report says what it cannot compute and why, and shows the rest;
Markdown stays under 1 MiB whatever the corpus."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from pytest_nectar.project.session import diff_subjects, explain_subject
from pytest_nectar.report import render_md
from pytest_nectar.report.analysis import load_report_corpus
from pytest_nectar.report.render import diff_document, explain_document
from pytest_nectar.report.subject import load_subject
from tests.report_support import CORPUS, POLICIES

NOT_COMPILING = """\
nectar_policy{version,name,rules}:
  1
  broken
  rules[2]{name,description,match,action,priority}:
    huge,Errors,http.status >= 500,"throughput(100/s by service.name, weight=0.3)",10
    rest,,true,"throughput(100/s by service.name, weight=0.5)",0
"""


def _otlp(path: Path, traces: int, services: int, timed: bool = True) -> Path:
    """A generated OTLP JSON Lines corpus: one span per trace, half of them 5xx."""
    lines = []
    for t in range(traces):
        start = 1_700_000_000_000_000_000 + t * 1_000_000_00
        span = {
            "traceId": f"{t:032x}",
            "spanId": f"{t:016x}",
            "name": "GET",
            "kind": 2,  # server: its 5xx is an error by the default criteria
            "attributes": [
                {
                    "key": "http.response.status_code",
                    "value": {"intValue": str(500 if t % 2 else 200)},
                }
            ],
        }
        if timed:
            span["startTimeUnixNano"] = str(start)
            span["endTimeUnixNano"] = str(start + 5_000_000)
        service = f"service-{t % services:05d}-" + "x" * 150
        resource = {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]}
        scope = {"resource": resource, "scopeSpans": [{"spans": [span]}]}
        lines.append(json.dumps({"resourceSpans": [scope]}))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_policy_that_does_not_compile_still_reports(tmp_path: Path) -> None:
    policy = tmp_path / "broken.toon"
    policy.write_text(NOT_COMPILING, encoding="utf-8")
    subject = load_subject(str(policy))
    assert subject.rules_file is None and subject.problem is not None
    corpus, gaps = load_report_corpus([str(CORPUS)])
    report = explain_subject(subject, corpus, corpus_label="c", missing=gaps)
    assert [r.name for r in report.rules] == ["huge", "rest"]
    assert report.rules[1].traces is None and report.rules[1].action.startswith("throughput(")
    md = explain_document([report], "md")
    assert "does not compile" in md and "share one sampler" in md
    assert "huge" in md and "traces where any span has HTTP status" in md


def test_empty_corpus_and_missing_timestamps(tmp_path: Path) -> None:
    subject = load_subject(str(POLICIES / "production.toon"))
    untimed = _otlp(tmp_path / "untimed.jsonl", 20, 3, timed=False)
    corpus, gaps = load_report_corpus([str(untimed)])
    report = explain_subject(subject, corpus, corpus_label="u", missing=gaps)
    assert report.totals is not None and report.totals.traces == 20
    assert report.budget is None and report.timeline is None
    assert any("timestamps" in m.why for m in report.missing)
    assert report.rules[0].traces == 10 and report.rules[0].kept_events_per_s is None
    for fmt in ("text", "md", "json"):
        assert "timestamps" in explain_document([report], fmt)
    logs_only = tmp_path / "logs.jsonl"  # a corpus without a single trace
    logs_only.write_text('{"resourceLogs": []}\n', encoding="utf-8")
    corpus, gaps = load_report_corpus([str(logs_only)])
    assert corpus is not None and corpus.n_traces == 0
    report = explain_subject(subject, corpus, corpus_label="e", missing=gaps)
    text = explain_document([report], "md")
    assert "per-rule and per-service figures: the corpus has no traces" in text
    assert [r.name for r in report.rules] == ["keep-errors", "keep-slow", "sample-rest"]
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    corpus, gaps = load_report_corpus([str(empty)])
    report = explain_subject(subject, corpus, corpus_label="e", missing=gaps)
    assert "the corpus cannot be loaded" in explain_document([report], "md")


def test_unreadable_corpus_is_reported_not_fatal(tmp_path: Path) -> None:
    corpus, gaps = load_report_corpus([str(tmp_path / "missing")])
    assert corpus is None and "cannot be loaded" in gaps[0].why


def test_markdown_stays_under_one_mebibyte(tmp_path: Path) -> None:
    corpus, _ = load_report_corpus([str(_otlp(tmp_path / "big.jsonl", 6000, 3000))])
    assert corpus is not None and corpus.n_traces == 6000
    old = tmp_path / "old.toon"
    old.write_text((POLICIES / "production.toon").read_text(encoding="utf-8"), encoding="utf-8")
    new = tmp_path / "new.toon"
    new.write_text(
        old.read_text(encoding="utf-8").replace("500,keep,100", "500,drop,100"),  # drops errors
        encoding="utf-8",
    )
    report = diff_subjects(load_subject(str(old)), load_subject(str(new)), corpus, corpus_label="b")
    assert len(report.lost) == 3000
    md = diff_document(report, "md")
    assert len(md.encode("utf-8")) < render_md.MAX_BYTES
    assert "... and 2950 more rows" in md
    assert report.new_report is not None
    explained = explain_document([report.new_report] * 40, "md")
    assert len(explained.encode("utf-8")) < render_md.MAX_BYTES < 1024 * 1024


def test_cli_errors_are_one_line(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "pytest_nectar", "explain", str(tmp_path / "nope.toon")],
        capture_output=True, text=True, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert out.returncode == 2
    assert (
        out.stderr
        == f"{tmp_path / 'nope.toon'}: cannot read file; got 'No such file or directory'\n"
    )
