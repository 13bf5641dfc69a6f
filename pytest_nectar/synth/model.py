"""The traffic model a synthetic corpus is drawn from: services, operations, calls, failures.

A model is a frozen value.  The built-in ``shop`` model (``shop.py``) is written by hand; the
``learn`` model (``learn.py``) is derived from a corpus.  The generator (``generate.py``)
reads nothing else, so the same model and seed give the same traces.

An operation is one span a service emits (a server span for HTTP and gRPC, a client span
for a database, a producer or consumer span for messaging, an internal span otherwise).  A
call from an operation to an operation of another service adds the caller's client span
and the callee's span under it; a call to an operation of the same service (``local``)
adds the callee's span directly under the caller's.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

__all__ = [
    "GRPC_CODES",
    "GRPC_SERVER_FAULTS",
    "Call",
    "Failure",
    "FailureKind",
    "Model",
    "Operation",
    "Protocol",
    "Quirks",
    "Service",
    "Value",
]

#: An attribute value as OTLP carries it (int is intValue, float doubleValue).
Value = str | int | float | bool

#: gRPC status codes by number (grpc/codes).
GRPC_CODES: Final[Mapping[int, str]] = MappingProxyType(
    {
        0: "OK",
        1: "CANCELLED",
        2: "UNKNOWN",
        3: "INVALID_ARGUMENT",
        4: "DEADLINE_EXCEEDED",
        5: "NOT_FOUND",
        6: "ALREADY_EXISTS",
        7: "PERMISSION_DENIED",
        8: "RESOURCE_EXHAUSTED",
        9: "FAILED_PRECONDITION",
        10: "ABORTED",
        11: "OUT_OF_RANGE",
        12: "UNIMPLEMENTED",
        13: "INTERNAL",
        14: "UNAVAILABLE",
        15: "DATA_LOSS",
        16: "UNAUTHENTICATED",
    }
)
#: Codes a gRPC *server* span reports as status ERROR (OpenTelemetry's gRPC conventions).
GRPC_SERVER_FAULTS: Final = frozenset({2, 4, 12, 13, 14, 15})


class Protocol(enum.Enum):
    HTTP = "http"
    GRPC = "grpc"
    MESSAGING = "messaging"
    DB = "db"
    INTERNAL = "internal"


class FailureKind(enum.Enum):
    """How a failing span shows its failure (issue "verdicts a team can trust")."""

    HTTP = "http"  # an HTTP status on the operation's status attribute (code 4xx or 5xx)
    GRPC = "grpc"  # rpc.grpc.status_code (code non-zero)
    STATUS = "status"  # OpenTelemetry span status ERROR with a message, nothing else
    EXCEPTION = "exception"  # an `exception` span event; status ERROR only if ``escaped``


@dataclass(frozen=True, slots=True)
class Failure:
    """One way an operation fails, with its probability per span."""

    kind: FailureKind
    probability: float
    code: int = 0  # HTTP status or gRPC code
    exception_type: str = ""
    message: str = ""
    escaped: bool = True  # an exception that left the span: status ERROR too
    propagates: bool = True  # the caller fails too (its own protocol's failure)

    @property
    def is_fault(self) -> bool:
        """A server fault (not a client's 4xx or a gRPC client-side code)."""
        if self.kind is FailureKind.HTTP:
            return self.code >= 500
        if self.kind is FailureKind.GRPC:
            return self.code in GRPC_SERVER_FAULTS
        return self.kind is FailureKind.STATUS or self.escaped


@dataclass(frozen=True, slots=True)
class Call:
    """An outgoing call: to ``target`` (an operation key), ``repeat`` times, with a chance."""

    target: str
    probability: float = 1.0
    repeat: tuple[int, int] = (1, 1)  # fan-out: uniform count in [low, high]
    parallel: bool = False  # calls of one fan-out overlap in time
    link: bool = False  # a new trace that links back (messaging consumers)


@dataclass(frozen=True, slots=True)
class Operation:
    """One kind of span a service emits."""

    key: str  # unique: "service/name"
    service: str
    name: str  # the span name
    protocol: Protocol
    kind: int  # OTLP span kind: 1 internal, 2 server, 3 client, 4 producer, 5 consumer
    latency_ms: float  # median self time (the span minus its children)
    sigma: float = 0.5  # log-normal spread of the self time
    tail: float = 0.0  # chance of a long-tail outlier (x5..x40 self time)
    route: str = ""
    method: str = ""  # HTTP method, or "Service/Method" for gRPC
    failures: tuple[Failure, ...] = ()
    calls: tuple[Call, ...] = ()
    attributes: tuple[tuple[str, Value], ...] = ()
    choices: tuple[tuple[str, tuple[tuple[Value, float], ...]], ...] = ()  # key, (value, p)
    events: tuple[tuple[str, float], ...] = ()  # plain span events: (name, probability)
    http_status_key: str = "http.response.status_code"  # or the old http.status_code
    status_as_string: bool = False  # the status attribute is a string ("503"), as Envoy's
    sets_status: bool = True  # failures also set span status ERROR (per the conventions)


@dataclass(frozen=True, slots=True)
class Service:
    """A service: its resource attributes and instrumentation scope."""

    name: str
    language: str = ""
    version: str = ""
    scope: str = ""
    instances: int = 1  # pods: host.name values per service
    attributes: tuple[tuple[str, Value], ...] = ()


@dataclass(frozen=True, slots=True)
class Quirks:
    """What real pipelines do to traces, as shares of traces."""

    rootless: float = 0.0  # the root span never arrived
    orphans: float = 0.0  # a lone span whose parent is in no trace
    skew: float = 0.0  # one service's clock off by skew_ms in this trace
    skew_ms: tuple[float, float] = (50.0, 400.0)
    sample_rates: tuple[tuple[int, float], ...] = ()  # (SampleRate attribute, share)


@dataclass(frozen=True, slots=True)
class Model:
    """A whole traffic model."""

    name: str
    services: tuple[Service, ...]
    operations: tuple[Operation, ...]
    entries: tuple[tuple[str, float], ...]  # root operations and their shares
    rate: float  # traces per second, before the time profile
    quirks: Quirks = Quirks()
    notes: tuple[str, ...] = ()  # what a learned model copied from the corpus
    _by_key: Mapping[str, Operation] = field(
        default_factory=lambda: MappingProxyType({}), compare=False, repr=False
    )

    def __post_init__(self) -> None:
        by_key = {op.key: op for op in self.operations}
        object.__setattr__(self, "_by_key", MappingProxyType(by_key))

    def operation(self, key: str) -> Operation:
        return self._by_key[key]

    def service(self, name: str) -> Service:
        for service in self.services:
            if service.name == name:
                return service
        raise KeyError(name)

    def check(self) -> list[str]:
        """What is inconsistent in the model (empty when it can be generated from)."""
        problems = []
        names = {s.name for s in self.services}
        if not self.entries or sum(w for _, w in self.entries) <= 0:
            problems.append("the model has no entry operation")
        for key, _ in self.entries:
            if key not in self._by_key:
                problems.append(f"entry {key!r} is not an operation")
        for op in self.operations:
            if op.service not in names:
                problems.append(f"operation {op.key!r}: unknown service {op.service!r}")
            for call in op.calls:
                if call.target not in self._by_key:
                    problems.append(f"operation {op.key!r} calls unknown {call.target!r}")
        return problems
