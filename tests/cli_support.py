"""Running the ``nectar`` CLI in-process in tests, and comparing two ways of running it."""

from __future__ import annotations

import pytest

from pytest_nectar.cli import main


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    """The exit code and standard output of ``nectar *argv`` (never a traceback)."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out


def same_output(capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], *variant: str) -> str:
    """``nectar *argv`` with and without the ``variant`` options: the same exit code and
    the same bytes out (returned)."""
    code, plain = run_cli(capsys, *argv)
    assert run_cli(capsys, *argv, *variant) == (code, plain)
    return plain
