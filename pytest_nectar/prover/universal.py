"""All-traces properties: error preservation, must-keep and shadowing for every trace.

Each question goes to :class:`~pytest_nectar.prover.solver.Solver`; a trace it constructs is
re-checked with the reference evaluator (the expression holds, and Refinery's decision is
what the counterexample claims) before it is shown.  When the solver cannot decide (a regex,
``contains``, mixed value views on one field, CheckNestedFields, a cap), the verdict is
``unknown`` unless a bounded random search, with the printed seed, finds a counterexample.

The per-rule questions (is rule ``i`` reachable; can an error trace be decided by rule
``i``) go through :mod:`.reach` first, which answers them for all rules at once in about
linear time; a question it cannot decide is asked in full, as :func:`shadowed_rules_full`
and :func:`prove_keep_all_full` (the original procedures, kept as the reference that the
differential tests and ``benchmarks/bench_shadowed.py`` compare against) ask every one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pytest_nectar.prover.properties import PropertyResult, Verdict, Witness
from pytest_nectar.prover.reach import reach_each
from pytest_nectar.prover.solver import Shape, Solver
from pytest_nectar.prover.target import Probe, Target
from pytest_nectar.prover.witness import because_of, decide_command, make_witness
from pytest_nectar.refinery.reference import Evaluator
from pytest_nectar.refinery.rules_model import DeterministicSamplerConfig, RulesBasedSamplerConfig
from pytest_nectar.trace import Span, Trace

__all__ = [
    "DEFAULT_SEED",
    "RANDOM_TRIES",
    "prove_keep_all",
    "prove_keep_all_full",
    "rule_shapes",
    "shadowed_rules",
    "shadowed_rules_full",
]

DEFAULT_SEED = 20240601
RANDOM_TRIES = 2000


def rule_shapes(evaluator: Evaluator) -> list[Shape]:
    return [Shape.of(r.name, r.scope, c) for r, c in evaluator.compiled_rules]


def _certain(evaluator: Evaluator) -> list[bool]:
    return [
        r.downstream is None and not r.drop and r.effective_sample_rate == 1
        for r, _ in evaluator.compiled_rules
    ]


def _violates(evaluator: Evaluator, probes: Sequence[Probe], trace: Trace) -> bool:
    return any(p.holds(trace) for p in probes) and evaluator.decide(trace).keep is not True


def prove_keep_all(
    target: Target, pid: str, probes: Sequence[Probe], *, seed: int = DEFAULT_SEED
) -> PropertyResult:
    """No trace at all satisfies one of ``probes`` and is kept with probability < 1.

    Decided with :func:`.reach.reach_each` when every question is decided there; else the
    full procedure (:func:`prove_keep_all_full`) gives the verdict.
    """
    if not probes:
        return PropertyResult(pid, Verdict.PASS, "no expression to check")
    evaluator = Evaluator(target.rules_file, target.env)
    if not isinstance(evaluator.sampler, RulesBasedSamplerConfig) or target.nested:
        return prove_keep_all_full(target, pid, probes, seed=seed)
    what = " or ".join(p.text for p in probes)
    rules = rule_shapes(evaluator)
    certain = _certain(evaluator)
    open_rules = [i for i in range(len(rules)) if not certain[i]]
    for probe_shape in (s for p in probes for s in p.shapes()):
        answers = reach_each(target.rules_file, target.env, rules, open_rules, (probe_shape,))
        for i in open_rules:
            answer = answers[i]
            if answer is None:
                return prove_keep_all_full(target, pid, probes, seed=seed)
            if answer.trace is None:
                continue
            if not _violates(evaluator, probes, answer.trace):
                return prove_keep_all_full(target, pid, probes, seed=seed)
            return _fail(target, evaluator, pid, answer.trace, what, "")
    return PropertyResult(
        pid, Verdict.PASS, f"proven for all traces: every trace matching {what} is kept"
    )


def prove_keep_all_full(
    target: Target, pid: str, probes: Sequence[Probe], *, seed: int = DEFAULT_SEED
) -> PropertyResult:
    """:func:`prove_keep_all` asking every rule's question with all earlier rules."""
    if not probes:
        return PropertyResult(pid, Verdict.PASS, "no expression to check")
    evaluator = Evaluator(target.rules_file, target.env)
    what = " or ".join(p.text for p in probes)
    sampler = evaluator.sampler
    if not isinstance(sampler, RulesBasedSamplerConfig):
        if isinstance(sampler, DeterministicSamplerConfig) and (sampler.sample_rate or 0) <= 1:
            return PropertyResult(pid, Verdict.PASS, f"{sampler.KIND} keeps every trace")
        return _sampler_fails(target, evaluator, pid, probes, what)
    rules = rule_shapes(evaluator)
    certain = _certain(evaluator)
    shapes = [s for p in probes for s in p.shapes()]
    solver = Solver([*rules, *shapes], nested=target.nested)
    exact = True
    for probe_shape in shapes:
        for i, rule in enumerate(rules):
            if certain[i]:
                continue
            out = solver.find([probe_shape, rule], rules[:i])
            exact = exact and out.exact
            if out.trace is not None:
                if _violates(evaluator, probes, out.trace):
                    return _fail(target, evaluator, pid, out.trace, what, "")
                exact = False  # a solver/evaluator disagreement: never show it, never prove
    if exact:
        return PropertyResult(
            pid, Verdict.PASS, f"proven for all traces: every trace matching {what} is kept"
        )
    for trace in solver.random_traces(seed, RANDOM_TRIES):
        if _violates(evaluator, probes, trace):
            return _fail(
                target, evaluator, pid, trace, what, f"found by random search, seed {seed}"
            )
    return PropertyResult(
        pid,
        Verdict.UNKNOWN,
        f"not decided (a condition is outside the decided fragment: regex, contains, mixed "
        f"value types or nested fields); random search with seed {seed} found no "
        f"counterexample in {RANDOM_TRIES} traces",
        figures={"seed": seed, "tries": RANDOM_TRIES},
    )


def _with_dropped_id(evaluator: Evaluator, trace: Trace) -> Trace:
    """The trace under the first of a few trace ids the environment's sampler does not keep
    for certain (a DeterministicSampler keeps or drops by the id's hash)."""
    for n in range(1, 4097):
        tid = f"{n:032x}"
        spans = tuple(
            Span({**span.data, "trace.trace_id": tid}, span.is_root)
            if "trace.trace_id" in span.data
            else span
            for span in trace.spans
        )
        candidate = Trace(tid, spans)
        if evaluator.decide(candidate).keep is not True:
            return candidate
    return trace


def _sampler_fails(
    target: Target, evaluator: Evaluator, pid: str, probes: Sequence[Probe], what: str
) -> PropertyResult:
    """An environment sampler that does not keep everything: a matching trace it may drop."""
    kind = evaluator.sampler.KIND
    shapes = [s for p in probes for s in p.shapes()]
    solver = Solver(shapes, nested=target.nested)
    exact = True
    for shape in shapes:
        out = solver.find([shape], [])
        exact = exact and out.exact
        if out.trace is None:
            continue
        trace = _with_dropped_id(evaluator, out.trace)
        if _violates(evaluator, probes, trace):
            return _fail(target, evaluator, pid, trace, what, "")
    if exact and all(solver.find([s], []).trace is None for s in shapes):
        return PropertyResult(pid, Verdict.PASS, f"no trace can match {what}")
    return PropertyResult(
        pid,
        Verdict.FAIL,
        f"{kind} samples every trace, so also those matching {what} (with fresh sampler "
        "state it keeps the one constructed; its rate rises with traffic)",
    )


def _minimal(trace: Trace, still: Callable[[Trace], bool]) -> Trace:
    """Drop spans one at a time while the trace still shows the violation (readability)."""
    spans = list(trace.spans)
    i = 0
    while i < len(spans) and len(spans) > 1:
        shorter = Trace(trace.trace_id, tuple(spans[:i] + spans[i + 1 :]))
        if still(shorter):
            spans = list(shorter.spans)
        else:
            i += 1
    return Trace(trace.trace_id, tuple(spans))


def _fail(
    target: Target, evaluator: Evaluator, pid: str, trace: Trace, what: str, note: str
) -> PropertyResult:
    probes = (target.error,) if pid.startswith("error") else target.must_keep
    trace = _minimal(trace, lambda t: _violates(evaluator, probes, t))
    decision = evaluator.decide(trace)
    why = "error" if pid.startswith("error") else "must-keep"
    witness: Witness = make_witness(
        evaluator,
        trace,
        decision,
        command=decide_command(target.rules_path, target.env, None, trace.trace_id),
        spans=True,
        note=note or "constructed counterexample, confirmed by the reference evaluator",
        because=because_of(target.criteria(why), trace, why),
    )
    by = f"rule {witness.rule!r}" if decision.rule_name is not None else witness.rule
    return PropertyResult(
        pid,
        Verdict.FAIL,
        f"a trace matching {what} is decided by {by}: {witness.decision}",
        (witness,),
        total_failing=1,
    )


def shadowed_rules(target: Target) -> PropertyResult:
    """Rules no trace at all can reach (earlier rules match first, or never matchable).

    Each rule's question goes to :func:`.reach.reach_each`; the ones it cannot decide are
    asked in full, as :func:`shadowed_rules_full` asks every one.
    """
    evaluator = Evaluator(target.rules_file, target.env)
    if not isinstance(evaluator.sampler, RulesBasedSamplerConfig):
        return PropertyResult("shadowed-rules", Verdict.PASS, "not a rules-based sampler")
    rules = rule_shapes(evaluator)
    answers = reach_each(
        target.rules_file, target.env, rules, range(len(rules)), nested=target.nested
    )
    full: Solver | None = None
    shadowed: list[str] = []
    undecided: list[str] = []
    for j, rule in enumerate(rules):
        answer = answers[j]
        if answer is not None and answer.trace is not None:
            continue
        if answer is None:
            full = full or Solver(rules, nested=target.nested)
            if _full_query(evaluator, full, rules, j, shadowed, undecided):
                continue
        alone = Solver([rule], nested=target.nested).find([rule], [])
        why = "never matches any trace" if alone.trace is None and alone.exact else "shadowed"
        shadowed.append(f"{rule.name!r} ({why})")
    return _shadowed_result(shadowed, undecided)


def _full_query(
    evaluator: Evaluator,
    solver: Solver,
    rules: list[Shape],
    j: int,
    shadowed: list[str],
    undecided: list[str],
) -> bool:
    """The original question for rule ``j``; True when it settled the rule (reachable or
    undecided), False when rule ``j`` is proven unreachable."""
    out = solver.find([rules[j]], rules[:j])
    if out.trace is not None:
        if evaluator.decide(out.trace).rule_index != j:
            undecided.append(rules[j].name)
        return True
    if not out.exact:
        undecided.append(rules[j].name)
        return True
    return False


def shadowed_rules_full(target: Target) -> PropertyResult:
    """:func:`shadowed_rules` asking every rule's question with all earlier rules."""
    evaluator = Evaluator(target.rules_file, target.env)
    if not isinstance(evaluator.sampler, RulesBasedSamplerConfig):
        return PropertyResult("shadowed-rules", Verdict.PASS, "not a rules-based sampler")
    rules = rule_shapes(evaluator)
    solver = Solver(rules, nested=target.nested)
    shadowed: list[str] = []
    undecided: list[str] = []
    for j, rule in enumerate(rules):
        out = solver.find([rule], rules[:j])
        if out.trace is not None:
            if evaluator.decide(out.trace).rule_index != j:
                undecided.append(rule.name)
            continue
        if not out.exact:
            undecided.append(rule.name)
            continue
        alone = solver.find([rule], [])
        why = "never matches any trace" if alone.trace is None and alone.exact else "shadowed"
        shadowed.append(f"{rule.name!r} ({why})")
    return _shadowed_result(shadowed, undecided)


def _shadowed_result(shadowed: list[str], undecided: list[str]) -> PropertyResult:
    figures = {"shadowed": shadowed, "undecided": undecided}
    if shadowed:
        return PropertyResult(
            "shadowed-rules",
            Verdict.WARN,
            "unreachable for every possible trace: " + ", ".join(shadowed),
            total_failing=len(shadowed),
            figures=figures,
            severity="warning",
        )
    tail = f" ({len(undecided)} not decided: {', '.join(undecided)})" if undecided else ""
    return PropertyResult(
        "shadowed-rules",
        Verdict.PASS if not undecided else Verdict.UNKNOWN,
        "every rule is reachable by some trace" + tail,
        figures=figures,
        severity="warning",
    )
