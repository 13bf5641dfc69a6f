"""pytest entry point (``pytest11``): policies, corpora, expectations and seeds as test items.

Kept import-light: this module imports only the standard library and pytest at start-up.
The policy parser, the corpus (numpy), the compiler and the prover load when a policy file
or the Nectar config file is collected, so a repository without policies pays nothing
measurable (``benchmarks/bench_plugin_overhead.py``).

Configuration is read once per session, from ``[tool.nectar]`` in pyproject.toml or from
nectar.toml (:mod:`pytest_nectar.project.config`), overridden by the ``--nectar-*`` options, and
kept in ``config.stash``.  Facts for the terminal summary travel on the test reports, so the
summary is the same under pytest-xdist.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Final

import pytest

from pytest_nectar.pytest_plugin.stash import session_of

#: A ``.toon`` file is a policy when a line starts with ``nectar_policy`` (TOON key).
_POLICY_HEAD: Final = re.compile(rb"^nectar_policy[{:\[]", re.MULTILINE)
_SNIFF_BYTES: Final = 64 * 1024
MARKERS: Final = (
    ("nectar", "a Nectar policy, corpus, expectation or simulation item"),
    ("nectar_property", "a Nectar safety property or build check of a policy"),
    ("nectar_lint", "a Nectar lint (a warning; fails under --nectar-strict)"),
    ("nectar_vopr", "a Nectar simulation seed (VOPR campaign run)"),
    ("nectar_expect", "a Nectar expectation (example trace with its decision)"),
    ("nectar_corpus", "a Nectar corpus integrity check"),
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("nectar", "Nectar sampling policies")
    group.addoption(
        "--nectar-policies",
        action="append",
        metavar="GLOB",
        help="policy files to collect, relative to the project root (repeatable; "
        "default [tool.nectar] policies, else every .toon file holding a nectar_policy)",
    )
    group.addoption(
        "--nectar-corpus",
        action="append",
        metavar="PATH",
        help="trace file or folder to prove against (repeatable; default [tool.nectar] corpus)",
    )
    group.addoption("--nectar-rules", metavar="PATH", help="committed Refinery rules file")
    group.addoption("--nectar-lock", metavar="PATH", help="committed lockfile (nectar.lock)")
    group.addoption("--nectar-seeds", type=int, metavar="N", help="simulation seeds per campaign")
    group.addoption(
        "--nectar-campaigns", metavar="NAMES", help="comma-separated VOPR campaigns to run"
    )
    group.addoption(
        "--nectar-window",
        type=float,
        metavar="SECONDS",
        help="sliding window of the budget's peak check (default 60)",
    )
    group.addoption(
        "--nectar-seed",
        metavar="SEED",
        help="run exactly this simulation seed (0x2a or 42), e.g. to replay a failure",
    )
    group.addoption(
        "--nectar-strict",
        action="store_true",
        default=None,
        help="lints and corpus warnings fail instead of warning",
    )
    group.addoption(
        "--nectar-witnesses",
        type=int,
        metavar="N",
        help="witnesses shown per failing property (default 3; -v shows at least 10)",
    )


def pytest_configure(config: pytest.Config) -> None:
    for name, text in MARKERS:
        config.addinivalue_line("markers", f"{name}: {text}")
    config.pluginmanager.register(_Reporter(), "nectar-reporter")


def _is_policy(file_path: Path) -> bool:
    try:
        with open(file_path, "rb") as fh:
            head = fh.read(_SNIFF_BYTES)
    except OSError:
        return False
    return _POLICY_HEAD.search(head) is not None


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    name = file_path.name
    if name.endswith(".toon"):
        if not _is_policy(file_path):
            return None
        state = session_of(parent.config)
        if not state.is_configured_policy(file_path):
            return None
        from pytest_nectar.pytest_plugin.collect import PolicyFile

        return PolicyFile.from_parent(parent, path=file_path)
    if name in ("pyproject.toml", "nectar.toml"):
        state = session_of(parent.config)
        config_file = state.settings.config_file
        if config_file is None or file_path.resolve() != config_file.resolve():
            return None
        if not state.settings.corpus:
            return None
        from pytest_nectar.pytest_plugin.collect import ConfigFile

        return ConfigFile.from_parent(parent, path=file_path)
    return None


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    state = session_of(config)
    settings = state.settings
    if not settings.configured:
        return None
    where = settings.display(settings.config_file) if settings.config_file else "options"
    lines = [
        f"nectar: config {where}; corpus {settings.corpus_display() or '(none)'}; "
        f"budget window {settings.window_s:g}s" + ("; strict" if settings.strict else "")
    ]
    seeds = "; ".join(
        f"{c} " + ",".join(f"{s:#x}" for s in settings.seeds_for(c)) for c in settings.campaigns
    )
    if seeds:
        replay = " (--nectar-seed)" if settings.seed is not None else ""
        lines.append(f"nectar seeds{replay}: {seeds}")
    return lines


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Any:
    report = yield
    if getattr(collector, "nectar_internal", False):
        report.nectar_internal = True  # travels to the xdist controller with the report
    return report


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if getattr(item, "nectar_internal", False):
        report.nectar_internal = True
    facts = getattr(item, "nectar_facts", None)
    if facts is not None and report.when == "call":
        # Plain JSON data on the report: xdist ships it from the worker to the controller.
        report.nectar_facts = dict(facts)
        report.nectar_kind = getattr(item, "kind", "")
    return report


class _Reporter:
    """Gathers the Nectar facts of every report (also the controller's, under xdist) and
    prints the summary: registered per config, like pytest's own stepwise plugin."""

    def __init__(self) -> None:
        self.policies: dict[str, dict[str, Any]] = {}
        self.internal_errors = 0

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        self.internal_errors += bool(getattr(report, "nectar_internal", False))

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        # The guard's exit code: a bug in Nectar is not "a policy failed" (pytest's 1).
        if self.internal_errors:
            session.exitstatus = pytest.ExitCode.INTERNAL_ERROR

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "call":
            self.internal_errors += bool(getattr(report, "nectar_internal", False))
        facts = getattr(report, "nectar_facts", None)
        if facts is None or report.when != "call":
            return
        path, _, name = report.nodeid.partition("::")
        items = self.policies.setdefault(path, {})
        items[name] = {
            "outcome": report.outcome,
            "kind": getattr(report, "nectar_kind", ""),
            **facts,
        }

    def pytest_terminal_summary(self, terminalreporter: Any, config: pytest.Config) -> None:
        if self.internal_errors:
            terminalreporter.write_line(
                f"nectar: {self.internal_errors} internal error(s), please report (exit 3)",
                red=True,
            )
        if not self.policies:
            return
        from pytest_nectar.pytest_plugin.summary import render_summary

        terminalreporter.write_sep("=", "nectar summary")
        for line in render_summary(self.policies, verbose=config.get_verbosity() > 0):
            terminalreporter.write_line(line)
