"""Finite value classes for the all-traces prover: per field, one value per behaviour.

A condition only ever asks a field's value finitely many questions: compare it with the
constants of the rules (after Refinery's conversions), test membership, a prefix, presence.
So values fall into finitely many *classes* (same answer to every question), and a trace
exists with some property iff one exists whose values are class representatives.

Candidates per field: missing, null, ``true``/``false``, and for every constant ``c`` of the
conditions reading the field (converted as each matcher converts it):

* ints ``k-1, k, k+1`` around every integer boundary (``to_int`` of constants, ``floor`` and
  ``ceil`` of float constants): untyped and typed comparisons split the integers into
  intervals whose ends are those points;
* floats: the float boundaries (constants, integer boundaries, since ``Datatype: int``
  truncates), the midpoints of consecutive boundaries, one beyond each end, NaN, +-Inf;
* strings: every string boundary ``e`` (``%v`` of constants, and for a prefix ``p`` also the
  first string after all of ``p``'s extensions) plus ``e + "\\x00"``, the smallest string
  after ``e`` (so every open interval between boundaries has its representative), ``""``;
  numeric spellings ``"503"``, ``"503.0"``, ``"5.5"``, ``"NaN"`` so that ``Atoi`` and
  ``ParseFloat`` see every class; ParseBool spellings.

Candidates are then deduplicated by their answers to the conditions (the *signature*).

Exactness: the candidate set is proven to meet every class when each field's conditions
belong to one *view* (numeric: typed int/float and untyped numeric comparisons and sets;
string: ``%v`` comparisons, prefixes, string sets; bool; untyped string or bool compares),
plus presence tests.  ``contains``, ``does-not-contain`` and ``matches``, views mixed on one
field, CheckNestedFields and ``meta.signal_type`` are outside: the solver then answers
``unknown`` when it finds no counterexample.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from pytest_nectar.refinery.conditions import CompiledCondition
from pytest_nectar.refinery.values import format_g, go_v, payload_get, to_float, to_int

__all__ = [
    "MISSING",
    "PARENT_KEYS",
    "FieldDomain",
    "build_domain",
    "condition_view",
    "number_points",
]


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


#: The field is absent from the span.
MISSING: Final = _Missing()
PARENT_KEYS: Final = ("trace.parent_id", "parentId")
_INEXACT_OPS: Final = frozenset({"contains", "does-not-contain", "matches"})
_COMPARE: Final = frozenset({"=", "!=", ">", ">=", "<", "<="})


def condition_view(cond: CompiledCondition) -> str | None:
    """Which questions the condition asks of a value (None: presence only or constant)."""
    op = cond.operator
    value = cond.condition.value
    if op in ("exists", "not-exists", "has-root-span"):
        return None
    if cond.matches is None:  # Refinery's untyped fallback (no Datatype, or an Init error)
        if op not in _COMPARE or value is None:
            return None
        if isinstance(value, bool):
            return "ubool"
        if isinstance(value, int | float):
            return "numeric"
        return "ustring" if isinstance(value, str) else "inexact"
    if op in _INEXACT_OPS:
        return "inexact"
    if op == "starts-with":
        return "string"
    dt = cond.condition.datatype or "string"
    if op in ("in", "not-in"):
        return "numeric" if dt in ("int", "float") else "string"
    return {"string": "string", "int": "numeric", "float": "numeric", "bool": "bool"}.get(
        dt, "inexact"
    )


def _items(cond: CompiledCondition) -> tuple[object, ...]:
    """The constants a value is compared with: a list's elements for in/not-in; for every
    other operator the Value as a whole (a list prints as ``[a b]``)."""
    value = cond.condition.value
    if value is None:
        return ()
    if isinstance(value, tuple) and cond.operator in ("in", "not-in"):
        return value
    return (value,)


def _after_prefix(p: str) -> str | None:
    """The first string greater than every string starting with ``p`` (None: none)."""
    while p:
        last = ord(p[-1])
        if last < 0x10FFFF and not 0xD7FF <= last < 0xE000:
            return p[:-1] + chr(last + 1)
        p = p[:-1]
    return None


@dataclass(frozen=True, slots=True)
class FieldDomain:
    """The representatives of one field (``MISSING`` first) and whether they are complete."""

    key: str
    values: tuple[object, ...]
    exact: bool
    views: frozenset[str]


def number_points(conds: Sequence[CompiledCondition]) -> tuple[set[int], set[float]]:
    int_points: set[int] = {0}
    float_points: set[float] = {0.0}
    for cond in conds:
        for item in _items(cond):
            i = to_int(item)
            f = to_float(item)
            if isinstance(item, str) and i is None and f is None:
                continue
            if i is not None:
                int_points.add(i)
            if f is not None and math.isfinite(f):
                float_points.add(f)
                int_points.update((math.floor(f), math.ceil(f)))
    ints = {k + d for k in int_points for d in (-1, 0, 1)}
    bounds = sorted(float_points | {float(k) for k in ints})
    floats = set(bounds)
    floats.update((a + b) / 2 for a, b in itertools.pairwise(bounds))
    floats.update((bounds[0] - 1.0, bounds[-1] + 1.0, math.nan, math.inf, -math.inf))
    return ints, floats


def _strings(conds: Sequence[CompiledCondition], ints: set[int], floats: set[float]) -> list[str]:
    bounds: set[str] = {""}
    for cond in conds:
        for item in _items(cond):
            text = go_v(item)
            bounds.add(text)
            if cond.operator == "starts-with":
                after = _after_prefix(text)
                if after is not None:
                    bounds.add(after)
    out = sorted(bounds) + [b + "\x00" for b in sorted(bounds)]
    out += [str(k) for k in sorted(ints)]
    for f in sorted(floats, key=repr):
        text = format_g(f)
        out.append(text)
        if math.isfinite(f) and f == int(f):
            out.append(f"{int(f)}.0")
    out += ["x", "true", "false", "1", "0", "t", "NaN", "<nil>"]
    return out


def build_domain(
    key: str, conds: Sequence[CompiledCondition], extra: Iterable[object] = ()
) -> FieldDomain:
    """The deduplicated representatives of field ``key`` read by ``conds``."""
    views = frozenset(v for v in (condition_view(c) for c in conds) if v is not None)
    exact = len(views) <= 1 and "inexact" not in views and key != "meta.signal_type"
    ints, floats = number_points(conds)
    int_list: list[int] = sorted(ints, key=lambda k: (abs(k - 500), k))  # readable first
    raw: list[object] = [*extra]
    raw += int_list
    raw += _strings(conds, ints, floats)
    raw += sorted(floats, key=repr)
    raw += [True, False, None]
    seen: dict[tuple[object, ...], object] = {}
    for value in raw:
        sig = _signature(key, conds, value)
        seen.setdefault(sig, value)
    return FieldDomain(key, (MISSING, *seen.values()), exact, views)


def _signature(key: str, conds: Sequence[CompiledCondition], value: object) -> tuple[object, ...]:
    answers: list[object] = [cond.evaluate(value, True) for cond in conds]
    answers.append(payload_get({key: value}, key)[1])  # meta.* "" and 0 do not exist
    if key in PARENT_KEYS:
        answers.append(isinstance(value, str) and value != "")
    if key == "meta.signal_type":
        answers.append(value == "log")  # a log has no meta.refinery.root and is never root
    return tuple(answers)
