"""Load what a report needs (subject, corpus), prove once, and build the report.

The front ends (``nectar explain``, ``nectar diff``, ``nectar propose``) call
:func:`explain_subject` / :func:`load_report_corpus`; the corpus is loaded once and shared
between OLD and NEW in a diff.  Loading and evaluation show a progress display on a
terminal (:mod:`.progress`), never in CI logs or when piped.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from pytest_nectar.errors import NectarError
from pytest_nectar.report.document import ExplainReport, Missing
from pytest_nectar.report.explain import build_explain
from pytest_nectar.report.progress import Progress
from pytest_nectar.report.subject import Subject

if TYPE_CHECKING:
    from pytest_nectar.corpus.table import Corpus
    from pytest_nectar.prover import ProofReport
    from pytest_nectar.prover.target import Target

__all__ = ["analyze", "explain_subject", "load_report_corpus", "target_of"]


def load_report_corpus(
    paths: Sequence[str], progress: Progress | None = None
) -> tuple[Corpus | None, list[Missing]]:
    """The corpus, or None and why (an unreadable corpus is reported, not fatal)."""
    from pytest_nectar.corpus import load_corpus

    if not paths:
        return None, []
    bar = progress or Progress(enabled=False)
    try:
        with bar.step(f"loading corpus {', '.join(paths)}"):
            corpus = load_corpus(list(paths))
    except NectarError as err:
        return None, [Missing("corpus figures", f"the corpus cannot be loaded: {err.message}")]
    gaps = []
    if corpus.skipped:
        gaps.append(
            Missing(
                f"{len(corpus.skipped)} skipped input record(s)",
                "they are not traces Refinery would see: " + str(corpus.skipped[0]),
            )
        )
    return corpus, gaps


def target_of(subject: Subject) -> Target:
    """The prover's target for a subject that can be evaluated."""
    from pytest_nectar.prover.target import Target, probe_of
    from pytest_nectar.refinery import rules_model as rm

    assert subject.rules_file is not None
    nested = False
    entry = subject.rules_file.samplers.get(subject.env)
    chosen = entry.select() if entry is not None else None
    if isinstance(chosen, rm.RulesBasedSamplerConfig):
        nested = bool(chosen.check_nested_fields)
    return Target(
        name=subject.label,
        rules_file=subject.rules_file,
        env=subject.env,
        error=probe_of(subject.error, nested=nested),
        must_keep=tuple(probe_of(e, nested=nested) for e in subject.must_keep),
        budget=subject.budget,
        policy=subject.policy,
        compiled=subject.compiled,
        rules_path=subject.path,
    )


def explain_subject(
    subject: Subject,
    corpus: Corpus | None,
    *,
    corpus_label: str | None,
    window_s: float = 60.0,
    missing: Sequence[Missing] = (),
    progress: Progress | None = None,
) -> ExplainReport:
    """Prove ``subject`` on ``corpus`` once and build its explain report."""
    report, _ = analyze(
        subject,
        corpus,
        corpus_label=corpus_label,
        window_s=window_s,
        missing=missing,
        progress=progress,
    )
    return report


def analyze(
    subject: Subject,
    corpus: Corpus | None,
    *,
    corpus_label: str | None,
    window_s: float = 60.0,
    missing: Sequence[Missing] = (),
    progress: Progress | None = None,
) -> tuple[ExplainReport, ProofReport | None]:
    """The explain report and the proof behind it (None when the subject cannot run)."""
    from pytest_nectar.prover import prove

    proof: ProofReport | None = None
    gaps = list(missing)
    if subject.rules_file is not None:
        bar = progress or Progress(enabled=False)
        try:
            with bar.step(f"evaluating {subject.label}"):
                proof = prove(target_of(subject), corpus=corpus, window_s=window_s)
        except NectarError as err:
            gaps.append(Missing("decisions, totals and verdicts", err.message))
    report = build_explain(subject, corpus, corpus_label=corpus_label, proof=proof, missing=gaps)
    return report, proof
