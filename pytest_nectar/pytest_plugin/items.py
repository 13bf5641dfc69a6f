"""Items: a policy file is a group of items, one per property, expectation and seed.

``policies/prod.toon`` collects into ``policies/prod.toon::parse``, ``::fallback``,
``::error-preservation``, ... ``::compiles``, ``::equivalence``, ``::lockfile``, the lints,
``::expect[<name>]`` per expectation and ``::vopr[<campaign>-<seed>]`` per simulation seed.
A policy that does not parse collects into the single failing item ``parse``.  The config
file holding ``[tool.nectar]`` collects the corpus items (``corpus-ingest``,
``corpus-roots``, ``corpus-fields``).

Every item reads the session's shared analysis (:mod:`pytest_nectar.pytest_plugin.session`), so a
policy is compiled and proven once however many of its items run.  A failure is a
:class:`PolicyFailure`, shown as a policy failure (property, verdict, witnesses, replay
line), never as a Python traceback.  Any other exception in an item or a collector is a bug
in Nectar: it fails as "nectar: internal error, please report" (a short trace with
``NECTAR_DEBUG=1``) and the run exits 3, pytest's own internal-error code (the plugin's
one guard, with :mod:`.collect` and :mod:`.hooks`).
"""

from __future__ import annotations

import os
import shlex
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import pytest

from pytest_nectar.errors import DEBUG_ENV, NectarError, internal_error
from pytest_nectar.escape import terminal

if TYPE_CHECKING:
    from _pytest._code.code import ExceptionInfo, TerminalRepr

    from pytest_nectar.pytest_plugin.session import NectarSession

__all__ = [
    "CORPUS_ITEMS",
    "NectarItem",
    "NectarLintWarning",
    "PolicyFailure",
    "SimulationRun",
    "policy_item_names",
    "policy_items",
    "rerun_line",
]

#: Items of every parsed policy, in order, besides the prover's properties.
BUILD_ITEMS: Final = ("compiles", "equivalence", "lockfile")
CORPUS_ITEMS: Final = ("corpus-ingest", "corpus-roots", "corpus-fields")
_MAX_EXAMPLES: Final = 5


class PolicyFailure(Exception):
    """A policy (or corpus) check failed; ``text`` is the whole report, ``detail`` for -v."""

    def __init__(self, text: str, detail: str = "") -> None:
        super().__init__(text)
        self.text = text
        self.detail = detail


class NectarLintWarning(UserWarning):
    """A lint finding: reported, failing only under ``--nectar-strict``."""


def _prover_ids() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(properties, lints) in report order, from the prover's vocabulary (cheap import)."""
    from pytest_nectar.prover.properties import ALL_PROPERTIES, LINTS

    props = tuple(p for p in ALL_PROPERTIES if p not in LINTS)
    return props, tuple(LINTS)


@dataclass(frozen=True, slots=True)
class SimulationRun:
    """What a ``::vopr[...]`` item runs: set on the item, never parsed back from its name."""

    campaign: str
    seed: int

    @property
    def seed_text(self) -> str:
        return f"{self.seed:#x}"

    @property
    def item_name(self) -> str:
        return f"vopr[{self.campaign}-{self.seed_text}]"


def policy_items(
    campaigns: Sequence[str], seeds: Callable[[str], Sequence[int]]
) -> list[tuple[str, str, SimulationRun | None]]:
    """``(name, kind, simulation run)`` of a parsed policy's items (expectations excluded)."""
    props, lints = _prover_ids()
    out: list[tuple[str, str, SimulationRun | None]] = [("parse", "property", None)]
    out += [(p, "property", None) for p in props]
    out += [(b, "property", None) for b in BUILD_ITEMS]
    out += [(lint, "lint", None) for lint in ("policy-warnings", *lints)]
    for campaign in campaigns:
        runs = [SimulationRun(campaign, seed) for seed in seeds(campaign)]
        out += [(run.item_name, "vopr", run) for run in runs]
    return out


def policy_item_names(
    campaigns: Sequence[str], seeds: Callable[[str], Sequence[int]]
) -> list[tuple[str, str]]:
    """``(name, kind)`` of a parsed policy's items (expectations excluded), in order."""
    return [(name, kind) for name, kind, _ in policy_items(campaigns, seeds)]


def internal_failure(node: pytest.Item | pytest.Collector, err: BaseException) -> str | None:
    """The guard's text for an unexpected exception (None: a failure pytest shows itself).

    Marks ``node`` so that the plugin puts the fact on the report and the run exits 3.
    """
    if isinstance(err, PolicyFailure | NectarError | pytest.fail.Exception):
        return None
    if isinstance(err, pytest.skip.Exception | KeyboardInterrupt | SystemExit):
        return None
    node.nectar_internal = True  # type: ignore[union-attr]
    return internal_error(err, debug=os.environ.get(DEBUG_ENV, "") not in ("", "0"))


# --- nodes --------------------------------------------------------------------------------


class NectarItem(pytest.Item):
    """One Nectar check; ``check`` raises :class:`PolicyFailure` or returns."""

    def __init__(
        self,
        *,
        check: Callable[[NectarItem], None],
        kind: str,
        line: int = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.check = check
        self.kind = kind
        self.line = line
        #: JSON-able facts for the terminal summary; copied onto the report (xdist-safe).
        self.nectar_facts: dict[str, Any] = {}
        #: The campaign and seed of a ``vopr`` item (None for every other kind).
        self.simulation: SimulationRun | None = None
        self.add_marker("nectar")
        self.add_marker(
            {"property": "nectar_property", "lint": "nectar_lint", "vopr": "nectar_vopr"}.get(
                kind, f"nectar_{kind}"
            )
        )

    @property
    def session_state(self) -> NectarSession:
        from pytest_nectar.pytest_plugin.stash import session_of

        return session_of(self.config)

    def runtest(self) -> None:
        self.check(self)

    def repr_failure(
        self,
        excinfo: ExceptionInfo[BaseException],
        style: Any = None,
    ) -> str | TerminalRepr:
        err = excinfo.value
        verbose = self.config.get_verbosity() > 0
        if isinstance(err, PolicyFailure):
            return terminal(err.text + ("\n" + err.detail if verbose and err.detail else ""))
        if isinstance(err, NectarError):
            return err.render() + "\n" + rerun_line(self)
        text = internal_failure(self, err)
        if text is not None:
            return text + "\n" + rerun_line(self)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, max(self.line - 1, 0), self.name

    def warn_or_fail(self, text: str) -> None:
        """A lint finding: a warning, or a failure under ``--nectar-strict``."""
        self.nectar_facts["verdict"] = "warn"
        if self.session_state.settings.strict:
            raise PolicyFailure(text + "\n(failing because of --nectar-strict)")
        # Located at the policy (or config) line, not at this module.
        warnings.warn_explicit(
            NectarLintWarning(terminal(text)),
            NectarLintWarning,
            filename=str(self.path),
            lineno=max(self.line, 1),
            module=self.nodeid,
        )


def rerun_line(item: NectarItem) -> str:
    """``rerun: pytest [--nectar-seed=S] 'node id'``: the one line that reproduces an item."""
    words = ["pytest"]
    seed = item.nectar_facts.get("seed")
    if seed is not None:
        from pytest_nectar.project.settings import SEED_OPTION

        words.append(f"{SEED_OPTION}={seed}")
    words.append(item.nodeid)
    return "rerun: " + shlex.join(words)
