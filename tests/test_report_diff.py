"""nectar diff: error traces a change would drop come first; git:REV:path works."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_nectar.project.session import diff_subjects
from pytest_nectar.report.analysis import load_report_corpus
from pytest_nectar.report.layout_diff import diff_blocks
from pytest_nectar.report.render import diff_document
from pytest_nectar.report.render_md import render_blocks
from pytest_nectar.report.subject import load_subject
from tests.report_support import CORPUS, POLICIES

POLICY = """\
nectar_policy{{version,name,budget_per_second,rules}}:
  1
  production-sampling
  10000
  rules[4]{{name,description,match,action,priority}}:
    keep-errors,Retain every error,default_errors,keep,{errors}
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
    assert [p.property for p in report.lost_proofs] == ["error-preservation-all"]
    # Loudest first: the verdicts that change, the lost all-traces proof, then the lost corpus
    # traces, then the rest.
    verdicts = text.index("Verdicts: 2 of 11 change")
    assert verdicts < text.index("all-traces proof(s) NEW no longer passes")
    assert text.index("all-traces proof(s) NEW no longer passes") < text.index("Policy text")
    assert text.index("NEW would no longer keep") < text.index("Traces that change decision")
    changed = {v.property: (v.old_verdict, v.new_verdict) for v in report.verdicts if v.changed}
    assert changed == {"error-preservation": ("pass", "fail"),
                       "error-preservation-all": ("pass", "fail")}  # fmt: skip


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
    assert len(data["lost"]) == 37  # the error traces (default_errors) with a frontend span
    bad = subprocess.run(
        [sys.executable, "-m", "pytest_nectar", "diff", "git:HEAD:nope.toon", "policy.toon"],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert bad.returncode == 2
    assert bad.stderr.startswith("git:HEAD:nope.toon: git cannot show this file; got ")
    assert "Traceback" not in bad.stderr


def test_one_line_change_shows_that_line_first_then_grouped_decisions(tmp_path: Path) -> None:
    """The quickstart's production policy with its catch-all rate doubled (one line)."""
    text = (POLICIES / "production.toon").read_text(encoding="utf-8")
    assert text.count("sample(0.01)") == 1
    new = tmp_path / "production.toon"
    new.write_text(text.replace("sample(0.01)", "sample(0.02)"), encoding="utf-8")
    corpus, _ = load_report_corpus([str(CORPUS)])
    old_subject = load_subject(str(POLICIES / "production.toon"))
    report = diff_subjects(old_subject, load_subject(str(new)), corpus, corpus_label="corpus")

    changed = [p for p in report.policy_diff if p.changed]
    assert len(changed) == 1
    line = changed[0]
    assert line.old_line == line.new_line == text.splitlines().index(line.old_text) + 1
    assert "sample(0.01)" in line.old_text and "sample(0.02)" in line.new_text
    assert not any(v.changed for v in report.verdicts) and len(report.verdicts) == 11
    [group] = report.decision_groups  # every moved trace stays in sample-rest
    assert (group.old_rule, group.new_rule) == ("sample-rest", "sample-rest")
    assert group.traces == report.changed_traces > 100
    assert group.old_keep_probability == (0.01, 0.01)
    assert group.new_keep_probability == (0.02, 0.02)
    assert group.old_kept_events_per_s is not None and group.new_kept_events_per_s is not None
    assert group.new_kept_events_per_s == pytest.approx(2 * group.old_kept_events_per_s)
    rest = {d.rule: d for d in report.rules}["sample-rest"]
    assert rest.new_kept_events_per_s == pytest.approx(group.new_kept_events_per_s)

    md = diff_document(report, "md")
    assert len(md.encode("utf-8")) < 65_536  # a GitHub comment
    marks = (
        "Verdicts: 0 of 11 change",
        "Policy text: 1 line(s) differ",
        "sample(0.02)",
        "Decision changes: ",
        "sample-rest → sample-rest",
        "Traces that change decision",
    )
    order = [md.index(mark) for mark in marks]
    assert order == sorted(order)
    plain = diff_document(report, "text")
    for figure in (f"{group.traces}", "1/100 → 1/50"):
        assert figure in md and figure in plain
    data = json.loads(diff_document(report, "json"))["diff"]
    assert data["decision_groups"][0]["traces"] == group.traces
    assert data["decision_groups"][0]["new_kept_events_per_s"] == pytest.approx(
        group.new_kept_events_per_s
    )
    assert [row["changed"] for row in data["policy_diff"]].count(True) == 1


def test_markdown_of_a_large_change_fits_a_github_comment(tmp_path: Path) -> None:
    old = tmp_path / "old.toon"
    note = " kept for the audit trail" * 6
    rows = "\n".join(
        f'    r{i},rule {i}{note},http.route = "/r{i}",sample({0.5 if i % 2 else 0.25}),{i + 1}'
        for i in range(150)
    )
    head = "nectar_policy{version,name,budget_per_second,rules}:\n  1\n  big\n  200\n"
    body = f"  rules[151]{{name,description,match,action,priority}}:\n{rows}\n"
    old.write_text(head + body + "    rest,rest,true,keep,0\n", encoding="utf-8")
    new = tmp_path / "new.toon"
    new.write_text(old.read_text(encoding="utf-8").replace("sample(0.5)", "sample(0.1)"),
                   encoding="utf-8")  # fmt: skip
    corpus, _ = load_report_corpus([str(CORPUS)])
    report = diff_subjects(load_subject(str(old)), load_subject(str(new)), corpus, corpus_label="c")
    assert sum(p.changed for p in report.policy_diff) == 75
    whole = render_blocks(diff_blocks(report))  # every row: too long for a comment
    assert len(whole) > 65_536
    md = diff_document(report, "md")
    assert len(md) < 65_536
    assert "Policy text: 75 line(s) differ" in md
