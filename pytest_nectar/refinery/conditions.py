"""Each condition's matcher, built at load time exactly as Refinery's ``Condition.Init`` does.

Refinery builds a ``Matches(value, exists)`` function per condition.  When Init fails (an
unknown or missing operator, ``Datatype: int`` with a Value that does not convert, an invalid
regex, ``in`` with ``Datatype: bool``, an unknown Datatype, both Field and Fields) the error is
logged at debug level and ``Matches`` stays nil; evaluation then uses the untyped fallback
``conditionMatchesValue``.  :class:`CompiledCondition` records that outcome in ``init_error``.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from pytest_nectar.refinery.regex import GoRegexError, compile_go_regex
from pytest_nectar.refinery.rules_model import NUM_DESCENDANTS, Condition
from pytest_nectar.refinery.values import GoMap, compare, go_v, to_bool, to_float, to_int

__all__ = ["NUM_DESCENDANTS", "CompiledCondition", "compile_condition", "untyped_match"]

Matcher = Callable[[object, bool], bool]

_ORDERS: Final[dict[str, Callable[[float, float], bool]]] = {
    "=": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}
_ORDER_TESTS: Final[dict[str, Callable[[int], bool]]] = {
    "=": lambda c: c == 0,
    "!=": lambda c: c != 0,
    ">": lambda c: c == 1,
    ">=": lambda c: c >= 0,
    "<": lambda c: c == -1,
    "<=": lambda c: c <= 0,
}


@dataclass(frozen=True, slots=True)
class CompiledCondition:
    """A condition ready to evaluate: fields to read, and ``Matches`` (None = fallback)."""

    condition: Condition
    fields: tuple[str, ...]
    computed_descendants: bool
    operator: str
    matches: Matcher | None
    init_error: str | None
    #: Per field: the key to read, whether it is a ``root.`` field, whether it is ``meta.``.
    lookups: tuple[tuple[str, bool, bool], ...] = ()

    @property
    def is_has_root_span(self) -> bool:
        return self.operator == "has-root-span"

    @property
    def root_span_wanted(self) -> bool:
        """``toBool(Value)`` for has-root-span (an omitted Value means false)."""
        return to_bool(self.condition.value)

    def evaluate(self, value: object, exists: bool) -> bool:
        """What Refinery decides for one extracted value: Matches, or the untyped fallback."""
        if self.matches is not None:
            return self.matches(value, exists)
        return untyped_match(self.operator, self.condition.value, value, exists)


def _lookups(fields: tuple[str, ...]) -> tuple[tuple[str, bool, bool], ...]:
    out = []
    for name in fields:
        is_root = name.startswith("root.")
        key = name[5:] if is_root else name
        out.append((key, is_root, key.startswith("meta.")))
    return tuple(out)


def untyped_match(operator: str, cond_value: object, value: object, exists: bool) -> bool:
    """Refinery's ``conditionMatchesValue`` (used when a condition has no Matches function)."""
    if not exists:
        return operator == "not-exists"
    if operator == "exists":
        return True
    test = _ORDER_TESTS.get(operator)
    if test is None:
        return False
    order = compare(value, cond_value)
    return order is not None and test(order)


def _string_compare(op: str, cv: str) -> Matcher:
    if op == "=":
        return lambda v, e: go_v(v) == cv
    if op == "!=":
        return lambda v, e: go_v(v) != cv
    if op == ">":
        return lambda v, e: go_v(v) > cv
    if op == ">=":
        return lambda v, e: go_v(v) >= cv
    if op == "<":
        return lambda v, e: go_v(v) < cv
    return lambda v, e: go_v(v) <= cv


def _typed_compare(op: str, convert: Callable[[object], float | int | None], cv: float) -> Matcher:
    """``Datatype: int`` / ``float``: the span value converted, then compared with ``cv``."""
    order = _ORDERS[op]

    def matches(v: object, exists: bool) -> bool:
        n = convert(v)
        return exists and n is not None and order(n, cv)

    return matches


def _compare_matcher(cond: Condition, op: str) -> tuple[Matcher | None, str | None]:
    dt = cond.datatype or ""
    if dt == "string":
        return _string_compare(op, go_v(cond.value)), None
    if dt == "int":
        cv = to_int(cond.value)
        if cv is None:
            return None, f"could not convert {go_v(cond.value)} to string"
        return _typed_compare(op, to_int, cv), None
    if dt == "float":
        fv = to_float(cond.value)
        if fv is None:
            return None, f"could not convert {go_v(cond.value)} to string"
        return _typed_compare(op, to_float, fv), None
    if dt == "bool":
        if op not in ("=", "!="):
            return None, None  # no typed matcher for < > <= >=: the untyped fallback runs
        bv = to_bool(cond.value)
        if op == "=":
            return (lambda v, e: e and to_bool(v) == bv), None
        return (lambda v, e: e and to_bool(v) != bv), None
    if dt == "":
        return None, None
    return None, f"{dt} must be either string, int, float or bool"


def _in_matcher(cond: Condition, op: str) -> tuple[Matcher | None, str | None]:
    raw = cond.value
    if isinstance(raw, tuple) and not isinstance(raw, GoMap):  # a map is not a list
        items: tuple[object, ...] = raw
    elif isinstance(raw, str) or type(raw) is float or type(raw) is int:
        items = (raw,)
    else:
        return None, "value must be a list of scalars"
    dt = cond.datatype or ""
    base: Matcher
    if dt in ("string", ""):
        svals = frozenset(go_v(x) for x in items)
        base = lambda v, e: go_v(v) in svals  # noqa: E731
    elif dt == "int":
        ivals = frozenset(i for i in (to_int(x) for x in items) if i is not None)

        def base(v: object, e: bool) -> bool:
            i = to_int(v)
            return i is not None and i in ivals

    elif dt == "float":
        fvals = frozenset(f for f in (to_float(x) for x in items) if f is not None)

        def base(v: object, e: bool) -> bool:
            f = to_float(v)
            # Go's map[float64] never finds NaN; Python's set would, by object identity.
            return f is not None and f == f and f in fvals

    elif dt == "bool":
        return None, f"cannot use {op} operator with boolean datatype"
    else:
        # Refinery leaves the set unbuilt: `in` keeps a nil Matches (fallback, false);
        # `not-in` would call the nil function.  Validation rejects the Datatype anyway.
        return None, f"{dt} must be either string, int, float or bool"
    if op == "in":
        return base, None
    return (lambda v, e: not base(v, e)), None


def compile_condition(cond: Condition) -> CompiledCondition:
    """Build the condition's matcher as Refinery's ``Init`` + ``setMatchesFunction`` do."""
    op = cond.operator or ""
    computed = cond.field == NUM_DESCENDANTS
    if cond.field and cond.fields:
        return CompiledCondition(
            cond,
            cond.fields,
            computed,
            op,
            None,
            "both Field and Fields are defined in a single condition",
            _lookups(cond.fields),
        )
    fields = (cond.field,) if cond.field else (cond.fields or ())
    matches: Matcher | None = None
    error: str | None = None
    if op == "exists":
        matches = lambda v, e: e  # noqa: E731
    elif op == "not-exists":
        matches = lambda v, e: not e  # noqa: E731
    elif op in _ORDER_TESTS:
        matches, error = _compare_matcher(cond, op)
    elif op in ("starts-with", "contains", "does-not-contain"):
        cv = go_v(cond.value)
        if op == "starts-with":
            matches = lambda v, e: go_v(v).startswith(cv)  # noqa: E731
        elif op == "contains":
            matches = lambda v, e: cv in go_v(v)  # noqa: E731
        else:
            matches = lambda v, e: cv not in go_v(v)  # noqa: E731
    elif op in ("in", "not-in"):
        matches, error = _in_matcher(cond, op)
    elif op == "matches":
        try:
            search = compile_go_regex(go_v(cond.value))
        except GoRegexError:
            error = f"'matches' pattern must be a valid Go regexp, but was '{go_v(cond.value)}'"
        else:
            matches = lambda v, e: search(go_v(v))  # noqa: E731
    elif op == "has-root-span":
        pass  # evaluated at the trace level
    else:
        error = f"unknown operator '{op}'"
    return CompiledCondition(cond, fields, computed, op, matches, error, _lookups(fields))
