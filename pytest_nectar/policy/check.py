"""Semantic validation of a parsed policy -> located :class:`Diagnostic` errors and warnings.

The rule of the language: a match expression means exactly the Refinery conditions it
compiles to, and whatever cannot be compiled exactly is an error, never an approximation.
:func:`normal_form` is that compilation's first step (shared with the compiler): it pushes
``not`` into the atoms where Refinery has an exact dual, distributes ``or`` into separate
clauses (one Refinery rule each) and checks that each clause has one scope.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Final

from pytest_nectar.errors import Diagnostic, PolicyError, Position
from pytest_nectar.policy.aliases import ALIASES
from pytest_nectar.policy.model import (
    SAMPLER_PARAMETERS,
    Action,
    And,
    AvgDynamic,
    Clause,
    Condition,
    Datatype,
    Deterministic,
    Duration,
    Dynamic,
    EnvironmentSampler,
    Expr,
    HasRootSpan,
    ListLiteral,
    Literal,
    MatchAll,
    Not,
    Operator,
    Or,
    ParamKind,
    Policy,
    Sample,
    Scope,
    SpanScope,
    Throughput,
    TotalThroughput,
    WindowedThroughput,
    conditions,
    sampler_word,
)
from pytest_nectar.policy.printer import format_match
from pytest_nectar.policy.slips import regex_hint
from pytest_nectar.refinery.regex import GoRegexError, compile_go_regex
from pytest_nectar.refinery.values import to_int

__all__ = ["MAX_CLAUSES", "check_policy", "normal_form", "validate_policy"]

#: A match expression may expand to at most this many Refinery rules.
MAX_CLAUSES: Final = 64

_EARLIER_RULE: Final = (
    "to act on traces where no span has it, add an earlier rule that matches it "
    "with the opposite action, and let this rule catch the rest"
)
_DUALS: Final = {
    Operator.EXISTS: Operator.NOT_EXISTS,
    Operator.CONTAINS: Operator.DOES_NOT_CONTAIN,
    Operator.IN: Operator.NOT_IN,
}
_DUALS.update({v: k for k, v in list(_DUALS.items())})
_STRING_DUALS: Final = {
    Operator.EQ: Operator.NE,
    Operator.LT: Operator.GE,
    Operator.GT: Operator.LE,
}
_STRING_DUALS.update({v: k for k, v in list(_STRING_DUALS.items())})
_ORDERING: Final = frozenset({Operator.GT, Operator.GE, Operator.LT, Operator.LE})
_GO_INT: Final = re.compile(r"[+-]?[0-9]+\Z")
_GO_BOOLS: Final = frozenset(
    {"1", "t", "T", "TRUE", "true", "True"} | {"0", "f", "F"} | {"FALSE", "false", "False"}
)
_INT64: Final = 2**63


def _spell(expr: Expr) -> str:
    return format_match(expr)


# --- normal form ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Group:
    """A span(...) group inside a trace-scope conjunction: one conjunction of atoms."""

    atoms: tuple[Condition | HasRootSpan, ...]
    position: Position


_Item = Condition | HasRootSpan | _Group


def _fail(what: str, position: Position, got: object, hint: str, code: str) -> PolicyError:
    return PolicyError(what, position=position, got=got, hint=hint, code=code)


def _negate_condition(cond: Condition, *, in_span: bool, original: Expr) -> Condition:
    if not in_span:
        raise _fail(
            "'not' around a trace-scope condition cannot be compiled exactly",
            original.position,
            _spell(original),
            "Refinery would need 'no span has it'; "
            + _EARLIER_RULE
            + "; to mean 'some span lacks it' write the negative operator "
            "(!=, does-not-contain, not in, not exists) or span(not ...)",
            "inexact-not",
        )
    op = cond.operator
    dual = _DUALS.get(op)
    if dual is None and cond.datatype is Datatype.STRING:
        dual = _STRING_DUALS.get(op)
    if dual is None:
        if op.is_comparison:
            kind = "untyped" if cond.datatype is None else cond.datatype.value
            why = (
                f"an {kind} comparison is false both ways for a span without the field "
                "(or with a value that does not convert)"
            )
            hint = "compare as string (as string) if that is meant, or " + _EARLIER_RULE
        else:
            why = f"Refinery has no opposite of {op.value}"
            hint = _EARLIER_RULE
        raise _fail(
            f"'not' cannot be compiled exactly here: {why}",
            original.position,
            _spell(original),
            hint,
            "inexact-not",
        )
    return replace(cond, operator=dual)


def _product(
    left: list[tuple[_Item, ...]], right: list[tuple[_Item, ...]], where: Position
) -> list[tuple[_Item, ...]]:
    if len(left) * len(right) > MAX_CLAUSES:
        raise _fail(
            "match expression expands to too many Refinery rules",
            where,
            len(left) * len(right),
            f"at most {MAX_CLAUSES}; factor the 'or's into separate rules",
            "too-many-clauses",
        )
    return [a + b for a in left for b in right]


def _dnf(expr: Expr, negate: bool, in_span: bool) -> list[tuple[_Item, ...]]:
    if isinstance(expr, MatchAll):
        if negate:
            raise _fail(
                "'not true' never matches, and Refinery cannot express a rule that never matches",
                expr.position,
                "not true",
                "delete the rule",
                "inexact-not",
            )
        return [()]
    if isinstance(expr, HasRootSpan):
        if in_span:
            raise _fail(
                "has_root never matches inside span(...)",
                expr.position,
                _spell(expr),
                "Refinery evaluates has-root-span only for a whole trace; move it out of span(...)",
                "has-root-in-span",
            )
        return [(HasRootSpan(expr.value != negate, expr.position),)]
    if isinstance(expr, Condition):
        if negate:
            return [(_negate_condition(expr, in_span=in_span, original=expr),)]
        return [(expr,)]
    if isinstance(expr, Not):
        try:
            return _dnf(expr.operand, not negate, in_span)
        except PolicyError as err:
            if err.diagnostic.code == "inexact-not" and not negate:
                # point at the 'not' the user wrote, and show the whole negated operand
                d = err.diagnostic
                raise _fail(d.what, expr.position, _spell(expr), d.hint, d.code) from None
            raise
    if isinstance(expr, SpanScope):
        if in_span:
            raise _fail(
                "span(...) cannot be nested",
                expr.position,
                _spell(expr),
                "remove the inner span(",
                "nested-span",
            )
        if negate:
            raise _fail(
                "'not' around span(...) cannot be compiled exactly",
                expr.position,
                _spell(expr),
                "Refinery would need 'no span has all of it'; " + _EARLIER_RULE,
                "inexact-not",
            )
        inner = _dnf(expr.body, False, True)
        groups: list[tuple[_Item, ...]] = []
        for conj in inner:
            atoms = tuple(a for a in conj if not isinstance(a, _Group))
            groups.append((_Group(atoms, expr.position),))
        return groups
    conjunctive = isinstance(expr, And) != negate
    parts = [_dnf(op, negate, in_span) for op in expr.operands]
    if conjunctive:
        result: list[tuple[_Item, ...]] = [()]
        for part in parts:
            result = _product(result, part, expr.position)
        return result
    out = [conj for part in parts for conj in part]
    if len(out) > MAX_CLAUSES:
        raise _fail(
            "match expression expands to too many Refinery rules",
            expr.position,
            len(out),
            f"at most {MAX_CLAUSES}; split it into separate rules",
            "too-many-clauses",
        )
    return out


def _clause(conj: tuple[_Item, ...], where: Position) -> Clause:
    trace_atoms = [i for i in conj if not isinstance(i, _Group)]
    groups = [i for i in conj if isinstance(i, _Group)]
    big = [g for g in groups if len(g.atoms) >= 2]
    if not big:
        atoms = trace_atoms + [a for g in groups for a in g.atoms]
        return Clause(Scope.TRACE, tuple(atoms), where)
    if len(big) == 1 and not trace_atoms and all(not g.atoms for g in groups if g is not big[0]):
        return Clause(Scope.SPAN, big[0].atoms, where)
    raise _fail(
        "span(...) with several conditions cannot be combined with conditions outside it",
        big[0].position,
        len(big[0].atoms),
        "a Refinery rule has one scope; move the other conditions inside span(...) if they "
        "must hold on the same span, or put them in a separate rule",
        "mixed-scope",
    )


def normal_form(expr: Expr) -> tuple[Clause, ...]:
    """The Refinery rule shapes ``expr`` compiles to, in order (see :class:`Clause`).

    Raises:
        PolicyError: the expression has no exact Refinery equivalent (located, with a hint).
    """
    return tuple(_clause(conj, expr.position) for conj in _dnf(expr, False, False))


# --- condition checks ------------------------------------------------------------------------


class _Findings:
    def __init__(self) -> None:
        self.items: list[Diagnostic] = []

    def add(
        self, severity: str, code: str, what: str, position: Position, got: object, hint: str = ""
    ) -> None:
        self.items.append(Diagnostic(severity, code, what, position=position, got=got, hint=hint))

    def error(self, code: str, what: str, position: Position, got: object, hint: str = "") -> None:
        self.add("error", code, what, position, got, hint)

    def warn(self, code: str, what: str, position: Position, got: object, hint: str = "") -> None:
        self.add("warning", code, what, position, got, hint)


def _go_float_ok(text: str) -> bool:
    t = text.strip()
    if t != text or "_" in text or not text:
        return False
    try:
        value = float(text)
    except ValueError:
        return False
    return not (math.isinf(value) and "inf" not in text.lower())


def _converts(lit: Literal, datatype: Datatype) -> tuple[bool, str]:
    """Whether Refinery's init-time conversion of ``Value`` succeeds, and a note if lossy."""
    v = lit.value
    if isinstance(v, Duration):
        v = v.milliseconds
    if datatype is Datatype.INT:
        if isinstance(v, bool):
            return False, ""
        if isinstance(v, float):
            return True, "" if v == int(v) else f"truncated to {int(v)}"
        if isinstance(v, str):
            ok = bool(_GO_INT.match(v)) and to_int(v) is not None
            return ok, ""
        return True, ""
    if datatype is Datatype.FLOAT:
        if isinstance(v, bool):
            return False, ""
        if isinstance(v, str):
            return _go_float_ok(v), ""
        return True, ""
    if datatype is Datatype.BOOL and isinstance(v, str) and v not in _GO_BOOLS:
        return True, "read as false"
    return True, ""


def _check_fields(cond: Condition, found: _Findings) -> None:
    names = cond.field.names
    for name in names:
        if name.removeprefix("root.") == "?.NUM_DESCENDANTS" and (
            len(names) > 1 or name.startswith("root.")
        ):
            found.error(
                "descendants",
                "the descendant count works only as a single field",
                cond.field.position,
                name,
                "Refinery computes ?.NUM_DESCENDANTS only for a lone Field; "
                "write descendants on its own",
            )


def _check_condition(cond: Condition, found: _Findings) -> None:
    _check_fields(cond, found)
    op, dt, value = cond.operator, cond.datatype, cond.value
    if op.is_string_match and dt is not None:
        found.warn(
            "datatype-ignored",
            f"Refinery ignores the datatype of {op.value}",
            cond.position,
            dt.value,
            "drop the 'as ...'",
        )
    if op is Operator.MATCHES and isinstance(value, Literal):
        pattern = str(value.value)
        try:
            # the evaluator's own compiler: accepted here iff Refinery's regexp.Compile accepts
            compile_go_regex(pattern)
        except GoRegexError as err:
            found.error(
                "regex",
                f"not a valid Go regexp: {err}",
                value.position,
                pattern,
                regex_hint(pattern) or "Refinery never matches an invalid pattern",
            )
    if op.is_comparison and isinstance(value, Literal) and dt is not None:
        if dt is Datatype.BOOL and op in _ORDERING:
            found.error(
                "datatype",
                f"'{op.value}' has no bool form in Refinery",
                cond.position,
                _spell(cond),
                "Refinery silently falls back to an untyped compare; use = or !=",
            )
            return
        ok, note = _converts(value, dt)
        if not ok:
            found.error(
                "datatype",
                f"value does not convert to {dt.value}",
                value.position,
                value.value if not isinstance(value.value, Duration) else value.value.go_string(),
                "Refinery would silently fall back to an untyped compare; "
                "fix the value or write 'as untyped'",
            )
        elif note:
            found.warn(
                "datatype", f"as {dt.value}, the value is {note}", value.position, value.value
            )
        if dt is Datatype.INT and cond.field.is_duration and not isinstance(value.value, Duration):
            found.warn(
                "duration-int",
                "duration_ms is a float; an int comparison truncates it",
                value.position,
                value.value,
                f"write a duration such as {value.value}ms",
            )
    if op.is_membership and isinstance(value, ListLiteral):
        _check_membership(cond, value, found)


def _check_membership(cond: Condition, value: ListLiteral, found: _Findings) -> None:
    dt = cond.datatype
    if not value.items:
        result = "never" if cond.operator is Operator.IN else "always"
        found.warn("empty-list", f"an empty list {result} matches", value.position, "[]")
        return
    kinds = {float if isinstance(i.value, Duration) else type(i.value) for i in value.items}
    if len(kinds) > 1:
        found.error(
            "list-type",
            "list elements must all have one type",
            value.position,
            sorted(k.__name__ for k in kinds),
            "Refinery rejects a Value list with mixed types (1 and 2.5 are int and float)",
        )
        return
    if dt is Datatype.BOOL or bool in kinds:
        found.error(
            "list-type",
            f"{cond.operator.value} cannot test true/false",
            value.position,
            _spell(cond),
            "Refinery never matches in/not-in on bools; write x = true",
        )
        return
    if dt is not None:
        for item in value.items:
            ok, _ = _converts(item, dt)
            if not ok:
                found.error(
                    "datatype",
                    f"list element does not convert to {dt.value}",
                    item.position,
                    item.value,
                    "Refinery silently drops it from the list",
                )


def _check_clause(clause: Clause, found: _Findings) -> None:
    has_root = any(isinstance(c, HasRootSpan) and c.value for c in clause.conditions)
    for cond in clause.conditions:
        if (
            isinstance(cond, Condition)
            and cond.operator is Operator.NOT_EXISTS
            and all(n.startswith("root.") for n in cond.field.names)
            and not has_root
        ):
            found.warn(
                "root-not-exists",
                "a root. field is skipped when the trace has no root span, "
                "so 'not exists' is then true",
                cond.position,
                _spell(cond),
                "add 'and has_root' if only traces with a root span are meant",
            )


def _check_expr(expr: Expr, found: _Findings) -> tuple[Clause, ...] | None:
    for cond in conditions(expr):
        _check_condition(cond, found)
    try:
        clauses = normal_form(expr)
    except PolicyError as err:
        found.items.append(err.diagnostic)
        return None
    for clause in clauses:
        _check_clause(clause, found)
    return clauses


def _parenthesized(expr: Expr, lines: Sequence[str]) -> bool:
    pos = expr.position
    if not 1 <= pos.line <= len(lines):
        return True  # no source to tell: assume the writer meant it
    before = lines[pos.line - 1][: max(pos.column - 1, 0)].rstrip()
    return before.endswith("(")


def _grouped(expr: Expr) -> str:
    if isinstance(expr, Or):
        return " or ".join(
            f"({_grouped(op)})" if isinstance(op, And) else _grouped(op) for op in expr.operands
        )
    if isinstance(expr, And):
        return " and ".join(
            f"({_grouped(op)})" if isinstance(op, Or) else _grouped(op) for op in expr.operands
        )
    if isinstance(expr, Not):
        return "not " + (
            f"({_grouped(expr.operand)})"
            if isinstance(expr.operand, And | Or)
            else _grouped(expr.operand)
        )
    if isinstance(expr, SpanScope):
        return f"span({_grouped(expr.body)})"
    return format_match(expr)


def mixed_grouping(expr: Expr, lines: Sequence[str]) -> list[tuple[Position, str]]:
    """Each ``a or b and c`` written without parentheses: where, and how it is grouped."""
    found: list[tuple[Position, str]] = []

    def walk(node: Expr) -> None:
        if isinstance(node, Or):
            if any(isinstance(op, And) and not _parenthesized(op, lines) for op in node.operands):
                found.append((node.position, _grouped(node)))
            for op in node.operands:
                walk(op)
        elif isinstance(node, And):
            for op in node.operands:
                walk(op)
        elif isinstance(node, Not):
            walk(node.operand)
        elif isinstance(node, SpanScope):
            walk(node.body)

    walk(expr)
    return found


# --- actions ---------------------------------------------------------------------------------


def _show_rate(n: int) -> str:
    text = f"{1 / n:.4g}"
    return text if "." in text or "e" in text else text + ".0"


def _check_sample(action: Sample, found: _Findings) -> None:
    p = action.probability
    if p is None:
        return
    if not Decimal(0) < p <= Decimal(1):
        found.error(
            "sample-rate",
            "sample rate must be above 0 and at most 1",
            action.position,
            format(p, "f"),
            "use drop to drop every matching trace, keep to keep them all",
        )
        return
    exact = 1 / p
    n = action.sample_rate
    if abs(p * n - 1) > Decimal("0.01"):
        lo = max(1, int(exact))
        choices = ", ".join(f"sample(1/{k}) = {_show_rate(k)}" for k in (lo, lo + 1))
        found.error(
            "sample-rate",
            "Refinery keeps 1 trace in a whole N; this rate is more than 1% away from any 1/N",
            action.position,
            format(p, "f"),
            f"nearest representable: {choices}",
        )
    elif p * n != 1:
        found.warn(
            "sample-rate",
            f"applied as sample(1/{n}) = {_show_rate(n)}",
            action.position,
            format(p, "f"),
            f"write sample(1/{n}) to say so",
        )


def _check_sampler(action: EnvironmentSampler, found: _Findings) -> None:
    kind = sampler_word(action)
    if isinstance(action, Deterministic):
        if action.sample_rate & 0xFFFFFFFF == 0:
            found.error(
                "sampler-goal",
                "deterministic rate makes Refinery panic",
                action.position,
                action.sample_rate,
                "Refinery divides 2**32-1 by the rate as a uint32, which is 0 here",
            )
        return
    seen: set[str] = set()
    for param in action.params:
        spec = SAMPLER_PARAMETERS.get(param.name)
        if spec is None or kind not in spec.samplers:
            known = [n for n, s in SAMPLER_PARAMETERS.items() if kind in s.samplers]
            close = difflib.get_close_matches(param.name, known, n=1)
            hint = (f"did you mean {close[0]}? " if close else "") + "known: " + ", ".join(known)
            found.error("param", f"unknown {kind} parameter", param.position, param.name, hint)
            continue
        if param.name in seen:
            found.error("param", "duplicate parameter", param.position, param.name)
            continue
        seen.add(param.name)
        v = param.value.value
        expected = {
            ParamKind.DURATION: isinstance(v, Duration),
            ParamKind.BOOL: isinstance(v, bool),
            ParamKind.INT: isinstance(v, int) and not isinstance(v, bool),
            ParamKind.FLOAT: isinstance(v, int | float) and not isinstance(v, bool),
        }[spec.kind]
        shown = v.go_string() if isinstance(v, Duration) else v
        if not expected:
            example = {"duration": "15s", "bool": "true", "int": "3", "float": "0.5"}
            found.error(
                "param",
                f"{param.name} ({spec.refinery_key}) must be a {spec.kind.value}",
                param.value.position,
                shown,
                f"e.g. {param.name}={example[spec.kind.value]}",
            )
            continue
        number = v.milliseconds if isinstance(v, Duration) else v
        assert isinstance(number, int | float)
        low = 0.0 if spec.kind is ParamKind.DURATION else spec.minimum
        if (low is not None and number < low) or (
            spec.maximum is not None and number > spec.maximum
        ):
            bounds = f"{spec.minimum if spec.minimum is not None else '-inf'}..{spec.maximum}"
            found.error(
                "param",
                f"{param.name} ({spec.refinery_key}) is out of range",
                param.value.position,
                shown,
                f"Refinery accepts {bounds}"
                if spec.kind is not ParamKind.DURATION
                else "must be >= 0",
            )
    for key in action.keys:
        if key.name.removeprefix("root.") in ALIASES:
            found.warn(
                "key-alias",
                "key fields are not aliased; Refinery looks this name up as written",
                key.position,
                key.name,
                "write the real field name, e.g. http.response.status_code",
            )


def _check_action(action: Action, found: _Findings) -> None:
    if isinstance(action, Sample):
        _check_sample(action, found)
    elif isinstance(
        action, AvgDynamic | Dynamic | Throughput | WindowedThroughput | TotalThroughput
    ):
        _check_sampler(action, found)


# --- policy ----------------------------------------------------------------------------------


def check_policy(policy: Policy, *, source: str | None = None) -> list[Diagnostic]:
    """All semantic errors and warnings, in file order.

    Args:
        policy: a parsed policy.
        source: the policy's text; when given, diagnostics carry their source line (caret).
    """
    found = _Findings()
    if policy.budget_per_second is not None and policy.budget_per_second < 1:
        found.error(
            "budget",
            "budget_per_second must be at least 1",
            policy.position_of("budget_per_second"),
            policy.budget_per_second,
            "omit it for no budget",
        )
    if policy.error is not None:
        _check_expr(policy.error, found)
    for expr in policy.must_keep or ():
        _check_expr(expr, found)
    names: dict[str, Position] = {}
    priorities: dict[int, str] = {}
    catch_all: str | None = None
    for rule in sorted(policy.rules, key=lambda r: (r.position.line, r.position.column)):
        if rule.name in names:
            found.error(
                "duplicate-name",
                "duplicate rule name",
                rule.name_position,
                rule.name,
                f"already used on line {names[rule.name].line}; rule names must be unique",
            )
        names.setdefault(rule.name, rule.position)
        if rule.priority in priorities:
            found.error(
                "duplicate-priority",
                "duplicate priority",
                rule.priority_position,
                rule.priority,
                f"rule {priorities[rule.priority]!r} has it too; priorities decide the order, "
                "so each must be unique",
            )
        priorities.setdefault(rule.priority, rule.name)
    lines = source.split("\n") if source is not None else []
    written: list[Expr] = [r.match for r in policy.rules]
    if policy.error is not None:
        written.append(policy.error)
    for expr in (*written, *(policy.must_keep or ())):
        for where, grouped in mixed_grouping(expr, lines):
            found.warn(
                "grouping",
                "'and' binds tighter than 'or'",
                where,
                grouped,
                "this is how it is grouped; add parentheses to say so (or to group otherwise)",
            )
    for rule in policy.rules:
        clauses = _check_expr(rule.match, found)
        _check_action(rule.action, found)
        if catch_all is not None:
            found.warn(
                "unreachable",
                "rule is never reached",
                rule.name_position,
                rule.name,
                f"rule {catch_all!r} above it matches every trace",
            )
        elif clauses is not None and any(not c.conditions for c in clauses):
            catch_all = rule.name
    if policy.sampler is not None:
        _check_sampler(policy.sampler, found)
    elif not policy.rules:
        found.warn(
            "no-rules",
            "policy has no rules",
            policy.position_of("rules"),
            0,
            "Refinery keeps every trace when no rule matches",
        )
    elif catch_all is None:
        found.warn(
            "no-fallback",
            "no rule matches every trace",
            policy.position_of("rules"),
            policy.name,
            "Refinery keeps unmatched traces at rate 1; end with a rule whose match is true",
        )
    return _located(_ordered(found.items), source)


def _ordered(items: Sequence[Diagnostic]) -> list[Diagnostic]:
    def key(d: Diagnostic) -> tuple[int, int]:
        pos = d.position
        return (pos.line, pos.column) if pos is not None else (0, 0)

    return sorted(items, key=key)


def _located(items: list[Diagnostic], source: str | None) -> list[Diagnostic]:
    if source is None:
        return items
    lines = source.splitlines()
    out: list[Diagnostic] = []
    for d in items:
        pos = d.position
        if pos is not None and 0 < pos.line <= len(lines) and d.source_line is None:
            d = replace(d, source_line=lines[pos.line - 1])
        out.append(d)
    return out


def validate_policy(policy: Policy, *, source: str | None = None) -> Policy:
    """Return ``policy`` if it has no semantic errors (warnings are fine).

    Raises:
        PolicyError: for the first error :func:`check_policy` finds.
    """
    for d in check_policy(policy, source=source):
        if d.severity == "error":
            raise PolicyError.from_diagnostic(d)
    return policy
