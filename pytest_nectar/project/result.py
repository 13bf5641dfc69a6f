"""What one evaluation of a project gives: per target, its subject, target and proof.

A :class:`TargetResult` is read by every front end (``nectar prove``, ``explain``, ``diff``,
the pytest items, ``propose``'s verification, the annotations through ``prove --json``):
the per-trace decisions, the error and must-keep masks, the per-rule totals, the witnesses
and the all-traces verdicts all live in its :class:`~pytest_nectar.prover.ProofReport`
(``proof.context``).  Nothing that reads a result parses, compiles or evaluates again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pytest_nectar.errors import NectarError
from pytest_nectar.report.document import ExplainReport, Missing

if TYPE_CHECKING:
    from pytest_nectar.corpus.table import TraceTable
    from pytest_nectar.prover import ProofReport
    from pytest_nectar.prover.target import Target
    from pytest_nectar.report.subject import Subject

__all__ = ["TargetResult"]


@dataclass(frozen=True)
class TargetResult:
    """One policy or rules file evaluated once (``proof`` None: it cannot be evaluated)."""

    subject: Subject
    target: Target | None
    proof: ProofReport | None
    #: Why the evaluation failed (a bad probe expression, say); the subject's own
    #: ``problem`` says why a subject cannot even be compiled.
    failure: NectarError | None = None

    def raise_failure(self) -> None:
        """For front ends where an unevaluable input is an error (``prove``, pytest)."""
        if self.subject.failure is not None:
            raise self.subject.failure
        if self.failure is not None:
            raise self.failure

    def explain(
        self,
        corpus: TraceTable | None,
        *,
        corpus_label: str | None,
        missing: Sequence[Missing] = (),
    ) -> ExplainReport:
        """The explain report, read off this result."""
        from pytest_nectar.report.explain import build_explain

        gaps = list(missing)
        if self.failure is not None:
            gaps.append(Missing("decisions, totals and verdicts", self.failure.message))
        return build_explain(
            self.subject, corpus, corpus_label=corpus_label, proof=self.proof, missing=gaps
        )
