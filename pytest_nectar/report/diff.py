"""``diff``: what changes from OLD to NEW on one corpus, loudest first.

Both sides are proven once each on the same loaded corpus by the project session
(:mod:`pytest_nectar.project.session`), and the comparison reads their results: nothing is
evaluated here.

* **lost proofs** (first): all-traces proofs (``error-preservation-all``,
  ``must-keep-all``) OLD passed and NEW fails, with NEW's counterexample;
* **lost** (loudest on the corpus): error or must-keep traces (by either side's definition) that
  OLD kept with probability 1 and NEW keeps with a lower probability, NEW's most certainly
  dropped first;
* every verdict on both sides, changed first, and OLD's and NEW's text side by side
  (:mod:`.diff_changes`);
* every trace whose deciding rule or keep probability changes, grouped by (OLD rule ->
  NEW rule) with counts, examples and kept events/s before and after;
* per rule and per service the change in expected kept events per second.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import numpy as np
import numpy.typing as npt

from pytest_nectar.compiler.compile import CATCH_ALL_NAME
from pytest_nectar.prover.properties import ALL_TRACES
from pytest_nectar.report.diff_changes import decision_groups, policy_diff, verdict_changes
from pytest_nectar.report.document import (
    DecisionGroup,
    DiffReport,
    ExplainReport,
    LostProof,
    LostTrace,
    Missing,
    RuleDelta,
    ServiceDelta,
)
from pytest_nectar.report.figures import TraceAmounts
from pytest_nectar.report.subject import Subject

if TYPE_CHECKING:
    from pytest_nectar.corpus.table import TraceTable
    from pytest_nectar.prover import ProofReport

__all__ = ["CHANGED_EXAMPLES", "build_diff", "lost_proofs"]

#: Changed traces listed by id (all are counted); lost traces are all listed in the model.
CHANGED_EXAMPLES: Final = 20
BoolArray = npt.NDArray[np.bool_]


def _origins(subject: Subject, proof: ProofReport) -> list[str | None]:
    assert proof.decisions is not None
    names = [(o if o is not None else CATCH_ALL_NAME) for o in subject.origins] or list(
        proof.decisions.rule_names
    )
    return [names[i] if i >= 0 else None for i in proof.decisions.rule_index.tolist()]


def _masks(proof: ProofReport) -> tuple[BoolArray, BoolArray]:
    """The error and must-keep masks of the proof's one corpus evaluation."""
    assert proof.context is not None
    return proof.context.error_mask, proof.context.must_keep_mask


def lost_proofs(old: ProofReport | None, new: ProofReport | None) -> tuple[LostProof, ...]:
    """All-traces proofs OLD passed and NEW does not (the corpus may not show the loss)."""
    if old is None or new is None:
        return ()
    out = []
    for pid in ALL_TRACES:
        before, after = old.results.get(pid), new.results.get(pid)
        if before is None or after is None:
            continue
        if before.verdict.value == "pass" and after.verdict.value == "fail":
            shown = after.witnesses[0] if after.witnesses else None
            witness = (
                None
                if shown is None
                else f"{shown.trace_id} (rule {shown.rule or 'none'}: {shown.decision})"
            )
            out.append(
                LostProof(pid, before.verdict.value, after.verdict.value, after.summary, witness)
            )
    return tuple(out)


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
    corpus: TraceTable | None,
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
    groups: tuple[DecisionGroup, ...] = ()
    seconds = old_report.totals.duration_s if old_report.totals else None
    ready = (
        corpus is not None
        and old_proof is not None
        and new_proof is not None
        and old_proof.context is not None
        and new_proof.context is not None
    )
    if ready:
        assert corpus is not None and old_proof is not None and new_proof is not None
        assert old_proof.decisions is not None and new_proof.decisions is not None
        p_old = np.asarray(old_proof.decisions.keep_probability, dtype=np.float64)
        p_new = np.asarray(new_proof.decisions.keep_probability, dtype=np.float64)
        r_old, r_new = _origins(old_subject, old_proof), _origins(new_subject, new_proof)
        e_old, m_old = _masks(old_proof)
        e_new, m_new = _masks(new_proof)
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
        events = TraceAmounts.of(corpus, p_new).events
        groups = decision_groups(corpus.trace_ids, (r_old, r_new), (p_old, p_new), events, seconds)
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
        lost_proofs=lost_proofs(old_proof, new_proof),
        changed_traces=changed,
        changed_examples=tuple(examples),
        rules=tuple(rules),
        services=tuple(services),
        old_kept_events_per_s=mean(old_report),
        new_kept_events_per_s=mean(new_report),
        old_report=old_report,
        new_report=new_report,
        missing=tuple(gaps),
        verdicts=verdict_changes(old_report, new_report),
        policy_diff=policy_diff(old_subject.source, new_subject.source),
        decision_groups=groups,
    )
