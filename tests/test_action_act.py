"""The GitHub Action and the example workflows, run for real by `act` in host mode.

Offline: act handles `actions/checkout` locally, `OWNER/nectar/...@v1` is mapped to a
copy of this checkout (`--local-repository`), and `--action-offline-mode` forbids fetching
anything else.  act discards step summaries and annotations, so the action also writes them
to NECTAR_SUMMARY_FILE / NECTAR_ANNOTATIONS_FILE, and the tests read those.  Each job
installs Nectar afresh (the action's default: nothing is reused across jobs), and pip
downloads go through the run's shared pip cache.
"""

from __future__ import annotations

import json
import re
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.gate_support import (
    QUICKSTART,
    commit_all,
    copy_nectar_source,
    git,
    init_repo,
    nectar,
    run_act,
    shared_pip_cache,
)

# One worker for the module under `pytest -n 2 --dist loadgroup`: the tests share act's tool
# cache (the Nectar install), as jobs on one self-hosted runner do.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("act")]

INTENT = "Keep all errors and slow requests over 5 seconds, sample everything else at 1%"

FAKE_GH = """\
#!/usr/bin/env python3
# Stands in for the GitHub CLI: records what it was asked to do, opens nothing.
import json, os, sys
args = sys.argv[1:]
record = {"args": args}
if "--body-file" in args:
    with open(args[args.index("--body-file") + 1], encoding="utf-8") as handle:
        record["body"] = handle.read()
with open(os.environ["FAKE_GH_LOG"], "a", encoding="utf-8") as handle:
    handle.write(json.dumps(record) + "\\n")
print("https://github.example/acme/policies/pull/1")
"""


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("act-home")


@pytest.fixture(scope="module")
def nectar_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_nectar_source(tmp_path_factory.mktemp("action-src") / "nectar")


@pytest.fixture(scope="module")
def pip_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shared_pip_cache(tmp_path_factory)


def quickstart_copy(dest: Path) -> Path:
    shutil.copytree(QUICKSTART, dest, ignore=shutil.ignore_patterns("__pycache__", ".nectar*"))
    init_repo(dest)
    commit_all(dest, "quickstart")
    return dest


def step_output(log: str) -> dict[str, str]:
    """The example workflow's last step echoes the action's outputs."""
    match = re.search(r"\| verdict=(\S*) kept=(\S*) budget=(\S*) report=(\S*)", log)
    assert match, log[-3000:]
    return dict(zip(("verdict", "kept", "budget", "report"), match.groups(), strict=True))


def installed(home: Path) -> bool:
    """Whether an earlier job left Nectar in act's tool cache."""
    return any(home.glob("**/tool_cache/nectar/*/.nectar-complete"))


def run_gate(
    repo: Path, tmp_path: Path, home: Path, nectar_source: Path, pip_cache: Path
) -> tuple[int, str, str, str]:
    summary = tmp_path / "summary.md"
    notes = tmp_path / "annotations.txt"
    proc = run_act(
        repo,
        "nectar.yml",
        "push",
        home=home,
        nectar_source=nectar_source,
        env={"NECTAR_SUMMARY_FILE": str(summary), "NECTAR_ANNOTATIONS_FILE": str(notes)},
        pip_cache=pip_cache,
    )
    log = proc.stdout + proc.stderr
    return (
        proc.returncode,
        log,
        summary.read_text() if summary.exists() else "",
        notes.read_text() if notes.exists() else "",
    )


def test_gate_passes_on_the_quickstart(
    tmp_path: Path, home: Path, nectar_source: Path, pip_cache: Path
) -> None:
    repo = quickstart_copy(tmp_path / "quickstart")
    reuse = installed(home)
    rc, log, summary, notes = run_gate(repo, tmp_path, home, nectar_source, pip_cache)
    assert rc == 0, log[-5000:]
    assert ("Reusing Nectar in" in log) == reuse
    out = step_output(log)
    assert out["verdict"] == "pass"
    kept, budget = float(out["kept"]), float(out["budget"])
    # The policy closest to its budget (checkout.toon: 100 events/s) at its windowed peak.
    assert 0 < kept <= budget == 100
    assert out["report"].endswith("/nectar-gate/report.md")
    assert summary.startswith("### Nectar gate: ✅ pass")
    assert "| nectar prove | exit 0 |" in summary
    assert "| nectar compile --check | exit 0 |" in summary
    assert "| `policies/checkout.toon` | production | pass |" in summary
    assert "## Nectar report: checkout-sampling" in summary  # the explain report
    assert "::error" not in notes


def test_gate_fails_when_the_policy_drops_error_traces(
    tmp_path: Path, home: Path, nectar_source: Path, pip_cache: Path
) -> None:
    repo = quickstart_copy(tmp_path / "quickstart")
    policies = sorted((repo / "policies").glob("*.toon"))
    assert policies, "examples/quickstart has no policies/*.toon"
    policy = policies[0]
    lines = policy.read_text().splitlines(keepends=True)
    hits = [i for i, line in enumerate(lines) if ">= 500" in line and ",keep," in line]
    assert hits, "expected a `... >= 500 ...,keep,...` error rule in the quickstart policy"
    lines[hits[0]] = lines[hits[0]].replace(",keep,", ",drop,", 1)
    policy.write_text("".join(lines))
    # Recompile, so the only reason to fail is the dropped errors, not a stale lock.
    nectar("compile", "-o", "rules.yaml", cwd=repo)
    commit_all(repo, "drop errors")

    reuse = installed(home)
    rc, log, summary, notes = run_gate(repo, tmp_path, home, nectar_source, pip_cache)
    assert rc != 0, log[-5000:]
    assert ("Reusing Nectar in" in log) == reuse  # an earlier job's install, if any
    assert step_output(log)["verdict"] == "fail"
    assert summary.startswith("### Nectar gate: ❌ fail")
    assert "| nectar prove | exit 1 |" in summary
    assert "| nectar compile --check | exit 0 |" in summary
    assert "error-preservation" in summary
    rel = policy.relative_to(repo).as_posix()
    # The annotation sits on the row of the rule that now drops the errors.
    line = hits[0] + 1
    assert re.search(
        rf"^::error file={re.escape(rel)},line={line},title=nectar%3A error-preservation::",
        notes,
        re.MULTILINE,
    ), notes


@pytest.fixture
def fake_gh(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    bin_dir = tmp_path / "fake-bin"
    bin_dir.mkdir()
    gh = bin_dir / "gh"
    gh.write_text(FAKE_GH)
    gh.chmod(gh.stat().st_mode | stat.S_IXUSR)
    yield bin_dir, tmp_path / "gh-log.jsonl"


def test_propose_workflow_pushes_a_branch_and_opens_a_pr(
    tmp_path: Path,
    home: Path,
    nectar_source: Path,
    pip_cache: Path,
    fake_gh: tuple[Path, Path],
) -> None:
    from tests.claude_stub import ClaudeStub, tool_reply

    repo = quickstart_copy(tmp_path / "quickstart")
    origin = tmp_path / "origin.git"
    git("init", "-q", "--bare", str(origin), cwd=tmp_path)
    git("remote", "add", "origin", str(origin), cwd=repo)
    git("push", "-q", "origin", "main", cwd=repo)
    policy = repo / "policies" / "production.toon"  # the workflow's default policy
    current = policy.read_text()
    proposed = current.replace("Retain slow requests", "Retain requests slower than 5 s")
    assert proposed != current, "expected the seed's keep-slow rule in the quickstart policy"
    bin_dir, gh_log = fake_gh

    # What GitHub sends for a dispatch (act's own default names the default branch master).
    inputs = {"intent": INTENT, "policy": policy.relative_to(repo).as_posix()}
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"inputs": inputs, "repository": {"default_branch": "main"}}))
    with ClaudeStub([tool_reply(proposed, [("keep-slow", "the intent asks for 5 s")])]) as stub:
        proc = run_act(
            repo,
            "nectar-propose.yml",
            "workflow_dispatch",
            home=home,
            nectar_source=nectar_source,
            inputs=inputs,
            event_file=event,
            env={"ANTHROPIC_BASE_URL": stub.base_url, "FAKE_GH_LOG": str(gh_log)},
            secrets={"ANTHROPIC_API_KEY": "sk-ant-test-not-a-key"},
            extra_path=[bin_dir],
            pip_cache=pip_cache,
        )
        requests = stub.message_requests()
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-5000:]
    assert requests, "the workflow never reached the Claude stub"
    assert INTENT in json.dumps(requests[0])
    assert "sk-ant-test-not-a-key" not in log
    # action/setup added the `claude` extra to the cached install (or a fresh one).
    assert "Adding Nectar's extras to " in log and ": claude" in log

    (record,) = [json.loads(line) for line in gh_log.read_text().splitlines()]
    args = record["args"]
    assert args[:2] == ["pr", "create"]
    branch = args[args.index("--head") + 1]
    assert branch.startswith("nectar/propose-")
    assert args[args.index("--base") + 1] == "main"
    assert record["body"].strip(), "empty PR body"
    # The branch was pushed, with the proposal applied by `git am`.
    pushed = git("show", f"{branch}:{policy.relative_to(repo).as_posix()}", cwd=origin)
    assert "Retain requests slower than 5 s" in pushed
    assert (
        git("log", "-1", "--format=%s", branch, cwd=origin).strip()
        == args[args.index("--title") + 1]
    )
    # One commit on top of main, holding the policy and the recompiled rules and lock, so
    # the PR passes the gate's `nectar compile --check`.
    changed = git("diff", "--name-only", "main", branch, cwd=origin).split()
    assert sorted(changed) == ["nectar.lock", "policies/production.toon"]
    checkout = tmp_path / "pr"
    git("clone", "-q", "-b", branch, str(origin), str(checkout), cwd=tmp_path)
    assert "are up to date" in nectar("compile", "--check", cwd=checkout).stdout
