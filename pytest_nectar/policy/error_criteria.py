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
from dataclasses import dataclass
from functools import cache
from typing import Final

from opentelemetry.semconv._incubating.attributes.rpc_attributes import (
    RPC_GRPC_STATUS_CODE,
    RPC_RESPONSE_STATUS_CODE,
    RpcGrpcStatusCodeValues,
)

from pytest_nectar.errors import Position
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

#: The match-language keyword for the whole default table.
DEFAULT_KEYWORD: Final = "default_errors"

#: gRPC codes that mean a fault of the server (OpenTelemetry's gRPC conventions: on a server
#: span these are errors; on a client span every code but OK is, so these are errors there too).
GRPC_SERVER_FAULTS: Final = (
    RpcGrpcStatusCodeValues.UNKNOWN,
    RpcGrpcStatusCodeValues.DEADLINE_EXCEEDED,
    RpcGrpcStatusCodeValues.UNIMPLEMENTED,
    RpcGrpcStatusCodeValues.INTERNAL,
    RpcGrpcStatusCodeValues.UNAVAILABLE,
    RpcGrpcStatusCodeValues.DATA_LOSS,
)
_CODES: Final = ", ".join(str(c.value) for c in GRPC_SERVER_FAULTS)
_NAMES: Final = ", ".join(f'"{c.name}"' for c in GRPC_SERVER_FAULTS)


@dataclass(frozen=True, slots=True)
class Criterion:
    """One named way a trace is an error: a match expression and the convention behind it."""

    name: str
    text: str
    meaning: str

    @property
    def expr(self) -> Expr:
        return _parsed(self.text)


#: The default error criteria, in the order a witness names them (the first one met).
DEFAULT_CRITERIA: Final[tuple[Criterion, ...]] = (
    Criterion(
        "otel-status-error",
        "status_code = 2",
        "a span's OpenTelemetry status is ERROR (Husky's int64 `status_code` intrinsic; "
        "Jaeger `error=true` and Zipkin `error` tags arrive as this status)",
    ),
    Criterion(
        "error-flag",
        "error = true",
        "a span has `error` true: Husky's intrinsic for status ERROR, or an `error` "
        'attribute or event field (Datatype bool: `true`, `"true"`, `1`)',
    ),
    Criterion(
        "http-server-5xx",
        'span(http.status >= 500 and span.kind = "server")',
        "a server span answered with an HTTP status >= 500 (`http.response.status_code`, "
        'else the older `http.status_code`; Datatype int, so "503" counts)',
    ),
    Criterion(
        "grpc-server-fault",
        f"{RPC_GRPC_STATUS_CODE} in [{_CODES}] or {RPC_RESPONSE_STATUS_CODE} in [{_NAMES}]",
        "a span's gRPC status is UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, "
        f"UNAVAILABLE or DATA_LOSS (`{RPC_GRPC_STATUS_CODE}` as a number, "
        f"`{RPC_RESPONSE_STATUS_CODE}` as the code's name)",
    ),
    Criterion(
        "exception-event",
        'span(meta.annotation_type = "span_event" and name = "exception")',
        "a span recorded an exception (a span event named `exception`)",
    ),
)

_HERE: Final = Position("<default error criteria>")


@cache
def _parsed(text: str) -> Expr:
    from pytest_nectar.policy.match_parser import parse_match

    return parse_match(text, position=_HERE)


def default_error_match(position: Position = _HERE) -> Expr:
    """The default error expression: the criteria of the table, or-ed, labelled as the keyword.

    The label makes ``nectar fmt`` write the keyword back; the meaning is the table's.
    """
    return Or(tuple(c.expr for c in DEFAULT_CRITERIA), position, label=DEFAULT_KEYWORD)


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
            out.extend((c.name, c.expr) for c in DEFAULT_CRITERIA)
        else:
            name = next((c.name for c in DEFAULT_CRITERIA if c.expr == alt), None)
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
