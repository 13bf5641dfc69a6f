"""The ``learn`` model: a corpus's shape without its values, for a shareable synthetic twin.

What is learned, per operation (a service's span name and kind): how often it is an entry,
which operations it calls, how often and how many times (fan-out, sequential or parallel),
its self time (a log-normal fitted robustly, plus the share of long-tail outliers), how
often it fails and how (HTTP status under which attribute and type, gRPC codes, span
status alone, exception events, escaped or not), its plain span events and the links of
consumers to producers; for the whole corpus: the request rate (over the corpus's time
span, as VOPR measures it), sample rates and traces without roots.

What is copied verbatim (``Model.notes`` says how many of each): field names; service names,
span names, routes, HTTP methods and gRPC methods, instrumentation scope names, event names,
exception types and values of other attributes **only when they are low-cardinality: seen
in at least** :data:`MIN_TRACES` **distinct traces** (rarer names become ``service-N`` /
``operation-N``, rarer values are left out); status codes.  Never copied: ids, host names,
status and exception messages, URLs, user agents, free text, numbers other than status
codes, and any value seen in fewer than ``MIN_TRACES`` traces.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

import numpy as np

from pytest_nectar.corpus.table import Corpus
from pytest_nectar.synth.model import (
    GRPC_SERVER_FAULTS,
    Call,
    Failure,
    FailureKind,
    Model,
    Operation,
    Protocol,
    Quirks,
    Service,
    Value,
)
from pytest_nectar.trace_model import Span, Trace
from pytest_nectar.vopr.campaign_setup import corpus_rate
from pytest_nectar.vopr.trace_fields import DEFAULT_FIELDS, as_number

__all__ = ["MIN_TRACES", "learn_model"]

#: A value (or name) is copied only when this many distinct traces carry it.
MIN_TRACES: Final = 3
_MAX_CHOICES: Final = 10
_MAX_REPEAT: Final = 20
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


_Key = tuple[str, str, int]  # service, span name, span kind


@dataclass
class _Op:
    """What is seen of one operation across the corpus."""

    service: str
    name: str
    kind: int
    protocol: Protocol = Protocol.INTERNAL
    count: int = 0
    traces: set[int] = field(default_factory=set)
    self_ms: list[float] = field(default_factory=list)
    children: Counter[tuple[_Key, int]] = field(default_factory=Counter)  # (op, count) -> n
    with_child: Counter[_Key] = field(default_factory=Counter)
    failures: Counter[tuple[FailureKind, int, str, bool]] = field(default_factory=Counter)
    status_keys: Counter[tuple[str, bool]] = field(default_factory=Counter)
    sets_status: list[bool] = field(default_factory=list)
    routes: Counter[str] = field(default_factory=Counter)
    methods: Counter[str] = field(default_factory=Counter)
    events: Counter[str] = field(default_factory=Counter)
    values: dict[str, Counter[Value]] = field(default_factory=lambda: defaultdict(Counter))
    value_traces: dict[tuple[str, Value], set[int]] = field(
        default_factory=lambda: defaultdict(set)
    )

    @property
    def key(self) -> str:
        return f"{self.service}/{self.name}/{self.kind}"


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


def _is_fault(failure: tuple[FailureKind, int, str, bool] | None) -> bool:
    if failure is None:
        return False
    kind, code, _, escaped = failure
    if kind is FailureKind.HTTP:
        return code >= 500
    if kind is FailureKind.GRPC:
        return code in GRPC_SERVER_FAULTS
    return escaped


class _Learner:
    def __init__(self) -> None:
        self.ops: dict[_Key, _Op] = {}
        self.entries: Counter[_Key] = Counter()
        self.rootless = 0
        self.services: dict[str, set[str]] = defaultdict(set)  # service -> hosts
        self.service_traces: dict[str, set[int]] = defaultdict(set)
        self.scopes: dict[str, Counter[str]] = defaultdict(Counter)
        self.versions: dict[str, Counter[str]] = defaultdict(Counter)
        self.languages: dict[str, Counter[str]] = defaultdict(Counter)
        self.span_index: dict[str, _Key] = {}
        self.pending_links: list[tuple[_Key, str]] = []
        self.linked_roots: Counter[_Key] = Counter()
        self.traces = 0

    def op_of(self, data: Mapping[str, object]) -> _Key:
        service = data.get(_F.service)
        name = data.get("name")
        kind = _KINDS.get(str(data.get("span.kind", "")), 1)
        return (str(service) if service is not None else "unknown", str(name or ""), kind)

    def add(self, number: int, trace: Trace) -> None:
        self.traces += 1
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
                    target[service][value] += 1
            protocol = _protocol(d)
            kids = children.get(sid, [])
            # a client span whose child is another service's span is the call itself
            if key[2] == 3 and kids and any(self.op_of(k.data)[0] != service for k in kids):
                failed[sid] = any(failed.get(str(k.data.get(_F.span_id, "")), False) for k in kids)
                continue
            op = self.ops.get(key)
            if op is None:
                op = self.ops[key] = _Op(*key, protocol=protocol)
            op.count += 1
            op.traces.add(number)
            self.span_index[sid] = key
            if s.is_root:
                self.entries[key] += 1
            duration = as_number(d.get(_F.duration)) or 0.0
            callees = self._callees(s, children)
            busy = sum(as_number(c.data.get(_F.duration)) or 0.0 for c in callees)
            op.self_ms.append(max(duration - busy, duration * 0.05, 0.001))
            per = Counter(self.op_of(c.data) for c in callees)
            for child_key, n in per.items():
                op.children[(child_key, min(n, _MAX_REPEAT))] += 1
                op.with_child[child_key] += 1
            own = _failure_of(d, events.get(sid, []), protocol)
            child_failed = any(failed.get(str(c.data.get(_F.span_id, "")), False) for c in callees)
            failed[sid] = _is_fault(own)
            if own is not None and not (child_failed and _is_fault(own)):
                op.failures[own] += 1
                op.sets_status.append(own[3])
            for status_key in _F.http_status:
                if status_key in d and status_key != "http.status":
                    op.status_keys[(status_key, isinstance(d[status_key], str))] += 1
            route = d.get("http.route")
            if isinstance(route, str):
                op.routes[route] += 1
            method = d.get("http.request.method", d.get("http.method"))
            if isinstance(method, str):
                op.methods[method] += 1
            if protocol is Protocol.GRPC:
                rpc = f"{d.get('rpc.service', '')}/{d.get('rpc.method', '')}"
                op.methods[rpc] += 1
            for e in events.get(sid, []):
                name = e.get("name")
                if isinstance(name, str) and name != "exception":
                    op.events[name] += 1
            for k, v in d.items():
                if k in _STRUCTURAL or k.startswith(_NEVER_PREFIXES) or k.endswith(".id"):
                    continue
                if isinstance(v, str | bool | int) and not isinstance(v, float):
                    op.values[k][v] += 1
                    op.value_traces[(k, v)].add(number)

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

    # -- the model -------------------------------------------------------------------------

    def model(self, corpus: Corpus) -> Model:
        notes: list[str] = []
        service_names: dict[str, str] = {}
        for i, (name, traces) in enumerate(sorted(self.service_traces.items())):
            service_names[name] = name if len(traces) >= MIN_TRACES else f"service-{i + 1}"
        op_names: dict[_Key, tuple[str, str]] = {}
        renamed = 0
        for i, (key, op) in enumerate(sorted(self.ops.items())):
            service = service_names[key[0]]
            name = op.name if len(op.traces) >= MIN_TRACES else f"operation-{i + 1}"
            renamed += name != op.name
            op_names[key] = (service, name)
        keys = {k: f"{op_names[k][0]}/{op_names[k][1]}/{k[2]}" for k in self.ops}
        links: Counter[tuple[_Key, _Key]] = Counter()
        for consumer, producer_span in self.pending_links:
            producer = self.span_index.get(producer_span)
            if producer is not None and consumer in self.ops:
                links[(producer, consumer)] += 1
                self.linked_roots[consumer] += 1
        operations = []
        copied_values = 0
        for key, op in sorted(self.ops.items()):
            service, name = op_names[key]
            calls = []
            for child, with_child in sorted(op.with_child.items()):
                counts = [n for (c, n) in op.children if c == child]
                calls.append(
                    Call(
                        keys[child],
                        probability=round(with_child / op.count, 6),
                        repeat=(min(counts), max(counts)),
                    )
                )
            for (producer, consumer), n in sorted(links.items()):
                if producer == key:
                    calls.append(
                        Call(keys[consumer], probability=min(1.0, n / op.count), link=True)
                    )
            failures = []
            for (kind, code, etype, escaped), n in sorted(
                op.failures.items(), key=lambda kv: (kv[0][0].value, kv[0][1], kv[0][2])
            ):
                keep_type = (
                    etype
                    if sum(m for (k2, _, t2, _), m in op.failures.items() if t2 == etype)
                    >= MIN_TRACES
                    else "Error"
                )
                failures.append(
                    Failure(
                        kind,
                        round(n / op.count, 6),
                        code,
                        exception_type=keep_type,
                        message="synthetic failure",
                        escaped=escaped,
                    )
                )
            status_key, as_string = (
                op.status_keys.most_common(1)[0][0]
                if op.status_keys
                else ("http.response.status_code", False)
            )
            route = _common(op.routes, MIN_TRACES)
            method = _common(op.methods, MIN_TRACES)
            choices = []
            for attr, values in sorted(op.values.items()):
                present = sum(values.values())
                kept = [
                    (v, c)
                    for v, c in values.items()
                    if len(op.value_traces[(attr, v)]) >= MIN_TRACES
                ]
                if present < op.count / 2 or not kept or len(values) > _MAX_CHOICES:
                    continue
                total = sum(c for _, c in kept)
                choices.append(
                    (
                        attr,
                        tuple(
                            (v, round(c / total, 6))
                            for v, c in sorted(kept, key=lambda vc: (-vc[1], str(vc[0])))
                        ),
                    )
                )
                copied_values += len(kept)
            logs = np.log(np.asarray(op.self_ms, dtype=np.float64))
            median = float(np.median(logs))
            q25, q75 = (float(x) for x in np.percentile(logs, [25, 75]))
            sigma = min(2.5, max(0.05, (q75 - q25) / 1.349))
            tail = float(np.mean(logs > median + 3 * sigma))
            operations.append(
                Operation(
                    key=keys[key],
                    service=service,
                    name=name,
                    protocol=op.protocol,
                    kind=key[2],
                    latency_ms=round(math.exp(median), 6),
                    sigma=round(sigma, 6),
                    tail=round(tail, 6),
                    route=route,
                    method=method,
                    failures=tuple(failures),
                    calls=tuple(calls),
                    choices=tuple(choices),
                    events=tuple(
                        (n, round(min(1.0, c / op.count), 6))
                        for n, c in sorted(op.events.items())
                        if c >= MIN_TRACES
                    ),
                    http_status_key=status_key,
                    status_as_string=as_string,
                    sets_status=not op.sets_status
                    or sum(op.sets_status) * 2 >= len(op.sets_status),
                )
            )
        entries = tuple(
            (keys[k], float(n))
            for k, n in sorted(self.entries.items())
            if n > self.linked_roots.get(k, 0)
        )
        services = tuple(
            Service(
                service_names[name],
                _common(self.languages[name], MIN_TRACES),
                _common(self.versions[name], MIN_TRACES),
                _common(self.scopes[name], MIN_TRACES),
                max(1, min(5, len(self.services[name]))),
            )
            for name in sorted(self.service_traces)
        )
        weights = Counter(float(w) for w in corpus.weight.tolist())
        total = max(1, corpus.n_traces)
        rates = tuple((int(w), round(n / total, 6)) for w, n in sorted(weights.items()) if w > 1)
        duration = corpus.duration_s
        entry_traces = sum(n for _, n in entries)
        rate = corpus_rate(corpus) * (entry_traces / float(corpus.weight.sum() or 1.0))
        if not math.isfinite(duration) or duration <= 0:
            rate = corpus_rate(corpus)
        kept_names = sum(1 for k, v in service_names.items() if k == v)
        notes += [
            f"learned from {corpus.n_traces} traces, {corpus.n_rows} events "
            f"({', '.join(corpus.sources) or 'in memory'}); rate {rate:.6g} requests/s",
            f"copied: {kept_names} service names, {len(self.ops) - renamed} span names "
            f"(routes, methods, scopes alike), {copied_values} low-cardinality attribute "
            f"values, status codes; each seen in at least {MIN_TRACES} traces",
            "not copied: ids, hosts, messages, URLs, numbers other than status codes, "
            f"rarer names ({len(service_names) - kept_names} services, {renamed} operations "
            "renamed) and values",
        ]
        return Model(
            name="learned",
            services=services,
            operations=tuple(operations),
            entries=entries or ((operations[0].key, 1.0),),
            rate=rate,
            quirks=Quirks(
                rootless=round(self.rootless / max(1, self.traces), 6),
                sample_rates=rates,
            ),
            notes=tuple(notes),
        )


def _common(counter: Counter[str], minimum: int) -> str:
    """The most frequent value if it is frequent enough to be copied, else ""."""
    if not counter:
        return ""
    value, count = min(counter.items(), key=lambda kv: (-kv[1], kv[0]))
    return value if count >= minimum else ""


def learn_model(corpus: Corpus, traces: Iterable[Trace] | None = None) -> Model:
    """The model of a corpus's traffic (see the module docstring for what is copied)."""
    learner = _Learner()
    for number, trace in enumerate(corpus.iter_traces() if traces is None else traces):
        learner.add(number, trace)
    if not learner.ops:
        from pytest_nectar.errors import CorpusError

        raise CorpusError("the corpus holds no span to learn from", position=None)
    return learner.model(corpus)
