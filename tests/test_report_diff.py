"""nectar diff: error traces a change would drop come first; git:REV:path works."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from pytest_nectar.project.session import diff_subjects
from pytest_nectar.report.analysis import load_report_corpus
from pytest_nectar.report.render import diff_document
from pytest_nectar.report.subject import load_subject
from tests.report_support import CORPUS

POLICY = """\
nectar_policy{{version,name,budget_per_second,rules}}:
  1
  production-sampling
  10000
  rules[4]{{name,description,match,action,priority}}:
    keep-errors,Retain all HTTP 5xx errors,http.status >= 500,keep,{errors}
    drop-frontend,Frontend noise,"service.name = \\"frontend\\"",drop,50
    keep-slow,Retain slow requests,duration > 5s,keep,90
    sample-rest,Sample remaining traffic,true,sample(0.01),0
"""


def _write(path: Path, errors: int) -> Path:
    path.write_text(POLICY.format(errors=errors), encoding="utf-8")
    return path


def test_lowered_error_rule_lists_dropped_errors_first(tmp_path: Path) -> None:
    old = _write(tmp_path / "old.toon", 100)
    new = _write(tmp_path / "new.toon", 40)  # now below drop-frontend
    corpus, _ = load_report_corpus([str(CORPUS)])
    report = diff_subjects(load_subject(str(old)), load_subject(str(new)), corpus, corpus_label="c")
    assert report.lost, "error traces newly dropped must be listed"
    assert all(t.kinds == ("error",) for t in report.lost)
    assert all(t.old_rule == "keep-errors" and t.old_keep_probability == 1 for t in report.lost)
    assert all(t.new_rule == "drop-frontend" and t.new_keep_probability == 0 for t in report.lost)
    old_report, new_report = report.old_report, report.new_report
    assert old_report is not None and new_report is not None
    assert old_report.totals is not None and new_report.totals is not None
    assert old_report.totals.error_traces_at_risk == 0
    assert new_report.totals.error_traces_at_risk == len(report.lost)
    assert report.changed_traces >= len(report.lost)
    deltas = {d.rule: d for d in report.rules}
    assert deltas["keep-errors"].change_per_s is not None and deltas["keep-errors"].change_per_s < 0
    md = diff_document(report, "md")
    first_table = md.index("| trace id |")
    assert (
        md.index(f"{len(report.lost)} error or must-keep trace(s) NEW would no longer keep")
        < first_table
    )
    assert md.index(report.lost[0].trace_id) < md.index("Traces that change decision")
    text = diff_document(report, "text")
    # Loudest first: the lost all-traces proof, then the lost corpus traces, then the rest.
    assert [p.property for p in report.lost_proofs] == ["error-preservation-all"]
    assert "all-traces proof(s) NEW no longer passes" in text[:300]
    assert text.index("NEW would no longer keep") < text.index("Traces that change decision")


def test_no_change_reports_nothing_lost(tmp_path: Path) -> None:
    old = _write(tmp_path / "old.toon", 100)
    corpus, _ = load_report_corpus([str(CORPUS)])
    report = diff_subjects(load_subject(str(old)), load_subject(str(old)), corpus, corpus_label="c")
    assert report.lost == () and report.changed_traces == 0
    assert "No error or must-keep trace loses its sure keep." in diff_document(report, "md")


def test_cli_diff_against_a_git_revision(tmp_path: Path) -> None:
    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    git("config", "user.email", "t@example.com")
    git("config", "user.name", "t")
    _write(tmp_path / "policy.toon", 100)
    git("add", "policy.toon")
    git("commit", "-q", "-m", "old")
    _write(tmp_path / "policy.toon", 40)
    out = subprocess.run(
        [sys.executable, "-m", "pytest_nectar", "diff", "git:HEAD:policy.toon", "policy.toon",
         "--corpus", str(CORPUS), "--format", "json"],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)["diff"]
    assert data["old"] == "HEAD:policy.toon" and data["new"] == "policy.toon"
    assert len(data["lost"]) == 10  # the 10 HTTP 5xx traces, each with a frontend span
    bad = subprocess.run(
        [sys.executable, "-m", "pytest_nectar", "diff", "git:HEAD:nope.toon", "policy.toon"],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert bad.returncode == 2
    assert bad.stderr.startswith("git:HEAD:nope.toon: git cannot show this file; got ")
    assert "Traceback" not in bad.stderr
