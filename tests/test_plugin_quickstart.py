"""examples/quickstart is a repository a user can copy: plain `pytest` there passes, and a
broken error rule fails `error-preservation` with witnesses and a replay line."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_nectar.cli.init import ERROR_EXPRESSION

QUICKSTART = Path(__file__).resolve().parents[1] / "examples" / "quickstart"


def _copy(dest: Path) -> Path:
    shutil.copytree(
        QUICKSTART, dest, ignore=shutil.ignore_patterns(".nectar-cache", ".pytest_cache")
    )
    return dest


def _pytest(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_quickstart_has_the_committed_shape() -> None:
    for name in ("pyproject.toml", "rules.yaml", "nectar.lock", "corpus", "policies"):
        assert (QUICKSTART / name).exists(), name
    assert list((QUICKSTART / "policies").glob("*.expect.jsonl"))
    text = (QUICKSTART / "pyproject.toml").read_text()
    assert "[tool.nectar]" in text and "[tool.pytest]" in text
    # the project's error definition is the one `nectar init` writes
    assert f'\nerror = "{ERROR_EXPRESSION}"\n' in text


def test_plain_pytest_passes_in_a_copy(tmp_path: Path) -> None:
    repo = _copy(tmp_path / "quickstart")
    done = _pytest(repo)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    for item in ("error-preservation", "lockfile", "equivalence", "compiles"):
        assert f"policies/checkout.toon::{item}" not in out  # only failures are listed (-ra)
    assert "nectar summary" in out
    assert "passed" in out.splitlines()[-1] and "failed" not in out.splitlines()[-1]


def test_a_broken_error_rule_fails_error_preservation_with_witnesses(tmp_path: Path) -> None:
    repo = _copy(tmp_path / "quickstart")
    policy = repo / "policies" / "production.toon"
    text = policy.read_text()
    keep = re.search(r"keep-errors,Retain all errors,([^,]*),keep,100", text)
    assert keep is not None
    policy.write_text(text.replace(keep[1], "http.status >= 599"))
    done = _pytest(repo, "policies/production.toon")
    out = done.stdout
    assert done.returncode == pytest.ExitCode.TESTS_FAILED, out + done.stderr
    assert "FAILED policies/production.toon::error-preservation - " in out
    assert "error-preservation: FAIL for policy 'production-sampling'" in out
    assert "rule 'sample-rest' -> " in out
    assert "replay: nectar decide policies/production.toon --corpus corpus --trace-id " in out
    assert "rerun: pytest policies/production.toon::error-preservation" in out
    # the committed rules no longer match the policy: reported, not crashed
    assert "FAILED policies/production.toon::lockfile" in out
    for python in ("Traceback", "INTERNALERROR", "pytest_plugin/checks.py"):
        assert python not in out


def _shape(root: Path) -> set[str]:
    # the example's README (what it is, the command that made its corpus) is not a project file
    names = {p.name for p in root.iterdir() if not p.name.startswith(".")} - {"README.md"}
    names |= {f"policies/*{p.name.split('.', 1)[1]}" for p in (root / "policies").iterdir()}
    return names


def test_nectar_init_writes_the_quickstart_shape_and_pytest_passes(tmp_path: Path) -> None:
    project = tmp_path / "fresh"
    done = subprocess.run(
        [sys.executable, "-m", "pytest_nectar", "init", str(project)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert _shape(project) == _shape(QUICKSTART)
    ran = _pytest(project)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    last = ran.stdout.splitlines()[-1]
    assert " passed" in last and "failed" not in last and "error" not in last
    assert "nectar summary" in ran.stdout


def test_a_policy_that_drops_grpc_errors_fails_on_the_generated_corpus(tmp_path: Path) -> None:
    """The project's `error` (default_errors) covers gRPC server faults; the generated corpus
    has traces whose only sign of failure is rpc.grpc.status_code (no span status, no HTTP
    5xx), so a policy whose keep rule keeps only HTTP 5xx samples them, and error-preservation
    says so, naming the criterion."""
    repo = _copy(tmp_path / "quickstart")
    policy = repo / "policies" / "production.toon"
    grpc = "default_errors or "
    text = policy.read_text()
    assert grpc in text
    policy.write_text(text.replace(grpc, ""))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest_nectar",
            "prove",
            "policies/production.toon",
            "--property",
            "error-preservation",
            "--json",
        ],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    from pytest_nectar.corpus import load_corpus

    report = json.loads(done.stdout)
    (result,) = (
        p for r in report["reports"] for p in r["properties"] if p["id"] == "error-preservation"
    )
    assert result["verdict"] == "fail"
    corpus = load_corpus(repo / "corpus", cache=False)
    failed = result["figures"]["failing_trace_ids"]
    assert failed
    grpc_only = []
    for trace_id in failed:
        spans = corpus.trace(corpus.trace_index(trace_id)).spans
        codes = {s.data.get("rpc.grpc.status_code") for s in spans}
        if codes & {2, 4, 12, 13, 14, 15} and not any(
            s.data.get("status_code") == 2 for s in spans
        ):
            grpc_only.append(trace_id)
    assert grpc_only  # traces whose only sign of failure is the gRPC code are among them
    named = {b["criterion"] for w in result["witnesses"] for b in w.get("because", [])}
    assert named  # every witness names the criterion that made it an error
