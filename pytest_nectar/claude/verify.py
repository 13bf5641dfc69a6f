"""The verification every proposal goes through before anyone sees it.

:func:`build_verifier` is the one place that decides what "passes" means for
``nectar propose``, in order, stopping at the first stage that finds problems:

1. **parse**: syntax errors with their line, column and caret;
2. **check**: ``policy.check`` errors (warnings become notes);
3. **compile**: the policy compiles exactly to Refinery rules (:class:`CompileError`);
4. **prove**: every property of ``nectar prove`` on the compiled rules, on the corpus and
   for all traces, with the same error expression, budget and window ``nectar prove``
   uses; failures come back with a few witnesses (:mod:`.findings`);
5. **project** (optional): e.g. the whole project still compiles with this policy in it
   (``nectar propose --write``).

Each problem is written in the user-facing error format, which is also what Claude gets
back as the tool result.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from pytest_nectar.claude.refine import Review, Verify
from pytest_nectar.errors import Diagnostic, NectarError

if TYPE_CHECKING:
    from pytest_nectar.corpus.table import Corpus
    from pytest_nectar.policy.model import Expr

__all__ = ["ProjectCheck", "build_verifier", "verdict_from_diagnostics"]

#: Extra problems for policy text that passed everything else (empty: none).
ProjectCheck = Callable[[str], Sequence[str]]


def verdict_from_diagnostics(found: Iterable[object]) -> Review:
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
    return Review(tuple(problems), tuple(notes))


def _merge(*verdicts: Review) -> Review:
    problems: list[str] = []
    notes: list[str] = []
    for verdict in verdicts:
        problems.extend(verdict.problems)
        notes.extend(n for n in verdict.notes if n not in notes)
    return Review(tuple(problems), tuple(notes))


def build_verifier(
    *,
    policy_path: str = "proposed.toon",
    corpus: Corpus | None = None,
    error: Expr | None = None,
    window_s: float = 60.0,
    project: ProjectCheck | None = None,
) -> Verify:
    """A function from policy text to :class:`Review`, for the refine loop.

    ``policy_path`` names the file in messages (so positions read as the user's file).
    ``corpus`` is the loaded corpus the prover runs on (None: the all-traces properties
    only, as ``nectar prove`` without a corpus).  ``error`` and ``window_s`` are
    ``[tool.nectar]``'s ``error`` (already parsed, where it was read; a proposal's own
    ``error`` wins, as in ``nectar prove``) and ``window_s``.  Each proposal is evaluated
    by the project session (:mod:`pytest_nectar.project.session`), as every front end is.
    """
    from pytest_nectar.claude.findings import verdict_from_proof
    from pytest_nectar.compiler.compile import compile_policies
    from pytest_nectar.errors import UsageError
    from pytest_nectar.policy.check import check_policy
    from pytest_nectar.policy.parser import parse_policy
    from pytest_nectar.project.session import in_memory_session
    from pytest_nectar.report.subject import policy_subject

    if not window_s > 0:
        raise UsageError("window must be a positive number of seconds", got=window_s)

    def verify(text: str) -> Review:
        try:
            policy = parse_policy(text, path=policy_path)
        except NectarError as err:
            return Review((err.render(),))
        try:
            checked = verdict_from_diagnostics(check_policy(policy, source=text))
        except NectarError as err:
            return Review((err.render(),))
        if not checked.passed:
            return checked
        try:
            compilation = compile_policies([policy], sources=[text])
            subject = policy_subject(policy, compilation, label=policy_path, path=None)
            session = in_memory_session(corpus, "corpus" if corpus else None, window_s, error)
            result = session.evaluate(subject)
            result.raise_failure()
            report = result.proof
            assert report is not None
        except NectarError as err:
            return _merge(checked, Review((err.render(),)))
        proven = _merge(checked, verdict_from_proof(report))
        if not proven.passed or project is None:
            return proven
        return _merge(proven, Review(tuple(project(text))))

    return verify
