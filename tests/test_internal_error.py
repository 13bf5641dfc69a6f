"""The top-level guard: an unexpected exception is "internal error, please report", exit 3.

Why exit 3 and not a re-raise under tests: the guard behaves the same in the suite as for
users, and 3 is never what a test expects (0 pass, 1 a check failed, 2 bad input), so a bug
still fails its test loudly; the suite sets ``NECTAR_DEBUG=1`` (conftest) so that the
failing test's output carries the trace.  Exit 3 is also pytest's internal-error code.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

import pytest_nectar.cli.check
import pytest_nectar.pytest_plugin.checks
import pytest_nectar.pytest_plugin.collect
from pytest_nectar.cli import main
from pytest_nectar.errors import INTERNAL_ERROR_EXIT
from tests.plugin_support import make_project, run

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[1]
FIRST_LINE = "nectar: internal error, please report: ZeroDivisionError: boom \\x1b[2J"


def _boom(*_: object) -> int:
    raise ZeroDivisionError("boom \x1b[2J")


def test_cli_guard_turns_a_bug_into_exit_3(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(pytest_nectar.cli.check, "run", _boom)
    monkeypatch.delenv("NECTAR_DEBUG", raising=False)
    assert main(["check", "x.toon"]) == INTERNAL_ERROR_EXIT == 3
    err = capsys.readouterr().err.splitlines()
    assert err[0] == FIRST_LINE
    assert err[1].startswith("  this is a bug in Nectar, not in your input: please report")
    assert "NECTAR_DEBUG=1" in err[1] and len(err) == 2 and "Traceback" not in "\n".join(err)
    monkeypatch.setenv("NECTAR_DEBUG", "1")
    assert main(["check", "x.toon"]) == 3
    trace = capsys.readouterr().err
    assert "Traceback (most recent call last):" in trace and "in _boom" in trace
    assert "\x1b" not in trace


def test_gate_reports_error_not_fail_for_an_internal_error(tmp_path: Path) -> None:
    """The Action's gate on a real CLI whose prove has a bug: verdict ``error``."""
    python = tmp_path / "python"
    python.write_text(
        "#!/usr/bin/env bash\n"
        'if [[ "$1 $2 $3" == "-m pytest_nectar prove" ]]; then\n'
        f'  exec {sys.executable} -c "import sys, pytest_nectar.cli.prove as p; '
        "p.run = lambda a: 1 // 0; from pytest_nectar.cli import main; "
        'sys.exit(main(sys.argv[1:]))" "${@:3}"\n'
        "fi\n"
        'if [[ "$1 $2" == "-m pytest_nectar" ]]; then exit 0; fi\n'
        'if [[ "$1 $2" == "-m pytest_nectar.github.annotations" ]]; then exit 0; fi\n'
        f'exec {sys.executable} "$@"\n',
        encoding="utf-8",
    )
    python.chmod(python.stat().st_mode | stat.S_IXUSR)
    outputs = tmp_path / "outputs"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "NECTAR_PYTHON": str(python),
        "NECTAR_POLICIES": "p.toon",
        "RUNNER_TEMP": str(tmp_path),
        "GITHUB_OUTPUT": str(outputs),
    }
    env.pop("GITHUB_BASE_REF", None)
    env.pop("NECTAR_BASE_REF", None)
    done = subprocess.run(
        ["bash", str(ROOT / "action" / "gate.sh")],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1
    assert "verdict=error" in outputs.read_text().splitlines()
    assert "nectar: internal error, please report: ZeroDivisionError" in done.stderr


def test_plugin_guard_fails_the_item_and_exits_3(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_project(pytester)
    monkeypatch.delenv("NECTAR_DEBUG", raising=False)
    monkeypatch.setattr(pytest_nectar.pytest_plugin.checks, "check_compiles", _boom)
    result = run(pytester, "-k", "compiles")
    result.assert_outcomes(failed=1)
    assert result.ret == 3
    out = result.stdout.str()
    assert FIRST_LINE in out and "rerun: pytest policies/shop.toon::compiles" in out
    assert "Traceback" not in out and "checks.py" not in out
    assert "nectar: 1 internal error(s), please report (exit 3)" in out


def test_plugin_guard_covers_collection(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_project(pytester)
    monkeypatch.delenv("NECTAR_DEBUG", raising=False)
    monkeypatch.setattr(pytest_nectar.pytest_plugin.collect, "policy_items", _boom)
    result = run(pytester)
    assert result.ret == 3
    out = result.stdout.str()
    assert FIRST_LINE in out and "Traceback" not in out
