"""``equivalence``: the compiled rules decide every corpus trace like the policy interpreter.

Read off the shared corpus decisions (no second Refinery evaluation); the policy interpreter
(:mod:`pytest_nectar.policy.interpreter`) decides each trace once.  It is pure Python, so a very
large corpus is checked on an even sample of :data:`EQUIVALENCE_LIMIT` traces (the figures
say how many).  A mismatch is a compiler defect, so it is a failure, never a warning.
"""

from __future__ import annotations

from typing import Any, Final

from pytest_nectar.prover.corpus_proofs import CorpusContext
from pytest_nectar.prover.properties import PropertyResult, Verdict

__all__ = ["EQUIVALENCE_LIMIT", "check_equivalence"]

#: Traces decided twice at most (an even sample of larger corpora).
EQUIVALENCE_LIMIT: Final = 20_000
_SHOWN: Final = 10


def check_equivalence(ctx: CorpusContext) -> PropertyResult:
    """Compare the compiled decisions with the policy interpreter's, trace by trace."""
    from pytest_nectar.policy.interpreter import PolicyEvaluator

    pid = "equivalence"
    target = ctx.target
    compiled = target.compiled
    if target.policy is None or compiled is None:
        return PropertyResult(pid, Verdict.UNKNOWN, "a rules file has no policy to compare with")
    decisions, corpus = ctx.decisions, ctx.corpus
    reached: dict[str, int] = {}
    for totals in ctx.rule_totals:
        origin = compiled.origin(totals.rule_index)
        if origin is not None and totals.traces:
            reached[origin] = reached.get(origin, 0) + totals.traces
    interpreter = PolicyEvaluator(target.policy)
    total = corpus.n_traces
    step = max(1, -(-total // EQUIVALENCE_LIMIT))
    indices = range(0, total, step)
    mismatches: list[dict[str, Any]] = []
    count = 0
    for index in indices:
        trace = corpus.trace(index)
        want = interpreter.decide(trace)
        got = decisions.decision(index)
        origin = compiled.origin(got.rule_index)
        if (origin, got.rate, got.keep, got.key) == (want.rule, want.rate, want.keep, want.key):
            continue
        count += 1
        if len(mismatches) < _SHOWN:
            mismatches.append(
                {
                    "trace_id": trace.trace_id,
                    "policy": f"rule {want.rule!r}: rate {want.rate}, keep {want.keep}, "
                    f"key {want.key!r}",
                    "compiled": f"rule {got.rule_name!r} (from {origin!r}): rate "
                    f"{got.rate}, keep {got.keep}, key {got.key!r}",
                }
            )
    figures = {
        "checked": len(indices),
        "total": total,
        "mismatch_count": count,
        "mismatches": mismatches,
        "reached": dict(sorted(reached.items())),
    }
    sample = "" if len(indices) == total else f" (an even sample of {total})"
    if count:
        return PropertyResult(
            pid,
            Verdict.FAIL,
            f"the compiled rules decide {count} of {len(indices)} corpus traces{sample} "
            "unlike the policy",
            total_failing=count,
            figures=figures,
        )
    return PropertyResult(
        pid,
        Verdict.PASS,
        f"the compiled rules decide all {len(indices)} corpus traces{sample} like the policy",
        figures=figures,
    )
