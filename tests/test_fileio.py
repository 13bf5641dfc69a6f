"""Atomic writes under failure: a clean located error and the old file intact (issue 19)."""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

import pytest

from pytest_nectar.cli import main
from pytest_nectar.errors import NectarError
from pytest_nectar.fileio import write_atomic, write_atomic_all

POLICY = (
    "nectar_policy{version,name,budget_per_second,rules}:\n  1\n  p\n  10\n"
    "  rules[1]{name,description,match,action,priority}:\n    r,,true,keep,0\n"
)


RULES = """RulesVersion: 2
Samplers:
  __default__:
    RulesBasedSampler:
      Rules:
        - Name: all
          SampleRate: 1
"""


def test_writes_and_replaces(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "f.txt"
    write_atomic(target, "one")
    write_atomic(target, b"two")
    assert target.read_text() == "two"
    assert [p.name for p in target.parent.iterdir()] == ["f.txt"]


def test_full_disk_is_a_clean_error_and_the_old_file_survives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "f.txt"
    target.write_text("old")

    def full(fd: int, *args: object, **kwargs: object) -> object:
        os.close(fd)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fdopen", full)
    with pytest.raises(NectarError) as info:
        write_atomic(target, "new")
    assert info.value.message == (
        f"{target}: cannot write file; got 'No space left on device'; "
        "the disk is full; any previous file is unchanged"
    )
    assert info.value.exit_code == 2
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]  # no temporary file left


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_folder_is_a_clean_error(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    (folder / "f.txt").write_text("old")
    folder.chmod(0o500)
    try:
        with pytest.raises(NectarError, match="the folder is read-only or not writable"):
            write_atomic(folder / "f.txt", "new")
    finally:
        folder.chmod(0o700)
    assert (folder / "f.txt").read_text() == "old"


def test_read_only_folder_even_as_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Root ignores permission bits, so simulate the read-only file system's EROFS.
    target = tmp_path / "f.txt"
    target.write_text("old")

    def read_only(*args: object, **kwargs: object) -> object:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr("tempfile.mkstemp", read_only)
    with pytest.raises(NectarError) as info:
        write_atomic(target, "new")
    assert info.value.message.endswith(
        "got 'Read-only file system'; the folder is read-only or not writable; "
        "any previous file is unchanged"
    )
    assert target.read_text() == "old"


def test_a_symlink_is_kept_and_its_target_rewritten(tmp_path: Path) -> None:
    real = tmp_path / "real.toon"
    real.write_text("old")
    link = tmp_path / "link.toon"
    link.symlink_to(real)
    write_atomic(link, "new")
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_text() == "new"


def test_fmt_through_a_symlink_keeps_the_link(tmp_path: Path) -> None:
    real = tmp_path / "real.toon"
    real.write_text(POLICY.replace("  10\n", "  010\n"))
    link = tmp_path / "link.toon"
    link.symlink_to(real)
    assert main(["fmt", str(link)]) == 0
    assert link.is_symlink()
    assert real.read_text() == POLICY


@pytest.mark.parametrize(
    "argv",
    [
        ["fmt", "{p}"],
        ["compile", "{p}", "-o", "{d}/rules.yaml", "--lock", "{d}/nectar.lock"],
        ["explain", "{p}", "-o", "{d}/report.txt"],
        ["import", "{r}", "-o", "{d}/imported"],
    ],
)
def test_commands_on_a_full_disk_exit_2_without_a_traceback(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
) -> None:
    policy = tmp_path / "p.toon"
    policy.write_text(POLICY.replace("  10\n", "  010\n"))
    before = policy.read_text()

    def full(*args: object, **kwargs: object) -> object:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("tempfile.mkstemp", full)
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    args = [a.format(p=policy, d=tmp_path, r=rules) for a in argv]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "cannot write file; got 'No space left on device'; the disk is full" in err
    assert "Traceback" not in err
    assert policy.read_text() == before


def test_files_written_together_are_all_replaced_or_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rules, lock = tmp_path / "rules.yaml", tmp_path / "nectar.lock"
    rules.write_text("old rules")
    lock.write_text("old lock")
    real_mkstemp = tempfile.mkstemp

    def second_fails(*args: object, **kwargs: object) -> object:
        if str(kwargs.get("prefix", "")).startswith(".nectar.lock"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_mkstemp(*args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(tempfile, "mkstemp", second_fails)
    with pytest.raises(NectarError, match=r"nectar\.lock: cannot write file"):
        write_atomic_all([(rules, "new rules"), (lock, "new lock")])
    assert (rules.read_text(), lock.read_text()) == ("old rules", "old lock")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nectar.lock", "rules.yaml"]
    monkeypatch.undo()
    write_atomic_all([(rules, "new rules"), (lock, "new lock")])
    assert (rules.read_text(), lock.read_text()) == ("new rules", "new lock")
