"""What the Nectar pytest plugin adds to a pytest run in a repository without policies,
and how long the whole examples/quickstart suite takes.

1. Builds a throwaway repository (many small test modules, data files, a pyproject without
   ``[tool.nectar]``, no policies), then times ``pytest`` with the plugin and with
   ``-p no:nectar`` in the same run, alternating, and prints medians and the difference.
   Target: the plugin adds less than 0.5 s.
2. Times plain ``pytest`` in a copy of examples/quickstart (corpus cache warm, as on a
   developer's machine after the first run; the cold first run is printed too).
   Target: under 10 s.

    python benchmarks/bench_plugin_overhead.py [--runs 7] [--modules 200]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _make_repo(root: Path, modules: int) -> None:
    (root / "pyproject.toml").write_text(
        '[project]\nname = "app"\nversion = "0"\n\n[tool.pytest.ini_options]\naddopts = "-q"\n'
    )
    tests = root / "tests"
    tests.mkdir()
    for i in range(modules):
        (tests / f"test_m{i:04d}.py").write_text(
            f"def test_a{i}():\n    assert {i} + 1 == {i + 1}\n\n"
            f"def test_b{i}():\n    assert str({i})\n"
        )
    data = root / "data"
    data.mkdir()
    for i in range(50):
        (data / f"d{i}.json").write_text("{}\n")
        (data / f"notes{i}.toon").write_text("title: not a policy\n")


def _env() -> dict[str, str]:
    """A user's setup: bytecode cached (here in a private folder, not in the checkout)."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(Path(tempfile.gettempdir()) / "nectar-bench-pycache")
    return env


def _time(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=_env())
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"pytest failed: {' '.join(cmd)}")
    return elapsed


def _cpu_time(cmd: list[str], cwd: Path) -> tuple[float, float]:
    """(wall, user+system CPU of the child) seconds."""
    before = os.times()
    wall = _time(cmd, cwd)
    after = os.times()
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    return wall, cpu


def _quickstart(runs: int) -> None:
    source = Path(__file__).resolve().parents[1] / "examples" / "quickstart"
    with tempfile.TemporaryDirectory(prefix="nectar-qs-") as tmp:
        repo = Path(tmp) / "quickstart"
        shutil.copytree(source, repo, ignore=shutil.ignore_patterns(".nectar-cache"))
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
        cold_wall, cold_cpu = _cpu_time(cmd, repo)  # builds the corpus cache
        warm = [_cpu_time(cmd, repo) for _ in range(runs)]
    wall = statistics.median(w for w, _ in warm)
    cpu = statistics.median(c for _, c in warm)
    print(f"quickstart suite, cold corpus cache: {cold_wall:.3f} s wall, {cold_cpu:.3f} s CPU")
    print(f"quickstart suite, warm (median of {runs}): {wall:.3f} s wall, {cpu:.3f} s CPU")
    print(f"target: < 10 s -> {'met' if wall < 10 else 'NOT met'} (wall, warm)")
    load = os.getloadavg()[0]
    print(f"load average during the run: {load:.2f} on {os.cpu_count()} cores")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--modules", type=int, default=200)
    args = parser.parse_args(argv)
    base = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "tests", "data"]
    with tempfile.TemporaryDirectory(prefix="nectar-bench-") as tmp:
        root = Path(tmp)
        _make_repo(root, args.modules)
        with_plugin: list[tuple[float, float]] = []
        without: list[tuple[float, float]] = []
        _time(base, root)  # warm the file system and bytecode caches
        for _ in range(args.runs):
            with_plugin.append(_cpu_time(base, root))
            without.append(_cpu_time([*base, "-p", "no:nectar"], root))
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-c", "import pytest_nectar.pytest_plugin.hooks"],
            check=True,
            env=_env(),
        )
        import_s = time.perf_counter() - start
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import pytest"], check=True, env=_env())
        import_pytest_s = time.perf_counter() - start
    med_with = statistics.median(w for w, _ in with_plugin)
    med_without = statistics.median(w for w, _ in without)
    cpu_with = statistics.median(c for _, c in with_plugin)
    cpu_without = statistics.median(c for _, c in without)
    print(f"repository: {args.modules} test modules, 100 data files, no policies")
    print(f"runs: {args.runs} each, alternating")
    print(f"pytest with the nectar plugin:  median {med_with:.3f} s wall, {cpu_with:.3f} s CPU")
    print(
        f"pytest -p no:nectar (baseline): median {med_without:.3f} s wall, {cpu_without:.3f} s CPU"
    )
    added = max(med_with - med_without, cpu_with - cpu_without)
    print(
        f"added by the plugin: {med_with - med_without:+.3f} s wall, "
        f"{cpu_with - cpu_without:+.3f} s CPU ({cpu_with / cpu_without:.3f}x the baseline CPU)"
    )
    print(
        f"python -c 'import pytest_nectar.pytest_plugin.hooks': {import_s:.3f} s "
        f"(python -c 'import pytest': {import_pytest_s:.3f} s)"
    )
    verdict = "met" if added < 0.5 else "NOT met"
    print(f"target: < 0.5 s added (the larger of wall and CPU) -> {verdict}")
    print()
    _quickstart(max(1, args.runs // 2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
