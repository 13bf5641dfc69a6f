"""Do two rules files decide alike for one environment?  (``nectar import``'s proof.)

Two decisions are the same when the rule (by name), the reported rate, the keep outcome or
probability and the sample key are; the reason text follows from the rule name.  Accepted
differences, each reported: a trace that no original rule matches ("no rule matched", rate 1,
kept) against the compiler's explicit catch-all (same rate and keep, reason
``rules/trace/nectar-default-keep-unmatched``), and rules renamed on import (``renamed``).

* **All traces.**  Both environments are rule lists (an environment sampler is compared by
  its settings: the same sampler with the same effective settings decides alike on every
  trace).  For every pair (original rule ``i``, imported rule ``j``, either possibly "none")
  whose outcomes differ, the prover's decision procedure looks for a trace that ``i`` decides
  in the original and ``j`` in the import; a trace it finds is re-checked by the reference
  evaluator on both files before it is shown.  No pair possible is a proof.  First, the
  leading rules that match alike in both lists (written alike: same scope, the same
  condition maps with equally typed values; or shown by the procedure to match the same
  traces) settle every pair in which one side is such a rule: a trace first-matches rule
  ``i`` there in one list iff in the other.  Where the
  procedure cannot decide (regexes, ``contains``, nested fields...), a seeded random search
  runs and the verdict is ``unknown`` unless it finds a difference.
* **Corpus.**  Both files replayed on the corpus (the vectorised evaluator ``nectar replay``
  uses), every trace's decision compared (replay equality).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from pytest_nectar.compiler.compile import CATCH_ALL_NAME
from pytest_nectar.corpus.table import Corpus
from pytest_nectar.errors import RulesError
from pytest_nectar.prover.properties import Verdict
from pytest_nectar.prover.solver import Shape, Solver
from pytest_nectar.prover.universal import DEFAULT_SEED, RANDOM_TRIES, rule_shapes
from pytest_nectar.refinery import rules_model as rm
from pytest_nectar.refinery.reference import Decision, Evaluator
from pytest_nectar.trace import Trace

__all__ = ["Equivalence", "corpus_differences", "prove_equivalent", "same_decision"]

_NO_MATCH: Final = "no rule matched"


@dataclass(frozen=True, slots=True)
class Equivalence:
    """The all-traces verdict for one environment, with a re-checked counterexample."""

    environment: str
    verdict: Verdict
    summary: str
    counterexample: Trace | None = None
    original: Decision | None = None
    imported: Decision | None = None


def same_decision(a: Decision, b: Decision, renamed: Mapping[str, str]) -> bool:
    """``b`` (imported) decides ``a``'s trace alike, up to the accepted differences."""
    if (a.rate, a.keep, a.keep_probability, a.key) != (b.rate, b.keep, b.keep_probability, b.key):
        return False
    name = renamed.get(b.rule_name, b.rule_name) if b.rule_name is not None else None
    if a.rule_name is None and a.reason == _NO_MATCH:
        return b.reason == _NO_MATCH or name == CATCH_ALL_NAME
    if name != a.rule_name:
        return False
    return b.rule_name != name or a.reason == b.reason


def _settings(config: rm.SamplerConfig) -> object:
    """What decides a sampler's behaviour: its kind and effective settings."""
    if isinstance(config, rm.DeterministicSamplerConfig):
        rate = config.sample_rate or 0
        return (config.KIND, "crash" if rate & 0xFFFFFFFF == 0 else max(rate, 1))
    from pytest_nectar.refinery.samplers.settings import parse_settings

    try:
        return (config.KIND, parse_settings(config.KIND, config.params()))
    except RulesError as err:
        return (config.KIND, f"refused: {err.message}")


def _outcome(rule: rm.Rule | None) -> object:
    if rule is None:
        return ("static", 1, True)
    downstream = rule.downstream
    if downstream is not None:
        return ("sampler", _settings(downstream))
    rate = rule.effective_sample_rate
    return ("static", rate % (1 << 64), not rule.drop and rate > 0)


def _differs(a: rm.Rule | None, b: rm.Rule | None, renamed: Mapping[str, str]) -> bool:
    """Whether rule ``a`` (original) and ``b`` (imported; ``renamed`` maps its name back)
    decide differently; None is "no rule matched"."""
    if _outcome(a) != _outcome(b):
        return True
    na = a.name if a is not None else None
    nb = renamed.get(b.name, b.name) if b is not None else None
    return not (na == nb or (a is None and b is not None and b.name == CATCH_ALL_NAME))


def _typed(value: object) -> object:
    """A Value with its type, so that ``1``, ``1.0`` and ``true`` stay three values."""
    if isinstance(value, tuple):
        return tuple(_typed(v) for v in value)
    return (type(value).__name__, value)


def _same_matcher(a: rm.Rule, b: rm.Rule) -> bool:
    """Whether two rules match exactly the same traces because they are written alike.

    The evaluator's match reads only a rule's scope and its condition maps (and the
    sampler's CheckNestedFields, compared separately), so equal ones are one matcher.
    """
    if (a.scope or "trace") != (b.scope or "trace"):
        return False
    ca, cb = a.conditions or (), b.conditions or ()
    return len(ca) == len(cb) and all(
        (x.field_names, x.operator, x.datatype, _typed(x.value))
        == (y.field_names, y.operator, y.datatype, _typed(y.value))
        and bool(x.field and x.fields) == bool(y.field and y.fields)
        for x, y in zip(ca, cb, strict=True)
    )


def _alike_prefix(
    solver: Solver, lr: list[rm.Rule], rr: list[rm.Rule], ls: list[Shape], rs: list[Shape]
) -> int:
    """How many leading rules match exactly the same traces in both lists.

    Written alike is enough; otherwise the decision procedure must show, exactly, that no
    trace matches one and not the other.  Then a trace's first match is rule ``i < k`` in one
    list iff it is in the other (linear in the rules, where pairs would be quadratic).
    """
    k = 0
    while k < min(len(lr), len(rr)):
        if not _same_matcher(lr[k], rr[k]):
            one, other = solver.find([ls[k]], [rs[k]]), solver.find([rs[k]], [ls[k]])
            if one.trace is not None or other.trace is not None or not (one.exact and other.exact):
                break
        k += 1
    return k


def _fail(env: str, trace: Trace, a: Decision, b: Decision, how: str) -> Equivalence:
    return Equivalence(
        env,
        Verdict.FAIL,
        f"decisions differ ({how}, re-checked by the reference evaluator)",
        trace,
        a,
        b,
    )


def prove_equivalent(
    original: rm.RulesFile,
    imported: rm.RulesFile,
    env: str,
    *,
    renamed: Mapping[str, str] | None = None,
    seed: int = DEFAULT_SEED,
) -> Equivalence:
    """Whether ``imported`` decides every trace of ``env`` as ``original`` does."""
    names = dict(renamed or {})
    left, right = Evaluator(original, env), Evaluator(imported, env)
    lrules = isinstance(left.sampler, rm.RulesBasedSamplerConfig)
    rrules = isinstance(right.sampler, rm.RulesBasedSamplerConfig)
    if not lrules or not rrules:
        if lrules == rrules and _settings(left.sampler) == _settings(right.sampler):
            return Equivalence(
                env, Verdict.PASS, f"proven: the same {left.sampler.KIND} with the same settings"
            )
        return Equivalence(
            env,
            Verdict.FAIL,
            f"different samplers: {left.sampler.KIND} against {right.sampler.KIND}",
        )
    if bool(getattr(left.sampler, "check_nested_fields", False)) != bool(
        getattr(right.sampler, "check_nested_fields", False)
    ):
        return Equivalence(env, Verdict.FAIL, "CheckNestedFields differs")
    lr = [r for r, _ in left.compiled_rules]
    rr = [r for r, _ in right.compiled_rules]
    ls, rs = rule_shapes(left), rule_shapes(right)
    nested = bool(getattr(left.sampler, "check_nested_fields", False))
    solver = Solver([*ls, *rs], nested=nested)
    k = _alike_prefix(solver, lr, rr, ls, rs)
    exact = True
    pairs = 0
    for i in [*range(len(lr)), None]:
        for j in [*range(len(rr)), None]:
            same_prefix = (i is not None and i < k) or (j is not None and j < k)
            if same_prefix and i != j:
                continue  # impossible: both first-match the same rule of the shared prefix
            left_rule = lr[i] if i is not None else None
            if not _differs(left_rule, rr[j] if j is not None else None, names):
                continue
            pairs += 1
            out = solver.find(_pick(ls, i) + _pick(rs, j), _before(ls, i) + _before(rs, j))
            exact = exact and out.exact
            if out.trace is not None:
                a, b = left.decide(out.trace), right.decide(out.trace)
                if not same_decision(a, b, names):
                    return _fail(env, out.trace, a, b, "constructed by the decision procedure")
                exact = False  # solver and evaluator disagree: never a proof
    if exact:
        return Equivalence(
            env,
            Verdict.PASS,
            f"proven for all traces ({len(lr)} rules against {len(rr)}, the first {k} matching "
            f"alike; {pairs} pair(s) of differing outcomes shown impossible)",
        )
    for trace in solver.random_traces(seed, RANDOM_TRIES):
        a, b = left.decide(trace), right.decide(trace)
        if not same_decision(a, b, names):
            return _fail(env, trace, a, b, f"found by random search, seed {seed}")
    return Equivalence(
        env,
        Verdict.UNKNOWN,
        f"not decided (a condition is outside the decided fragment: regex, contains, mixed "
        f"value types or nested fields); random search with seed {seed} found no "
        f"difference in {RANDOM_TRIES} traces",
    )


def _pick(shapes: list[Shape], i: int | None) -> list[Shape]:
    return [] if i is None else [shapes[i]]


def _before(shapes: list[Shape], i: int | None) -> list[Shape]:
    return list(shapes) if i is None else list(shapes[:i])


def corpus_differences(
    original: rm.RulesFile,
    imported: rm.RulesFile,
    env: str,
    corpus: Corpus,
    *,
    renamed: Mapping[str, str] | None = None,
) -> tuple[int, list[tuple[str, Decision, Decision]]]:
    """Replay equality: both files replayed on ``corpus`` (the vectorised evaluator), and the
    traces whose decisions differ, by trace id."""
    from pytest_nectar.refinery.vector import evaluate_corpus

    names = dict(renamed or {})
    left = evaluate_corpus(original, corpus, env)
    right = evaluate_corpus(imported, corpus, env)
    differ: list[tuple[str, Decision, Decision]] = []
    for i in range(len(left)):
        a, b = left.decision(i), right.decision(i)
        if not same_decision(a, b, names):
            differ.append((left.trace_ids[i], a, b))
    return len(left), differ
