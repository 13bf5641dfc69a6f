"""Helpers for the gate tests: throw-away git repositories, a copy of this checkout to
install from, a shared pip cache, and running real `act` in host mode offline."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
QUICKSTART = ROOT / "examples" / "quickstart"
MULTI_ENV = ROOT / "examples" / "multi-env"
EXAMPLES = (QUICKSTART, MULTI_ENV)
TEMPLATE = ROOT / "pytest_nectar" / "project_template"
VENV_BIN = Path(sys.executable).parent
# The documented placeholder for where users take the action from (their fork or upstream,
# see README); tests map it to a copy of this checkout (act --local-repository).
ACTION_REPO = "OWNER/nectar@v1"
GIT_ID = ["-c", "user.email=test@example.com", "-c", "user.name=Nectar Test"]


def tool(name: str) -> str:
    """A test-time tool from the dev extra, next to this interpreter or on PATH."""
    found = VENV_BIN / name
    if found.exists():
        return str(found)
    which = shutil.which(name)
    if which is None:
        pytest.fail(f"{name} is not installed: pip install -e '.[dev]'")
    return which


def nectar(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "pytest_nectar", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if check and proc.returncode != 0:
        pytest.fail(f"nectar {' '.join(args)} exited {proc.returncode}:\n{proc.stderr}")
    return proc


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(
        ["git", *GIT_ID, *args], cwd=cwd, capture_output=True, text=True, check=True, timeout=60
    ).stdout


def commit_all(repo: Path, message: str = "policies") -> None:
    git("add", "-A", cwd=repo)
    git("commit", "-q", "--no-verify", "-m", message, cwd=repo)


def init_repo(repo: Path) -> None:
    repo.mkdir(parents=True, exist_ok=True)
    git("init", "-q", "-b", "main", cwd=repo)


_SOURCE_ITEMS = ("pyproject.toml", "README.md", "LICENSE", "pytest_nectar", "action", "hooks")
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build")


def copy_nectar_source(dest: Path) -> Path:
    """What `pip install` of this checkout needs, so tools never write into the checkout."""
    dest.mkdir(parents=True)
    for name in _SOURCE_ITEMS:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=_IGNORE)
        elif src.exists():
            shutil.copy2(src, dest / name)
    return dest


def shared_pip_cache(factory: pytest.TempPathFactory) -> Path:
    """A pip cache in the test run's temporary folder, shared by the xdist workers.

    Every virtualenv the gate tests build (pre-commit's hook environments, the action's
    tool-cache install) downloads numpy & co. once per run at most; later installs take
    the cached wheels.
    """
    base = factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # popen-gwN's parent: the same folder for every worker
    cache = base / "pip-cache"
    cache.mkdir(exist_ok=True)
    return cache


def isolated_env(
    home: Path, extra_path: Sequence[Path] = (), pip_cache: Path | None = None
) -> dict[str, str]:
    """A child environment with its own HOME (act's and pre-commit's caches go there).

    pip uses ``pip_cache`` and skips byte-compiling (Python compiles what a run imports).
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "ANTHROPIC_"))}
    if pip_cache is not None:
        env["PIP_CACHE_DIR"] = str(pip_cache)
    env["PIP_NO_COMPILE"] = "1"
    env["HOME"] = str(home)
    env["XDG_CACHE_HOME"] = str(home / ".cache")
    env["PRE_COMMIT_HOME"] = str(home / "pre-commit")
    env["PATH"] = os.pathsep.join([*map(str, extra_path), str(VENV_BIN), env.get("PATH", "")])
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env.pop("VIRTUAL_ENV", None)
    return env


def run_act(
    repo: Path,
    workflow: str,
    event: str,
    *,
    home: Path,
    nectar_source: Path,
    env: Mapping[str, str] | None = None,
    secrets: Mapping[str, str] | None = None,
    event_file: Path | None = None,
    inputs: Mapping[str, str] | None = None,
    extra_path: Sequence[Path] = (),
    pip_cache: Path | None = None,
    timeout: float = 240,
) -> subprocess.CompletedProcess[str]:
    """Real act, host mode, offline: actions/checkout is handled locally by act, and
    `OWNER/nectar/...@v1` is mapped to the copy of this checkout."""
    cmd = [
        tool("act"),
        event,
        "-W",
        f".github/workflows/{workflow}",
        "-P",
        "ubuntu-latest=-self-hosted",
        "--local-repository",
        f"{ACTION_REPO}={nectar_source}",
        "--action-offline-mode",
    ]
    if event_file is not None:
        cmd += ["-e", str(event_file)]
    for key, value in (env or {}).items():
        cmd += ["--env", f"{key}={value}"]
    for key, value in (inputs or {}).items():
        cmd += ["--input", f"{key}={value}"]
    for key, value in (secrets or {}).items():
        cmd += ["-s", f"{key}={value}"]
    return subprocess.run(
        cmd,
        cwd=repo,
        env=isolated_env(home, extra_path, pip_cache),
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )
