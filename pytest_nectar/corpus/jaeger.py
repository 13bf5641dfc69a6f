"""Jaeger JSON reader (the query API / UI download shape), mapped like the collector does.

Shapes accepted: ``{"data": [trace, ...]}``, ``{"data": trace}`` and a bare trace
(``{"traceID", "spans", "processes"}``); a span's process is ``processes[processID]`` or
embedded as ``process``.  Each span is converted the way the OpenTelemetry Collector's
Jaeger receiver converts it to OTLP (``pkg/translator/jaeger``), then flattened by Husky:

* tags keep their Jaeger type: ``string``, ``bool``, ``int64`` (Python int), ``float64``
  (float), ``binary`` (bytes, so a JSON string in Refinery); a repeated key keeps its
  first position and its last value (pdata ``Put``);
* the ``span.kind`` tag becomes the span kind; ``error=true`` (bool),
  ``otel.status_code`` or, failing both, ``http.status_code`` (5xx; 4xx on clients) set
  the status, and those tags are removed; ``otel.status_description`` becomes the status
  message; ``otel.scope.name``/``otel.scope.version`` become the scope;
  ``w3c.tracestate`` the trace state;
* the process's ``serviceName`` becomes ``service.name`` and its tags resource
  attributes (``hostname`` -> ``host.name``, ``jaeger.version`` ->
  ``opencensus.exporterversion: Jaeger-<v>``);
* the first ``CHILD_OF`` reference in the same trace is the parent; other references
  become links with ``opentracing.ref_type``; logs become span events (the ``event``
  field is the event name).

Ids that are hex are normalised like the collector's (16 hex digits when the high half of
the trace id is zero).  Ids that are not hex (hand-written fixtures such as
``"trace-123"``) cannot exist in OTLP; they are kept verbatim so the trace still groups.
"""

from __future__ import annotations

from typing import Any, Final

from pytest_nectar.corpus.context import FMT_JAEGER, ReadContext
from pytest_nectar.corpus.husky import (
    BadRecord,
    flatten_span,
    scope_and_resource_fields,
    trace_id_hex,
)

__all__ = ["looks_like_jaeger", "normal_span_id", "normal_trace_id", "read_jaeger"]

_HEX: Final = frozenset("0123456789abcdefABCDEF")
_KINDS: Final = {"client": 3, "server": 2, "producer": 4, "consumer": 5, "internal": 1}


def normal_trace_id(raw: object) -> str:
    """A Jaeger/Zipkin hex trace id as Husky writes it; non-hex ids verbatim."""
    if not isinstance(raw, str):
        raise BadRecord("trace id must be a string", raw)
    if raw and len(raw) <= 32 and set(raw) <= _HEX:
        value = int(raw, 16)
        return trace_id_hex(value.to_bytes(16, "big"))
    return raw


def normal_span_id(raw: object) -> str:
    """A Jaeger/Zipkin hex span id as 16 lowercase hex digits; non-hex ids verbatim."""
    if raw is None:
        return ""
    if not isinstance(raw, str):
        raise BadRecord("span id must be a string", raw)
    if raw and len(raw) <= 16 and set(raw) <= _HEX:
        return f"{int(raw, 16):016x}"
    return raw


def looks_like_jaeger(doc: object) -> bool:
    if not isinstance(doc, dict):
        return False
    if "traceID" in doc and "spans" in doc:
        return True
    data = doc.get("data")
    if isinstance(data, dict):
        return "spans" in data
    if isinstance(data, list):
        return all(isinstance(t, dict) and "spans" in t for t in data)
    return False


def _traces(doc: dict[str, Any]) -> list[Any]:
    data = doc.get("data", doc)
    if isinstance(data, list):
        return data
    return [data]


def _any_value(tag: object) -> tuple[str, dict[str, object]]:
    if not isinstance(tag, dict):
        raise BadRecord("tag must be an object with key, type and value", tag)
    key = tag.get("key")
    if not isinstance(key, str):
        raise BadRecord("tag key must be a string", key)
    vtype = tag.get("type", "string")
    value = tag.get("value")
    if vtype == "string":
        if not isinstance(value, str):
            raise BadRecord(f"tag {key!r} of type string must hold a string", value)
        return key, {"stringValue": value}
    if vtype == "bool":
        if isinstance(value, str) and value in ("true", "false"):
            value = value == "true"
        if not isinstance(value, bool):
            raise BadRecord(f"tag {key!r} of type bool must hold true or false", value)
        return key, {"boolValue": value}
    if vtype == "int64":
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise BadRecord(f"tag {key!r} of type int64 must hold an integer", value)
        return key, {"intValue": value}
    if vtype == "float64":
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise BadRecord(f"tag {key!r} of type float64 must hold a number", value)
        return key, {"doubleValue": value}
    if vtype == "binary":
        if not isinstance(value, str):
            raise BadRecord(f"tag {key!r} of type binary must hold a base64 string", value)
        return key, {"bytesValue": value}
    return key, {"stringValue": f"<Unknown Jaeger TagType {vtype!r}>"}


def _tag_map(tags: object) -> dict[str, dict[str, object]]:
    if tags is None:
        return {}
    if not isinstance(tags, list):
        raise BadRecord("tags must be a list", tags)
    out: dict[str, dict[str, object]] = {}
    for tag in tags:
        key, value = _any_value(tag)
        out[key] = value  # pdata Put: first position, last value
    return out


def _attrs(tags: dict[str, dict[str, object]]) -> list[dict[str, object]]:
    return [{"key": k, "value": v} for k, v in tags.items()]


def _str_of(value: dict[str, object] | None) -> str:
    if value is None:
        return ""
    s = value.get("stringValue")
    return s if isinstance(s, str) else ""


def _status(tags: dict[str, dict[str, object]], kind: int) -> dict[str, object]:
    code, message, exists = 0, "", False
    error = tags.get("error")
    if error is not None and error.get("boolValue") is True:
        code, exists = 2, True
        del tags["error"]
        if "otel.status_description" in tags:
            message = _str_of(tags.pop("otel.status_description"))
        elif "http.status_message" in tags:
            message = _str_of(tags["http.status_message"])
    if "otel.status_code" in tags:
        if not exists:
            exists = True
            text = _str_of(tags["otel.status_code"]).upper()
            code = {"OK": 1, "ERROR": 2}.get(text, 0)
            if "otel.status_description" in tags:
                message = _str_of(tags.pop("otel.status_description"))
        del tags["otel.status_code"]
    elif not exists and "http.status_code" in tags:
        http = _http_code(tags["http.status_code"])
        if http is not None:
            status = _status_from_http(http, kind)
            if status != 0:
                exists, code = True, status
            if "http.status_message" in tags:
                message = _str_of(tags["http.status_message"])
    return {"code": code, "message": message} if exists else {}


def _http_code(value: dict[str, object]) -> int | None:
    raw = value.get("intValue", value.get("stringValue"))
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if isinstance(raw, str):
        try:
            return int(raw, 10)
        except ValueError:
            return None
    return None


def _status_from_http(code: int, kind: int) -> int:
    if 400 <= code < 500:
        if kind == 3:
            return 2
        if kind == 2:
            return 0
    return 0 if 100 <= code < 400 else 2


def _micros(raw: object, what: str) -> int:
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if isinstance(raw, float) and raw.is_integer():
        return int(raw)
    raise BadRecord(f"{what} must be an integer number of microseconds", raw)


def _convert_span(span: object, trace_id: str) -> tuple[dict[str, Any], Any, Any]:
    """A Jaeger span as an OTLP-shaped span, its scope and its process."""
    if not isinstance(span, dict):
        raise BadRecord("span must be an object", span)
    tid = normal_trace_id(span.get("traceID", trace_id))
    sid = normal_span_id(span.get("spanID"))
    raw_tags = span.get("tags") or []
    if not isinstance(raw_tags, list):
        raise BadRecord("tags must be a list", raw_tags)
    scope: dict[str, object] = {}
    remaining = list(raw_tags)
    for i, tag in enumerate(remaining):
        if isinstance(tag, dict) and tag.get("key") == "otel.scope.name":
            scope["name"] = tag.get("value") if isinstance(tag.get("value"), str) else ""
            del remaining[i]
            for j, other in enumerate(remaining):
                if isinstance(other, dict) and other.get("key") == "otel.scope.version":
                    value = other.get("value")
                    scope["version"] = value if isinstance(value, str) else ""
                    del remaining[j]
                    break
            break
    tags = _tag_map(remaining)
    kind = 0
    if "span.kind" in tags:
        kind = _KINDS.get(_str_of(tags.pop("span.kind")), 0)
    status = _status(tags, kind)
    trace_state = _str_of(tags.pop("w3c.tracestate", None))
    refs = span.get("references") or []
    if not isinstance(refs, list):
        raise BadRecord("references must be a list", refs)
    parent = ""
    parent_index = -1
    for i, ref in enumerate(refs):
        if not isinstance(ref, dict):
            raise BadRecord("reference must be an object", ref)
        if ref.get("refType") == "CHILD_OF" and normal_trace_id(ref.get("traceID", tid)) == tid:
            parent = normal_span_id(ref.get("spanID"))
            parent_index = i
            break
    links = []
    for i, ref in enumerate(refs):
        if not isinstance(ref, dict):
            raise BadRecord("reference must be an object", ref)
        if i == parent_index or (ref.get("refType") == "CHILD_OF" and _same(ref, parent)):
            continue
        ref_type = "child_of" if ref.get("refType") == "CHILD_OF" else "follows_from"
        links.append(
            {
                "traceId": normal_trace_id(ref.get("traceID", tid)),
                "spanId": normal_span_id(ref.get("spanID")),
                "attributes": [{"key": "opentracing.ref_type", "value": {"stringValue": ref_type}}],
            }
        )
    events = []
    logs = span.get("logs") or []
    if not isinstance(logs, list):
        raise BadRecord("logs must be a list", logs)
    for log in logs:
        if not isinstance(log, dict):
            raise BadRecord("log must be an object", log)
        fields = _tag_map(log.get("fields"))
        when = _micros(log.get("timestamp"), "timestamp") * 1000  # microseconds, like startTime
        event: dict[str, object] = {"timeUnixNano": when}
        if "event" in fields:
            event["name"] = _str_of(fields.pop("event"))
        event["attributes"] = _attrs(fields)
        events.append(event)
    start = _micros(span.get("startTime", 0), "startTime")
    duration = _micros(span.get("duration", 0), "duration")
    name = span.get("operationName", "")
    otlp: dict[str, Any] = {
        "traceId": tid,
        "spanId": sid,
        "parentSpanId": parent,
        "name": name,
        "kind": kind,
        "startTimeUnixNano": start * 1000,
        "endTimeUnixNano": (start + duration) * 1000,
        "attributes": _attrs(tags),
        "status": status,
        "traceState": trace_state,
        "events": events,
        "links": links,
    }
    return otlp, scope or None, span.get("process")


def _same(ref: dict[str, Any], parent: str) -> bool:
    return bool(parent) and normal_span_id(ref.get("spanID")) == parent


def _resource(process: object) -> dict[str, object] | None:
    if process is None:
        return None
    if not isinstance(process, dict):
        raise BadRecord("process must be an object", process)
    service = process.get("serviceName", "")
    if not isinstance(service, str):
        raise BadRecord("process serviceName must be a string", service)
    if service == "OTLPResourceNoServiceName":
        return None
    tags: dict[str, dict[str, object]] = {}
    if service:
        tags["service.name"] = {"stringValue": service}
    tags.update(_tag_map(process.get("tags")))
    if "hostname" in tags and "host.name" not in tags:
        tags["host.name"] = tags.pop("hostname")
    if "jaeger.version" in tags and "opencensus.exporterversion" not in tags:
        version = _str_of(tags.pop("jaeger.version"))
        tags["opencensus.exporterversion"] = {"stringValue": "Jaeger-" + version}
    return {"attributes": _attrs(tags)}


def read_jaeger(doc: object, ctx: ReadContext) -> None:
    """Emit the rows of every span of a Jaeger JSON document (one span = one unit)."""
    ctx.fmt = FMT_JAEGER
    if not isinstance(doc, dict):
        raise BadRecord("Jaeger document must be a JSON object", doc)
    for t_index, trace in enumerate(_traces(doc)):
        if not isinstance(trace, dict):
            ctx.guard(f"data[{t_index}]", _fail(BadRecord("trace must be an object", trace)))
            continue
        processes = trace.get("processes") or {}
        spans = trace.get("spans") or []
        trace_id = trace.get("traceID", "")
        if not isinstance(spans, list):
            ctx.guard(f"data[{t_index}]", _fail(BadRecord("spans must be a list", spans)))
            continue
        for s_index, span in enumerate(spans):
            ctx.guard(
                f"data[{t_index}].spans[{s_index}]",
                _read_span,
                span,
                trace_id,
                processes,
                ctx,
            )


def _read_span(span: Any, trace_id: str, processes: Any, ctx: ReadContext) -> None:
    otlp, scope, process = _convert_span(span, trace_id)
    if process is None and isinstance(span, dict):
        pid = span.get("processID")
        if pid is not None:
            if not isinstance(pid, str):
                raise BadRecord("span processID must be a string", pid)
            if not isinstance(processes, dict) or pid not in processes:
                raise BadRecord("span processID names no process", pid)
            process = processes[pid]
    resource = _resource(process)
    shared, scope_rate, resource_rate = scope_and_resource_fields(scope, None, resource, None)
    flatten_span(otlp, shared, scope_rate, resource_rate, ctx.emit, final_ids=True)


def _fail(err: BadRecord) -> Any:
    def fail() -> None:
        raise err

    return fail
