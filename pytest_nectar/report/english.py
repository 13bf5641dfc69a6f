"""Plain-English meanings of match expressions and Refinery rules, for reports.

Generated from the expression itself, never from the rule's description, so the sentence
can not drift from what is evaluated.  Trace scope is phrased "any span has ...", because a
trace-scope condition holds when one span satisfies it (a negative operator included: "any
span has X other than 5"); span scope is "one span where ... and ...", because every
condition must hold on the same span; ``root.`` fields read the root span only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from pytest_nectar.policy.model import (
    And,
    Condition,
    Duration,
    Expr,
    FieldRef,
    HasRootSpan,
    ListLiteral,
    Literal,
    MatchAll,
    Not,
    Or,
    SpanScope,
    infer_datatype,
)
from pytest_nectar.refinery import rules_model as rm

__all__ = ["describe_expr", "describe_refinery_rule", "describe_value"]

#: Friendly field names; any other field is shown as written.
_FIELD_WORDS: Final = {
    "http.status": "HTTP status",
    "http.response.status_code": "HTTP status",
    "http.status_code": "HTTP status",
    "duration": "duration",
    "duration_ms": "duration (ms)",
    "service.name": "service",
    "http.route": "HTTP route",
    "error": "error",
}
_DESCENDANTS: Final = ("descendants", "?.NUM_DESCENDANTS")

#: operator -> (phrase before the value, phrase after it), for "any span has F ..." and for
#: "F is ..." (inside one span).
_HAS: Final[dict[str, tuple[str, str]]] = {
    "=": ("", ""),
    "!=": ("other than ", ""),
    ">": ("above ", ""),
    ">=": ("", " or more"),
    "<": ("below ", ""),
    "<=": ("", " or less"),
    "starts-with": ("starting with ", ""),
    "contains": ("containing ", ""),
    "does-not-contain": ("not containing ", ""),
    "matches": ("matching the regular expression ", ""),
    "in": ("one of ", ""),
    "not-in": ("none of ", ""),
}
_COUNT: Final = {
    "=": "exactly ",
    "!=": "other than ",
    ">": "more than ",
    ">=": "at least ",
    "<": "fewer than ",
    "<=": "at most ",
}
_IS: Final[dict[str, tuple[str, str]]] = {
    "=": ("is ", ""),
    "!=": ("is not ", ""),
    ">": ("is above ", ""),
    ">=": ("is ", " or more"),
    "<": ("is below ", ""),
    "<=": ("is ", " or less"),
    "starts-with": ("starts with ", ""),
    "contains": ("contains ", ""),
    "does-not-contain": ("does not contain ", ""),
    "matches": ("matches the regular expression ", ""),
    "in": ("is one of ", ""),
    "not-in": ("is none of ", ""),
}


def describe_value(value: object) -> str:
    """A literal as a reader expects it: strings quoted, durations as written."""
    if isinstance(value, ListLiteral):
        return ", ".join(describe_value(i) for i in value.items)
    if isinstance(value, Literal):
        value = value.value
    if isinstance(value, tuple | list):
        return ", ".join(describe_value(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Duration):
        return value.go_string()
    if isinstance(value, str):
        return '"' + value.replace('"', '\\"') + '"'
    if isinstance(value, float) and value.is_integer():
        return str(int(value)) if abs(value) < 1e15 else repr(value)
    return str(value)


def _field_words(names: Sequence[str]) -> tuple[str, bool]:
    """How to name the field(s), and whether they are read on the root span only."""
    roots = [n.startswith("root.") for n in names]
    bare = [n.removeprefix("root.") for n in names]
    words = [_FIELD_WORDS.get(n, n) for n in bare]
    unique = list(dict.fromkeys(words))
    text = unique[0] if len(unique) == 1 else "the first present of " + ", ".join(unique)
    return text, all(roots)


def _condition(names: Sequence[str], op: str, value: object, note: str, in_span: bool) -> str:
    shown = describe_value(value)
    if any(n.removeprefix("root.") in _DESCENDANTS for n in names) and op in _COUNT:
        return f"the trace has {_COUNT[op]}{shown} spans, events and links{note}"
    field, root = _field_words(names)
    if in_span and not root:
        if op in ("exists", "not-exists"):
            return f"{field} is {'set' if op == 'exists' else 'not set'}{note}"
        before, after = _IS.get(op, (op + " ", ""))
        return f"{field} {before}{shown}{after}{note}"
    if op == "exists":
        body = f"has {field}"
    elif op == "not-exists":
        body = f"has no {field}"
    else:
        before, after = _HAS.get(op, (op + " ", ""))
        body = f"has {field} {before}{shown}{after}"
    return ("the root span " if root else "any span ") + body + note


def _note(datatype: str | None, inferred: str | None) -> str:
    if datatype == inferred:
        return ""
    return f" (compared as {datatype})" if datatype else " (compared untyped)"


def _model_condition(cond: Condition, in_span: bool) -> str:
    inferred = infer_datatype(cond.operator, cond.value)
    note = _note(
        cond.datatype.value if cond.datatype else None, inferred.value if inferred else None
    )
    return _condition(_written_names(cond.field), cond.operator.value, cond.value, note, in_span)


def _written_names(ref: FieldRef) -> list[str]:
    return [part.text for part in ref.parts]


def _expr(expr: Expr, in_span: bool) -> str:
    if isinstance(expr, Condition):
        return _model_condition(expr, in_span)
    if isinstance(expr, HasRootSpan):
        return "the trace has a root span" if expr.value else "the trace has no root span"
    if isinstance(expr, MatchAll):
        return "always"
    if isinstance(expr, Not):
        return "not (" + _expr(expr.operand, in_span) + ")"
    if isinstance(expr, SpanScope):
        return "one span where " + _expr(expr.body, True)
    if isinstance(expr, Or) and expr.label is not None:
        # the default error criteria: named, not spelled out (the README has the table)
        return "it is an error by the default error criteria (OpenTelemetry's conventions)"
    joiner = " or " if isinstance(expr, Or) else " and "
    parts = []
    for op in expr.operands:
        text = _expr(op, in_span)
        if isinstance(op, And | Or) and type(op) is not type(expr):
            text = f"({text})"
        parts.append(text)
    return joiner.join(parts)


def describe_expr(expr: Expr) -> str:
    """``traces where any span has HTTP status 500 or more`` and the like."""
    if isinstance(expr, MatchAll):
        return "every trace (catch-all)"
    if isinstance(expr, SpanScope):
        return "traces with one span where " + _expr(expr.body, True)
    return "traces where " + _expr(expr, False)


def _refinery_condition(cond: rm.Condition, in_span: bool) -> str:
    if cond.operator == "has-root-span":
        return "the trace has a root span" if cond.value is True else "the trace has no root span"
    op = cond.operator or "?"
    return _condition(cond.field_names, op, cond.value, "", in_span)


def describe_refinery_rule(rule: rm.Rule) -> str:
    """The meaning of a Refinery rule's conditions (what the rules file says, as deployed)."""
    if not rule.conditions:
        return "every trace (catch-all)"
    if rule.scope == "span":
        parts = [_refinery_condition(c, True) for c in rule.conditions]
        return "traces with one span where " + " and ".join(parts)
    return "traces where " + " and ".join(_refinery_condition(c, False) for c in rule.conditions)
