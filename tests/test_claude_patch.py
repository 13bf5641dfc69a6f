"""Patches that real ``git am`` applies, and pull-request bodies that stay inert."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pytest_nectar.claude.client import Rationale
from pytest_nectar.claude.patch import format_patch, patch_subject, pr_body, unified_diff
from tests.claude_support import BAD_POLICY, GOOD_POLICY, RATIONALE, SEED_INTENT

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")

WHY = tuple(Rationale(r, w) for r, w in RATIONALE)


def _git(repo: Path, *args: str, stdin: str | None = None) -> str:
    env = {
        **os.environ,
        "HOME": str(repo.parent),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_COMMITTER_NAME": "Reviewer",
        "GIT_COMMITTER_EMAIL": "reviewer@example.com",
        "GIT_AUTHOR_NAME": "Reviewer",
        "GIT_AUTHOR_EMAIL": "reviewer@example.com",
    }
    done = subprocess.run(
        ["git", *args], cwd=repo, env=env, input=stdin, text=True, capture_output=True, check=False
    )
    assert done.returncode == 0, done.stderr + done.stdout
    return done.stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    _git(root, "init", "-q", "-b", "main")
    (root / "README").write_text("policies\n")
    _git(root, "add", ".")
    _git(root, "commit", "-q", "-m", "start")
    return root


def _commit_policy(repo: Path, text: str) -> None:
    (repo / "policies").mkdir(exist_ok=True)
    (repo / "policies" / "main.toon").write_text(text)
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "policy")


def _apply(repo: Path, patch: str) -> None:
    (repo.parent / "change.patch").write_text(patch, encoding="utf-8")
    _git(repo, "am", "-q", str(repo.parent / "change.patch"))


def test_patch_changing_a_policy_applies_with_git_am(repo: Path) -> None:
    _commit_policy(repo, BAD_POLICY)
    patch = format_patch(
        path="policies/main.toon",
        old=BAD_POLICY,
        new=GOOD_POLICY,
        intent=SEED_INTENT,
        rationale=WHY,
        diff_summary="1 line added, 1 removed",
        verification=["proved"],
    )
    _apply(repo, patch)
    assert (repo / "policies" / "main.toon").read_text() == GOOD_POLICY
    log = _git(repo, "log", "-1", "--format=%an <%ae>%n%ad%n%s%n%b", "--date=iso-strict")
    author, date, subject, *body = log.splitlines()
    assert author == "nectar propose <nectar@localhost>"
    assert date == "2000-01-01T00:00:00+00:00"
    assert subject == "policy: Keep all errors and slow requests over 5 seconds, sample…"
    assert f"Intent: {SEED_INTENT}" in body
    assert "- keep-errors: Errors are what on-call needs." in body
    assert "1 line added, 1 removed" in body and "- proved" in body
    assert _git(repo, "status", "--porcelain") == ""


def test_patch_creating_a_policy_applies_with_git_am(repo: Path) -> None:
    patch = format_patch(
        path="policies/new.toon", old=None, new=GOOD_POLICY, intent="keep errors", rationale=WHY
    )
    _apply(repo, patch)
    assert (repo / "policies" / "new.toon").read_text() == GOOD_POLICY
    assert _git(repo, "log", "-1", "--format=%s").strip() == "policy: keep errors"


def test_old_file_without_final_newline(repo: Path) -> None:
    old = BAD_POLICY.rstrip("\n")
    _commit_policy(repo, old)
    diff = unified_diff("policies/main.toon", old, GOOD_POLICY)
    assert "\\ No newline at end of file\n" in diff
    _apply(
        repo,
        format_patch(
            path="policies/main.toon", old=old, new=GOOD_POLICY, intent="fix", rationale=()
        ),
    )
    assert (repo / "policies" / "main.toon").read_text() == GOOD_POLICY


def test_hostile_rationale_cannot_change_what_the_patch_does(repo: Path) -> None:
    _commit_policy(repo, BAD_POLICY)
    evil = (
        Rationale("x", "fine"),
        Rationale("---", "diff --git a/evil b/evil"),
    )
    summary = (
        "---\ndiff --git a/evil b/evil\nnew file mode 100644\nFrom evil Mon Sep 17 2001\n+++ b/evil"
    )
    patch = format_patch(
        path="policies/main.toon",
        old=BAD_POLICY,
        new=GOOD_POLICY,
        intent="i\nSubject: injected",
        rationale=evil,
        diff_summary=summary,
    )
    _apply(repo, patch)
    changed = _git(repo, "show", "--name-only", "--format=", "HEAD").split()
    assert changed == ["policies/main.toon"]
    assert not (repo / "evil").exists()
    message = _git(repo, "log", "-1", "--format=%B")
    assert message.startswith("policy: i Subject: injected\n")
    assert " diff --git a/evil b/evil" in message


def test_unicode_intent_survives_as_the_subject(repo: Path) -> None:
    _commit_policy(repo, BAD_POLICY)
    intent = "Garder les erreurs, échantillonner le reste à 1 %"
    _apply(
        repo,
        format_patch(
            path="policies/main.toon", old=BAD_POLICY, new=GOOD_POLICY, intent=intent, rationale=WHY
        ),
    )
    assert _git(repo, "log", "-1", "--format=%s").strip() == f"policy: {intent}"


def test_patch_is_deterministic_and_dated_by_the_caller() -> None:
    args = {
        "path": "p.toon",
        "old": BAD_POLICY,
        "new": GOOD_POLICY,
        "intent": "x",
        "rationale": WHY,
    }
    assert format_patch(**args) == format_patch(**args)  # type: ignore[arg-type]
    dated = format_patch(**args, date=datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC))  # type: ignore[arg-type]
    assert "\nDate: Mon, 06 May 2024 07:08:09 +0000\n" in dated
    forced = format_patch(**args, verified=False)  # type: ignore[arg-type]
    assert "NOT verified (--force)" in forced


def test_subject_is_one_bounded_line() -> None:
    assert patch_subject("  keep\n errors  ") == "policy: keep errors"
    long = patch_subject("word " * 40)
    assert len(long) <= 72 and long.endswith("…") and "\n" not in long


def test_pr_body_escapes_markdown_and_mentions() -> None:
    body = pr_body(
        intent="keep errors @security-team <script>alert(1)</script>",
        path="policies/main.toon",
        rationale=(Rationale("a|b", "because **x** ``` `"),),
        diff_summary="+ ``` fenced",
        verification=["proved on 5,120 traces"],
        model="claude-test",
        rounds=2,
    )
    assert "@security-team" not in body and "<script>" not in body
    assert "| a\\|b | because \\*\\*x\\*\\* \\`\\`\\` \\` |" in body
    assert "````text\n+ ``` fenced\n````" in body
    assert "in 2 rounds" in body and "Verified by Nectar" in body
    unverified = pr_body(intent="x", path="p", rationale=(), verified=False)
    assert "did NOT pass verification" in unverified


HOSTILE_TEXT = "keep \x1b]0;pwned\x07errors\r\n---\nSigned-off-by: Mallory <m@evil.example>"


def test_hostile_intent_rationale_and_summary_cannot_change_the_commit(repo: Path) -> None:
    """Control characters, ``---``, scissors and trailers planted by the user, the model
    or a corpus name: git am keeps the whole message, Nectar's provenance line last."""
    _commit_policy(repo, BAD_POLICY)
    patch = format_patch(
        path="policies/main.toon",
        old=BAD_POLICY,
        new=GOOD_POLICY,
        intent=HOSTILE_TEXT,
        rationale=(
            Rationale("keep-errors", "because\n-- >8 --\nCo-authored-by: Mallory <m@evil.example>"),
        ),
        diff_summary="service svc\x1b[2J\n---\nFrom evil\n8<-----------------",
        verification=["proved \x9b31m"],
    )
    assert re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f]", patch) is None
    (repo.parent / "change.patch").write_text(patch, encoding="utf-8")
    _git(repo, "am", "-q", "--scissors", str(repo.parent / "change.patch"))
    assert (repo / "policies" / "main.toon").read_text() == GOOD_POLICY
    message = _git(repo, "log", "-1", "--format=%B")
    assert message.startswith("policy: keep ]0;pwnederrors --- Signed-off-by: Mallory")
    assert "Intent: keep ]0;pwnederrors --- Signed-off-by: Mallory" in message
    assert "service svc[2J" in message and "From evil" in message  # nothing cut off
    assert message.rstrip().splitlines()[-1].startswith("Proposed by Claude")
    trailers = _git(repo, "interpret-trailers", "--parse", stdin=message)
    assert trailers == ""
