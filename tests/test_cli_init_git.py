"""``nectar init`` starts a git repository (unless in one, or --no-git); ``nectar diff``
says what to do when the revision or the repository is missing."""

# ruff: noqa: E501  (verbatim messages)

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from pytest_nectar.cli import main

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def test_init_runs_git_init(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init", str(tmp_path / "p")]) == 0
    assert (tmp_path / "p" / ".git").is_dir()
    assert f"initialised a git repository in {tmp_path / 'p'}" in capsys.readouterr().out


def test_init_no_git_and_inside_a_repository(tmp_path: Path) -> None:
    assert main(["init", "--no-git", str(tmp_path / "a")]) == 0
    assert not (tmp_path / "a" / ".git").exists()
    subprocess.run(["git", "init", "-q", str(tmp_path / "repo")], check=True)
    assert main(["init", str(tmp_path / "repo" / "policies-project")]) == 0
    assert not (tmp_path / "repo" / "policies-project" / ".git").exists()


def _diff(capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["diff", "git:HEAD:policies/production.toon", "policies/production.toon"])
    return code, capsys.readouterr().err


def test_diff_explains_a_missing_repository_revision_or_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("HOME", str(tmp_path))
    main(["init", "--no-git", str(tmp_path / "p")])
    monkeypatch.chdir(tmp_path / "p")
    capsys.readouterr()
    assert _diff(capsys) == (
        2,
        "git:HEAD:policies/production.toon: git cannot show this file; got 'fatal: not a git repository (or any of the parent directories): .git'; this folder is not in a git repository: run 'git init', then 'git add . && git commit -m policies' (or compare two files: nectar diff OLD NEW)\n",
    )
    subprocess.run(["git", "init", "-q"], check=True)
    assert _diff(capsys) == (
        2,
        "git:HEAD:policies/production.toon: git cannot show this file; got \"fatal: invalid object name 'HEAD'.\"; there is no revision 'HEAD' here: commit first ('git add . && git commit -m policies'), or name one that exists ('git log --oneline')\n",
    )
    env = ["-c", "user.name=r", "-c", "user.email=r@e"]
    subprocess.run(["git", *env, "commit", "-q", "--allow-empty", "-m", "x"], check=True)
    assert _diff(capsys) == (
        2,
        "git:HEAD:policies/production.toon: git cannot show this file; got \"fatal: path 'policies/production.toon' exists on disk, but not in 'HEAD'\"; policies/production.toon is not in HEAD: commit it first, or give its path as it was in HEAD\n",
    )
