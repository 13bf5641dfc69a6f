"""One condition's ``Matches(value, exists=True)`` over every entry of a sparse column.

The vectorised evaluator (:mod:`.vector`) resolves fields to column entries; this module says
which entries satisfy a condition.  Exactness comes from calling the reference matcher
(:meth:`CompiledCondition.evaluate`) once per *distinct* value: per dictionary string, per
distinct int64 and per distinct float64 bit pattern (so ``-0.0`` and ``0.0``, whose ``%v``
differ, stay apart).  The common numeric cases (typed ``int``/``float`` compares, untyped
``compare()`` between numbers, ``in``/``not-in`` sets, ``%v`` equality) run as numpy
kernels instead; they encode refinery-semantics.md 5.3-5.5 and are checked against the
reference by differential tests.  Anything without a kernel takes the per-distinct path,
never an approximation.
"""

from __future__ import annotations

import bisect
import math
import re
from typing import Final

import numpy as np
import numpy.typing as npt

from pytest_nectar.corpus.table import (
    KIND_BOOL,
    KIND_FLOAT,
    KIND_INT,
    KIND_NULL,
    KIND_OTHER,
    KIND_STRING,
    Column,
    StringPool,
)
from pytest_nectar.refinery.conditions import CompiledCondition
from pytest_nectar.refinery.values import MIN_INT64, GoMap, format_g, go_v, to_float, to_int
from pytest_nectar.trace import GoFloat32, GoUint64

__all__ = ["column_kinds", "condition_key", "entry_matches", "string_table"]

BoolArray = npt.NDArray[np.bool_]
Int64Array = npt.NDArray[np.int64]
Float64Array = npt.NDArray[np.float64]

_ORDER: Final = frozenset({"=", "!=", ">", "<", ">=", "<="})
_MAX_INT64: Final = (1 << 63) - 1
#: Above this many strings, equality-like operators use dictionary lookups and prefixes a
#: bisection, not a scan (the all-traces lints evaluate thousands of rules on a batch of
#: candidate traces: a scan per rule made that quadratic).
_BIG_DICTIONARY: Final = 64
_CANONICAL_INT: Final = re.compile(r"-?(?:0|[1-9][0-9]*)", re.ASCII)


def _value_key(value: object) -> object:
    if isinstance(value, GoMap):  # %v differs from a list of pairs
        return ("map", tuple(_value_key(v) for v in value))
    if isinstance(value, tuple):
        return tuple(_value_key(v) for v in value)
    return (type(value).__name__, repr(value))


def condition_key(cc: CompiledCondition) -> tuple[object, ...]:
    """What a condition's per-value result depends on (Field names excluded)."""
    cond = cc.condition
    return (cc.operator, _value_key(cond.value), cond.datatype, cc.matches is None)


def _constant(cc: CompiledCondition) -> bool | None:
    """The result for every existing value, when it does not depend on the value."""
    op = cc.operator
    if cc.matches is None:
        if op == "exists":
            return True
        return None if op in _ORDER else False
    if op in ("exists", "not-exists"):
        return op == "exists"
    return None


def _in_items(value: object) -> tuple[object, ...]:
    # Only called when the `in` matcher was built, so the Value has one of these shapes.
    if isinstance(value, tuple):
        return value
    return (value,)


def _int_set(items: tuple[object, ...]) -> Int64Array:
    out = {i for i in (to_int(x) for x in items) if i is not None and MIN_INT64 <= i <= _MAX_INT64}
    return np.array(sorted(out), dtype=np.int64)


def _float_set(items: tuple[object, ...]) -> Float64Array:
    # Go map lookups never find NaN, so NaN members are useless.
    out = {f for f in (to_float(x) for x in items) if f is not None and not math.isnan(f)}
    return np.array(sorted(out), dtype=np.float64)


def _text_int(text: str) -> int | None:
    """The int64 whose decimal ``%v`` is ``text``, if any."""
    if _CANONICAL_INT.fullmatch(text) and text != "-0":
        n = int(text)
        if MIN_INT64 <= n <= _MAX_INT64:
            return n
    return None


def _text_float_equals(f: Float64Array, text: str) -> BoolArray:
    """Which floats print as ``text`` with ``%v`` (shortest ``%g``): at most one value."""
    try:
        x = float(text)
    except ValueError:
        return np.zeros(len(f), dtype=np.bool_)
    if format_g(x) != text:
        return np.zeros(len(f), dtype=np.bool_)
    if math.isnan(x):
        return np.isnan(f)
    negative = math.copysign(1.0, x) < 0
    out: BoolArray = (f == 0) & (np.signbit(f) == negative) if x == 0 else f == x
    return out


def _trunc_int(f: Float64Array) -> Int64Array:
    """Go ``int(f)`` on amd64: truncation; NaN, Inf and out-of-range give MinInt64."""
    out = np.full(len(f), MIN_INT64, dtype=np.int64)
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(f) & (f >= -(2.0**63)) & (f < 2.0**63)
    out[ok] = np.trunc(f[ok]).astype(np.int64)
    return out


def _apply(op: str, lt: BoolArray, gt: BoolArray) -> BoolArray:
    if op == "=":
        return ~lt & ~gt
    if op == "!=":
        return lt | gt
    if op == ">":
        return gt
    if op == "<":
        return lt
    if op == ">=":
        return ~lt
    return ~gt


_INT_OPS: Final = {
    "=": np.equal,
    "!=": np.not_equal,
    ">": np.greater,
    "<": np.less,
    ">=": np.greater_equal,
    "<=": np.less_equal,
}


def _compare_int(op: str, a: Int64Array, b: int) -> BoolArray:
    """``a OP b`` for int64 ``a`` and any Python int ``b`` (no NaN: direct comparisons)."""
    if b > _MAX_INT64 or b < MIN_INT64:
        above = b > _MAX_INT64  # every a is below b (or every a is above it)
        value = op in (("<", "<=", "!=") if above else (">", ">=", "!="))
        return np.full(len(a), value, dtype=np.bool_)
    out: BoolArray = _INT_OPS[op](a, np.int64(b))
    return out


def _order_float(a: Float64Array, b: float) -> tuple[BoolArray, BoolArray]:
    return a < b, a > b


def _is_number(b: object) -> bool:
    return (
        isinstance(b, int | float)
        and not isinstance(b, bool)
        and not isinstance(b, GoUint64 | GoFloat32)
    )


def _numeric(cc: CompiledCondition, ints: Int64Array | None, f: Float64Array) -> BoolArray | None:
    """Kernels for int64 (``ints`` given; ``f`` is float64(int)) or float64 entries."""
    op = cc.operator
    cond = cc.condition
    dt = cond.datatype or ""
    is_int = ints is not None
    if cc.matches is None:  # untyped compare(v, Value), op is a comparison here
        b = cond.value
        if b is None:
            return np.full(len(f), cc.evaluate(0, True), dtype=np.bool_)
        if not _is_number(b):
            return np.zeros(len(f), dtype=np.bool_)
        if ints is not None and isinstance(b, int):
            return _compare_int(op, ints, b)
        else:
            lt, gt = _order_float(f, float(b))  # type: ignore[arg-type]
        return _apply(op, lt, gt)
    if op in _ORDER:
        if dt == "int":
            cv = to_int(cond.value)
            assert cv is not None
            return _compare_int(op, ints if ints is not None else _trunc_int(f), cv)
        if dt == "float":
            fv = to_float(cond.value)
            assert fv is not None
            cmp: BoolArray
            if op == "=":
                cmp = f == fv
            elif op == "!=":
                cmp = f != fv
            elif op == ">=":
                cmp = f >= fv
            elif op == "<=":
                cmp = f <= fv
            else:
                cmp = f > fv if op == ">" else f < fv
            return cmp
        if dt == "bool":
            one = (ints == 1) if ints is not None else (f == 1.0)
            yes = cc.evaluate(1 if is_int else 1.0, True)
            no = cc.evaluate(0 if is_int else 0.0, True)
            return np.where(one, yes, no)
        if dt == "string" and op in ("=", "!="):
            text = go_v(cond.value)
            if ints is not None:
                n = _text_int(text)
                eq = ints == n if n is not None else np.zeros(len(ints), np.bool_)
            else:
                eq = _text_float_equals(f, text)
            return eq if op == "=" else ~eq
        return None
    if op in ("in", "not-in"):
        items = _in_items(cond.value)
        if dt in ("", "string"):
            texts = {go_v(x) for x in items}
            if ints is not None:
                targets = [n for n in (_text_int(t) for t in texts) if n is not None]
                hit = np.isin(ints, np.array(targets, dtype=np.int64))
            else:
                hit = np.zeros(len(f), dtype=np.bool_)
                for t in texts:
                    hit |= _text_float_equals(f, t)
        elif dt == "int":
            hit = np.isin(ints if ints is not None else _trunc_int(f), _int_set(items))
        elif dt == "float":
            hit = np.isin(f, _float_set(items))
        else:
            return None
        return hit if op == "in" else ~hit
    return None


def _per_distinct_ints(cc: CompiledCondition, ints: Int64Array) -> BoolArray:
    uniq, inverse = np.unique(ints, return_inverse=True)
    table = np.array([cc.evaluate(int(x), True) for x in uniq.tolist()], dtype=np.bool_)
    return table[inverse.reshape(-1)]


def _per_distinct_floats(cc: CompiledCondition, f: Float64Array) -> BoolArray:
    bits = np.ascontiguousarray(f).view(np.int64)
    uniq, inverse = np.unique(bits, return_inverse=True)
    values = uniq.view(np.float64).tolist()
    table = np.array([cc.evaluate(float(x), True) for x in values], dtype=np.bool_)
    return table[inverse.reshape(-1)]


def _equality_set(cc: CompiledCondition) -> frozenset[str] | None:
    """For ops whose result on a string ``s`` depends only on ``s in set``: that set."""
    op = cc.operator
    cond = cc.condition
    dt = cond.datatype or ""
    if cc.matches is None:
        if op in ("=", "!=") and isinstance(cond.value, str):
            return frozenset({cond.value})
        return None
    if op in ("=", "!=") and dt == "string":
        return frozenset({go_v(cond.value)})
    if op in ("in", "not-in") and dt in ("", "string"):
        return frozenset(go_v(x) for x in _in_items(cond.value))
    return None


def _prefix_table(strings: StringPool, prefix: str) -> BoolArray:
    """``s.startswith(prefix)`` per dictionary string, in time of the matches: in code point
    order the strings with a prefix are one run, found by bisection."""
    ordered, codes = strings.in_order
    start = end = bisect.bisect_left(ordered, prefix)
    while end < len(ordered) and ordered[end].startswith(prefix):
        end += 1
    table = np.zeros(len(strings), dtype=np.bool_)
    table[codes[start:end]] = True
    return table


def string_table(strings: StringPool, cc: CompiledCondition) -> BoolArray:
    """The result for each dictionary string (index = code)."""
    n = len(strings)
    if n > _BIG_DICTIONARY and cc.operator == "starts-with" and cc.matches is not None:
        # The matcher is go_v(v).startswith(go_v(Value)), and go_v of a string is itself.
        return _prefix_table(strings, go_v(cc.condition.value))
    members = _equality_set(cc) if n > _BIG_DICTIONARY else None
    if members is None:
        return np.fromiter((cc.evaluate(s, True) for s in strings), dtype=np.bool_, count=n)
    outsider = "\x00" * (max((len(m) for m in members), default=0) + 1)
    table = np.full(n, cc.evaluate(outsider, True), dtype=np.bool_)
    for member in members:
        code = strings.index_of(member)
        if code >= 0:
            table[code] = cc.evaluate(member, True)
    return table


def _one_kind(column: Column, cc: CompiledCondition, kind: int) -> BoolArray:
    if kind == KIND_STRING:
        result: BoolArray = string_table(column.strings, cc)[column.codes]
        return result
    if kind == KIND_INT:
        res = _numeric(cc, column.ints, column.floats)
        return res if res is not None else _per_distinct_ints(cc, column.ints)
    res = _numeric(cc, None, column.floats)
    return res if res is not None else _per_distinct_floats(cc, column.floats)


def column_kinds(column: Column) -> list[int]:
    """The kinds present in ``column`` (cheap when, as usual, there is only one)."""
    if len(column) == 0:
        return []
    first = int(column.kind[0])
    if bool((column.kind == first).all()):
        return [first]
    counts = np.bincount(column.kind, minlength=KIND_OTHER + 1)
    return [k for k in range(len(counts)) if counts[k]]


def entry_matches(
    column: Column, cc: CompiledCondition, kinds: list[int] | None = None
) -> BoolArray:
    """``Matches(value, True)`` for every entry of ``column`` (the field exists there)."""
    n = len(column)
    constant = _constant(cc)
    if constant is not None:
        return np.full(n, constant, dtype=np.bool_)
    if kinds is None:
        kinds = column_kinds(column)
    if len(kinds) == 1 and kinds[0] in (KIND_STRING, KIND_INT, KIND_FLOAT):
        return _one_kind(column, cc, kinds[0])  # the usual case: no per-kind copies
    out = np.zeros(n, dtype=np.bool_)
    for kind in kinds:
        sel: npt.NDArray[np.intp] | slice = (
            slice(None) if len(kinds) == 1 else np.flatnonzero(column.kind == kind)
        )
        if kind == KIND_STRING:
            out[sel] = string_table(column.strings, cc)[column.codes[sel]]
        elif kind == KIND_INT:
            ints = column.ints[sel]
            res = _numeric(cc, ints, column.floats[sel])
            out[sel] = res if res is not None else _per_distinct_ints(cc, ints)
        elif kind == KIND_FLOAT:
            f = column.floats[sel]
            res = _numeric(cc, None, f)
            out[sel] = res if res is not None else _per_distinct_floats(cc, f)
        elif kind == KIND_BOOL:
            table = np.array([cc.evaluate(False, True), cc.evaluate(True, True)], np.bool_)
            out[sel] = table[column.ints[sel]]
        elif kind == KIND_NULL:
            out[sel] = cc.evaluate(None, True)
        else:
            entries = np.flatnonzero(column.kind == kind)
            out[entries] = [cc.evaluate(column.others[int(e)], True) for e in entries]
    return out
