"""Nectar's own suite: fixtures for real data read in place and an isolated corpus cache.

The policies under tests/data and tests/golden are inputs of tests, not a policy
repository, so the plugin must not collect them as policy items here.

Real data (tests/realdata.py): tests that read the real trace and rules files request the
``realdata`` fixture.  Without the folder they are skipped, counted in one line of the
terminal summary; with ``NECTAR_REQUIRE_REALDATA=1`` (``.ci/run``) they fail instead.  The
folder is snapshotted (names, sizes, mtimes) at the start and compared at the end of the
run: a test or command that writes into it fails the session.

The corpus cache: every test process points ``NECTAR_CACHE_DIR`` at its own temporary folder,
so the suite never fills the developer's cache folder (tests of the platform default unset it
and redirect the platform folder themselves).
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from tests.realdata import CASES_FILE, REALDATA, SKIP_REASON, absent_reason, required

# CI runs the property tests derandomized, so a landing never depends on a lucky draw;
# developers' runs explore new examples (Hypothesis prints the seed and the failing example).
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

# An internal error (a bug) exits 3, which no test expects, and shows its trace here.
os.environ.setdefault("NECTAR_DEBUG", "1")

collect_ignore_glob = ["data/*", "golden/*"]

_SNAPSHOT = pytest.StashKey[dict[str, tuple[int, int]]]()
_CHANGED = pytest.StashKey[list[str]]()


@pytest.fixture(scope="session")
def realdata() -> Path:
    """The real-data folder (``$NECTAR_REALDATA``); skips, or fails when it is required."""
    reason = absent_reason()
    if reason is not None:
        if required():
            pytest.fail(f"{reason}; NECTAR_REQUIRE_REALDATA=1 requires it", pytrace=False)
        pytest.skip(reason)
    return REALDATA


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    longrepr = getattr(report, "longrepr", None)
    if report.skipped and isinstance(longrepr, tuple) and SKIP_REASON in longrepr[2]:
        # One location for every such skip, so `-ra` folds them into one line too.
        report.longrepr = (__file__, 1, longrepr[2])
    return report


@pytest.fixture(scope="session", autouse=True)
def _isolated_corpus_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("nectar-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("NECTAR_CACHE_DIR", str(folder))
        patch.delenv("NECTAR_CACHE_MAX_BYTES", raising=False)
        yield folder


def _snapshot() -> dict[str, tuple[int, int]]:
    """Every path under the shared data (hidden ones too) with its size and mtime."""
    found: dict[str, tuple[int, int]] = {}
    for base in (REALDATA, CASES_FILE.parent):
        if not base.is_dir():
            continue
        for folder, dirs, files in os.walk(base):
            for name in (folder, *(os.path.join(folder, n) for n in (*dirs, *files))):
                try:
                    stat = os.lstat(name)
                except OSError:
                    continue  # removed while we looked: the next snapshot shows it gone
                found[name] = (stat.st_size, stat.st_mtime_ns)
    return found


def _is_controller(config: pytest.Config) -> bool:
    return not hasattr(config, "workerinput")  # xdist workers have it; the controller does not


def pytest_sessionstart(session: pytest.Session) -> None:
    if _is_controller(session.config):
        session.config.stash[_SNAPSHOT] = _snapshot()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    before = session.config.stash.get(_SNAPSHOT, None)
    if before is None:
        return
    after = _snapshot()
    changed = sorted(p for p in before.keys() | after.keys() if before.get(p) != after.get(p))
    session.config.stash[_CHANGED] = changed
    if changed and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    reason = absent_reason()
    if reason is not None:
        hits = 0
        for key in ("skipped", "error", "failed"):
            for report in terminalreporter.stats.get(key, []):
                longrepr = getattr(report, "longrepr", None)
                text = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
                hits += SKIP_REASON in text
        if hits:
            how = "failed (NECTAR_REQUIRE_REALDATA=1)" if required() else "skipped"
            terminalreporter.write_line(f"nectar: {hits} real-data tests {how}: {reason}")
    changed = terminalreporter.config.stash.get(_CHANGED, [])
    if changed:
        terminalreporter.write_line(
            f"nectar: the run wrote into the shared real data ({len(changed)} paths changed, "
            f"e.g. {changed[0]}); nothing may write there",
            red=True,
        )
