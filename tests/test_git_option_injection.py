"""Class 9 of issue 19: a ``git:`` source never reaches git as an option."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pytest_nectar.errors import UsageError
from pytest_nectar.report.subject import read_source


def _repo(tmp_path: Path) -> None:
    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    git("config", "user.email", "t@example.com")
    git("config", "user.name", "t")
    (tmp_path / "p.toon").write_text("x\n", encoding="utf-8")
    git("add", "p.toon")
    git("commit", "-q", "-m", "one")


def test_cli_diff_refuses_a_revision_that_is_an_option(tmp_path: Path) -> None:
    _repo(tmp_path)
    out = subprocess.run(
        [sys.executable, "-m", "pytest_nectar", "diff", "git:--output=pwned:p.toon", "p.toon"],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert out.returncode == 2
    assert out.stderr.splitlines()[0] == (
        "git:--output=pwned:p.toon: a git revision must not start with '-'; "
        "got '--output=pwned'; name a branch, tag or commit"
    )
    assert not (tmp_path / "pwned").exists()


def test_git_show_is_told_where_its_options_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Even a revision git itself would expand is never parsed as an option."""
    _repo(tmp_path)
    monkeypatch.chdir(tmp_path)
    calls: list[list[str]] = []
    real = subprocess.run

    def spy(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[bytes]:
        calls.append(list(argv))
        return real(argv, **kwargs)  # type: ignore[call-overload,no-any-return]

    monkeypatch.setattr(subprocess, "run", spy)
    assert read_source("git:HEAD:p.toon") == ("x\n", "HEAD:p.toon")
    assert calls == [["git", "show", "--end-of-options", "HEAD:./p.toon"]]
    with pytest.raises(UsageError):
        read_source("git:-p:p.toon")
    assert len(calls) == 1
