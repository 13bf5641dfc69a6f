"""Refinery in simulation: the compiled rules deciding generated traffic on the virtual clock.

Decisions come from the reference evaluator on the *compiled* rules file (the matching rule
found by its faster twin, :class:`~pytest_nectar.vopr.decision_cache.RuleMatcher`), with one
:class:`~pytest_nectar.refinery.samplers.SamplerPool` whose dynsampler cores (EMAThroughput,
EMADynamic, Windowed/Total throughput, Dynamic) are advanced to each trace's arrival time, as
Refinery runs them.  A random keep (``SampleRate: N``, a sampler's rate) is Refinery's
``rand.Intn(N) == 0``, drawn here as ``u * N < 1`` from the seeded ``refinery/keep`` stream of
the step: one uniform per trace, so the draws do not depend on which traces are random.

Exact shortcut: a decision reads only the fields of the conditions, the error and must-keep
expressions and the samplers' ``FieldList`` (plus row count and root flags).  When none of them
is a trace-id field, the destination is a rules sampler and ``CheckNestedFields`` is off, a
trace that no evolution or fault touched is decided like its corpus shape, and a changed one
like any earlier trace with the same values of those fields: matching rule, error and must-keep
verdicts and sampler key are computed once; only the stateful sampler call runs per trace.
:mod:`.invariants` checks this shortcut against the vectorised evaluator on the traffic.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from pytest_nectar.policy.error_criteria import error_match
from pytest_nectar.policy.interpreter import PolicyEvaluator
from pytest_nectar.policy.model import Expr, Policy, conditions
from pytest_nectar.refinery.reference import Decision, Evaluator
from pytest_nectar.refinery.rules_model import RulesBasedSamplerConfig, RulesFile, SamplerConfig
from pytest_nectar.refinery.samplers import (
    DynSampler,
    SamplerPool,
    SamplerSettings,
    TraceKey,
    parse_settings,
)
from pytest_nectar.refinery.samplers.clock import Clocked
from pytest_nectar.trace import Trace
from pytest_nectar.vopr.decision_cache import (
    CachedDecision,
    DecisionCache,
    RuleMatcher,
    content_key,
)
from pytest_nectar.vopr.rng import RngFamily, StepStream
from pytest_nectar.vopr.traffic import Batch, TraceFields

__all__ = ["DecisionCache", "RefinerySim", "SimTarget", "StepLog", "content_key"]

_NO_RULE = -1


@dataclass(frozen=True)
class SimTarget:
    """A policy as the simulation runs it: its compiled rules, destination and promises."""

    policy: Policy
    rules_file: RulesFile
    env: str
    budget: float | None
    rules_text: str
    #: the error expression in force (``resolve_error``: the command line, the policy's own,
    #: ``[tool.nectar] error``, the default); None: the policy's own, else the default
    error_expr: Expr | None = None

    @property
    def error(self) -> Expr:
        return self.error_expr if self.error_expr is not None else error_match(self.policy)

    @property
    def must_keep(self) -> tuple[Expr, ...]:
        return self.policy.must_keep or ()

    def read_fields(self) -> frozenset[str]:
        """Every field a decision can read: rule conditions, sampler keys (``FieldList``),
        the error and must-keep expressions (``root.`` removed)."""
        names: set[str] = set()
        sampler = self.rules_file.samplers[self.env].samplers[0]
        if isinstance(sampler, RulesBasedSamplerConfig):
            for rule in sampler.rules or ():
                down = rule.downstream
                names.update(getattr(down, "field_list", None) or ())
                for cond in rule.conditions or ():
                    names.update(cond.fields or ())
                    if cond.field:
                        names.add(cond.field)
        for expr in (self.error, *self.must_keep):
            for atom in conditions(expr):
                names.update(atom.field.names)
        out = {n.removeprefix("root.") for n in names}
        if "meta.refinery.root" in out:
            out.add("meta.signal_type")  # a log has no root flag (refinery/metadata.py)
        return frozenset(out)


@dataclass(frozen=True, slots=True, eq=False)
class StepLog:
    """One simulated step's decisions, in arrival order (arrays are one entry per trace)."""

    step: int
    start: float
    end: float
    times: NDArray[np.float64]
    trace_ids: tuple[str, ...]
    events: NDArray[np.int64]
    rule: NDArray[np.int32]  # -1: no rule decided (or not a rules sampler)
    rate: NDArray[np.uint64]
    chance: NDArray[np.int8]  # the evaluator's keep before the draw: 1, 0, -1 random
    kept: NDArray[np.bool_]
    error: NDArray[np.bool_]
    must: NDArray[np.bool_]
    cached: NDArray[np.bool_]  # decided through the shape shortcut

    def __len__(self) -> int:
        return len(self.trace_ids)

    def digest(self) -> str:
        """Hash of every decision of the step (ids, times, rules, rates, draws)."""
        h = hashlib.blake2b(digest_size=16)
        h.update(f"{self.step} {self.start!r} {self.end!r} {len(self)}".encode())
        h.update("\x1f".join(self.trace_ids).encode())
        for a in (self.times, self.events, self.rule, self.rate, self.chance, self.kept):
            h.update(np.ascontiguousarray(a).tobytes())
        for a in (self.error, self.must):
            h.update(np.ascontiguousarray(a).tobytes())
        return h.hexdigest()


class RefinerySim:
    """One Refinery instance (one destination) on the virtual clock, fed batch by batch."""

    def __init__(
        self,
        target: SimTarget,
        family: RngFamily,
        fields: TraceFields,
        cache: DecisionCache | None = None,
    ) -> None:
        self.target = target
        self.pool = SamplerPool()
        self._by_config: dict[tuple[int, str, bool], DynSampler] = {}
        self._parsed: dict[int, tuple[SamplerConfig, SamplerSettings, TraceKey]] = {}
        self._stateless = Evaluator(target.rules_file, target.env, sampler_factory=self._fresh)
        self._stateful = Evaluator(target.rules_file, target.env, sampler_factory=self._pooled)
        self._fast_stateless = RuleMatcher(self._stateless)
        self._fast_stateful = RuleMatcher(self._stateful)
        self._policy = PolicyEvaluator(target.policy)
        self._keep: StepStream = family.stream("refinery/keep")
        ids = {*fields.trace_id, "meta.trace_id"}
        rules = self._stateless.sampler
        self.shortcut = (
            isinstance(rules, RulesBasedSamplerConfig)
            and not rules.check_nested_fields  # nested lookups read any field
            and not (ids & target.read_fields())
        )
        #: the fields decisions read, sorted: a changed trace is keyed by their values
        self.fields = tuple(sorted(target.read_fields()))
        if cache is None or cache.fields != self.fields:
            cache = DecisionCache(self.fields)
        self.cache = cache
        self._shapes = cache.entries
        # Error and must-keep verdicts read fewer fields than the decision: keyed by those
        # alone they repeat across traces that differ elsewhere (e.g. only in duration).
        self._error_part = cache.part(_fields_of((target.error,)))
        self._must_part = cache.part(_fields_of(target.must_keep))
        self._samplers: dict[int, DynSampler] = {}
        self._cores: dict[int, Clocked] = {}  # each downstream sampler's core, by rule
        self._downstream: dict[int, SamplerConfig] = {}
        if isinstance(self._stateless.sampler, RulesBasedSamplerConfig):
            for i, rule in enumerate(self._stateless.sampler.rules or ()):
                if rule.downstream is not None:
                    self._downstream[i] = rule.downstream

    def _pooled(self, config: SamplerConfig, destination: str, downstream: bool) -> DynSampler:
        # Rules configs live as long as the evaluator: one settings parse per config.
        key = (id(config), destination, downstream)
        found = self._by_config.get(key)
        if found is None:
            found = self._by_config[key] = self.pool.get(
                config.KIND, config.params(), destination=destination, downstream=downstream
            )
        return found

    def _fresh(self, config: SamplerConfig, destination: str, downstream: bool) -> DynSampler:
        # The reference's unshared first-call sampler, its config parsed once (settings are
        # immutable); the config is held so that its id stays its own.
        found = self._parsed.get(id(config))
        if found is None or found[0] is not config:
            settings = parse_settings(config.KIND, config.params())
            keys = TraceKey.from_field_list(settings.field_list, settings.use_trace_length)
            found = self._parsed[id(config)] = (config, settings, keys)
        return SamplerPool().get_parsed(
            found[1], destination=destination, downstream=downstream, key_builder=found[2]
        )

    def is_error(self, trace: Trace) -> bool:
        return self._policy.holds(self.target.error, trace)

    def is_must_keep(self, trace: Trace) -> bool:
        return any(self._policy.holds(e, trace) for e in self.target.must_keep)

    def reference(self, trace: Trace) -> Decision:
        """The stateless reference decision (fresh samplers), for differential checks: the
        reference evaluator itself, never the simulator's faster :class:`RuleMatcher`."""
        return self._stateless.decide(trace)

    def _shape(self, source: object, trace: Trace) -> CachedDecision:
        found = self._shapes.get(source)
        if found is None:
            d = self._fast_stateless.decide(trace)
            rule = _NO_RULE if d.rule_index is None else d.rule_index
            found = CachedDecision(
                rule,
                None if rule in self._downstream else d,
                d.key,
                _flag(self._error_part, trace, self.is_error),
                _flag(self._must_part, trace, self.is_must_keep),
            )
            self._shapes[source] = found
        return found

    def _sampler(self, rule: int) -> DynSampler:
        found = self._samplers.get(rule)
        if found is None:
            config = self._downstream[rule]
            found = self._samplers[rule] = self._pooled(config, self._stateless.destination, True)
        return found

    def run(self, batch: Batch) -> StepLog:
        """Decide every trace of a batch at its arrival time; draw the random keeps."""
        n = len(batch)
        u = self._keep.at(batch.step).random(n)
        traces = batch.traces
        events = [len(t.spans) for t in traces]
        rule = [_NO_RULE] * n
        rate = [1] * n
        chance = [1] * n
        error = [False] * n
        must = [False] * n
        cached = [False] * n
        sources = batch.sources.tolist()
        marks = batch.marks
        keyed = self.cache.content_key
        shortcut = self.shortcut
        known = self._shapes.get
        cores = self._cores
        for i, now in enumerate(batch.times.tolist()):
            trace = traces[i]
            key = None
            if shortcut:
                key = sources[i] if i not in marks else keyed(trace)
            if key is not None:
                shape = known(key) or self._shape(key, trace)
                cached[i] = True
                error[i], must[i], rule[i] = shape.error, shape.must, shape.rule
                d = shape.decision
                if d is None:
                    core = cores.get(shape.rule)
                    if core is None:
                        core = cores[shape.rule] = self._sampler(shape.rule).core
                    r = core.get_sample_rate_multi(shape.key, events[i], now)
                    if r < 0:
                        raise RuntimeError(
                            f"dynsampler returned {r}: Refinery would panic in rand.Intn"
                        )
                    if r > 1:  # rate max(r, 1); 1 (kept) is the default
                        rate[i] = r
                        chance[i] = -1
                    continue
            else:
                error[i] = self.is_error(trace)
                must[i] = self.is_must_keep(trace)
                d = self._fast_stateful.decide(trace, now)
                rule[i] = _NO_RULE if d.rule_index is None else d.rule_index
            rate[i] = d.rate
            chance[i] = -1 if d.keep is None else int(d.keep)
        rate_a = np.array(rate, np.uint64)
        chance_a = np.array(chance, np.int8)
        with np.errstate(over="ignore"):
            drawn = u * rate_a.astype(np.float64) < 1.0
        kept = np.where(chance_a < 0, drawn, chance_a > 0)
        return StepLog(
            batch.step,
            batch.start,
            batch.end,
            batch.times,
            tuple(t.trace_id for t in traces),
            np.array(events, np.int64),
            np.array(rule, np.int32),
            rate_a,
            chance_a,
            kept,
            np.array(error, np.bool_),
            np.array(must, np.bool_),
            np.array(cached, np.bool_),
        )

    def describe_trace(self, log: StepLog, batch: Batch, i: int) -> dict[str, Any]:
        """A JSON-ready line about one trace of a step, for violation reports."""
        r = int(log.rule[i])
        rules = self._stateless.compiled_rules
        return {
            "trace_id": log.trace_ids[i],
            "time": float(log.times[i]),
            "events": int(log.events[i]),
            "rule": rules[r][0].name if 0 <= r < len(rules) else None,
            "rate": int(log.rate[i]),
            "kept": bool(log.kept[i]),
            "error": bool(log.error[i]),
            "must_keep": bool(log.must[i]),
            "changed_by": list(batch.labels(i)),
            "corpus_trace": int(batch.sources[i]),
        }


def _fields_of(exprs: tuple[Expr, ...]) -> tuple[str, ...]:
    """The fields policy expressions read (``root.`` removed, as in ``read_fields``), sorted."""
    names: set[str] = set()
    for expr in exprs:
        for atom in conditions(expr):
            names.update(atom.field.names)
    return tuple(sorted(n.removeprefix("root.") for n in names))


def _flag(part: DecisionCache, trace: Trace, test: Callable[[Trace], bool]) -> bool:
    """``test(trace)``, remembered by the trace's content on ``part``'s fields (exact while
    the shortcut holds: the test reads only those fields, root flags and row count)."""
    key = part.content_key(trace)
    if key is None:
        return test(trace)
    found = part.flags.get(key)
    if found is None:
        found = part.flags[key] = test(trace)
    return found
