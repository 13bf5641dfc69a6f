"""Traces drawn from a :class:`~pytest_nectar.synth.model.Model`, from one explicit seed.

Every random choice comes from VOPR's seeded ChaCha family (``RngFamily("synth", seed)``),
one substream per purpose (arrival times, trace shapes, ids), drawn in blocks and consumed
in a fixed order: the same model, options and seed give the same traces, value for value,
on any machine.  Times are whole microseconds (kept as integer nanoseconds), so a last-bit
difference in a platform's ``exp`` cannot change a byte of the output.

The generator walks the model's call graph from an entry operation: each operation's span
gets a log-normal self time (with rare long-tail outliers), its calls (sequential or
parallel fan-out, client span plus the callee's span), its own failure or one propagated
from a callee, span events, and the attributes its protocol's conventions give it.
Messaging consumers start new traces that link back to the producer.  Then the quirks:
head-sampled traces carry ``SampleRate``, some roots never arrive, some lone spans' parents
are in no trace, and one service's clock is sometimes off.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Final

from pytest_nectar.synth.arrivals import PROFILES, arrival_times
from pytest_nectar.synth.draws import Draws, micros, pick
from pytest_nectar.synth.model import (
    GRPC_SERVER_FAULTS,
    Failure,
    FailureKind,
    Model,
    Operation,
    Protocol,
    Value,
)
from pytest_nectar.vopr.rng import RngFamily

__all__ = ["PROFILES", "SynSpan", "SynTrace", "arrival_times", "generate"]

_DIRECT: Final = (Protocol.INTERNAL, Protocol.MESSAGING)  # called without a client span
_PROPAGATE: Final = 0.8  # chance that a callee's server fault fails its caller too


@dataclass(slots=True)
class SynSpan:
    """One generated span, in OTLP terms (times in integer nanoseconds)."""

    trace_id: str
    span_id: str
    parent_id: str
    name: str
    kind: int
    start: int
    end: int
    service: str
    instance: int
    attributes: list[tuple[str, Value]]
    status: int = 0  # 0 unset, 2 error
    message: str = ""
    events: list[tuple[str, int, list[tuple[str, Value]]]] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)


@dataclass(slots=True)
class SynTrace:
    trace_id: str
    start: int
    spans: list[SynSpan]


@dataclass(slots=True)
class _Walk:
    """The trace being built: its id, its spans (parents first), each service's instance."""

    trace_id: str
    spans: list[SynSpan] = field(default_factory=list)
    pods: dict[str, int] = field(default_factory=dict)


class _Builder:
    """Walks the model for one trace at a time (state: the draws and pending traces)."""

    def __init__(self, model: Model, draws: Draws) -> None:
        self.model = model
        self.d = draws
        self.pending: list[SynTrace] = []  # traces started by messaging consumers
        total = sum(w for _, w in model.entries)
        self._entries = [(model.operation(k), w / total) for k, w in model.entries]
        self._instances = {s.name: max(1, s.instances) for s in model.services}

    def pick_entry(self) -> Operation:
        return pick(self.d.u(), self._entries) or self._entries[-1][0]

    def instance(self, service: str) -> int:
        return self.d.integer(0, self._instances.get(service, 1) - 1)

    # -- one operation's span and its subtree -----------------------------------------

    def spans(self, op: Operation, trace_id: str, parent: str, start: int) -> list[SynSpan]:
        """A new trace's spans from ``op`` down, parents before children."""
        walk = _Walk(trace_id)
        self.operation(op, parent, start, walk)
        return walk.spans

    def pod(self, walk: _Walk, service: str) -> int:
        """The instance that serves ``service`` throughout this trace."""
        return walk.pods.setdefault(service, self.instance(service))

    def operation(
        self, op: Operation, parent: str, start: int, walk: _Walk
    ) -> tuple[int, Failure | None]:
        d = self.d
        trace_id, out = walk.trace_id, walk.spans
        span_id = d.span_id()
        self_ms = op.latency_ms * math.exp(op.sigma * d.z())
        if op.tail and d.u() < op.tail:
            self_ms *= d.between(5.0, 40.0)
        self_ns = micros(self_ms)
        at = len(out)
        out.append(None)  # type: ignore[arg-type]  # filled below: parents before children
        t = start + self_ns * 2 // 5
        callee_fault: Failure | None = None
        for call in op.calls:
            if call.probability < 1.0 and d.u() >= call.probability:
                continue
            n = d.integer(*call.repeat) if call.repeat != (1, 1) else 1
            if call.link:
                self.pending.append(self.linked(call.target, trace_id, span_id, t))
                continue
            begin, latest = t, t
            for _ in range(n):
                end, fault = self.call(op, call.target, span_id, begin, walk)
                latest = max(latest, end)
                gap = micros(d.between(0.01, 0.2))  # drawn either way: same stream
                if not call.parallel:
                    begin = end + gap
                callee_fault = callee_fault or fault
            t = latest
        end = t + self_ns - self_ns * 2 // 5
        failure = self.own_failure(op)
        # a proxy (Envoy: its status is a string) always passes its upstream's failure on
        if (
            failure is None
            and callee_fault is not None
            and (op.status_as_string or d.u() < _PROPAGATE)
        ):
            failure = _propagated(op, callee_fault)
        service = op.service
        span = SynSpan(
            trace_id,
            span_id,
            parent,
            op.name,
            op.kind,
            start,
            end,
            service,
            self.pod(walk, service),
            self.attributes(op, failure),
        )
        self.outcome(op, span, failure)
        for name, p in op.events:
            if d.u() < p:
                span.events.append((name, start + int(d.u() * (end - start)), []))
        out[at] = span
        fault = failure if failure is not None and failure.is_fault and failure.propagates else None
        return end, fault

    def own_failure(self, op: Operation) -> Failure | None:
        if not op.failures:
            return None
        return pick(self.d.u(), ((f, f.probability) for f in op.failures))

    def call(
        self, caller: Operation, key: str, parent: str, start: int, walk: _Walk
    ) -> tuple[int, Failure | None]:
        target = self.model.operation(key)
        # within a service, to internal work and consumers, and from a client operation
        # (a load generator's request is itself the client span): no client span of its own
        if target.service == caller.service or target.protocol in _DIRECT or caller.kind == 3:
            return self.operation(target, parent, start, walk)
        d, trace_id, out = self.d, walk.trace_id, walk.spans
        if target.protocol is Protocol.DB:  # an uninstrumented store: the caller's span only
            span = SynSpan(
                trace_id,
                d.span_id(),
                parent,
                target.name,
                3,
                start,
                0,
                caller.service,
                self.pod(walk, caller.service),
                [*target.attributes, ("server.address", target.service)],
            )
            self_ns = micros(target.latency_ms * math.exp(target.sigma * d.z()))
            if target.tail and d.u() < target.tail:
                self_ns *= 20
            span.end = start + self_ns
            out.append(span)
            return span.end, None
        client_id = d.span_id()
        at = len(out)
        out.append(None)  # type: ignore[arg-type]
        there = start + micros(d.between(0.1, 1.2))
        end, fault = self.operation(target, client_id, there, walk)
        server = out[at + 1]  # the callee's span: the first placed after the client's
        back = end + micros(d.between(0.1, 1.2))
        attrs: list[tuple[str, Value]]
        status = 0
        if target.protocol is Protocol.GRPC:
            service, _, method = target.method.partition("/")
            code = next((int(v) for k, v in server.attributes if k == "rpc.grpc.status_code"), 0)
            attrs = [
                ("rpc.system", "grpc"),
                ("rpc.service", service),
                ("rpc.method", method),
                ("server.address", target.service),
                ("rpc.grpc.status_code", code),
            ]
            # the client side records the code; like the server, some stacks set no status
            status = 2 if code and target.sets_status else 0
            name = target.method
        else:
            code = next((int(v) for k, v in server.attributes if k == target.http_status_key), 200)
            attrs = [
                ("http.request.method", target.method),
                ("server.address", target.service),
                ("http.response.status_code", code),
            ]
            status = 2 if code >= 400 else 0
            name = target.method
        out[at] = SynSpan(
            trace_id,
            client_id,
            parent,
            name,
            3,
            start,
            back,
            caller.service,
            self.pod(walk, caller.service),
            attrs,
            status,
            server.message if status else "",
        )
        return back, fault

    def linked(self, key: str, producer_trace: str, producer_span: str, at: int) -> SynTrace:
        """A consumer's own trace, linked to the producer span that published the message."""
        target = self.model.operation(key)
        trace_id = self.d.trace_id()
        start = at + micros(self.d.between(1.0, 80.0))
        spans = self.spans(target, trace_id, "", start)
        spans[0].links.append((producer_trace, producer_span))
        return SynTrace(trace_id, start, spans)

    # -- attributes and outcome ----------------------------------------------------------

    def attributes(self, op: Operation, failure: Failure | None) -> list[tuple[str, Value]]:
        attrs: list[tuple[str, Value]] = []
        if op.protocol is Protocol.HTTP:
            code = 200
            if failure is not None and failure.kind is FailureKind.HTTP:
                code = failure.code
            elif failure is not None and failure.is_fault:
                code = 500
            stable = op.http_status_key == "http.response.status_code"
            if op.method:  # a learned operation may have neither (its values were rare)
                attrs.append(("http.request.method" if stable else "http.method", op.method))
            if op.route:
                attrs.append(("http.route", op.route))
            attrs.append((op.http_status_key, str(code) if op.status_as_string else code))
        elif op.protocol is Protocol.GRPC:
            code = 0
            if failure is not None and failure.kind is FailureKind.GRPC:
                code = failure.code
            elif failure is not None and failure.is_fault:
                code = 2
            service, _, method = op.method.partition("/")
            attrs += [("rpc.system", "grpc"), ("rpc.service", service), ("rpc.method", method)]
            attrs.append(("rpc.grpc.status_code", code))
        attrs.extend(op.attributes)
        for key, options in op.choices:
            chosen = pick(self.d.u(), options)
            attrs.append((key, options[-1][0] if chosen is None else chosen))
        return attrs

    def outcome(self, op: Operation, span: SynSpan, failure: Failure | None) -> None:
        if failure is None:
            return
        kind = failure.kind
        error = False
        if kind is FailureKind.STATUS:
            error = True
        elif kind is FailureKind.EXCEPTION:
            when = span.end - (span.end - span.start) // 10
            span.events.append(
                (
                    "exception",
                    when,
                    [
                        ("exception.type", failure.exception_type),
                        ("exception.message", failure.message),
                        ("exception.escaped", failure.escaped),
                    ],
                )
            )
            error = failure.escaped
        elif op.sets_status:
            if kind is FailureKind.HTTP:
                error = failure.code >= 500 and op.kind == 2
            elif kind is FailureKind.GRPC:
                error = failure.code in GRPC_SERVER_FAULTS
        if error:
            span.status = 2
            span.message = failure.message


def _propagated(op: Operation, cause: Failure) -> Failure:
    """The caller's own failure when a callee's server fault reaches it."""
    message = f"downstream failure: {cause.message}" if cause.message else "downstream failure"
    if op.protocol is Protocol.HTTP:
        code = 500
        if op.status_as_string:  # a proxy: the upstream's own 5xx, or Bad Gateway
            code = cause.code if cause.kind is FailureKind.HTTP else 502
        return Failure(FailureKind.HTTP, 0.0, code, message=message)
    if op.protocol is Protocol.GRPC:
        code = cause.code if cause.kind is FailureKind.GRPC else 2
        return Failure(FailureKind.GRPC, 0.0, code, message=message)
    return Failure(FailureKind.STATUS, 0.0, message=message)


def generate(
    model: Model,
    seed: int,
    *,
    traces: int | None = None,
    rate: float | None = None,
    duration: float = 60.0,
    profile: str = "steady",
    start_ns: int = 0,
) -> Iterator[SynTrace]:
    """The traces of a synthetic corpus in start order: ``traces`` requests, or a Poisson
    number at ``rate`` (default: the model's) over ``duration`` seconds."""
    family = RngFamily("synth", seed)
    offsets = arrival_times(
        profile,
        model.rate if rate is None else rate,
        duration,
        traces,
        family,
        start_ns / 1e9,
    )
    builder = _Builder(model, Draws(family))
    d = builder.d
    quirks = model.quirks
    rates = list(quirks.sample_rates)
    waiting: list[SynTrace] = []
    for offset in offsets.tolist():
        start = start_ns + offset * 1000
        entry = builder.pick_entry()
        trace_id = d.trace_id()
        spans = builder.spans(entry, trace_id, "", start)
        sample = pick(d.u(), rates) or 0
        if sample > 1:
            for s in spans:
                s.attributes.append(("SampleRate", sample))
        if quirks.skew and d.u() < quirks.skew and len(spans) > 1:
            victim = spans[d.integer(1, len(spans) - 1)].service
            shift = micros(d.between(*quirks.skew_ms)) * (1 if d.u() < 0.5 else -1)
            for s in spans:
                if s.service == victim:
                    s.start += shift
                    s.end += shift
                    s.events = [(n, t + shift, a) for n, t, a in s.events]
        if quirks.rootless and d.u() < quirks.rootless and len(spans) > 1:
            spans = spans[1:]
        waiting.extend(builder.pending)
        builder.pending.clear()
        if quirks.orphans and d.u() < quirks.orphans:
            waiting.append(_orphan(builder, start))
        waiting.sort(key=lambda t: t.start)
        while waiting and waiting[0].start <= start:
            yield waiting.pop(0)
        yield SynTrace(trace_id, start, spans)
    yield from waiting


def _orphan(builder: _Builder, start: int) -> SynTrace:
    """A lone span (with its subtree) whose parent is in no trace of the corpus."""
    d = builder.d
    ops = [op for op in builder.model.operations if op.kind == 2]
    op = ops[d.integer(0, len(ops) - 1)] if ops else builder.model.operations[0]
    trace_id = d.trace_id()
    at = start + micros(d.between(1.0, 500.0))
    spans = builder.spans(op, trace_id, d.span_id(), at)
    return SynTrace(trace_id, spans[0].start, spans)
