"""The explain command's options and defaults, progress display rules, propose's summary."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

from pytest_nectar.cli.propose import describe_change
from pytest_nectar.report.progress import Progress, progress_wanted
from tests.report_support import CORPUS, POLICIES


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def _nectar(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest_nectar", *args],
        cwd=cwd, capture_output=True, text=True, check=False,
    )  # fmt: skip


def test_md_for_several_policies_to_a_file(tmp_path: Path) -> None:
    out = tmp_path / "waggle.md"
    done = _nectar(
        "explain", "--format", "md", "--corpus", str(CORPUS), str(POLICIES / "production.toon"),
        str(POLICIES / "checkout.toon"), "-o", str(out), cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == "" and done.stderr == f"wrote {out}\n"
    text = out.read_text(encoding="utf-8")
    assert text.index("## Nectar report: production-sampling") < text.index(
        "## Nectar report: checkout-sampling"
    )


def test_defaults_come_from_tool_nectar(tmp_path: Path) -> None:
    shutil.copytree(POLICIES, tmp_path / "policies")
    shutil.copy(CORPUS / "shop.jsonl", tmp_path / "traces.jsonl")
    (tmp_path / "pyproject.toml").write_text(
        '[tool.nectar]\npolicies = ["policies/production.toon"]\ncorpus = "traces.jsonl"\n',
        encoding="utf-8",
    )
    done = _nectar("explain", "--format", "json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["format"] == "nectar-explain"
    [report] = data["reports"]
    assert report["title"] == "production-sampling" and report["totals"]["traces"] == 340
    assert done.stderr == ""  # no progress display when piped


def test_nothing_to_explain_is_a_usage_error(tmp_path: Path) -> None:
    done = _nectar("explain", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr == (
        "nothing to explain; give a policy or rules file, or set [tool.nectar] policies\n"
    )


def test_a_rules_file_is_explained_as_deployed(tmp_path: Path) -> None:
    from pytest_nectar.compiler.compile import compile_policies
    from pytest_nectar.policy.parser import load_policy

    rules = tmp_path / "rules.yaml"
    rules.write_text(compile_policies([load_policy(POLICIES / "production.toon")]).text)
    done = _nectar("explain", str(rules), "--corpus", str(CORPUS), "--format", "json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    [report] = json.loads(done.stdout)["reports"]
    assert report["kind"] == "rules"
    # as deployed: each `or` alternative of keep-errors is a Refinery rule of its own
    names = ["keep-errors", *(f"keep-errors#{i}" for i in range(2, 8)), "keep-slow", "sample-rest"]
    assert [r["name"] for r in report["rules"]] == names
    assert [r["traces"] for r in report["rules"]] == [21, 0, 2, 5, 0, 10, 0, 0, 302]
    assert report["rules"][7]["meaning"] == "traces where any span has duration (ms) above 5000"


def test_progress_only_on_an_interactive_terminal() -> None:
    assert progress_wanted(_Tty(), {}) is True
    assert progress_wanted(io.StringIO(), {}) is False
    assert progress_wanted(_Tty(), {"CI": "true"}) is False
    assert progress_wanted(_Tty(), {"GITHUB_ACTIONS": "true"}) is False
    assert progress_wanted(_Tty(), {"TERM": "dumb"}) is False
    stream = _Tty()
    with Progress(enabled=True, stream=stream).step("quick"):
        pass
    assert stream.getvalue() == ""  # a step under a second shows nothing


def test_propose_change_summary_uses_the_waggle_diff() -> None:
    old = (POLICIES / "production.toon").read_text(encoding="utf-8")
    new = old.replace("500,keep,100", "500,keep,1")
    new = new.replace("keep-slow,Retain slow requests,duration > 5s,keep,90",
                      "keep-slow,Retain slow requests,duration > 100ms,drop,90")  # fmt: skip
    from pytest_nectar.corpus import load_corpus

    summary = describe_change(old, new, load_corpus(CORPUS))
    assert summary == (
        "2 lines added, 2 removed; rules changed: keep-slow, keep-errors; "
        "LOSES error-preservation-all; NO LONGER KEEPS 3 "
        "trace(s) it kept for sure (3 error, 0 must-keep); 6 corpus trace(s) change decision; "
        "kept events/s 16.6 → 12.9"
    )
    # A proposal that does not parse keeps the plain line counts.
    assert describe_change(old, "not a policy\n") == "1 line added, 8 removed"
