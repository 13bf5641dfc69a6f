"""The default error criteria's table: names, match-expression texts, the conventions.

Data only (the match parser builds ``default_errors`` from it; :mod:`.error_criteria` has
what reads it).  Attribute names and gRPC codes come from OpenTelemetry's
semantic-conventions package.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from opentelemetry.semconv._incubating.attributes.rpc_attributes import (
    RPC_GRPC_STATUS_CODE,
    RPC_RESPONSE_STATUS_CODE,
    RpcGrpcStatusCodeValues,
)

__all__ = ["DEFAULT_CRITERIA", "DEFAULT_KEYWORD", "GRPC_SERVER_FAULTS", "Criterion"]

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
