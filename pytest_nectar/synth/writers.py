"""Generated traces in every format the corpus reads, byte-stable.

* ``otlp-jsonl``: the OpenTelemetry Collector file exporter's JSON Lines, one
  ``ExportTraceServiceRequest`` per second of trace starts (as a batch processor flushes);
* ``otlp``: one ``ExportTraceServiceRequest`` holding every span;
* ``jaeger``: the Jaeger query API's ``{"data": [trace, ...]}``;
* ``zipkin``: a Zipkin v2 span list (tags are strings; Zipkin has no links and no
  attributes on annotations, so links are dropped and an exception's type and message
  become span tags, which is where Husky puts them anyway);
* ``honeycomb``: Honeycomb events as JSON Lines (``{"time", "samplerate", "data"}``),
  flattened by Nectar's own Husky flattening, so their fields are what Refinery would see.

JSON is written with insertion-ordered keys built in a fixed order, ids in lowercase hex,
times as integers, and floats by Python's shortest round-trip ``repr`` (the same digits on
every IEEE 754 machine): the same traces give the same bytes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, Final

from pytest_nectar.corpus.husky import flatten_span, scope_and_resource_fields
from pytest_nectar.synth.generate import SynSpan, SynTrace
from pytest_nectar.synth.model import Model, Value

__all__ = ["FORMATS", "write"]

FORMATS: Final = ("otlp-jsonl", "otlp", "jaeger", "zipkin", "honeycomb")
_KIND_NAMES: Final = {1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}
_ZIPKIN_KINDS: Final = {2: "SERVER", 3: "CLIENT", 4: "PRODUCER", 5: "CONSUMER"}
_BATCH_NS: Final = 1_000_000_000


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _any(value: Value) -> dict[str, object]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}  # proto3 JSON writes int64 as a string
    if isinstance(value, float):
        return {"doubleValue": value}
    return {"stringValue": value}


def _attrs(items: Iterable[tuple[str, Value]]) -> list[dict[str, object]]:
    return [{"key": k, "value": _any(v)} for k, v in items]


class _Resources:
    """Resource attributes and scope per (service, instance): fixed by the model alone."""

    def __init__(self, model: Model) -> None:
        self._services = {s.name: s for s in model.services}
        self._cache: dict[tuple[str, int], list[tuple[str, Value]]] = {}

    def host(self, service: str, instance: int) -> str:
        digest = hashlib.blake2b(f"{service}/{instance}".encode(), digest_size=5).hexdigest()
        return f"{service}-{digest[:5]}-{digest[5:]}"

    def attributes(self, service: str, instance: int) -> list[tuple[str, Value]]:
        key = (service, instance)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        info = self._services.get(service)
        found: list[tuple[str, Value]] = [("service.name", service)]
        if info is not None and info.version:
            found.append(("service.version", info.version))
        if info is not None and info.language:
            found.append(("telemetry.sdk.language", info.language))
            found.append(("telemetry.sdk.name", "opentelemetry"))
        found.append(("host.name", self.host(service, instance)))
        if info is not None:
            found.extend(info.attributes)
        self._cache[key] = found
        return found

    def scope(self, service: str) -> str:
        info = self._services.get(service)
        return info.scope if info is not None else ""


# -- OTLP ----------------------------------------------------------------------------------


def _otlp_span(span: SynSpan) -> dict[str, object]:
    out: dict[str, object] = {"traceId": span.trace_id, "spanId": span.span_id}
    if span.parent_id:
        out["parentSpanId"] = span.parent_id
    out["name"] = span.name
    out["kind"] = span.kind
    out["startTimeUnixNano"] = str(span.start)
    out["endTimeUnixNano"] = str(span.end)
    out["attributes"] = _attrs(span.attributes)
    if span.events:
        out["events"] = [
            {"timeUnixNano": str(t), "name": n, "attributes": _attrs(a)} for n, t, a in span.events
        ]
    if span.links:
        out["links"] = [{"traceId": t, "spanId": s} for t, s in span.links]
    status: dict[str, object] = {}
    if span.status:
        status["code"] = span.status
        if span.message:
            status["message"] = span.message
    out["status"] = status
    return out


def _otlp_request(spans: Iterable[SynSpan], res: _Resources) -> dict[str, object]:
    groups: dict[tuple[str, int], list[dict[str, object]]] = {}
    for span in spans:
        groups.setdefault((span.service, span.instance), []).append(_otlp_span(span))
    resource_spans = []
    for (service, instance), items in groups.items():
        scope: dict[str, object] = {}
        name = res.scope(service)
        if name:
            scope["name"] = name
        resource_spans.append(
            {
                "resource": {"attributes": _attrs(res.attributes(service, instance))},
                "scopeSpans": [{"scope": scope, "spans": items}],
            }
        )
    return {"resourceSpans": resource_spans}


def _otlp_jsonl(traces: Iterable[SynTrace], res: _Resources) -> Iterable[str]:
    batch: list[SynSpan] = []
    window = None
    for trace in traces:
        slot = trace.start // _BATCH_NS
        if window is not None and slot != window and batch:
            yield _dumps(_otlp_request(batch, res)) + "\n"
            batch = []
        window = slot
        batch.extend(trace.spans)
    if batch:
        yield _dumps(_otlp_request(batch, res)) + "\n"


def _otlp(traces: Iterable[SynTrace], res: _Resources) -> Iterable[str]:
    spans = [s for t in traces for s in t.spans]
    yield _dumps(_otlp_request(spans, res)) + "\n"


# -- Jaeger ----------------------------------------------------------------------------------


def _tag(key: str, value: Value) -> dict[str, object]:
    if isinstance(value, bool):
        return {"key": key, "type": "bool", "value": value}
    if isinstance(value, int):
        return {"key": key, "type": "int64", "value": value}
    if isinstance(value, float):
        return {"key": key, "type": "float64", "value": value}
    return {"key": key, "type": "string", "value": value}


def _jaeger(traces: Iterable[SynTrace], res: _Resources) -> Iterable[str]:
    data = []
    for trace in traces:
        processes: dict[str, dict[str, object]] = {}
        ids: dict[tuple[str, int], str] = {}
        spans = []
        for span in trace.spans:
            key = (span.service, span.instance)
            pid = ids.get(key)
            if pid is None:
                pid = ids[key] = f"p{len(ids) + 1}"
                attrs = res.attributes(*key)
                processes[pid] = {
                    "serviceName": span.service,
                    "tags": [_tag(k, v) for k, v in attrs if k != "service.name"],
                }
            tags = [_tag(k, v) for k, v in span.attributes]
            scope = res.scope(span.service)
            if scope:
                tags.append(_tag("otel.scope.name", scope))
            tags.append(_tag("span.kind", _KIND_NAMES.get(span.kind, "internal")))
            if span.status == 2:
                tags.append(_tag("otel.status_code", "ERROR"))
                if span.message:
                    tags.append(_tag("otel.status_description", span.message))
            refs = []
            if span.parent_id:
                refs.append(
                    {"refType": "CHILD_OF", "traceID": span.trace_id, "spanID": span.parent_id}
                )
            refs.extend(
                {"refType": "FOLLOWS_FROM", "traceID": t, "spanID": s} for t, s in span.links
            )
            logs = [
                {
                    "timestamp": t // 1000,
                    "fields": [_tag("event", n), *(_tag(k, v) for k, v in a)],
                }
                for n, t, a in span.events
            ]
            spans.append(
                {
                    "traceID": span.trace_id,
                    "spanID": span.span_id,
                    "operationName": span.name,
                    "references": refs,
                    "startTime": span.start // 1000,
                    "duration": (span.end - span.start) // 1000,
                    "tags": tags,
                    "logs": logs,
                    "processID": pid,
                }
            )
        data.append({"traceID": trace.trace_id, "spans": spans, "processes": processes})
    yield _dumps({"data": data, "total": len(data), "limit": 0, "offset": 0, "errors": None})
    yield "\n"


# -- Zipkin ----------------------------------------------------------------------------------


def _text(value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _zipkin(traces: Iterable[SynTrace], res: _Resources) -> Iterable[str]:
    out = []
    for trace in traces:
        for span in trace.spans:
            tags = {k: _text(v) for k, v in span.attributes}
            scope = res.scope(span.service)
            if scope:
                tags["otel.library.name"] = scope
            for name, _, attrs in span.events:
                if name == "exception":
                    for k, v in attrs:
                        tags.setdefault(k, _text(v))
                    break
            if span.status == 2:
                tags["otel.status_code"] = "STATUS_CODE_ERROR"
                tags["error"] = span.message or "true"
            if span.kind == 1:
                tags["span.kind"] = "internal"
            item: dict[str, object] = {"traceId": span.trace_id, "id": span.span_id}
            if span.parent_id:
                item["parentId"] = span.parent_id
            item["name"] = span.name
            if span.kind in _ZIPKIN_KINDS:
                item["kind"] = _ZIPKIN_KINDS[span.kind]
            item["timestamp"] = span.start // 1000
            item["duration"] = (span.end - span.start) // 1000
            item["localEndpoint"] = {"serviceName": span.service}
            if span.events:
                item["annotations"] = [
                    {"timestamp": t // 1000, "value": n} for n, t, _ in span.events
                ]
            item["tags"] = tags
            out.append(item)
    yield _dumps(out) + "\n"


# -- Honeycomb -------------------------------------------------------------------------------


def _rfc3339(seconds: float) -> str:
    micros = round(seconds * 1e6)
    whole, frac = divmod(micros, 1_000_000)
    stamp = datetime.fromtimestamp(whole, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{frac:06d}Z"


def _honeycomb(traces: Iterable[SynTrace], res: _Resources) -> Iterable[str]:
    shared_cache: dict[tuple[str, int], tuple[Any, Any, Any]] = {}
    lines: list[str] = []

    def emit(fields: dict[str, object], when: float, rate: float) -> None:
        envelope: dict[str, object] = {"time": _rfc3339(when), "samplerate": int(rate)}
        envelope["data"] = fields
        lines.append(_dumps(envelope) + "\n")

    for trace in traces:
        for span in trace.spans:
            key = (span.service, span.instance)
            shared = shared_cache.get(key)
            if shared is None:
                scope = res.scope(span.service)
                shared = shared_cache[key] = scope_and_resource_fields(
                    {"name": scope} if scope else None,
                    None,
                    {"attributes": _attrs(res.attributes(*key))},
                    None,
                )
            fields, scope_rate, resource_rate = shared
            flatten_span(_otlp_span(span), fields, scope_rate, resource_rate, emit)
        yield "".join(lines)
        lines.clear()


_WRITERS: Final[dict[str, Callable[[Iterable[SynTrace], _Resources], Iterable[str]]]] = {
    "otlp-jsonl": _otlp_jsonl,
    "otlp": _otlp,
    "jaeger": _jaeger,
    "zipkin": _zipkin,
    "honeycomb": _honeycomb,
}


def write(fmt: str, traces: Iterable[SynTrace], model: Model) -> str:
    """The whole output text of ``traces`` in format ``fmt`` (one of :data:`FORMATS`)."""
    return "".join(_WRITERS[fmt](traces, _Resources(model)))
