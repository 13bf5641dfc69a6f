"""Corpus lints (warnings): unreachable rules, unknown fields, mixed types, negative operators.

All read the shared decisions or the corpus columns; none re-evaluates the corpus.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from pytest_nectar.compiler.compile import CATCH_ALL_NAME
from pytest_nectar.prover.corpus_proofs import CorpusContext
from pytest_nectar.prover.properties import PropertyResult, Verdict
from pytest_nectar.prover.witness import describe_condition
from pytest_nectar.refinery.conditions import NUM_DESCENDANTS, CompiledCondition
from pytest_nectar.refinery.metadata import DERIVED_META
from pytest_nectar.refinery.reference import Evaluator
from pytest_nectar.refinery.vector_conditions import column_kinds

__all__ = [
    "check_mixed_types",
    "check_negative_trace_scope",
    "check_unknown_fields",
    "check_unreachable",
]

_NEGATIVE = frozenset({"!=", "does-not-contain", "not-exists", "not-in"})
_VALUE_KINDS = ("int", "float", "string", "bool")
_TYPELESS = frozenset({"exists", "not-exists", "has-root-span"})


def _conditions(evaluator: Evaluator) -> Iterator[tuple[str, str, CompiledCondition]]:
    for rule, conds in evaluator.compiled_rules:
        for cc in conds or ():
            yield rule.name, rule.scope or "trace", cc


def _warn(pid: str, items: list[str], what: str, ok: str) -> PropertyResult:
    if not items:
        return PropertyResult(pid, Verdict.PASS, ok, severity="warning")
    return PropertyResult(
        pid,
        Verdict.WARN,
        f"{len(items)} {what}: " + "; ".join(items),
        total_failing=len(items),
        figures={"items": items},
        severity="warning",
    )


def check_unreachable(ctx: CorpusContext) -> PropertyResult:
    """Rules that decide no corpus trace (the compiler's explicit catch-all is exempt)."""
    rules = ctx.evaluator.compiled_rules
    index = ctx.decisions.rule_index
    counts = np.bincount(index[index >= 0], minlength=len(rules))
    items = [
        repr(rule.name)
        for i, (rule, _) in enumerate(rules)
        if counts[i] == 0 and rule.name != CATCH_ALL_NAME
    ]
    return _warn(
        "unreachable-rules",
        items,
        "rules decide no corpus trace",
        "every rule decides some corpus trace",
    )


def check_unknown_fields(ctx: CorpusContext) -> PropertyResult:
    """Conditions none of whose fields occurs in the corpus (typos, or missing telemetry)."""
    columns = ctx.corpus.columns
    items: list[str] = []
    seen: set[tuple[str, ...]] = set()
    for name, _, cc in _conditions(ctx.evaluator):
        if cc.computed_descendants or cc.is_has_root_span or not cc.fields:
            continue
        keys = tuple(k for k, _, _ in cc.lookups)
        if keys in seen or any(k in columns or k in DERIVED_META for k in keys):
            continue
        seen.add(keys)
        items.append(f"{' / '.join(cc.fields)} (rule {name!r})")
    return _warn(
        "unknown-fields",
        items,
        "fields read by conditions never occur in the corpus",
        "every field read by a condition occurs in the corpus",
    )


def check_mixed_types(ctx: CorpusContext) -> PropertyResult:
    """Fields read by conditions without a Datatype whose corpus values have several types."""
    columns = ctx.corpus.columns
    # A condition with a Datatype converts every value before comparing (Refinery's
    # Matches), and existence tests compare nothing: only untyped comparisons can be
    # surprised by a second type.  A field read only by those is no hazard.
    keys = sorted(
        {
            k
            for _, _, cc in _conditions(ctx.evaluator)
            if not cc.condition.datatype and cc.operator not in _TYPELESS
            for k, _, _ in cc.lookups
            if k != NUM_DESCENDANTS
        }
    )
    items = []
    for key in keys:
        column = columns.get(key)
        # One kind (the usual case) is an O(n) check; only mixed columns are counted.
        if column is None or len(column_kinds(column)) < 2:
            continue
        counts = {k: v for k, v in column.kind_counts().items() if k in _VALUE_KINDS}
        if len(counts) > 1:
            items.append(
                key + " (" + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) + ")"
            )
    return _warn(
        "mixed-types",
        items,
        "fields have mixed value types (set a Datatype so every type compares)",
        "fields read by conditions without a Datatype have one value type",
    )


def check_negative_trace_scope(evaluator: Evaluator) -> PropertyResult:
    """Negative operators in trace scope match when any ONE span lacks or differs."""
    items = [
        f"rule {name!r}: {describe_condition(cc)}"
        for name, scope, cc in _conditions(evaluator)
        if scope in ("", "trace") and cc.operator in _NEGATIVE
    ]
    return _warn(
        "negative-trace-scope",
        items,
        "negative conditions in trace scope hold if any single span satisfies them",
        "no negative operator in a trace-scope rule",
    )
