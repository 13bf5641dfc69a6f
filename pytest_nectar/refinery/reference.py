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
    "Decision",
    "DownstreamSampler",
    "Evaluator",
    "decide",
    "extract_value",
    "require_user_agent",
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

    ``root`` may be passed in (``trace.root``, computed once per trace) to save the lookup.
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
    #: per condition, its :func:`_plain_keys` (the fast path when nested lookups are off)
    plain: tuple[tuple[str, ...] | None, ...] = ()


def _plain_keys(cond: CompiledCondition) -> tuple[str, ...] | None:
    """The keys :func:`extract_value` reads for a condition of plain span fields (no
    ``root.``, no ``meta.``, no descendant count), None for any other condition: on such a
    condition (nested lookups off) it returns the first key present, never ``only_root``."""
    if cond.computed_descendants or not cond.lookups or cond.is_has_root_span:
        return None
    if any(is_root or is_meta for _, is_root, is_meta in cond.lookups):
        return None
    return tuple(key for key, _, _ in cond.lookups)


def _any_span_plain(
    spans: tuple[Span, ...], keys: tuple[str, ...], cond: CompiledCondition
) -> bool:
    """The span loop of :func:`_matches_trace` for a :func:`_plain_keys` condition."""
    matches = cond.matches
    for span in spans:
        data = span.data
        value: object = None
        exists = False
        for key in keys:
            found = data.get(key, _MISSING)
            if found is not _MISSING:
                value, exists = found, True
                break
        if matches(value, exists) if matches is not None else cond.evaluate(value, exists):
            return True
    return False


def _matches_trace(trace: Trace, rule: _CompiledRule, nested: bool) -> bool:
    if rule.conditions is None:
        return True
    root: Span | None = _NO_ROOT
    for cond, keys in zip(rule.conditions, rule.plain, strict=True):
        if keys is not None and not nested:
            if not _any_span_plain(trace.spans, keys, cond):
                return False
            continue
        if root is _NO_ROOT:
            root = trace.root  # only conditions off the plain path read it
        if cond.is_has_root_span:
            if (root is not None) != cond.root_span_wanted:
                return False
            continue
        satisfied = False
        for span in trace.spans:
            value, exists, only_root = extract_value(trace, span, cond, nested, root)
            if cond.evaluate(value, exists):
                satisfied = True
                break
            if only_root:
                break
        if not satisfied:
            return False
    return True


def _matches_span(trace: Trace, rule: _CompiledRule, nested: bool) -> bool:
    if rule.conditions is None:
        return True
    root = trace.root
    pairs = tuple(zip(rule.conditions, rule.plain, strict=True))
    for span in trace.spans:
        matched = True
        for cond, keys in pairs:
            if keys is not None and not nested:  # extract_value's plain case, inlined
                data = span.data
                value: object = None
                exists = False
                for key in keys:
                    found = data.get(key, _MISSING)
                    if found is not _MISSING:
                        value, exists = found, True
                        break
                only_root = False
            else:
                value, exists, only_root = extract_value(trace, span, cond, nested, root)
            if not cond.evaluate(value, exists):
                matched = False
                if only_root:
                    return False
                break
        if matched:
            return True
    return False


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
        #: fresh samplers: per config (held, so its id stays its own) its parsed settings
        self._parsed: dict[int, tuple[SamplerConfig, Any, Any]] = {}
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
                plain = tuple(_plain_keys(c) for c in conds or ())
                if self._nested:
                    _check_nested_paths(conds or ())
                rules.append(_CompiledRule(i, r, conds, plain))
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
    def compiled_rules(self) -> tuple[tuple[Rule, tuple[CompiledCondition, ...] | None], ...]:
        return tuple((r.rule, r.conditions) for r in self._rules)

    def _dynamic(self, config: SamplerConfig, downstream: bool) -> DownstreamSampler:
        if self._factory is not None:
            return self._factory(config, self.destination, downstream)
        from pytest_nectar.refinery.samplers import SamplerPool
        from pytest_nectar.refinery.samplers.settings import parse_settings
        from pytest_nectar.refinery.samplers.trace_key import TraceKey

        if not self._stateful:
            # build_sampler's fresh sampler, the config parsed once (settings are immutable)
            found = self._parsed.get(id(config))
            if found is None or found[0] is not config:
                settings = parse_settings(config.KIND, config.params())
                keys = TraceKey.from_field_list(settings.field_list, settings.use_trace_length)
                found = self._parsed[id(config)] = (config, settings, keys)
            return SamplerPool().get_parsed(
                found[1], destination=self.destination, downstream=downstream, key_builder=found[2]
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
            rule = compiled.rule
            scope = rule.scope or ""
            if scope == "span":
                matched, prefix = _matches_span(trace, compiled, self._nested), "rules/span/"
            elif scope in ("trace", ""):
                matched, prefix = _matches_trace(trace, compiled, self._nested), "rules/trace/"
            else:
                matched, prefix = True, "rules/invalid scope/"
            if not matched:
                continue
            downstream = rule.downstream
            if downstream is not None:
                rate, keep, prob, sreason, key = self._run_sampler(downstream, trace, now, True)
                return Decision(
                    compiled.index,
                    rule.name,
                    rate,
                    keep,
                    prob,
                    f"{prefix}{rule.name}:{sreason}",
                    key,
                )
            sample_rate = rule.effective_sample_rate
            rate = sample_rate if sample_rate >= 0 else sample_rate + (1 << 64)
            if rule.drop or sample_rate <= 0:
                keep, prob = False, 0.0
            else:
                keep, prob = _random_keep(sample_rate)
            return Decision(compiled.index, rule.name, rate, keep, prob, prefix + rule.name, "")
        return Decision(None, None, 1, True, 1.0, "no rule matched", "")


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
