"""The real-data support itself (tests/conftest.py, tests/realdata.py): absent data skips with
one summary line (the same under xdist), ``NECTAR_REQUIRE_REALDATA=1`` turns that into a
failure, and a run that writes into the shared folder fails.

Each case runs pytest in a subprocess with this suite's conftest loaded as a plugin and
``NECTAR_SHARED`` pointed at a folder made here, so the real ../shared is never involved.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.realdata import REPO

TESTS = """\
import pytest
from pathlib import Path

def test_reads(realdata: Path) -> None:
    assert (realdata / "otlp" / "a.json").read_text() == "{}"

@pytest.mark.parametrize("n", [1, 2])
def test_writes(realdata: Path, n: int) -> None:
    if n == 2 and (realdata.parent / "WRITE").exists():
        (realdata / "otlp" / "cache.bin").write_bytes(b"x")

def test_plain() -> None:
    assert True
"""


def _shared(tmp_path: Path) -> Path:
    shared = tmp_path / "shared"
    (shared / "realdata" / "otlp").mkdir(parents=True)
    (shared / "realdata" / "otlp" / "a.json").write_text("{}")
    (shared / "refinery-cases").mkdir()
    (shared / "refinery-cases" / "given.json").write_text("[]")
    return shared


def _pytest(
    tmp_path: Path, shared: Path, *args: str, require: bool = False
) -> subprocess.CompletedProcess[str]:
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    (work / "test_sample.py").write_text(TESTS)
    env = {k: v for k, v in os.environ.items() if not k.startswith("NECTAR_")}
    env["NECTAR_SHARED"] = str(shared)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    if require:
        env["NECTAR_REQUIRE_REALDATA"] = "1"
    plugins = ["-p", "tests.conftest", "-p", "no:cacheprovider", "-p", "no:nectar"]
    return subprocess.run(
        [sys.executable, "-m", "pytest", *plugins, "-q", "-rs", "test_sample.py", *args],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _summary_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("nectar: ")]


def test_present_data_runs_and_an_untouched_folder_passes(tmp_path: Path) -> None:
    result = _pytest(tmp_path, _shared(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 passed" in result.stdout and _summary_lines(result.stdout) == []


def test_writing_into_the_shared_folder_fails_the_session(tmp_path: Path) -> None:
    shared = _shared(tmp_path)
    (shared / "WRITE").touch()
    result = _pytest(tmp_path, shared)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "4 passed" in result.stdout  # every test passed: the session guard caught it
    (line,) = _summary_lines(result.stdout)
    assert line.startswith("nectar: the run wrote into the shared real data (")
    assert "cache.bin" in line or "otlp" in line


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_absent_data_skips_with_one_summary_line(tmp_path: Path, workers: list[str]) -> None:
    result = _pytest(tmp_path, tmp_path / "nowhere", *workers)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed, 3 skipped" in result.stdout
    assert _summary_lines(result.stdout) == [
        f"nectar: 3 real-data tests skipped: real data absent: {tmp_path / 'nowhere'}/realdata, "
        f"{tmp_path / 'nowhere'}/refinery-cases/given.json not found "
        "(set NECTAR_REALDATA / NECTAR_SHARED; see CONTRIBUTING.md)"
    ]
    folded = [line for line in result.stdout.splitlines() if line.startswith("SKIPPED")]
    assert len(folded) == 1 and folded[0].startswith("SKIPPED [3] ")


def test_required_absent_data_fails(tmp_path: Path) -> None:
    result = _pytest(tmp_path, tmp_path / "nowhere", require=True)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 passed, 3 errors" in result.stdout
    (line,) = _summary_lines(result.stdout)
    assert line.startswith("nectar: 3 real-data tests failed (NECTAR_REQUIRE_REALDATA=1): ")
