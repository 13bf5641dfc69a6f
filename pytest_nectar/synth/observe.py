"""What the ``learn`` profile observes in a corpus, operation by operation.

An operation is a service's span name and kind.  A client span whose child is another
service's span is the call itself, not an operation: the generator makes client spans for
the calls it draws.  Per operation: counts, the traces it occurs in (for the copy threshold),
its self time, its callees and fan-out, how it failed when no callee failed, its status
attribute's name and type, routes, methods, plain span events and low-cardinality values.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from pytest_nectar.synth.model import (
    GRPC_SERVER_FAULTS,
    FailureKind,
    Protocol,
    Value,
)
from pytest_nectar.trace import Span, Trace
from pytest_nectar.vopr.trace_fields import DEFAULT_FIELDS, as_number

__all__ = ["MIN_TRACES", "Observer", "OpKey", "OpStats", "is_fault"]

#: A value (or name) is copied only when this many distinct traces carry it.
MIN_TRACES: Final = 3
_MAX_REPEAT: Final = 20
_SKEW_S: Final = 0.001  # a child that starts this much before its parent shows clock skew
_F = DEFAULT_FIELDS
_KINDS: Final = {"internal": 1, "server": 2, "client": 3, "producer": 4, "consumer": 5}
#: Fields the generator writes itself, or that are never copied.
_STRUCTURAL: Final = frozenset(
    {
        "name",
        "service.name",
        "span.kind",
        "type",
        "status_code",
        "status_message",
        "error",
        "duration_ms",
        "host.name",
        "library.name",
        "library.version",
        "http.route",
        "http.method",
        "http.request.method",
        "http.status_code",
        "http.response.status_code",
        "rpc.system",
        "rpc.service",
        "rpc.method",
        "rpc.grpc.status_code",
        "span.num_events",
        "span.num_links",
        "parent_name",
        "SampleRate",
        "sampleRate",
        "server.address",
        "telemetry.instrumentation_library",
    }
)
_NEVER_PREFIXES: Final = (
    "trace.",
    "meta.",
    "exception.",
    "url.",
    "user_agent.",
    "net.",
    "http.url",
    "http.target",
    "network.",
    "client.",
    "peer.",
    "k8s.pod",
    "container.id",
    "process.",
    "enduser.",
    "user.",
    "session.",
    # resource attributes: the model's services carry their own
    "service.",
    "telemetry.",
    "host.",
    "os.",
    "cloud.",
    "deployment.",
)


def _id(span: Span) -> str:
    return str(span.data.get(_F.span_id, ""))


def _is_span(data: Mapping[str, object]) -> bool:
    return "meta.annotation_type" not in data


def _protocol(data: Mapping[str, object]) -> Protocol:
    if data.get("rpc.system") == "grpc" or "rpc.grpc.status_code" in data:
        return Protocol.GRPC
    if any(
        k in data for k in (*_F.http_status, "http.route", "http.method", "http.request.method")
    ):
        return Protocol.HTTP
    if "messaging.system" in data:
        return Protocol.MESSAGING
    if "db.system" in data or "db.system.name" in data:
        return Protocol.DB
    return Protocol.INTERNAL


OpKey = tuple[str, str, int]  # service, span name, span kind


@dataclass
class OpStats:
    """What is seen of one operation across the corpus."""

    service: str
    name: str
    kind: int
    protocol: Protocol = Protocol.INTERNAL
    count: int = 0
    traces: set[int] = field(default_factory=set)
    self_ms: list[float] = field(default_factory=list)
    children: Counter[tuple[OpKey, int]] = field(default_factory=Counter)  # (op, count) -> n
    with_child: Counter[OpKey] = field(default_factory=Counter)
    fanned: Counter[OpKey] = field(default_factory=Counter)  # calls it made more than once
    overlapped: Counter[OpKey] = field(default_factory=Counter)  # ... of which overlapped
    failures: Counter[tuple[FailureKind, int, str, bool]] = field(default_factory=Counter)
    status_keys: Counter[tuple[str, bool]] = field(default_factory=Counter)
    sets_status: list[bool] = field(default_factory=list)
    # value -> the traces it occurs in (what the copy threshold counts)
    routes: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    methods: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    exception_types: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    event_traces: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    events: Counter[str] = field(default_factory=Counter)
    values: dict[str, Counter[Value]] = field(default_factory=lambda: defaultdict(Counter))
    value_traces: dict[tuple[str, Value], set[int]] = field(
        default_factory=lambda: defaultdict(set)
    )


def _failure_of(
    data: Mapping[str, object], events: list[Mapping[str, object]], protocol: Protocol
) -> tuple[FailureKind, int, str, bool] | None:
    """How a span failed: (kind, code, exception type, escaped), or None."""
    error = as_number(data.get(_F.status_code)) == 2 or data.get(_F.error) is True
    for key in _F.http_status:
        code = as_number(data.get(key))
        if code is not None and code >= 400 and protocol is Protocol.HTTP:
            return FailureKind.HTTP, int(code), "", error
    code = as_number(data.get("rpc.grpc.status_code"))
    if code is not None and code != 0:
        return FailureKind.GRPC, int(code), "", error
    exception = next((e for e in events if e.get("name") == "exception"), None)
    if exception is not None or "exception.type" in data:
        source = exception if exception is not None else data
        kind = source.get("exception.type")
        return FailureKind.EXCEPTION, 0, kind if isinstance(kind, str) else "", error
    if error:
        return FailureKind.STATUS, 0, "", True
    return None


def is_fault(failure: tuple[FailureKind, int, str, bool] | None) -> bool:
    if failure is None:
        return False
    kind, code, _, escaped = failure
    if kind is FailureKind.HTTP:
        return code >= 500
    if kind is FailureKind.GRPC:
        return code in GRPC_SERVER_FAULTS
    return escaped


class Observer:
    """Everything seen of a corpus, trace by trace (``add``)."""

    def __init__(self) -> None:
        self.ops: dict[OpKey, OpStats] = {}
        self.entries: dict[OpKey, float] = defaultdict(float)  # traces started by each
        self.rootless = 0
        self.skews: list[float] = []  # per skewed trace: how far a child led its parent (s)
        self.services: dict[str, set[str]] = defaultdict(set)  # service -> hosts
        self.service_traces: dict[str, set[int]] = defaultdict(set)
        # service -> value -> the traces it occurs in
        self.scopes: dict[str, dict[str, set[int]]] = defaultdict(lambda: defaultdict(set))
        self.versions: dict[str, dict[str, set[int]]] = defaultdict(lambda: defaultdict(set))
        self.languages: dict[str, dict[str, set[int]]] = defaultdict(lambda: defaultdict(set))
        self.span_index: dict[str, OpKey] = {}
        self.pending_links: list[tuple[OpKey, str]] = []
        self.linked_roots: Counter[OpKey] = Counter()
        self.traces = 0

    def op_of(self, data: Mapping[str, object]) -> OpKey:
        service = data.get(_F.service)
        name = data.get("name")
        kind = _KINDS.get(str(data.get("span.kind", "")), 1)
        return (str(service) if service is not None else "unknown", str(name or ""), kind)

    def add(self, number: int, trace: Trace, times: Sequence[float] = ()) -> None:
        """One trace; ``times`` are its rows' start times in seconds (NaN when unknown)."""
        self.traces += 1
        start = {
            str(s.data.get(_F.span_id, "")): t
            for s, t in zip(trace.spans, times, strict=False)
            if _is_span(s.data) and math.isfinite(t)
        }
        skew = 0.0
        spans = [s for s in trace.spans if _is_span(s.data)]
        by_id = {str(s.data.get(_F.span_id, "")): s for s in spans}
        events: dict[str, list[Mapping[str, object]]] = defaultdict(list)
        for s in trace.spans:
            kind = s.data.get("meta.annotation_type")
            parent = str(s.data.get("trace.parent_id", ""))
            if kind == "span_event":
                events[parent].append(s.data)
            elif kind == "link":
                self.pending_links.append(
                    (
                        self.op_of(by_id[parent].data) if parent in by_id else ("", "", 0),
                        str(s.data.get("trace.link.span_id", "")),
                    )
                )
        children: dict[str, list[Span]] = defaultdict(list)
        for s in spans:
            parent = str(s.data.get("trace.parent_id", ""))
            if parent:
                children[parent].append(s)
        if trace.root is None:
            self.rootless += 1
        failed: dict[str, bool] = {}
        # children first, so a parent knows whether a child failed
        order = self._post_order(spans, children)
        tops = sum(1 for s in spans if str(s.data.get("trace.parent_id", "")) not in by_id) or 1
        for s in order:
            d = s.data
            sid = str(d.get(_F.span_id, ""))
            key = self.op_of(d)
            service = key[0]
            self.service_traces[service].add(number)
            host = d.get("host.name")
            if isinstance(host, str):
                self.services[service].add(host)
            for source, target in (
                ("library.name", self.scopes),
                ("service.version", self.versions),
                ("telemetry.sdk.language", self.languages),
            ):
                value = d.get(source)
                if isinstance(value, str):
                    target[service][value].add(number)
            protocol = _protocol(d)
            kids = children.get(sid, [])
            for kid in kids:  # a child that starts before its parent: a clock is off
                lead = start.get(sid, math.nan) - start.get(_id(kid), math.nan)
                if lead > _SKEW_S:
                    skew = max(skew, lead)
            top = str(d.get("trace.parent_id", "")) not in by_id  # a root, or a fragment's top
            # a client span under an operation, whose child is another service's span, is the
            # call itself; a client span at the top (a load generator, a browser) is an entry
            if (
                key[2] == 3
                and not top
                and kids
                and any(self.op_of(k.data)[0] != service for k in kids)
            ):
                failed[sid] = any(failed.get(str(k.data.get(_F.span_id, "")), False) for k in kids)
                continue
            op = self.ops.get(key)
            if op is None:
                op = self.ops[key] = OpStats(*key, protocol=protocol)
            op.count += 1
            op.traces.add(number)
            self.span_index[sid] = key
            if top:  # every trace counts once, however many fragments it arrived in
                self.entries[key] += 1.0 / tops
            duration = as_number(d.get(_F.duration)) or 0.0
            callees = self._callees(s, children)
            busy = sum(as_number(c.data.get(_F.duration)) or 0.0 for c in callees)
            op.self_ms.append(max(duration - busy, duration * 0.05, 0.001))
            per = Counter(self.op_of(c.data) for c in callees)
            for child_key, n in per.items():
                op.children[(child_key, min(n, _MAX_REPEAT))] += 1
                op.with_child[child_key] += 1
            self._fan_out(op, callees, start)
            own = _failure_of(d, events.get(sid, []), protocol)
            child_failed = any(failed.get(str(c.data.get(_F.span_id, "")), False) for c in callees)
            failed[sid] = is_fault(own)
            if own is not None and not (child_failed and is_fault(own)):
                op.failures[own] += 1
                if own[2]:
                    op.exception_types[own[2]].add(number)
                op.sets_status.append(own[3])
            for status_key in _F.http_status:
                if status_key in d and status_key != "http.status":
                    op.status_keys[(status_key, isinstance(d[status_key], str))] += 1
            route = d.get("http.route")
            if isinstance(route, str):
                op.routes[route].add(number)
            method = d.get("http.request.method", d.get("http.method"))
            if isinstance(method, str):
                op.methods[method].add(number)
            if protocol is Protocol.GRPC:
                rpc = f"{d.get('rpc.service', '')}/{d.get('rpc.method', '')}"
                op.methods[rpc].add(number)
            for e in events.get(sid, []):
                name = e.get("name")
                if isinstance(name, str) and name != "exception":
                    op.events[name] += 1
                    op.event_traces[name].add(number)
            for k, v in d.items():
                if k in _STRUCTURAL or k.startswith(_NEVER_PREFIXES) or k.endswith(".id"):
                    continue
                if isinstance(v, str | bool | int) and not isinstance(v, float):
                    op.values[k][v] += 1
                    op.value_traces[(k, v)].add(number)
        if skew:
            self.skews.append(skew)

    def _fan_out(self, op: OpStats, callees: list[Span], start: Mapping[str, float]) -> None:
        """Whether the calls an operation makes more than once to one callee overlap."""
        groups: dict[OpKey, list[tuple[float, float]]] = defaultdict(list)
        for c in callees:
            t = start.get(_id(c))
            if t is not None:
                ms = as_number(c.data.get(_F.duration)) or 0.0
                groups[self.op_of(c.data)].append((t, t + ms / 1000.0))
        for key, spans in groups.items():
            if len(spans) < 2:
                continue
            spans.sort()
            op.fanned[key] += 1
            if any(b[0] < a[1] for a, b in itertools.pairwise(spans)):
                op.overlapped[key] += 1

    def _post_order(self, spans: list[Span], children: dict[str, list[Span]]) -> list[Span]:
        ids = {str(s.data.get(_F.span_id, "")) for s in spans}
        tops = [s for s in spans if str(s.data.get("trace.parent_id", "")) not in ids]
        out: list[Span] = []
        stack: list[tuple[Span, bool]] = [(s, False) for s in reversed(tops)]
        seen: set[int] = set()
        while stack:
            span, done = stack.pop()
            if done:
                out.append(span)
                continue
            if id(span) in seen:
                continue
            seen.add(id(span))
            stack.append((span, True))
            sid = str(span.data.get(_F.span_id, ""))
            stack.extend((k, False) for k in reversed(children.get(sid, [])))
        return out

    def _callees(self, span: Span, children: dict[str, list[Span]]) -> list[Span]:
        """The operations a span calls: children, seen through cross-service client spans."""
        out = []
        service = self.op_of(span.data)[0]
        for child in children.get(str(span.data.get(_F.span_id, "")), []):
            key = self.op_of(child.data)
            grand = children.get(str(child.data.get(_F.span_id, "")), [])
            if key[2] == 3 and grand and any(self.op_of(g.data)[0] != service for g in grand):
                out.extend(grand)
            else:
                out.append(child)
        return out
