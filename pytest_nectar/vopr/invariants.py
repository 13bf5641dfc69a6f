"""The invariants a simulation checks, each a function that returns what it found wrong.

Per step (:func:`check_step`): every error trace and every must-keep trace kept; kept events
per second within the budget over every sliding window (anchored at each arrival, width
``min(window, traffic seconds of the step)``, as the prover's budget property slides them).
Across traffic (:func:`check_agreement`): the reference evaluator, the vectorised evaluator on
a columnar corpus built from the simulated traces, and the simulation's own (shortcut)
decisions agree.  Tool chain (:func:`check_policy_text`, :func:`check_rules_text`,
:func:`check_compile_determinism`): corrupted text is rejected with a Nectar error or compiles
to the same bytes twice, never a traceback.
"""

from __future__ import annotations

import pickle
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from pytest_nectar.corpus.from_traces import corpus_from_traces
from pytest_nectar.errors import NectarError
from pytest_nectar.policy.model import Policy
from pytest_nectar.refinery.reference import Decision
from pytest_nectar.trace import Trace
from pytest_nectar.vopr.refinery_sim import RefinerySim, StepLog
from pytest_nectar.vopr.traffic import Batch

__all__ = [
    "INVARIANTS",
    "Finding",
    "budget_peak",
    "check_agreement",
    "check_compile_determinism",
    "check_policy_text",
    "check_rules_text",
    "check_step",
]

#: Invariant ids and what each means (the order of reports).
INVARIANTS: dict[str, str] = {
    "error-kept": "every error trace (the error expression in force, as prove reads it) is kept",
    "must-keep": "every trace matching a must_keep expression is kept",
    "budget": "kept events/s stay within budget_per_second over every window",
    "determinism": "the same seed gives the same traffic and decision digests",
    "compile-determinism": "a (mutated) policy compiles to the same bytes every time",
    "corrupt-text": "corrupted policy or rules text is rejected with an error, never a crash",
    "agreement": "reference, vectorised and simulated decisions agree on simulated traffic",
}

_MAX_TRACES = 5  # offending traces listed per finding


@dataclass(frozen=True)
class Finding:
    """One invariant broken: where (step, virtual time) and which traces."""

    invariant: str
    step: int | None
    time: float | None
    message: str
    traces: tuple[dict[str, Any], ...] = ()
    detail: dict[str, Any] = field(default_factory=dict)


def budget_peak(
    times: NDArray[np.float64], events: NDArray[np.int64], width: float
) -> tuple[float, float]:
    """The highest events/s over windows ``[t, t + width)`` anchored at each arrival, and
    the start of that window (``(0, start)`` when there is no traffic)."""
    if times.size == 0 or width <= 0:
        return 0.0, 0.0
    csum = np.concatenate(([0], np.cumsum(events)))
    ends = np.searchsorted(times, times + width, side="left")
    sums = csum[ends] - csum[np.arange(times.size)]
    at = int(np.argmax(sums))
    return float(sums[at]) / width, float(times[at])


def check_step(
    sim: RefinerySim, batch: Batch, log: StepLog, window_s: float | None
) -> list[Finding]:
    """The per-step invariants: errors and must-keep traces kept, budget per window
    (``window_s`` None: the step carries too little traffic time to fill a window)."""
    out: list[Finding] = []
    for name, wanted, what in (
        ("error-kept", log.error, "error trace"),
        ("must-keep", log.must, "must-keep trace"),
    ):
        lost = np.flatnonzero(wanted & ~log.kept)
        if lost.size:
            i = int(lost[0])
            out.append(
                Finding(
                    name,
                    log.step,
                    float(log.times[i]),
                    f"{lost.size} {what}(s) dropped in step {log.step}",
                    tuple(sim.describe_trace(log, batch, int(j)) for j in lost[:_MAX_TRACES]),
                )
            )
    budget = sim.target.budget
    if budget is not None and window_s is not None and len(log):
        width = min(window_s, log.end - log.start)
        mask = log.kept
        peak, start = budget_peak(log.times[mask], log.events[mask], width)
        if peak > budget:
            inside = np.flatnonzero(mask & (log.times >= start) & (log.times < start + width))
            heavy = inside[np.argsort(-log.events[inside], kind="stable")][:_MAX_TRACES]
            out.append(
                Finding(
                    "budget",
                    log.step,
                    start,
                    f"kept {peak:.6g} events/s over the {width:g} s window from "
                    f"t={start:.6g}; budget {budget:g}",
                    tuple(sim.describe_trace(log, batch, int(j)) for j in heavy),
                    {"events_per_second": peak, "budget": budget, "window_s": width},
                )
            )
    return out


# --- reference vs vectorised -------------------------------------------------------------


def _fits_int64(trace: Trace, fields: Sequence[str] | None) -> bool:
    """Every int the columnar corpus would hold (of ``fields`` only, when given) fits int64."""
    for span in trace.spans:
        data = span.data
        values = data.values() if fields is None else [data.get(k) for k in fields]
        for v in values:
            if isinstance(v, int) and not isinstance(v, bool) and not -(2**63) <= v < 2**63:
                return False
    return True


def _same(a: Decision, b: Decision) -> bool:
    return (a.rule_index, a.rate, a.keep, a.keep_probability, a.reason, a.key) == (
        b.rule_index,
        b.rate,
        b.keep,
        b.keep_probability,
        b.reason,
        b.key,
    )


def check_agreement(
    sim: RefinerySim, picked: Sequence[tuple[int, float, Trace, int]]
) -> list[Finding]:
    """Reference, vectorised and simulated decisions on ``(step, time, trace, sim rule)``.

    The simulated rule is the one the simulation used (possibly through its shape shortcut);
    reference and vectorised decisions are stateless (first-call sampler rates) on both sides.
    """
    from pytest_nectar.refinery.vector import evaluate_corpus

    fields = sim.fields if sim.shortcut else None
    rows = [p for p in picked if _fits_int64(p[2], fields)]
    if not rows:
        return []
    target = sim.target
    corpus = corpus_from_traces([p[2] for p in rows], fields=fields, digest="vopr")
    vector = evaluate_corpus(target.rules_file, corpus, target.env)
    for i, (step, now, trace, sim_rule) in enumerate(rows):
        ref = sim.reference(trace)
        vec = vector.decision(i)
        ref_rule = -1 if ref.rule_index is None else ref.rule_index
        if not _same(ref, vec) or ref_rule != sim_rule:
            return [
                Finding(
                    "agreement",
                    step,
                    now,
                    f"trace {trace.trace_id}: reference {ref.reason!r} rate {ref.rate}, "
                    f"vectorised {vec.reason!r} rate {vec.rate}, simulation rule {sim_rule}",
                    ({"trace_id": trace.trace_id, "spans": [dict(s.data) for s in trace.spans]},),
                    {"reference": ref.to_json(), "vectorised": vec.to_json(), "sim_rule": sim_rule},
                )
            ]
    return []


# --- tool chain ----------------------------------------------------------------------------


def _crash(what: str, kind: str, detail: str, err: BaseException) -> Finding:
    tb = traceback.format_exception_only(type(err), err)[-1].strip()
    return Finding(
        "corrupt-text",
        None,
        None,
        f"{what} corrupted by {kind} ({detail}) crashed: {tb}",
        detail={"corruption": kind, "where": detail, "exception": tb},
    )


def check_compile_determinism(policy: Policy, label: str) -> list[Finding]:
    """``policy`` compiles to the same bytes twice (the second from a pickled copy, so no
    identity-keyed cache is shared), or fails both times with the same message."""
    from pytest_nectar.compiler.compile import compile_policies

    results: list[str] = []
    for p in (policy, pickle.loads(pickle.dumps(policy))):
        try:
            results.append("ok\n" + compile_policies([p]).text)
        except NectarError as err:
            results.append("error\n" + err.render())
    if results[0] != results[1]:
        return [
            Finding(
                "compile-determinism",
                None,
                None,
                f"{label}: two compiles of one policy differ",
                detail={"first": results[0], "second": results[1]},
            )
        ]
    return []


def check_policy_text(text: str, kind: str, detail: str, path: str) -> list[Finding]:
    """Corrupted policy text: a located Nectar error, or a policy that compiles
    deterministically."""
    from pytest_nectar.policy.parser import parse_policy

    try:
        policy = parse_policy(text, path=path)
    except NectarError:
        return []
    except Exception as err:
        return [_crash("policy text", kind, detail, err)]
    try:
        return check_compile_determinism(policy, f"policy corrupted by {kind} ({detail})")
    except Exception as err:
        return [_crash("policy text", kind, detail, err)]


def check_rules_text(
    text: str, kind: str, detail: str, env: str, traces: Sequence[Trace]
) -> list[Finding]:
    """Corrupted rules YAML: rejected by the reader or validator, or loaded into an evaluator
    that decides ``traces`` and writes back the same bytes twice; never a traceback."""
    from pytest_nectar.refinery.reference import Evaluator
    from pytest_nectar.refinery.rules_reader import read_rules_text
    from pytest_nectar.refinery.rules_validate import validate_loaded
    from pytest_nectar.refinery.rules_writer import write_rules

    try:
        loaded = read_rules_text(text, "rules.yaml")
        if validate_loaded(loaded).errors:
            return []
        first = write_rules(loaded.rules_file)
        if write_rules(read_rules_text(text, "rules.yaml").rules_file) != first:
            return [
                Finding(
                    "compile-determinism",
                    None,
                    None,
                    f"rules corrupted by {kind} ({detail}) write back differently twice",
                )
            ]
        evaluator = Evaluator(loaded.rules_file, env)
        for trace in traces:
            evaluator.decide(trace)
    except NectarError:
        return []
    except Exception as err:
        return [_crash("rules text", kind, detail, err)]
    return []
