"""Zipkin v2 JSON reader (a JSON array of spans), mapped like the collector does.

Each span is converted the way the OpenTelemetry Collector's Zipkin receiver converts it
to OTLP (``pkg/translator/zipkin/zipkinv2``, default settings), then flattened by Husky:

* tags stay **strings** (the receiver's ``parse_string_tags`` is off by default), so an
  ``http.status_code`` tag is the string ``"503"``, as Refinery would see it;
* ``localEndpoint.serviceName`` becomes the resource ``service.name`` (no service name
  when it is missing); resource-convention tags (``service.*``, ``host.*``,
  ``process.*``, ``telemetry.*``, ``k8s.*``, ``container.*``, ``cloud.*``, ...) move to
  the resource; ``otel.library.name``/``version`` become the scope;
* ``kind`` gives the span kind; an ``error`` tag sets status ERROR (its value, unless
  ``"true"``, is the status message) and is removed; ``otel.status_code`` /
  ``otel.status_description`` set the status too;
* local and remote endpoints add ``net.host.ip``, ``net.host.port`` (int),
  ``peer.service``, ``net.peer.ip``, ``net.peer.port`` (int);
* annotations become span events named by their value; ``timestamp`` and ``duration``
  are microseconds; a span without ``timestamp`` gets start 0 and the
  ``otel.zipkin.absentField.startTime: true`` attribute.

Spans keep their input order (the receiver regroups a batch by service, which only
changes arrival order inside one request).
"""

from __future__ import annotations

from typing import Any, Final

from pytest_nectar.corpus.context import FMT_ZIPKIN, ReadContext
from pytest_nectar.corpus.husky import BadRecord, flatten_span, scope_and_resource_fields
from pytest_nectar.corpus.jaeger import normal_span_id, normal_trace_id

__all__ = ["looks_like_zipkin", "read_zipkin"]

_KINDS: Final = {"CLIENT": 3, "SERVER": 2, "PRODUCER": 4, "CONSUMER": 5}
_RESOURCE_PREFIXES: Final = (
    "service.",
    "host.",
    "process.",
    "telemetry.",
    "k8s.",
    "container.",
    "cloud.",
    "os.",
    "deployment.",
    "faas.",
    "device.",
    "aws.ecs.",
    "aws.eks.",
    "aws.log.",
)
_RESOURCE_KEYS: Final = frozenset(
    {"opencensus.starttime", "opencensus.exporterversion", "opencensus.resourcetype"}
)
_STATUS: Final = {"STATUS_CODE_UNSET": 0, "STATUS_CODE_OK": 1, "STATUS_CODE_ERROR": 2}


def looks_like_zipkin(doc: object) -> bool:
    return (
        isinstance(doc, list)
        and bool(doc)
        and all(isinstance(s, dict) and "traceId" in s and "id" in s for s in doc[:8])
    )


def _endpoint(span: dict[str, Any], key: str) -> dict[str, Any]:
    endpoint = span.get(key)
    if endpoint is None:
        return {}
    if not isinstance(endpoint, dict):
        raise BadRecord(f"{key} must be an object", endpoint)
    return endpoint


def _micros(raw: object, what: str) -> int:
    if raw is None:
        return 0
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    raise BadRecord(f"{what} must be an integer number of microseconds", raw)


def _read_span(span: object, ctx: ReadContext) -> None:
    if not isinstance(span, dict):
        raise BadRecord("span must be an object", span)
    tags = span.get("tags") or {}
    if not isinstance(tags, dict) or not all(isinstance(v, str) for v in tags.values()):
        raise BadRecord("tags must be an object of strings", tags)
    tags = dict(tags)
    local = _endpoint(span, "localEndpoint")
    remote = _endpoint(span, "remoteEndpoint")
    service = local.get("serviceName") or ""
    resource_attrs: list[dict[str, object]] = []
    if service:
        resource_attrs.append({"key": "service.name", "value": {"stringValue": service}})
        for key in list(tags):
            if key in _RESOURCE_KEYS or key.startswith(_RESOURCE_PREFIXES):
                resource_attrs.append({"key": key, "value": {"stringValue": tags.pop(key)}})
    scope: dict[str, object] | None = None
    if tags.get("otel.library.name"):
        scope = {"name": tags.pop("otel.library.name")}
        if "otel.library.version" in tags:
            scope["version"] = tags.pop("otel.library.version")
    trace_state = tags.pop("w3c.tracestate", "")
    tid = normal_trace_id(span.get("traceId"))
    sid = normal_span_id(span.get("id"))
    parent = normal_span_id(span.get("parentId"))
    if parent == sid:
        parent = ""
    kind_raw = span.get("kind")
    kind = _KINDS.get(kind_raw, 0) if isinstance(kind_raw, str) else 0
    if kind == 0 and "span.kind" in tags:
        kind = 1 if tags.pop("span.kind") == "internal" else 0
    status: dict[str, object] = {}
    if "otel.status_code" in tags:
        status["code"] = _STATUS.get(tags.pop("otel.status_code"), 0)
        if "otel.status_description" in tags:
            status["message"] = tags.pop("otel.status_description")
    if "error" in tags:
        value = tags.pop("error")
        status["code"] = 2
        if value != "true":
            status["message"] = value
    attrs: dict[str, dict[str, object]] = {k: {"stringValue": v} for k, v in tags.items()}
    if local.get("ipv4") and "net.host.ip" not in attrs:
        attrs["net.host.ip"] = {"stringValue": local["ipv4"]}
    if local.get("ipv6") and "net.host.ip" not in attrs:
        attrs["net.host.ip"] = {"stringValue": local["ipv6"]}
    if isinstance(local.get("port"), int) and local["port"] > 0:
        attrs["net.host.port"] = {"intValue": local["port"]}
    if remote.get("serviceName") and "peer.service" not in attrs:
        attrs["peer.service"] = {"stringValue": remote["serviceName"]}
    if remote.get("ipv4") and "net.peer.ip" not in attrs:
        attrs["net.peer.ip"] = {"stringValue": remote["ipv4"]}
    if remote.get("ipv6") and "net.peer.ip" not in attrs:
        attrs["net.peer.ip"] = {"stringValue": remote["ipv6"]}
    if isinstance(remote.get("port"), int) and remote["port"] > 0:
        attrs["net.peer.port"] = {"intValue": remote["port"]}
    start = _micros(span.get("timestamp"), "timestamp")
    duration = _micros(span.get("duration"), "duration")
    if start == 0:
        attrs.setdefault("otel.zipkin.absentField.startTime", {"boolValue": True})
    events = []
    annotations = span.get("annotations") or []
    if not isinstance(annotations, list):
        raise BadRecord("annotations must be a list", annotations)
    for annotation in annotations:
        if not isinstance(annotation, dict) or not isinstance(annotation.get("value"), str):
            raise BadRecord("annotation must be an object with a string value", annotation)
        events.append(
            {
                "timeUnixNano": _micros(annotation.get("timestamp"), "annotation timestamp") * 1000,
                "name": annotation["value"].split("|")[0],
            }
        )
    otlp = {
        "traceId": tid,
        "spanId": sid,
        "parentSpanId": parent,
        "name": span.get("name") or "",
        "kind": kind,
        "startTimeUnixNano": start * 1000,
        "endTimeUnixNano": (start + duration) * 1000,
        "attributes": [{"key": k, "value": v} for k, v in attrs.items()],
        "status": status,
        "traceState": trace_state,
        "events": events,
    }
    resource = {"attributes": resource_attrs} if resource_attrs else None
    shared, scope_rate, resource_rate = scope_and_resource_fields(scope, None, resource, None)
    flatten_span(otlp, shared, scope_rate, resource_rate, ctx.emit, final_ids=True)


def read_zipkin(doc: object, ctx: ReadContext) -> None:
    """Emit the rows of every span of a Zipkin v2 span list (one span = one unit)."""
    ctx.fmt = FMT_ZIPKIN
    if not isinstance(doc, list):
        raise BadRecord("Zipkin v2 JSON must be a list of spans", doc)
    for index, span in enumerate(doc):
        ctx.guard(f"[{index}]", _read_span, span, ctx)
