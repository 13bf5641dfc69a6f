"""``diff``: what changes from OLD to NEW on one corpus, loudest first.

Both sides are proven once each on the same loaded corpus (:func:`.analysis.analyze`), and
the comparison reads their shared decisions trace by trace:

* **lost** (first, loudest): error or must-keep traces (by either side's definition) that
  OLD kept with probability 1 and NEW keeps with a lower probability, NEW's most certainly
  dropped first;
* every trace whose deciding rule or keep probability changes (counted, a few shown);
* per rule and per service the change in expected kept events per second.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import numpy as np
import numpy.typing as npt

from pytest_nectar.compiler.compile import CATCH_ALL_NAME
from pytest_nectar.report.analysis import analyze
from pytest_nectar.report.document import (
    DiffReport,
    ExplainReport,
    LostTrace,
    Missing,
    RuleDelta,
    ServiceDelta,
)
from pytest_nectar.report.progress import Progress
from pytest_nectar.report.subject import Subject

if TYPE_CHECKING:
    from pytest_nectar.corpus.table import Corpus
    from pytest_nectar.prover import ProofReport

__all__ = ["CHANGED_EXAMPLES", "build_diff", "describe_policy_change", "diff_subjects"]

#: Changed traces listed by id (all are counted); lost traces are all listed in the model.
CHANGED_EXAMPLES: Final = 20
BoolArray = npt.NDArray[np.bool_]


def _origins(subject: Subject, proof: ProofReport) -> list[str | None]:
    assert proof.decisions is not None
    names = [(o if o is not None else CATCH_ALL_NAME) for o in subject.origins] or list(
        proof.decisions.rule_names
    )
    return [names[i] if i >= 0 else None for i in proof.decisions.rule_index.tolist()]


def _masks(proof: ProofReport, corpus: Corpus) -> tuple[BoolArray, BoolArray]:
    error = proof.target.error.corpus_mask(corpus)
    must = np.asarray(corpus.must_keep, dtype=np.bool_).copy()
    for probe in proof.target.must_keep:
        must |= probe.corpus_mask(corpus)
    return error, must


def _per_s(value: float, seconds: float | None) -> float | None:
    return value / seconds if seconds else None


def _rule_deltas(old: ExplainReport, new: ExplainReport, seconds: float | None) -> list[RuleDelta]:
    old_rows = {r.name: r for r in old.rules}
    new_rows = {r.name: r for r in new.rules}
    names = [r.name for r in new.rules] + [r.name for r in old.rules if r.name not in new_rows]
    out = []
    for name in names:
        o = old_rows.get(name)
        nw = new_rows.get(name)
        ok = (o.kept_events or 0.0) if o else 0.0
        nk = (nw.kept_events or 0.0) if nw else 0.0
        out.append(
            RuleDelta(
                rule=name,
                old_kept_events_per_s=_per_s(ok, seconds) if o else None,
                new_kept_events_per_s=_per_s(nk, seconds) if nw else None,
                change_per_s=_per_s(nk - ok, seconds),
                old_kept_events=ok,
                new_kept_events=nk,
            )
        )
    return out


def _service_deltas(
    old: ExplainReport, new: ExplainReport, seconds: float | None
) -> list[ServiceDelta]:
    old_rows = {s.service: s for s in old.services}
    new_rows = {s.service: s for s in new.services}
    out = []
    for name in sorted(set(old_rows) | set(new_rows)):
        o, nw = old_rows.get(name), new_rows.get(name)
        ok = o.kept_events if o else 0.0
        nk = nw.kept_events if nw else 0.0
        out.append(
            ServiceDelta(
                service=name,
                old_kept_events=ok,
                new_kept_events=nk,
                change_per_s=_per_s(nk - ok, seconds),
                old_effective_rate=o.effective_rate if o else None,
                new_effective_rate=nw.effective_rate if nw else None,
            )
        )
    out.sort(key=lambda d: (-abs(d.new_kept_events - d.old_kept_events), d.service))
    return out


def build_diff(
    old: tuple[Subject, ExplainReport, ProofReport | None],
    new: tuple[Subject, ExplainReport, ProofReport | None],
    corpus: Corpus | None,
    *,
    corpus_label: str | None,
) -> DiffReport:
    """Compare two analysed subjects on the same corpus."""
    (old_subject, old_report, old_proof), (new_subject, new_report, new_proof) = old, new
    gaps = [Missing(f"OLD: {m.what}", m.why) for m in old_report.missing]
    gaps += [Missing(f"NEW: {m.what}", m.why) for m in new_report.missing]
    lost: list[LostTrace] = []
    changed, examples = 0, []
    rules: list[RuleDelta] = []
    services: list[ServiceDelta] = []
    seconds = old_report.totals.duration_s if old_report.totals else None
    ready = (
        corpus is not None
        and old_proof is not None
        and new_proof is not None
        and old_proof.decisions is not None
        and new_proof.decisions is not None
    )
    if ready:
        assert corpus is not None and old_proof is not None and new_proof is not None
        assert old_proof.decisions is not None and new_proof.decisions is not None
        p_old = np.asarray(old_proof.decisions.keep_probability, dtype=np.float64)
        p_new = np.asarray(new_proof.decisions.keep_probability, dtype=np.float64)
        r_old, r_new = _origins(old_subject, old_proof), _origins(new_subject, new_proof)
        e_old, m_old = _masks(old_proof, corpus)
        e_new, m_new = _masks(new_proof, corpus)
        error, must = e_old | e_new, m_old | m_new
        losing = (error | must) & (p_old >= 1) & (p_new < 1)
        for i in sorted(np.flatnonzero(losing).tolist(), key=lambda i: (p_new[i], i)):
            kinds = tuple(k for k, m in (("error", error), ("must-keep", must)) if m[i])
            lost.append(
                LostTrace(corpus.trace_ids[i], kinds, r_old[i], r_new[i],
                          float(p_old[i]), float(p_new[i]))
            )  # fmt: skip
        differs = [
            i for i in range(corpus.n_traces) if r_old[i] != r_new[i] or p_old[i] != p_new[i]
        ]
        changed = len(differs)
        examples = [
            (corpus.trace_ids[i], r_old[i], r_new[i], float(p_old[i]), float(p_new[i]))
            for i in differs[:CHANGED_EXAMPLES]
        ]
        rules = _rule_deltas(old_report, new_report, seconds)
        services = _service_deltas(old_report, new_report, seconds)
    elif corpus is not None:
        gaps.append(Missing("trace-by-trace comparison", "one side cannot be evaluated"))

    def mean(report: ExplainReport) -> float | None:
        return report.budget.mean_events_per_s if report.budget else None

    return DiffReport(
        old=old_subject.label,
        new=new_subject.label,
        corpus=corpus_label,
        lost=tuple(lost),
        changed_traces=changed,
        changed_examples=tuple(examples),
        rules=tuple(rules),
        services=tuple(services),
        old_kept_events_per_s=mean(old_report),
        new_kept_events_per_s=mean(new_report),
        old_report=old_report,
        new_report=new_report,
        missing=tuple(gaps),
    )


def diff_subjects(
    old: Subject,
    new: Subject,
    corpus: Corpus | None,
    *,
    corpus_label: str | None,
    window_s: float = 60.0,
    progress: Progress | None = None,
) -> DiffReport:
    """Analyse both sides on ``corpus`` and compare them."""
    sides = []
    for subject in (old, new):
        report, proof = analyze(
            subject, corpus, corpus_label=corpus_label, window_s=window_s, progress=progress
        )
        sides.append((subject, report, proof))
    return build_diff(sides[0], sides[1], corpus, corpus_label=corpus_label)


def describe_policy_change(
    old_text: str, new_text: str, corpus: Corpus | None = None, *, path: str = "policy.toon"
) -> str:
    """One line for a commit or PR: what NEW changes against OLD (on ``corpus`` if given).

    Raises:
        NectarError: a side is not a policy that parses.
    """
    from pytest_nectar.report.layout_diff import diff_summary
    from pytest_nectar.report.subject import subject_from_text

    old = subject_from_text(old_text, f"{path} (current)", name=path)
    new = subject_from_text(new_text, f"{path} (proposed)", name=path)
    parts = []
    if old.policy is not None and new.policy is not None:
        before = {r.name: r for r in old.policy.rules}
        after = {r.name: r for r in new.policy.rules}
        for word, names in (
            ("added", [r for r in after if r not in before]),
            ("removed", [r for r in before if r not in after]),
            ("changed", [r for r in after if r in before and after[r] != before[r]]),
        ):
            if names:
                parts.append(f"rules {word}: {', '.join(names)}")
    report = diff_subjects(old, new, corpus, corpus_label="corpus" if corpus else None)
    return "; ".join([*parts, diff_summary(report)])
