"""Where the fields the simulation touches live in a row, and how to tell and make an error
trace as the corpus types it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from pytest_nectar.trace import Span, Trace

__all__ = [
    "DEFAULT_FIELDS",
    "ErrorMaker",
    "ErrorTest",
    "TraceFields",
    "as_number",
    "default_is_error",
    "http_error_maker",
    "retyped",
]

ErrorTest = Callable[[Trace], bool]
ErrorMaker = Callable[[Trace, np.random.Generator], Trace]


@dataclass(frozen=True, slots=True)
class TraceFields:
    """Where the fields that the simulation touches live in a row (Husky's names by default)."""

    trace_id: tuple[str, ...] = ("trace.trace_id", "traceId")
    parent_id: tuple[str, ...] = ("trace.parent_id", "parentId")
    span_id: str = "trace.span_id"
    duration: str = "duration_ms"
    service: str = "service.name"
    route: str = "http.route"
    http_status: tuple[str, ...] = ("http.status_code", "http.response.status_code", "http.status")
    status_code: str = "status_code"
    error: str = "error"


DEFAULT_FIELDS = TraceFields()


def retyped(old: object, number: int | float) -> object:
    """``number`` with the type ``old`` has (int stays int, "500" stays a string, ...)."""
    if isinstance(old, bool):
        return number
    if isinstance(old, int):
        return type(old)(int(number))
    if isinstance(old, float):
        return type(old)(number)
    if isinstance(old, str):
        return str(int(number)) if float(number).is_integer() else repr(float(number))
    return number


def as_number(value: object) -> float | None:
    """A number, or a string that parses as one, as a float; None otherwise (bools too)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def default_is_error(trace: Trace, fields: TraceFields = DEFAULT_FIELDS) -> bool:
    """A trace with a span that has ``error: true``, ``status_code: 2`` or an HTTP 5xx.

    A stand-in for tests and demos; campaigns pass the policy's own error expression.
    """
    for span in trace.spans:
        data = span.data
        if data.get(fields.error) is True or as_number(data.get(fields.status_code)) == 2:
            return True
        for key in fields.http_status:
            status = as_number(data.get(key))
            if status is not None and 500 <= status <= 599:
                return True
    return False


def http_error_maker(
    fields: TraceFields = DEFAULT_FIELDS,
    *,
    fallback: tuple[str, type] = ("http.status_code", int),
    statuses: Sequence[int] = (500, 502, 503, 504),
) -> ErrorMaker:
    """A ``make_error`` that turns a trace into a server error as the corpus types it.

    On the root span (the last span when there is no root) every HTTP status field present
    gets a 5xx of the same Python type as before (``fallback`` names the field and type when
    there is none), ``status_code`` becomes 2 and ``error`` becomes ``True``.
    """
    codes = tuple(statuses)

    def make_error(trace: Trace, rng: np.random.Generator) -> Trace:
        if not trace.spans:
            return trace
        spans = list(trace.spans)
        at = next((i for i in range(len(spans) - 1, -1, -1) if spans[i].is_root), len(spans) - 1)
        data = dict(spans[at].data)
        code = codes[int(rng.integers(len(codes)))]
        present = [k for k in fields.http_status if k in data]
        for key in present:
            data[key] = retyped(data[key], code)
        if not present:
            data[fallback[0]] = retyped(fallback[1](0), code)
        data[fields.status_code] = retyped(data.get(fields.status_code, 0), 2)
        data[fields.error] = True
        spans[at] = Span(data, spans[at].is_root)
        return Trace(trace.trace_id, tuple(spans))

    return make_error
