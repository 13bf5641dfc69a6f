"""``explain``: one :class:`ExplainReport` from a subject, a corpus and one proof.

The corpus is evaluated once, by the prover (:func:`pytest_nectar.prover.prove`), and every
number here is read off its shared ``CorpusDecisions`` and the error and must-keep masks of
that same pass (``ProofReport.context``); this module calls no evaluator: per-rule totals are
``CorpusDecisions.rule_totals`` (the figures ``nectar replay`` prints), grouped by the
policy rule each compiled Refinery rule came from; the budget figures and the verdicts are
the prover's own.  What cannot be computed (no corpus, an empty one, no timestamps, a
policy that does not compile) is a :class:`Missing` entry, and the rest is still reported.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from pytest_nectar.compiler.compile import CATCH_ALL_NAME
from pytest_nectar.policy.model import Drop, Keep, Sample
from pytest_nectar.policy.printer import format_action, format_match
from pytest_nectar.refinery import rules_model as rm
from pytest_nectar.report.document import (
    Budget,
    ExplainReport,
    Missing,
    RuleRow,
    ServiceRow,
    Totals,
    VerdictRow,
)
from pytest_nectar.report.english import describe_expr, describe_refinery_rule
from pytest_nectar.report.figures import TraceAmounts, corpus_seconds, service_rows, timeline
from pytest_nectar.report.subject import Subject

if TYPE_CHECKING:
    from pytest_nectar.corpus.table import TraceTable
    from pytest_nectar.prover import ProofReport
    from pytest_nectar.refinery.vector import CorpusDecisions

__all__ = ["EXAMPLES", "build_explain", "refinery_action"]

#: Example trace ids shown per rule.
EXAMPLES = 3


def refinery_action(rule: rm.Rule) -> tuple[str, float | None]:
    """A Refinery rule's action in words, and its fixed keep probability (None: adaptive)."""
    downstream = rule.downstream
    if downstream is not None:
        params = ", ".join(f"{k}={v}" for k, v in downstream.params().items())
        return f"{downstream.KIND}({params})", None
    rate = rule.effective_sample_rate
    if rule.drop or rate <= 0:
        return "drop", 0.0
    if rate == 1:
        return "keep", 1.0
    return f"sample 1/{rate}", 1.0 / rate


def _groups(subject: Subject) -> list[tuple[str, list[int]]]:
    """Report rows: (name, compiled rule indices), in evaluation order."""
    out: list[tuple[str, list[int]]] = []
    index: dict[str, int] = {}
    for i, origin in enumerate(subject.origins):
        name = origin if origin is not None else CATCH_ALL_NAME
        if subject.kind == "rules" or name not in index:
            index[name] = len(out)
            out.append((name, []))
        out[index[name]][1].append(i)
    return out


def _compiled_rules(subject: Subject) -> tuple[rm.Rule, ...]:
    if subject.rules_file is None:
        return ()
    try:
        _, sampler = rm.select_sampler(subject.rules_file, subject.env)
    except LookupError:
        return ()
    return sampler.rules or () if isinstance(sampler, rm.RulesBasedSamplerConfig) else ()


def _describe(
    subject: Subject, name: str, indices: list[int]
) -> tuple[str, str, str, float | None]:
    """(meaning, match text, action, fixed rate) of one report row."""
    policy = subject.policy
    rule = next((r for r in policy.rules if r.name == name), None) if policy else None
    if rule is not None:
        action = rule.action
        fixed = (
            1.0
            if isinstance(action, Keep)
            else 0.0
            if isinstance(action, Drop)
            else action.rate
            if isinstance(action, Sample)
            else None
        )
        return describe_expr(rule.match), format_match(rule.match), format_action(action), fixed
    rules = _compiled_rules(subject)
    if not indices or indices[0] >= len(rules):
        return "", "", "", None
    refinery_rule = rules[indices[0]]
    words, fixed = refinery_action(refinery_rule)
    meaning = describe_refinery_rule(refinery_rule)
    if name == CATCH_ALL_NAME and subject.kind == "policy":
        meaning += ", added by the compiler: Refinery keeps unmatched traces"
    return meaning, "true" if not refinery_rule.conditions else "(compiled)", words, fixed


def _policy_rows_without_numbers(subject: Subject) -> tuple[RuleRow, ...]:
    if subject.policy is None:
        return ()
    rows = []
    for order, rule in enumerate(subject.policy.rules, 1):
        meaning, match, action, fixed = _describe(subject, rule.name, [])
        rows.append(
            RuleRow(order, rule.name, meaning, match, action, fixed, (), None, None, None, None,
                    None, None, None, None, (), False, False, fixed)
        )  # fmt: skip
    return tuple(rows)


def _rule_rows(
    subject: Subject,
    corpus: TraceTable,
    proof: ProofReport,
    seconds: float | None,
    shadowed: set[str],
) -> tuple[RuleRow, ...]:
    assert proof.context is not None
    decisions = proof.context.decisions
    totals = {t.rule_index: t for t in proof.context.rule_totals}
    all_kept = sum(t.expected_kept_events for t in totals.values())
    index = np.asarray(decisions.rule_index)
    rows = []
    for order, (name, indices) in enumerate(_groups(subject), 1):
        parts = [totals[i] for i in indices if i in totals]
        traces = sum(t.traces for t in parts)
        weighted = sum(t.weighted_traces for t in parts)
        kept_traces = sum(t.expected_kept_traces for t in parts)
        kept_events = sum(t.expected_kept_events for t in parts)
        meaning, match, action, fixed = _describe(subject, name, indices)
        picked = np.flatnonzero(np.isin(index, indices))[:EXAMPLES]
        compiled = tuple(decisions.rule_names[i] for i in indices)
        rows.append(
            RuleRow(
                order=order,
                name=name,
                meaning=meaning,
                match=match,
                action=action,
                effective_rate=kept_traces / weighted if weighted > 0 else fixed,
                compiled=compiled,
                traces=traces,
                events=sum(t.events for t in parts),
                weighted_traces=weighted,
                weighted_events=sum(t.weighted_events for t in parts),
                kept_traces=kept_traces,
                kept_events=kept_events,
                kept_events_per_s=kept_events / seconds if seconds else None,
                share_of_kept_events=kept_events / all_kept if all_kept > 0 else None,
                examples=tuple(corpus.trace_ids[int(i)] for i in picked),
                unreachable=traces == 0 and name != CATCH_ALL_NAME,
                shadowed=any(n in shadowed for n in compiled),
                fixed_rate=fixed,
            )
        )
    return tuple(rows)


def _budget(proof: ProofReport, corpus: TraceTable, subject: Subject) -> Budget | None:
    result = proof.results.get("budget")
    figures: dict[str, Any] = result.figures if result is not None else {}
    if "mean_events_per_second" not in figures:
        return None
    start = float(np.nanmin(corpus.trace_start))  # a trace starts at its first event
    mean = float(figures["mean_events_per_second"])
    peak = float(figures["peak_events_per_second"])
    budget = subject.budget
    duration = float(figures["corpus_duration_s"])
    return Budget(
        budget_per_second=budget,
        mean_events_per_s=mean,
        peak_events_per_s=peak,
        window_s=float(figures["window_s"]),
        peak_window_start_s=float(figures["peak_window_start"]) - start,
        kept_traces_per_s=float(figures["mean_traces_per_second"]),
        incoming_events_per_s=float(corpus.weight @ np.diff(corpus.trace_offsets)) / duration,
        within=None if budget is None else max(mean, peak) <= budget,
        source="prover",
    )


def _hazards(proof: ProofReport) -> tuple[str, ...]:
    out: list[str] = []
    for pid in ("mixed-types", "unknown-fields", "negative-trace-scope"):
        result = proof.results.get(pid)
        if result is not None and result.verdict.value == "warn":
            out.extend(f"{pid}: {item}" for item in result.figures.get("items", []))
    return tuple(out)


def _mask_totals(mask: Any, p: Any, w: Any) -> tuple[int, float, int, int]:
    """(traces, expected kept, kept with p < 1, kept surely) of the traces in ``mask``."""
    return (
        int(mask.sum()),
        float((w * p)[mask].sum()),
        int((mask & (p < 1)).sum()),
        int((mask & (p >= 1)).sum()),
    )


def _totals(
    corpus: TraceTable, decisions: CorpusDecisions, amounts: TraceAmounts, proof: ProofReport
) -> Totals:
    ctx = proof.context  # the prover's one evaluation: its masks, not a second pass
    assert ctx is not None
    p = amounts.probability
    w = amounts.weight
    errors, error_kept, at_risk, _ = _mask_totals(ctx.error_mask, p, w)
    error_weight = float(w[ctx.error_mask].sum())
    must = ctx.must_keep_mask
    must_n, _, _, must_sure = _mask_totals(must, p, w)
    seconds, _ = corpus_seconds(corpus)
    return Totals(
        traces=corpus.n_traces,
        events=corpus.n_rows,
        weighted_traces=float(w.sum()),
        weighted_events=float(amounts.events.sum()),
        kept_traces=float(amounts.kept_traces.sum()),
        kept_events=float(amounts.kept_events.sum()),
        duration_s=seconds,
        error_traces=errors,
        error_kept_traces=error_kept,
        error_share_kept=error_kept / error_weight if error_weight > 0 else None,
        error_traces_at_risk=at_risk,
        must_keep_traces=must_n,
        must_keep_kept_surely=must_sure,
        must_keep_coverage=must_sure / must_n if must_n else None,
        unmatched_traces=int((decisions.rule_index < 0).sum()),
    )


def _origin(proof: ProofReport | None) -> str | None:
    origin = proof.target.error_origin if proof is not None else None
    if origin is None:
        return None
    return origin.source.value + (f" {origin.position}" if origin.position else "")


def build_explain(
    subject: Subject,
    corpus: TraceTable | None,
    *,
    corpus_label: str | None,
    proof: ProofReport | None,
    missing: Sequence[Missing] = (),
) -> ExplainReport:
    """The report.  ``proof`` is ``prove(...)`` of the subject on ``corpus`` (None when the
    subject cannot be evaluated); ``missing`` adds what the caller could not load."""
    gaps = list(missing)
    if subject.problem:
        gaps.append(Missing("decisions, totals and verdicts", subject.problem))
    verdicts = tuple(
        VerdictRow(r.id, r.verdict.value, r.summary)
        for r in (proof.results.values() if proof else ())
    )
    shadowed_result = proof.results.get("shadowed-rules") if proof else None
    shadowed = [s.split(" (")[0].strip("'") for s in (shadowed_result.figures.get("shadowed", [])
                if shadowed_result else [])]  # fmt: skip
    decisions = proof.decisions if proof else None
    rows: tuple[RuleRow, ...] = ()
    totals = budget = line = None
    services: tuple[ServiceRow, ...] = ()
    if corpus is not None and corpus.n_traces == 0:
        gaps.append(Missing("per-rule and per-service figures", "the corpus has no traces"))
    seconds, why = corpus_seconds(corpus) if corpus is not None else (None, "")
    if corpus is not None and decisions is not None and proof is not None:
        amounts = TraceAmounts.of(corpus, decisions.keep_probability)
        rows = _rule_rows(subject, corpus, proof, seconds, set(shadowed))
        totals = _totals(corpus, decisions, amounts, proof)
        budget = _budget(proof, corpus, subject)
        services = service_rows(corpus, amounts, seconds)
        line = timeline(corpus, amounts, seconds)
        if seconds is None:
            gaps.append(Missing("events per second, budget and time line", why))
    elif corpus is None and not subject.problem:
        gaps.append(Missing("corpus figures", "no corpus given (--corpus or [tool.nectar])"))
    if not rows:
        rows = _policy_rows_without_numbers(subject)
    name = subject.policy.name if subject.policy else subject.label
    return ExplainReport(
        title=name,
        source=subject.label,
        kind=subject.kind,
        environment=subject.env,
        corpus=corpus_label,
        corpus_digest=corpus.digest if corpus is not None else None,
        rules=rows,
        totals=totals,
        budget=budget,
        services=services,
        services_losing_all=tuple(s.service for s in services if s.loses_all),
        verdicts=verdicts,
        unreachable=tuple(r.name for r in rows if r.unreachable),
        shadowed=tuple(shadowed),
        hazards=_hazards(proof) if proof else (),
        # The proof repeats the compiler's notes it was given: each note once.
        notes=tuple(dict.fromkeys((*subject.notes, *(proof.notes if proof else ())))),
        missing=tuple(gaps),
        timeline=line,
        error=proof.target.error.text if proof else None,
        error_from=_origin(proof),
    )
