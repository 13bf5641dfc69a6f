"""An independent interpreter of a policy on one trace: what the policy *says* happens.

It walks the policy's match tree directly (never the compiled rules), so that "the compiled
rules decide like the policy" (:mod:`pytest_nectar.compiler.compile` against
:mod:`pytest_nectar.refinery.reference`) is a real differential check:

* rules are tried by priority, highest first (ties in file order); the first match decides;
  no match keeps the trace at rate 1 (Refinery's default, as the language reference says);
* an atom is read with Refinery's per-condition semantics, reusing the reference evaluator's
  field resolution and condition matchers (``root.``, ``Fields``, ``%v``, each ``Datatype``,
  nested fields);
* at trace level a condition holds when *some* span satisfies it, ``and``/``or``/``not`` are
  plain logic over those facts, ``has_root`` looks at the root span, and ``span(...)`` holds
  when one span satisfies its whole body, where ``and``/``or``/``not`` are logic on that span;
* actions: keep (rate 1), drop (rate 0), ``sample(1/N)`` (rate N, keep with probability 1/N),
  throughput/dynamic through a fresh Refinery sampler (its first-call rate and trace key);
* a policy with ``sampler`` instead of rules: ``deterministic(1/N)`` by the SHA-1 of the trace
  id, the keyed samplers through a fresh Refinery sampler of that kind (no rule, rule None).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pytest_nectar.policy.model import (
    SAMPLER_PARAMETERS,
    SAMPLER_WORDS,
    Action,
    And,
    Condition,
    Deterministic,
    Drop,
    Duration,
    EnvironmentSampler,
    Expr,
    HasRootSpan,
    Keep,
    KeyedSampler,
    ListLiteral,
    Literal,
    MatchAll,
    Not,
    Or,
    Policy,
    Rule,
    Sample,
    SpanScope,
    sampler_goal,
)
from pytest_nectar.refinery import rules_model as rm
from pytest_nectar.refinery.conditions import CompiledCondition, compile_condition
from pytest_nectar.refinery.reference import extract_value
from pytest_nectar.trace import Span, Trace

__all__ = ["PolicyDecision", "PolicyEvaluator", "interpret", "interpret_all"]


@dataclass(frozen=True, slots=True)
class PolicyDecision:
    """The policy's outcome: the deciding rule (None: no rule matched) and Refinery's numbers.

    ``keep`` is None when the outcome is random; ``keep_probability`` is then ``1/rate``.
    """

    rule: str | None
    rate: int
    keep: bool | None
    keep_probability: float
    key: str


def _literal(lit: Literal) -> object:
    v = lit.value
    return v.milliseconds if isinstance(v, Duration) else v


def _atom(cond: Condition) -> CompiledCondition:
    """The Refinery matcher of one atom (built here, independently of the compiler)."""
    names = cond.field.names
    value: object = None
    if isinstance(cond.value, ListLiteral):
        value = tuple(_literal(i) for i in cond.value.items)
    elif isinstance(cond.value, Literal):
        value = _literal(cond.value)
    raw = rm.Condition(
        field=names[0] if len(names) == 1 else None,
        fields=names if len(names) > 1 else None,
        operator=cond.operator.value,
        value=value,  # type: ignore[arg-type]
        datatype=None if cond.datatype is None else cond.datatype.value,
    )
    return compile_condition(raw)


class PolicyEvaluator:
    """Decisions of one policy; matchers are built once per condition."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.nested = bool(policy.check_nested_fields)
        self.rules: tuple[Rule, ...] = tuple(sorted(policy.rules, key=lambda r: -r.priority))
        self._atoms: dict[int, CompiledCondition] = {}

    def _compiled(self, cond: Condition) -> CompiledCondition:
        found = self._atoms.get(id(cond))
        if found is None:
            found = self._atoms[id(cond)] = _atom(cond)
        return found

    def _on_span(self, trace: Trace, span: Span, cond: Condition) -> bool:
        atom = self._compiled(cond)
        value, exists, _ = extract_value(trace, span, atom, self.nested)
        return atom.evaluate(value, exists)

    def span_holds(self, expr: Expr, trace: Trace, span: Span) -> bool:
        """``expr`` inside ``span(...)``: every condition on this one span."""
        if isinstance(expr, Condition):
            return self._on_span(trace, span, expr)
        if isinstance(expr, MatchAll):
            return True
        if isinstance(expr, HasRootSpan):
            return False  # Refinery never matches has-root-span in span scope
        if isinstance(expr, Not):
            return not self.span_holds(expr.operand, trace, span)
        if isinstance(expr, And):
            return all(self.span_holds(e, trace, span) for e in expr.operands)
        if isinstance(expr, Or):
            return any(self.span_holds(e, trace, span) for e in expr.operands)
        return self.span_holds(expr.body, trace, span)  # nested span(): same span

    def holds(self, expr: Expr, trace: Trace) -> bool:
        """``expr`` at trace level."""
        if isinstance(expr, Condition):
            return any(self._on_span(trace, s, expr) for s in trace.spans)
        if isinstance(expr, MatchAll):
            return True
        if isinstance(expr, HasRootSpan):
            return (trace.root is not None) == expr.value
        if isinstance(expr, Not):
            return not self.holds(expr.operand, trace)
        if isinstance(expr, And):
            return all(self.holds(e, trace) for e in expr.operands)
        if isinstance(expr, Or):
            return any(self.holds(e, trace) for e in expr.operands)
        assert isinstance(expr, SpanScope)
        return any(self.span_holds(expr.body, trace, s) for s in trace.spans)

    def decide(self, trace: Trace) -> PolicyDecision:
        if self.policy.sampler is not None:
            return _environment(self.policy.sampler, trace, self.policy.effective_environment)
        for rule in self.rules:
            if self.holds(rule.match, trace):
                return _act(rule.name, rule.action, trace, self.policy.effective_environment)
        return PolicyDecision(None, 1, True, 1.0, "")


def _chance(rate: int) -> tuple[bool | None, float]:
    return (True, 1.0) if rate <= 1 else (None, 1.0 / rate)


def _sampler_params(action: KeyedSampler) -> tuple[str, dict[str, Any]]:
    """The Refinery sampler kind and parameters, built here from the model's own tables."""
    kind = SAMPLER_WORDS[type(action)][1]
    params: dict[str, Any] = {"FieldList": [k.name for k in action.keys]}
    goal_key = {
        "DynamicSampler": "SampleRate",
        "EMADynamicSampler": "GoalSampleRate",
    }.get(kind, "GoalThroughputPerSec")
    params[goal_key] = sampler_goal(action)
    for p in action.params:
        v = p.value.value
        params[SAMPLER_PARAMETERS[p.name].refinery_key] = (
            v.go_string() if isinstance(v, Duration) else v
        )
    return kind, params


def _environment(sampler: EnvironmentSampler, trace: Trace, env: str) -> PolicyDecision:
    """The environment's one sampler: deterministic by trace id, or a fresh keyed sampler."""
    if isinstance(sampler, Deterministic):
        from pytest_nectar.refinery.deterministic import deterministic_sample

        rate, kept, _, _ = deterministic_sample(trace.trace_id, sampler.sample_rate)
        return PolicyDecision(None, rate, kept, 1.0 if kept else 0.0, "")
    return _keyed(None, sampler, trace, env, downstream=False)


def _keyed(
    name: str | None, action: KeyedSampler, trace: Trace, env: str, *, downstream: bool
) -> PolicyDecision:
    from pytest_nectar.refinery.samplers import build_sampler

    kind, params = _sampler_params(action)
    sampler = build_sampler(kind, params, destination=env, downstream=downstream)
    rate, key = sampler.sample_rate(trace, 0.0)
    rate = max(rate, 1)
    keep, prob = _chance(rate)
    return PolicyDecision(name, rate, keep, prob, key)


def _act(name: str, action: Action, trace: Trace, env: str) -> PolicyDecision:
    if isinstance(action, Keep):
        return PolicyDecision(name, 1, True, 1.0, "")
    if isinstance(action, Drop):
        return PolicyDecision(name, 0, False, 0.0, "")
    if isinstance(action, Sample):
        keep, prob = _chance(action.sample_rate)
        return PolicyDecision(name, action.sample_rate, keep, prob, "")
    return _keyed(name, action, trace, env, downstream=True)


def interpret(policy: Policy, trace: Trace) -> PolicyDecision:
    """The policy's decision for one trace (see :class:`PolicyEvaluator` for many)."""
    return PolicyEvaluator(policy).decide(trace)


def interpret_all(policy: Policy, traces: Sequence[Trace]) -> list[PolicyDecision]:
    """Decisions for several traces with one evaluator."""
    evaluator = PolicyEvaluator(policy)
    return [evaluator.decide(t) for t in traces]
