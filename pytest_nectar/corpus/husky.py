"""Husky's flattening: an OTLP span becomes flat Honeycomb events, exactly as Refinery sees them.

Written from refinery-semantics.md section 12 (husky ``otlp/traces_direct.go``):

* each span yields its span events, then its links, then itself (one row each);
* field precedence is first-wins: own attributes, then intrinsics, then scope fields, then
  resource attributes (so a span attribute named ``name`` overrides the span name);
* ``int`` attributes stay Python ``int`` (Go int64), ``double`` stays ``float``; arrays,
  bytes and kvlists nested deeper than 5 levels become JSON strings with a trailing
  newline; kvlists are flattened into dotted keys;
* ``sampleRate``/``SampleRate`` attributes are removed and become the event's sample rate.

This module works on the JSON objects of OTLP/JSON (``otlp.py`` walks the request) and on
the OTLP-shaped dicts the Jaeger and Zipkin readers build, so all formats share one
flattening.  A malformed value raises :class:`BadRecord` with the offending part.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Callable, Iterable
from typing import Any, Final

from pytest_nectar.limits import MAX_DATA_DEPTH

__all__ = [
    "SPAN_KINDS",
    "STATUS_CODES",
    "BadRecord",
    "Event",
    "flatten_span",
    "go_json",
    "is_decimal",
    "marshallable",
    "otlp_id",
    "put_attributes",
    "put_value",
    "sample_rate_of",
    "scope_and_resource_fields",
    "trace_id_hex",
]

#: An event: (fields, unix seconds or NaN, sample rate).
Event = tuple[dict[str, object], float, float]

SPAN_KINDS: Final[dict[object, str]] = {
    0: "unspecified",
    1: "internal",
    2: "server",
    3: "client",
    4: "producer",
    5: "consumer",
    "SPAN_KIND_UNSPECIFIED": "unspecified",
    "SPAN_KIND_INTERNAL": "internal",
    "SPAN_KIND_SERVER": "server",
    "SPAN_KIND_CLIENT": "client",
    "SPAN_KIND_PRODUCER": "producer",
    "SPAN_KIND_CONSUMER": "consumer",
}
STATUS_CODES: Final[dict[object, int]] = {
    0: 0,
    1: 1,
    2: 2,
    "STATUS_CODE_UNSET": 0,
    "STATUS_CODE_OK": 1,
    "STATUS_CODE_ERROR": 2,
}
_INSTRUMENTATION_PREFIXES: Final = (
    "io.opentelemetry",
    "opentelemetry.instrumentation",
    "OpenTelemetry.Instrumentation",
    "OpenTelemetry::Instrumentation",
    "go.opentelemetry.io/contrib/instrumentation",
    "@opentelemetry/instrumentation",
    "io.opentelemetry.contrib.php",
    "github.com/open-telemetry/opentelemetry-collector",
    "@honeycombio/",
)
_MAX_DEPTH: Final = 5
_FIELD_SIZE_MAX: Final = 65535
_MAX_INT32: Final = 2**31 - 1
_INT64_MIN: Final = -(2**63)
_INT64_MAX: Final = 2**63 - 1
_UINT64_LIMIT: Final = 2**64
_RATE_KEYS: Final = ("sampleRate", "SampleRate")


class BadRecord(ValueError):
    """A record that does not have the shape its format requires."""

    def __init__(self, what: str, got: object) -> None:
        super().__init__(what)
        self.what = what
        self.got = got


# -- ids ---------------------------------------------------------------------------------


def _decode_id(raw: object, nbytes: int, what: str) -> bytes:
    if not isinstance(raw, str):
        raise BadRecord(f"{what} must be a string", raw)
    if len(raw) == 2 * nbytes and " " not in raw:
        try:
            return bytes.fromhex(raw)
        except ValueError:
            pass
    try:
        padded = raw + "=" * (-len(raw) % 4)
        if "-" in raw or "_" in raw:
            return base64.urlsafe_b64decode(padded)
        return base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        raise BadRecord(f"{what} is neither hex nor base64", raw) from None


def trace_id_hex(raw: bytes) -> str:
    """Husky's trace id string: lowercase hex, the last 8 bytes when the first 8 are zero."""
    if len(raw) == 16 and not any(raw[:8]):
        return raw[8:].hex()
    return raw.hex()


def otlp_id(raw: object, nbytes: int, what: str, *, trace: bool = False) -> str:
    """An OTLP/JSON id as Husky's hex string; hex or base64 decided by the id's shape.

    The OTLP/JSON spec says hex; protobuf-JSON tools (Tempo) write base64.  A string of
    exactly ``2 * nbytes`` hex digits is hex, anything else is base64.  ``""`` stays ``""``.
    """
    if raw == "" or raw is None:
        return ""
    decoded = _decode_id(raw, nbytes, what)
    return trace_id_hex(decoded) if trace else decoded.hex()


# -- JSON as Go's encoder writes it ------------------------------------------------------


def _go_float(value: float) -> str:
    # encoding/json: 'f' format with shortest digits, 'e' below 1e-6 or from 1e21 on.
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    mag = abs(value)
    if mag < 1e-6 or mag >= 1e21:
        text = repr(value)
        if "e" not in text:
            text = f"{value:e}"
        mantissa, exp = text.split("e")
        if mantissa.endswith(".0"):
            mantissa = mantissa[:-2]
        sign = "-" if exp.startswith("-") else "+"
        digits = exp.lstrip("+-").lstrip("0") or "0"
        if sign == "+" and len(digits) < 2:
            digits = digits.rjust(2, "0")
        return f"{mantissa}e{sign}{digits}"
    text = repr(value)
    if "e" in text:
        text = f"{value:.{_positional_digits(value)}f}"
    if text.endswith(".0"):
        text = text[:-2]
    return text


def _positional_digits(value: float) -> int:
    mantissa, exp = repr(value).split("e")
    decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
    return max(0, decimals - int(exp))


def go_json(value: object) -> str:
    """``value`` as Go's ``json.Encoder`` (HTML escaping off) writes it, with the trailing newline.

    Maps are written with sorted keys, floats in Go's format; NaN and infinities cannot be
    encoded, and Husky then stores ``""``.  The text is cut at 65535 bytes like Husky's
    limited writer.
    """
    try:
        text = _encode(value) + "\n"
    except _Unencodable:
        return ""
    data = text.encode("utf-8", "surrogatepass")
    if len(data) > _FIELD_SIZE_MAX:
        text = data[:_FIELD_SIZE_MAX].decode("utf-8", "ignore")
    return text


class _Unencodable(Exception):
    pass


def _encode(value: object) -> str:
    if isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
        return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise _Unencodable
        return _go_float(value)
    if isinstance(value, bytes):
        return '"' + base64.b64encode(value).decode("ascii") + '"'
    if isinstance(value, dict):
        items = sorted(value.items())
        return "{" + ",".join(_encode(k) + ":" + _encode(v) for k, v in items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_encode(v) for v in value) + "]"
    raise _Unencodable


# -- attribute values --------------------------------------------------------------------


def _int_value(raw: object) -> int:
    if isinstance(raw, int) and not isinstance(raw, bool):
        value = raw
    elif isinstance(raw, str) and is_decimal(raw):
        if len(raw.lstrip("+-").lstrip("0")) > 19:  # never fits; int() refuses 4,300+ digits
            raise BadRecord("intValue does not fit in int64", raw)
        value = int(raw, 10)
    elif isinstance(raw, float) and raw.is_integer():
        value = int(raw)
    else:
        raise BadRecord("intValue is not an integer", raw)
    if not _INT64_MIN <= value <= _INT64_MAX:
        raise BadRecord("intValue does not fit in int64", raw)
    return value


def is_decimal(text: str) -> bool:
    """Whether Go's strconv.ParseInt reads ``text``: optional sign, ASCII digits only (no
    spaces, no underscores)."""
    digits = text[1:] if text[:1] in ("+", "-") else text
    return digits.isascii() and digits.isdigit()


def _double_value(raw: object) -> float:
    if isinstance(raw, float):
        return raw
    if isinstance(raw, int) and not isinstance(raw, bool):
        try:
            return float(raw)
        except OverflowError:
            raise BadRecord("doubleValue is out of float64 range", raw) from None
    if raw in ("NaN", "Infinity", "-Infinity"):
        return float(str(raw).replace("Infinity", "inf"))
    if isinstance(raw, str):
        try:
            value = float(raw)
        except ValueError:
            pass
        else:
            if math.isinf(value):  # Go's ParseFloat: a range error
                raise BadRecord("doubleValue is out of float64 range", raw)
            return value
    raise BadRecord("doubleValue is not a number", raw)


def _bytes_value(raw: object) -> bytes:
    if not isinstance(raw, str):
        raise BadRecord("bytesValue must be a base64 string", raw)
    try:
        padded = raw + "=" * (-len(raw) % 4)
        if "-" in raw or "_" in raw:
            return base64.urlsafe_b64decode(padded)
        return base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        raise BadRecord("bytesValue is not base64", raw) from None


_ABSENT: Final = object()


def marshallable(value: object, depth: int = 0) -> object:
    """An AnyValue as the Go value Husky hands to the JSON encoder (``_ABSENT`` if empty)."""
    if depth > MAX_DATA_DEPTH:
        raise BadRecord(
            f"attribute value nested deeper than {MAX_DATA_DEPTH} levels", "arrayValue/kvlistValue"
        )
    if not isinstance(value, dict):
        raise BadRecord("attribute value must be an object", value)
    if "stringValue" in value:
        s = value["stringValue"]
        if not isinstance(s, str):
            raise BadRecord("stringValue must be a string", s)
        return s
    if "intValue" in value:
        return _int_value(value["intValue"])
    if "doubleValue" in value:
        return _double_value(value["doubleValue"])
    if "boolValue" in value:
        b = value["boolValue"]
        if not isinstance(b, bool):
            raise BadRecord("boolValue must be true or false", b)
        return b
    if "bytesValue" in value:
        return _bytes_value(value["bytesValue"])
    if "arrayValue" in value:
        items = _list_of(value["arrayValue"], "arrayValue")
        out = [marshallable(v, depth + 1) for v in items]
        return [v for v in out if v is not _ABSENT]
    if "kvlistValue" in value:
        mapping: dict[str, object] = {}
        for kv in _list_of(value["kvlistValue"], "kvlistValue"):
            key, inner = _key_value(kv)
            converted = marshallable(inner, depth + 1) if inner is not None else _ABSENT
            if key and converted is not _ABSENT:
                mapping[key] = converted
        return mapping
    return _ABSENT


def _list_of(container: object, what: str) -> list[Any]:
    if not isinstance(container, dict):
        raise BadRecord(f"{what} must be an object with 'values'", container)
    values = container.get("values", [])
    if values is None:
        return []
    if not isinstance(values, list):
        raise BadRecord(f"{what}.values must be a list", values)
    return values


def _key_value(kv: object) -> tuple[str, object]:
    if not isinstance(kv, dict):
        raise BadRecord("attribute must be an object with 'key' and 'value'", kv)
    key = kv.get("key", "")
    if not isinstance(key, str):
        raise BadRecord("attribute key must be a string", key)
    return key, kv.get("value")


def put_value(out: dict[str, object], key: str, value: object, depth: int) -> None:
    """``out[key]`` from one OTLP AnyValue, exactly as Husky puts it (raises
    :class:`BadRecord` on a value Husky refuses)."""
    if not isinstance(value, dict):
        raise BadRecord(f"attribute {key!r}: value must be an object", value)
    s = value.get("stringValue")
    if s is not None:
        if not isinstance(s, str):
            raise BadRecord(f"attribute {key!r}: stringValue must be a string", s)
        if key not in out:
            out[key] = s
        return
    if "kvlistValue" in value:
        for kv in _list_of(value["kvlistValue"], f"attribute {key!r}: kvlistValue"):
            sub, inner = _key_value(kv)
            if not sub or inner is None:
                continue
            full = key + "." + sub
            if depth < _MAX_DEPTH:
                put_value(out, full, inner, depth + 1)
            elif full not in out:
                converted = marshallable(inner)
                if converted is not _ABSENT:
                    out[full] = go_json(converted)
        return
    try:
        converted = marshallable(value)
    except BadRecord as err:
        raise BadRecord(f"attribute {key!r}: {err.what}", err.got) from None
    if converted is _ABSENT or key in out:
        return
    if isinstance(converted, bytes | list):
        out[key] = go_json(converted)
    else:
        out[key] = converted


def put_attributes(out: dict[str, object], attributes: object, rate: list[object]) -> None:
    """Add OTLP ``attributes`` to ``out``, first occurrence winning, as Husky flattens them.

    ``sampleRate``/``SampleRate`` are not fields: their values go to ``rate`` (a two-slot
    list, lowercase first) unless a higher-precedence level already set them.
    """
    if attributes is None:
        return
    if not isinstance(attributes, list):
        raise BadRecord("attributes must be a list", attributes)
    for kv in attributes:
        if not isinstance(kv, dict):
            raise BadRecord("attribute must be an object with 'key' and 'value'", kv)
        key = kv.get("key")
        value = kv.get("value")
        if not key or value is None:
            if key is not None and not isinstance(key, str):
                raise BadRecord("attribute key must be a string", key)
            continue
        if not isinstance(key, str):
            raise BadRecord("attribute key must be a string", key)
        if key in _RATE_KEYS:
            slot = 0 if key == "sampleRate" else 1
            if rate[slot] is None:
                rate[slot] = marshallable(value)
            continue
        if key in out:
            continue
        if type(value) is dict:  # fast paths for the common scalar values
            s = value.get("stringValue")
            if type(s) is str:
                out[key] = s
                continue
            if s is None:
                i = value.get("intValue")
                if i is not None and (type(i) is int or (type(i) is str and is_decimal(i))):
                    try:
                        out[key] = _int_value(i)
                    except BadRecord as err:
                        raise BadRecord(f"attribute {key!r}: {err.what}", err.got) from None
                    continue
                d = value.get("doubleValue")
                if type(d) is float:
                    out[key] = d
                    continue
        put_value(out, key, value, 0)


def sample_rate_of(levels: Iterable[list[object]], trace_state: str) -> float:
    """The event's sample rate (section 12.5): attributes, then the tracestate threshold."""
    for slots in levels:
        for raw in slots:
            if raw is None or raw is _ABSENT:
                continue
            return float(_clamp_rate(raw))
    if trace_state:
        adjusted = _threshold_rate(trace_state)
        if adjusted is not None:
            return adjusted
    return 1.0


def _clamp_rate(raw: object) -> int:
    if isinstance(raw, str):
        try:
            number = float(raw)
        except ValueError:
            return 1
    elif isinstance(raw, int) and not isinstance(raw, bool):
        return _MAX_INT32 if raw > _MAX_INT32 else max(raw, 1)  # no float(): it may overflow
    elif isinstance(raw, float):
        number = raw
    else:
        return 1
    if math.isnan(number):
        return 1
    if number > _MAX_INT32:
        return _MAX_INT32
    if number < 0.5:  # rounds to 0 or below (-inf too, which has no integer): clamped to 1
        return 1
    return min(math.floor(number + 0.5), _MAX_INT32)


def _threshold_rate(trace_state: str) -> float | None:
    # W3C tracestate `ot=...;th:<hex>` (or legacy `th=<hex>`): adjusted count 2^56/(2^56-T).
    threshold: str | None = None
    for member in trace_state.split(","):
        member = member.strip()
        if member.startswith("ot="):
            for part in member[3:].split(";"):
                if part.startswith("th:"):
                    threshold = part[3:]
        elif member.startswith("th="):
            threshold = member[3:]
    if not threshold or len(threshold) > 14:
        return None
    try:
        value = int(threshold.ljust(14, "0"), 16)
    except ValueError:
        return None
    if value >= 2**56:
        return None
    return float(2**56 / (2**56 - value))


# -- spans -------------------------------------------------------------------------------


def scope_and_resource_fields(
    scope: object, scope_schema: object, resource: object, resource_schema: object
) -> tuple[list[tuple[str, object]], list[object], list[object]]:
    """The fields every event of one scope shares (scope fields, then resource), in order.

    Returns the items plus the sample-rate slots found at scope and resource level.
    """
    fields: dict[str, object] = {}
    scope_rate: list[object] = [None, None]
    resource_rate: list[object] = [None, None]
    if scope is not None:
        if not isinstance(scope, dict):
            raise BadRecord("scope must be an object", scope)
        name = scope.get("name") or ""
        version = scope.get("version") or ""
        if not isinstance(name, str) or not isinstance(version, str):
            raise BadRecord("scope name and version must be strings", scope)
        if name:
            fields["library.name"] = name
            if name.startswith(_INSTRUMENTATION_PREFIXES):
                fields["telemetry.instrumentation_library"] = True
        if version:
            fields["library.version"] = version
        put_attributes(fields, scope.get("attributes"), scope_rate)
    if scope_schema:
        fields.setdefault("scope.schema_url", scope_schema)
    if resource is not None:
        if not isinstance(resource, dict):
            raise BadRecord("resource must be an object", resource)
        put_attributes(fields, resource.get("attributes"), resource_rate)
    if resource_schema:
        fields.setdefault("resource.schema_url", resource_schema)
    return list(fields.items()), scope_rate, resource_rate


def _nanos(raw: object, what: str) -> int:
    if raw is None:
        return 0
    value: int | None = None
    if isinstance(raw, int) and not isinstance(raw, bool):
        value = raw
    elif isinstance(raw, str) and is_decimal(raw):
        if len(raw.lstrip("+-").lstrip("0")) > 20:  # never fits; int() refuses 4,300+ digits
            raise BadRecord(f"{what} does not fit in uint64", raw)
        value = int(raw, 10)
    elif isinstance(raw, float) and raw.is_integer():
        value = int(raw)
    if value is None:
        raise BadRecord(f"{what} must be an integer number of nanoseconds", raw)
    if not 0 <= value < _UINT64_LIMIT:  # a fixed64 in OTLP's protobuf
        raise BadRecord(f"{what} does not fit in uint64", raw)
    return value


def _enum_value(raw: object) -> bool:
    """Whether ``raw`` can be a protobuf enum in JSON: a name, or an int32 number."""
    if isinstance(raw, str):
        return True
    return isinstance(raw, int) and not isinstance(raw, bool) and -(2**31) <= raw < 2**31


def _seconds(nanos: int) -> float:
    return nanos / 1e9 if nanos > 0 else math.nan


def _exception_fields(events: list[Any]) -> list[tuple[str, object]]:
    for event in events:
        if isinstance(event, dict) and event.get("name") == "exception":
            found: dict[str, object] = {}
            put_attributes(found, event.get("attributes"), [None, None])
            out: list[tuple[str, object]] = []
            for key in ("exception.message", "exception.type", "exception.stacktrace"):
                if isinstance(found.get(key), str):
                    out.append((key, found[key]))
            if isinstance(found.get("exception.escaped"), bool):
                out.append(("exception.escaped", found["exception.escaped"]))
            return out
    return []


def flatten_span(
    span: object,
    shared: list[tuple[str, object]],
    scope_rate: list[object],
    resource_rate: list[object],
    emit: Callable[[dict[str, object], float, float], None],
    *,
    final_ids: bool = False,
) -> None:
    """Emit the rows of one OTLP/JSON span: its span events, its links, then itself.

    With ``final_ids`` the span's (and its links') ids are already Husky's strings (the
    Jaeger and Zipkin readers normalise them) and are used as they are.
    """
    if not isinstance(span, dict):
        raise BadRecord("span must be an object", span)
    ident = _final_id if final_ids else otlp_id
    trace_id = ident(span.get("traceId"), 16, "traceId", trace=True)
    span_id = ident(span.get("spanId"), 8, "spanId")
    parent_id = ident(span.get("parentSpanId"), 8, "parentSpanId")
    name = span.get("name", "")
    if name is None:
        name = ""
    if not isinstance(name, str):
        raise BadRecord("span name must be a string", name)
    start = _nanos(span.get("startTimeUnixNano"), "startTimeUnixNano")
    end = _nanos(span.get("endTimeUnixNano"), "endTimeUnixNano")
    status = span.get("status") or {}
    if not isinstance(status, dict):
        raise BadRecord("status must be an object", status)
    code_raw = status.get("code", 0)
    code = STATUS_CODES.get(code_raw) if _enum_value(code_raw) else None
    if code is None:
        if _enum_value(code_raw) and isinstance(code_raw, int):
            code = code_raw
        else:
            raise BadRecord("status.code must be 0, 1, 2 or a STATUS_CODE_ name", code_raw)
    message = status.get("message") or ""
    if not isinstance(message, str):
        raise BadRecord("status.message must be a string", message)
    kind_raw = span.get("kind", 0)
    kind = SPAN_KINDS.get(kind_raw) if _enum_value(kind_raw) else None
    if kind is None:
        if _enum_value(kind_raw) and isinstance(kind_raw, int):
            kind = "unspecified"
        else:
            raise BadRecord("span kind must be an integer or a SPAN_KIND_ name", kind_raw)
    trace_state = span.get("traceState") or ""
    if not isinstance(trace_state, str):
        raise BadRecord("traceState must be a string", trace_state)
    is_error = code == 2
    events = span.get("events") or []
    links = span.get("links") or []
    if not isinstance(events, list):
        raise BadRecord("span events must be a list", events)
    if not isinstance(links, list):
        raise BadRecord("span links must be a list", links)

    span_rate_slots: list[object] = [None, None]
    fields: dict[str, object] = {}
    put_attributes(fields, span.get("attributes"), span_rate_slots)
    rate = sample_rate_of((span_rate_slots, scope_rate, resource_rate), trace_state)
    start_s = _seconds(start)

    for event in events:
        if not isinstance(event, dict):
            raise BadRecord("span event must be an object", event)
        row: dict[str, object] = {}
        put_attributes(row, event.get("attributes"), [None, None])
        when = _nanos(event.get("timeUnixNano"), "timeUnixNano")
        _setdefault(row, "trace.trace_id", trace_id)
        _setdefault(row, "trace.parent_id", span_id)
        if name:
            _setdefault(row, "parent_name", name)
        _setdefault(row, "meta.annotation_type", "span_event")
        _setdefault(row, "meta.signal_type", "trace")
        if is_error:
            _setdefault(row, "error", True)
        event_name = event.get("name") or ""
        if not isinstance(event_name, str):
            raise BadRecord("span event name must be a string", event_name)
        _setdefault(row, "name", event_name)
        if when >= start:
            _setdefault(row, "meta.time_since_span_start_ms", (when - start) / 1e6)
        else:
            _setdefault(row, "meta.time_since_span_start_ms", 0.0)
            _setdefault(row, "meta.invalid_time_since_span_start", True)
        for key, value in shared:
            if key not in row:
                row[key] = value
        emit(row, _seconds(when), rate)

    for link in links:
        if not isinstance(link, dict):
            raise BadRecord("span link must be an object", link)
        row = {}
        put_attributes(row, link.get("attributes"), [None, None])
        _setdefault(row, "trace.trace_id", trace_id)
        _setdefault(row, "trace.parent_id", span_id)
        if name:
            _setdefault(row, "parent_name", name)
        _setdefault(row, "meta.annotation_type", "link")
        _setdefault(row, "meta.signal_type", "trace")
        if is_error:
            _setdefault(row, "error", True)
        _setdefault(
            row, "trace.link.trace_id", ident(link.get("traceId"), 16, "link traceId", trace=True)
        )
        _setdefault(row, "trace.link.span_id", ident(link.get("spanId"), 8, "link spanId"))
        for key, value in shared:
            if key not in row:
                row[key] = value
        emit(row, start_s, rate)

    if "trace.trace_id" not in fields:
        fields["trace.trace_id"] = trace_id
    if parent_id and "trace.parent_id" not in fields:
        fields["trace.parent_id"] = parent_id
    if "meta.signal_type" not in fields:
        fields["meta.signal_type"] = "trace"
    if is_error and "error" not in fields:
        fields["error"] = True
    if "name" not in fields:
        fields["name"] = name
    if "trace.span_id" not in fields:
        fields["trace.span_id"] = span_id
    if trace_state and "trace.trace_state" not in fields:
        fields["trace.trace_state"] = trace_state
    if "status_code" not in fields:
        fields["status_code"] = code
    if message and "status_message" not in fields:
        fields["status_message"] = message
    if "span.num_events" not in fields:
        fields["span.num_events"] = len(events)
    if "span.num_links" not in fields:
        fields["span.num_links"] = len(links)
    if "span.kind" not in fields:
        fields["span.kind"] = kind
    if "type" not in fields:
        fields["type"] = kind
    duration = 0.0
    invalid = False
    if start > 0 and end > 0:
        if end >= start:
            duration = (end - start) / 1e6
        else:
            invalid = True
    if "duration_ms" not in fields:
        fields["duration_ms"] = duration
    if invalid and "meta.invalid_duration" not in fields:
        fields["meta.invalid_duration"] = True
    for key, value in shared:
        if key not in fields:
            fields[key] = value
    if events:
        for key, value in _exception_fields(events):
            if key not in fields:
                fields[key] = value
    emit(fields, start_s, rate)


def _final_id(raw: object, nbytes: int, what: str, *, trace: bool = False) -> str:
    del nbytes, trace
    if raw is None:
        return ""
    if not isinstance(raw, str):
        raise BadRecord(f"{what} must be a string", raw)
    return raw


def _setdefault(row: dict[str, object], key: str, value: object) -> None:
    if key not in row:
        row[key] = value
