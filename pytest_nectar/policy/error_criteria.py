"""What an error trace is: the default error criteria, by OpenTelemetry's conventions.

A policy's ``error`` expression (and ``[tool.nectar] error``) decides which traces
``error-preservation`` must keep.  Unless it says otherwise, an error trace is one that
meets any of the named criteria of :data:`DEFAULT_CRITERIA`, each written in the match
language and so compiled to Refinery conditions exactly like a rule (on the corpus and for
all traces, with Refinery's semantics).  The keyword ``default_errors`` stands for the
whole table in any match expression, so a policy can extend it (``error: default_errors or
payment.declined = true``) or replace it (``error: http.status >= 500``), and a rule can keep
exactly these traces (``keep-errors,,default_errors,keep,100``).

The fields are those Refinery sees after Husky's flattening (pytest_nectar/corpus/husky.py;
../shared/docs/refinery-semantics.md section 12): span status ERROR becomes the int64
intrinsic ``status_code: 2`` and ``error: true`` (the Jaeger and Zipkin readers turn an
``error`` tag into status ERROR first, as the OpenTelemetry Collector's translators do); a
span event is an event of its own with ``meta.annotation_type: "span_event"`` and its
``name``.  Numbers may arrive as strings (Zipkin tags, Honeycomb events): every numeric
criterion carries ``Datatype: int``, which reads ``"503"`` as 503.

Attribute names come from the OpenTelemetry semantic-conventions package where it has them,
so a rename there is a visible change here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from pytest_nectar.errors import Position
from pytest_nectar.policy.error_table import (
    DEFAULT_CRITERIA,
    DEFAULT_KEYWORD,
    GRPC_SERVER_FAULTS,
    Criterion,
)
from pytest_nectar.policy.match_parser import criterion_expr, default_errors_expr
from pytest_nectar.policy.model import Expr, Or, Policy

__all__ = [
    "DEFAULT_CRITERIA",
    "DEFAULT_KEYWORD",
    "GRPC_SERVER_FAULTS",
    "Criterion",
    "criteria_of",
    "default_error_match",
    "error_match",
    "markdown_table",
]

_HERE: Final = Position("<default error criteria>")


def default_error_match(position: Position = _HERE) -> Expr:
    """The default error expression: the criteria of the table, or-ed, labelled as the keyword.

    The label makes ``nectar fmt`` write the keyword back; the meaning is the table's.
    """
    return default_errors_expr(position)


def _alternatives(expr: Expr) -> Iterator[Expr]:
    if isinstance(expr, Or) and expr.label is None:
        for operand in expr.operands:
            yield from _alternatives(operand)
    else:
        yield expr


def criteria_of(expr: Expr) -> tuple[tuple[str, Expr], ...]:
    """An error expression as named criteria, in order: a criterion of the default table
    (written as ``default_errors`` or spelled out) goes by its name, any other alternative of the
    top-level ``or`` by its own text."""
    from pytest_nectar.policy.printer import format_match

    out: list[tuple[str, Expr]] = []
    for alt in _alternatives(expr):
        if isinstance(alt, Or) and alt.label == DEFAULT_KEYWORD:
            out.extend((c.name, criterion_expr(c.text)) for c in DEFAULT_CRITERIA)
        else:
            name = next((c.name for c in DEFAULT_CRITERIA if criterion_expr(c.text) == alt), None)
            out.append((name or format_match(alt), alt))
    return tuple(out)


def markdown_table() -> str:
    """The table as the README and the language reference show it (tested to match)."""
    lines = ["| criterion | match expression | meaning |", "|---|---|---|"]
    for c in DEFAULT_CRITERIA:
        lines.append(f"| `{c.name}` | `{c.text}` | {c.meaning} |")
    return "\n".join(lines)


def error_match(policy: Policy) -> Expr:
    """The error expression in force for a policy: its own ``error``, else the default."""
    return policy.error if policy.error is not None else default_error_match()
