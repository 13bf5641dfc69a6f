"""Witnesses: which rule decided a trace, and which span met which condition with what value.

Built from the reference evaluator's own field resolution (``extract_value`` and each
condition's matcher), only for the handful of traces a report shows.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from typing import Any

from pytest_nectar.prover.properties import Because, SpanMatch, Witness
from pytest_nectar.prover.target import Probe
from pytest_nectar.refinery.conditions import CompiledCondition
from pytest_nectar.refinery.reference import Decision, Evaluator, extract_value
from pytest_nectar.refinery.rules_model import RulesBasedSamplerConfig
from pytest_nectar.trace import Trace

__all__ = ["because_of", "describe_condition", "explain", "make_witness", "trace_spans"]


def describe_condition(cc: CompiledCondition) -> str:
    """A condition as one line, in Refinery's terms (``http.status_code >= 500 (int)``)."""
    c = cc.condition
    fields = ",".join(cc.fields) if cc.fields else "?"
    if cc.operator == "has-root-span":
        return f"has-root-span {c.value!r}"
    text = f"{fields} {cc.operator}"
    if c.value is not None:
        text += f" {list(c.value) if isinstance(c.value, tuple) else c.value!r}"
    if c.datatype:
        text += f" ({c.datatype})"
    return text


def explain(evaluator: Evaluator, trace: Trace, rule_index: int | None) -> tuple[SpanMatch, ...]:
    """Why rule ``rule_index`` matched ``trace``: per condition, the span and its value."""
    if rule_index is None:
        return ()
    rule, conds = evaluator.compiled_rules[rule_index]
    if not conds:
        return (SpanMatch("(no conditions: matches every trace)", None, None),)
    nested = bool(getattr(evaluator.sampler, "check_nested_fields", False))
    root = trace.root

    def value_on(i: int, cc: CompiledCondition) -> tuple[bool, object]:
        value, exists, _ = extract_value(trace, trace.spans[i], cc, nested, root)
        return cc.evaluate(value, exists), (value if exists else "<missing>")

    out: list[SpanMatch] = []
    if rule.scope == "span":
        for i in range(len(trace.spans)):
            seen = [value_on(i, cc) for cc in conds]
            if all(ok for ok, _ in seen):
                return tuple(
                    SpanMatch(describe_condition(cc), i, v)
                    for cc, (_, v) in zip(conds, seen, strict=True)
                )
        return ()
    for cc in conds:
        text = describe_condition(cc)
        if cc.is_has_root_span:
            out.append(SpanMatch(text, None, root is not None))
        elif cc.computed_descendants:
            out.append(SpanMatch(text, None, len(trace.spans)))
        else:
            root_only = all(is_root for _, is_root, _ in cc.lookups)
            for i in range(len(trace.spans)):
                ok, v = value_on(i, cc)
                if ok:
                    at = trace.spans.index(root) if root_only and root is not None else i
                    out.append(SpanMatch(text, at, v))
                    break
    return tuple(out)


def because_of(
    criteria: Sequence[tuple[str, Probe]], trace: Trace, what: str = "error"
) -> tuple[Because, ...]:
    """Every named criterion ``trace`` meets, with the span and value that meet it."""
    out = []
    for name, probe in criteria:
        index = probe.evaluator.decide(trace).rule_index
        if index is not None:
            out.append(Because(name, explain(probe.evaluator, trace, index), what))
    return tuple(out)


def describe_decision(d: Decision) -> str:
    if d.keep is True:
        return f"keep (rate {d.rate})"
    if d.keep is False:
        return f"drop (rate {d.rate})"
    return f"keep with probability {d.keep_probability:.4g} (rate {d.rate})"


def decide_command(
    rules_path: str | None,
    env: str | None,
    corpus: str | Sequence[str] | None,
    trace_id: str,
    trace_file: str | None = None,
) -> str | None:
    """The ``nectar decide`` command that replays this decision, runnable as printed.

    A corpus trace is named by ``--corpus`` (every path the corpus was read from) and
    ``--trace-id``; a constructed trace by the file it was saved to (``trace_file``).
    None when there is nothing to name: no rules file, or a constructed trace not saved.
    """
    paths = [corpus] if isinstance(corpus, str) else list(corpus or ())
    if rules_path is None or (not paths and trace_file is None):
        return None
    parts = ["nectar", "decide", rules_path]
    if trace_file is not None:
        parts.append(trace_file)
    else:
        for path in paths:
            parts += ["--corpus", path]
        parts += ["--trace-id", trace_id]
    if env is not None:
        parts += ["--env", env]
    return shlex.join(parts)


def make_witness(
    evaluator: Evaluator,
    trace: Trace,
    decision: Decision,
    *,
    command: str | None,
    spans: bool = False,
    note: str = "",
    because: tuple[Because, ...] = (),
) -> Witness:
    """A witness for one trace with its decision (``spans``: include the trace itself)."""
    return Witness(
        trace_id=trace.trace_id,
        rule=decider(evaluator, decision),
        rule_index=decision.rule_index,
        decision=describe_decision(decision),
        matches=explain(evaluator, trace, decision.rule_index),
        command=command,
        spans=trace_spans(trace) if spans else None,
        note=note,
        because=because,
    )


def decider(evaluator: Evaluator, decision: Decision) -> str | None:
    """The deciding rule's name; an environment sampler decides without a rule."""
    if decision.rule_name is None and not isinstance(evaluator.sampler, RulesBasedSamplerConfig):
        return f"the environment's {evaluator.sampler.KIND}"
    return decision.rule_name


def trace_spans(trace: Trace) -> tuple[dict[str, Any], ...]:
    """The trace in ``nectar decide``'s cases-file shape (``{"root", "data"}`` per span)."""
    return tuple({"root": s.is_root, "data": dict(s.data)} for s in trace.spans)


def first_ids(ids: Sequence[str], limit: int) -> list[str]:
    return list(ids[:limit])
