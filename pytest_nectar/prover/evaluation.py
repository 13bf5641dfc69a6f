"""The whole evaluation of one trace, as text: each rule in order, each condition, each span.

What ``nectar decide --explain`` prints, like an evaluation trace in policy engines: Refinery
tries the rules in order and the first that matches decides.  For every rule tried this
shows each condition with the value every span had and whether it met it (trace scope: a
condition holds if one span meets it; span scope: one span must meet all), the rule's
outcome, and the decision.  Values are read with the reference evaluator's own field
lookup (``extract_value``, each condition's matcher), and the rule found to match is checked
against :meth:`Evaluator.decide`, so the explanation cannot disagree with the verdict.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from pytest_nectar.prover.witness import describe_condition, describe_decision
from pytest_nectar.refinery.conditions import CompiledCondition
from pytest_nectar.refinery.reference import Evaluator, extract_value
from pytest_nectar.trace import Span, Trace

__all__ = ["MAX_SPANS_SHOWN", "explain_evaluation", "explain_rule"]

#: Spans listed per condition; the rest are counted (the verdict still reads them all).
MAX_SPANS_SHOWN = 20


def _show(value: object, exists: bool) -> str:
    if not exists:
        return "<missing>"
    if isinstance(value, str | bool | int | float) or value is None:
        return json.dumps(value)
    return repr(value)


def _word(met: bool) -> str:
    return "true" if met else "false"


def _trace_scope(
    trace: Trace, conds: Sequence[CompiledCondition], nested: bool, root: Span | None
) -> tuple[bool, list[str]]:
    lines: list[str] = []
    matched = True
    for cc in conds:
        text = describe_condition(cc)
        if cc.is_has_root_span:
            ok = (root is not None) == cc.root_span_wanted
            has = "has" if root is not None else "has no"
            lines.append(f"  {text}: the trace {has} root span -> {_word(ok)}")
            matched = matched and ok
            if not ok:
                break
            continue
        seen: list[str] = []
        ok = False
        for i, span in enumerate(trace.spans):
            value, exists, only_root = extract_value(trace, span, cc, nested, root)
            met = cc.evaluate(value, exists)
            where = (
                "the trace"
                if cc.computed_descendants
                else ("root span" if only_root else f"span {i}")
            )
            seen.append(f"    {where}: {_show(value, exists)} -> {_word(met)}")
            if met or only_root:
                ok = met
                break
        shown = seen[:MAX_SPANS_SHOWN]
        if len(seen) > MAX_SPANS_SHOWN:
            shown.append(f"    ... {len(seen) - MAX_SPANS_SHOWN} more spans")
        lines.append(f"  {text}: {'met' if ok else 'not met'}")
        lines.extend(shown)
        if not ok:
            matched = False
            break  # Refinery stops at the first condition no span meets
    return matched, lines


def _span_scope(
    trace: Trace, conds: Sequence[CompiledCondition], nested: bool, root: Span | None
) -> tuple[bool, list[str]]:
    lines: list[str] = []
    for i, span in enumerate(trace.spans):
        parts = []
        ok = True
        for cc in conds:
            value, exists, _ = extract_value(trace, span, cc, nested, root)
            met = cc.evaluate(value, exists)
            parts.append(f"{describe_condition(cc)}: {_show(value, exists)} -> {_word(met)}")
            if not met:
                ok = False
                break
        if i < MAX_SPANS_SHOWN:
            lines.append(f"  span {i}: " + "; ".join(parts))
        if ok:
            return True, lines
    if len(trace.spans) > MAX_SPANS_SHOWN:
        lines.append(f"  ... {len(trace.spans) - MAX_SPANS_SHOWN} more spans")
    return False, lines


def explain_rule(evaluator: Evaluator, trace: Trace, index: int) -> tuple[bool, list[str]]:
    """Whether compiled rule ``index`` matches ``trace``, and why, line by line."""
    rule, conds = evaluator.compiled_rules[index]
    total = len(evaluator.compiled_rules)
    scope = "span" if rule.scope == "span" else "trace"
    head = f"rule {index + 1} of {total} {rule.name!r} ({scope} scope)"
    if not conds:
        return True, [f"{head}: matches (no conditions: every trace)"]
    nested = bool(getattr(evaluator.sampler, "check_nested_fields", False))
    root = trace.root
    explain = _span_scope if scope == "span" else _trace_scope
    matched, lines = explain(trace, conds, nested, root)
    return matched, [f"{head}: {'matches' if matched else 'no match'}", *lines]


def explain_evaluation(evaluator: Evaluator, trace: Trace) -> list[str]:
    """Every rule Refinery tries on ``trace`` until one matches, then the decision."""
    roots = [i for i, s in enumerate(trace.spans) if s.is_root]
    where = f"root span {roots[-1]}" if roots else "no root span"
    lines = [f"trace {trace.trace_id or '(no id)'}: {len(trace.spans)} spans, {where}"]
    decision = evaluator.decide(trace)
    if not evaluator.compiled_rules and decision.rule_index is None:
        kind = getattr(evaluator.sampler, "KIND", "sampler")
        lines.append(f"{kind}: not a rules-based sampler, it decides every trace")
    found = None
    for index in range(len(evaluator.compiled_rules)):
        matched, why = explain_rule(evaluator, trace, index)
        lines.extend(why)
        if matched:
            found = index
            break
    if found != decision.rule_index:  # the explanation must agree with the verdict
        raise AssertionError(f"explanation found rule {found}, Refinery {decision.rule_index}")
    if found is None and evaluator.compiled_rules:
        lines.append("no rule matched: Refinery keeps the trace (rate 1)")
    lines.append(f"decision: {describe_decision(decision)}; reason: {decision.reason}")
    return lines
