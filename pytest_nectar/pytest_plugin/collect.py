"""Collection: a policy file and the Nectar config file become items (:mod:`.items`).

The checks each item runs are in :mod:`pytest_nectar.pytest_plugin.checks`; collectors live
apart from the items so that checks may import items without a cycle.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from pytest_nectar.errors import NectarError
from pytest_nectar.pytest_plugin import checks
from pytest_nectar.pytest_plugin.items import (
    CORPUS_ITEMS,
    NectarItem,
    internal_failure,
    policy_items,
)
from pytest_nectar.pytest_plugin.stash import session_of

if TYPE_CHECKING:
    from _pytest._code.code import ExceptionInfo, TerminalRepr

    from pytest_nectar.pytest_plugin.session import NectarSession, PolicyAnalysis

__all__ = ["ConfigFile", "PolicyFile"]


class _GuardedFile(pytest.File):
    """A collector whose unexpected exceptions go through the guard (a bug: exit 3)."""

    def repr_failure(  # type: ignore[override]  # pytest's Collector takes no style
        self, excinfo: ExceptionInfo[BaseException]
    ) -> str | TerminalRepr:
        text = internal_failure(self, excinfo.value)
        return text if text is not None else super().repr_failure(excinfo)


class PolicyFile(_GuardedFile):
    """A ``.toon`` file holding a ``nectar_policy``."""

    def collect(self) -> Iterator[NectarItem]:

        state = self._state()
        analysis = state.analysis(self.path)
        if analysis.policy is None:
            yield self._item("parse", "property", checks.check_parse, analysis)
            return
        settings = state.settings
        for name, kind, run in policy_items(settings.campaigns, settings.seeds_for):
            item = self._item(name, kind, checks.check_for(name, kind), analysis)
            if run is not None:
                item.simulation = run
                item.user_properties.append(("nectar.seed", run.seed_text))
                item.nectar_facts["seed"] = run.seed_text
            yield item
        yield from self._expectations(analysis)

    def _state(self) -> NectarSession:

        return session_of(self.config)

    def _item(
        self,
        name: str,
        kind: str,
        check: Callable[[NectarItem], None],
        analysis: PolicyAnalysis,
        line: int = 0,
    ) -> NectarItem:
        item = NectarItem.from_parent(
            self, name=name, check=check, kind=kind, line=line or _line_of(analysis, name)
        )
        item.user_properties.append(("nectar.policy", analysis.display))
        return item

    def _expectations(self, analysis: PolicyAnalysis) -> Iterator[NectarItem]:
        from pytest_nectar.project.expectations import expectation_files, read_expectations

        seen: dict[str, int] = {}
        for path in expectation_files(self.path):
            display = analysis.session.settings.display(path)
            for entry in read_expectations(path, display):
                if isinstance(entry, NectarError):
                    pos = entry.position
                    label = f"{path.name}:{pos.line if pos else 0}"
                    line = pos.line if pos else 0
                else:
                    label, line = entry.name, entry.position.line
                n = seen.get(label, 0)
                seen[label] = n + 1
                name = f"expect[{label}]" if n == 0 else f"expect[{label}#{n + 1}]"
                item = NectarItem.from_parent(
                    self, name=name, check=checks.expectation_check(entry), kind="expect"
                )
                item.line = line
                item.user_properties.append(("nectar.policy", analysis.display))
                yield item


def _line_of(analysis: PolicyAnalysis, name: str) -> int:
    policy = analysis.policy
    if policy is None:
        err = analysis.error
        pos = err.position if err is not None else None
        return pos.line if pos is not None else 0
    field = {
        "error-preservation": "error",
        "error-preservation-all": "error",
        "must-keep": "must_keep",
        "must-keep-all": "must_keep",
        "budget": "budget_per_second",
    }.get(name, "rules")
    return policy.position_of(field).line


class ConfigFile(_GuardedFile):
    """The file holding ``[tool.nectar]``: the corpus items."""

    def collect(self) -> Iterator[NectarItem]:

        settings = session_of(self.config).settings
        if not settings.corpus:
            return
        line = _table_line(self.path)
        names = list(CORPUS_ITEMS)
        if checks.corpus_has_decisions(session_of(self.config)):
            names.append("corpus-reconcile")  # a corpus exported after a Refinery
        for name in names:
            item = NectarItem.from_parent(
                self, name=name, check=checks.check_for(name), kind="corpus", line=line
            )
            item.user_properties.append(("nectar.corpus", settings.corpus_display()))
            yield item


def _table_line(path: Path) -> int:
    """The line of ``[tool.nectar]`` (1 for nectar.toml, whose top level is the table)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return 0
    for number, text in enumerate(lines, start=1):
        if text.strip().replace(" ", "") == "[tool.nectar]":
            return number
    return 1
