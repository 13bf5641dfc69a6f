"""Which rule decides a trace, for many rules at once: counterexample-guided, near-linear.

The all-traces lints ask, per rule ``i``, "is there a trace that ``extra`` shapes match and
whose *first* matching rule is ``i``?" (``extra`` is empty for shadowing, a probe for error
preservation).  Asked directly, the query carries every earlier rule as a negative
constraint: ``i`` negatives, so n^2 conditions over all rules, and each negative trace-scope
rule with several conditions doubles the solver's branches (capped at 4096, then
undecided).  At 1,000 rules that took minutes; at 10,000 it did not finish (issue 19).

Here each query starts with *no* negative rule.  The solver's trace for every open query is
decided in one batch by the vectorised evaluator on all the rules (Refinery's first match,
held to the reference evaluator by its differential tests); when an earlier rule ``k``
decides it, ``k`` joins that query's negatives and the query is asked again.  So:

* a trace is only reported when the evaluator confirms that rule ``i`` decides it;
* "no trace" is a proof: fewer negatives make a weaker question, so no trace with some of
  the earlier rules excluded means none with all of them excluded (exact when the solver
  was exact for the conditions it was asked about and hit no cap);
* a query only grows by the rules that actually catch its candidates, usually a handful,
  and each is solved over the domains of its own conditions, not of the whole policy.

Where this cannot decide (a condition outside the decided fragment, a cap, a candidate the
evaluator decides by a *later* rule, i.e. a solver/evaluator disagreement), the answer is
``None`` and the caller asks the original full query, so verdicts are those of the full
procedure wherever it decided (tests/test_prover_reach.py checks this differentially).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np

from pytest_nectar.corpus.from_traces import corpus_from_traces
from pytest_nectar.prover.domains import FieldDomain
from pytest_nectar.prover.solver import Shape, Solver
from pytest_nectar.refinery.reference import Evaluator
from pytest_nectar.refinery.rules_model import RulesFile
from pytest_nectar.refinery.vector import rule_matches
from pytest_nectar.trace import Trace

__all__ = ["Reach", "first_rules", "reach_each"]

#: Negatives one query may collect before it is left to the full procedure.
_MAX_NEGATIVES: Final = 64
_INT64: Final = (-(2**63), 2**63 - 1)


@dataclass(frozen=True, slots=True)
class Reach:
    """Rule ``index``'s answer: a trace it decides, or ``None`` (``exact``: a proof)."""

    index: int
    trace: Trace | None
    exact: bool


def _fits(trace: Trace) -> bool:
    return all(
        not isinstance(v, int) or isinstance(v, bool) or _INT64[0] <= v <= _INT64[1]
        for span in trace.spans
        for v in span.data.values()
    )


def first_rules(
    rules_file: RulesFile, env: str | None, traces: Sequence[Trace]
) -> list[int | None]:
    """Refinery's first matching rule of each trace (None: no rule matches)."""
    evaluator = Evaluator(rules_file, env)
    out: list[int | None] = [None] * len(traces)
    batch = [i for i, t in enumerate(traces) if _fits(t)]
    for i in set(range(len(traces))) - set(batch):  # ints the columnar corpus cannot hold
        out[i] = evaluator.decide(traces[i]).rule_index
    if not batch:
        return out
    corpus = corpus_from_traces([traces[i] for i in batch], digest="reach")
    matches = rule_matches(rules_file, corpus, env, threads=1)
    first = np.full(len(batch), -1, dtype=np.int64)
    open_ = np.ones(len(batch), dtype=np.bool_)
    for k, matched in enumerate(matches):
        won = matched & open_
        if won.any():
            first[won] = k
            open_ &= ~won
            if not open_.any():
                break
    for pos, i in enumerate(batch):
        out[i] = None if first[pos] < 0 else int(first[pos])
    return out


def reach_each(
    rules_file: RulesFile,
    env: str | None,
    rules: Sequence[Shape],
    indices: Sequence[int],
    extra: Sequence[Shape] = (),
    *,
    nested: bool = False,
) -> dict[int, Reach | None]:
    """For each rule index: a trace ``extra`` and the rule match and that the rule decides.

    ``None`` for an index means "not decided here": ask the full query.
    """
    negatives: dict[int, list[int]] = {i: [] for i in indices}
    done: dict[int, Reach | None] = {}
    if nested:  # CheckNestedFields: the solver is never exact, the full query decides
        return dict.fromkeys(indices)
    domains: dict[tuple[object, ...], FieldDomain] = {}  # the conditions live till the end
    while negatives:
        found: dict[int, Trace] = {}
        for i, negs in negatives.items():
            shapes = [*extra, rules[i]]
            excluded = [rules[k] for k in negs]
            solver = Solver([*shapes, *excluded], domain_cache=domains)
            out = solver.find(shapes, excluded)
            if out.trace is not None:
                found[i] = out.trace
            elif out.exact:
                done[i] = Reach(i, None, True)
            else:
                done[i] = None
        for i in done:
            negatives.pop(i, None)
        if not found:
            break
        order = list(found)
        firsts = first_rules(rules_file, env, [found[i] for i in order])
        for i, first in zip(order, firsts, strict=True):
            if first == i:
                done[i] = Reach(i, found[i], True)
            elif first is None or first > i or first in negatives[i]:
                done[i] = None  # the solver and the evaluator disagree: the full query
            elif len(negatives[i]) >= _MAX_NEGATIVES:
                done[i] = None
            else:
                negatives[i].append(first)
                continue
            del negatives[i]
    return done
