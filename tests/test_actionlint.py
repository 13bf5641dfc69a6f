"""actionlint and shellcheck on the action and the example workflows, plus the rules
actionlint does not check inside a composite action's steps (no `${{ }}` in `run:`,
`shell: bash` with `set -euo pipefail`)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.gate_support import EXAMPLES, QUICKSTART, ROOT, TEMPLATE, tool

ACTIONS = [ROOT / "action" / "action.yml", ROOT / "action" / "setup" / "action.yml"]
# The examples' workflows and the ones `nectar init` writes (tests/test_examples.py checks
# that they are the same files).
WORKFLOWS = sorted(
    [w for e in EXAMPLES for w in (e / ".github" / "workflows").glob("*.yml")]
    + list((TEMPLATE / "workflows").glob("*.yml"))
)
SCRIPTS = sorted((ROOT / "action").glob("*.sh"))

SELFTEST = """\
name: selftest
on: [push, pull_request]
permissions:
  contents: read
jobs:
  gate:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@08c6903cd8c0fde910a37f88322edcfb5dd907a8 # v5.0.0
      - id: nectar
        uses: ./action
        with:
          policies: policies/*.toon
          corpus: corpus
          rules-file: rules.yaml
          lock: nectar.lock
          fail-on: warning
          post-report: "true"
          working-directory: .
          python: python3
          install: "true"
          reuse-install: "false"
      - uses: ./action/setup
        with:
          extras: claude
          reuse-install: "false"
      - env:
          VERDICT: ${{ steps.nectar.outputs.verdict }}
          KEPT: ${{ steps.nectar.outputs.kept-events-per-second }}
          BUDGET: ${{ steps.nectar.outputs.budget }}
          REPORT: ${{ steps.nectar.outputs.report-path }}
        run: echo "$VERDICT $KEPT $BUDGET $REPORT"
"""


def actionlint(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("actionlint"), "-shellcheck", tool("shellcheck"), "-no-color", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_example_workflows_exist() -> None:
    for folder in [*(e / ".github" / "workflows" for e in EXAMPLES), TEMPLATE / "workflows"]:
        assert {w.name for w in folder.glob("*.yml")} == {"nectar.yml", "nectar-propose.yml"}


def test_workflows_use_the_documented_action_address() -> None:
    for path in WORKFLOWS:
        uses = [
            step["uses"]
            for job in yaml.safe_load(path.read_text())["jobs"].values()
            for step in job["steps"]
            if "uses" in step and not step["uses"].startswith("actions/")
        ]
        assert uses, path
        assert all(u.startswith("OWNER/nectar/action") and u.endswith("@v1") for u in uses), uses


def test_actionlint_clean_on_example_workflows() -> None:
    proc = actionlint(*map(str, WORKFLOWS), cwd=QUICKSTART)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout == ""


@pytest.fixture
def selftest_repo(tmp_path: Path) -> Path:
    """A repository holding the action and a workflow that uses every input and output:
    actionlint checks local actions' metadata only through a workflow that uses them."""
    shutil.copytree(ROOT / "action", tmp_path / "action")
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    (tmp_path / ".github" / "workflows" / "selftest.yml").write_text(SELFTEST)
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    return tmp_path


def test_actionlint_clean_on_the_action_used_by_a_workflow(selftest_repo: Path) -> None:
    proc = actionlint(cwd=selftest_repo)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_actionlint_would_catch_a_wrong_input_or_an_injection(selftest_repo: Path) -> None:
    # The same check, on a broken copy, must fail: proves the clean results mean something.
    wf = selftest_repo / ".github" / "workflows" / "selftest.yml"
    text = wf.read_text().replace('install: "true"', 'instal: "true"')
    text = text.replace('run: echo "$VERDICT', 'run: echo "${{ github.event.pull_request.title }}')
    wf.write_text(text)
    out = actionlint(cwd=selftest_repo).stdout
    assert 'input "instal" is not defined in action "Nectar policy gate"' in out
    assert '"github.event.pull_request.title" is potentially untrusted' in out


def _run_steps(doc: dict[str, Any]) -> list[dict[str, Any]]:
    if "runs" in doc:
        steps: list[dict[str, Any]] = doc["runs"]["steps"]
        return [s for s in steps if "run" in s]
    return [s for job in doc["jobs"].values() for s in job.get("steps", []) if "run" in s]


@pytest.mark.parametrize("path", ACTIONS + WORKFLOWS, ids=lambda p: str(p.relative_to(ROOT)))
def test_run_scripts_take_no_expressions_and_fail_fast(path: Path) -> None:
    doc = yaml.safe_load(path.read_text())
    steps = _run_steps(doc)
    assert steps
    for step in steps:
        script: str = step["run"]
        assert "${{" not in script, f"{path.name}: {step.get('name')}: pass values via env:"
        assert script.lstrip().startswith("set -euo pipefail"), step.get("name")
        if "runs" in doc:  # composite steps have no default shell
            assert step.get("shell") == "bash", step.get("name")


def test_composite_action_is_not_docker_and_declares_outputs() -> None:
    doc = yaml.safe_load(ACTIONS[0].read_text())
    assert doc["runs"]["using"] == "composite"
    assert set(doc["inputs"]) >= {"policies", "corpus", "rules-file", "lock", "fail-on"}
    assert set(doc["inputs"]) >= {"post-report"}
    assert set(doc["outputs"]) == {"verdict", "kept-events-per-second", "budget", "report-path"}


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: str(p.relative_to(ROOT)))
def test_workflows_set_least_permissions(path: Path) -> None:
    doc = yaml.safe_load(path.read_text())
    expected = (
        {"contents": "write", "pull-requests": "write"}
        if path.name == "nectar-propose.yml"
        else {"contents": "read"}
    )
    assert doc["permissions"] == expected


def test_shellcheck_clean_on_scripts_and_composite_steps(tmp_path: Path) -> None:
    files = list(SCRIPTS)
    for action in ACTIONS:
        for i, step in enumerate(_run_steps(yaml.safe_load(action.read_text()))):
            extracted = tmp_path / f"{action.parent.name}-{i}.sh"
            extracted.write_text("#!/usr/bin/env bash\n" + step["run"])
            files.append(extracted)
    proc = subprocess.run(
        [tool("shellcheck"), "--severity=style", *map(str, files)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: str(p.relative_to(ROOT)))
def test_third_party_actions_are_pinned_by_commit(path: Path) -> None:
    """Tags can be moved to other code; a full commit SHA cannot (the tag is a comment)."""
    text = path.read_text()
    doc = yaml.safe_load(text)
    for job in doc["jobs"].values():
        for step in job["steps"]:
            uses = step.get("uses", "")
            if uses and not uses.startswith(("./", "OWNER/nectar/")):
                assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", uses), uses
                assert re.search(re.escape(uses) + r" # v\d+\.\d+\.\d+\n", text), uses


def test_jobs_handling_model_output_keep_no_credentials() -> None:
    for path in WORKFLOWS:
        if path.name != "nectar-propose.yml":
            continue
        steps = yaml.safe_load(path.read_text())["jobs"]["propose"]["steps"]
        checkout = next(s for s in steps if s.get("uses", "").startswith("actions/checkout@"))
        assert checkout["with"]["persist-credentials"] is False, path
