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
    """Rules that decide no corpus trace (the compiler's explicit catch-all is exempt).

    A policy rule that compiled to several Refinery rules (``a or b``, ``default_errors``)
    is one rule here: it is unreachable when none of its Refinery rules decides a trace.
    """
    rules = ctx.evaluator.compiled_rules
    index = ctx.decisions.rule_index
    counts = np.bincount(index[index >= 0], minlength=len(rules))
    compiled = ctx.target.compiled
    origins = compiled.origins if compiled is not None else ()
    decided: dict[str, int] = {}
    for i, (rule, _) in enumerate(rules):
        if rule.name == CATCH_ALL_NAME:
            continue
        origin = origins[i] if i < len(origins) and origins[i] is not None else rule.name
        decided[str(origin)] = decided.get(str(origin), 0) + int(counts[i])
    items = [repr(name) for name, n in decided.items() if n == 0]
    return _warn(
        "unreachable-rules",
        items,
        "rules decide no corpus trace",
        "every rule decides some corpus trace",
    )


def check_unknown_fields(ctx: CorpusContext) -> PropertyResult:
    """Conditions none of whose fields anything is known to write: not in the corpus, not
    in OpenTelemetry's semantic conventions, not Refinery's own (typos), with suggestions."""
    from pytest_nectar.policy.known_fields import is_known, suggest

    columns = ctx.corpus.field_kinds
    items: list[str] = []
    seen: set[tuple[str, ...]] = set()
    for name, _, cc in _conditions(ctx.evaluator):
        if cc.computed_descendants or cc.is_has_root_span or not cc.fields:
            continue
        keys = tuple(k for k, _, _ in cc.lookups)
        if keys in seen or any(k in DERIVED_META or is_known(k, columns) for k in keys):
            continue
        seen.add(keys)
        close = suggest(cc.fields[0], columns)
        hint = f"; did you mean {' or '.join(close)}?" if close else ""
        items.append(f"{' / '.join(cc.fields)} (rule {name!r}{hint})")
    return _warn(
        "unknown-fields",
        items,
        "fields read by conditions are in neither the corpus, OpenTelemetry's semantic "
        "conventions nor Refinery's own fields",
        "every field read by a condition is in the corpus, the semantic conventions or "
        "Refinery's own fields",
    )


def check_mixed_types(ctx: CorpusContext) -> PropertyResult:
    """Fields read by conditions without a Datatype whose corpus values have several types."""
    fields = ctx.corpus.field_kinds
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
        counts = {k: v for k, v in fields.get(key, {}).items() if k in _VALUE_KINDS}
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
