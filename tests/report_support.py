"""Shared fixtures data for the report tests: the quickstart example, explained once."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from pytest_nectar.project.session import explain_subject
from pytest_nectar.report.analysis import load_report_corpus
from pytest_nectar.report.document import ExplainReport
from pytest_nectar.report.subject import load_subject

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "examples" / "quickstart"
CORPUS = QUICKSTART / "corpus"
POLICIES = QUICKSTART / "policies"


@cache
def quickstart_report(policy: str) -> ExplainReport:
    corpus, gaps = load_report_corpus([str(CORPUS)])
    subject = load_subject(str(POLICIES / policy))
    return explain_subject(subject, corpus, corpus_label="corpus", missing=gaps)
