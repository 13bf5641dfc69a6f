"""The repository holds only what this project wrote: no committed file is a copy of the real
data in ../shared (traces and rules files from other public repositories, Refinery's cases).

Compared by content (SHA-256), so a renamed copy is caught as well; empty files are left out
(an empty file is nobody's work).  Read in place, nothing written.
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

from tests.realdata import CASES_FILE, REPO


def _digest(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _shared_digests(realdata: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for base in (realdata, CASES_FILE.parent):
        for path in sorted(base.rglob("*")):
            parts = path.relative_to(base).parts
            if path.is_file() and path.stat().st_size and not any(p.startswith(".") for p in parts):
                found.setdefault(_digest(path), path)
    return found


def _committed() -> list[str]:
    try:
        out = subprocess.run(
            ["git", "-C", str(REPO), "ls-files", "-z"],
            capture_output=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: no committed files to compare")
    return [name for name in out.decode("utf-8").split("\0") if name]


def test_no_committed_file_is_a_copy_of_shared_real_data(realdata: Path) -> None:
    shared = _shared_digests(realdata)
    assert len(shared) >= 60  # the folder really was read
    copies = []
    for name in _committed():
        path = REPO / name
        if path.is_file() and not path.is_symlink() and path.stat().st_size:
            original = shared.get(_digest(path))
            if original is not None:
                copies.append(f"{name} is a copy of {original}")
    assert copies == [], "\n".join(["read these in place instead of committing them:", *copies])
