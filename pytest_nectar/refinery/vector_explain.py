"""Why a trace matched its deciding rule: per condition, the first span that satisfies it.

For the prover's witnesses and reports, a few traces at a time: it follows the reference
evaluator's own code path on the one trace (``extract_value`` and the compiled matchers), so
the explanation can never disagree with the decision.
"""

from __future__ import annotations

from dataclasses import dataclass

from pytest_nectar.corpus.table import Corpus
from pytest_nectar.refinery.conditions import CompiledCondition
from pytest_nectar.refinery.reference import Decision, Evaluator, extract_value
from pytest_nectar.refinery.rules_model import Condition, RulesBasedSamplerConfig, RulesFile
from pytest_nectar.trace import Trace

__all__ = ["ConditionWitness", "MatchExplanation", "explain_match"]


@dataclass(frozen=True, slots=True)
class ConditionWitness:
    """One condition of the deciding rule and the span that satisfies it.

    ``span_index`` is the span's position in the trace and ``row`` its corpus row; both are
    None for ``has-root-span`` when it is satisfied by the absence of a root span.
    ``value``/``exists`` are what field resolution gave on that span.
    """

    condition_index: int
    condition: Condition
    span_index: int | None
    row: int | None
    value: object
    exists: bool


@dataclass(frozen=True, slots=True)
class MatchExplanation:
    trace_index: int
    trace_id: str
    decision: Decision
    scope: str
    witnesses: tuple[ConditionWitness, ...]


def _witness(
    trace: Trace, cc: CompiledCondition, index: int, nested: bool, start: int
) -> ConditionWitness | None:
    root = trace.root
    if cc.is_has_root_span:
        if (root is not None) != cc.root_span_wanted:
            return None
        at = max(i for i, s in enumerate(trace.spans) if s.is_root) if root is not None else None
        return ConditionWitness(
            index, cc.condition, at, None if at is None else start + at, root is not None, True
        )
    for i, span in enumerate(trace.spans):
        value, exists, _ = extract_value(trace, span, cc, nested, root)
        if cc.evaluate(value, exists):
            return ConditionWitness(index, cc.condition, i, start + i, value, exists)
    return None


def explain_match(
    rules_file: RulesFile,
    corpus: Corpus,
    trace_index: int,
    env: str | None = None,
    *,
    now: float = 0.0,
) -> MatchExplanation:
    """The decision of one corpus trace and, for its deciding rule, a witness per condition.

    Trace scope: the first span satisfying each condition.  Span scope: the first span
    satisfying all of them (the same span for every condition).  No witnesses when no rule
    decided, or the rule has no conditions.
    """
    evaluator = Evaluator(rules_file, env)
    trace = corpus.trace(trace_index)
    decision = evaluator.decide(trace, now)
    start = int(corpus.trace_offsets[trace_index])
    sampler = evaluator.sampler
    nested = isinstance(sampler, RulesBasedSamplerConfig) and bool(sampler.check_nested_fields)
    if decision.rule_index is None:
        return MatchExplanation(trace_index, trace.trace_id, decision, "", ())
    rule, conditions = evaluator.compiled_rules[decision.rule_index]
    scope = rule.scope or "trace"
    witnesses: list[ConditionWitness] = []
    if scope == "span" and conditions:
        root = trace.root
        for i, span in enumerate(trace.spans):
            found = []
            for k, cc in enumerate(conditions):
                value, exists, _ = extract_value(trace, span, cc, nested, root)
                if not cc.evaluate(value, exists):
                    break
                found.append(ConditionWitness(k, cc.condition, i, start + i, value, exists))
            else:
                witnesses = found
                break
    elif scope in ("trace", "span"):
        for k, cc in enumerate(conditions or ()):
            w = _witness(trace, cc, k, nested, start)
            if w is not None:
                witnesses.append(w)
    return MatchExplanation(trace_index, trace.trace_id, decision, scope, tuple(witnesses))
