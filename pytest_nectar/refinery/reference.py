"""The reference evaluator: Refinery's decision for one trace, following its code path.

:class:`Evaluator` compiles a destination's sampler once (conditions as Refinery's ``Init``
builds them) and then answers :meth:`Evaluator.decide` per trace.  Randomness is never drawn:
a rule's ``SampleRate: N`` (N > 1) and the dynamic samplers report ``keep=None`` with
``keep_probability = 1/N``.  Downstream dynamic samplers come from
:mod:`pytest_nectar.refinery.samplers` (``build_sampler``); without a simulation each decision
uses a fresh sampler, i.e. its first-call rate (the goal or initial rate, 1 for the throughput
samplers) and the trace key.

Field resolution (refinery-semantics.md 5.1): ``?.NUM_DESCENDANTS`` (``Field`` only), ``Fields``
in order with ``root.`` read from the root span and skipped without one, the first *present*
field wins, then (with ``CheckNestedFields``) a gjson-style dotted lookup over the span as Go's
``json.Marshal`` would write it.  ``meta.*`` keys are read as Refinery's router sets them on
ingest (:mod:`.metadata`: ``meta.refinery.root`` is the span's root status, ``meta.trace_id``
the trace's id, the others exist only when set to a non-zero value of their type).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Protocol

from pytest_nectar.errors import Position, RulesError
from pytest_nectar.refinery.conditions import CompiledCondition, compile_condition
from pytest_nectar.refinery.deterministic import DeterministicSamplerCrash, deterministic_sample
from pytest_nectar.refinery.gjson import GjsonUnsupported, validate_path
from pytest_nectar.refinery.gjson import get as gjson_get
from pytest_nectar.refinery.metadata import USER_AGENT, meta_field, payload_json
from pytest_nectar.refinery.rules_model import (
    DeterministicSamplerConfig,
    Rule,
    RulesBasedSamplerConfig,
    RulesFile,
    SamplerConfig,
    select_sampler,
)
from pytest_nectar.trace import Span, Trace

__all__ = [
    "NO_RULE_MATCHED",
    "Decision",
    "DownstreamSampler",
    "Evaluator",
    "decide",
    "extract_value",
    "require_user_agent",
    "rule_matches",
    "rule_matches_span",
    "rule_matches_trace",
    "user_agent_error",
]

_MISSING: Final = object()


@dataclass(frozen=True, slots=True)
class Decision:
    """Refinery's outcome for one trace.

    ``keep`` is None when Refinery draws at random; ``keep_probability`` is then ``1/rate``.
    ``rule_index``/``rule_name`` are None when no rule decided (no match, or not a rules sampler).
    """

    rule_index: int | None
    rule_name: str | None
    rate: int
    keep: bool | None
    keep_probability: float
    reason: str
    key: str

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule_name,
            "rule_index": self.rule_index,
            "rate": self.rate,
            "keep": self.keep,
            "keep_probability": self.keep_probability,
            "reason": self.reason,
            "key": self.key,
        }


class DownstreamSampler(Protocol):
    """What the evaluator needs from a dynamic-family sampler (see ``samplers.build_sampler``)."""

    reason: str

    def sample_rate(self, trace: Trace, now: float) -> tuple[int, str]: ...


SamplerFactory = Callable[[SamplerConfig, str, bool], DownstreamSampler]

#: ``GetSampleRate`` when no rule matched: kept at rate 1.
NO_RULE_MATCHED: Final = Decision(None, None, 1, True, 1.0, "no rule matched", "")


# --- field resolution ------------------------------------------------------------------------


def _marshal_ok(value: object) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, Mapping):
        return all(_marshal_ok(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return all(_marshal_ok(v) for v in value)
    return True


def nested_lookup(data: Mapping[str, object], path: str) -> tuple[str, bool]:
    """gjson ``Get(json.Marshal(data), path)``: ``(String(), Exists())`` (see :mod:`.gjson`).

    Raises:
        GjsonUnsupported: a construct Nectar does not evaluate.
    """
    return gjson_get(data, path)


_NO_ROOT: Final = Span({})


def extract_value(
    trace: Trace,
    span: Span,
    cond: CompiledCondition,
    check_nested: bool,
    root: Span | None = _NO_ROOT,
) -> tuple[object, bool, bool]:
    """Refinery's ``extractValueFromSpan``: ``(value, exists, checked_only_root)``.

    ``root`` is Go's ``trace.RootSpan``, read from ``trace`` when a ``root.`` field needs it
    unless given: the solver judges a span of a trace it is still building, and the
    simulator passes the root it already looked up.
    """
    if cond.computed_descendants:
        return len(trace.spans), True, True
    checked_only_root = True
    target = span
    for key, is_root, is_meta in cond.lookups:
        target = span
        if is_root:
            if root is _NO_ROOT:
                root = trace.root  # only root fields need it
            if root is None:
                continue
            target = root
        else:
            checked_only_root = False
        if is_meta:
            value, exists = meta_field(trace.trace_id, target, key)
            if exists:
                return value, True, checked_only_root
            continue
        value = target.data.get(key, _MISSING)
        if value is not _MISSING:
            return value, True, checked_only_root
    if check_nested:
        marshalled = payload_json(target)
        if not _marshal_ok(marshalled):
            return None, False, False
        for name in cond.fields:
            try:
                text, found = nested_lookup(marshalled, name)
            except GjsonUnsupported as err:
                raise RulesError(
                    f"CheckNestedFields: Nectar does not evaluate this gjson path: {err}",
                    position=cond.condition.position,
                    got=name,
                    hint="write the field as a plain dotted path, or turn CheckNestedFields off",
                ) from None
            if found:
                return text, True, False
    return None, False, False


# --- rules ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _CompiledRule:
    index: int
    rule: Rule
    conditions: tuple[CompiledCondition, ...] | None


def rule_matches_trace(
    trace: Trace, conditions: tuple[CompiledCondition, ...] | None, nested: bool
) -> bool:
    """Refinery's ``ruleMatchesTrace``: every condition holds on some span (or on the root)."""
    if conditions is None:
        return True  # a rule with no conditions matches
    matched = 0
    for cond in conditions:
        if cond.is_has_root_span:
            if (trace.root is not None) == cond.root_span_wanted:
                matched += 1
                continue
            return False
        for span in trace.spans:
            value, exists, only_root = extract_value(trace, span, cond, nested)
            if cond.evaluate(value, exists):
                matched += 1
                break
            if only_root:
                break  # only the root was read: no other span can match
    return matched == len(conditions)


def rule_matches_span(
    trace: Trace, conditions: tuple[CompiledCondition, ...] | None, nested: bool
) -> bool:
    """Refinery's ``ruleMatchesSpanInTrace``: one span meets every condition."""
    if conditions is None:
        return True
    for span in trace.spans:
        rule_matched = True
        for cond in conditions:
            value, exists, only_root = extract_value(trace, span, cond, nested)
            if not cond.evaluate(value, exists):
                rule_matched = False
                if only_root:
                    return False
                break
        if rule_matched:
            return True
    return False


def rule_matches(
    trace: Trace, rule: Rule, conditions: tuple[CompiledCondition, ...] | None, nested: bool
) -> bool:
    """``GetSampleRate``'s dispatch on ``Scope``: an invalid scope matches every trace."""
    scope = rule.scope or ""
    if scope == "span":
        return rule_matches_span(trace, conditions, nested)
    if scope in ("trace", ""):
        return rule_matches_trace(trace, conditions, nested)
    return True


def _reason_prefix(rule: Rule) -> str:
    scope = rule.scope or ""
    if scope == "span":
        return "rules/span/"
    if scope in ("trace", ""):
        return "rules/trace/"
    return "rules/invalid scope/"


def _check_nested_paths(conds: tuple[CompiledCondition, ...]) -> None:
    """A located error for a field whose gjson path Nectar does not evaluate (never a
    silent "no match"); only where the nested lookup can run at all."""
    for cc in conds:
        if cc.computed_descendants or cc.is_has_root_span:
            continue
        for name in cc.fields:
            why = validate_path(name)
            if why is not None:
                raise RulesError(
                    f"CheckNestedFields: Nectar does not evaluate this gjson path: {why}",
                    position=cc.condition.position,
                    got=name,
                    hint="write the field as a plain dotted path, or turn CheckNestedFields off",
                )


def _random_keep(rate: int) -> tuple[bool | None, float]:
    if rate <= 1:
        return True, 1.0
    return None, 1.0 / rate


class Evaluator:
    """Decisions of one destination of a rules file (``env`` None means ``__default__``).

    Dynamic-family samplers: by default a fresh ``samplers.build_sampler`` per decision (the
    first-call rate); ``stateful=True`` keeps them in one ``samplers.SamplerPool`` (Refinery's
    sharing of identical configs; pass increasing ``now``); ``sampler_factory(config,
    destination, downstream)`` overrides both.
    """

    def __init__(
        self,
        rules_file: RulesFile,
        env: str | None = None,
        *,
        sampler_factory: SamplerFactory | None = None,
        stateful: bool = False,
        cluster_size: int = 1,
    ) -> None:
        try:
            self.destination, self.sampler = select_sampler(rules_file, env)
        except LookupError as err:
            raise RulesError(
                "Refinery would exit: no sampler for this destination",
                position=rules_file.position,
                got=env,
                hint=str(err),
            ) from None
        self._factory = sampler_factory
        self._stateful = stateful
        self._cluster_size = cluster_size
        self._pool: Any = None
        self._rules: tuple[_CompiledRule, ...] = ()
        self._nested = False
        if isinstance(self.sampler, RulesBasedSamplerConfig):
            self._nested = bool(self.sampler.check_nested_fields)
            rules = []
            for i, r in enumerate(self.sampler.rules or ()):
                conds = (
                    None
                    if r.conditions is None
                    else tuple(compile_condition(c) for c in r.conditions)
                )
                if self._nested:
                    _check_nested_paths(conds or ())
                rules.append(_CompiledRule(i, r, conds))
            self._rules = tuple(rules)

    @property
    def user_agent_reader(self) -> Position | None:
        """Where a condition or a sampler's FieldList reads ``meta.refinery.incoming_user_agent``
        (None: nothing does); see :func:`require_user_agent`."""
        fallback: Position = getattr(self.sampler, "position", None) or Position("<rules>")
        configs: list[object] = [self.sampler]
        for compiled in self._rules:
            for cc in compiled.conditions or ():
                if any(key == USER_AGENT for key, _, _ in cc.lookups):
                    return cc.condition.position or fallback
            configs.append(compiled.rule.downstream)
        for config in configs:
            fields = getattr(config, "field_list", None) or ()
            if any(f.removeprefix("root.") == USER_AGENT for f in fields):
                found: Position | None = getattr(config, "position", None)
                return found or fallback
        return None

    @property
    def check_nested_fields(self) -> bool:
        """The rules sampler's ``CheckNestedFields`` (False for any other sampler)."""
        return self._nested

    @property
    def compiled_rules(self) -> tuple[tuple[Rule, tuple[CompiledCondition, ...] | None], ...]:
        return tuple((r.rule, r.conditions) for r in self._rules)

    def _dynamic(self, config: SamplerConfig, downstream: bool) -> DownstreamSampler:
        if self._factory is not None:
            return self._factory(config, self.destination, downstream)
        from pytest_nectar.refinery.samplers import SamplerPool, build_sampler

        if not self._stateful:
            return build_sampler(
                config.KIND, config.params(), destination=self.destination, downstream=downstream
            )
        if self._pool is None:
            self._pool = SamplerPool(cluster_size=self._cluster_size)
        pool: SamplerPool = self._pool
        return pool.get(
            config.KIND, config.params(), destination=self.destination, downstream=downstream
        )

    def _run_sampler(
        self, config: SamplerConfig, trace: Trace, now: float, downstream: bool
    ) -> tuple[int, bool | None, float, str, str]:
        if isinstance(config, DeterministicSamplerConfig):
            try:
                rate, keep, reason, key = deterministic_sample(
                    trace.trace_id, config.sample_rate or 0
                )
            except DeterministicSamplerCrash as err:
                raise RulesError(str(err), position=config.position) from None
            return rate, keep, 1.0 if keep else 0.0, reason, key
        sampler = self._dynamic(config, downstream)
        rate, key = sampler.sample_rate(trace, now)
        rate = max(rate, 1)
        chance, prob = _random_keep(rate)
        return rate, chance, prob, sampler.reason, key

    def decide(self, trace: Trace, now: float = 0.0) -> Decision:
        """Refinery's decision for ``trace`` (at time ``now``, for stateful samplers)."""
        if not isinstance(self.sampler, RulesBasedSamplerConfig):
            rate, kept, prob, reason, key = self._run_sampler(self.sampler, trace, now, False)
            return Decision(None, None, rate, kept, prob, reason, key)
        for compiled in self._rules:
            if rule_matches(trace, compiled.rule, compiled.conditions, self._nested):
                return self.rule_decision(compiled.index, trace, now)
        return NO_RULE_MATCHED

    def rule_decision(self, index: int, trace: Trace, now: float = 0.0) -> Decision:
        """What rule ``index`` decides for a trace it matched (``GetSampleRate`` once a rule
        has matched): its downstream sampler's rate, or its ``SampleRate`` / ``Drop``."""
        rule = self._rules[index].rule
        prefix = _reason_prefix(rule)
        downstream = rule.downstream
        if downstream is not None:
            rate, keep, prob, sreason, key = self._run_sampler(downstream, trace, now, True)
            reason = f"{prefix}{rule.name}:{sreason}"
            return Decision(index, rule.name, rate, keep, prob, reason, key)
        sample_rate = rule.effective_sample_rate
        rate = sample_rate if sample_rate >= 0 else sample_rate + (1 << 64)
        if rule.drop or sample_rate <= 0:
            keep, prob = False, 0.0
        else:
            keep, prob = _random_keep(sample_rate)
        return Decision(index, rule.name, rate, keep, prob, prefix + rule.name, "")


def user_agent_error(where: Position | None) -> RulesError:
    """The rules read the router's User-Agent field, and an event does not record it."""
    return RulesError(
        f"the rules read {USER_AGENT}, which Refinery's router takes from the User-Agent "
        "header of the request that carried each event; some events here do not record it",
        position=where,
        hint="decide on spans exported after a Refinery (they carry the field), "
        "or drop the condition",
    )


def require_user_agent(evaluator: Evaluator, spans: Iterable[Span]) -> None:
    """Refuse to decide (a located error) when the rules read the User-Agent field and a span
    lacks it: its value was the request's header, which a trace file does not record."""
    where = evaluator.user_agent_reader
    if where is None:
        return
    for span in spans:
        value = span.data.get(USER_AGENT)
        if not (isinstance(value, str) and value):
            raise user_agent_error(where)


def decide(rules_file: RulesFile, trace: Trace, env: str | None = None) -> Decision:
    """One trace's decision with fresh sampler state (see :class:`Evaluator` for many)."""
    return Evaluator(rules_file, env).decide(trace)
