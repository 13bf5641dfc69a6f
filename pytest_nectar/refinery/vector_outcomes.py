"""From "which rule decided each trace" to Refinery's outcome per trace, as numpy arrays.

Rules without a downstream sampler have one outcome for all their traces.  Downstream
samplers (and a destination's non-rules sampler) run per trace, exactly as the reference's
stateless ``Evaluator.decide`` runs them: a fresh sampler's first call at ``now``, with the
trace key built by :mod:`.samplers.trace_key` from a light copy of the trace holding only
the key fields (the key and the span count are all a sampler reads).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from pytest_nectar.corpus.table import Corpus, TraceTable
from pytest_nectar.errors import RulesError
from pytest_nectar.refinery.deterministic import DeterministicSamplerCrash, deterministic_sample
from pytest_nectar.refinery.reference import Decision, Evaluator
from pytest_nectar.refinery.rules_model import (
    DeterministicSamplerConfig,
    RulesBasedSamplerConfig,
    SamplerConfig,
)
from pytest_nectar.trace import Span, Trace

__all__ = ["NO_RULE_MATCHED", "CorpusDecisions", "FirstCalls", "RuleTotals", "decide_outcomes"]

NO_RULE_MATCHED: Final = "no rule matched"
_U64: Final = 1 << 64
_NO_DATA: Final = Span({}, False)


@dataclass(frozen=True, slots=True)
class RuleTotals:
    """What one rule decided over a corpus (``rule_index`` None: no rule / not a rules sampler).

    ``traces``/``events`` count corpus traces and rows; the ``weighted_`` and
    ``expected_kept_`` figures multiply by each trace's corpus weight (its incoming sample
    rate), the latter also by its keep probability.
    """

    rule_index: int | None
    rule: str | None
    traces: int
    events: int
    weighted_traces: float
    weighted_events: float
    expected_kept_traces: float
    expected_kept_events: float

    def to_json(self) -> dict[str, Any]:
        return {
            "rule_index": self.rule_index,
            "rule": self.rule,
            "traces": self.traces,
            "events": self.events,
            "weighted_traces": self.weighted_traces,
            "weighted_events": self.weighted_events,
            "expected_kept_traces": self.expected_kept_traces,
            "expected_kept_events": self.expected_kept_events,
        }


@dataclass(frozen=True, eq=False)
class CorpusDecisions:
    """Every trace's decision, one array entry per corpus trace.

    ``rule_index`` is -1 when no rule decided.  ``rate`` holds Refinery's ``uint`` rate as
    int64 bits (only a negative ``SampleRate`` wraps; :meth:`decision` undoes that).  ``keep``
    is 1 keep, 0 drop, -1 random with ``keep_probability``.  ``reasons[reason_code[i]]`` and
    ``keys[key_code[i]]`` are the reason and sample key.  ``fallback`` marks the traces the
    reference evaluator decided (CheckNestedFields).
    """

    trace_ids: Sequence[str]
    rule_names: tuple[str, ...]
    rule_index: npt.NDArray[np.int32]
    rate: npt.NDArray[np.int64]
    keep: npt.NDArray[np.int8]
    keep_probability: npt.NDArray[np.float64]
    reason_code: npt.NDArray[np.int32]
    reasons: tuple[str, ...]
    key_code: npt.NDArray[np.int32]
    keys: tuple[str, ...]
    fallback: npt.NDArray[np.bool_]

    def __len__(self) -> int:
        return len(self.rule_index)

    def reason(self, index: int) -> str:
        return self.reasons[int(self.reason_code[index])]

    def key(self, index: int) -> str:
        return self.keys[int(self.key_code[index])]

    def decision(self, index: int) -> Decision:
        """Trace ``index``'s decision as the reference evaluator's :class:`Decision`."""
        rule = int(self.rule_index[index])
        rate = int(self.rate[index])
        keep = int(self.keep[index])
        return Decision(
            None if rule < 0 else rule,
            None if rule < 0 else self.rule_names[rule],
            rate + _U64 if rate < 0 else rate,
            None if keep < 0 else bool(keep),
            float(self.keep_probability[index]),
            self.reason(index),
            self.key(index),
        )

    def rule_totals(self, corpus: TraceTable) -> tuple[RuleTotals, ...]:
        """One entry per rule (file order), then the undecided traces (if any)."""
        bins = len(self.rule_names) + 1
        slot = self.rule_index.astype(np.int64) + 1
        rows = np.diff(corpus.trace_offsets).astype(np.float64)
        w = corpus.weight
        p = self.keep_probability

        def total(weights: npt.NDArray[np.float64] | None) -> npt.NDArray[np.float64]:
            return np.bincount(slot, weights=weights, minlength=bins).astype(np.float64)

        traces, events = total(None), total(rows)
        wt, we, kt, ke = total(w), total(w * rows), total(w * p), total(w * p * rows)
        out = []
        for b in [*range(1, bins), 0]:
            if b == 0 and traces[0] == 0:
                continue
            out.append(
                RuleTotals(
                    b - 1 if b else None,
                    self.rule_names[b - 1] if b else None,
                    int(traces[b]),
                    int(events[b]),
                    float(wt[b]),
                    float(we[b]),
                    float(kt[b]),
                    float(ke[b]),
                )
            )
        return tuple(out)


class _Codes:
    def __init__(self, first: str) -> None:
        self.values: list[str] = [first]
        self._index = {first: 0}

    def code(self, value: str) -> int:
        found = self._index.get(value)
        if found is None:
            found = self._index[value] = len(self.values)
            self.values.append(value)
        return found


class _KeyTraces:
    """Light traces for the trace key: every span, its root flag, only the key fields."""

    def __init__(self, corpus: Corpus, names: set[str]) -> None:
        self.corpus = corpus
        if "meta.refinery.root" in names:
            names = names | {"meta.signal_type"}  # a log's root flag does not exist
        self.columns = [
            (
                name,
                corpus.columns[name],
                np.searchsorted(corpus.columns[name].rows, corpus.trace_offsets),
            )
            for name in sorted(names)
            if name in corpus.columns
        ]

    def trace(self, index: int) -> Trace:
        corpus = self.corpus
        start = int(corpus.trace_offsets[index])
        stop = int(corpus.trace_offsets[index + 1])
        data: dict[int, dict[str, object]] = {}
        for name, column, bounds in self.columns:
            for entry in range(int(bounds[index]), int(bounds[index + 1])):
                data.setdefault(int(column.rows[entry]), {})[name] = column.value_at(entry)
        spans = tuple(
            Span(data[r], bool(corpus.is_root[r]))
            if r in data
            else (Span({}, True) if corpus.is_root[r] else _NO_DATA)
            for r in range(start, stop)
        )
        return Trace(corpus.trace_ids[index], spans)


#: A fresh downstream sampler's first answers, by (rule slot, sample key, span count): shared
#: by the partitions of one corpus evaluated with the same rules and ``now``.
FirstCalls = dict[tuple[int, str, int], int]


class _Filler:
    def __init__(
        self, corpus: Corpus, rule_index: npt.NDArray[np.int32], first_calls: FirstCalls
    ) -> None:
        n = corpus.n_traces
        self.first_calls = first_calls
        self.corpus = corpus
        self.rule_index = rule_index
        self.rate = np.ones(n, dtype=np.int64)
        self.keep = np.ones(n, dtype=np.int8)
        self.prob = np.ones(n, dtype=np.float64)
        self.reason = np.zeros(n, dtype=np.int32)
        self.key = np.zeros(n, dtype=np.int32)
        self.reasons = _Codes(NO_RULE_MATCHED)
        self.keys = _Codes("")

    def set_slot(
        self,
        rate_t: npt.NDArray[np.int64],
        keep_t: npt.NDArray[np.int8],
        prob_t: npt.NDArray[np.float64],
        reason_t: npt.NDArray[np.int32],
        slot: int,
        rate: int,
        keep: bool | None,
        prob: float,
        reason: str,
    ) -> None:
        rate_t[slot] = rate - _U64 if rate >= (1 << 63) else rate
        keep_t[slot] = -1 if keep is None else int(keep)
        prob_t[slot] = prob
        reason_t[slot] = self.reasons.code(reason)

    def set(self, sel: Any, rate: int, keep: bool | None, prob: float, reason: str) -> None:
        self.rate[sel] = rate - _U64 if rate >= (1 << 63) else rate
        self.keep[sel] = -1 if keep is None else int(keep)
        self.prob[sel] = prob
        self.reason[sel] = self.reasons.code(reason)

    def run_sampler(
        self,
        evaluator: Evaluator,
        config: SamplerConfig,
        traces: npt.NDArray[np.int64],
        prefix: str,
        downstream: bool,
        now: float,
        slot: int,
    ) -> None:
        ids = self.corpus.trace_ids
        if isinstance(config, DeterministicSamplerConfig):
            for t in traces.tolist():
                try:
                    rate, kept, reason, _ = deterministic_sample(ids[t], config.sample_rate or 0)
                except DeterministicSamplerCrash as err:
                    raise RulesError(str(err), position=config.position) from None
                self.set(t, rate, kept, 1.0 if kept else 0.0, prefix + reason)
            return
        from pytest_nectar.refinery.samplers.pool import SamplerPool
        from pytest_nectar.refinery.samplers.settings import parse_settings
        from pytest_nectar.refinery.samplers.trace_key import TraceKey

        settings = parse_settings(config.KIND, config.params())  # once, not per trace
        builder = TraceKey.from_field_list(settings.field_list, settings.use_trace_length)
        light = _KeyTraces(self.corpus, set(builder.fields) | set(builder.root_fields))
        # A fresh sampler's first call reads the trace only through its key and span count
        # (DynSampler.sample_rate), so traces that share both share the answer.
        first_call = self.first_calls
        for t in traces.tolist():
            trace = light.trace(t)
            key, _ = builder.build(trace)
            found = first_call.get((slot, key, len(trace.spans)))
            if found is None:
                sampler = SamplerPool().get_parsed(
                    settings,
                    destination=evaluator.destination,
                    downstream=downstream,
                    key_builder=builder,
                )
                found, _ = sampler.sample_rate(trace, now)
                found = first_call[(slot, key, len(trace.spans))] = max(found, 1)
            random = found > 1
            self.set(t, found, None if random else True, 1.0 / found, prefix + settings.reason)
            self.key[t] = self.keys.code(key)


def decide_outcomes(
    evaluator: Evaluator,
    corpus: Corpus,
    rule_index: npt.NDArray[np.int32],
    fallback: npt.NDArray[np.bool_],
    now: float,
    first_calls: FirstCalls | None = None,
) -> CorpusDecisions:
    """The decisions, given the deciding rule of each trace (``fallback`` traces excepted).

    ``first_calls``: answers of fresh downstream samplers already known (filled in here),
    for the partitions of one corpus evaluated one after another with these rules.
    """
    fill = _Filler(corpus, rule_index, {} if first_calls is None else first_calls)
    rules = evaluator.compiled_rules
    if not isinstance(evaluator.sampler, RulesBasedSamplerConfig):
        everything = np.arange(corpus.n_traces, dtype=np.int64)
        fill.run_sampler(evaluator, evaluator.sampler, everything, "", False, now, -1)
    else:
        # Static outcomes by table lookup (slot 0: no rule matched); samplers per trace.
        n_slots = len(rules) + 1
        rate_t = np.ones(n_slots, dtype=np.int64)
        keep_t = np.ones(n_slots, dtype=np.int8)
        prob_t = np.ones(n_slots, dtype=np.float64)
        reason_t = np.zeros(n_slots, dtype=np.int32)
        sampled: list[tuple[int, str, SamplerConfig]] = []
        for i, (rule, _) in enumerate(rules):
            scope = rule.scope or ""
            prefix = (
                "rules/span/"
                if scope == "span"
                else "rules/trace/"
                if scope in ("", "trace")
                else "rules/invalid scope/"
            )
            downstream = rule.downstream
            if downstream is not None:
                sampled.append((i, f"{prefix}{rule.name}:", downstream))
                continue
            rate = rule.effective_sample_rate
            if rule.drop or rate <= 0:
                keep, prob = False, 0.0
            elif rate == 1:
                keep, prob = True, 1.0
            else:
                keep, prob = None, 1.0 / rate
            fill.set_slot(
                rate_t, keep_t, prob_t, reason_t, i + 1, rate % _U64, keep, prob, prefix + rule.name
            )
        slot = rule_index + 1
        fill.rate, fill.keep, fill.prob, fill.reason = (
            rate_t[slot],
            keep_t[slot],
            prob_t[slot],
            reason_t[slot],
        )
        live = np.where(fallback, -2, rule_index) if fallback.any() else rule_index
        for i, prefix, config in sampled:
            sel = np.flatnonzero(live == i)
            if len(sel):
                fill.run_sampler(evaluator, config, sel, prefix, True, now, i)
    for t in np.flatnonzero(fallback).tolist():
        d = evaluator.decide(corpus.trace(t), now)
        rule_index[t] = -1 if d.rule_index is None else d.rule_index
        fill.set(t, d.rate, d.keep, d.keep_probability, d.reason)
        fill.key[t] = fill.keys.code(d.key)
    return CorpusDecisions(
        trace_ids=corpus.trace_ids,
        rule_names=tuple(rule.name for rule, _ in rules),
        rule_index=rule_index,
        rate=fill.rate,
        keep=fill.keep,
        keep_probability=fill.prob,
        reason_code=fill.reason,
        reasons=tuple(fill.reasons.values),
        key_code=fill.key,
        keys=tuple(fill.keys.values),
        fallback=fallback,
    )
