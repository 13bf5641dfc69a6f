"""The verification every proposal goes through before anyone sees it.

:func:`build_verifier` is the one place that decides what "passes" means for
``nectar propose``: today the policy must parse and pass ``policy_check``; the prover, the
compiler and the budget check join here, so the refine loop and the CLI never change.
Each problem is rendered in the user-facing error format (with the caret line), which is
also what Claude gets back.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from types import ModuleType
from typing import Any

from pytest_nectar.claude.refine import Verdict, Verify
from pytest_nectar.errors import Diagnostic, NectarError, UsageError

__all__ = ["build_verifier", "verdict_from_diagnostics"]


def _load(name: str, *, required: bool = True) -> ModuleType | None:
    try:
        return importlib.import_module(f"pytest_nectar.{name}")
    except ModuleNotFoundError as err:
        if err.name != f"pytest_nectar.{name}":
            raise
        if not required:
            return None
        raise UsageError(
            "nectar propose cannot verify proposals in this installation",
            got=f"pytest_nectar.{name} is missing",
            hint="reinstall pytest-nectar",
        ) from None


def verdict_from_diagnostics(found: Iterable[object]) -> Verdict:
    """Errors become problems, warnings become notes; anything else counts as a problem."""
    problems: list[str] = []
    notes: list[str] = []
    for item in found:
        if isinstance(item, Diagnostic):
            (notes if item.severity == "warning" else problems).append(item.render())
        elif isinstance(item, NectarError):
            problems.append(item.render())
        else:
            problems.append(str(item))
    return Verdict(tuple(problems), tuple(notes))


def build_verifier(*, policy_path: str = "proposed.toon", corpus: Any = None) -> Verify:
    """A function from policy text to :class:`Verdict`, for the refine loop.

    ``policy_path`` names the file in messages (so positions read as the user's file).
    ``corpus`` is the loaded corpus the prover will run on; it is unused until the
    prover is wired in here.
    """
    parser = _load("policy_parser")
    assert parser is not None
    parse_policy = parser.parse_policy
    # The semantic checks are built in parallel; until they land, parsing is the gate.
    checker = _load("policy_check", required=False)
    check_policy = checker.check_policy if checker is not None else None
    del corpus  # the prover, once wired, proves on it

    def verify(text: str) -> Verdict:
        try:
            policy = parse_policy(text, path=policy_path)
        except NectarError as err:
            return Verdict((err.render(),))
        if check_policy is None:
            return Verdict()
        try:
            found = check_policy(policy, source=text)
        except NectarError as err:
            return Verdict((err.render(),))
        if found is None:
            return Verdict()
        return verdict_from_diagnostics(found if isinstance(found, Iterable) else [found])

    return verify
